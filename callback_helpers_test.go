package mpesa

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// whToken is the token of the tests that use RequireToken; no log line or
// answer may contain it.
// whToken is the token of the tests that use RequireToken; no log line or
// answer may contain it.
const whToken = "cb-tOkEn-5f0e2d1c9b8a7f6e"

// whPath is where the tests mount the handler.
const whPath = "/mpesa/results/" + whToken

// whFixture reads a callback fixture from testdata/callbacks.
func whFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "callbacks", name))
	require.NoError(t, err)
	return b
}

// whAck is the acknowledgement the documents ask for, written out by hand.
func whAck(ocid, ref string) string {
	return `{"output_OriginalConversationID":"` + ocid + `","output_ResponseCode":"0","output_ResponseDesc":"Successfully Accepted Result","output_ThirdPartyConversationID":"` + ref + `"}`
}

// whRequest builds a callback request as the gateway sends it.
func whRequest(body []byte, mods ...func(*http.Request)) *http.Request {
	r := httptest.NewRequest(http.MethodPost, whPath, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = "192.0.2.10:40123"
	for _, m := range mods {
		m(r)
	}
	return r
}

// whPost serves one callback request and returns the recorded answer.
func whPost(h http.Handler, body []byte, mods ...func(*http.Request)) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, whRequest(body, mods...))
	return rec
}

// whCounter is a ResultFunc that records the results it got.
type whCounter struct {
	mu      sync.Mutex
	results []*Result
	err     error
}

func (c *whCounter) fn(_ context.Context, res *Result) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.results = append(c.results, res)
	return c.err
}

func (c *whCounter) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.results)
}

func newTestHandler(t testing.TB, fn ResultFunc, opts ...HandlerOption) *Handler {
	t.Helper()
	h, err := NewHandler(fn, opts...)
	require.NoError(t, err)
	return h
}

var (
	docOCID = "fd1e9143d22544459f7c66e1860ef276"
	docRef  = "1e9b774d1da34af78412a498cbc28f5e"
	mozOCID = "241fasif1f1n92fn129nfasnf91nf1"
)

func boolPtr(b bool) *bool { return &b }

