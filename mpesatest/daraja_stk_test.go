package mpesatest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

func stkRequest(msisdn, amount, url string) mpesa.C2BRequest {
	return mpesa.C2BRequest{Amount: amount, CustomerMSISDN: msisdn, TransactionReference: "INV-1042",
		PurchasedItemsDesc: "Shoes", ResultURL: url}
}

// TestDarajaSTKPushAndCallback: the push answers the documented
// acknowledgement (MerchantRequestID, CheckoutRequestID ws_CO_…,
// ResponseCode "0", ResponseDescription, CustomerMessage), then the STK
// callback {"Body":{"stkCallback":…}} comes to the request's CallBackURL with
// ResultCode a number and CallbackMetadata items by Name (docs/gateways.md
// D8).
func TestDarajaSTKPushAndCallback(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t)
	client := djClient(t, srv)
	res, err := client.C2B(context.Background(), stkRequest(mpesatest.DarajaMSISDNSuccess, "10", l.url("/stk")))
	require.NoError(t, err)
	assert.Regexp(t, `^ws_CO_\d{20}$`, res.CheckoutRequestID)
	assert.Regexp(t, `^\d{5}-\d{8}-1$`, res.MerchantRequestID)
	assert.Equal(t, "0", res.ResponseCode)
	assert.Equal(t, "Success. Request accepted for processing", res.CustomerMessage)
	assert.True(t, res.Async())

	cbs := waitCallbacks(t, srv, 1)
	cb := cbs[0]
	assert.Equal(t, mpesatest.KindSTK, cb.Kind)
	assert.Equal(t, mpesa.APIC2B, cb.API)
	assert.Equal(t, mpesa.GatewayDaraja, cb.Gateway)
	assert.Equal(t, l.url("/stk"), cb.URL)
	assert.True(t, cb.Acknowledged, "%+v", cb.Attempts)

	got := l.bodies("/stk")
	require.Len(t, got, 1)
	stk := dig(t, got[0].Body, "Body", "stkCallback")
	assert.Equal(t, res.MerchantRequestID, dig(t, stk, "MerchantRequestID"))
	assert.Equal(t, res.CheckoutRequestID, dig(t, stk, "CheckoutRequestID"))
	assert.Equal(t, json.Number("0"), dig(t, stk, "ResultCode"), "a number in the callback")
	assert.Equal(t, "The service request is processed successfully.", dig(t, stk, "ResultDesc"))
	meta := items(t, dig(t, stk, "CallbackMetadata", "Item"))
	assert.Equal(t, "10.00", meta["Amount"])
	assert.Regexp(t, `^[A-Z]{3}[0-9A-Z]{7}$`, meta["MpesaReceiptNumber"])
	assert.Regexp(t, `^20\d{12}$`, meta["TransactionDate"])
	assert.Equal(t, mpesatest.DarajaMSISDNSuccess, meta["PhoneNumber"])
	assert.Contains(t, string(got[0].Raw), `"PhoneNumber","Value":254708374149}`, "the phone number is a JSON number")

	assert.NotContains(t, cb.Body, mpesatest.DarajaMSISDNSuccess, "the journal masks the phone number")
	assert.Equal(t, "254******149", cb.Params["PhoneNumber"])
	assert.Equal(t, meta["MpesaReceiptNumber"], cb.Params["MpesaReceiptNumber"])
	assert.Equal(t, "0", cb.Params["ResultCode"])

	txn, ok := srv.Transaction(res.CheckoutRequestID)
	require.True(t, ok)
	assert.Equal(t, mpesa.GatewayDaraja, txn.Gateway)
	assert.Equal(t, mpesa.MarketKenya, txn.Market)
	assert.Equal(t, mpesa.StatusCompleted, txn.Status)
	assert.Equal(t, meta["MpesaReceiptNumber"], txn.TransactionID)
	assert.Equal(t, res.MerchantRequestID, txn.Reference)
	assert.Equal(t, "10", txn.Amount)
	assert.Equal(t, "0", txn.ResultCode)
}

