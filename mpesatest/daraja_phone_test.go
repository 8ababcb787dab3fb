package mpesatest_test

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// An interactive customer's STK push: Daraja answers the push at once, the
// PIN prompt waits on the phone, the STK query answers "being processed"
// (Pending) meanwhile and another push to the same phone is refused
// (docs/gateways.md D8, D10); the answer decides the STK callback's
// ResultCode and the final state.
func TestInteractiveSTKPush(t *testing.T) {
	cases := []struct {
		name     string
		customer mpesatest.Outcome
		answer   mpesatest.Outcome
		code     string
		status   mpesa.TransactionStatus
	}{
		{"pin", mpesatest.OutcomeSuccess, mpesatest.OutcomeSuccess, "0", mpesa.StatusCompleted},
		{"decline", mpesatest.OutcomeSuccess, mpesatest.OutcomeCancelled, "1032", mpesa.StatusCancelled},
		{"timeout", mpesatest.OutcomeSuccess, mpesatest.OutcomePromptTimeout, "1037", mpesa.StatusExpired},
		{"pin, but no funds", mpesatest.OutcomeInsufficientBalance, mpesatest.OutcomeSuccess, "1", mpesa.StatusFailed},
		{"pin, but wrong", mpesatest.OutcomeRejected, mpesatest.OutcomeSuccess, "2001", mpesa.StatusFailed},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			l := newRecorder(t)
			srv := newServer(t)
			const phone = "254711000042"
			srv.SetCustomer(phone, mpesatest.Customer{Outcome: tc.customer, Interactive: true})
			client := djClient(t, srv)
			ctx := context.Background()

			res, err := client.C2B(ctx, stkRequest(phone, "10", l.url("/stk")))
			require.NoError(t, err, "Daraja answers the push at once")
			p := waitPrompt(t, srv)
			assert.Equal(t, mpesa.GatewayDaraja, p.Gateway)
			assert.Equal(t, mpesa.APIC2B, p.API)
			assert.True(t, p.Async)
			assert.Equal(t, res.CheckoutRequestID, p.ConversationID)
			assert.Equal(t, res.MerchantRequestID, p.Reference)
			assert.Equal(t, "KES", p.Currency)
			assert.Equal(t, "INV-1042", p.TransactionReference)
			assert.Equal(t, "254******042", p.MSISDN)
			assert.Equal(t, "Pay KES 10 to "+mpesatest.DarajaShortcode+", account no. INV-1042? Enter your M-PESA PIN to confirm.", p.Text)

			st, err := client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: res.CheckoutRequestID})
			require.NoError(t, err)
			assert.Equal(t, mpesa.StatusPending, st.TransactionStatus, "being processed while the prompt is open")
			_, err = client.C2B(ctx, stkRequest(phone, "11", l.url("/stk")))
			require.ErrorIs(t, err, mpesa.ErrCustomerBusy, "one prompt per subscriber")
			time.Sleep(50 * time.Millisecond)
			assert.Empty(t, l.bodies("/stk"), "no callback before the answer")

			require.NoError(t, srv.AnswerPrompt(p.ID, tc.answer))
			cbs := waitCallbacks(t, srv, 1)
			require.Len(t, cbs, 1)
			assert.Equal(t, mpesatest.KindSTK, cbs[0].Kind)
			got := l.bodies("/stk")
			require.Len(t, got, 1)
			stk := dig(t, got[0].Body, "Body", "stkCallback")
			assert.Equal(t, res.CheckoutRequestID, dig(t, stk, "CheckoutRequestID"))
			assert.Equal(t, json.Number(tc.code), dig(t, stk, "ResultCode"))

			st, err = client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: res.CheckoutRequestID})
			require.NoError(t, err)
			assert.Equal(t, tc.status, st.TransactionStatus)
			assert.Equal(t, tc.code, st.ResultCode)
			assert.Empty(t, srv.Prompts())
			assert.ErrorIs(t, srv.AnswerPrompt(p.ID, tc.answer), mpesatest.ErrNoPrompt)
		})
	}
}

// A push the gateway ends before the customer is asked opens no prompt,
// interactive or not; the deadline answers for a customer who never does.
func TestInteractiveSTKPushGatewayFirstAndDeadline(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t, mpesatest.WithInteractive(), mpesatest.WithPromptTimeout(150*time.Millisecond))
	client := djClient(t, srv)
	ctx := context.Background()

	srv.Next(mpesa.APIC2B, mpesatest.Scenario{Code: "17"})
	_, err := client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNSuccess, "10", l.url("/stk")))
	require.NoError(t, err)
	cbs := waitCallbacks(t, srv, 1)
	assert.Equal(t, "17", cbs[0].Params["ResultCode"])
	assert.Empty(t, srv.Prompts(), "the rule of 17 needs no customer")

	res, err := client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNSuccess, "12", l.url("/stk")))
	require.NoError(t, err)
	waitPrompt(t, srv)
	cbs = waitCallbacks(t, srv, 2)
	assert.Equal(t, "1037", cbs[1].Params["ResultCode"], "nobody answered: the phone cannot be reached")
	tx, ok := srv.Transaction(res.CheckoutRequestID)
	require.True(t, ok)
	assert.Equal(t, mpesa.StatusExpired, tx.Status)
}

