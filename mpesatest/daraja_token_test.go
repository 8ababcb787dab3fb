package mpesatest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// TestDarajaTokenAnswers: GET /oauth/v1/generate?grant_type=client_credentials
// with Basic base64(key:secret) answers {access_token, expires_in} (portal
// page Authorization); not Basic is 400.008.01, another grant type
// 400.008.02, a wrong key or secret HTTP 400 with an empty body, a POST
// 405.001 (docs/gateways.md D2, D3).
func TestDarajaTokenAnswers(t *testing.T) {
	srv := newServer(t)
	c := &djRaw{t: t, srv: srv}
	good := basicAuth(srv.APIKey(), string(srv.Daraja().ConsumerSecret))
	get := func(path, authz string) (int, map[string]any) {
		return c.do(http.MethodGet, path, nil, func(r *http.Request) { r.Header.Set("Authorization", authz) })
	}
	const path = "/oauth/v1/generate?grant_type=client_credentials"

	status, out := get(path, good)
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, out["access_token"], 28)
	assert.Equal(t, "3599", out["expires_in"], "a string, as live answers carry it")

	status, out = get(path, basicAuth(srv.APIKey(), "wrong"))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Nil(t, out, "a wrong secret: HTTP 400 with an empty body")
	status, out = get(path, basicAuth("wrong", string(srv.Daraja().ConsumerSecret)))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Nil(t, out)

	status, out = get(path, "Bearer "+srv.APIKey())
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "400.008.01", out["errorCode"])
	assert.NotEmpty(t, out["requestId"])
	status, out = get("/oauth/v1/generate?grant_type=password", good)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "400.008.02", out["errorCode"])
	assert.Equal(t, "Invalid grant type passed", out["errorMessage"])
	status, out = c.do(http.MethodPost, path, nil, func(r *http.Request) { r.Header.Set("Authorization", good) })
	assert.Equal(t, http.StatusMethodNotAllowed, status)
	assert.Equal(t, "405.001", out["errorCode"])

	assert.Equal(t, 6, srv.TokenRequests())
	for _, call := range srv.CallsTo(mpesa.APIToken) {
		assert.Empty(t, call.Header.Get("Authorization"), "the Basic header is not journaled")
		assert.Equal(t, mpesa.GatewayDaraja, call.Gateway)
		if call.Status == http.StatusOK {
			assert.Equal(t, mpesatest.Redacted, call.Response["access_token"])
		}
	}

	num := newServer(t, mpesatest.WithDaraja(mpesatest.Daraja{Shapes: mpesatest.ShapeExpiresInNumber, TokenLifetime: 90 * time.Second}))
	c = &djRaw{t: t, srv: num}
	status, out = c.do(http.MethodGet, path, nil, func(r *http.Request) {
		r.Header.Set("Authorization", basicAuth(num.APIKey(), string(num.Daraja().ConsumerSecret)))
	})
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, json.Number("90"), out["expires_in"], "ShapeExpiresInNumber: a number")
}

// TestDarajaNewTokenInvalidatesThePrevious: "each request invalidates the
// previous token" (Authorization FAQ; docs/gateways.md D3): a call with the
// older token is refused with its page's invalid-token code, 404.001.03 on
// most pages, 400.003.01 on C2B and status, 401.002.01 "Invalid Access Token
// - XXX" on the balance (docs/gateways.md D4). KeepPreviousTokens turns it
// off.
func TestDarajaNewTokenInvalidatesThePrevious(t *testing.T) {
	srv := newServer(t)
	c := newDJRaw(t, srv)
	old := c.token
	c.token = c.newToken()
	c.token = old
	for path, code := range map[string]string{
		"/mpesa/stkpush/v1/processrequest":  "404.001.03",
		"/mpesa/stkpushquery/v1/query":      "404.001.03",
		"/mpesa/b2c/v3/paymentrequest":      "404.001.03",
		"/mpesa/b2b/v1/paymentrequest":      "404.001.03",
		"/mpesa/reversal/v1/request":        "404.001.03",
		"/mpesa/c2b/v2/registerurl":         "400.003.01",
		"/mpesa/c2b/v1/simulate":            "400.003.01",
		"/mpesa/transactionstatus/v1/query": "400.003.01",
		"/mpesa/accountbalance/v1/query":    "401.002.01",
		"/pulltransactions/v1/query":        "401.001",
	} {
		status, out := c.post(path, map[string]string{})
		assert.Equal(t, code, out["errorCode"], path)
		assert.Equal(t, djStatus(code), status, path)
		if code == "401.002.01" {
			assert.Equal(t, "Invalid Access Token - "+old, out["errorMessage"], "the balance page quotes the token")
		}
	}
	for _, call := range srv.CallsTo(mpesa.APIAccountBalance) {
		assert.NotContains(t, call.Response["errorMessage"], old, "the journal scrubs the quoted token")
	}
	status, out := c.do(http.MethodPost, "/mpesa/b2c/v3/paymentrequest", map[string]string{}, func(r *http.Request) { r.Header.Del("Authorization") })
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "404.001.04", out["errorCode"], "no Bearer header: Invalid Authentication Header")

	keep := newServer(t, mpesatest.WithDaraja(mpesatest.Daraja{KeepPreviousTokens: true}))
	k := newDJRaw(t, keep)
	first := k.token
	k.newToken()
	k.token = first
	status, out = k.post("/mpesa/accountbalance/v1/query", map[string]string{})
	assert.Equal(t, http.StatusBadRequest, status, "the token is still live: the payload is judged: %v", out)
	assert.Equal(t, "400.002.02", out["errorCode"])
}

