package mpesatest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// resultOf returns the Result envelope of the n-th body posted to path.
func resultOf(t *testing.T, l *recorder, path string, n int) map[string]any {
	t.Helper()
	got := l.bodies(path)
	require.Greater(t, len(got), n, "bodies at %s", path)
	return dig(t, got[n].Body, "Result").(map[string]any)
}

func b2cRequest(ref string, l *recorder) mpesa.B2CRequest {
	return mpesa.B2CRequest{Amount: "500", CustomerMSISDN: mpesatest.DarajaMSISDNSuccess, ServiceProviderCode: "600996",
		PaymentItemsDesc: "November salary", ThirdPartyConversationID: ref, CommandID: "SalaryPayment",
		ResultURL: l.url("/result"), QueueTimeoutURL: l.url("/timeout")}
}

// TestDarajaB2C: B2C v3 acknowledges with ConversationID AG_… and the
// merchant's OriginatorConversationID, then posts the Result envelope to the
// ResultURL: ResultCode a number, the receipt as TransactionID and
// TransactionReceipt, ReferenceItem one object (docs/gateways.md D15, D20).
// A reused OriginatorConversationID answers HTTP 500 500.002.1001
// "Duplicate OriginatorConversationID.", ErrDuplicate.
func TestDarajaB2C(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t)
	client := djClient(t, srv)
	ctx := context.Background()
	res, err := client.B2C(ctx, b2cRequest("PAYROLL-2026-11-0042", l))
	require.NoError(t, err)
	assert.Regexp(t, `^AG_\d{8}_[0-9a-f]{20}$`, res.ConversationID)
	assert.Equal(t, "PAYROLL-2026-11-0042", res.OriginatorConversationID)
	assert.Equal(t, "0", res.ResponseCode)
	assert.Equal(t, "Accept the service request successfully.", res.ResponseDesc)

	cb := waitCallbacks(t, srv, 1)[0]
	assert.Equal(t, mpesatest.KindResult, cb.Kind)
	assert.Equal(t, l.url("/result"), cb.URL)
	assert.True(t, cb.Acknowledged)
	r := resultOf(t, l, "/result", 0)
	assert.Equal(t, json.Number("0"), r["ResultType"])
	assert.Equal(t, json.Number("0"), r["ResultCode"])
	assert.Equal(t, "The service request is processed successfully.", r["ResultDesc"])
	assert.Equal(t, "PAYROLL-2026-11-0042", r["OriginatorConversationID"])
	assert.Equal(t, res.ConversationID, r["ConversationID"])
	params := items(t, dig(t, r, "ResultParameters", "ResultParameter"))
	assert.Equal(t, r["TransactionID"], params["TransactionReceipt"])
	assert.Equal(t, "500", params["TransactionAmount"])
	assert.Equal(t, "Y", params["B2CRecipientIsRegisteredCustomer"])
	assert.Regexp(t, `^\d\d\.\d\d\.20\d\d \d\d:\d\d:\d\d$`, params["TransactionCompletedDateTime"])
	assert.Equal(t, "999500.00", params["B2CUtilityAccountAvailableFunds"])
	assert.Regexp(t, `^254708374149 - `, params["ReceiverPartyPublicName"])
	ref := dig(t, r, "ReferenceData", "ReferenceItem")
	assert.IsType(t, map[string]any{}, ref, "one object on B2C")
	assert.Contains(t, items(t, ref)["QueueTimeoutURL"], "internalsandbox.safaricom.co.ke", "Safaricom's URL, not the merchant's")
	assert.Equal(t, "254******149 - Test Customer", cb.Params["ReceiverPartyPublicName"], "the journal masks the number in the name")

	txn, ok := srv.Transaction("PAYROLL-2026-11-0042")
	require.True(t, ok)
	assert.Equal(t, mpesa.StatusCompleted, txn.Status)
	assert.Equal(t, r["TransactionID"], txn.TransactionID)

	_, err = client.B2C(ctx, b2cRequest("PAYROLL-2026-11-0042", l))
	assert.ErrorIs(t, err, mpesa.ErrDuplicate)
	var e *mpesa.Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, http.StatusInternalServerError, e.HTTPStatus)
	assert.Equal(t, "500.002.1001", e.Code)
	calls := srv.CallsTo(mpesa.APIB2C)
	require.Len(t, calls, 2, "a duplicate is not resent")
	assert.Equal(t, "Duplicate OriginatorConversationID.", calls[1].Response["errorMessage"])

	for i, tc := range []struct{ amount, code string }{{"9", "2"}, {"250001", "3"}} {
		req := b2cRequest("LIMIT-"+tc.amount, l)
		req.Amount = tc.amount
		status, out := newDJRaw(t, srv).post("/mpesa/b2c/v3/paymentrequest", with(b2cBody(t, srv, req.ThirdPartyConversationID, l.url("")), "Amount", tc.amount))
		require.Equal(t, http.StatusOK, status, out)
		cb := waitCallbacks(t, srv, 2+i)[1+i]
		assert.Equal(t, tc.code, cb.Params["ResultCode"], tc.amount)
		assert.NotContains(t, cb.Params, "TransactionReceipt", "no ResultParameters on failure")
	}
}

