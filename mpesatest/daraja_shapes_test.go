package mpesatest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// shapeRun makes one callback of each kind under shape: an STK success, a
// B2C success, a B2B success, a balance, a reversal that fails (R000002),
// and returns the bodies by path.
func shapeRun(t *testing.T, shape mpesatest.Shape) *recorder {
	t.Helper()
	l := newRecorder(t)
	srv := newServer(t, mpesatest.WithDaraja(mpesatest.Daraja{Shapes: shape}))
	client := djClient(t, srv)
	ctx := context.Background()
	urls := func(path string) (string, string) { return l.url(path), l.url("/timeout") }
	_, err := client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNSuccess, "1", l.url("/stk")))
	require.NoError(t, err)
	r, q := urls("/b2c")
	_, err = client.B2C(ctx, mpesa.B2CRequest{Amount: "100", CustomerMSISDN: mpesatest.DarajaMSISDNSuccess,
		PaymentItemsDesc: "Refund", ResultURL: r, QueueTimeoutURL: q})
	require.NoError(t, err)
	r, q = urls("/b2b")
	_, err = client.B2B(ctx, mpesa.B2BRequest{Amount: "50", ReceiverPartyCode: "000000", TransactionReference: "353353",
		PurchasedItemsDesc: "Stock", ResultURL: r, QueueTimeoutURL: q})
	require.NoError(t, err)
	r, q = urls("/balance")
	_, err = client.AccountBalance(ctx, mpesa.AccountBalanceRequest{ResultURL: r, QueueTimeoutURL: q})
	require.NoError(t, err)
	r, q = urls("/reversal")
	_, err = client.Reversal(ctx, mpesa.ReversalRequest{TransactionID: "NLJ0000XYZ", ReversalAmount: "1", ResultURL: r, QueueTimeoutURL: q})
	require.NoError(t, err)
	waitCallbacks(t, srv, 5)
	return l
}

func result(t *testing.T, l *recorder, path string) map[string]any {
	t.Helper()
	return resultOf(t, l, path, 0)
}

// count returns how many items of a list have the key or name k.
func count(v any, k string) int {
	n := 0
	list, _ := v.([]any)
	for _, e := range list {
		m := e.(map[string]any)
		if m["Key"] == k || m["Name"] == k {
			n++
		}
	}
	return n
}

// TestDarajaDocumentedShapes: without shapes each page's sample shape is
// sent (docs/gateways.md D8, D20): numbers on B2C and reversal, strings on
// balance and B2B, ResultParameter an array, ReferenceItem an object but on
// B2B, an alphanumeric code a string.
func TestDarajaDocumentedShapes(t *testing.T) {
	l := shapeRun(t, 0)
	stk := dig(t, l.bodies("/stk")[0].Body, "Body", "stkCallback")
	assert.Equal(t, json.Number("0"), dig(t, stk, "ResultCode"))
	b2c, b2b, bal, rev := result(t, l, "/b2c"), result(t, l, "/b2b"), result(t, l, "/balance"), result(t, l, "/reversal")
	assert.Equal(t, json.Number("0"), b2c["ResultCode"])
	assert.Equal(t, "0", b2b["ResultCode"])
	assert.Equal(t, "0", bal["ResultCode"])
	assert.Equal(t, "0", bal["ResultType"])
	assert.Equal(t, "R000002", rev["ResultCode"])
	assert.IsType(t, []any{}, dig(t, b2c, "ResultParameters", "ResultParameter"))
	assert.IsType(t, map[string]any{}, dig(t, b2c, "ReferenceData", "ReferenceItem"))
	assert.IsType(t, []any{}, dig(t, b2b, "ReferenceData", "ReferenceItem"))
	assert.NotContains(t, rev, "ResultParameters", "no parameters on failure")
	assert.Equal(t, 1, count(dig(t, b2c, "ResultParameters", "ResultParameter"), "TransactionAmount"))
	assert.NotContains(t, items(t, dig(t, stk, "CallbackMetadata", "Item")), "Balance")
}

