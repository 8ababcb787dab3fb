package mpesa

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
)

// FuzzHandler drives the whole Handler, as an attacker would: any method,
// content type, path, query, peer address, X-Forwarded-For and body. Each
// input goes to three handlers: an iPG one, a Daraja one, and a Daraja C2B
// validator. Each requires a token, allows one address range, trusts one
// proxy range, and the result handlers verify with status queries that
// never confirm anything (every iPG query answers "Failed", every STK query
// 1032, every Daraja transaction status "Cancelled"). Whatever the input:
//   - no 200 without the token;
//   - X-Forwarded-For from a peer that is not a trusted proxy changes
//     nothing;
//   - the token is never echoed;
//   - no success reaches the ResultFunc marked verified.
func FuzzHandler(f *testing.F) {
	for _, name := range []string{"openapi/c2b.json", "mozambique/c2b.json", "openapi/query_direct_debit.json", "variants/unknown_fields_and_case_variants.json"} {
		body := whFixture(f, name)
		f.Add("POST", "application/json", "/mpesa/results/"+whToken, "", "203.0.113.7:1234", "", body)
		f.Add("POST", "application/json; charset=utf-8", "/mpesa/results", "token="+whToken, "10.0.0.2:80", "203.0.113.9", body)
		f.Add("POST", "application/json", "/mpesa/results/wrong", "", "203.0.113.7:1234", "203.0.113.8, 10.0.0.3", body)
	}
	for _, name := range []string{"stk_success.json", "b2c_success.json", "c2b_v2_confirmation.json", "c2b_v1_validation.json",
		"transaction_status.json", "account_balance_single_parameter.json"} {
		body := darajaFixture(f, name)
		f.Add("POST", "application/json", "/daraja/"+whToken, "", "203.0.113.7:1234", "", body)
		f.Add("POST", "application/json", "/daraja", "token="+whToken, "10.0.0.2:80", "203.0.113.9", body)
	}
	f.Add("GET", "text/plain", "/", "", "[::1]:1", "", []byte("{}"))
	f.Add("POST", "application/json", "/mpesa/results/"+whToken, "", "198.51.100.1:9", "203.0.113.7", []byte(`{"input_OriginalConversationID":"c","input_ResultCode":"0","input_TransactionID":"T1","input_Reversed":"False"}`))

	mt := httpmock.NewMockTransport()
	mt.RegisterResponder("GET", "=~getSession/", httpmock.NewStringResponder(200,
		`{"output_ResponseCode":"INS-0","output_SessionID":"SeSsIoNfuzz0000000000000001"}`))
	var queries atomic.Int64
	mt.RegisterResponder("GET", "=~queryTransactionStatus/", func(*http.Request) (*http.Response, error) {
		queries.Add(1)
		return httpmock.NewStringResponse(200, `{"output_ResponseCode":"INS-0","output_ResponseTransactionStatus":"Failed","output_ConversationID":"x"}`), nil
	})
	_, pub := testKey(f)
	client, err := NewClient(testAPIKey, WithMarket(MarketTanzania), WithPublicKey(pub), WithServiceProviderCode("000000"),
		WithHTTPClient(&http.Client{Transport: mt}), WithMaxRetries(0))
	if err != nil {
		f.Fatal(err)
	}
	// Daraja: the STK query says 1032, and every status result, delivered
	// to the hub before the acknowledgement as a callback may overtake it,
	// says Cancelled.
	hub := NewResults(0, 0)
	var statusN atomic.Int64
	darajaAnswer := func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/stkpushquery/v1/query") {
			var p map[string]string
			_ = json.NewDecoder(r.Body).Decode(&p)
			writeJSON(w, 200, map[string]string{"ResponseCode": "0", "ResponseDescription": "ok", "MerchantRequestID": "M-1",
				"CheckoutRequestID": p["CheckoutRequestID"], "ResultCode": "1032", "ResultDesc": "Request cancelled by user"})
			return
		}
		conv := "AG_FUZZ_" + strconv.FormatInt(statusN.Add(1), 10)
		_ = hub.Deliver(context.Background(), &Result{Gateway: GatewayDaraja, OriginalConversationID: conv, ResultCode: "0",
			Parameters: ResultParameters{{"TransactionStatus", "Cancelled"}}})
		writeJSON(w, 200, map[string]string{"ConversationID": conv, "ResponseCode": "0", "ResponseDescription": "ok"})
	}
	df := newDarajaFake()
	df.answers = []http.HandlerFunc{darajaAnswer}
	dclient, _ := darajaClient(f, df, WithResults(hub), WithMaxRetries(0))

	var verifiedSuccess atomic.Int64
	guards := []HandlerOption{RequireToken(whToken),
		AllowSources(netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("10.0.0.0/8")),
		TrustProxies(netip.MustParsePrefix("10.0.0.0/8")),
		HandlerLogger(discardLogger())}
	newHandler := func(verifier *Client) *Handler {
		h, err := NewHandler(func(_ context.Context, res *Result) error {
			if res.OK() && res.Verified {
				verifiedSuccess.Add(1)
			}
			return nil
		}, append([]HandlerOption{VerifyWithStatusQuery(verifier), Deduplicate(noDedup{}), StatusResultWait(100 * time.Millisecond)},
			guards...)...)
		if err != nil {
			f.Fatal(err)
		}
		return h
	}
	validator, err := NewC2BValidator(func(context.Context, *Result) (C2BDecision, error) { return AcceptC2B("T"), nil },
		append([]HandlerOption{C2BFallback(RejectC2B(C2BOtherError), time.Second)}, guards...)...)
	if err != nil {
		f.Fatal(err)
	}
	handlers := []*Handler{newHandler(client), newHandler(dclient), validator}
	serveOn := func(h *Handler, method, ct, path, query, peer, xff string, body []byte) *httptest.ResponseRecorder {
		target := (&url.URL{Path: path, RawQuery: query}).String()
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Method = method
		r.URL, _ = url.Parse(target)
		if r.URL == nil {
			r.URL = &url.URL{Path: "/"}
		}
		r.Body = httpNopCloser{bytes.NewReader(body)}
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", ct)
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		r.RemoteAddr = peer
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	f.Fuzz(func(t *testing.T, method, ct, path, query, peer, xff string, body []byte) {
		for _, h := range handlers {
			fuzzOne(t, func(method, ct, path, query, peer, xff string, body []byte) *httptest.ResponseRecorder {
				return serveOn(h, method, ct, path, query, peer, xff, body)
			}, method, ct, path, query, peer, xff, body)
		}
		if verifiedSuccess.Load() != 0 {
			t.Fatalf("a success was marked verified although every status query refutes it")
		}
	})
}