// TestDarajaSecurityCredential: the SecurityCredential is the initiator
// password encrypted with the simulator's key using RSA PKCS #1 v1.5 and
// base64-encoded. M-Pesa checks it only once the request is accepted, so a
// wrong password, another initiator or an OAEP-encrypted credential comes
// back as result 2001 "The initiator information is invalid." in the
// callback (docs/gateways.md D11, D15).
func TestDarajaSecurityCredential(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t)
	d := srv.Daraja()
	c := newDJRaw(t, srv)
	cases := []struct {
		name    string
		changes []string
		code    string
	}{
		{"PKCS #1 v1.5 of the password", nil, "0"},
		{"OAEP", []string{"SecurityCredential", credential(t, srv, string(d.InitiatorPassword), true)}, "2001"},
		{"another password", []string{"SecurityCredential", credential(t, srv, "Safaricom999!*!", false)}, "2001"},
		{"the password in clear", []string{"SecurityCredential", string(d.InitiatorPassword)}, "2001"},
		{"another initiator", []string{"InitiatorName", "apiop37"}, "2001"},
	}
	for i, tc := range cases {
		status, out := c.post("/mpesa/b2c/v3/paymentrequest", with(b2cBody(t, srv, "SC-"+string(rune('a'+i)), l.url("")), tc.changes...))
		require.Equal(t, http.StatusOK, status, "%s: the request is accepted: %v", tc.name, out)
		cb := waitCallbacks(t, srv, i+1)[i]
		assert.Equal(t, tc.code, cb.Params["ResultCode"], tc.name)
		if tc.code == "2001" {
			assert.Equal(t, "The initiator information is invalid.", cb.Params["ResultDesc"], tc.name)
		}
	}
	for _, call := range srv.CallsTo(mpesa.APIB2C) {
		assert.Equal(t, mpesatest.Redacted, call.Params["SecurityCredential"])
	}

	// Through the SDK: its PKCS #1 v1.5 credential passes; a wrong
	// initiator password fails in the result, with the certificate or the
	// public key alike.
	client := djClient(t, srv, mpesa.WithInitiator(d.Initiator, "wrong-password"))
	_, err := client.B2C(context.Background(), b2cRequest("SDK-1", l))
	require.NoError(t, err)
	cb := waitCallbacks(t, srv, len(cases)+1)[len(cases)]
	assert.Equal(t, "2001", cb.Params["ResultCode"])
	pubClient, err := mpesa.NewClient(srv.APIKey(), mpesa.WithGateway(mpesa.GatewayDaraja), mpesa.WithBaseURL(srv.URL()),
		mpesa.WithHTTPClient(srv.Client()), mpesa.WithConsumerSecret(d.ConsumerSecret),
		mpesa.WithServiceProviderCode(d.Shortcode), mpesa.WithInitiator(d.Initiator, d.InitiatorPassword),
		mpesa.WithPublicKey(srv.PublicKey()))
	require.NoError(t, err)
	_, err = pubClient.B2C(context.Background(), b2cRequest("SDK-2", l))
	require.NoError(t, err)
	cb = waitCallbacks(t, srv, len(cases)+2)[len(cases)+1]
	assert.Equal(t, "0", cb.Params["ResultCode"], "WithPublicKey(srv.PublicKey()) works as WithCertificate(srv.Certificate())")
	assert.True(t, strings.HasPrefix(srv.Certificate(), "-----BEGIN CERTIFICATE-----"))
}