// TestDarajaShapeVariations: each shape changes every callback it can apply
// to, as docs/gateways.md D20 lists Daraja's inconsistencies.
func TestDarajaShapeVariations(t *testing.T) {
	checks := map[mpesatest.Shape]func(t *testing.T, l *recorder){
		mpesatest.ShapeResultCodeString: func(t *testing.T, l *recorder) {
			assert.Equal(t, "0", dig(t, l.bodies("/stk")[0].Body, "Body", "stkCallback", "ResultCode"))
			assert.Equal(t, "0", result(t, l, "/b2c")["ResultCode"])
			assert.Equal(t, "0", result(t, l, "/b2c")["ResultType"])
		},
		mpesatest.ShapeResultCodeNumber: func(t *testing.T, l *recorder) {
			assert.Equal(t, json.Number("0"), result(t, l, "/balance")["ResultCode"])
			assert.Equal(t, json.Number("0"), result(t, l, "/b2b")["ResultCode"])
			assert.Equal(t, "R000002", result(t, l, "/reversal")["ResultCode"], "alphanumeric codes stay strings")
		},
		mpesatest.ShapeParameterObject: func(t *testing.T, l *recorder) {
			p := dig(t, result(t, l, "/b2c"), "ResultParameters", "ResultParameter")
			require.IsType(t, map[string]any{}, p)
			assert.Equal(t, "TransactionAmount", p.(map[string]any)["Key"])
			assert.IsType(t, map[string]any{}, dig(t, result(t, l, "/balance"), "ResultParameters", "ResultParameter"))
		},
		mpesatest.ShapeReferenceItemObject: func(t *testing.T, l *recorder) {
			ri := dig(t, result(t, l, "/b2b"), "ReferenceData", "ReferenceItem")
			require.IsType(t, map[string]any{}, ri)
			assert.Equal(t, "BillReferenceNumber", ri.(map[string]any)["Key"])
		},
		mpesatest.ShapeReferenceItemArray: func(t *testing.T, l *recorder) {
			assert.IsType(t, []any{}, dig(t, result(t, l, "/b2c"), "ReferenceData", "ReferenceItem"))
			assert.IsType(t, []any{}, dig(t, result(t, l, "/balance"), "ReferenceData", "ReferenceItem"))
		},
		mpesatest.ShapeMissingValue: func(t *testing.T, l *recorder) {
			stkItems := dig(t, l.bodies("/stk")[0].Body, "Body", "stkCallback", "CallbackMetadata", "Item").([]any)
			assert.Contains(t, stkItems, map[string]any{"Name": "Balance"})
			params := dig(t, result(t, l, "/b2c"), "ResultParameters", "ResultParameter").([]any)
			assert.Contains(t, params, map[string]any{"Key": "TransactionReason"})
		},
		mpesatest.ShapeRepeatedKeys: func(t *testing.T, l *recorder) {
			assert.Equal(t, 2, count(dig(t, result(t, l, "/b2c"), "ResultParameters", "ResultParameter"), "TransactionAmount"))
			assert.Equal(t, 2, count(dig(t, result(t, l, "/balance"), "ResultParameters", "ResultParameter"), "AccountBalance"))
		},
		mpesatest.ShapeFlatQueueTimeout: func(*testing.T, *recorder) {}, // TestDarajaQueueTimeout
		mpesatest.ShapeExpiresInNumber:  func(*testing.T, *recorder) {}, // TestDarajaTokenAnswers
	}
	require.Len(t, mpesatest.Shapes(), len(checks), "every shape is tested")
	for _, sh := range mpesatest.Shapes() {
		sh := sh
		t.Run(sh.String(), func(t *testing.T) { checks[sh](t, shapeRun(t, sh)) })
	}

	t.Run("combined", func(t *testing.T) {
		l := shapeRun(t, mpesatest.ShapeResultCodeString|mpesatest.ShapeParameterObject|mpesatest.ShapeReferenceItemArray)
		b2c := result(t, l, "/b2c")
		assert.Equal(t, "0", b2c["ResultCode"])
		assert.IsType(t, map[string]any{}, dig(t, b2c, "ResultParameters", "ResultParameter"))
		assert.IsType(t, []any{}, dig(t, b2c, "ReferenceData", "ReferenceItem"))
	})
	assert.Equal(t, "ResultCodeString|ParameterObject", (mpesatest.ShapeResultCodeString | mpesatest.ShapeParameterObject).String())
	assert.Equal(t, "documented", mpesatest.Shape(0).String())
	for _, bad := range []mpesatest.Shape{mpesatest.ShapeResultCodeString | mpesatest.ShapeResultCodeNumber,
		mpesatest.ShapeReferenceItemObject | mpesatest.ShapeReferenceItemArray, 1 << 20} {
		assert.Panics(t, func() { mpesatest.NewServer(mpesatest.WithDaraja(mpesatest.Daraja{Shapes: bad})) }, bad.String())
	}
}

