package mpesa

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The OAuth token of a Daraja client (docs/gateways.md D3, D4): one fetch
// shared by every caller, refreshed ahead of expiry, and a refused token
// dropped alone and replaced once.

// bearerOf returns the token a product request carried.
func bearerOf(r darajaRecord) string {
	return strings.TrimPrefix(r.header.Get("Authorization"), "Bearer ")
}

// TestDarajaColdClientSharesOneToken: 1,000 calls on a cold client wait
// for one token request and all carry that token (run it with -race).
func TestDarajaColdClientSharesOneToken(t *testing.T) {
	t.Parallel()
	f := newDarajaFake()
	f.gate = make(chan struct{})
	c, _ := darajaClient(t, f)
	const n = 1000
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.AccountBalance(context.Background(), AccountBalanceRequest{})
		}()
	}
	waitFor(t, "the token request", func() bool { return f.tokenCount() == 1 })
	time.Sleep(20 * time.Millisecond) // let the callers pile up on the one fetch
	close(f.gate)
	wg.Wait()
	for i := 0; i < n; i++ {
		require.NoError(t, errs[i])
	}
	assert.Equal(t, 1, f.tokenCount(), "1,000 cold callers share one token request")
	reqs := f.requests()
	require.Len(t, reqs, n)
	for _, r := range reqs {
		assert.Equal(t, f.issued()[0], bearerOf(r))
	}
}

// TestDarajaTokenRefreshedAhead: the token serves until shortly before its
// expiry, then the next one is fetched in the background while the current
// one still serves; never a token per call.
func TestDarajaTokenRefreshedAhead(t *testing.T) {
	t.Parallel()
	f := newDarajaFake()
	c, _ := darajaClient(t, f)
	clock := newFakeClock()
	c.now = clock.Now
	call := func() string {
		t.Helper()
		_, err := c.AccountBalance(context.Background(), AccountBalanceRequest{})
		require.NoError(t, err)
		reqs := f.requests()
		return bearerOf(reqs[len(reqs)-1])
	}
	first := call()
	ahead := darajaRefreshAhead(3599 * time.Second)
	assert.GreaterOrEqual(t, ahead, 60*time.Second, "refreshed at least 60 s ahead")
	for i := 0; i < 20; i++ {
		assert.Equal(t, first, call())
	}
	clock.Advance(3599*time.Second - ahead - time.Second)
	assert.Equal(t, first, call(), "not refreshed before the window")
	assert.Equal(t, 1, f.tokenCount())
	clock.Advance(2 * time.Second)
	assert.Equal(t, first, call(), "inside the window the current token still serves the call that starts the fetch")
	waitFor(t, "the early refresh", func() bool { return len(f.issued()) == 2 })
	waitFor(t, "the new token to serve", func() bool {
		s := c.d.(*daraja).tokens.fresh.Load()
		return s != nil && s.secret == f.issued()[1]
	})
	second := call()
	assert.NotEqual(t, first, second, "the new token serves at once: Daraja has no activation window")
	assert.Equal(t, f.issued()[1], second)
	for i := 0; i < 20; i++ {
		call()
	}
	assert.Equal(t, 2, f.tokenCount(), "one fetch per lifetime")
}

// TestDarajaRefreshAheadWindow: at least a minute ahead for any real
// lifetime, never more than half of it.
func TestDarajaRefreshAheadWindow(t *testing.T) {
	t.Parallel()
	for _, life := range []time.Duration{2 * time.Minute, 10 * time.Minute, 3599 * time.Second, 24 * time.Hour} {
		a := darajaRefreshAhead(life)
		assert.GreaterOrEqual(t, a, time.Minute, life)
		assert.LessOrEqual(t, a, life/2, life)
	}
}