// TestDarajaB2B: the business pay bill result writes ResultCode as a string
// and ReferenceItem as an array, with the BillReferenceNumber
// (docs/gateways.md D16, D20).
func TestDarajaB2B(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t)
	res, err := djClient(t, srv).B2B(context.Background(), mpesa.B2BRequest{Amount: "190", ReceiverPartyCode: "000000",
		TransactionReference: "353353", PurchasedItemsDesc: "Stock", ResultURL: l.url("/result"), QueueTimeoutURL: l.url("/timeout")})
	require.NoError(t, err)
	waitCallbacks(t, srv, 1)
	r := resultOf(t, l, "/result", 0)
	assert.Equal(t, "0", r["ResultCode"], "a string on this page")
	assert.Equal(t, "0", r["ResultType"])
	assert.Equal(t, res.ConversationID, r["ConversationID"])
	params := items(t, dig(t, r, "ResultParameters", "ResultParameter"))
	assert.Equal(t, "190.00", params["Amount"])
	assert.Equal(t, "KES", params["Currency"])
	assert.Contains(t, params["DebitAccountBalance"], "BasicAmount=499810.00")
	refs := dig(t, r, "ReferenceData", "ReferenceItem")
	require.IsType(t, []any{}, refs, "an array on B2B")
	assert.Equal(t, "353353", items(t, refs)["BillReferenceNumber"])
	txn, _ := srv.Transaction(res.ConversationID)
	assert.Equal(t, mpesa.StatusCompleted, txn.Status)
	assert.Equal(t, mpesa.APIB2B, txn.API)
}

// TestDarajaReversalOnce: a payment into the shortcode is reversed once;
// again answers R000001, an unknown receipt R000002 with TransactionID
// SKE0000000, a B2C payment (which the API cannot reverse) 2028
// (docs/gateways.md D15, D19).
func TestDarajaReversalOnce(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t)
	client := djClient(t, srv)
	ctx := context.Background()
	_, err := client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNSuccess, "80", l.url("/stk")))
	require.NoError(t, err)
	receipt := waitCallbacks(t, srv, 1)[0].Params["MpesaReceiptNumber"]
	_, err = client.B2C(ctx, b2cRequest("REV-B2C", l))
	require.NoError(t, err)
	b2cReceipt := waitCallbacks(t, srv, 2)[1].Params["TransactionID"]

	reverse := func(id, amount string, spc ...string) map[string]string {
		req := mpesa.ReversalRequest{TransactionID: id, ReversalAmount: amount,
			ResultURL: l.url("/result"), QueueTimeoutURL: l.url("/timeout")}
		if len(spc) > 0 {
			req.ServiceProviderCode = spc[0]
		}
		_, err := client.Reversal(ctx, req)
		require.NoError(t, err)
		cbs := waitCallbacks(t, srv, len(srv.Callbacks()))
		return cbs[len(cbs)-1].Params
	}
	first := reverse(receipt, "80")
	assert.Equal(t, "0", first["ResultCode"])
	assert.Equal(t, receipt, first["OriginalTransactionID"])
	orig, _ := srv.Transaction(receipt)
	assert.True(t, orig.Reversed)
	assert.Equal(t, "80", orig.ReversedAmount)
	rev, ok := srv.Transaction(first["TransactionID"])
	require.True(t, ok)
	assert.Equal(t, receipt, rev.OriginalTransactionID)

	again := reverse(receipt, "80")
	assert.Equal(t, "R000001", again["ResultCode"])
	assert.Equal(t, "The transaction has already been reversed.", again["ResultDesc"])
	unknown := reverse("NLJ0000XYZ", "80")
	assert.Equal(t, "R000002", unknown["ResultCode"])
	assert.Equal(t, "SKE0000000", unknown["TransactionID"])
	assert.Equal(t, "2028", reverse(b2cReceipt, "500", "600996")["ResultCode"])

	n := len(l.bodies("/result"))
	assert.IsType(t, "", resultOf(t, l, "/result", n-2)["ResultCode"], "an alphanumeric code is a string")
}