func djStatus(code string) int {
	switch code[:3] {
	case "400":
		return 400
	case "401":
		return 401
	case "404":
		return 404
	}
	return 500
}

// TestDarajaTokenLifetimeFollowsTheClock: a token lives Daraja.TokenLifetime
// by the simulator's clock (WithClock); once it is over, calls are refused
// with the invalid-token code, on which the SDK fetches a new token and
// sends again once (docs/gateways.md D4). ExpireTokens ends them at once.
func TestDarajaTokenLifetimeFollowsTheClock(t *testing.T) {
	var mu sync.Mutex
	skew := time.Duration(0)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return time.Now().Add(skew)
	}
	l := newRecorder(t)
	srv := newServer(t, mpesatest.WithClock(clock), mpesatest.WithDaraja(mpesatest.Daraja{
		TokenLifetime: 10 * time.Minute, ResultURL: l.url("/result"), TimestampWindow: -1}))
	client := djClient(t, srv)
	ctx := context.Background()
	_, err := client.AccountBalance(ctx, mpesa.AccountBalanceRequest{})
	require.NoError(t, err)
	assert.Equal(t, 1, srv.TokenRequests())

	mu.Lock()
	skew = 11 * time.Minute // the client's own clock has not moved: it still trusts its token
	mu.Unlock()
	_, err = client.AccountBalance(ctx, mpesa.AccountBalanceRequest{})
	require.NoError(t, err, "refused once with 401.002.01, then sent again with a new token")
	assert.Equal(t, 2, srv.TokenRequests())
	calls := srv.CallsTo(mpesa.APIAccountBalance)
	require.Len(t, calls, 3)
	assert.Equal(t, "401.002.01", calls[1].Response["errorCode"])
	assert.Equal(t, http.StatusOK, calls[2].Status)

	srv.ExpireTokens()
	_, err = client.C2B(ctx, mpesa.C2BRequest{Amount: "1", CustomerMSISDN: mpesatest.DarajaMSISDNSuccess,
		TransactionReference: "INV1", ResultURL: l.url("/stk")})
	require.NoError(t, err, "an STK push refused for its token is not processed, so it is sent again")
	assert.Equal(t, 3, srv.TokenRequests())
	assert.Len(t, srv.CallsTo(mpesa.APIC2B), 2)
	waitCallbacks(t, srv, 3)
}

// TestDarajaWrongCredentialsSurfaceFromTheClient: the SDK reads the empty
// 400 of a wrong consumer secret as a refusal of its credentials.
func TestDarajaWrongCredentialsSurfaceFromTheClient(t *testing.T) {
	srv := newServer(t)
	client := djClient(t, srv, mpesa.WithConsumerSecret("not-the-secret"))
	_, err := client.AccountBalance(context.Background(), mpesa.AccountBalanceRequest{ResultURL: "https://example.com/r", QueueTimeoutURL: "https://example.com/t"})
	assert.ErrorIs(t, err, mpesa.ErrUnauthorized)
	var e *mpesa.Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, http.StatusBadRequest, e.HTTPStatus)
	assert.Empty(t, srv.CallsTo(mpesa.APIAccountBalance), "no product call without a token")
}