// documentedResults maps every fixture to the Result it must decode into.
// The openapi/ and mozambique/ fixtures are the callback tables of the
// gateway documents, value for value.
var documentedResults = map[string]*Result{
	"openapi/c2b.json":      openAPIPayment(),
	"openapi/b2c.json":      openAPIPayment(),
	"openapi/b2b.json":      openAPIPayment(),
	"openapi/reversal.json": openAPIPayment(),
	"openapi/query_transaction_status.json": func() *Result {
		r := openAPIPayment()
		r.API = APITransactionStatus
		r.OriginalTransactionID = "4C123GE3"
		r.Reversed = false
		return r
	}(),
	"openapi/direct_debit_creation.json": {
		Gateway: GatewayOpenAPI, API: APIDirectDebitCreate,
		OriginalConversationID: docOCID, ThirdPartyConversationID: docRef,
		ResultCode: "INS-0", ResultDesc: "Request processed successfully",
		TransactionReference: "vgisfyn4b22w6tmqjftatq75lyuie6vc", MsisdnToken: "cvgwUBZ3lAO9ivwhWAFeng==", MandateID: "15045",
	},
	"openapi/direct_debit_payment.json": {
		Gateway: GatewayOpenAPI, API: APIDirectDebitPayment,
		OriginalConversationID: docOCID, TransactionID: "hv9ahxcg4ccv", ThirdPartyConversationID: docRef,
		ResultCode: "INS-0", ResultDesc: "Request processed successfully",
		MsisdnToken: "cvgwUBZ3lAO9ivwhWAFeng==",
	},
	"openapi/query_beneficiary_name.json": {
		Gateway: GatewayOpenAPI, API: APIBeneficiaryName,
		OriginalConversationID: docOCID, ThirdPartyConversationID: docRef,
		ResultCode: "INS-0", ResultDesc: "Request processed successfully",
		CustomerFirstName: "Jiazhen", CustomerLastName: "Wuu",
	},
	// Written from the table: the document's sample packet is not valid
	// JSON (docs/gateways.md O20). Its codes come as input_ResponseCode and
	// input_ResponseDesc.
	"openapi/query_direct_debit.json": {
		Gateway: GatewayOpenAPI, API: APIDirectDebitQuery,
		OriginalConversationID: docOCID, ThirdPartyConversationID: docRef,
		ResultCode: "INS-0", ResultDesc: "Request processed successfully",
		TransactionReference: "vgisfyn4b22w6tmqjftatq75lyuie6vc", MsisdnToken: "cvgwUBZ3lAO9ivwhWAFeng==", MandateID: "15132",
		MandateStatus: "Active", AccountStatus: "Active", FirstPaymentDate: "20221012", Frequency: "02",
		PaymentDayFrom: "01", PaymentDayTo: "25", ExpiryDate: "20230410", SufficientBalance: boolPtr(true),
	},
	// Creation and cancellation share their fields but for MandateID: a
	// cancellation cannot be told from other products.
	"openapi/direct_debit_cancel.json": {
		Gateway:                GatewayOpenAPI,
		OriginalConversationID: docOCID, ThirdPartyConversationID: docRef,
		ResultCode: "INS-0", ResultDesc: "Request processed successfully",
		TransactionReference: "Test123", MsisdnToken: "cvgwUBZ3lAO9ivwhWAFeng==",
	},
	"mozambique/async_result.json": mozPayment(),
	"mozambique/c2b.json":          mozPayment(),
	"mozambique/b2c.json":          mozPayment(),
	"mozambique/reversal.json":     mozPayment(),

	// Variants the documents do not show but a gateway may send.
	"variants/values_as_numbers_and_booleans.json": func() *Result {
		r := openAPIPayment()
		r.API = APITransactionStatus
		r.ResultCode = "0" // a JSON number
		r.OriginalTransactionID = "4C123GE3"
		return r
	}(),
	"variants/query_direct_debit_typed.json": {
		Gateway: GatewayOpenAPI, API: APIDirectDebitQuery,
		OriginalConversationID: "ad5ea49c01a9484c80cefbf4437a756d", ThirdPartyConversationID: "GPO3051656229",
		ResultCode: "INS-0", ResultDesc: "Request processed successfully",
		MandateID: "15132", MandateStatus: "Active", AccountStatus: "Active", FirstPaymentDate: "20221012",
		Frequency: "04", PaymentDayFrom: "01", PaymentDayTo: "25", SufficientBalance: boolPtr(false),
	},
	"variants/openapi_insufficient_balance.json": {
		Gateway:                GatewayOpenAPI,
		OriginalConversationID: "0b3c2f5e8a1d4c7b9e6f2a4d8c1b3e5f", ThirdPartyConversationID: "asv02e5958774f7ba228d83d0d689761",
		ResultCode: "INS-2006", ResultDesc: "Insufficient balance",
	},
	"variants/mozambique_cancelled_by_customer.json": {
		Gateway:                GatewayMozambique,
		OriginalConversationID: "AG_20180206_00005e7dccc6da08efa8", TransactionID: "N/A", ThirdPartyConversationID: "PFW5PS",
		ResultCode: "INS-5", ResultDesc: "Transaction cancelled by customer",
	},
	// Keys are matched exactly: a spelling that differs in case is an
	// unknown field, never the documented one (hardening issue, item 16).
	"variants/unknown_fields_and_case_variants.json": func() *Result {
		r := openAPIPayment()
		r.Extra = map[string]string{
			"input_originalConversationId": "another-conversation",
			"INPUT_RESULTCODE":             "INS-6",
			"input_CustomerMSISDN":         "255744553111",
			"input_Amount":                 "10.5",
			"input_Details":                `{"channel": "USSD", "tags": ["a", "b"]}`,
			"input_Note":                   `Café "quoted"`,
		}
		return r
	}(),
}

func openAPIPayment() *Result {
	return &Result{
		Gateway:                GatewayOpenAPI,
		OriginalConversationID: docOCID, TransactionID: "hv9ahxcg4ccv", ThirdPartyConversationID: docRef,
		ResultCode: "INS-0", ResultDesc: "Request processed successfully",
	}
}

func mozPayment() *Result {
	return &Result{
		Gateway:                GatewayMozambique,
		OriginalConversationID: mozOCID, TransactionID: "4XDF12345", ThirdPartyConversationID: "11114",
		ResultCode: "0", ResultDesc: "Request Processed Successfully",
	}
}
