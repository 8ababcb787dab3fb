package mpesa

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// whToken is the token of the tests that use RequireToken; no log line or
// answer may contain it.
// noDedup processes every delivery: for tests that post one body often.
type noDedup struct{}

func (noDedup) Claim(context.Context, string, string) (ClaimState, error) { return ClaimAcquired, nil }
func (noDedup) Complete(context.Context, string, string) error            { return nil }
func (noDedup) Release(context.Context, string, string) error             { return nil }

// failingDedup fails the calls named in fail.
type failingDedup struct {
	*MemoryDedup
	claim, complete, release bool
}

func (f failingDedup) Claim(ctx context.Context, k, o string) (ClaimState, error) {
	if f.claim {
		return 0, errors.New("redis: connection refused")
	}
	return f.MemoryDedup.Claim(ctx, k, o)
}

func (f failingDedup) Complete(ctx context.Context, k, o string) error {
	if f.complete {
		return errors.New("redis: timeout")
	}
	return f.MemoryDedup.Complete(ctx, k, o)
}

func (f failingDedup) Release(ctx context.Context, k, o string) error {
	if f.release {
		return errors.New("redis: timeout")
	}
	return f.MemoryDedup.Release(ctx, k, o)
}

func TestHandlerDedupStoreFailures(t *testing.T) {
	t.Parallel()
	body := whFixture(t, "openapi/c2b.json")

	// A store that cannot claim: nothing runs, the gateway comes back.
	c := &whCounter{}
	h := newTestHandler(t, c.fn, Deduplicate(failingDedup{MemoryDedup: NewMemoryDedup(0, 0), claim: true}))
	rec := whPost(h, body)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.NotContains(t, rec.Body.String(), "redis")
	assert.Zero(t, c.calls())

	// A store that cannot complete: the result was processed, so it is
	// acknowledged.
	c = &whCounter{}
	h = newTestHandler(t, c.fn, Deduplicate(failingDedup{MemoryDedup: NewMemoryDedup(0, 0), complete: true}))
	rec = whPost(h, body)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, 1, c.calls())

	// A store that cannot release after a failure: still a retryable answer.
	c = &whCounter{err: errors.New("no")}
	h = newTestHandler(t, c.fn, Deduplicate(failingDedup{MemoryDedup: NewMemoryDedup(0, 0), release: true}))
	assert.Equal(t, http.StatusInternalServerError, whPost(h, body).Code)

	// A store answering an unknown state is not trusted.
	c = &whCounter{}
	h = newTestHandler(t, c.fn, Deduplicate(weirdDedup{}))
	assert.Equal(t, http.StatusServiceUnavailable, whPost(h, body).Code)
	assert.Zero(t, c.calls())
}

type weirdDedup struct{ noDedup }

func (weirdDedup) Claim(context.Context, string, string) (ClaimState, error) { return 42, nil }

func TestMemoryDedup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newFakeClock()
	m := NewMemoryDedup(3, time.Minute)
	m.now = clock.Now

	claim := func(key, owner string) ClaimState {
		t.Helper()
		s, err := m.Claim(ctx, key, owner)
		require.NoError(t, err)
		return s
	}
	assert.Equal(t, ClaimAcquired, claim("k1", "a"))
	assert.Equal(t, ClaimInProgress, claim("k1", "b"))
	require.NoError(t, m.Release(ctx, "k1", "b"), "not b's claim")
	assert.Equal(t, ClaimInProgress, claim("k1", "c"))
	require.NoError(t, m.Release(ctx, "k1", "a"))
	assert.Equal(t, ClaimAcquired, claim("k1", "d"), "a released claim can be taken again")
	require.NoError(t, m.Complete(ctx, "k1", "x"), "not x's claim: ignored")
	assert.Equal(t, ClaimInProgress, claim("k1", "e"))
	require.NoError(t, m.Complete(ctx, "k1", "d"))
	assert.Equal(t, ClaimDone, claim("k1", "f"))
	require.NoError(t, m.Release(ctx, "k1", "d"), "a done key is not released")
	assert.Equal(t, ClaimDone, claim("k1", "g"))

	// Completing a key nobody holds records it.
	require.NoError(t, m.Complete(ctx, "k0", "z"))
	assert.Equal(t, ClaimDone, claim("k0", "y"))

	// Bounded: the oldest completed keys go first.
	for _, k := range []string{"k2", "k3", "k4"} {
		assert.Equal(t, ClaimAcquired, claim(k, "o"))
		require.NoError(t, m.Complete(ctx, k, "o"))
		clock.Advance(time.Second)
	}
	assert.Equal(t, 3, m.Len())
	assert.Equal(t, ClaimAcquired, claim("k1", "h"), "k1 was evicted")
	require.NoError(t, m.Release(ctx, "k1", "h"))
	assert.Equal(t, ClaimDone, claim("k4", "h"))

	// In-progress claims do not count against the size and do not expire.
	for i := 0; i < 10; i++ {
		assert.Equal(t, ClaimAcquired, claim("p"+strconv.Itoa(i), "o"))
	}
	assert.Equal(t, 13, m.Len())
	clock.Advance(time.Hour)
	assert.Equal(t, 10, m.Len(), "completed keys expired after the ttl")
	assert.Equal(t, ClaimAcquired, claim("k4", "i"))
	assert.Equal(t, ClaimInProgress, claim("p3", "j"))
}

// TestMemoryDedupConcurrentClaims: of many concurrent claims of one key,
// exactly one wins.
func TestMemoryDedupConcurrentClaims(t *testing.T) {
	t.Parallel()
	m := NewMemoryDedup(0, 0)
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := m.Claim(context.Background(), "key", "owner"+strconv.Itoa(i))
			assert.NoError(t, err)
			if s == ClaimAcquired {
				won.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), won.Load())
}
