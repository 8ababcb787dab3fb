package mpesa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// whToken is the token of the tests that use RequireToken; no log line or
// answer may contain it.
func TestHandlerAcknowledgesEveryDocumentedCallback(t *testing.T) {
	t.Parallel()
	for name, want := range documentedResults {
		t.Run(name, func(t *testing.T) {
			var got *Result
			h := newTestHandler(t, func(_ context.Context, res *Result) error {
				got = res
				return nil
			})
			rec := whPost(h, whFixture(t, name))
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			wantAck := whAck(want.OriginalConversationID, want.ThirdPartyConversationID)
			if want.API == APIDirectDebitQuery {
				// The Query Direct Debit page shows its acknowledgement
				// with INS-0, every other product's with 0: each is
				// answered as its own page shows (validation issue, §1).
				wantAck = strings.Replace(wantAck, `"output_ResponseCode":"0"`, `"output_ResponseCode":"INS-0"`, 1)
			}
			assert.Equal(t, wantAck, rec.Body.String())
			if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("result mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestHandlerAcknowledgementBytes(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, (&whCounter{}).fn)
	rec := whPost(h, whFixture(t, "openapi/c2b.json"))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, `{"output_OriginalConversationID":"fd1e9143d22544459f7c66e1860ef276","output_ResponseCode":"0","output_ResponseDesc":"Successfully Accepted Result","output_ThirdPartyConversationID":"1e9b774d1da34af78412a498cbc28f5e"}`,
		rec.Body.String())
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))

	// Mozambique: its input_ThirdPartyReference is echoed as
	// output_ThirdPartyConversationID, as its document shows.
	rec = whPost(h, whFixture(t, "mozambique/c2b.json"))
	assert.Equal(t, `{"output_OriginalConversationID":"241fasif1f1n92fn129nfasnf91nf1","output_ResponseCode":"0","output_ResponseDesc":"Successfully Accepted Result","output_ThirdPartyConversationID":"11114"}`,
		rec.Body.String())

	// Echoed values are JSON-escaped.
	rec = whPost(h, []byte(`{"input_OriginalConversationID":"a\"b<c>","input_ThirdPartyConversationID":"r\\1","input_ResultCode":"0"}`))
	assert.Equal(t, `{"output_OriginalConversationID":"a\"b<c>","output_ResponseCode":"0","output_ResponseDesc":"Successfully Accepted Result","output_ThirdPartyConversationID":"r\\1"}`,
		rec.Body.String())
	assert.True(t, json.Valid(rec.Body.Bytes()))
}

func TestHandlerDuplicateDeliveries(t *testing.T) {
	t.Parallel()
	var c whCounter
	h := newTestHandler(t, c.fn)
	body := whFixture(t, "openapi/c2b.json")
	for i := 0; i < 3; i++ {
		rec := whPost(h, body)
		assert.Equal(t, http.StatusOK, rec.Code, "delivery %d", i)
		assert.Equal(t, whAck(docOCID, docRef), rec.Body.String(), "delivery %d", i)
	}
	assert.Equal(t, 1, c.calls())

	// A different result is processed.
	other := bytes.Replace(body, []byte(docOCID), []byte("another0conversation0id"), 1)
	assert.Equal(t, http.StatusOK, whPost(h, other).Code)
	assert.Equal(t, 2, c.calls())
}

func TestHandlerConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	unblock := make(chan struct{})
	var calls atomic.Int32
	h := newTestHandler(t, func(ctx context.Context, res *Result) error {
		if calls.Add(1) == 1 {
			close(started)
		}
		<-unblock
		return nil
	})
	body := whFixture(t, "mozambique/c2b.json")

	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- whPost(h, body) }()
	<-started

	// While the first delivery is being processed, duplicates are told to
	// come back: acknowledging them now would lose the result if the
	// first one then failed.
	const n = 8
	recs := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	for i := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs[i] = whPost(h, body)
		}()
	}
	wg.Wait()
	for i, rec := range recs {
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "duplicate %d", i)
		assert.NotEmpty(t, rec.Header().Get("Retry-After"))
		assert.Contains(t, rec.Body.String(), `"output_ResponseCode":"1"`)
	}
	close(unblock)
	rec := <-first
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, whAck(mozOCID, "11114"), rec.Body.String())

	rec = whPost(h, body)
	assert.Equal(t, http.StatusOK, rec.Code, "a later duplicate is acknowledged")
	assert.Equal(t, int32(1), calls.Load())
}

