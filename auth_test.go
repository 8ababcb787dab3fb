package mpesa

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// okHandler answers a product call with success once the session is valid.
func okHandler(g *fakeGateway, hits *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := g.session(w, r); !ok {
			return
		}
		hits.Add(1)
		writeJSON(w, 201, map[string]string{"output_ResponseCode": "INS-0", "output_TransactionID": "tx"})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestColdStartSharesOneGetSession(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	release := make(chan struct{})
	g.sessionHandler = func(w http.ResponseWriter, r *http.Request) {
		<-release
		writeJSON(w, 200, map[string]string{"output_ResponseCode": "INS-0", "output_SessionID": g.newSessionID()})
	}
	c := g.openAPIClient(t)
	const n = 1000
	var wg sync.WaitGroup
	got := make([]*credential, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = c.sessionCache().get(context.Background())
		}()
	}
	time.Sleep(20 * time.Millisecond) // let the goroutines pile up on the flight
	close(release)
	wg.Wait()
	for i := 0; i < n; i++ {
		require.NoError(t, errs[i])
		assert.Same(t, got[0], got[i])
	}
	assert.EqualValues(t, 1, g.sessionCalls.Load(), "1000 cold callers share one getSession")
}

func TestConcurrentCallsOnAColdClient(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	var hits atomic.Int64
	g.handle("POST", openAPIPath("b2cPayment/"), okHandler(g, &hits))
	c := g.openAPIClient(t)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.do(context.Background(), APIB2C, c2bParams, "r")
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 1, g.sessionCalls.Load())
	assert.EqualValues(t, 50, hits.Load())
}

// TestSteadyStateDoesNoRSAWork is not parallel: it reads the package-wide
// RSA counter, which parallel tests would move.
func TestSteadyStateDoesNoRSAWork(t *testing.T) {
	g := newFakeGateway(t)
	var hits atomic.Int64
	g.handle("POST", openAPIPath("c2bPayment/singleStage/"), okHandler(g, &hits))
	g.handle("POST", "/ipg/v1x/c2bPayment/singleStage/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 201, map[string]string{"output_ResponseCode": "INS-0"})
	})

	before := rsaEncryptions.Load()
	c := g.openAPIClient(t)
	assert.EqualValues(t, 1, rsaEncryptions.Load()-before, "NewClient encrypts the API key once")
	_, err := c.do(context.Background(), APIC2B, c2bParams, "r")
	require.NoError(t, err)
	assert.EqualValues(t, 2, rsaEncryptions.Load()-before, "the session ID is encrypted once, when fetched")
	for i := 0; i < 20; i++ {
		_, err := c.do(context.Background(), APIC2B, c2bParams, "r")
		require.NoError(t, err)
	}
	assert.EqualValues(t, 2, rsaEncryptions.Load()-before, "no RSA work at steady state")

	before = rsaEncryptions.Load()
	m := g.mozClient(t)
	for i := 0; i < 20; i++ {
		_, err := m.do(context.Background(), APIC2B, c2bParams, "r")
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, rsaEncryptions.Load()-before, "Mozambique encrypts the API key once")
}

func TestSessionRefreshedAheadOfExpiry(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	c := g.openAPIClient(t, WithSessionLifetime(10*time.Minute))
	clk := newFakeClock()
	c.now = clk.Now
	ctx := context.Background()

	s1, err := c.sessionCache().get(ctx)
	require.NoError(t, err)
	clk.Advance(8 * time.Minute)
	s, err := c.sessionCache().get(ctx)
	require.NoError(t, err)
	assert.Same(t, s1, s)
	assert.EqualValues(t, 1, g.sessionCalls.Load(), "no refresh before the refresh-ahead window")

	clk.Advance(90 * time.Second) // 9m30s: inside the window (lifetime - 60s)
	s, err = c.sessionCache().get(ctx)
	require.NoError(t, err)
	assert.Same(t, s1, s, "the current session serves while the next one is fetched")
	waitFor(t, "the background refresh", func() bool {
		c.sessionCache().mu.Lock()
		defer c.sessionCache().mu.Unlock()
		return c.sessionCache().next != nil
	})
	assert.EqualValues(t, 2, g.sessionCalls.Load())

	clk.Advance(10 * time.Second)
	s, err = c.sessionCache().get(ctx)
	require.NoError(t, err)
	assert.Same(t, s1, s, "the new session is not used before it can be live")

	clk.Advance(20 * time.Second) // 10m: the old one expires, the new one is 30s old
	s2, err := c.sessionCache().get(ctx)
	require.NoError(t, err)
	assert.NotSame(t, s1, s2)
	assert.EqualValues(t, 2, g.sessionCalls.Load())
}

