package mpesatest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// TestDarajaBesideTheOtherGateways: one simulator serves the three
// gateways below one base URL, told apart by path, each with its own
// rules.
func TestDarajaBesideTheOtherGateways(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t)
	ctx := context.Background()
	oa, err := sdkClient(t, srv, mpesa.GatewayOpenAPI).C2B(ctx, c2bRequest(mpesa.GatewayOpenAPI, ""))
	require.NoError(t, err)
	mz, err := sdkClient(t, srv, mpesa.GatewayMozambique).C2B(ctx, c2bRequest(mpesa.GatewayMozambique, ""))
	require.NoError(t, err)
	dj, err := djClient(t, srv).C2B(ctx, stkRequest(mpesatest.DarajaMSISDNSuccess, "1", l.url("/stk")))
	require.NoError(t, err)
	waitCallbacks(t, srv, 1)
	gateways := map[string]mpesa.Gateway{}
	for _, txn := range srv.Transactions() {
		gateways[txn.ConversationID] = txn.Gateway
	}
	assert.Equal(t, map[string]mpesa.Gateway{oa.ConversationID: mpesa.GatewayOpenAPI, mz.ConversationID: mpesa.GatewayMozambique,
		dj.CheckoutRequestID: mpesa.GatewayDaraja}, gateways)
	for _, call := range srv.Calls() {
		if call.Gateway == mpesa.GatewayDaraja {
			assert.Equal(t, mpesa.MarketKenya, call.Market, call.Path)
		}
	}
}

// TestDarajaGatewayChecks: a path Daraja does not serve is 404.001.01; a
// product other than by POST 405.001 (docs/gateways.md D2); a body that is
// not a JSON object of strings and numbers 400.002.05 (docs/gateways.md D23).
func TestDarajaGatewayChecks(t *testing.T) {
	srv := newServer(t)
	c := newDJRaw(t, srv)
	status, out := c.post("/mpesa/b2c/v1/paymentrequest", map[string]string{})
	assert.Equal(t, http.StatusNotFound, status, "B2C v1 is not served")
	assert.Equal(t, "404.001.01", out["errorCode"])
	status, out = c.do(http.MethodGet, "/mpesa/accountbalance/v1/query", nil, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, status)
	assert.Equal(t, "405.001", out["errorCode"])
	for name, body := range map[string]any{
		"an array":        []string{"x"},
		"an object value": map[string]any{"Amount": map[string]string{"v": "1"}},
		"a boolean value": map[string]any{"Amount": true},
	} {
		status, out := c.post("/mpesa/b2b/v1/paymentrequest", body)
		assert.Equal(t, http.StatusBadRequest, status, name)
		assert.Equal(t, "400.002.05", out["errorCode"], name)
		assert.Equal(t, "Invalid Request Payload", out["errorMessage"], name)
	}
	status, out = c.do(http.MethodPost, "/mpesa/b2b/v1/paymentrequest", map[string]string{}, func(r *http.Request) {
		r.Header.Del("Content-Type")
	})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "400.002.05", out["errorCode"])
	status, out = c.post("/mpesa/b2b/v1/paymentrequest", with(map[string]string{}, "Initiator", "testapi"))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "Bad Request - Invalid SecurityCredential", out["errorMessage"], "the first field that breaks its rule")
	for _, call := range srv.Calls()[1:] {
		assert.Equal(t, mpesa.GatewayDaraja, call.Gateway)
		assert.NotEmpty(t, call.Response["requestId"], call.Path)
	}
}