// TestDarajaSTKTestNumbers: each test number gives its documented result
// (docs/gateways.md D9), without CallbackMetadata, and the transaction its
// state; SetCustomer overrides them.
func TestDarajaSTKTestNumbers(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t)
	client := djClient(t, srv)
	cases := []struct {
		msisdn, code, desc string
		status             mpesa.TransactionStatus
	}{
		{mpesatest.DarajaMSISDNSuccess, "0", "The service request is processed successfully.", mpesa.StatusCompleted},
		{mpesatest.DarajaMSISDNCancelled, "1032", "Request cancelled by user", mpesa.StatusCancelled},
		{mpesatest.DarajaMSISDNUnreachable, "1037", "DS timeout user cannot be reached", mpesa.StatusExpired},
		{mpesatest.DarajaMSISDNInsufficientBalance, "1", "The balance is insufficient for the transaction.", mpesa.StatusFailed},
		{mpesatest.DarajaMSISDNWrongPIN, "2001", "The initiator information is invalid.", mpesa.StatusFailed},
		{"254711000000", "0", "The service request is processed successfully.", mpesa.StatusCompleted},
		{"254110000000", "0", "The service request is processed successfully.", mpesa.StatusCompleted},
	}
	for i, tc := range cases {
		res, err := client.C2B(context.Background(), stkRequest(tc.msisdn, "1", l.url("/stk")))
		require.NoError(t, err, tc.msisdn)
		cb := waitCallbacks(t, srv, i+1)[i]
		assert.Equal(t, tc.code, cb.Params["ResultCode"], tc.msisdn)
		assert.Equal(t, tc.desc, cb.Params["ResultDesc"], tc.msisdn)
		_, hasMeta := cb.Params["MpesaReceiptNumber"]
		assert.Equal(t, tc.code == "0", hasMeta, "%s: CallbackMetadata on success only", tc.msisdn)
		txn, _ := srv.Transaction(res.CheckoutRequestID)
		assert.Equal(t, tc.status, txn.Status, tc.msisdn)
		assert.Equal(t, tc.code, txn.ResultCode, tc.msisdn)
		assert.Equal(t, tc.code == "0", txn.TransactionID != "", tc.msisdn)
	}

	srv.SetCustomer(mpesatest.DarajaMSISDNCancelled, mpesatest.Customer{Outcome: mpesatest.OutcomeSuccess})
	srv.SetCustomer("254722000001", mpesatest.Customer{Outcome: mpesatest.OutcomePromptTimeout})
	_, err := client.C2B(context.Background(), stkRequest(mpesatest.DarajaMSISDNCancelled, "2", l.url("/stk")))
	require.NoError(t, err)
	_, err = client.C2B(context.Background(), stkRequest("254722000001", "2", l.url("/stk")))
	require.NoError(t, err)
	cbs := waitCallbacks(t, srv, len(cases)+2)
	byPhone := map[string]string{}
	for _, cb := range cbs[len(cases):] {
		byPhone[cb.Params["CheckoutRequestID"]] = cb.Params["ResultCode"]
	}
	assert.ElementsMatch(t, []string{"0", "1037"}, values(byPhone))
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestDarajaSTKQueryWhilePending: while the prompt is open the STK query
// answers HTTP 500 500.001.1001 "The transaction is being processed", which
// the SDK reads as pending; after the callback it answers the result, its
// codes as strings (docs/gateways.md D8, D9). An unknown CheckoutRequestID is
// 400.002.02.
func TestDarajaSTKQueryWhilePending(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t, mpesatest.WithDaraja(mpesatest.Daraja{Delay: time.Second}))
	client := djClient(t, srv)
	ctx := context.Background()
	res, err := client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNCancelled, "5", l.url("/stk")))
	require.NoError(t, err)

	st, err := client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: res.CheckoutRequestID})
	require.NoError(t, err)
	assert.Equal(t, mpesa.StatusPending, st.TransactionStatus)
	q := srv.CallsTo(mpesa.APISTKQuery)
	require.Len(t, q, 1)
	assert.Equal(t, http.StatusInternalServerError, q[0].Status)
	assert.Equal(t, "500.001.1001", q[0].Response["errorCode"])
	assert.Equal(t, "The transaction is being processed", q[0].Response["errorMessage"])
	txn, _ := srv.Transaction(res.CheckoutRequestID)
	assert.Equal(t, mpesa.StatusPending, txn.Status)

	waitCallbacks(t, srv, 1)
	st, err = client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: res.CheckoutRequestID})
	require.NoError(t, err)
	assert.Equal(t, mpesa.StatusCancelled, st.TransactionStatus)
	assert.Equal(t, "1032", st.ResultCode)
	q = srv.CallsTo(mpesa.APISTKQuery)
	assert.Equal(t, map[string]string{"ResponseCode": "0", "ResponseDescription": "The service request has been accepted successsfully",
		"MerchantRequestID": res.MerchantRequestID, "CheckoutRequestID": res.CheckoutRequestID, "ResultCode": "1032",
		"ResultDesc": "Request cancelled by user"}, q[1].Response)

	_, err = client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: "ws_CO_01012020000000000000"})
	assert.ErrorIs(t, err, mpesa.ErrInvalidRequest)
	q = srv.CallsTo(mpesa.APISTKQuery)
	assert.Equal(t, "Bad Request - Invalid CheckoutRequestID", q[len(q)-1].Response["errorMessage"])
}