// TestDarajaRefusedTokenResentOnce: each invalid-token code drops that
// token, fetches a new one and sends the call once more, byte-identical.
func TestDarajaRefusedTokenResentOnce(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"404.001.03", "400.003.01", "401.002.01", "401.001"} {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			f := newDarajaFake()
			c, _ := darajaClient(t, f)
			_, err := c.AccountBalance(context.Background(), AccountBalanceRequest{})
			require.NoError(t, err)
			f.refuse(f.issued()[0], code)
			res, err := darajaProducts[APIB2C](context.Background(), c)
			require.NoError(t, err)
			assert.Equal(t, "AG_20191219_00005797af5d7d75f652", res.(*PaymentResponse).ConversationID)
			reqs := f.requests()[1:]
			require.Len(t, reqs, 2, "sent once more")
			assert.Equal(t, f.issued()[0], bearerOf(reqs[0]))
			assert.Equal(t, f.issued()[1], bearerOf(reqs[1]))
			assert.Equal(t, reqs[0].body, reqs[1].body, "the resend is byte-identical")
			assert.Equal(t, 2, f.tokenCount())

			// A new token refused too ends the call: one resend only.
			f.refuse(f.issued()[1], code)
			f.refuse(fmt.Sprintf("%s%c%04d", testTokenPrefix, 'A'+2, 2), code)
			_, err = darajaProducts[APIB2C](context.Background(), c)
			require.ErrorIs(t, err, ErrUnauthorized)
			assert.Len(t, f.requests(), 5)
			assert.Equal(t, 3, f.tokenCount())
		})
	}
}

// TestDarajaInvalidateDropsOnlyThatToken: a refusal of an old token that
// arrives after a newer one was fetched leaves the newer one serving.
func TestDarajaInvalidateDropsOnlyThatToken(t *testing.T) {
	t.Parallel()
	f := newDarajaFake()
	c, _ := darajaClient(t, f)
	clock := newFakeClock()
	c.now = clock.Now
	cc := c.d.(*daraja).tokens
	old, err := cc.get(context.Background())
	require.NoError(t, err)
	clock.Advance(3599*time.Second - darajaRefreshAhead(3599*time.Second) + time.Second)
	_, err = cc.get(context.Background()) // starts the early refresh
	require.NoError(t, err)
	waitFor(t, "the new token", func() bool { s := cc.fresh.Load(); return s != nil && s != old })
	newer := cc.fresh.Load()

	var tries authTries
	_, again, _ := cc.refused(old, &tries)
	assert.True(t, again, "the call goes again")
	got, err := cc.get(context.Background())
	require.NoError(t, err)
	assert.Same(t, newer, got, "the newer token still serves")
	assert.Equal(t, 2, f.tokenCount(), "and no token was fetched for the refusal of the old one")
}

// TestDarajaAPINotEnabledIsFinal: 401.003.01 says the app lacks the API
// product (or the C2B version): a typed error, not a token problem.
func TestDarajaAPINotEnabledIsFinal(t *testing.T) {
	t.Parallel()
	f := newDarajaFake()
	f.answers = []http.HandlerFunc{answerJSON(401, `{"requestId":"","errorCode":"401.003.01","errorMessage":"Invalid Access Token - Invalid API call as no apiproduct match found"}`)}
	c, _ := darajaClient(t, f)
	_, err := darajaProducts[APIC2BRegister](context.Background(), c)
	require.ErrorIs(t, err, ErrAPINotEnabled)
	assert.NotErrorIs(t, err, ErrUnauthorized)
	assert.Len(t, f.requests(), 1)
	assert.Equal(t, 1, f.tokenCount())
}