// TestHandlerDeliveryStorm sends many copies of several results at once:
// each result is processed exactly once, and every request is answered with
// an acknowledgement or a retryable 503.
func TestHandlerDeliveryStorm(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	h := newTestHandler(t, func(_ context.Context, res *Result) error {
		mu.Lock()
		seen[res.OriginalConversationID]++
		mu.Unlock()
		runtime.Gosched()
		return nil
	})
	const results, copies = 5, 12
	var wg sync.WaitGroup
	var acked [results]atomic.Int32
	for r := 0; r < results; r++ {
		body := []byte(fmt.Sprintf(`{"input_OriginalConversationID":"conv%d","input_ThirdPartyConversationID":"ref%d","input_ResultCode":"0"}`, r, r))
		for c := 0; c < copies; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec := whPost(h, body)
				switch rec.Code {
				case http.StatusOK:
					acked[r].Add(1)
					assert.Equal(t, whAck("conv"+strconv.Itoa(r), "ref"+strconv.Itoa(r)), rec.Body.String())
				case http.StatusServiceUnavailable:
				default:
					assert.Failf(t, "unexpected status", "%d", rec.Code)
				}
			}()
		}
	}
	wg.Wait()
	for r := 0; r < results; r++ {
		key := "conv" + strconv.Itoa(r)
		assert.Equal(t, 1, seen[key], key)
		assert.GreaterOrEqual(t, acked[r].Load(), int32(1), key)
	}
}

func TestHandlerUserErrorIsRetryable(t *testing.T) {
	t.Parallel()
	c := &whCounter{err: errors.New("database down: dsn postgres://app:hunter2@db/prod")}
	var logs bytes.Buffer
	h := newTestHandler(t, c.fn, HandlerLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	body := whFixture(t, "openapi/b2c.json")

	rec := whPost(h, body)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var ans map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ans))
	assert.NotEqual(t, "0", ans["output_ResponseCode"])
	assert.Equal(t, docOCID, ans["output_OriginalConversationID"])
	assert.NotContains(t, rec.Body.String(), "hunter2")
	assert.NotContains(t, rec.Body.String(), "database")
	assert.Contains(t, logs.String(), "database down", "the error reaches the operator's log")

	// The claim was released: the gateway's next delivery runs the
	// function again, and this time it succeeds.
	c.mu.Lock()
	c.err = nil
	c.mu.Unlock()
	rec = whPost(h, body)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, whAck(docOCID, docRef), rec.Body.String())
	assert.Equal(t, 2, c.calls())
	assert.Equal(t, http.StatusOK, whPost(h, body).Code)
	assert.Equal(t, 2, c.calls(), "processed once successfully, then deduplicated")
}

func TestHandlerResultFuncPanics(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	h := newTestHandler(t, func(context.Context, *Result) error {
		if calls.Add(1) == 1 {
			panic("boom: secret state")
		}
		return nil
	})
	body := whFixture(t, "openapi/c2b.json")
	rec := whPost(h, body)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.NotContains(t, rec.Body.String(), "boom")
	assert.Equal(t, http.StatusOK, whPost(h, body).Code, "the claim was released")
	assert.Equal(t, int32(2), calls.Load())

	// http.ErrAbortHandler is passed on, and the claim is released too.
	abort := newTestHandler(t, func(context.Context, *Result) error { panic(http.ErrAbortHandler) })
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() { whPost(abort, body) })
	state, err := abort.dedup.Claim(context.Background(), docOCID, "probe")
	require.NoError(t, err)
	assert.Equal(t, ClaimAcquired, state)
}