// TestDarajaSTKOnePromptPerSubscriber: while a customer's prompt is open,
// another push to the same phone answers 500.001.1001 "Unable to lock
// subscriber…" (docs/gateways.md D9, D10), which the SDK reports as
// ErrCustomerBusy without resending; once the prompt is answered the phone
// takes pushes again.
func TestDarajaSTKOnePromptPerSubscriber(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t, mpesatest.WithDaraja(mpesatest.Daraja{Delay: time.Second}))
	client := djClient(t, srv)
	ctx := context.Background()
	_, err := client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNSuccess, "5", l.url("/stk")))
	require.NoError(t, err)
	_, err = client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNSuccess, "6", l.url("/stk")))
	assert.ErrorIs(t, err, mpesa.ErrCustomerBusy)
	calls := srv.CallsTo(mpesa.APIC2B)
	require.Len(t, calls, 2, "never resent")
	assert.True(t, strings.HasPrefix(calls[1].Response["errorMessage"], "Unable to lock subscriber"))
	_, err = client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNCancelled, "5", l.url("/stk")))
	assert.NoError(t, err, "another phone is not locked")

	waitCallbacks(t, srv, 2)
	_, err = client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNSuccess, "6", l.url("/stk")))
	assert.NoError(t, err, "the prompt was answered")
	waitCallbacks(t, srv, 3)
}

// TestDarajaSTKSameAmountWithinTwoMinutes: the same amount from the same
// customer within two minutes of a payment ends with result 17 "Rule
// limited" (docs/gateways.md D9, D10), by the simulator's clock.
func TestDarajaSTKSameAmountWithinTwoMinutes(t *testing.T) {
	var mu sync.Mutex
	skew := time.Duration(0)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return time.Now().Add(skew)
	}
	l := newRecorder(t)
	srv := newServer(t, mpesatest.WithClock(clock))
	client := djClient(t, srv)
	ctx := context.Background()
	push := func(msisdn, amount string, n int) string {
		_, err := client.C2B(ctx, stkRequest(msisdn, amount, l.url("/stk")))
		require.NoError(t, err)
		return waitCallbacks(t, srv, n)[n-1].Params["ResultCode"]
	}
	assert.Equal(t, "0", push(mpesatest.DarajaMSISDNSuccess, "100", 1))
	assert.Equal(t, "17", push(mpesatest.DarajaMSISDNSuccess, "100", 2))
	assert.Equal(t, "0", push(mpesatest.DarajaMSISDNSuccess, "101", 3), "another amount")
	assert.Equal(t, "0", push("254711000000", "100", 4), "another customer")
	mu.Lock()
	skew = 2*time.Minute + time.Second
	mu.Unlock()
	assert.Equal(t, "0", push(mpesatest.DarajaMSISDNSuccess, "100", 5), "two minutes later")
	txns := srv.Transactions()
	assert.Equal(t, mpesa.StatusFailed, txns[1].Status)
	assert.Equal(t, "17", txns[1].ResultCode)
}

