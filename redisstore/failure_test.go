package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

func TestNewReportsEveryBadOptionByName(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer rdb.Close()
	_, err := New(rdb,
		WithPrefix(""),
		WithPrefix("a b"),
		WithPrefix("{tag}"),
		WithTimeout(0),
		WithPollInterval(time.Millisecond),
		WithClaimLease(48*time.Hour),
		WithDedupRetention(0),
		WithResultRetention(-time.Second),
		WithLogger(nil),
		WithEncryption(EncryptionKey{ID: "k", Key: []byte("short")}),
		WithEncryption(EncryptionKey{ID: "", Key: testKeyMaterial(1)}),
		WithEncryption(EncryptionKey{ID: "k", Key: testKeyMaterial(1)}, EncryptionKey{ID: "k", Key: testKeyMaterial(2)}),
		nil,
	)
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"WithPrefix: the prefix must be 1 to 64",
		"WithPrefix: the prefix may hold printable",
		"WithPrefix: the prefix may not hold '{'",
		"WithTimeout: 0s is outside",
		"WithPollInterval: 1ms is outside",
		"WithClaimLease: 48h0m0s is outside",
		"WithDedupRetention: 0s is outside",
		"WithResultRetention: -1s is outside",
		"WithLogger: nil",
		"WithEncryption: the current key: key \"k\" is 5 bytes",
		"WithEncryption: the current key: a key ID must be 1 to 64",
		"WithEncryption: previous key 1: ID \"k\" names two different keys",
		"option 12 is nil",
	} {
		assert.Contains(t, msg, want)
	}
	assert.Equal(t, 13, strings.Count(msg, "\n")+1, msg)
	assert.NotContains(t, msg, string(testKeyMaterial(1)))

	_, err = New(nil)
	assert.ErrorContains(t, err, "nil Redis client")

	lax := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer lax.Close()
	_, err = New(lax)
	assert.ErrorContains(t, err, "ContextTimeoutEnabled")

	s, err := New(rdb, WithEncryption(EncryptionKey{ID: "k", Key: testKeyMaterial(1)}, EncryptionKey{ID: "k", Key: testKeyMaterial(1)}))
	require.NoError(t, err, "the same key twice is harmless")
	_ = s.Close()
}

// TestPrintingShowsNoKey: every fmt verb and slog.
func TestPrintingShowsNoKey(t *testing.T) {
	t.Parallel()
	material := []byte("0123456789abcdef0123456789abcdef")
	k := EncryptionKey{ID: "2026-01", Key: material}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer rdb.Close()
	s, err := New(rdb, WithEncryption(k))
	require.NoError(t, err)
	defer s.Close()
	var logs bytes.Buffer
	l := slog.New(slog.NewTextHandler(&logs, nil))
	l.Info("key", "k", k, "store", s)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("key", "k", k, "ptr", &k)
	var out strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		for _, v := range []any{k, &k, []EncryptionKey{k}, s, s.Credentials(), s.Dedup(), s.Results(), *s.Credentials()} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
	}
	for _, text := range []string{out.String(), logs.String()} {
		assert.NotContains(t, text, string(material))
		assert.NotContains(t, text, fmt.Sprintf("%x", material))
		assert.NotContains(t, text, fmt.Sprint(material))
		assert.NotContains(t, text, "0x", "no pointer innards")
	}
	assert.Contains(t, out.String(), `"2026-01"`)
}