// Reset takes an STK prompt off the phone without an answer: the push
// stays Pending with no callback, and the customer can be asked again.
func TestResetAbandonsSTKPrompt(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t, mpesatest.WithInteractive())
	client := djClient(t, srv)
	ctx := context.Background()
	res, err := client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNSuccess, "10", l.url("/stk")))
	require.NoError(t, err)
	waitPrompt(t, srv)
	srv.Reset()
	assert.Empty(t, srv.Prompts())
	st, err := client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: res.CheckoutRequestID})
	require.NoError(t, err)
	assert.Equal(t, mpesa.StatusPending, st.TransactionStatus)

	_, err = client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNSuccess, "11", l.url("/stk")))
	require.NoError(t, err, "the customer is no longer locked")
	require.NoError(t, srv.AnswerPrompt(waitPrompt(t, srv).ID, mpesatest.OutcomeSuccess))
	cbs := waitCallbacks(t, srv, 1)
	require.Len(t, cbs, 1, "the abandoned push sent nothing")
	assert.Equal(t, "0", cbs[0].Params["ResultCode"])
}

// The control plane serves Daraja: its settings in GET /_sim/, its test
// customers and what each does, and its STK prompts answered over HTTP.
func TestControlPlaneDaraja(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t, mpesatest.WithControlPlane())
	client := djClient(t, srv)
	d := srv.Daraja()

	var gws struct {
		Gateways map[string]map[string]any `json:"gateways"`
	}
	require.Equal(t, 200, control(t, srv, "GET", "/_sim/", "", &gws))
	dj := gws.Gateways["daraja"]
	require.NotNil(t, dj, "GET /_sim/ lists Daraja")
	assert.Equal(t, srv.URL(), dj["base_url"])
	assert.Equal(t, mpesatest.DarajaShortcode, dj["service_provider_code"])
	assert.Equal(t, string(d.ConsumerSecret), dj["consumer_secret"])
	assert.Equal(t, string(d.Passkey), dj["passkey"])
	assert.Equal(t, mpesatest.DarajaInitiator, dj["initiator_name"])
	assert.Equal(t, string(d.InitiatorPassword), dj["initiator_password"])
	assert.Equal(t, srv.Certificate(), dj["certificate"])
	assert.Equal(t, "sandbox", dj["environment"])

	var customers []map[string]any
	require.Equal(t, 200, control(t, srv, "GET", "/_sim/customers", "", &customers))
	does := map[string]any{}
	for _, c := range customers {
		does[c["msisdn"].(string)] = c["does"]
	}
	assert.Equal(t, "pays: 0", does[mpesatest.DarajaMSISDNSuccess])
	assert.Equal(t, "cancels the prompt: 1032", does[mpesatest.DarajaMSISDNCancelled])
	assert.Equal(t, "cannot be reached: 1037", does[mpesatest.DarajaMSISDNUnreachable])
	assert.Equal(t, "lacks the funds: 1", does[mpesatest.DarajaMSISDNInsufficientBalance])
	assert.Equal(t, "enters a wrong PIN: 2001", does[mpesatest.DarajaMSISDNWrongPIN])
	assert.Equal(t, "declines the PIN prompt: 401 INS-5", does[mpesatest.MozambiqueMSISDNCancelled], "the others as before")

	// A Daraja customer made interactive over HTTP; the prompt answered
	// over HTTP.
	var cust map[string]any
	require.Equal(t, 200, control(t, srv, "PUT", "/_sim/customers/254722000111", `{"outcome":"success","interactive":true}`, &cust))
	assert.Equal(t, "pays: 0", cust["does"])
	res, err := client.C2B(context.Background(), stkRequest("254722000111", "25", l.url("/stk")))
	require.NoError(t, err)
	var prompts []map[string]any
	require.Equal(t, 200, control(t, srv, "GET", "/_sim/prompts?wait_ms=5000", "", &prompts))
	require.Len(t, prompts, 1)
	assert.Equal(t, "daraja", prompts[0]["gateway"])
	assert.Equal(t, res.CheckoutRequestID, prompts[0]["conversation_id"])
	assert.Equal(t, "KES", prompts[0]["currency"])
	var a map[string]string
	require.Equal(t, 200, control(t, srv, "POST", "/_sim/prompts/"+prompts[0]["id"].(string), `{"answer":"decline"}`, &a))
	assert.Equal(t, "cancelled", a["answer"])

	var cbs []map[string]any
	require.Equal(t, 200, control(t, srv, "GET", "/_sim/callbacks?wait=1&timeout_ms=5000", "", &cbs))
	require.Len(t, cbs, 1)
	assert.Equal(t, "stkCallback", cbs[0]["kind"])
	assert.Equal(t, "1032", cbs[0]["params"].(map[string]any)["ResultCode"])
	assert.Equal(t, true, cbs[0]["acknowledged"])

	var calls []map[string]any
	require.Equal(t, 200, control(t, srv, "GET", "/_sim/calls?gateway=daraja&api=c2b", "", &calls))
	require.Len(t, calls, 1)
	assert.Equal(t, "0", calls[0]["code"], "Daraja's ResponseCode is the call's code")

	// The phone page lists the Daraja gateway and its customers.
	resp, err := srv.Client().Get(srv.URL() + "/")
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(page), "daraja")
	assert.Contains(t, string(page), "cancels the prompt: 1032")
}