// TestDarajaJournalKeepsNoSecret: Calls, Callbacks and Transactions hold no
// consumer secret, Basic header, access token, passkey, STK Password,
// SecurityCredential or initiator password, and no full phone number, while
// the simulator still decides on the real ones.
func TestDarajaJournalKeepsNoSecret(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t)
	client := djClient(t, srv)
	ctx := context.Background()
	_, err := client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNCancelled, "1", l.url("/stk")))
	require.NoError(t, err)
	_, err = client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNSuccess, "1", l.url("/stk")))
	require.NoError(t, err)
	_, err = client.B2C(ctx, b2cRequest("JR-1", l))
	require.NoError(t, err)
	_, err = client.AccountBalance(ctx, mpesa.AccountBalanceRequest{ResultURL: l.url("/result"), QueueTimeoutURL: l.url("/timeout")})
	require.NoError(t, err)
	_, err = registerAndPayClient(client, l)
	require.NoError(t, err)
	_, err = client.PullRegister(ctx, mpesa.PullRegisterRequest{NominatedNumber: "254722000123", CallbackURL: l.url("/pull")})
	require.NoError(t, err)
	cbs := waitCallbacks(t, srv, 6)
	assert.Equal(t, "1032", cbs[0].Params["ResultCode"], "decided on the real number")
	raw := newDJRaw(t, srv)
	old := raw.token
	raw.newToken()
	raw.token = old
	raw.post("/mpesa/accountbalance/v1/query", map[string]string{}) // quotes the stale token

	d := srv.Daraja()
	var tokens []string
	for _, call := range srv.CallsTo(mpesa.APIToken) {
		require.Equal(t, mpesatest.Redacted, call.Response["access_token"])
	}
	tokens = append(tokens, old, raw.token)
	data, err := json.Marshal(struct {
		Calls        []mpesatest.Call
		Callbacks    []mpesatest.Callback
		Transactions []mpesatest.Transaction
	}{srv.Calls(), srv.Callbacks(), srv.Transactions()})
	require.NoError(t, err)
	dump := string(data) + fmt.Sprintf("%#v %#v %#v", srv.Calls(), srv.Callbacks(), srv.Transactions())
	secrets := append([]string{string(d.ConsumerSecret), basicAuth(srv.APIKey(), string(d.ConsumerSecret))[6:],
		string(d.Passkey), string(d.InitiatorPassword)}, tokens...)
	for _, call := range srv.CallsTo(mpesa.APIC2B) {
		assert.Equal(t, mpesatest.Redacted, call.Params["Password"])
		assert.Regexp(t, `^254\*{6}\d{3}$`, call.Params["PhoneNumber"])
		assert.Regexp(t, `^254\*{6}\d{3}$`, call.Params["PartyA"])
	}
	for _, s := range secrets {
		assert.NotContains(t, dump, s)
	}
	for _, phone := range []string{mpesatest.DarajaMSISDNSuccess, mpesatest.DarajaMSISDNCancelled, "254722000123"} {
		assert.NotContains(t, dump, phone)
	}
	b2c := srv.CallsTo(mpesa.APIB2C)[0]
	assert.Equal(t, mpesatest.Redacted, b2c.Params["SecurityCredential"])
	assert.Equal(t, "254******149", b2c.Params["PartyB"])
	assert.Equal(t, "600996", b2c.Params["PartyA"], "a shortcode is not masked")
	assert.Equal(t, http.StatusOK, b2c.Status)
}

func registerAndPayClient(client *mpesa.Client, l *recorder) (*mpesa.SimulateC2BResponse, error) {
	ctx := context.Background()
	if _, err := client.RegisterC2BURLs(ctx, mpesa.RegisterC2BURLsRequest{ResponseType: mpesa.C2BResponseCompleted,
		ConfirmationURL: l.url("/confirmation"), ValidationURL: l.url("/validation")}); err != nil {
		return nil, err
	}
	return client.SimulateC2B(ctx, mpesa.SimulateC2BRequest{Amount: "5", MSISDN: mpesatest.DarajaMSISDNSuccess})
}