func TestHandlerRefusesBadRequests(t *testing.T) {
	t.Parallel()
	good := whFixture(t, "openapi/c2b.json")
	big := []byte(`{"input_OriginalConversationID":"c","input_Pad":"` + strings.Repeat("x", 2048) + `"}`)
	tests := []struct {
		name   string
		body   []byte
		mod    func(*http.Request)
		status int
		allow  string
	}{
		{name: "GET", body: nil, mod: func(r *http.Request) { r.Method = http.MethodGet }, status: 405, allow: "POST"},
		{name: "PUT", body: good, mod: func(r *http.Request) { r.Method = http.MethodPut }, status: 405, allow: "POST"},
		{name: "HEAD", body: nil, mod: func(r *http.Request) { r.Method = http.MethodHead }, status: 405, allow: "POST"},
		{name: "text/plain", body: good, mod: func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, status: 415},
		{name: "form", body: good, mod: func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, status: 415},
		{name: "no Content-Type", body: good, mod: func(r *http.Request) { r.Header.Del("Content-Type") }, status: 415},
		{name: "garbled Content-Type", body: good, mod: func(r *http.Request) { r.Header.Set("Content-Type", "application/json; ;") }, status: 415},
		{name: "declared too large", body: big, status: 413},
		{name: "streamed too large", body: big, mod: func(r *http.Request) {
			r.ContentLength = -1
			r.Body = io.NopCloser(bytes.NewReader(big))
		}, status: 413},
		{name: "lying Content-Length", body: big, mod: func(r *http.Request) { r.ContentLength = 10 }, status: 413},
		{name: "malformed JSON", body: []byte(`{"input_OriginalConversationID":`), status: 400},
		{name: "JSON array", body: []byte(`[1,2]`), status: 400},
		{name: "missing OriginalConversationID", body: []byte(`{"input_TransactionID":"x","input_ResultCode":"0"}`), status: 400},
		{name: "empty body", body: []byte{}, status: 400},
		{name: "reading fails", body: good, mod: func(r *http.Request) {
			r.Body = io.NopCloser(io.MultiReader(strings.NewReader(`{"input_`), errReader{}))
		}, status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &whCounter{}
			h := newTestHandler(t, c.fn, MaxCallbackBytes(1024))
			mods := []func(*http.Request){}
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			rec := whPost(h, tt.body, mods...)
			assert.Equal(t, tt.status, rec.Code)
			assert.Equal(t, tt.allow, rec.Header().Get("Allow"))
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var ans map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ans), rec.Body.String())
			assert.Equal(t, "1", ans["output_ResponseCode"])
			assert.NotEmpty(t, ans["output_ResponseDesc"])
			assert.Less(t, len(ans["output_ResponseDesc"]), 60, "a short generic message")
			assert.NotContains(t, rec.Body.String(), "input_", "nothing of the body is echoed")
			assert.Zero(t, c.calls())
		})
	}

	// Media type parameters are fine.
	c := &whCounter{}
	h := newTestHandler(t, c.fn)
	rec := whPost(h, good, func(r *http.Request) { r.Header.Set("Content-Type", "Application/JSON; charset=UTF-8") })
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, 1, c.calls())
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestHandlerOnDeliveryKeepsEveryBody(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var kept []*Delivery
	var failStore atomic.Bool
	c := &whCounter{}
	h := newTestHandler(t, c.fn, OnDelivery(func(_ context.Context, d *Delivery) error {
		if failStore.Load() {
			return errors.New("archive full")
		}
		mu.Lock()
		kept = append(kept, d)
		mu.Unlock()
		return nil
	}))
	good := whFixture(t, "openapi/direct_debit_payment.json")
	garbage := []byte(`{"input_OriginalConversationID": "c1", "oops"`)
	noID := []byte(`{"input_ResultCode":"0"}`)

	assert.Equal(t, 200, whPost(h, good).Code)
	assert.Equal(t, 200, whPost(h, good).Code) // a duplicate is archived too
	assert.Equal(t, 400, whPost(h, garbage).Code)
	assert.Equal(t, 400, whPost(h, noID).Code)
	assert.Equal(t, 415, whPost(h, good, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }).Code)

	require.Len(t, kept, 5)
	for i, want := range [][]byte{good, good, garbage, noID, good} {
		assert.Equal(t, want, kept[i].Body, "delivery %d", i)
		assert.Equal(t, netip.MustParseAddr("192.0.2.10"), kept[i].Source)
		assert.False(t, kept[i].ReceivedAt.IsZero())
	}
	require.NotNil(t, kept[0].Result)
	assert.Equal(t, docOCID, kept[0].Result.OriginalConversationID)
	assert.NoError(t, kept[0].Err)
	assert.Nil(t, kept[2].Result)
	assert.ErrorIs(t, kept[2].Err, ErrMalformedResult)
	assert.ErrorIs(t, kept[3].Err, ErrMalformedResult)
	assert.Nil(t, kept[4].Result)
	assert.Error(t, kept[4].Err)
	assert.Equal(t, "text/plain", kept[4].ContentType)
	assert.Equal(t, 1, c.calls())

	// When the body cannot be stored, the result is not processed and the
	// gateway is asked to deliver it again.
	failStore.Store(true)
	other := whFixture(t, "mozambique/b2c.json")
	rec := whPost(h, other)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.NotContains(t, rec.Body.String(), "archive")
	assert.Equal(t, 1, c.calls())
	failStore.Store(false)
	assert.Equal(t, 200, whPost(h, other).Code)
	assert.Equal(t, 2, c.calls())
}

