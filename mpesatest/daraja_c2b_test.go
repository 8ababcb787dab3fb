package mpesatest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// registerAndPay registers l's /validation and /confirmation for the
// client's shortcode and simulates a payment of 250 from the sandbox's test
// number.
func registerAndPay(t *testing.T, client *mpesa.Client, l *recorder, responseType string) *mpesa.SimulateC2BResponse {
	t.Helper()
	ctx := context.Background()
	reg, err := client.RegisterC2BURLs(ctx, mpesa.RegisterC2BURLsRequest{ResponseType: responseType,
		ConfirmationURL: l.url("/confirmation"), ValidationURL: l.url("/validation")})
	require.NoError(t, err)
	assert.Equal(t, "0", reg.ResponseCode)
	assert.NotEmpty(t, reg.OriginatorConversationID, "read from the misspelt OriginatorCoversationID")
	res, err := client.SimulateC2B(ctx, mpesa.SimulateC2BRequest{Amount: "250", MSISDN: mpesatest.DarajaMSISDNSuccess,
		BillRefNumber: "ACC-7"})
	require.NoError(t, err)
	return res
}

// TestDarajaC2BValidationThenConfirmation: C2B simulate posts the
// validation body to the registered ValidationURL; on the merchant's
// {"ResultCode":"0","ResultDesc":"Accepted"} it posts the confirmation,
// same shape with OrgAccountBalance filled and the ThirdPartyTransID of the
// validation answer echoed; v2 masks the MSISDN (docs/gateways.md D5, D13,
// D14).
func TestDarajaC2BValidationThenConfirmation(t *testing.T) {
	l := newRecorder(t)
	l.answerWith(func(path string, body map[string]any) (int, string) {
		if path == "/validation" {
			return 200, `{"ResultCode":"0","ResultDesc":"Accepted","ThirdPartyTransID":"order-88"}`
		}
		return documentedAnswer(path, body)
	})
	srv := newServer(t)
	client := djClient(t, srv)
	res := registerAndPay(t, client, l, mpesa.C2BResponseCancelled)
	assert.Equal(t, "0", res.ResponseCode)
	assert.Equal(t, "Accept the service request successfully.", res.ResponseDesc)

	cbs := waitCallbacks(t, srv, 2)
	assert.Equal(t, "validation,confirmation", kinds(cbs))
	for _, cb := range cbs {
		assert.True(t, cb.Acknowledged, "%s: %+v", cb.Kind, cb.Attempts)
		assert.Equal(t, mpesa.APIC2BSimulate, cb.API)
	}
	v, c := l.bodies("/validation"), l.bodies("/confirmation")
	require.Len(t, v, 1)
	require.Len(t, c, 1)
	for _, b := range []map[string]any{v[0].Body, c[0].Body} {
		assert.Equal(t, "Pay Bill", b["TransactionType"])
		assert.Regexp(t, `^[A-Z]{3}[0-9A-Z]{7}$`, b["TransID"])
		assert.Regexp(t, `^20\d{12}$`, b["TransTime"])
		assert.Equal(t, "250.00", b["TransAmount"])
		assert.Equal(t, mpesatest.DarajaShortcode, b["BusinessShortCode"])
		assert.Equal(t, "ACC-7", b["BillRefNumber"])
		assert.Equal(t, "2547 ***** 149", b["MSISDN"], "v2 masks the MSISDN")
		assert.Contains(t, b, "FirstName")
		assert.Contains(t, b, "MiddleName")
		assert.Contains(t, b, "LastName")
		assert.Contains(t, b, "InvoiceNumber")
	}
	assert.Equal(t, v[0].Body["TransID"], c[0].Body["TransID"])
	assert.Equal(t, "", v[0].Body["OrgAccountBalance"], "blank on validation")
	assert.Equal(t, "500250.00", c[0].Body["OrgAccountBalance"], "the new balance on confirmation")
	assert.Equal(t, "", v[0].Body["ThirdPartyTransID"])
	assert.Equal(t, "order-88", c[0].Body["ThirdPartyTransID"], "echoed from the validation answer")

	txn, ok := srv.Transaction(c[0].Body["TransID"].(string))
	require.True(t, ok)
	assert.Equal(t, mpesa.StatusCompleted, txn.Status)
	assert.Equal(t, mpesa.APIC2BSimulate, txn.API)
	assert.Equal(t, "250", txn.Amount)
}

