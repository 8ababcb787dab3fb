package mpesatest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

func TestGetSessionIssuesASessionForTheEncryptedAPIKey(t *testing.T) {
	srv := newServer(t)
	c := &raw{t: t, srv: srv, authz: bearer(t, srv, srv.APIKey()), origin: "*", market: mpesa.MarketGhana, gw: mpesa.GatewayOpenAPI}

	status, out := c.call(http.MethodGet, "getSession/", nil)

	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []string{"output_ResponseCode", "output_ResponseDesc", "output_SessionID"}, keys(out))
	assert.Equal(t, "INS-0", out["output_ResponseCode"])
	assert.Regexp(t, `^[0-9a-f]{32}$`, out["output_SessionID"])
	assert.Equal(t, 1, srv.SessionRequests())
	assert.Equal(t, 1, srv.Decryptions())

	// The session works for a product of any market.
	c.authz = bearer(t, srv, out["output_SessionID"])
	c.market = mpesa.MarketTanzania
	status, out = c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("s1"))
	assert.Equal(t, http.StatusCreated, status, out)
	assert.Equal(t, 2, srv.Decryptions())
}

// TestGetSessionRefusesABadAPIKeyWithINS989: the only failure the OpenAPI v2
// developer portal's Generate SessionKey page lists in its Response Codes
// table is 400 INS-989 "Session Creation Failed".
func TestGetSessionRefusesABadAPIKeyWithINS989(t *testing.T) {
	srv := newServer(t)
	for name, authz := range map[string]string{
		"wrong key":         bearer(t, srv, "not-the-key"),
		"not base64":        "Bearer %%%",
		"not a ciphertext":  "Bearer " + "QUJDRA==",
		"no bearer":         "",
		"basic, not bearer": "Basic dXNlcjpwYXNz",
	} {
		t.Run(name, func(t *testing.T) {
			c := &raw{t: t, srv: srv, authz: authz, origin: "*", market: mpesa.MarketGhana, gw: mpesa.GatewayOpenAPI}
			status, out := c.call(http.MethodGet, "getSession/", nil)
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Equal(t, map[string]string{"output_ResponseCode": "INS-989", "output_ResponseDesc": "Session Creation Failed"}, out)
		})
	}
}

// TestProductsNeedALiveSession: a product call with a session the gateway
// does not know answers 401 INS-2, the iPG platform's code for refused
// credentials (see authorize), while getSession keeps INS-989.
func TestProductsNeedALiveSession(t *testing.T) {
	srv := newServer(t)
	c := openAPI(t, srv, mpesa.MarketTanzania)
	for name, authz := range map[string]string{
		"the API key instead of a session": bearer(t, srv, srv.APIKey()),
		"an unknown session":               bearer(t, srv, "0123456789abcdef0123456789abcdef"),
		"garbage":                          "Bearer AAAA",
	} {
		t.Run(name, func(t *testing.T) {
			c2 := *c
			c2.t, c2.authz = t, authz
			status, out := c2.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("x1"))
			assert.Equal(t, http.StatusUnauthorized, status)
			assert.Equal(t, "INS-2", out["output_ResponseCode"])
		})
	}
	assert.Empty(t, srv.Transactions(), "a refused call must not be carried out")
}

func TestSessionWarmupAndExpiry(t *testing.T) {
	clk := newClock()
	srv := newServer(t, mpesatest.WithClock(clk.Now),
		mpesatest.WithSessionWarmup(30*time.Second), mpesatest.WithSessionLifetime(10*time.Minute))
	c := openAPI(t, srv, mpesa.MarketTanzania)

	status, out := c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("w1"))
	assert.Equal(t, http.StatusUnauthorized, status, "not live yet")
	assert.Equal(t, "INS-2", out["output_ResponseCode"])

	clk.Advance(29 * time.Second)
	status, _ = c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("w1"))
	assert.Equal(t, http.StatusUnauthorized, status, "one second short of live")

	clk.Advance(time.Second)
	status, out = c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("w1"))
	assert.Equal(t, http.StatusCreated, status, out)

	clk.Advance(10*time.Minute - 30*time.Second - time.Nanosecond)
	status, _ = c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("w2"))
	assert.Equal(t, http.StatusCreated, status, "last instant of the lifetime")

	clk.Advance(time.Nanosecond)
	status, out = c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("w3"))
	assert.Equal(t, http.StatusUnauthorized, status, "expired")
	assert.Equal(t, "INS-2", out["output_ResponseCode"])
}

func TestExpireSessionsEndsIssuedSessionsOnly(t *testing.T) {
	srv := newServer(t)
	old := openAPI(t, srv, mpesa.MarketTanzania)
	srv.ExpireSessions()
	status, _ := old.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("e1"))
	assert.Equal(t, http.StatusUnauthorized, status)

	fresh := openAPI(t, srv, mpesa.MarketTanzania)
	status, out := fresh.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("e1"))
	assert.Equal(t, http.StatusCreated, status, out)
	assert.Equal(t, 2, srv.SessionRequests())
}

