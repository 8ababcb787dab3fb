package mpesa

import (
	"context"
	"errors"
	"runtime"
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
func TestResultsAwait(t *testing.T) {
	t.Parallel()
	hub := NewResults(0, 0)
	res := mozPayment()

	// A waiter gets the result when it arrives.
	got := make(chan *Result)
	go func() {
		r, err := hub.Await(context.Background(), res.OriginalConversationID)
		assert.NoError(t, err)
		got <- r
	}()
	require.Eventually(t, func() bool { _, w := hub.Len(), hub.Waiting(); return w == 1 }, 5*time.Second, time.Millisecond)
	hub.Deliver(context.Background(), res)
	assert.Same(t, res, <-got)

	// A result that arrived first is found, by either key, more than once.
	for _, key := range []string{res.OriginalConversationID, res.ThirdPartyConversationID, res.OriginalConversationID} {
		r, err := hub.Await(context.Background(), key)
		require.NoError(t, err)
		assert.Same(t, res, r)
	}
	kept, waiting := hub.Len(), hub.Waiting()
	assert.Equal(t, 1, kept)
	assert.Zero(t, waiting)

	// Several waiters on both keys all get it.
	other := openAPIPayment()
	var wg sync.WaitGroup
	for _, key := range []string{docOCID, docOCID, docRef} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := hub.Await(context.Background(), key)
			assert.NoError(t, err)
			assert.Same(t, other, r)
		}()
	}
	require.Eventually(t, func() bool { _, w := hub.Len(), hub.Waiting(); return w == 3 }, 5*time.Second, time.Millisecond)
	hub.Deliver(context.Background(), other)
	wg.Wait()

	_, err := hub.Await(context.Background(), "")
	assert.Error(t, err)
	hub.Deliver(context.Background(), nil) // ignored
}

func TestResultsAwaitContextEnds(t *testing.T) {
	t.Parallel()
	hub := NewResults(0, 0)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error)
	go func() {
		_, err := hub.Await(ctx, "never")
		errs <- err
	}()
	require.Eventually(t, func() bool { _, w := hub.Len(), hub.Waiting(); return w == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	assert.ErrorIs(t, <-errs, context.Canceled)
	_, waiting := hub.Len(), hub.Waiting()
	assert.Zero(t, waiting, "the waiter is gone")

	// An ended context returns at once when nothing is there.
	_, err := hub.Await(ctx, "never")
	assert.ErrorIs(t, err, context.Canceled)
	// ... but a result that is there is returned.
	hub.Deliver(context.Background(), &Result{OriginalConversationID: "here"})
	r, err := hub.Await(ctx, "here")
	require.NoError(t, err)
	assert.Equal(t, "here", r.OriginalConversationID)
}

func TestResultsBounded(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	hub := NewResults(3, time.Minute)
	hub.now = clock.Now
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for i := 0; i < 10; i++ {
		hub.Deliver(context.Background(), &Result{OriginalConversationID: "c" + strconv.Itoa(i), ThirdPartyConversationID: "r" + strconv.Itoa(i)})
	}
	kept, _ := hub.Len(), hub.Waiting()
	assert.Equal(t, 3, kept)
	assert.Len(t, hub.kept, 6, "two keys per result")
	for i := 0; i < 10; i++ {
		_, err := hub.Await(ended, "r"+strconv.Itoa(i))
		if i < 7 {
			assert.ErrorIs(t, err, context.Canceled, "r%d was forgotten", i)
		} else {
			assert.NoError(t, err, "r%d is kept", i)
		}
	}

	// A result delivered again replaces the earlier one.
	hub.Deliver(context.Background(), &Result{OriginalConversationID: "c9", ThirdPartyConversationID: "r9", ResultCode: "INS-6"})
	r, err := hub.Await(ended, "c9")
	require.NoError(t, err)
	assert.Equal(t, "INS-6", r.ResultCode)
	kept, _ = hub.Len(), hub.Waiting()
	assert.Equal(t, 3, kept)

	clock.Advance(2 * time.Minute)
	kept, _ = hub.Len(), hub.Waiting()
	assert.Zero(t, kept, "all expired")
	assert.Empty(t, hub.kept)
	_, err = hub.Await(ended, "c9")
	assert.ErrorIs(t, err, context.Canceled)
}

// TestResultsNoGoroutineLeak: the hub starts no goroutine, and waiters whose
// context ends leave nothing behind. Not parallel: it counts goroutines.
func TestResultsNoGoroutineLeak(t *testing.T) {
	hub := NewResults(16, time.Minute)
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "k" + strconv.Itoa(i%50)
			if i%2 == 0 {
				_, _ = hub.Await(ctx, key)
				return
			}
			hub.Deliver(context.Background(), &Result{OriginalConversationID: "other" + strconv.Itoa(i)})
		}()
	}
	require.Eventually(t, func() bool { _, w := hub.Len(), hub.Waiting(); return w == 100 }, 5*time.Second, time.Millisecond)
	cancel()
	wg.Wait()
	kept, waiting := hub.Len(), hub.Waiting()
	assert.Zero(t, waiting)
	assert.Equal(t, 16, kept, "bounded")
	assert.Empty(t, hub.waiters)
	// Polled by hand: Eventually runs its condition on a goroutine of its
	// own. Goroutines of the waiters may take a moment to be reaped.
	for i := 0; i < 5000 && runtime.NumGoroutine() > before; i++ {
		time.Sleep(time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before)
}