// TestUnreachableRedisFailsPromptly: every operation of a store whose
// Redis does not answer fails within about the store's timeout, a black
// hole (a listener that never answers) as well as a closed port; the
// result wait keeps waiting until its context ends.
func TestUnreachableRedisFailsPromptly(t *testing.T) {
	t.Parallel()
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer hole.Close()
	var conns sync.WaitGroup
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() { defer conns.Done(); _, _ = c.Read(make([]byte, 1<<16)); time.Sleep(5 * time.Second); c.Close() }()
		}
	}()
	for name, addr := range map[string]string{"closed port": closedAddr(t), "black hole": hole.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, DialTimeout: time.Second})
			defer rdb.Close()
			s, err := New(rdb, WithTimeout(200*time.Millisecond), WithLogger(discardLogger()))
			require.NoError(t, err)
			defer s.Close()
			ctx := context.Background()
			cred := testCred("SeSsIoN-unreachable", time.Hour)
			ops := map[string]func() error{
				"Load":        func() error { _, _, err := s.Credentials().Load(ctx, testCredKey); return err },
				"Lease":       func() error { _, _, err := s.Credentials().Lease(ctx, testCredKey, time.Second); return err },
				"Store":       func() error { return s.Credentials().Store(ctx, testCredKey, cred, 1) },
				"Invalidate":  func() error { return s.Credentials().Invalidate(ctx, testCredKey, cred) },
				"Wait":        func() error { return s.Credentials().Wait(ctx, testCredKey) },
				"Claim":       func() error { _, err := s.Dedup().Claim(ctx, testResultKey, "o"); return err },
				"Complete":    func() error { return s.Dedup().Complete(ctx, testResultKey, "o") },
				"Release":     func() error { return s.Dedup().Release(ctx, testResultKey, "o") },
				"Publish":     func() error { return s.Results().Publish(ctx, testResult("c", "r")) },
				"Wait result": nil,
			}
			for op, fn := range ops {
				if fn == nil {
					continue
				}
				start := time.Now()
				err := fn()
				took := time.Since(start)
				require.Error(t, err, op)
				assert.Less(t, took, 1500*time.Millisecond, "%s took %v", op, took)
				assert.Contains(t, err.Error(), "redisstore: ", op)
				assert.NotContains(t, err.Error(), string(cred.Value), op)
				assert.False(t, errors.Is(err, context.DeadlineExceeded), "%s: the caller's deadline is not over: %v", op, err)
			}
			wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err = s.Results().Wait(wctx, "r")
			assert.ErrorIs(t, err, context.DeadlineExceeded, "a result wait outlasts Redis's absence")
			assert.Less(t, time.Since(start), time.Second, "and ends with its context")
		})
	}
}

// TestUnreachableRedisAtRefreshFallsBackToOwnSession: the client fetches
// its own session, says so, and the payment goes through.
func TestUnreachableRedisAtRefreshFallsBackToOwnSession(t *testing.T) {
	t.Parallel()
	srv := mpesatest.NewServer()
	defer srv.Close()
	s, err := New(unreachableRedis(t), WithLogger(discardLogger()))
	require.NoError(t, err)
	defer s.Close()
	var logs logBuffer
	client, err := mpesa.NewClient(srv.APIKey(), append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania),
		mpesa.WithCredentialStore(s.Credentials()), mpesa.WithLogger(logs.logger()))...)
	require.NoError(t, err)
	start := time.Now()
	_, err = client.C2B(context.Background(), c2bRequest())
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Equal(t, 1, srv.SessionRequests())
	assert.Contains(t, logs.String(), "fetches a credential of its own")
	assert.Contains(t, logs.String(), "redisstore: load")
}

func c2bRequest() mpesa.C2BRequest {
	return mpesa.C2BRequest{Amount: "10", CustomerMSISDN: mpesatest.MSISDNSuccess, TransactionReference: "T1",
		PurchasedItemsDesc: "replica test"}
}

// testCallback is an OpenAPI C2B result callback.
func testCallback(conv, ref string) string {
	return `{"input_OriginalConversationID":"` + conv + `","input_TransactionID":"tx` + conv +
		`","input_ResultCode":"INS-0","input_ResultDesc":"Request processed successfully","input_ThirdPartyConversationID":"` + ref + `"}`
}

// TestUnreachableRedisAtCallbackAnswers503: the gateway delivers again;
// the result is not processed.
func TestUnreachableRedisAtCallbackAnswers503(t *testing.T) {
	t.Parallel()
	s, err := New(unreachableRedis(t), WithLogger(discardLogger()))
	require.NoError(t, err)
	defer s.Close()
	runs := 0
	h, err := mpesa.NewHandler(func(context.Context, *mpesa.Result) error { runs++; return nil },
		mpesa.Deduplicate(s.Dedup()), mpesa.HandlerLogger(discardLogger()))
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "/mpesa/results", strings.NewReader(testCallback("c503", "r503")))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(w, req)
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assert.Zero(t, runs)
}