// TestDarajaStatusAndBalance: the transaction status query answers through
// the Result: the state of a payment found by receipt or by its
// OriginatorConversationID, SFC_IC0003 when nothing matches; the account
// balance posts the accounts as Name|KES|… joined by '&', ResultCode a
// string (docs/gateways.md D17, D18).
func TestDarajaStatusAndBalance(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t)
	client := djClient(t, srv, mpesa.WithServiceProviderCode("600996"))
	ctx := context.Background()
	_, err := client.B2C(ctx, b2cRequest("ST-1", l))
	require.NoError(t, err)
	receipt := waitCallbacks(t, srv, 1)[0].Params["TransactionID"]

	status := func(q string) map[string]string {
		res, err := client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: q,
			ResultURL: l.url("/result"), QueueTimeoutURL: l.url("/timeout")})
		require.NoError(t, err)
		assert.True(t, res.Async(), "the state comes by callback")
		cbs := waitCallbacks(t, srv, len(srv.Callbacks()))
		return cbs[len(cbs)-1].Params
	}
	for _, q := range []string{receipt, "ST-1"} {
		p := status(q)
		assert.Equal(t, "0", p["ResultCode"], q)
		assert.Equal(t, "Completed", p["TransactionStatus"], q)
		assert.Equal(t, receipt, p["ReceiptNo"], q)
		assert.Equal(t, "500.00", p["Amount"], q)
		assert.Equal(t, "", p["TransactionReason"], "without Value, as the page's sample")
	}
	calls := srv.CallsTo(mpesa.APITransactionStatus)
	assert.Equal(t, receipt, calls[0].Params["TransactionID"])
	assert.Equal(t, "ST-1", calls[1].Params["OriginalConversationID"])
	assert.Equal(t, "SFC_IC0003", status("NOTHING0001")["ResultCode"])

	_, err = client.AccountBalance(ctx, mpesa.AccountBalanceRequest{ResultURL: l.url("/result"), QueueTimeoutURL: l.url("/timeout")})
	require.NoError(t, err)
	waitCallbacks(t, srv, len(srv.Callbacks()))
	r := resultOf(t, l, "/result", len(l.bodies("/result"))-1)
	assert.Equal(t, "0", r["ResultCode"], "a string on the balance page")
	balance := items(t, dig(t, r, "ResultParameters", "ResultParameter"))["AccountBalance"]
	accounts := strings.Split(balance, "&")
	require.Len(t, accounts, 5)
	assert.Equal(t, "Working Account|KES|500000.00|500000.00|0.00|0.00", accounts[0])
	assert.Equal(t, "Utility Account|KES|999500.00|999500.00|0.00|0.00", accounts[2])
}

// TestDarajaQueueTimeout: Scenario.QueueTimeout answers the request as
// accepted and posts the notice to its QueueTimeOutURL instead of the Result
// (docs/gateways.md D21); the outcome is unknown: not carried out, or with
// Processed carried out, which a status query finds.
func TestDarajaQueueTimeout(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t)
	client := djClient(t, srv)
	ctx := context.Background()
	srv.Next(mpesa.APIB2C, mpesatest.Scenario{QueueTimeout: true}, mpesatest.Scenario{QueueTimeout: true, Processed: true})
	res, err := client.B2C(ctx, b2cRequest("QT-1", l))
	require.NoError(t, err)
	cb := waitCallbacks(t, srv, 1)[0]
	assert.Equal(t, mpesatest.KindQueueTimeout, cb.Kind)
	assert.Equal(t, l.url("/timeout"), cb.URL)
	notice := dig(t, l.bodies("/timeout")[0].Body, "Result").(map[string]any)
	assert.Equal(t, "QT-1", notice["OriginatorConversationID"])
	assert.Equal(t, res.ConversationID, notice["ConversationID"])
	assert.NotContains(t, notice, "ResultCode", "the outcome is unknown")
	_, found := srv.Transaction("QT-1")
	assert.False(t, found, "not carried out")

	_, err = client.B2C(ctx, b2cRequest("QT-1", l))
	require.NoError(t, err, "not carried out, so the OriginatorConversationID is still free")
	waitCallbacks(t, srv, 2)
	txn, found := srv.Transaction("QT-1")
	require.True(t, found)
	assert.Equal(t, mpesa.StatusCompleted, txn.Status, "processed all the same")
	assert.Empty(t, l.bodies("/result"), "no Result, only the notices")

	flat := newServer(t, mpesatest.WithDaraja(mpesatest.Daraja{Shapes: mpesatest.ShapeFlatQueueTimeout}))
	flat.Next(mpesa.APIAccountBalance, mpesatest.Scenario{QueueTimeout: true})
	m := newRecorder(t)
	_, err = djClient(t, flat).AccountBalance(ctx, mpesa.AccountBalanceRequest{ResultURL: m.url("/result"), QueueTimeoutURL: m.url("/timeout")})
	require.NoError(t, err)
	waitCallbacks(t, flat, 1)
	body := m.bodies("/timeout")[0].Body
	assert.NotContains(t, body, "Result")
	assert.NotEmpty(t, body["ConversationID"])
	assert.NotEmpty(t, body["OriginatorConversationID"])
}

