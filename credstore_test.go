package mpesa

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memStore is a CredentialStore in memory, shared by the "replicas" of a
// test: what the redisstore module does on Redis, without Redis.
type memStore struct {
	mu      sync.Mutex
	creds   map[string]SharedCredential
	fences  map[string]int64
	leases  map[string]time.Time
	changed chan struct{}
	down    bool // every call fails, as an unreachable Redis
	loads   int
}

func newMemStore() *memStore {
	return &memStore{creds: map[string]SharedCredential{}, fences: map[string]int64{}, leases: map[string]time.Time{},
		changed: make(chan struct{})}
}

var errStoreDown = errors.New("store unreachable")

func (m *memStore) Load(_ context.Context, key string) (SharedCredential, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	if m.down {
		return SharedCredential{}, false, errStoreDown
	}
	c, ok := m.creds[key]
	return c, ok, nil
}

func (m *memStore) Lease(_ context.Context, key string, ttl time.Duration) (int64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return 0, false, errStoreDown
	}
	if until, ok := m.leases[key]; ok && time.Now().Before(until) {
		return 0, false, nil
	}
	m.fences[key]++
	m.leases[key] = time.Now().Add(ttl)
	return m.fences[key], true, nil
}

func (m *memStore) Store(_ context.Context, key string, cred SharedCredential, fence int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return errStoreDown
	}
	if m.fences[key] != fence {
		return ErrStaleLease
	}
	m.creds[key] = cred
	delete(m.leases, key)
	close(m.changed)
	m.changed = make(chan struct{})
	return nil
}

func (m *memStore) Invalidate(_ context.Context, key string, cred SharedCredential) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return errStoreDown
	}
	if m.creds[key].Value == cred.Value {
		delete(m.creds, key)
		close(m.changed)
		m.changed = make(chan struct{})
	}
	return nil
}

