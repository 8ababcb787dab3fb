package mpesatest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

func TestJournalHoldsNoSecrets(t *testing.T) {
	l := newListener(t)
	srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.srv.URL, APIs: []mpesa.API{mpesa.APIB2C}}))

	// A raw session whose ID and bearers the test knows.
	c := &raw{t: t, srv: srv, authz: bearer(t, srv, srv.APIKey()), origin: "*", market: mpesa.MarketTanzania, gw: mpesa.GatewayOpenAPI}
	keyBearer := c.authz
	status, out := c.call(http.MethodGet, "getSession/", nil)
	require.Equal(t, http.StatusOK, status)
	sessionID := out["output_SessionID"]
	c.authz = bearer(t, srv, sessionID)
	sessionBearer := c.authz
	status, _ = c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("j1"))
	require.Equal(t, http.StatusCreated, status)

	// A Mozambique reversal carries the security credential.
	mz := mozambique(t, srv)
	status, out = mz.call(http.MethodPost, "c2bPayment/singleStage/", mozC2B("j2"))
	require.Equal(t, http.StatusCreated, status)
	status, _ = mz.call(http.MethodPut, mzReversal.path, with(mzReversal.valid("j3"), "input_TransactionID", out["output_TransactionID"]))
	require.Equal(t, http.StatusCreated, status)

	// And the SDK, with a callback.
	client := sdkClient(t, srv, mpesa.GatewayOpenAPI)
	_, err := client.B2C(context.Background(), mpesa.B2CRequest{Amount: "1", CustomerMSISDN: mpesatest.MSISDNSuccess,
		TransactionReference: "J4", PaymentItemsDesc: "Refund"})
	require.NoError(t, err)
	waitCallbacks(t, srv, 1)

	calls, cbs := srv.Calls(), srv.Callbacks()
	data, err := json.Marshal(struct {
		Calls     []mpesatest.Call
		Callbacks []mpesatest.Callback
	}{calls, cbs})
	require.NoError(t, err)
	dump := string(data) + fmt.Sprintf("%#v %#v", calls, cbs)
	for name, secret := range map[string]string{
		"API key":             srv.APIKey(),
		"session ID":          sessionID,
		"API key bearer":      strings.TrimPrefix(keyBearer, "Bearer "),
		"session bearer":      strings.TrimPrefix(sessionBearer, "Bearer "),
		"security credential": mpesatest.MozambiqueSecurityCredential,
	} {
		assert.NotContains(t, dump, secret, name)
	}
	sessions := 0
	for _, call := range calls {
		assert.Empty(t, call.Header.Values("Authorization"), "%s %s", call.Method, call.Path)
		if call.API == mpesa.APIGetSession {
			sessions++
			assert.Equal(t, mpesatest.Redacted, call.Response["output_SessionID"])
		}
		if call.API == mpesa.APIReversal {
			assert.Equal(t, mpesatest.Redacted, call.Params["input_SecurityCredential"])
		}
	}
	assert.Equal(t, 2, sessions)
	// What is not secret is all there.
	assert.Equal(t, "j1", calls[1].Params["input_ThirdPartyConversationID"])
	assert.Equal(t, "*", calls[1].Header.Get("Origin"))
	assert.Equal(t, http.StatusCreated, calls[1].Status)
}

func TestJournalReturnsCopies(t *testing.T) {
	srv := newServer(t)
	c := mozambique(t, srv)
	c.call(http.MethodPost, "c2bPayment/singleStage/", mozC2B("cp1"))
	calls := srv.Calls()
	require.Len(t, calls, 1)
	calls[0].Params["input_Amount"] = "1000000"
	calls[0].Header.Set("Origin", "changed")
	again := srv.Calls()[0]
	assert.Equal(t, "10", again.Params["input_Amount"])
	assert.Equal(t, mpesatest.OriginMozambique, again.Header.Get("Origin"))
	assert.Equal(t, mpesa.GatewayMozambique, again.Gateway)
	assert.Equal(t, mpesa.APIC2B, again.API)
}

func TestCloseReleasesHungCallsAndStopsServing(t *testing.T) {
	srv := mpesatest.NewServer()
	c := mozambique(t, srv)
	srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.FaultHang})

	errc := make(chan error, 1)
	go func() {
		// No deadline: only Close can end this call.
		_, _, err := c.rawPost(context.Background(), mozC2B("cl1"))
		errc <- err
	}()
	require.Eventually(t, func() bool {
		calls := srv.Calls()
		return len(calls) == 1 && calls[0].Scenario != nil
	}, 20*time.Second, time.Millisecond, "the call never reached its scenario")
	assert.Zero(t, srv.Calls()[0].Status, "in progress")

	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close waited for the hung call")
	}
	select {
	case err := <-errc:
		assert.Error(t, err, "the hung call ends without an answer")
	case <-time.After(20 * time.Second):
		t.Fatal("the hung call was not released")
	}
	srv.Close() // a second Close is harmless

	req, err := http.NewRequest(http.MethodGet, srv.URL()+"/ipg/v1x/queryTransactionStatus/", nil)
	require.NoError(t, err)
	_, err = srv.Client().Do(req)
	assert.Error(t, err, "a closed simulator serves nothing")
}