// TestMozambiqueTakesTheAPIKeyOnEveryCall: a bad key is answered 401 INS-2
// "Invalid API Key", as the Response Codes & Descriptions table of the
// Mozambique document 'Async response, callback and response codes' gives
// it.
func TestMozambiqueTakesTheAPIKeyOnEveryCall(t *testing.T) {
	srv := newServer(t)
	c := mozambique(t, srv)
	status, out := c.call(http.MethodPost, "c2bPayment/singleStage/", mozC2B("m1"))
	require.Equal(t, http.StatusCreated, status, out)
	assert.Equal(t, 0, srv.SessionRequests())

	for name, authz := range map[string]string{
		"wrong key":     bearer(t, srv, "wrong"),
		"undecryptable": "Bearer QUJDRA==",
		"missing":       "",
	} {
		t.Run(name, func(t *testing.T) {
			c2 := *c
			c2.t, c2.authz = t, authz
			status, out := c2.call(http.MethodPost, "c2bPayment/singleStage/", mozC2B("m2"))
			assert.Equal(t, http.StatusUnauthorized, status)
			assert.Equal(t, "INS-2", out["output_ResponseCode"])
			assert.Equal(t, "Invalid API Key", out["output_ResponseDesc"])
			assert.Equal(t, "m2", out["output_ThirdPartyReference"])
			assert.NotContains(t, out, "output_error")
		})
	}
}

func TestOrigin(t *testing.T) {
	t.Run("OpenAPI default takes any origin but needs one", func(t *testing.T) {
		srv := newServer(t)
		c := openAPI(t, srv, mpesa.MarketGhana)
		c.origin = "pay.example.com"
		status, out := c.call(http.MethodGet, "queryBeneficiaryName/", map[string]string{
			"input_CustomerMSISDN": mpesatest.MSISDNSuccess, "input_Country": "GHA", "input_ServiceProviderCode": "000000",
			"input_ThirdPartyConversationID": "b1", "input_KycQueryType": "Name",
		})
		assert.Equal(t, http.StatusOK, status, out)

		status, out = c.send(http.MethodPost, c.path("c2bPayment/singleStage/"), c2bTZ("o1"), func(r *http.Request) { r.Header.Del("Origin") })
		assert.Equal(t, http.StatusForbidden, status)
		assert.Equal(t, map[string]string{"output_error": "Origin not allowed"}, out)
	})
	t.Run("OpenAPI configured origin", func(t *testing.T) {
		srv := newServer(t, mpesatest.WithOrigin("pay.example.com"))
		c := &raw{t: t, srv: srv, authz: bearer(t, srv, srv.APIKey()), origin: "other.example.com", market: mpesa.MarketGhana, gw: mpesa.GatewayOpenAPI}
		status, out := c.call(http.MethodGet, "getSession/", nil)
		assert.Equal(t, http.StatusForbidden, status)
		assert.Contains(t, out, "output_error")
		c.origin = "pay.example.com"
		status, _ = c.call(http.MethodGet, "getSession/", nil)
		assert.Equal(t, http.StatusOK, status)
	})
	t.Run("Mozambique", func(t *testing.T) {
		srv := newServer(t)
		c := mozambique(t, srv)
		for _, origin := range []string{"", "*", "developer.mpesa.vm.co.mz.evil"} {
			c.origin = origin
			status, out := c.call(http.MethodPost, "c2bPayment/singleStage/", mozC2B("o"+origin))
			assert.Equal(t, http.StatusForbidden, status, "Origin %q", origin)
			assert.Equal(t, map[string]string{"output_error": "Origin not allowed"}, out)
		}
		assert.Empty(t, srv.Transactions())
	})
}

func TestContentTypeAndMethod(t *testing.T) {
	srv := newServer(t)
	oa := openAPI(t, srv, mpesa.MarketTanzania)
	mz := mozambique(t, srv)
	for _, c := range []*raw{oa, mz} {
		c := c
		t.Run(c.gw.String(), func(t *testing.T) {
			c.t = t
			ref := map[mpesa.Gateway]func(string) map[string]string{mpesa.GatewayOpenAPI: c2bTZ, mpesa.GatewayMozambique: mozC2B}[c.gw]
			for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded"} {
				status, out := c.send(http.MethodPost, c.path("c2bPayment/singleStage/"), ref("ct1"), func(r *http.Request) {
					r.Header.Set("Content-Type", ct)
				})
				assert.Equal(t, http.StatusUnsupportedMediaType, status, "Content-Type %q", ct)
				assert.Contains(t, out, "output_error")
			}
			status, out := c.send(http.MethodPost, c.path("c2bPayment/singleStage/"), ref("ct2"), func(r *http.Request) {
				r.Header.Set("Content-Type", "application/json; charset=utf-8")
			})
			assert.Equal(t, http.StatusCreated, status, out)

			// A GET needs the header too: every API's header table lists
			// it (the OpenAPI v2 developer portal, "API Headers"; the
			// Mozambique documents, "Headers").
			status, _ = c.send(http.MethodGet, c.path("queryTransactionStatus/"), nil, func(r *http.Request) { r.Header.Del("Content-Type") })
			assert.Equal(t, http.StatusUnsupportedMediaType, status)

			for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
				status, out = c.send(m, c.path("c2bPayment/singleStage/"), ref("ct3"), nil)
				assert.Equal(t, http.StatusMethodNotAllowed, status, m)
				assert.Contains(t, out, "output_error")
			}
			status, _ = c.send(http.MethodPost, c.path("reversal/"), map[string]string{}, nil)
			assert.Equal(t, http.StatusMethodNotAllowed, status, "reversal is a PUT")
		})
	}
}