// TestDarajaC2BValidationRejects: a merchant's C2B0001x answer rejects the
// payment: no confirmation follows, and the payment is cancelled with the
// merchant's code (docs/gateways.md D13).
func TestDarajaC2BValidationRejects(t *testing.T) {
	l := newRecorder(t)
	l.answerWith(func(path string, body map[string]any) (int, string) {
		if path == "/validation" {
			return 200, `{"ResultCode":"C2B00012","ResultDesc":"Rejected"}`
		}
		return documentedAnswer(path, body)
	})
	srv := newServer(t)
	res := registerAndPay(t, djClient(t, srv), l, mpesa.C2BResponseCompleted)
	cbs := waitCallbacks(t, srv, 1)
	time.Sleep(50 * time.Millisecond)
	assert.Len(t, srv.Callbacks(), 1, "no confirmation of a rejected payment")
	assert.True(t, cbs[0].Acknowledged, "a rejection is an answer as documented")
	assert.Equal(t, "C2B00012", cbs[0].Attempts[0].Ack["ResultCode"])
	assert.Empty(t, l.bodies("/confirmation"))
	txn, ok := srv.Transaction(res.OriginatorConversationID)
	require.True(t, ok)
	assert.Equal(t, mpesa.StatusCancelled, txn.Status)
	assert.Equal(t, "C2B00012", txn.ResultCode)
	assert.Empty(t, txn.TransactionID)
}

// TestDarajaC2BValidationNoAnswerInTime: when the validation answer does
// not come within the timeout (about 8 s on Daraja), or is not as
// documented, the registered ResponseType decides: Completed sends the
// confirmation, Cancelled does not (docs/gateways.md D12, D13).
func TestDarajaC2BValidationNoAnswerInTime(t *testing.T) {
	late := func() (int, string) {
		time.Sleep(time.Second)
		return 200, `{"ResultCode":"0","ResultDesc":"Accepted"}`
	}
	for _, tc := range []struct {
		name, responseType string
		timeout            time.Duration
		answer             func() (int, string)
		confirmed          bool
		reason             string
	}{
		{"late, Completed", mpesa.C2BResponseCompleted, 100 * time.Millisecond, late, true, "Timeout"},
		{"late, Cancelled", mpesa.C2BResponseCancelled, 100 * time.Millisecond, late, false, "Timeout"},
		{"ResultCode a number", mpesa.C2BResponseCancelled, 0, func() (int, string) {
			return 200, `{"ResultCode":0,"ResultDesc":"Accepted"}`
		}, false, "ResultCode is 0, not a JSON string"},
		{"no ResultDesc", mpesa.C2BResponseCompleted, 0, func() (int, string) {
			return 200, `{"ResultCode":"C2B00011"}`
		}, true, "ResultDesc is missing"},
		{"HTTP 500", mpesa.C2BResponseCancelled, 0, func() (int, string) {
			return 500, `{"ResultCode":"0","ResultDesc":"Accepted"}`
		}, false, "listener answered HTTP 500"},
	} {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newRecorder(t)
			l.answerWith(func(path string, body map[string]any) (int, string) {
				if path == "/validation" {
					return tc.answer()
				}
				return documentedAnswer(path, body)
			})
			srv := newServer(t, mpesatest.WithDaraja(mpesatest.Daraja{ValidationTimeout: tc.timeout}))
			res := registerAndPay(t, djClient(t, srv), l, tc.responseType)
			n := 1
			if tc.confirmed {
				n = 2
			}
			cbs := waitCallbacks(t, srv, n)
			v := cbs[0]
			assert.Equal(t, mpesatest.KindValidation, v.Kind)
			assert.False(t, v.Acknowledged)
			require.Len(t, v.Attempts, 1, "the validation is asked once")
			assert.Contains(t, v.Attempts[0].Err, tc.reason)
			txn, _ := srv.Transaction(res.OriginatorConversationID)
			if tc.confirmed {
				assert.Equal(t, mpesatest.KindConfirmation, cbs[1].Kind)
				assert.Equal(t, mpesa.StatusCompleted, txn.Status)
			} else {
				time.Sleep(50 * time.Millisecond)
				assert.Len(t, srv.Callbacks(), 1)
				assert.Equal(t, mpesa.StatusCancelled, txn.Status)
			}
		})
	}
}