func TestExpiredSessionIsNeverUsed(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	c := g.openAPIClient(t, WithSessionLifetime(10*time.Minute))
	clk := newFakeClock()
	c.now = clk.Now
	s1, err := c.sessionCache().get(context.Background())
	require.NoError(t, err)
	clk.Advance(10*time.Minute + time.Nanosecond)
	s2, err := c.sessionCache().get(context.Background())
	require.NoError(t, err)
	assert.NotSame(t, s1, s2)
	assert.True(t, clk.Now().Before(s2.expires))
}

func TestNewSessionWarmUpIsRetried(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	var refusals, hits atomic.Int64
	g.handle("POST", openAPIPath("c2bPayment/singleStage/"), func(w http.ResponseWriter, r *http.Request) {
		if refusals.Add(1) <= 3 { // the session is not live yet
			writeJSON(w, 401, map[string]string{"output_ResponseCode": "INS-2", "output_ResponseDesc": "Invalid API Key"})
			return
		}
		okHandler(g, &hits)(w, r)
	})
	c := g.openAPIClient(t)
	_, err := c.do(context.Background(), APIC2B, c2bParams, "r")
	require.NoError(t, err)
	assert.EqualValues(t, 1, g.sessionCalls.Load(), "warm-up retries keep the session")
	assert.EqualValues(t, 1, hits.Load())
}

func TestWarmUpIsBoundedAndRefreshesOnce(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	var calls atomic.Int64
	g.handle("POST", openAPIPath("c2bPayment/singleStage/"), func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeJSON(w, 401, map[string]string{"output_ResponseCode": "INS-2", "output_ResponseDesc": "Invalid API Key"})
	})
	c := g.openAPIClient(t, WithSessionActivation(30*time.Millisecond))
	_, err := c.do(context.Background(), APIC2B, c2bParams, "r")
	assert.ErrorIs(t, err, ErrUnauthorized)
	assert.EqualValues(t, 2, g.sessionCalls.Load(), "one refresh, no more")
	assert.GreaterOrEqual(t, calls.Load(), int64(2))
}

func TestBusinessOutcomesDoNotRefreshTheSession(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	var calls atomic.Int64
	g.handle("POST", openAPIPath("c2bPayment/singleStage/"), func(w http.ResponseWriter, r *http.Request) {
		if _, ok := g.session(w, r); !ok {
			return
		}
		calls.Add(1)
		writeJSON(w, 401, map[string]string{"output_ResponseCode": "INS-6", "output_ResponseDesc": "Transaction Failed"})
	})
	c := g.openAPIClient(t)
	_, err := c.do(context.Background(), APIC2B, c2bParams, "r")
	assert.ErrorIs(t, err, ErrTransactionFailed)
	assert.EqualValues(t, 1, calls.Load(), "401 INS-6 is a business outcome: no second PIN prompt")
	assert.EqualValues(t, 1, g.sessionCalls.Load())
}

func TestRejectedSessionIsInvalidatedOnce(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	var hits atomic.Int64
	g.handle("POST", openAPIPath("c2bPayment/singleStage/"), okHandler(g, &hits))
	c := g.openAPIClient(t)
	ctx := context.Background()
	_, err := c.do(ctx, APIC2B, c2bParams, "r")
	require.NoError(t, err)
	s1, _ := c.sessionCache().get(ctx)
	require.True(t, s1.live.Load())

	g.refuse(s1.secret) // e.g. revoked on the portal
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.do(ctx, APIC2B, c2bParams, "r")
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 2, g.sessionCalls.Load(), "concurrent rejections of one session cause one refresh")
	s2, _ := c.sessionCache().get(ctx)
	assert.NotSame(t, s1, s2)

	// invalidating the old session again must not drop the new one
	c.sessionCache().invalidate(s1)
	s3, _ := c.sessionCache().get(ctx)
	assert.Same(t, s2, s3)
}