func TestUnknownPathsAreNotFound(t *testing.T) {
	srv := newServer(t)
	c := openAPI(t, srv, mpesa.MarketTanzania)
	for _, p := range []string{
		"/sandbox/ipg/v2/vodacomTZN/c2bPayment/singleStage", // no trailing slash
		"/sandbox/ipg/v2/vodacomKEN/c2bPaymentX/",           // an unknown market and API
		"/staging/ipg/v2/vodacomTZN/c2bPayment/singleStage/",
		"/sandbox/ipg/v1/vodacomTZN/c2bPayment/singleStage/",
		"/ipg/v1x/getSession/",
		"/ipg/v1x/directDebitCreation/",
		"/",
	} {
		status, out := c.send(http.MethodPost, p, c2bTZ("nf"), nil)
		assert.Equal(t, http.StatusNotFound, status, p)
		assert.Contains(t, out, "output_error", p)
	}
	// Both environments are served, each with its own sessions.
	prod := &raw{t: t, srv: srv, authz: bearer(t, srv, srv.APIKey()), origin: "*", market: mpesa.MarketTanzania, gw: mpesa.GatewayOpenAPI}
	prodPath := func(api string) string { return strings.Replace(prod.path(api), "/sandbox/", "/openapi/", 1) }
	status, out := prod.send(http.MethodGet, prodPath("getSession/"), nil, nil)
	require.Equal(t, http.StatusOK, status, out)
	prod.authz = bearer(t, srv, out["output_SessionID"])
	status, out = prod.send(http.MethodPost, prodPath("c2bPayment/singleStage/"), c2bTZ("prod1"), nil)
	assert.Equal(t, http.StatusCreated, status, out)
}

func TestBodyMustBeAJSONObjectOfStrings(t *testing.T) {
	srv := newServer(t)
	c := openAPI(t, srv, mpesa.MarketTanzania)
	for name, body := range map[string]string{
		"array":        `[1,2]`,
		"not JSON":     `input_Amount=10`,
		"number value": `{"input_Amount": 10}`,
		"null":         `null`,
	} {
		t.Run(name, func(t *testing.T) {
			c.t = t
			status, out := c.send(http.MethodPost, c.path("c2bPayment/singleStage/"), nil, func(r *http.Request) {
				r.Body = readCloser(body)
				r.ContentLength = int64(len(body))
			})
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Equal(t, "INS-21", out["output_ResponseCode"])
		})
	}
	// A GET reads the query, not a body.
	status, out := c.send(http.MethodGet, c.path("queryTransactionStatus/"), nil, func(r *http.Request) {
		r.Body = readCloser(`{"input_QueryReference":"abc"}`)
	})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "INS-20", out["output_ResponseCode"])
	// A POST does not read its query.
	status, out = c.send(http.MethodPost, c.path("c2bPayment/singleStage/")+"?input_Amount=10", with(c2bTZ("q1"), "input_Amount", "-"), nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "INS-20", out["output_ResponseCode"])
}

// TestMozambiqueFirewallRefusesGoDefaultUserAgent: the Mozambique hosts sit
// behind a web firewall that turns Go's default User-Agent away with an
// HTML page (seen live, docs/gateways.md M13); the OpenAPI gateway does not.
func TestMozambiqueFirewallRefusesGoDefaultUserAgent(t *testing.T) {
	srv := newServer(t)
	for _, c := range []*raw{mozambique(t, srv), openAPI(t, srv, mpesa.MarketTanzania)} {
		req, err := http.NewRequest(http.MethodGet, srv.URL()+c.path("queryTransactionStatus/"), nil)
		require.NoError(t, err)
		c.setHeaders(req)
		req.Header.Del("User-Agent") // net/http sends Go-http-client/1.1
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		if c.gw == mpesa.GatewayMozambique {
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		} else {
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), "OpenAPI has no such firewall: the gateway answers")
		}
	}

	// The SDK's default User-Agent passes; Go's is refused, and the client
	// reports the page as an unexpected answer.
	client, err := mpesa.NewClient(srv.APIKey(), append(srv.Options(mpesa.GatewayMozambique), mpesa.WithUserAgent("Go-http-client/1.1"))...)
	require.NoError(t, err)
	_, err = client.TransactionStatus(context.Background(), mpesa.TransactionStatusRequest{QueryReference: "5C1400CVRO"})
	require.ErrorIs(t, err, mpesa.ErrUnexpectedResponse)
	var e *mpesa.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusForbidden, e.HTTPStatus)
}