// fuzzOne checks the invariants of FuzzHandler on one handler.
func fuzzOne(t *testing.T, serve func(method, ct, path, query, peer, xff string, body []byte) *httptest.ResponseRecorder,
	method, ct, path, query, peer, xff string, body []byte) {
	{
		rec := serve(method, ct, path, query, peer, xff, body)
		if strings.Contains(rec.Body.String(), whToken) {
			t.Fatalf("the token is echoed: %s", rec.Body.String())
		}
		if rec.Code == http.StatusOK {
			u, _ := url.Parse((&url.URL{Path: path, RawQuery: query}).String())
			seg := strings.TrimRight(u.Path, "/")
			seg = seg[strings.LastIndexByte(seg, '/')+1:]
			if seg != whToken && u.Query().Get("token") != whToken {
				t.Fatalf("200 without the token: path %q query %q", path, query)
			}
		}
		if !peerTrusted(peer) {
			// The peer is not a trusted proxy: its X-Forwarded-For must
			// change nothing.
			without := serve(method, ct, path, query, peer, "", body)
			if without.Code != rec.Code || without.Body.String() != rec.Body.String() {
				t.Fatalf("X-Forwarded-For %q from untrusted peer %q changed the answer: %d %s vs %d %s",
					xff, peer, rec.Code, rec.Body.String(), without.Code, without.Body.String())
			}
		}
	}
}

type httpNopCloser struct{ *bytes.Reader }

func (httpNopCloser) Close() error { return nil }

// peerTrusted reports whether the handler reads peer (a RemoteAddr, with
// or without a port, as the handler takes both) as a trusted proxy of
// FuzzHandler's.
func peerTrusted(peer string) bool {
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(peer); err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(peer); err != nil {
		return false
	}
	return netip.MustParsePrefix("10.0.0.0/8").Contains(a.Unmap().WithZone(""))
}
