package mpesa

import (
	"bytes"
	"context"
	"errors"
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