// TestDarajaTokenWaitersHonourTheirContext: a caller whose context ends
// while the token is being fetched gives up alone; the fetch goes on for
// the others.
func TestDarajaTokenWaitersHonourTheirContext(t *testing.T) {
	t.Parallel()
	f := newDarajaFake()
	f.gate = make(chan struct{})
	c, _ := darajaClient(t, f)
	done := make(chan error, 1)
	go func() {
		_, err := c.AccountBalance(context.Background(), AccountBalanceRequest{})
		done <- err
	}()
	waitFor(t, "the token request", func() bool { return f.tokenCount() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.AccountBalance(ctx, AccountBalanceRequest{ThirdPartyConversationID: "IMPATIENT"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "IMPATIENT", e.ThirdPartyConversationID)
	close(f.gate)
	require.NoError(t, <-done, "the patient caller gets the token")
	assert.Equal(t, 1, f.tokenCount())
	assert.Len(t, f.requests(), 1, "the impatient call sent nothing")
}

// TestDarajaFailedTokenFetchLeavesNothingLocked: every waiter of a failed
// fetch gets its error, and the next call fetches anew.
func TestDarajaFailedTokenFetchLeavesNothingLocked(t *testing.T) {
	t.Parallel()
	f := newDarajaFake()
	fail := true
	var mu sync.Mutex
	f.tokenAnswer = func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			writeJSON(w, 400, darajaEnvelope("400.008.01", "Invalid Authentication passed"))
			return
		}
		writeJSON(w, 200, map[string]string{"access_token": testTokenPrefix + "OK", "expires_in": "3599"})
	}
	c, _ := darajaClient(t, f)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.AccountBalance(context.Background(), AccountBalanceRequest{})
			assert.ErrorIs(t, err, ErrSessionCreation)
		}()
	}
	wg.Wait()
	mu.Lock()
	fail = false
	mu.Unlock()
	f.accept(testTokenPrefix + "OK") // the fake's bookkeeping for the custom answer
	_, err := c.AccountBalance(context.Background(), AccountBalanceRequest{})
	require.NoError(t, err, "a failed fetch leaves nothing locked or cached")
}

// TestDarajaTokenLifetime reads expires_in as a number or a string; an
// unreadable one is the documented 3599 s.
func TestDarajaTokenLifetime(t *testing.T) {
	t.Parallel()
	for expires, want := range map[string]time.Duration{
		`"3599"`: 3599 * time.Second, `3599`: 3599 * time.Second, `"3600"`: time.Hour, `120`: 2 * time.Minute,
		`null`: 3599 * time.Second, `"soon"`: 3599 * time.Second, `"-5"`: 3599 * time.Second, `"0"`: 3599 * time.Second,
		`99999999`: 24 * time.Hour,
	} {
		f := newDarajaFake()
		f.expiresIn = expires
		c, _ := darajaClient(t, f)
		cred, err := c.d.(*daraja).tokens.get(context.Background())
		require.NoError(t, err, expires)
		assert.Equal(t, want, cred.expires.Sub(cred.obtained), "expires_in %s", expires)
	}
	// Missing altogether.
	f := newDarajaFake()
	f.tokenAnswer = answerJSON(200, `{"access_token":"`+testTokenPrefix+`X"}`)
	c, _ := darajaClient(t, f)
	cred, err := c.d.(*daraja).tokens.get(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3599*time.Second, cred.expires.Sub(cred.obtained))
}

// TestDarajaTokenFetchRetriedAsAQuery: a token request that fails in
// transit or with a 5xx is retried (it changes nothing); the call then
// proceeds.
func TestDarajaTokenFetchRetriedAsAQuery(t *testing.T) {
	t.Parallel()
	f := newDarajaFake()
	var mu sync.Mutex
	n := 0
	f.tokenAnswer = func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			w.WriteHeader(503)
			fmt.Fprint(w, "<html>upstream</html>")
			return
		}
		writeJSON(w, 200, map[string]string{"access_token": testTokenPrefix + "R", "expires_in": "3599"})
	}
	f.accept(testTokenPrefix + "R")
	c, _ := darajaClient(t, f)
	_, err := c.AccountBalance(context.Background(), AccountBalanceRequest{})
	require.NoError(t, err)
	assert.Equal(t, 2, f.tokenCount())
	var e *Error
	assert.False(t, errors.As(err, &e))
}