// TestDarajaOptions: Options(mpesa.GatewayDaraja) configures a client with
// everything the simulator checks; the default result URLs come from
// Daraja, else from WithAsync.
func TestDarajaOptions(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.url("/result")}))
	d := srv.Daraja()
	assert.Equal(t, l.url("/result"), d.ResultURL)
	assert.Equal(t, l.url("/result"), d.QueueTimeoutURL)
	assert.Equal(t, mpesatest.DarajaShortcode, d.Shortcode)
	assert.Equal(t, mpesatest.DarajaInitiator, d.Initiator)
	assert.Equal(t, mpesatest.DefaultTokenLifetime, d.TokenLifetime)
	assert.Equal(t, mpesatest.DefaultValidationTimeout, d.ValidationTimeout)
	assert.Equal(t, mpesatest.DefaultTimestampWindow, d.TimestampWindow)
	assert.NotEmpty(t, d.ConsumerSecret)
	assert.NotEmpty(t, d.Passkey)
	assert.NotEmpty(t, d.InitiatorPassword)
	assert.NotEqual(t, d.Passkey, newServer(t).Daraja().Passkey, "random per server")

	client := djClient(t, srv)
	assert.Equal(t, mpesa.GatewayDaraja, client.Gateway())
	ctx := context.Background()
	_, err := client.C2B(ctx, mpesa.C2BRequest{Amount: "1", CustomerMSISDN: mpesatest.DarajaMSISDNSuccess, TransactionReference: "A1"})
	require.NoError(t, err)
	_, err = client.B2C(ctx, mpesa.B2CRequest{Amount: "10", CustomerMSISDN: mpesatest.DarajaMSISDNSuccess, PaymentItemsDesc: "Refund"})
	require.NoError(t, err)
	cbs := waitCallbacks(t, srv, 2)
	for _, cb := range cbs {
		assert.Equal(t, l.url("/result"), cb.URL, "the client's default URL, from Async")
		assert.True(t, cb.Acknowledged)
	}

	own := newServer(t, mpesatest.WithAPIKey("myconsumerkey"), mpesatest.WithDaraja(mpesatest.Daraja{
		ConsumerSecret: "s3cret", Shortcode: "600100", Passkey: "pk", Initiator: "ops", InitiatorPassword: "Pass#1",
		ResultURL: l.url("/r"), QueueTimeoutURL: l.url("/t")}))
	client = djClient(t, own)
	_, err = client.C2B(ctx, mpesa.C2BRequest{Amount: "1", CustomerMSISDN: mpesatest.DarajaMSISDNSuccess, TransactionReference: "A1"})
	require.NoError(t, err)
	_, err = client.B2C(ctx, mpesa.B2CRequest{Amount: "10", CustomerMSISDN: mpesatest.DarajaMSISDNSuccess, PaymentItemsDesc: "Refund"})
	require.NoError(t, err)
	cbs = waitCallbacks(t, own, 2)
	assert.Equal(t, "0", cbs[0].Params["ResultCode"])
	assert.Equal(t, "0", cbs[1].Params["ResultCode"], "the configured initiator")
	assert.Equal(t, l.url("/r"), cbs[0].URL)

	assert.Panics(t, func() { mpesatest.NewServer(mpesatest.WithDaraja(mpesatest.Daraja{TokenLifetime: time.Millisecond})) })
	assert.Panics(t, func() { mpesatest.NewServer(mpesatest.WithDaraja(mpesatest.Daraja{C2BVersion: 3})) })
	assert.Panics(t, func() { mpesatest.NewServer(mpesatest.WithDaraja(mpesatest.Daraja{Environment: 7})) })
}

// TestDarajaCloseAbandonsPendingCallbacks: Close returns at once even with
// callbacks waiting out a long Delay or a validation in progress.
func TestDarajaCloseAbandonsPendingCallbacks(t *testing.T) {
	l := newRecorder(t)
	srv := mpesatest.NewServer(mpesatest.WithDaraja(mpesatest.Daraja{Delay: time.Hour}))
	client := djClient(t, srv)
	ctx := context.Background()
	_, err := client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNSuccess, "1", l.url("/stk")))
	require.NoError(t, err)
	_, err = registerAndPayClient(client, l)
	require.NoError(t, err)
	start := time.Now()
	srv.Close()
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Empty(t, l.bodies("/stk"))
	cbs := srv.Callbacks()
	require.Len(t, cbs, 1)
	assert.True(t, cbs[0].Done)
	assert.Empty(t, cbs[0].Attempts)
}