// TestDarajaResultScenarios: a result code in a scenario ends the request
// with it, in the callback; a gateway code is the error envelope, and the
// SDK sends a B2C again after spike arrest (HTTP 500 500.003.02, refused
// before M-Pesa; docs/gateways.md D23).
func TestDarajaResultScenarios(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t)
	client := djClient(t, srv)
	ctx := context.Background()
	srv.Next(mpesa.APIB2C, mpesatest.Scenario{Code: "2040"})
	_, err := client.B2C(ctx, b2cRequest("RS-1", l))
	require.NoError(t, err)
	assert.Equal(t, "2040", waitCallbacks(t, srv, 1)[0].Params["ResultCode"])
	txn, _ := srv.Transaction("RS-1")
	assert.Equal(t, mpesa.StatusFailed, txn.Status)

	srv.Next(mpesa.APIB2C, mpesatest.Scenario{Code: "500.003.02"})
	res, err := client.B2C(ctx, b2cRequest("RS-2", l))
	require.NoError(t, err, "sent again after spike arrest")
	assert.Len(t, srv.CallsTo(mpesa.APIB2C), 3)
	assert.Equal(t, "500.003.02", srv.CallsTo(mpesa.APIB2C)[1].Response["errorCode"])
	assert.Equal(t, http.StatusInternalServerError, srv.CallsTo(mpesa.APIB2C)[1].Status)
	assert.NotEmpty(t, res.ConversationID)
	waitCallbacks(t, srv, 2)

	srv.Next(mpesa.APIB2C, mpesatest.Scenario{Fault: mpesatest.FaultReset, Processed: true})
	_, err = client.B2C(ctx, b2cRequest("RS-3", l))
	assert.ErrorIs(t, err, mpesa.ErrOutcomeUnknown)
	waitCallbacks(t, srv, 3)
	txn, _ = srv.Transaction("RS-3")
	assert.Equal(t, mpesa.StatusCompleted, txn.Status)
	_, err = client.B2C(ctx, b2cRequest("RS-3", l))
	assert.ErrorIs(t, err, mpesa.ErrDuplicate, "resent with the same OriginatorConversationID: the duplicate answer")
}

// TestDarajaResultAcknowledgement: Daraja documents no acknowledgement body
// for a ResultURL (docs/gateways.md D28): any 2xx counts, unless its JSON
// ResultCode is not 0, a listener asking for the result again; a failed
// attempt is sent again as WithAsync says.
func TestDarajaResultAcknowledgement(t *testing.T) {
	l := newRecorder(t)
	n := 0
	l.answerWith(func(path string, _ map[string]any) (int, string) {
		n++
		switch n {
		case 1:
			return 503, `{}`
		case 2:
			return 200, `{"ResultCode":1,"ResultDesc":"Try again"}`
		case 3:
			return 200, `OK`
		}
		return 200, ``
	})
	srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.url("/result"), MaxAttempts: 3, Backoff: time.Millisecond}))
	_, err := djClient(t, srv).B2C(context.Background(), b2cRequest("AK-1", l))
	require.NoError(t, err)
	cb := waitCallbacks(t, srv, 1)[0]
	require.Len(t, cb.Attempts, 3)
	assert.Contains(t, cb.Attempts[0].Err, "HTTP 503")
	assert.Contains(t, cb.Attempts[1].Err, `the listener refused the result: ResultCode "1"`)
	assert.Empty(t, cb.Attempts[2].Err, "a body that is not JSON is no refusal")
	assert.True(t, cb.Acknowledged)
}