func (m *memStore) Wait(ctx context.Context, key string) error {
	m.mu.Lock()
	ch := m.changed
	down := m.down
	m.mu.Unlock()
	if down {
		return errStoreDown
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestReplicasShareOneSession: eight replicas (Clients) of one application,
// each with a thousand callers on a cold start, open one session between
// them, and at steady state no call touches the store.
func TestReplicasShareOneSession(t *testing.T) {
	t.Parallel()
	g := c2bGateway(t)
	store := newMemStore()
	var replicas []*Client
	for i := 0; i < 8; i++ {
		replicas = append(replicas, g.openAPIClient(t, WithCredentialStore(store)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*1000)
	for _, c := range replicas {
		for j := 0; j < 1000; j++ {
			wg.Add(1)
			go func(c *Client) {
				defer wg.Done()
				if _, err := c.do(context.Background(), APIC2B, c2bParams, "r"); err != nil {
					errs <- err
				}
			}(c)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	assert.EqualValues(t, 1, g.sessionCalls.Load(), "one getSession for all replicas")

	store.mu.Lock()
	loads := store.loads
	store.mu.Unlock()
	for _, c := range replicas {
		_, err := c.do(context.Background(), APIC2B, c2bParams, "r")
		require.NoError(t, err)
	}
	store.mu.Lock()
	assert.Equal(t, loads, store.loads, "a call at steady state makes no round trip to the store")
	store.mu.Unlock()
}

// TestUnreachableStoreFallsBackToOwnSession: when the store cannot be
// reached, payments go on: the replica fetches a session of its own and
// says so in its log.
func TestUnreachableStoreFallsBackToOwnSession(t *testing.T) {
	t.Parallel()
	g := c2bGateway(t)
	store := newMemStore()
	store.down = true
	var logs bytes.Buffer
	c := g.openAPIClient(t, WithCredentialStore(store), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	_, err := c.do(context.Background(), APIC2B, c2bParams, "r")
	require.NoError(t, err)
	assert.EqualValues(t, 1, g.sessionCalls.Load())
	assert.Contains(t, logs.String(), "fetches a credential of its own")
}

// TestRefusedSharedSessionIsInvalidatedInTheStore: a session the gateway
// refuses is dropped from the store too, so that the next replica does not
// adopt it, and a new one is shared.
func TestRefusedSharedSessionIsInvalidatedInTheStore(t *testing.T) {
	t.Parallel()
	g := c2bGateway(t)
	store := newMemStore()
	a := g.openAPIClient(t, WithCredentialStore(store), WithSessionActivation(0))
	b := g.openAPIClient(t, WithCredentialStore(store), WithSessionActivation(0))
	_, err := a.do(context.Background(), APIC2B, c2bParams, "r")
	require.NoError(t, err)
	first := a.sessionCache().fresh.Load()
	g.refuse(first.secret)
	_, err = a.do(context.Background(), APIC2B, c2bParams, "r")
	require.NoError(t, err, "a refused session is replaced and the call sent once more")
	_, err = b.do(context.Background(), APIC2B, c2bParams, "r")
	require.NoError(t, err)
	assert.NotEqual(t, first.secret, b.sessionCache().fresh.Load().secret, "the other replica does not adopt the refused session")
	assert.EqualValues(t, 2, g.sessionCalls.Load())
}

// c2bGateway is a fake OpenAPI gateway that accepts C2B payments made with
// one of its sessions.
func c2bGateway(t *testing.T) *fakeGateway {
	t.Helper()
	g := newFakeGateway(t)
	g.handle("POST", openAPIPath("c2bPayment/singleStage/"), func(w http.ResponseWriter, r *http.Request) {
		if _, ok := g.session(w, r); ok {
			writeJSON(w, 201, map[string]string{"output_ResponseCode": "INS-0", "output_ConversationID": "c", "output_TransactionID": "t"})
		}
	})
	return g
}

// sharedCache returns a credCache shared through store whose fetch hands
// out "own-1", "own-2", … and counts its calls.
func sharedCache(store CredentialStore, fetches *int) *credCache {
	var mu sync.Mutex
	return &credCache{
		fetch: func(context.Context) (*credential, error) {
			mu.Lock()
			defer mu.Unlock()
			*fetches++
			now := time.Now()
			secret := "own-" + string(rune('0'+*fetches))
			return &credential{secret: secret, authz: []string{"Bearer " + secret}, obtained: now, expires: now.Add(time.Hour)}, nil
		},
		now:       time.Now,
		ahead:     func(lifetime time.Duration) time.Duration { return lifetime / 10 },
		backoff:   func(int) time.Duration { return time.Millisecond },
		failPause: time.Second,
		shared: &sharing{
			store:     store,
			key:       "k",
			authorize: func(s string) ([]string, error) { return []string{"Bearer " + s}, nil },
			leaseTTL:  time.Second,
			logger:    discardLogger(),
		},
	}
}

// overtakingStore lets another replica finish a refresh between a Load and
// a Lease: its first Lease first grants a lease to that replica, which
// stores its credential (and so ends its lease), then grants one to us.
type overtakingStore struct {
	*memStore
	once sync.Once
}

func (s *overtakingStore) Lease(ctx context.Context, key string, ttl time.Duration) (int64, bool, error) {
	s.once.Do(func() {
		fence, ok, err := s.memStore.Lease(ctx, key, ttl)
		if err != nil || !ok {
			panic("the other replica's lease")
		}
		now := time.Now()
		if err := s.memStore.Store(ctx, key, SharedCredential{Value: "theirs", Obtained: now, Expires: now.Add(time.Hour)}, fence); err != nil {
			panic(err)
		}
	})
	return s.memStore.Lease(ctx, key, ttl)
}

// TestLeaseAfterAnotherReplicaStoredAdoptsItsCredential: a replica that
// gets the lease just after another one stored a fresh credential uses
// that credential instead of fetching one more (a second session; on
// Daraja, the other replica's token invalidated).
func TestLeaseAfterAnotherReplicaStoredAdoptsItsCredential(t *testing.T) {
	t.Parallel()
	var fetches int
	cc := sharedCache(&overtakingStore{memStore: newMemStore()}, &fetches)
	cred, err := cc.get(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "theirs", cred.secret)
	assert.Zero(t, fetches, "no credential fetched beside the one just stored")
}

// stickyStore cannot invalidate: the refused credential stays stored, as
// when Redis is briefly unreachable or another replica stores it back.
type stickyStore struct{ *memStore }

func (s stickyStore) Invalidate(context.Context, string, SharedCredential) error { return errStoreDown }

// TestRefusedCredentialIsNotAdoptedAgain: after the gateway refused a
// credential, the client fetches a new one even when the store still holds
// the refused one, and stores the new one in its place.
func TestRefusedCredentialIsNotAdoptedAgain(t *testing.T) {
	t.Parallel()
	store := stickyStore{newMemStore()}
	now := time.Now()
	store.creds["k"] = SharedCredential{Value: "refused", Obtained: now, Expires: now.Add(time.Hour)}
	var fetches int
	cc := sharedCache(store, &fetches)
	cred, err := cc.get(context.Background())
	require.NoError(t, err)
	require.Equal(t, "refused", cred.secret, "adopted from the store")

	_, again, _ := cc.refused(cred, &authTries{})
	require.True(t, again)
	cred, err = cc.get(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "own-1", cred.secret, "a new credential, not the refused one adopted again")
	assert.Equal(t, 1, fetches)
	assert.Equal(t, Secret("own-1"), store.creds["k"].Value, "the new credential replaces the refused one in the store")
}

// TestDarajaReplicasShareOneToken: on Daraja each new token may invalidate
// the previous one, so replicas sharing a store fetch one token between
// them, and a token refused on one replica is replaced for all.
func TestDarajaReplicasShareOneToken(t *testing.T) {
	t.Parallel()
	f := newDarajaFake()
	store := newMemStore()
	var replicas []*Client
	for i := 0; i < 4; i++ {
		c, _ := darajaClient(t, f, WithCredentialStore(store))
		replicas = append(replicas, c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*50)
	for _, c := range replicas {
		for j := 0; j < 50; j++ {
			wg.Add(1)
			go func(c *Client) {
				defer wg.Done()
				if _, err := c.AccountBalance(context.Background(), AccountBalanceRequest{}); err != nil {
					errs <- err
				}
			}(c)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	require.Equal(t, 1, f.tokenCount(), "one token for all replicas")
	assert.NotContains(t, fmt.Sprint(store.creds), f.issued()[0], "the store's key and %v show no token")

	f.refuse(f.issued()[0], "404.001.03")
	_, err := replicas[0].AccountBalance(context.Background(), AccountBalanceRequest{})
	require.NoError(t, err, "a refused token is replaced and the call sent once more")
	_, err = replicas[1].AccountBalance(context.Background(), AccountBalanceRequest{})
	require.NoError(t, err)
	assert.Equal(t, 2, f.tokenCount(), "the other replica adopts the replacement")
}