// TestDarajaSTKPasswordAndTimestamp: the Password must be
// base64(shortcode + passkey + Timestamp) of the very Timestamp sent, else
// 500.001.1001 "Wrong credentials"; the Timestamp is read in East Africa
// Time and must be near the clock, so a timestamp of another zone (UTC,
// three hours behind), however consistent with its Password, is 400.002.02
// "Bad Request - Invalid Timestamp" (docs/gateways.md D7, D9). A shortcode
// without that passkey is "Merchant does not exist".
func TestDarajaSTKPasswordAndTimestamp(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t)
	c := newDJRaw(t, srv)
	const path = "/mpesa/stkpush/v1/processrequest"
	body := stkBody(srv, mpesatest.DarajaMSISDNSuccess, "1", l.url("/stk"))
	status, out := c.post(path, body)
	require.Equal(t, http.StatusOK, status, out)
	waitCallbacks(t, srv, 1)

	now := time.Now()
	later := now.Add(time.Second).In(eatZone).Format("20060102150405")
	utc := now.UTC().Format("20060102150405")
	for name, tc := range map[string]struct {
		changes []string
		status  int
		code    string
		msg     string
	}{
		"password of another second": {[]string{"Password", stkPassword(srv, later)}, 500, "500.001.1001", "Wrong credentials"},
		"another passkey": {[]string{"Password", base64Of(srv.Daraja().Shortcode + "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919" + body["Timestamp"])},
			500, "500.001.1001", "Wrong credentials"},
		"timestamp in UTC":        {[]string{"Timestamp", utc, "Password", stkPassword(srv, utc)}, 400, "400.002.02", "Bad Request - Invalid Timestamp"},
		"timestamp not a date":    {[]string{"Timestamp", "20241399250000", "Password", stkPassword(srv, "20241399250000")}, 400, "400.002.02", "Bad Request - Invalid Timestamp"},
		"timestamp with a zone":   {[]string{"Timestamp", now.Format(time.RFC3339)}, 400, "400.002.02", "Bad Request - Invalid Timestamp"},
		"shortcode not the app's": {[]string{"BusinessShortCode", "600000", "PartyB", "600000"}, 500, "500.001.1001", "Merchant does not exist"},
	} {
		status, out := c.post(path, with(body, tc.changes...))
		assert.Equal(t, tc.status, status, name)
		assert.Equal(t, tc.code, out["errorCode"], name)
		assert.Equal(t, tc.msg, out["errorMessage"], name)
	}
	assert.Len(t, srv.Transactions(), 1, "nothing refused was carried out")

	client := djClient(t, srv, mpesa.WithPasskey("not-the-passkey"))
	_, err := client.C2B(context.Background(), stkRequest(mpesatest.DarajaMSISDNSuccess, "1", l.url("/stk")))
	assert.ErrorIs(t, err, mpesa.ErrUnauthorized, "500.001.1001 Wrong credentials")

	lax := newServer(t, mpesatest.WithDaraja(mpesatest.Daraja{TimestampWindow: -1}))
	status, out = newDJRaw(t, lax).post(path, with(stkBody(lax, mpesatest.DarajaMSISDNSuccess, "1", l.url("/stk")),
		"Timestamp", utc, "Password", stkPassword(lax, utc)))
	assert.Equal(t, http.StatusOK, status, "a negative TimestampWindow takes any time: %v", out)
	waitCallbacks(t, lax, 1)
}