func TestWaitersHonourTheirContextAndFailuresReleaseTheLock(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	release := make(chan struct{})
	var fail atomic.Bool
	fail.Store(true)
	g.sessionHandler = func(w http.ResponseWriter, r *http.Request) {
		<-release
		if fail.Load() {
			writeJSON(w, 400, map[string]string{"output_ResponseCode": "INS-989", "output_ResponseDesc": "Session Creation Failed"})
			return
		}
		writeJSON(w, 200, map[string]string{"output_ResponseCode": "INS-0", "output_SessionID": g.newSessionID()})
	}
	c := g.openAPIClient(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := c.sessionCache().get(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a waiter gives up with its own context")

	done := make(chan error, 1)
	go func() { _, err := c.sessionCache().get(context.Background()); done <- err }()
	close(release)
	err = <-done
	assert.ErrorIs(t, err, ErrSessionCreation)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "INS-989", e.Code)

	fail.Store(false)
	s, err := c.sessionCache().get(context.Background())
	require.NoError(t, err, "a failed fetch leaves nothing locked")
	assert.NotNil(t, s)
}

func TestSlowRefreshDoesNotBlockValidSessions(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	block := make(chan struct{})
	defer close(block)
	var n atomic.Int64
	g.sessionHandler = func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 1 {
			<-block
		}
		writeJSON(w, 200, map[string]string{"output_ResponseCode": "INS-0", "output_SessionID": g.newSessionID()})
	}
	c := g.openAPIClient(t, WithSessionLifetime(10*time.Minute))
	clk := newFakeClock()
	c.now = clk.Now
	s1, err := c.sessionCache().get(context.Background())
	require.NoError(t, err)
	clk.Advance(9*time.Minute + 30*time.Second)
	for i := 0; i < 100; i++ {
		s, err := c.sessionCache().get(context.Background())
		require.NoError(t, err)
		assert.Same(t, s1, s)
	}
	waitFor(t, "the refresh to start", func() bool { return n.Load() == 2 })
}

func TestMissingSessionIDIsTyped(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	g.sessionHandler = func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"output_ResponseCode": "INS-0", "output_ResponseDesc": "Request processed successfully"})
	}
	c := g.openAPIClient(t)
	_, err := c.do(context.Background(), APIC2B, c2bParams, "REF")
	assert.ErrorIs(t, err, ErrSessionCreation)
	assert.ErrorContains(t, err, "output_SessionID")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, APIC2B, e.API)
	assert.Equal(t, "REF", e.ThirdPartyConversationID)
}

func TestGetSessionUsesTheEncryptedAPIKey(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	var sawKey, sawOrigin string
	g.sessionHandler = func(w http.ResponseWriter, r *http.Request) {
		sawKey, _ = decryptBearer(g.priv, r.Header.Get("Authorization"))
		sawOrigin = r.Header.Get("Origin")
		writeJSON(w, 200, map[string]string{"output_ResponseCode": "INS-0", "output_SessionID": "SeSsIoNabc"})
	}
	var sawSession string
	g.handle("GET", openAPIPath("queryTransactionStatus/"), func(w http.ResponseWriter, r *http.Request) {
		sawSession, _ = decryptBearer(g.priv, r.Header.Get("Authorization"))
		writeJSON(w, 200, map[string]string{"output_ResponseCode": "INS-0"})
	})
	c := g.openAPIClient(t, WithOrigin("pay.example.com"))
	_, err := c.do(context.Background(), APITransactionStatus, nil, "r")
	require.NoError(t, err)
	assert.Equal(t, testAPIKey, sawKey)
	assert.Equal(t, "pay.example.com", sawOrigin)
	assert.Equal(t, "SeSsIoNabc", sawSession, "other calls carry the encrypted session ID")
}