func TestResultsConcurrentDeliverAndAwait(t *testing.T) {
	t.Parallel()
	hub := NewResults(1000, time.Minute)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		key := "conv" + strconv.Itoa(i)
		wg.Add(2)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r, err := hub.Await(ctx, key)
			if assert.NoError(t, err) {
				assert.Equal(t, key, r.OriginalConversationID)
			}
		}()
		go func() {
			defer wg.Done()
			hub.Deliver(context.Background(), &Result{OriginalConversationID: key})
		}()
	}
	wg.Wait()
	_, waiting := hub.Len(), hub.Waiting()
	assert.Zero(t, waiting)
}

func TestHandlerFeedsResults(t *testing.T) {
	t.Parallel()
	hub := NewResults(0, 0)
	fail := atomic.Bool{}
	fail.Store(true)
	h := newTestHandler(t, func(context.Context, *Result) error {
		if fail.Load() {
			return errors.New("not stored")
		}
		return nil
	}, FeedResults(hub))
	body := whFixture(t, "mozambique/b2c.json")

	// A result the function did not accept is not handed out.
	require.Equal(t, 500, whPost(h, body).Code)
	kept, _ := hub.Len(), hub.Waiting()
	assert.Zero(t, kept)

	fail.Store(false)
	require.Equal(t, 200, whPost(h, body).Code)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := hub.Await(ctx, "11114")
	require.NoError(t, err)
	assert.Equal(t, mozOCID, r.OriginalConversationID)
	assert.True(t, r.OK())

	// A duplicate does not feed it again.
	require.Equal(t, 200, whPost(h, body).Code)
	kept, _ = hub.Len(), hub.Waiting()
	assert.Equal(t, 1, kept)
}

// flakyBus is a ResultBus whose first failures Waits fail, as a Redis that
// restarts would, and whose later ones return what was published.
type flakyBus struct {
	mu        sync.Mutex
	failures  int
	waits     int
	published map[string]*Result
	changed   chan struct{}
}

func newFlakyBus(failures int) *flakyBus {
	return &flakyBus{failures: failures, published: map[string]*Result{}, changed: make(chan struct{})}
}

func (b *flakyBus) Publish(_ context.Context, res *Result) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range res.IDs() {
		b.published[k] = res
	}
	close(b.changed)
	b.changed = make(chan struct{})
	return nil
}

func (b *flakyBus) Wait(ctx context.Context, key string) (*Result, error) {
	for {
		b.mu.Lock()
		b.waits++
		if b.waits <= b.failures {
			b.mu.Unlock()
			return nil, errors.New("bus unreachable")
		}
		res, ch := b.published[key], b.changed
		b.mu.Unlock()
		if res != nil {
			return res, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// TestResultsAwaitOutlivesAFailingBus: a result another replica publishes
// reaches the waiter even when the bus failed it first; Await gives up
// only when its own context ends.
func TestResultsAwaitOutlivesAFailingBus(t *testing.T) {
	t.Parallel()
	bus := newFlakyBus(3)
	waiting, paying := NewResults(0, 0, ShareResults(bus)), NewResults(0, 0, ShareResults(bus))
	res := mozPayment()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan *Result, 1)
	go func() {
		r, err := waiting.Await(ctx, res.OriginalConversationID)
		assert.NoError(t, err)
		got <- r
	}()
	waitFor(t, "three failed Waits", func() bool {
		bus.mu.Lock()
		defer bus.mu.Unlock()
		return bus.waits > 3
	})
	require.NoError(t, paying.Deliver(context.Background(), res))
	assert.Same(t, res, <-got)

	// And a waiter whose context ends returns its error, bus failing or not.
	bus.mu.Lock()
	bus.failures = 1 << 30
	bus.mu.Unlock()
	short, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelShort()
	_, err := waiting.Await(short, "never")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}