func base64Of(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestDarajaSTKFieldRules: every field is checked as the portal page
// MpesaExpressSimulate says (docs/gateways.md D6, D25), a broken one
// answering 400.002.02 "Bad Request - Invalid <field>"; the limits come as
// results (2, 3; 2028 for a pay bill push whose PartyB is another
// shortcode). Amounts may be JSON numbers; a body without the JSON media
// type is "Invalid BusinessShortCode" (FAQ 9).
func TestDarajaSTKFieldRules(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t)
	c := newDJRaw(t, srv)
	const path = "/mpesa/stkpush/v1/processrequest"
	body := stkBody(srv, mpesatest.DarajaMSISDNSuccess, "1", l.url("/stk"))
	for field, bad := range map[string]string{
		"BusinessShortCode": "1743790",
		"TransactionType":   "CustomerPayBill",
		"Amount":            "1.50",
		"PartyA":            "0708374149",
		"PartyB":            "12",
		"PhoneNumber":       "+254708374149",
		"CallBackURL":       l.url("/stk") + " ",
		"AccountReference":  "INV-10420000X",
		"TransactionDesc":   "Shoes and bags",
		"Password":          "-",
	} {
		status, out := c.post(path, with(body, field, bad))
		assert.Equal(t, http.StatusBadRequest, status, field)
		assert.Equal(t, "400.002.02", out["errorCode"], field)
		assert.Equal(t, "Bad Request - Invalid "+field, out["errorMessage"], field)
	}
	status, out := c.do(http.MethodPost, path, body, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") })
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "Bad Request - Invalid BusinessShortCode", out["errorMessage"])
	status, out = c.post(path, "not an object")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "400.002.05", out["errorCode"])
	assert.Empty(t, srv.Transactions())

	numeric := map[string]any{}
	for k, v := range with(body, "TransactionDesc", "-") {
		numeric[k] = v
	}
	numeric["Amount"] = 1
	status, out = c.post(path, numeric)
	require.Equal(t, http.StatusOK, status, "a bare number and no TransactionDesc: %v", out)
	waitCallbacks(t, srv, 1)

	for i, tc := range []struct{ changes []string }{
		{[]string{"Amount", "0"}},
		{[]string{"Amount", "250001"}},
		{[]string{"PartyB", "600000"}},
	} {
		status, out := c.post(path, with(body, tc.changes...))
		require.Equal(t, http.StatusOK, status, out)
		cb := waitCallbacks(t, srv, i+2)[i+1]
		assert.Equal(t, []string{"2", "3", "2028"}[i], cb.Params["ResultCode"], tc.changes)
	}
}

// TestDarajaSTKScenarios: a gateway code in a scenario is the error
// envelope (spike arrest, HTTP 500, which the SDK does not resend for an STK
// push); a result code lets the push through and ends it with that code;
// the faults play as on the other gateways.
func TestDarajaSTKScenarios(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t)
	client := djClient(t, srv)
	ctx := context.Background()

	srv.Next(mpesa.APIC2B, mpesatest.Scenario{Code: "500.003.02"})
	_, err := client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNSuccess, "1", l.url("/stk")))
	assert.ErrorIs(t, err, mpesa.ErrOverloaded)
	assert.Len(t, srv.CallsTo(mpesa.APIC2B), 1, "an STK push is never resent")
	var e *mpesa.Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, http.StatusInternalServerError, e.HTTPStatus)
	assert.Equal(t, "Spike Arrest Violation", e.Description)

	srv.Next(mpesa.APIC2B, mpesatest.Scenario{Code: "1019"})
	res, err := client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNSuccess, "1", l.url("/stk")))
	require.NoError(t, err)
	cb := waitCallbacks(t, srv, 1)[0]
	assert.Equal(t, "1019", cb.Params["ResultCode"])
	txn, _ := srv.Transaction(res.CheckoutRequestID)
	assert.Equal(t, mpesa.StatusExpired, txn.Status)

	srv.Next(mpesa.APISTKQuery, mpesatest.Scenario{Code: "1032"})
	st, err := client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: res.CheckoutRequestID})
	require.NoError(t, err)
	assert.Equal(t, mpesa.StatusCancelled, st.TransactionStatus)

	srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.FaultHang, Processed: true})
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = client.C2B(short, stkRequest("254711000009", "1", l.url("/stk")))
	cancel()
	assert.ErrorIs(t, err, mpesa.ErrOutcomeUnknown)
	waitCallbacks(t, srv, 2)
	last := srv.Transactions()[len(srv.Transactions())-1]
	assert.Equal(t, mpesa.StatusCompleted, last.Status, "processed: the customer paid, only the answer was lost")

	srv.Next(mpesa.APIToken, mpesatest.Scenario{Fault: mpesatest.FaultHTML})
	srv.ExpireTokens()
	_, err = client.C2B(ctx, stkRequest("254711000010", "1", l.url("/stk")))
	assert.NoError(t, err, "a token request answered with an HTML page (seen live, docs/gateways.md D3) is asked again")
	tokens := srv.CallsTo(mpesa.APIToken)
	require.Len(t, tokens, 3)
	require.NotNil(t, tokens[1].Scenario)
	assert.Equal(t, mpesatest.FaultHTML, tokens[1].Scenario.Fault)

	assert.Panics(t, func() { srv.Next(mpesa.APIC2B, mpesatest.Scenario{Code: "999.999.99"}) })
}