// TestNoSecretInErrorsOrLogs stores a credential, then makes every
// operation fail in every way Redis can (values of the wrong type, a
// closed client, an address where nothing listens) and checks every error
// and every log line, of the store and of the client that uses it.
func TestNoSecretInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	url := redisURL(t)
	key := EncryptionKey{ID: "k1", Key: []byte("fedcba9876543210fedcba9876543210")}
	for _, encrypted := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", encrypted), func(t *testing.T) {
			t.Parallel()
			srv := mpesatest.NewServer(mpesatest.WithLogger(discardLogger()))
			defer srv.Close()
			rdb := dialRedis(t, url)
			p := testPrefix(t, rdb)
			var logs logBuffer
			opts := []Option{WithPrefix(p), WithLogger(logs.logger()), WithTimeout(300 * time.Millisecond), WithPollInterval(20 * time.Millisecond)}
			if encrypted {
				opts = append(opts, WithEncryption(key))
			}
			s, err := New(rdb, opts...)
			require.NoError(t, err)
			defer s.Close()
			client, err := mpesa.NewClient(srv.APIKey(), append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania),
				mpesa.WithCredentialStore(s.Credentials()), mpesa.WithLogger(logs.logger()), mpesa.WithSessionActivation(0))...)
			require.NoError(t, err)
			ctx := context.Background()
			_, err = client.C2B(ctx, c2bRequest())
			require.NoError(t, err)

			// The session the client shares, as the store holds it.
			iter := rdb.Scan(ctx, 0, p+"credential:*", 10).Iterator()
			var credKey string
			for iter.Next(ctx) {
				if !strings.HasSuffix(iter.Val(), ":lease") && !strings.HasSuffix(iter.Val(), ":fence") {
					credKey = iter.Val()
				}
			}
			require.NotEmpty(t, credKey)
			mkey := strings.TrimSuffix(strings.TrimPrefix(credKey, p+"credential:{"), "}")
			stored, ok, err := s.Credentials().Load(ctx, mkey)
			require.NoError(t, err)
			require.True(t, ok)
			secret := string(stored.Value)
			raw, err := rdb.Get(ctx, credKey).Result()
			require.NoError(t, err)
			if encrypted {
				assert.NotContains(t, raw, secret)
			}

			var errs []error
			every := func(s *Store) {
				c := s.Credentials()
				_, _, err := c.Load(ctx, mkey)
				errs = append(errs, err)
				_, _, err = c.Lease(ctx, mkey, time.Second)
				errs = append(errs, err)
				errs = append(errs, c.Store(ctx, mkey, stored, 1))
				errs = append(errs, c.Invalidate(ctx, mkey, stored))
				wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				errs = append(errs, c.Wait(wctx, mkey))
				cancel()
			}

			// Values of the wrong type: Redis answers every script
			// and command with an error.
			for _, k := range []string{credKey, credKey + ":lease", credKey + ":fence"} {
				require.NoError(t, rdb.Del(ctx, k).Err())
				require.NoError(t, rdb.RPush(ctx, k, raw, secret).Err())
			}
			every(s)
			// The client meets them at its next refresh.
			srv.ExpireSessions()
			_, err = client.C2B(ctx, c2bRequest())
			require.NoError(t, err, "payments go on")

			// An address where nothing listens.
			down, err := New(unreachableRedis(t), append(opts[:0:0], opts...)...)
			require.NoError(t, err)
			defer down.Close()
			every(down)

			// A closed client.
			closed := dialRedis(t, url)
			cs, err := New(closed, append(opts[:0:0], opts...)...)
			require.NoError(t, err)
			defer cs.Close()
			_ = closed.Close()
			every(cs)

			n := 0
			for _, err := range errs {
				if err == nil {
					continue
				}
				n++
				assert.NotContains(t, err.Error(), secret)
				assert.NotContains(t, err.Error(), raw)
				assert.NotContains(t, err.Error(), string(key.Key))
			}
			assert.GreaterOrEqual(t, n, 13, "the operations failed: %v", errs)
			out := logs.String()
			assert.Contains(t, out, "fetches a credential of its own", "the client fell back")
			assert.NotContains(t, out, secret)
			assert.NotContains(t, out, raw)
			assert.NotContains(t, out, string(key.Key))
		})
	}
}