func TestHandlerToken(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	c := &whCounter{}
	h := newTestHandler(t, c.fn, RequireToken(whToken),
		HandlerLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	body := whFixture(t, "openapi/c2b.json")
	at := func(target string) func(*http.Request) {
		return func(r *http.Request) {
			u := httptest.NewRequest("POST", target, nil).URL
			r.URL, r.RequestURI = u, target
		}
	}
	tests := []struct {
		target string
		status int
	}{
		{"/mpesa/results/" + whToken, 200},
		{"/mpesa/results/" + whToken + "/", 200},
		{"/mpesa/results?token=" + whToken, 200},
		{"/mpesa/results/x?token=" + whToken + "&other=1", 200},
		{"/mpesa/results", 403},
		{"/mpesa/results/", 403},
		{"/mpesa/results/" + whToken[:len(whToken)-1], 403},
		{"/mpesa/results/" + whToken + "x", 403},
		{"/mpesa/results/" + strings.ToUpper(whToken), 403},
		{"/" + whToken + "/results", 403},
		{"/mpesa/results?token=", 403},
		{"/mpesa/results?tok=" + whToken, 403},
		{"/mpesa/results?token=" + whToken[:8], 403},
	}
	for _, tt := range tests {
		rec := whPost(h, body, at(tt.target))
		assert.Equal(t, tt.status, rec.Code, tt.target)
		if tt.status == 403 {
			assert.JSONEq(t, `{"output_ResponseCode":"1","output_ResponseDesc":"Forbidden"}`, rec.Body.String())
		}
	}
	assert.Equal(t, 1, c.calls(), "the first accepted delivery ran the function; the rest were duplicates")
	// A wrong-token GET is refused for the token, before the method.
	assert.Equal(t, 403, whPost(h, nil, at("/mpesa/results/nope"), func(r *http.Request) { r.Method = "GET" }).Code)

	assert.Contains(t, logs.String(), "missing or wrong token")
	assert.NotContains(t, logs.String(), whToken)
	assert.NotContains(t, logs.String(), whToken[:8])
}

func TestHandlerSourceAddresses(t *testing.T) {
	t.Parallel()
	gatewayNet := netip.MustParsePrefix("196.201.214.0/24") // stands for the operator's egress range
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	c := &whCounter{}
	var sources []netip.Addr
	var mu sync.Mutex
	h := newTestHandler(t, c.fn, AllowSources(gatewayNet), TrustProxies(proxies...),
		Deduplicate(noDedup{}),
		OnDelivery(func(_ context.Context, d *Delivery) error {
			mu.Lock()
			sources = append(sources, d.Source)
			mu.Unlock()
			return nil
		}))
	body := whFixture(t, "openapi/c2b.json")
	from := func(remote string, xff ...string) func(*http.Request) {
		return func(r *http.Request) {
			r.RemoteAddr = remote
			for _, x := range xff {
				r.Header.Add("X-Forwarded-For", x)
			}
		}
	}
	tests := []struct {
		name   string
		mod    func(*http.Request)
		status int
		source string
	}{
		{"gateway directly", from("196.201.214.7:5555"), 200, "196.201.214.7"},
		{"gateway as IPv4-mapped IPv6", from("[::ffff:196.201.214.7]:5555"), 200, "196.201.214.7"},
		{"stranger directly", from("203.0.113.9:5555"), 403, ""},
		{"stranger spoofing X-Forwarded-For", from("203.0.113.9:5555", "196.201.214.7"), 403, ""},
		{"gateway through a trusted proxy", from("10.1.2.3:443", "196.201.214.7"), 200, "196.201.214.7"},
		{"through two trusted proxies", from("10.1.2.3:443", "196.201.214.7, 10.9.9.9"), 200, "196.201.214.7"},
		{"through proxies, several header lines", from("10.1.2.3:443", "196.201.214.7", "10.9.9.9"), 200, "196.201.214.7"},
		{"stranger through a trusted proxy", from("10.1.2.3:443", "203.0.113.9"), 403, ""},
		{"stranger through a proxy, spoofing the leftmost entry", from("10.1.2.3:443", "196.201.214.7, 203.0.113.9"), 403, ""},
		{"IPv6 proxy", from("[fd00::1]:443", "196.201.214.8"), 200, "196.201.214.8"},
		{"trusted proxy without X-Forwarded-For is not the gateway", from("10.1.2.3:443"), 403, ""},
		{"garbage from a trusted proxy", from("10.1.2.3:443", "not-an-ip"), 403, ""},
		{"entry with a port", from("10.1.2.3:443", "196.201.214.7:1234"), 200, "196.201.214.7"},
		{"unreadable peer", from("somewhere"), 403, ""},
		{"peer without port", from("196.201.214.9"), 200, "196.201.214.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			sources = nil
			mu.Unlock()
			rec := whPost(h, body, tt.mod)
			assert.Equal(t, tt.status, rec.Code)
			mu.Lock()
			defer mu.Unlock()
			if tt.status == 200 {
				require.Len(t, sources, 1)
				assert.Equal(t, netip.MustParseAddr(tt.source), sources[0])
			} else {
				assert.Empty(t, sources, "a refused request does not reach OnDelivery")
			}
		})
	}
}

