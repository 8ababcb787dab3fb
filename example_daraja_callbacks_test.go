package mpesa_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa"
)

// postJSON serves one callback body to h and returns the answer.
func postJSON(h http.Handler, body string) (int, string) {
	r := httptest.NewRequest(http.MethodPost, "/daraja/result", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Code, rec.Body.String()
}

// Every Daraja callback decodes into one Result: here an STK push's, whose
// items are looked up by name; printing it masks the phone number.
func ExampleParseDarajaResult() {
	res, err := mpesa.ParseDarajaResult([]byte(`{"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1",
		"CheckoutRequestID":"ws_CO_191220191020363925","ResultCode":0,"ResultDesc":"The service request is processed successfully.",
		"CallbackMetadata":{"Item":[{"Name":"Amount","Value":1.00},{"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"},
		{"Name":"TransactionDate","Value":20191219102115},{"Name":"PhoneNumber","Value":254708374149}]}}}}`))
	if err != nil {
		log.Fatal(err)
	}
	at, _ := res.CompletedAt()
	fmt.Println(res.Callback, res.CheckoutRequestID, res.OK())
	fmt.Println(res.TransactionID, res.Amount, at.Format(time.RFC3339))
	fmt.Println(res.Parameters)
	// Output:
	// stk ws_CO_191220191020363925 true
	// NLJ7RT61SV 1.00 2019-12-19T10:21:15+03:00
	// [Amount: 1.00, MpesaReceiptNumber: NLJ7RT61SV, TransactionDate: 20191219102115, PhoneNumber: 254******149]
}

// The C2B ValidationURL decides whether a customer's payment completes,
// within M-Pesa's ~8 seconds; a late or failing decision gets the fallback.
func ExampleNewC2BValidator() {
	validator, err := mpesa.NewC2BValidator(func(_ context.Context, p *mpesa.Result) (mpesa.C2BDecision, error) {
		if p.TransactionReference != "INV2231" { // the BillRefNumber the customer typed
			return mpesa.RejectC2B(mpesa.C2BInvalidAccountNumber), nil
		}
		return mpesa.AcceptC2B("ORDER-2231"), nil // comes back in the confirmation
	}, mpesa.C2BFallback(mpesa.AcceptC2B(""), 4*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	payment := func(account string) string {
		return `{"TransactionType":"Pay Bill","TransID":"RKTQDM7W6S","TransTime":"20191122063845","TransAmount":"10",` +
			`"BusinessShortCode":"600638","BillRefNumber":"` + account + `","MSISDN":"2547 ***** 149","FirstName":"John"}`
	}
	fmt.Println(postJSON(validator, payment("INV2231")))
	fmt.Println(postJSON(validator, payment("INV9999")))
	// Output:
	// 200 {"ResultCode":"0","ResultDesc":"Accepted","ThirdPartyTransID":"ORDER-2231"}
	// 200 {"ResultCode":"C2B00012","ResultDesc":"Rejected"}
}

// The QueueTimeOutURL says a request timed out in M-Pesa's queue: its
// outcome is unknown, and the code awaiting it learns to reconcile.
func ExampleQueueTimeoutNotices() {
	hub := mpesa.NewResults(0, 0)
	timeouts, err := mpesa.NewHandler(func(context.Context, *mpesa.Result) error { return nil },
		mpesa.QueueTimeoutNotices(), mpesa.FeedResults(hub))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(postJSON(timeouts, `{"ConversationID":"AG_20191219_00005797af5d7d75f652","OriginatorConversationID":"16740-34861180-1"}`))
	res, err := hub.Await(context.Background(), "16740-34861180-1") // the B2C payment's reference
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Callback, errors.Is(res.Err(), mpesa.ErrOutcomeUnknown))
	// Output:
	// 200 {"ResultCode":0,"ResultDesc":"Accepted"}
	// queue-timeout true
}