// TestDarajaC2BConfirmationAcknowledgement: the confirmation is answered
// {"ResultCode": 0, "ResultDesc": "Success"} (docs/gateways.md D13, D28); an
// answer otherwise does not count and the confirmation is sent again.
func TestDarajaC2BConfirmationAcknowledgement(t *testing.T) {
	l := newRecorder(t)
	n := 0
	l.answerWith(func(path string, body map[string]any) (int, string) {
		if path != "/confirmation" {
			return documentedAnswer(path, body)
		}
		n++
		switch n {
		case 1:
			return 200, `{"ResultCode":"0","ResultDesc":"Success"}`
		case 2:
			return 200, `{"ResultCode":1,"ResultDesc":"Success"}`
		case 3:
			return 200, `{"ResultCode":0,"ResultDesc":" "}`
		}
		return 200, `{"ResultCode":0,"ResultDesc":"Success"}`
	})
	srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.url("/result"), MaxAttempts: 4, Backoff: time.Millisecond}))
	registerAndPay(t, djClient(t, srv), l, mpesa.C2BResponseCompleted)
	cb := waitCallbacks(t, srv, 2)[1]
	require.Len(t, cb.Attempts, 4)
	assert.Contains(t, cb.Attempts[0].Err, `ResultCode is the string "0", want the number 0`)
	assert.Contains(t, cb.Attempts[1].Err, "ResultCode is 1, want 0")
	assert.Contains(t, cb.Attempts[2].Err, "ResultDesc is empty")
	assert.Empty(t, cb.Attempts[3].Err)
	assert.True(t, cb.Acknowledged)
	assert.Len(t, l.bodies("/confirmation"), 4)
}

// TestDarajaC2BVersions: v1 callbacks carry the MSISDN SHA-256-hashed, v2
// masked (CustomerToBusiness FAQ 3; docs/gateways.md D5), by the version of
// the registration; an app with one C2B product answers the other version
// 401.003.01, ErrAPINotEnabled (docs/gateways.md D4).
func TestDarajaC2BVersions(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t, mpesatest.WithDaraja(mpesatest.Daraja{SkipValidation: true}))
	registerAndPay(t, djClient(t, srv, mpesa.WithC2BVersion(1)), l, mpesa.C2BResponseCompleted)
	cbs := waitCallbacks(t, srv, 1)
	assert.Equal(t, mpesatest.KindConfirmation, cbs[0].Kind, "SkipValidation: the confirmation alone")
	assert.Empty(t, l.bodies("/validation"))
	sum := sha256.Sum256([]byte(mpesatest.DarajaMSISDNSuccess))
	assert.Equal(t, hex.EncodeToString(sum[:]), l.bodies("/confirmation")[0].Body["MSISDN"])
	assert.Equal(t, []string{"/mpesa/c2b/v1/registerurl", "/mpesa/c2b/v1/simulate"},
		[]string{srv.CallsTo(mpesa.APIC2BRegister)[0].Path, srv.CallsTo(mpesa.APIC2BSimulate)[0].Path})

	only2 := newServer(t, mpesatest.WithDaraja(mpesatest.Daraja{C2BVersion: 2}))
	_, err := djClient(t, only2, mpesa.WithC2BVersion(1)).RegisterC2BURLs(context.Background(), mpesa.RegisterC2BURLsRequest{
		ResponseType: mpesa.C2BResponseCompleted, ConfirmationURL: l.url("/confirmation"), ValidationURL: l.url("/validation")})
	assert.ErrorIs(t, err, mpesa.ErrAPINotEnabled)
	_, err = djClient(t, only2).RegisterC2BURLs(context.Background(), mpesa.RegisterC2BURLsRequest{
		ResponseType: mpesa.C2BResponseCompleted, ConfirmationURL: l.url("/confirmation"), ValidationURL: l.url("/validation")})
	assert.NoError(t, err, "Options passes WithC2BVersion(2)")
}