func TestNewHandlerOptions(t *testing.T) {
	t.Parallel()
	ok := (&whCounter{}).fn
	_, err := NewHandler(nil)
	assert.ErrorContains(t, err, "nil ResultFunc")

	_, err = NewHandler(ok,
		RequireToken("short-secret"),
		RequireToken("a token with spaces and /slashes/"),
		AllowSources(),
		AllowSources(netip.Prefix{}),
		TrustProxies(netip.Prefix{}),
		Deduplicate(nil),
		OnDelivery(nil),
		FeedResults(nil),
		VerifyWithStatusQuery(nil),
		HandlerLogger(nil),
		HandlerGateway(Gateway(7)),
		MaxCallbackBytes(10),
		nil,
	)
	require.Error(t, err)
	for _, name := range []string{"RequireToken", "AllowSources", "TrustProxies", "Deduplicate", "OnDelivery",
		"FeedResults", "VerifyWithStatusQuery", "HandlerLogger", "HandlerGateway", "MaxCallbackBytes", "nil HandlerOption"} {
		assert.ErrorContains(t, err, name)
	}
	assert.NotContains(t, err.Error(), "short-secret")
	assert.NotContains(t, err.Error(), "slashes")

	// A client without a default shortcode cannot verify.
	g := newFakeGateway(t)
	_, err = NewHandler(ok, VerifyWithStatusQuery(g.mozClient(t)))
	assert.ErrorContains(t, err, "WithServiceProviderCode")

	// The gateway the results are read for must be the verifying client's.
	_, err = NewHandler(ok, HandlerGateway(GatewayOpenAPI), VerifyWithStatusQuery(g.mozClient(t, WithServiceProviderCode("171717"))))
	assert.ErrorContains(t, err, "HandlerGateway: openapi-v2, but the VerifyWithStatusQuery client speaks to mozambique-v1x")
	_, err = NewHandler(ok, HandlerGateway(GatewayMozambique), VerifyWithStatusQuery(g.mozClient(t, WithServiceProviderCode("171717"))))
	assert.NoError(t, err)

	// IPv4 ranges written as IPv4-mapped IPv6 match IPv4 peers.
	h := newTestHandler(t, ok, AllowSources(netip.MustParsePrefix("::ffff:192.0.2.0/120")))
	assert.Equal(t, http.StatusOK, whPost(h, whFixture(t, "openapi/c2b.json")).Code)
}

