package mpesa

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests of this file each prove one finding of the adversarial review
// (the hardening issue), by number; each fails on the code before its fix.

// TestNewSessionIDNeverLeaks (item 4): a getSession answer that is cut
// short, lacks a response code, or says INS-0 under HTTP 500 carries a new
// session ID the client never stored; it must not reach the product call's
// error or the debug log.
func TestNewSessionIDNeverLeaks(t *testing.T) {
	t.Parallel()
	const newID = "NeWsEsSiOn7f3a9c2e41d04b8aa1f0c9e2"
	answers := map[string]func(w http.ResponseWriter){
		"truncated": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"output_ResponseCode":"INS-0","output_SessionID":"`+newID)
		},
		"no response code": func(w http.ResponseWriter) {
			writeJSON(w, 200, map[string]string{"output_SessionID": newID})
		},
		"INS-0 under 500": func(w http.ResponseWriter) {
			writeJSON(w, 500, map[string]string{"output_ResponseCode": "INS-0", "output_SessionID": newID})
		},
		"failure code echoing it": func(w http.ResponseWriter) {
			writeJSON(w, 400, map[string]string{"output_ResponseCode": "INS-989", "output_ResponseDesc": "Session " + newID + " failed",
				"output_SessionID": newID})
		},
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g := newFakeGateway(t)
			g.sessionHandler = func(w http.ResponseWriter, _ *http.Request) { answer(w) }
			var logs bytes.Buffer
			c := g.openAPIClient(t, WithMaxRetries(0), WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			_, err := c.do(context.Background(), APIC2B, c2bParams, "r")
			require.Error(t, err)
			assert.NotContains(t, err.Error(), newID[:12])
			assert.NotContains(t, fmt.Sprintf("%+v", err), newID[:12])
			assert.NotContains(t, logs.String(), newID[:12])
		})
	}
}

// TestGatewayDescriptionsAreScrubbedOfSecrets (item 5): a gateway that
// echoes the bearer or the API key in output_ResponseDesc or output_error
// must not put it into Error() or the log.
func TestGatewayDescriptionsAreScrubbedOfSecrets(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"output_ResponseDesc", "output_error"} {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			g := newFakeGateway(t)
			g.handle("POST", "/ipg/v1x/c2bPayment/singleStage/", func(w http.ResponseWriter, r *http.Request) {
				echo := "Rejected key " + testAPIKey + " and bearer " + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
				body := map[string]string{key: echo}
				if key == "output_ResponseDesc" {
					body["output_ResponseCode"] = "INS-2"
				}
				writeJSON(w, 401, body)
			})
			var logs bytes.Buffer
			c := g.mozClient(t, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			_, err := c.do(context.Background(), APIC2B, c2bParams, "r")
			require.Error(t, err)
			bearer := c.d.(*mozambique).key.cred.authz[0][len("Bearer "):]
			for _, out := range []string{err.Error(), logs.String()} {
				assert.NotContains(t, out, testAPIKey)
				assert.NotContains(t, out, bearer[:40])
			}
			assert.Contains(t, err.Error(), "Rejected key [REDACTED]")
		})
	}
}