// TestDarajaC2BRegisterOnceInProduction: in production a shortcode
// registers its URLs once, then 500.003.1001 "Urls are already
// registered", ErrAlreadyRegistered; simulate does not exist; URLs must be
// HTTPS. In the sandbox a new registration replaces the old
// (docs/gateways.md D12, D14, D26).
func TestDarajaC2BRegisterOnceInProduction(t *testing.T) {
	ctx := context.Background()
	prod := newServer(t, mpesatest.WithDaraja(mpesatest.Daraja{Environment: mpesa.Production}))
	client := djClient(t, prod)
	assert.Equal(t, mpesa.Production, client.Environment())
	reg := mpesa.RegisterC2BURLsRequest{ResponseType: mpesa.C2BResponseCompleted,
		ConfirmationURL: "https://shop.example.co.ke/c2b/confirm", ValidationURL: "https://shop.example.co.ke/c2b/validate"}
	_, err := client.RegisterC2BURLs(ctx, reg)
	require.NoError(t, err)
	_, err = client.RegisterC2BURLs(ctx, reg)
	assert.ErrorIs(t, err, mpesa.ErrAlreadyRegistered)
	calls := prod.CallsTo(mpesa.APIC2BRegister)
	assert.Equal(t, "Urls are already registered", calls[1].Response["errorMessage"])
	assert.Equal(t, http.StatusInternalServerError, calls[1].Status)
	_, err = client.SimulateC2B(ctx, mpesa.SimulateC2BRequest{Amount: "1", MSISDN: mpesatest.DarajaMSISDNSuccess})
	assert.ErrorIs(t, err, mpesa.ErrNotSupported, "the client knows simulate is sandbox only")

	c := newDJRaw(t, prod)
	status, out := c.post("/mpesa/c2b/v2/simulate", map[string]string{"ShortCode": "600000"})
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "404.003.01", out["errorCode"])
	status, out = c.post("/mpesa/c2b/v2/registerurl", map[string]string{"ShortCode": "600001", "ResponseType": "Completed",
		"ConfirmationURL": "http://shop.example.co.ke/c2b/confirm", "ValidationURL": "https://shop.example.co.ke/c2b/validate"})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "Bad Request - Invalid ConfirmationURL", out["errorMessage"], "HTTPS only in production")

	l, m := newRecorder(t), newRecorder(t)
	sandbox := newServer(t, mpesatest.WithDaraja(mpesatest.Daraja{SkipValidation: true}))
	client = djClient(t, sandbox)
	registerAndPay(t, client, l, mpesa.C2BResponseCompleted)
	waitCallbacks(t, sandbox, 1)
	registerAndPay(t, client, m, mpesa.C2BResponseCompleted)
	waitCallbacks(t, sandbox, 2)
	assert.Len(t, l.bodies("/confirmation"), 1)
	assert.Len(t, m.bodies("/confirmation"), 1, "the sandbox's second registration replaced the first")

	c = newDJRaw(t, sandbox)
	for field, url := range map[string]string{"ConfirmationURL": "https://shop.example.co.ke/mpesa/confirm",
		"ValidationURL": "https://shop.example.co.ke/SQL/validate"} {
		body := map[string]string{"ShortCode": "600000", "ResponseType": "Completed",
			"ConfirmationURL": "https://a.example/c", "ValidationURL": "https://a.example/v"}
		body[field] = url
		status, out := c.post("/mpesa/c2b/v2/registerurl", body)
		assert.Equal(t, http.StatusBadRequest, status, field)
		assert.Equal(t, "Bad Request - Invalid "+field, out["errorMessage"], "a word Daraja refuses in %s", url)
	}
	status, out = c.post("/mpesa/c2b/v2/registerurl", map[string]string{"ShortCode": "600000", "ResponseType": "completed",
		"ConfirmationURL": "https://a.example/c", "ValidationURL": "https://a.example/v"})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "Bad Request - Invalid ResponseType", out["errorMessage"], "sentence case only")
}