func TestHandlerGatewayDecidesCodes(t *testing.T) {
	t.Parallel()
	// An OpenAPI-shaped body (input_ThirdPartyConversationID) from a
	// handler that knows it serves the Mozambique gateway.
	body := []byte(`{"input_OriginalConversationID":"c","input_ThirdPartyConversationID":"r","input_ResultCode":"INS-5"}`)
	var got *Result
	h := newTestHandler(t, func(_ context.Context, r *Result) error { got = r; return nil }, HandlerGateway(GatewayMozambique))
	require.Equal(t, http.StatusOK, whPost(h, body).Code)
	assert.Equal(t, GatewayMozambique, got.Gateway)
	assert.ErrorIs(t, got.Err(), ErrCancelledByCustomer)
}

// TestHandlerLogs checks what the handler logs, and that no log line holds
// the token, a body, a full MSISDN or the user's free text unmasked.
func TestHandlerLogs(t *testing.T) {
	t.Parallel()
	const msisdn = "255744553111"
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := &whCounter{}
	h := newTestHandler(t, func(ctx context.Context, res *Result) error {
		if res.ResultCode == "INS-2051" {
			return fmt.Errorf("customer %s unknown", msisdn)
		}
		return c.fn(ctx, res)
	}, HandlerLogger(logger), RequireToken(whToken))
	withMSISDN := []byte(`{"input_OriginalConversationID":"c-msisdn","input_ThirdPartyConversationID":"r1","input_ResultCode":"INS-2051","input_ResultDesc":"MSISDN ` + msisdn + ` invalid.","input_CustomerMSISDN":"` + msisdn + `"}`)

	whPost(h, whFixture(t, "openapi/c2b.json"))
	whPost(h, whFixture(t, "openapi/c2b.json"))
	whPost(h, withMSISDN)
	whPost(h, []byte(`{"input_CustomerMSISDN":"`+msisdn+`"}`))
	whPost(h, whFixture(t, "openapi/c2b.json"), func(r *http.Request) { r.URL.Path = "/mpesa/results/wrong" })

	out := logs.String()
	for _, want := range []string{`"msg":"mpesa: result accepted"`, `"msg":"mpesa: duplicate result acknowledged"`,
		`"msg":"mpesa: result function failed"`, `"msg":"mpesa: callback refused"`, `"conversation_id":"` + docOCID + `"`,
		`"reference":"` + docRef + `"`, `"source":"192.0.2.10"`, `"status":403`, "255******111"} {
		assert.Contains(t, out, want)
	}
	for _, leak := range []string{whToken, msisdn, "input_CustomerMSISDN", "Request processed successfully"} {
		assert.NotContains(t, out, leak)
	}
}