// TestKeptResultsOwnSmallCopies (item 8): a result's fields were substrings
// of the body, so a 9-byte key kept a 60 KiB body alive. A thousand kept
// results of 60 KiB bodies must not hold 60 MiB.
func TestKeptResultsOwnSmallCopies(t *testing.T) {
	pad := strings.Repeat("x", 60<<10)
	kept := make([]*Result, 0, 1000)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 1000; i++ {
		body := []byte(fmt.Sprintf(`{"input_OriginalConversationID":"c%08d","input_ResultCode":"INS-0","input_Pad":%q}`, i, pad))
		res, err := ParseResult(body)
		require.NoError(t, err)
		res.Extra = nil // the padding is an unknown field, which Extra keeps on purpose
		kept = append(kept, res)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	assert.Less(t, grown, int64(8<<20), "1,000 kept results hold %d KiB", grown>>10)
	runtime.KeepAlive(kept)
}

// TestEveryPaymentReferenceIsReconcilable (item 10): a reference the client
// accepts for a payment must be one Reconcile can query; order_2231 was
// accepted by C2B and refused as a QueryReference.
func TestEveryPaymentReferenceIsReconcilable(t *testing.T) {
	t.Parallel()
	for _, gw := range []Gateway{gwOA, gwMZ} {
		c, _ := mockGatewayClient(t, gw, WithServiceProviderCode("171717"))
		for _, ref := range []string{"order_2231", "order 2231", "order+2231", "ORDER2231", strings.Repeat("9", 32),
			strings.Repeat("9", 33), "INV-2026-01", NewReference()} {
			rules := rulesOf(c)
			pay, query := rules.paymentRef.ok(ref), rules.queryRef.ok(ref)
			if pay {
				assert.True(t, query, "%s: %q is accepted for a payment but cannot be reconciled", gw, ref)
			}
		}
	}
}

// TestGoexitInTheResultFuncReleasesTheClaim (item 12): runtime.Goexit (a
// test's t.FailNow) in the ResultFunc left the result claimed, and every
// redelivery got 503 forever.
func TestGoexitInTheResultFuncReleasesTheClaim(t *testing.T) {
	t.Parallel()
	calls := 0
	h := newTestHandler(t, func(context.Context, *Result) error {
		calls++
		if calls == 1 {
			runtime.Goexit()
		}
		return nil
	})
	body := whFixture(t, "openapi/c2b.json")
	done := make(chan struct{})
	go func() {
		defer close(done)
		whPost(h, body)
	}()
	<-done
	rec := whPost(h, body)
	assert.Equal(t, http.StatusOK, rec.Code, "the redelivery is processed")
	assert.Equal(t, 2, calls)
}

// TestStalledBodiesAreCut (item 14): the handler bounds its own body read,
// so that connections that send their headers and then stall are freed by
// the server, without waiting for the client to give up.
func TestStalledBodiesAreCut(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, (&whCounter{}).fn, CallbackReadTimeout(200*time.Millisecond))
	srv := httptest.NewUnstartedServer(h)
	var mu sync.Mutex
	closed := 0
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			mu.Lock()
			closed++
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	for i := 0; i < 20; i++ {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"input_", whPath)
		require.NoError(t, err)
		// The client never sends the rest, nor closes.
		go func() { _, _ = io.Copy(io.Discard, bufio.NewReader(conn)) }()
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return closed == 20
	}, 30*time.Second, 10*time.Millisecond, "the server frees every stalled connection")
}

// TestRequestsPrintNoPhoneNumber (item 15): %v, %+v, %#v and slog of the
// requests that carry a customer's number printed it whole.
func TestRequestsPrintNoPhoneNumber(t *testing.T) {
	t.Parallel()
	const msisdn = "255744553111"
	reqs := []any{
		C2BRequest{CustomerMSISDN: msisdn, Amount: "10"},
		B2CRequest{CustomerMSISDN: msisdn, Amount: "10"},
		BeneficiaryNameRequest{CustomerMSISDN: msisdn},
		DirectDebitCreateRequest{CustomerMSISDN: msisdn},
		DirectDebitPaymentRequest{CustomerMSISDN: msisdn},
		DirectDebitQueryRequest{CustomerMSISDN: msisdn},
		DirectDebitCancelRequest{CustomerMSISDN: msisdn},
	}
	for _, r := range reqs {
		var logs bytes.Buffer
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("request", "req", r)
		slog.New(slog.NewTextHandler(&logs, nil)).Info("request", "req", r)
		for _, out := range []string{fmt.Sprint(r), fmt.Sprintf("%v", r), fmt.Sprintf("%+v", r), fmt.Sprintf("%#v", r),
			fmt.Sprintf("%s", r), fmt.Sprintf("%v", &r), logs.String()} {
			assert.NotContains(t, out, msisdn, "%T", r)
		}
		assert.Contains(t, fmt.Sprintf("%+v", r), "255******111", "%T shows the masked number", r)
	}
}