// TestDarajaC2BWithoutURLs: with no URLs registered, M-Pesa completes the
// payment and sends nothing (docs/gateways.md D13).
func TestDarajaC2BWithoutURLs(t *testing.T) {
	srv := newServer(t)
	res, err := djClient(t, srv).SimulateC2B(context.Background(), mpesa.SimulateC2BRequest{
		Amount: "40", MSISDN: mpesatest.DarajaMSISDNSuccess, CommandID: mpesa.CommandCustomerBuyGoodsOnline})
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond)
	assert.Empty(t, srv.Callbacks())
	txn, ok := srv.Transaction(res.OriginatorConversationID)
	require.True(t, ok)
	assert.Equal(t, mpesa.StatusCompleted, txn.Status)
	assert.NotEmpty(t, txn.TransactionID)
}

// TestDarajaPull: register once (1000, then 1001), and the query returns the
// payments into the shortcode within the period, or 1001 with the string
// "[[]]" (docs/gateways.md D22).
func TestDarajaPull(t *testing.T) {
	l := newRecorder(t)
	srv := newServer(t)
	client := djClient(t, srv)
	ctx := context.Background()
	reg, err := client.PullRegister(ctx, mpesa.PullRegisterRequest{NominatedNumber: "254722000000", CallbackURL: l.url("/pull")})
	require.NoError(t, err)
	assert.Equal(t, "1000", reg.ResponseStatus)
	_, err = client.PullRegister(ctx, mpesa.PullRegisterRequest{NominatedNumber: "254722000000", CallbackURL: l.url("/pull")})
	assert.ErrorIs(t, err, mpesa.ErrAlreadyRegistered)

	now := time.Now()
	empty, err := client.PullQuery(ctx, mpesa.PullQueryRequest{StartDate: now.Add(-time.Hour), EndDate: now.Add(time.Minute)})
	require.NoError(t, err)
	assert.Equal(t, "1001", empty.ResponseCode)
	assert.Empty(t, empty.Transactions)

	_, err = client.C2B(ctx, stkRequest(mpesatest.DarajaMSISDNSuccess, "12", l.url("/stk")))
	require.NoError(t, err)
	_, err = client.SimulateC2B(ctx, mpesa.SimulateC2BRequest{Amount: "30", MSISDN: "254711000000", BillRefNumber: "A1"})
	require.NoError(t, err)
	waitCallbacks(t, srv, 1)
	got, err := client.PullQuery(ctx, mpesa.PullQueryRequest{StartDate: now.Add(-time.Hour), EndDate: now.Add(time.Minute)})
	require.NoError(t, err)
	assert.Equal(t, "1000", got.ResponseCode)
	require.Len(t, got.Transactions, 2)
	assert.Equal(t, "12.00", got.Transactions[0].Amount)
	assert.Equal(t, mpesatest.DarajaMSISDNSuccess, got.Transactions[0].MSISDN)
	assert.Equal(t, "A1", got.Transactions[1].BillReference)
	page, err := client.PullQuery(ctx, mpesa.PullQueryRequest{StartDate: now.Add(-time.Hour), EndDate: now.Add(time.Minute), Offset: 1})
	require.NoError(t, err)
	assert.Len(t, page.Transactions, 1, "OffSetValue skips rows")

	other := newServer(t)
	_, err = djClient(t, other).PullQuery(ctx, mpesa.PullQueryRequest{StartDate: now.Add(-time.Hour), EndDate: now})
	assert.ErrorIs(t, err, mpesa.ErrInvalidRequest, "400.001: a shortcode not registered for Pull")
}
