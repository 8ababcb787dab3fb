package mpesa

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jarcoal/httpmock"
)

// FuzzHandler drives the whole Handler, as an attacker would: any method,
// content type, path, query, peer address, X-Forwarded-For and body. The
// handler requires a token, allows one address range, trusts one proxy
// range, and verifies with a status query that never confirms anything
// (every query answers "Failed"). Whatever the input:
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
	var verifiedSuccess atomic.Int64
	newHandler := func() *Handler {
		h, err := NewHandler(func(_ context.Context, res *Result) error {
			if res.OK() && res.Verified {
				verifiedSuccess.Add(1)
			}
			return nil
		},
			RequireToken(whToken),
			AllowSources(netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("10.0.0.0/8")),
			TrustProxies(netip.MustParsePrefix("10.0.0.0/8")),
			VerifyWithStatusQuery(client),
			Deduplicate(noDedup{}),
			HandlerLogger(discardLogger()))
		if err != nil {
			f.Fatal(err)
		}
		return h
	}
	h := newHandler()
	serve := func(method, ct, path, query, peer, xff string, body []byte) *httptest.ResponseRecorder {
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
		if p, err := netip.ParseAddrPort(peer); err != nil || !netip.MustParsePrefix("10.0.0.0/8").Contains(p.Addr().Unmap()) {
			// The peer is not a trusted proxy: its X-Forwarded-For must
			// change nothing.
			without := serve(method, ct, path, query, peer, "", body)
			if without.Code != rec.Code || without.Body.String() != rec.Body.String() {
				t.Fatalf("X-Forwarded-For %q from untrusted peer %q changed the answer: %d %s vs %d %s",
					xff, peer, rec.Code, rec.Body.String(), without.Code, without.Body.String())
			}
		}
		if verifiedSuccess.Load() != 0 {
			t.Fatalf("a success was marked verified although every status query says Failed")
		}
	})
}

type httpNopCloser struct{ *bytes.Reader }

func (httpNopCloser) Close() error { return nil }
