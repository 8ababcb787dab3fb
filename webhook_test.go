package mpesa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa/internal/wire"
)

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
	// JSON (SPEC-NOTES §3.14). Its codes come as input_ResponseCode and
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

func TestParseResultDocumentedCallbacks(t *testing.T) {
	t.Parallel()
	for name, want := range documentedResults {
		t.Run(name, func(t *testing.T) {
			got, err := ParseResult(whFixture(t, name))
			require.NoError(t, err)
			if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("ParseResult mismatch (-want +got):\n%s", d)
			}
		})
	}
}

// TestEveryFixtureIsChecked keeps a new fixture from going untested.
func TestEveryFixtureIsChecked(t *testing.T) {
	t.Parallel()
	var found []string
	err := filepath.WalkDir(filepath.Join("testdata", "callbacks"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(filepath.Join("testdata", "callbacks"), p)
			found = append(found, filepath.ToSlash(rel))
		}
		return err
	})
	require.NoError(t, err)
	require.Len(t, found, len(documentedResults))
	for _, f := range found {
		assert.Contains(t, documentedResults, f)
	}
	// Every product of both gateways has its callback.
	for _, p := range []string{"c2b", "b2c", "b2b", "reversal", "query_transaction_status", "direct_debit_creation",
		"direct_debit_payment", "query_beneficiary_name", "query_direct_debit", "direct_debit_cancel"} {
		assert.Contains(t, documentedResults, "openapi/"+p+".json")
	}
	for _, p := range []string{"async_result", "c2b", "b2c", "reversal"} {
		assert.Contains(t, documentedResults, "mozambique/"+p+".json")
	}
}

func TestParseResultValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want *Result
	}{
		{
			name: "number, boolean and null values",
			body: `{"input_OriginalConversationID":12345,"input_ResultCode":0,"input_Reversed":true,"input_SufficientBalance":false,"input_TransactionID":null}`,
			want: &Result{OriginalConversationID: "12345", ResultCode: "0", Reversed: true, SufficientBalance: boolPtr(false), API: APIDirectDebitQuery},
		},
		{
			name: "documented True and False spellings",
			body: `{"input_OriginalConversationID":"a","input_Reversed":"TRUE","input_SufficientBalance":" False "}`,
			want: &Result{OriginalConversationID: "a", Reversed: true, SufficientBalance: boolPtr(false), API: APIDirectDebitQuery},
		},
		{
			name: "unreadable booleans are kept in Extra",
			body: `{"input_OriginalConversationID":"a","input_Reversed":"maybe","input_SufficientBalance":"Y"}`,
			want: &Result{OriginalConversationID: "a", API: APIDirectDebitQuery,
				Extra: map[string]string{"input_Reversed": "maybe", "input_SufficientBalance": "Y"}},
		},
		{
			name: "ResultCode wins over ResponseCode, which is kept",
			body: `{"input_OriginalConversationID":"a","input_ResponseCode":"INS-0","input_ResultCode":"INS-6","input_ResultDesc":"Transaction Failed"}`,
			want: &Result{OriginalConversationID: "a", ResultCode: "INS-6", ResultDesc: "Transaction Failed",
				Extra: map[string]string{"input_ResponseCode": "INS-0"}},
		},
		{
			name: "both reference spellings: OpenAPI's wins, Mozambique's is kept",
			body: `{"input_OriginalConversationID":"a","input_ThirdPartyReference":"mz","input_ThirdPartyConversationID":"oa"}`,
			want: &Result{OriginalConversationID: "a", ThirdPartyConversationID: "oa",
				Extra: map[string]string{"input_ThirdPartyReference": "mz"}},
		},
		{
			// encoding/json would let the later, case-folded spelling win
			// and read a failure as a success (hardening issue, item 16).
			name: "names match exactly; other spellings are unknown fields",
			body: `{"input_OriginalConversationID":"a","input_ResultCode":"INS-6","INPUT_RESULTCODE":"INS-0","input_resultcode":"INS-0"}`,
			want: &Result{OriginalConversationID: "a", ResultCode: "INS-6",
				Extra: map[string]string{"INPUT_RESULTCODE": "INS-0", "input_resultcode": "INS-0"}},
		},
		{
			name: "escapes and non-ASCII text",
			body: "{\"input_OriginalConversationID\":\"a\\u0062c\",\"input_ResultDesc\":\"Transa\u00e7\u00e3o \\\"falhou\\\"\\n\",\"input_CustomerFirstName\":\"Jos\u00e9\"}",
			want: &Result{OriginalConversationID: "abc", ResultDesc: "Transação \"falhou\"\n", CustomerFirstName: "José", API: APIBeneficiaryName},
		},
		{
			name: "invalid UTF-8 becomes U+FFFD as in encoding/json",
			body: "{\"input_OriginalConversationID\":\"a\",\"input_ResultDesc\":\"bad \xff\"}",
			want: &Result{OriginalConversationID: "a", ResultDesc: "bad \ufffd"},
		},
		{
			name: "nested values are kept verbatim",
			body: `{"input_OriginalConversationID":"a","input_Meta":{"k":[1,{"x":"}"}]},"input_List":[]}`,
			want: &Result{OriginalConversationID: "a", Extra: map[string]string{"input_Meta": `{"k":[1,{"x":"}"}]}`, "input_List": `[]`}},
		},
		{
			name: "the empty key is kept like any other",
			body: `{"input_OriginalConversationID":"a","":"empty key"}`,
			want: &Result{OriginalConversationID: "a", Extra: map[string]string{"": "empty key"}},
		},
		{
			name: "whitespace everywhere",
			body: " \n{ \"input_OriginalConversationID\" :\t\"a\" , \"input_ResultCode\" : \"INS-0\" }\r\n",
			want: &Result{OriginalConversationID: "a", ResultCode: "INS-0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseResult([]byte(tt.body))
			require.NoError(t, err)
			if d := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseResultMalformed(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"empty":                  "",
		"whitespace":             "  \n",
		"not JSON":               "input_OriginalConversationID=abc",
		"truncated":              `{"input_OriginalConversationID":"abc"`,
		"trailing garbage":       `{"input_OriginalConversationID":"abc"} x`,
		"array":                  `[{"input_OriginalConversationID":"abc"}]`,
		"string":                 `"abc"`,
		"null":                   `null`,
		"no conversation ID":     `{"input_ResultCode":"0"}`,
		"empty conversation ID":  `{"input_OriginalConversationID":"","input_ResultCode":"0"}`,
		"null conversation ID":   `{"input_OriginalConversationID":null}`,
		"HTML":                   `<html><body>Bad Gateway</body></html>`,
		"single quotes":          `{'input_OriginalConversationID':'abc'}`,
		"missing comma (§3.14)":  `{"input_OriginalConversationID":"abc" "input_ResultCode":"0"}`,
		"invalid escape":         `{"input_OriginalConversationID":"a\x"}`,
		"control char in string": "{\"input_OriginalConversationID\":\"a\x01\"}",
	} {
		t.Run(name, func(t *testing.T) {
			res, err := ParseResult([]byte(body))
			assert.Nil(t, res)
			assert.ErrorIs(t, err, ErrMalformedResult)
		})
	}
}

// TestParseResultSyntaxAgreesWithEncodingJSON: the parser checks JSON syntax
// itself, in the same pass that reads the values; it must accept what
// json.Valid accepts and nothing else.
func TestParseResultSyntaxAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	values := []string{
		`0`, `-0`, `01`, `-`, `-a`, `1.`, `.5`, `1.5`, `1e`, `1e+`, `1E-7`, `1e5x`, `2.5e+10`, `00`, `-01`,
		`true`, `tru`, `truex`, `false`, `fals`, `null`, `nul`, `nulll`, `True`,
		`"a\u00e9"`, `"\u12G4"`, `"\u12"`, `"\x"`, `"\/"`, `"\b\f\n\r\t"`, "\"\x1f\"", "\"\x7f\"", `"\"`,
		"\"\xff\xfe\"", `"`, `""`,
		`{}`, `[]`, `{"a":}`, `{"a" 1}`, `{a:1}`, `{"a":1,}`, `[1,]`, `[,1]`, `[1 2]`, `{"a":[{"b":null}]}`, `{"a":1}}`,
		`[` + strings.Repeat(`[`, wire.MaxDepth-2) + strings.Repeat(`]`, wire.MaxDepth-2) + `]`,
		`[` + strings.Repeat(`[`, wire.MaxDepth-1) + strings.Repeat(`]`, wire.MaxDepth-1) + `]`,
	}
	for _, v := range values {
		for _, body := range []string{
			`{"input_OriginalConversationID":"a","v":` + v + `}`,
			`{"v":` + v + `,"input_OriginalConversationID":"a"}`,
		} {
			_, err := ParseResult([]byte(body))
			name := v
			if len(name) > 20 {
				name = name[:20] + "…"
			}
			assert.Equal(t, json.Valid([]byte(body)), err == nil, "%q: %v", name, err)
		}
	}
	for _, body := range []string{`{"input_OriginalConversationID":"a",}`, `{"input_OriginalConversationID":"a" ,, "b":1}`,
		`{"input_OriginalConversationID":"a"}  {}`, `{"input_OriginalConversationID":"a"`, `{"input_OriginalConversationID" "a"}`,
		`{,"input_OriginalConversationID":"a"}`, "{\"input_OriginalConversationID\":\"a\"}\x00"} {
		_, err := ParseResult([]byte(body))
		assert.False(t, json.Valid([]byte(body)))
		assert.ErrorContains(t, err, "not valid JSON", body)
	}
}

func TestResultErr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		gateway Gateway
		api     API
		code    string
		want    error // nil: OK
		notWant error
	}{
		{name: "INS-0", code: "INS-0"},
		{name: "0", code: "0"},
		{name: "0 with spaces", code: " 0 "},
		{name: "insufficient balance, OpenAPI", code: "INS-2006", want: ErrInsufficientBalance},
		{name: "insufficient balance, Mozambique", gateway: GatewayMozambique, code: "INS-2006", want: ErrInsufficientBalance},
		{name: "cancelled by customer, Mozambique", gateway: GatewayMozambique, code: "INS-5", want: ErrCancelledByCustomer},
		{name: "INS-5 is not documented on OpenAPI", code: "INS-5", want: nil, notWant: ErrCancelledByCustomer},
		{name: "prompt timeout", code: "INS-9", want: ErrPromptTimeout},
		{name: "transaction failed", code: "INS-6", want: ErrTransactionFailed},
		{name: "INS-26 differs per gateway", gateway: GatewayMozambique, code: "INS-26", want: ErrUnauthorized},
		{name: "INS-26 on OpenAPI", code: "INS-26", want: ErrInvalidRequest, notWant: ErrUnauthorized},
		{name: "MSISDN invalid also matches invalid request", code: "INS-2051", want: ErrInvalidMSISDN},
		{name: "direct debit query's own INS-1", api: APIDirectDebitQuery, code: "INS-1", want: ErrInternal},
		{name: "no active mandate", code: "INS-58", want: ErrMandateNotFound},
		{name: "no code", code: "", want: ErrUnexpectedResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Result{Gateway: tt.gateway, API: tt.api, OriginalConversationID: "c1", ThirdPartyConversationID: "ref1",
				TransactionID: "tx1", ResultCode: tt.code}
			err := r.Err()
			if tt.want == nil && tt.notWant == nil {
				assert.True(t, r.OK())
				assert.NoError(t, err)
				return
			}
			assert.False(t, r.OK())
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, strings.TrimSpace(tt.code), e.Code)
			assert.Equal(t, tt.gateway, e.Gateway)
			assert.Equal(t, "c1", e.ConversationID)
			assert.Equal(t, "ref1", e.ThirdPartyConversationID)
			assert.Equal(t, "tx1", e.TransactionID)
			assert.Equal(t, tt.api, e.API)
			if _, known := LookupCode(tt.gateway, tt.api, tt.code); known || tt.code == "" {
				assert.NotEmpty(t, e.Description, "the documented description fills in")
			}
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
			}
			if tt.notWant != nil {
				assert.NotErrorIs(t, err, tt.notWant)
			}
		})
	}

	// The same code through a synchronous call and a callback gives the
	// same kinds.
	g := newFakeGateway(t)
	g.handle("POST", "/ipg/v1x/c2bPayment/singleStage/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 422, map[string]string{"output_ResponseCode": "INS-2006", "output_ResponseDesc": "Insufficient balance"})
	})
	c := g.mozClient(t)
	_, syncErr := c.C2B(context.Background(), C2BRequest{Amount: "10", CustomerMSISDN: "258843330333",
		ServiceProviderCode: "171717", TransactionReference: "T12344C", ThirdPartyConversationID: "PFW5PS"})
	var syncE *Error
	require.ErrorAs(t, syncErr, &syncE)
	cb, err := ParseResult([]byte(`{"input_OriginalConversationID":"x","input_ThirdPartyReference":"PFW5PS","input_ResultCode":"INS-2006","input_ResultDesc":"Insufficient balance"}`))
	require.NoError(t, err)
	var cbE *Error
	require.ErrorAs(t, cb.Err(), &cbE)
	assert.Equal(t, syncE.kinds, cbE.kinds)
	assert.Equal(t, syncE.Gateway, cbE.Gateway)
}

func TestResultPrintsNoPersonalData(t *testing.T) {
	t.Parallel()
	const msisdn = "258843330333"
	body := []byte(`{"input_OriginalConversationID":"c1","input_ThirdPartyReference":"r1","input_ResultCode":"INS-2051",
		"input_ResultDesc":"MSISDN ` + msisdn + ` invalid.","input_CustomerMSISDN":"` + msisdn + `",
		"input_msisdn":` + msisdn + `,"input_CustomerFirstName":"Jiazhen","input_CustomerLastName":"Wuu","input_Note":"call ` + msisdn + `"}`)
	res, err := ParseResult(body)
	require.NoError(t, err)
	require.Equal(t, msisdn, res.Extra["input_CustomerMSISDN"], "the field keeps the value")

	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("got", "result", res, "value", *res)
	d := Delivery{Body: body, Result: res, Source: netip.MustParseAddr("192.0.2.1")}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x"} {
		outputs = append(outputs, fmt.Sprintf(verb, res), fmt.Sprintf(verb, *res), fmt.Sprintf(verb, d), fmt.Sprintf(verb, &d))
	}
	outputs = append(outputs, logs.String(), res.Err().Error())
	for _, out := range outputs {
		assert.NotContains(t, out, msisdn)
		assert.NotContains(t, out, "Jiazhen")
		assert.NotContains(t, out, "Wuu")
	}
	assert.Contains(t, fmt.Sprint(res), "258******333")
	assert.Contains(t, fmt.Sprint(res), "OriginalConversationID: c1")
	assert.Contains(t, logs.String(), `"OriginalConversationID":"c1"`)
}

func TestHandlerAcknowledgesEveryDocumentedCallback(t *testing.T) {
	t.Parallel()
	for name, want := range documentedResults {
		t.Run(name, func(t *testing.T) {
			var got *Result
			h := newTestHandler(t, func(_ context.Context, res *Result) error {
				got = res
				return nil
			})
			rec := whPost(h, whFixture(t, name))
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			wantAck := whAck(want.OriginalConversationID, want.ThirdPartyConversationID)
			if want.API == APIDirectDebitQuery {
				// The Query Direct Debit page shows its acknowledgement
				// with INS-0, every other product's with 0: each is
				// answered as its own page shows (validation issue, §1).
				wantAck = strings.Replace(wantAck, `"output_ResponseCode":"0"`, `"output_ResponseCode":"INS-0"`, 1)
			}
			assert.Equal(t, wantAck, rec.Body.String())
			if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("result mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestHandlerAcknowledgementBytes(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, (&whCounter{}).fn)
	rec := whPost(h, whFixture(t, "openapi/c2b.json"))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, `{"output_OriginalConversationID":"fd1e9143d22544459f7c66e1860ef276","output_ResponseCode":"0","output_ResponseDesc":"Successfully Accepted Result","output_ThirdPartyConversationID":"1e9b774d1da34af78412a498cbc28f5e"}`,
		rec.Body.String())
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))

	// Mozambique: its input_ThirdPartyReference is echoed as
	// output_ThirdPartyConversationID, as its document shows.
	rec = whPost(h, whFixture(t, "mozambique/c2b.json"))
	assert.Equal(t, `{"output_OriginalConversationID":"241fasif1f1n92fn129nfasnf91nf1","output_ResponseCode":"0","output_ResponseDesc":"Successfully Accepted Result","output_ThirdPartyConversationID":"11114"}`,
		rec.Body.String())

	// Echoed values are JSON-escaped.
	rec = whPost(h, []byte(`{"input_OriginalConversationID":"a\"b<c>","input_ThirdPartyConversationID":"r\\1","input_ResultCode":"0"}`))
	assert.Equal(t, `{"output_OriginalConversationID":"a\"b<c>","output_ResponseCode":"0","output_ResponseDesc":"Successfully Accepted Result","output_ThirdPartyConversationID":"r\\1"}`,
		rec.Body.String())
	assert.True(t, json.Valid(rec.Body.Bytes()))
}

func TestHandlerDuplicateDeliveries(t *testing.T) {
	t.Parallel()
	var c whCounter
	h := newTestHandler(t, c.fn)
	body := whFixture(t, "openapi/c2b.json")
	for i := 0; i < 3; i++ {
		rec := whPost(h, body)
		assert.Equal(t, http.StatusOK, rec.Code, "delivery %d", i)
		assert.Equal(t, whAck(docOCID, docRef), rec.Body.String(), "delivery %d", i)
	}
	assert.Equal(t, 1, c.calls())

	// A different result is processed.
	other := bytes.Replace(body, []byte(docOCID), []byte("another0conversation0id"), 1)
	assert.Equal(t, http.StatusOK, whPost(h, other).Code)
	assert.Equal(t, 2, c.calls())
}

func TestHandlerConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	unblock := make(chan struct{})
	var calls atomic.Int32
	h := newTestHandler(t, func(ctx context.Context, res *Result) error {
		if calls.Add(1) == 1 {
			close(started)
		}
		<-unblock
		return nil
	})
	body := whFixture(t, "mozambique/c2b.json")

	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- whPost(h, body) }()
	<-started

	// While the first delivery is being processed, duplicates are told to
	// come back: acknowledging them now would lose the result if the
	// first one then failed.
	const n = 8
	recs := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	for i := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs[i] = whPost(h, body)
		}()
	}
	wg.Wait()
	for i, rec := range recs {
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "duplicate %d", i)
		assert.NotEmpty(t, rec.Header().Get("Retry-After"))
		assert.Contains(t, rec.Body.String(), `"output_ResponseCode":"1"`)
	}
	close(unblock)
	rec := <-first
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, whAck(mozOCID, "11114"), rec.Body.String())

	rec = whPost(h, body)
	assert.Equal(t, http.StatusOK, rec.Code, "a later duplicate is acknowledged")
	assert.Equal(t, int32(1), calls.Load())
}

// TestHandlerDeliveryStorm sends many copies of several results at once:
// each result is processed exactly once, and every request is answered with
// an acknowledgement or a retryable 503.
func TestHandlerDeliveryStorm(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	h := newTestHandler(t, func(_ context.Context, res *Result) error {
		mu.Lock()
		seen[res.OriginalConversationID]++
		mu.Unlock()
		runtime.Gosched()
		return nil
	})
	const results, copies = 5, 12
	var wg sync.WaitGroup
	var acked [results]atomic.Int32
	for r := 0; r < results; r++ {
		body := []byte(fmt.Sprintf(`{"input_OriginalConversationID":"conv%d","input_ThirdPartyConversationID":"ref%d","input_ResultCode":"0"}`, r, r))
		for c := 0; c < copies; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec := whPost(h, body)
				switch rec.Code {
				case http.StatusOK:
					acked[r].Add(1)
					assert.Equal(t, whAck("conv"+strconv.Itoa(r), "ref"+strconv.Itoa(r)), rec.Body.String())
				case http.StatusServiceUnavailable:
				default:
					assert.Failf(t, "unexpected status", "%d", rec.Code)
				}
			}()
		}
	}
	wg.Wait()
	for r := 0; r < results; r++ {
		key := "conv" + strconv.Itoa(r)
		assert.Equal(t, 1, seen[key], key)
		assert.GreaterOrEqual(t, acked[r].Load(), int32(1), key)
	}
}

func TestHandlerUserErrorIsRetryable(t *testing.T) {
	t.Parallel()
	c := &whCounter{err: errors.New("database down: dsn postgres://app:hunter2@db/prod")}
	var logs bytes.Buffer
	h := newTestHandler(t, c.fn, HandlerLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	body := whFixture(t, "openapi/b2c.json")

	rec := whPost(h, body)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var ans map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ans))
	assert.NotEqual(t, "0", ans["output_ResponseCode"])
	assert.Equal(t, docOCID, ans["output_OriginalConversationID"])
	assert.NotContains(t, rec.Body.String(), "hunter2")
	assert.NotContains(t, rec.Body.String(), "database")
	assert.Contains(t, logs.String(), "database down", "the error reaches the operator's log")

	// The claim was released: the gateway's next delivery runs the
	// function again, and this time it succeeds.
	c.mu.Lock()
	c.err = nil
	c.mu.Unlock()
	rec = whPost(h, body)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, whAck(docOCID, docRef), rec.Body.String())
	assert.Equal(t, 2, c.calls())
	assert.Equal(t, http.StatusOK, whPost(h, body).Code)
	assert.Equal(t, 2, c.calls(), "processed once successfully, then deduplicated")
}

func TestHandlerResultFuncPanics(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	h := newTestHandler(t, func(context.Context, *Result) error {
		if calls.Add(1) == 1 {
			panic("boom: secret state")
		}
		return nil
	})
	body := whFixture(t, "openapi/c2b.json")
	rec := whPost(h, body)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.NotContains(t, rec.Body.String(), "boom")
	assert.Equal(t, http.StatusOK, whPost(h, body).Code, "the claim was released")
	assert.Equal(t, int32(2), calls.Load())

	// http.ErrAbortHandler is passed on, and the claim is released too.
	abort := newTestHandler(t, func(context.Context, *Result) error { panic(http.ErrAbortHandler) })
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() { whPost(abort, body) })
	state, err := abort.dedup.Claim(context.Background(), docOCID, "probe")
	require.NoError(t, err)
	assert.Equal(t, ClaimAcquired, state)
}

func TestHandlerRefusesBadRequests(t *testing.T) {
	t.Parallel()
	good := whFixture(t, "openapi/c2b.json")
	big := []byte(`{"input_OriginalConversationID":"c","input_Pad":"` + strings.Repeat("x", 2048) + `"}`)
	tests := []struct {
		name   string
		body   []byte
		mod    func(*http.Request)
		status int
		allow  string
	}{
		{name: "GET", body: nil, mod: func(r *http.Request) { r.Method = http.MethodGet }, status: 405, allow: "POST"},
		{name: "PUT", body: good, mod: func(r *http.Request) { r.Method = http.MethodPut }, status: 405, allow: "POST"},
		{name: "HEAD", body: nil, mod: func(r *http.Request) { r.Method = http.MethodHead }, status: 405, allow: "POST"},
		{name: "text/plain", body: good, mod: func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, status: 415},
		{name: "form", body: good, mod: func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, status: 415},
		{name: "no Content-Type", body: good, mod: func(r *http.Request) { r.Header.Del("Content-Type") }, status: 415},
		{name: "garbled Content-Type", body: good, mod: func(r *http.Request) { r.Header.Set("Content-Type", "application/json; ;") }, status: 415},
		{name: "declared too large", body: big, status: 413},
		{name: "streamed too large", body: big, mod: func(r *http.Request) {
			r.ContentLength = -1
			r.Body = io.NopCloser(bytes.NewReader(big))
		}, status: 413},
		{name: "lying Content-Length", body: big, mod: func(r *http.Request) { r.ContentLength = 10 }, status: 413},
		{name: "malformed JSON", body: []byte(`{"input_OriginalConversationID":`), status: 400},
		{name: "JSON array", body: []byte(`[1,2]`), status: 400},
		{name: "missing OriginalConversationID", body: []byte(`{"input_TransactionID":"x","input_ResultCode":"0"}`), status: 400},
		{name: "empty body", body: []byte{}, status: 400},
		{name: "reading fails", body: good, mod: func(r *http.Request) {
			r.Body = io.NopCloser(io.MultiReader(strings.NewReader(`{"input_`), errReader{}))
		}, status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &whCounter{}
			h := newTestHandler(t, c.fn, MaxCallbackBytes(1024))
			mods := []func(*http.Request){}
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			rec := whPost(h, tt.body, mods...)
			assert.Equal(t, tt.status, rec.Code)
			assert.Equal(t, tt.allow, rec.Header().Get("Allow"))
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var ans map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ans), rec.Body.String())
			assert.Equal(t, "1", ans["output_ResponseCode"])
			assert.NotEmpty(t, ans["output_ResponseDesc"])
			assert.Less(t, len(ans["output_ResponseDesc"]), 60, "a short generic message")
			assert.NotContains(t, rec.Body.String(), "input_", "nothing of the body is echoed")
			assert.Zero(t, c.calls())
		})
	}

	// Media type parameters are fine.
	c := &whCounter{}
	h := newTestHandler(t, c.fn)
	rec := whPost(h, good, func(r *http.Request) { r.Header.Set("Content-Type", "Application/JSON; charset=UTF-8") })
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, 1, c.calls())
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestHandlerOnDeliveryKeepsEveryBody(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var kept []*Delivery
	var failStore atomic.Bool
	c := &whCounter{}
	h := newTestHandler(t, c.fn, OnDelivery(func(_ context.Context, d *Delivery) error {
		if failStore.Load() {
			return errors.New("archive full")
		}
		mu.Lock()
		kept = append(kept, d)
		mu.Unlock()
		return nil
	}))
	good := whFixture(t, "openapi/direct_debit_payment.json")
	garbage := []byte(`{"input_OriginalConversationID": "c1", "oops"`)
	noID := []byte(`{"input_ResultCode":"0"}`)

	assert.Equal(t, 200, whPost(h, good).Code)
	assert.Equal(t, 200, whPost(h, good).Code) // a duplicate is archived too
	assert.Equal(t, 400, whPost(h, garbage).Code)
	assert.Equal(t, 400, whPost(h, noID).Code)
	assert.Equal(t, 415, whPost(h, good, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }).Code)

	require.Len(t, kept, 5)
	for i, want := range [][]byte{good, good, garbage, noID, good} {
		assert.Equal(t, want, kept[i].Body, "delivery %d", i)
		assert.Equal(t, netip.MustParseAddr("192.0.2.10"), kept[i].Source)
		assert.False(t, kept[i].ReceivedAt.IsZero())
	}
	require.NotNil(t, kept[0].Result)
	assert.Equal(t, docOCID, kept[0].Result.OriginalConversationID)
	assert.NoError(t, kept[0].Err)
	assert.Nil(t, kept[2].Result)
	assert.ErrorIs(t, kept[2].Err, ErrMalformedResult)
	assert.ErrorIs(t, kept[3].Err, ErrMalformedResult)
	assert.Nil(t, kept[4].Result)
	assert.Error(t, kept[4].Err)
	assert.Equal(t, "text/plain", kept[4].ContentType)
	assert.Equal(t, 1, c.calls())

	// When the body cannot be stored, the result is not processed and the
	// gateway is asked to deliver it again.
	failStore.Store(true)
	other := whFixture(t, "mozambique/b2c.json")
	rec := whPost(h, other)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.NotContains(t, rec.Body.String(), "archive")
	assert.Equal(t, 1, c.calls())
	failStore.Store(false)
	assert.Equal(t, 200, whPost(h, other).Code)
	assert.Equal(t, 2, c.calls())
}

func TestHandlerToken(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	c := &whCounter{}
	h := newTestHandler(t, c.fn, RequireToken(whToken),
		HandlerLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	body := whFixture(t, "openapi/c2b.json")
	at := func(target string) func(*http.Request) {
		return func(r *http.Request) {
			u := httptest.NewRequest("POST", target, nil).URL
			r.URL, r.RequestURI = u, target
		}
	}
	tests := []struct {
		target string
		status int
	}{
		{"/mpesa/results/" + whToken, 200},
		{"/mpesa/results/" + whToken + "/", 200},
		{"/mpesa/results?token=" + whToken, 200},
		{"/mpesa/results/x?token=" + whToken + "&other=1", 200},
		{"/mpesa/results", 403},
		{"/mpesa/results/", 403},
		{"/mpesa/results/" + whToken[:len(whToken)-1], 403},
		{"/mpesa/results/" + whToken + "x", 403},
		{"/mpesa/results/" + strings.ToUpper(whToken), 403},
		{"/" + whToken + "/results", 403},
		{"/mpesa/results?token=", 403},
		{"/mpesa/results?tok=" + whToken, 403},
		{"/mpesa/results?token=" + whToken[:8], 403},
	}
	for _, tt := range tests {
		rec := whPost(h, body, at(tt.target))
		assert.Equal(t, tt.status, rec.Code, tt.target)
		if tt.status == 403 {
			assert.JSONEq(t, `{"output_ResponseCode":"1","output_ResponseDesc":"Forbidden"}`, rec.Body.String())
		}
	}
	assert.Equal(t, 1, c.calls(), "the first accepted delivery ran the function; the rest were duplicates")
	// A wrong-token GET is refused for the token, before the method.
	assert.Equal(t, 403, whPost(h, nil, at("/mpesa/results/nope"), func(r *http.Request) { r.Method = "GET" }).Code)

	assert.Contains(t, logs.String(), "missing or wrong token")
	assert.NotContains(t, logs.String(), whToken)
	assert.NotContains(t, logs.String(), whToken[:8])
}

func TestHandlerSourceAddresses(t *testing.T) {
	t.Parallel()
	gatewayNet := netip.MustParsePrefix("196.201.214.0/24") // stands for the operator's egress range
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	c := &whCounter{}
	var sources []netip.Addr
	var mu sync.Mutex
	h := newTestHandler(t, c.fn, AllowSources(gatewayNet), TrustProxies(proxies...),
		Deduplicate(noDedup{}),
		OnDelivery(func(_ context.Context, d *Delivery) error {
			mu.Lock()
			sources = append(sources, d.Source)
			mu.Unlock()
			return nil
		}))
	body := whFixture(t, "openapi/c2b.json")
	from := func(remote string, xff ...string) func(*http.Request) {
		return func(r *http.Request) {
			r.RemoteAddr = remote
			for _, x := range xff {
				r.Header.Add("X-Forwarded-For", x)
			}
		}
	}
	tests := []struct {
		name   string
		mod    func(*http.Request)
		status int
		source string
	}{
		{"gateway directly", from("196.201.214.7:5555"), 200, "196.201.214.7"},
		{"gateway as IPv4-mapped IPv6", from("[::ffff:196.201.214.7]:5555"), 200, "196.201.214.7"},
		{"stranger directly", from("203.0.113.9:5555"), 403, ""},
		{"stranger spoofing X-Forwarded-For", from("203.0.113.9:5555", "196.201.214.7"), 403, ""},
		{"gateway through a trusted proxy", from("10.1.2.3:443", "196.201.214.7"), 200, "196.201.214.7"},
		{"through two trusted proxies", from("10.1.2.3:443", "196.201.214.7, 10.9.9.9"), 200, "196.201.214.7"},
		{"through proxies, several header lines", from("10.1.2.3:443", "196.201.214.7", "10.9.9.9"), 200, "196.201.214.7"},
		{"stranger through a trusted proxy", from("10.1.2.3:443", "203.0.113.9"), 403, ""},
		{"stranger through a proxy, spoofing the leftmost entry", from("10.1.2.3:443", "196.201.214.7, 203.0.113.9"), 403, ""},
		{"IPv6 proxy", from("[fd00::1]:443", "196.201.214.8"), 200, "196.201.214.8"},
		{"trusted proxy without X-Forwarded-For is not the gateway", from("10.1.2.3:443"), 403, ""},
		{"garbage from a trusted proxy", from("10.1.2.3:443", "not-an-ip"), 403, ""},
		{"entry with a port", from("10.1.2.3:443", "196.201.214.7:1234"), 200, "196.201.214.7"},
		{"unreadable peer", from("somewhere"), 403, ""},
		{"peer without port", from("196.201.214.9"), 200, "196.201.214.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			sources = nil
			mu.Unlock()
			rec := whPost(h, body, tt.mod)
			assert.Equal(t, tt.status, rec.Code)
			mu.Lock()
			defer mu.Unlock()
			if tt.status == 200 {
				require.Len(t, sources, 1)
				assert.Equal(t, netip.MustParseAddr(tt.source), sources[0])
			} else {
				assert.Empty(t, sources, "a refused request does not reach OnDelivery")
			}
		})
	}
}

// noDedup processes every delivery: for tests that post one body often.
type noDedup struct{}

func (noDedup) Claim(context.Context, string, string) (ClaimState, error) { return ClaimAcquired, nil }
func (noDedup) Complete(context.Context, string, string) error            { return nil }
func (noDedup) Release(context.Context, string, string) error             { return nil }

// failingDedup fails the calls named in fail.
type failingDedup struct {
	*MemoryDedup
	claim, complete, release bool
}

func (f failingDedup) Claim(ctx context.Context, k, o string) (ClaimState, error) {
	if f.claim {
		return 0, errors.New("redis: connection refused")
	}
	return f.MemoryDedup.Claim(ctx, k, o)
}

func (f failingDedup) Complete(ctx context.Context, k, o string) error {
	if f.complete {
		return errors.New("redis: timeout")
	}
	return f.MemoryDedup.Complete(ctx, k, o)
}

func (f failingDedup) Release(ctx context.Context, k, o string) error {
	if f.release {
		return errors.New("redis: timeout")
	}
	return f.MemoryDedup.Release(ctx, k, o)
}

func TestHandlerDedupStoreFailures(t *testing.T) {
	t.Parallel()
	body := whFixture(t, "openapi/c2b.json")

	// A store that cannot claim: nothing runs, the gateway comes back.
	c := &whCounter{}
	h := newTestHandler(t, c.fn, Deduplicate(failingDedup{MemoryDedup: NewMemoryDedup(0, 0), claim: true}))
	rec := whPost(h, body)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.NotContains(t, rec.Body.String(), "redis")
	assert.Zero(t, c.calls())

	// A store that cannot complete: the result was processed, so it is
	// acknowledged.
	c = &whCounter{}
	h = newTestHandler(t, c.fn, Deduplicate(failingDedup{MemoryDedup: NewMemoryDedup(0, 0), complete: true}))
	rec = whPost(h, body)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, 1, c.calls())

	// A store that cannot release after a failure: still a retryable answer.
	c = &whCounter{err: errors.New("no")}
	h = newTestHandler(t, c.fn, Deduplicate(failingDedup{MemoryDedup: NewMemoryDedup(0, 0), release: true}))
	assert.Equal(t, http.StatusInternalServerError, whPost(h, body).Code)

	// A store answering an unknown state is not trusted.
	c = &whCounter{}
	h = newTestHandler(t, c.fn, Deduplicate(weirdDedup{}))
	assert.Equal(t, http.StatusServiceUnavailable, whPost(h, body).Code)
	assert.Zero(t, c.calls())
}

type weirdDedup struct{ noDedup }

func (weirdDedup) Claim(context.Context, string, string) (ClaimState, error) { return 42, nil }

func TestMemoryDedup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newFakeClock()
	m := NewMemoryDedup(3, time.Minute)
	m.now = clock.Now

	claim := func(key, owner string) ClaimState {
		t.Helper()
		s, err := m.Claim(ctx, key, owner)
		require.NoError(t, err)
		return s
	}
	assert.Equal(t, ClaimAcquired, claim("k1", "a"))
	assert.Equal(t, ClaimInProgress, claim("k1", "b"))
	require.NoError(t, m.Release(ctx, "k1", "b"), "not b's claim")
	assert.Equal(t, ClaimInProgress, claim("k1", "c"))
	require.NoError(t, m.Release(ctx, "k1", "a"))
	assert.Equal(t, ClaimAcquired, claim("k1", "d"), "a released claim can be taken again")
	require.NoError(t, m.Complete(ctx, "k1", "x"), "not x's claim: ignored")
	assert.Equal(t, ClaimInProgress, claim("k1", "e"))
	require.NoError(t, m.Complete(ctx, "k1", "d"))
	assert.Equal(t, ClaimDone, claim("k1", "f"))
	require.NoError(t, m.Release(ctx, "k1", "d"), "a done key is not released")
	assert.Equal(t, ClaimDone, claim("k1", "g"))

	// Completing a key nobody holds records it.
	require.NoError(t, m.Complete(ctx, "k0", "z"))
	assert.Equal(t, ClaimDone, claim("k0", "y"))

	// Bounded: the oldest completed keys go first.
	for _, k := range []string{"k2", "k3", "k4"} {
		assert.Equal(t, ClaimAcquired, claim(k, "o"))
		require.NoError(t, m.Complete(ctx, k, "o"))
		clock.Advance(time.Second)
	}
	assert.Equal(t, 3, m.Len())
	assert.Equal(t, ClaimAcquired, claim("k1", "h"), "k1 was evicted")
	require.NoError(t, m.Release(ctx, "k1", "h"))
	assert.Equal(t, ClaimDone, claim("k4", "h"))

	// In-progress claims do not count against the size and do not expire.
	for i := 0; i < 10; i++ {
		assert.Equal(t, ClaimAcquired, claim("p"+strconv.Itoa(i), "o"))
	}
	assert.Equal(t, 13, m.Len())
	clock.Advance(time.Hour)
	assert.Equal(t, 10, m.Len(), "completed keys expired after the ttl")
	assert.Equal(t, ClaimAcquired, claim("k4", "i"))
	assert.Equal(t, ClaimInProgress, claim("p3", "j"))
}

// TestMemoryDedupConcurrentClaims: of many concurrent claims of one key,
// exactly one wins.
func TestMemoryDedupConcurrentClaims(t *testing.T) {
	t.Parallel()
	m := NewMemoryDedup(0, 0)
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := m.Claim(context.Background(), "key", "owner"+strconv.Itoa(i))
			assert.NoError(t, err)
			if s == ClaimAcquired {
				won.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), won.Load())
}

func TestNewHandlerOptions(t *testing.T) {
	t.Parallel()
	ok := (&whCounter{}).fn
	_, err := NewHandler(nil)
	assert.ErrorContains(t, err, "nil ResultFunc")

	_, err = NewHandler(ok,
		RequireToken("short-secret"),
		RequireToken("a token with spaces and /slashes/"),
		AllowSources(),
		AllowSources(netip.Prefix{}),
		TrustProxies(netip.Prefix{}),
		Deduplicate(nil),
		OnDelivery(nil),
		FeedResults(nil),
		VerifyWithStatusQuery(nil),
		HandlerLogger(nil),
		HandlerGateway(Gateway(7)),
		MaxCallbackBytes(10),
		nil,
	)
	require.Error(t, err)
	for _, name := range []string{"RequireToken", "AllowSources", "TrustProxies", "Deduplicate", "OnDelivery",
		"FeedResults", "VerifyWithStatusQuery", "HandlerLogger", "HandlerGateway", "MaxCallbackBytes", "nil HandlerOption"} {
		assert.ErrorContains(t, err, name)
	}
	assert.NotContains(t, err.Error(), "short-secret")
	assert.NotContains(t, err.Error(), "slashes")

	// A client without a default shortcode cannot verify.
	g := newFakeGateway(t)
	_, err = NewHandler(ok, VerifyWithStatusQuery(g.mozClient(t)))
	assert.ErrorContains(t, err, "WithServiceProviderCode")

	// The gateway the results are read for must be the verifying client's.
	_, err = NewHandler(ok, HandlerGateway(GatewayOpenAPI), VerifyWithStatusQuery(g.mozClient(t, WithServiceProviderCode("171717"))))
	assert.ErrorContains(t, err, "HandlerGateway: openapi-v2, but the VerifyWithStatusQuery client speaks to mozambique-v1x")
	_, err = NewHandler(ok, HandlerGateway(GatewayMozambique), VerifyWithStatusQuery(g.mozClient(t, WithServiceProviderCode("171717"))))
	assert.NoError(t, err)

	// IPv4 ranges written as IPv4-mapped IPv6 match IPv4 peers.
	h := newTestHandler(t, ok, AllowSources(netip.MustParsePrefix("::ffff:192.0.2.0/120")))
	assert.Equal(t, http.StatusOK, whPost(h, whFixture(t, "openapi/c2b.json")).Code)
}

func TestHandlerGatewayDecidesCodes(t *testing.T) {
	t.Parallel()
	// An OpenAPI-shaped body (input_ThirdPartyConversationID) from a
	// handler that knows it serves the Mozambique gateway.
	body := []byte(`{"input_OriginalConversationID":"c","input_ThirdPartyConversationID":"r","input_ResultCode":"INS-5"}`)
	var got *Result
	h := newTestHandler(t, func(_ context.Context, r *Result) error { got = r; return nil }, HandlerGateway(GatewayMozambique))
	require.Equal(t, http.StatusOK, whPost(h, body).Code)
	assert.Equal(t, GatewayMozambique, got.Gateway)
	assert.ErrorIs(t, got.Err(), ErrCancelledByCustomer)
}

// statusGateway answers status queries on a fake gateway with what the
// test sets.
type statusGateway struct {
	*fakeGateway
	mu      sync.Mutex
	status  int
	answer  map[string]string
	queries []string
}

func newStatusGateway(t *testing.T, path string, openAPI bool) *statusGateway {
	s := &statusGateway{fakeGateway: newFakeGateway(t), status: 200}
	s.handle("GET", path, func(w http.ResponseWriter, r *http.Request) {
		if openAPI {
			if _, ok := s.session(w, r); !ok {
				return
			}
		}
		s.mu.Lock()
		s.queries = append(s.queries, r.URL.Query().Get("input_QueryReference"))
		status, answer := s.status, s.answer
		s.mu.Unlock()
		writeJSON(w, status, answer)
	})
	return s
}

func (s *statusGateway) set(status int, answer map[string]string) {
	s.mu.Lock()
	s.status, s.answer = status, answer
	s.mu.Unlock()
}

func (s *statusGateway) queried() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

// statusAnswer is a synchronous status answer about the transaction of
// conversation conv.
func statusAnswer(conv, status, origTx, reversed string) map[string]string {
	m := map[string]string{
		"output_ResponseCode": "INS-0", "output_ResponseDesc": "Request processed successfully",
		"output_ConversationID": conv, "output_ThirdPartyConversationID": "q1ref",
		"output_ResponseTransactionStatus": status,
	}
	if origTx != "" {
		m["output_OriginalTransactionID"] = origTx
	}
	if reversed != "" {
		m["output_Reversed"] = reversed
	}
	return m
}

func TestVerifyWithStatusQueryOpenAPI(t *testing.T) {
	t.Parallel()
	g := newStatusGateway(t, openAPIPath("queryTransactionStatus/"), true)
	client := g.openAPIClient(t, WithServiceProviderCode("000000"), WithMaxRetries(0))
	c := &whCounter{}
	var logs bytes.Buffer
	h := newTestHandler(t, c.fn, VerifyWithStatusQuery(client), HandlerLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	body := whFixture(t, "openapi/c2b.json")

	steps := []struct {
		name   string
		status int
		answer map[string]string
		want   int
		calls  int
	}{
		{"still pending: come back later", 200, statusAnswer(docOCID, "Pending", "", ""), 503, 0},
		{"N/A: come back later", 200, statusAnswer(docOCID, "N/A", "", ""), 503, 0},
		{"not found yet: come back later", 400, map[string]string{"output_ResponseCode": "INS-23", "output_ResponseDesc": "Transaction not found"}, 503, 0},
		{"gateway error: come back later", 500, map[string]string{"output_ResponseCode": "INS-1", "output_ResponseDesc": "Internal Error"}, 503, 0},
		{"asynchronous status answer cannot verify", 200, map[string]string{"output_ResponseCode": "INS-0", "output_ConversationID": "q"}, 503, 0},
		{"failed: contradiction", 200, statusAnswer(docOCID, "Failed", "", ""), 422, 0},
		{"cancelled: contradiction", 200, statusAnswer(docOCID, "Cancelled", "", ""), 422, 0},
		{"undocumented state: contradiction", 200, statusAnswer(docOCID, "Weird", "", ""), 422, 0},
		{"completed but reversed: contradiction", 200, statusAnswer(docOCID, "Completed", "hv9ahxcg4ccv", "True"), 422, 0},
		{"completed, other transaction: contradiction", 200, statusAnswer(docOCID, "Completed", "OTHER123", "False"), 422, 0},
		{"completed, other conversation: contradiction", 200, statusAnswer("another-conversation", "Completed", "hv9ahxcg4ccv", "False"), 422, 0},
		{"completed: confirmed", 200, statusAnswer(docOCID, "Completed", "hv9ahxcg4ccv", "False"), 200, 1},
		{"confirmed once, then deduplicated without a query", 200, statusAnswer(docOCID, "Failed", "", ""), 200, 1},
	}
	queries := 0
	for _, st := range steps {
		g.set(st.status, st.answer)
		rec := whPost(h, body)
		assert.Equal(t, st.want, rec.Code, st.name)
		assert.Equal(t, st.calls, c.calls(), st.name)
		if st.want == 503 {
			assert.NotEmpty(t, rec.Header().Get("Retry-After"), st.name)
		}
		if st.want != 200 {
			assert.Contains(t, rec.Body.String(), `"output_ResponseCode":"1"`, st.name)
			assert.NotContains(t, rec.Body.String(), "Internal Error", st.name)
		}
		if !strings.Contains(st.name, "deduplicated") {
			queries++
		}
		assert.Len(t, g.queried(), queries, st.name)
	}
	for _, q := range g.queried() {
		// What the merchant knows, not what the body claims: a forged
		// success carrying another payment's TransactionID is asked about
		// by its own reference (hardening issue, item 2).
		assert.Equal(t, docRef, q, "the query asks for the result's reference")
	}
	require.Equal(t, 1, c.calls())
	assert.True(t, c.results[0].Verified)
	assert.Contains(t, logs.String(), "contradicted")

	// A failed result moves no money: it is not queried.
	before := len(g.queried())
	c2 := &whCounter{}
	// The OpenAPI fixtures share one conversation ID: no deduplication.
	h2 := newTestHandler(t, c2.fn, VerifyWithStatusQuery(client), Deduplicate(noDedup{}))
	require.Equal(t, 200, whPost(h2, whFixture(t, "variants/openapi_insufficient_balance.json")).Code)
	// Nor is a query's result.
	require.Equal(t, 200, whPost(h2, whFixture(t, "openapi/query_beneficiary_name.json")).Code)
	require.Equal(t, 200, whPost(h2, whFixture(t, "openapi/direct_debit_creation.json")).Code)
	assert.Len(t, g.queried(), before)
	require.Equal(t, 3, c2.calls())
	for _, r := range c2.results {
		assert.False(t, r.Verified)
	}
	assert.ErrorIs(t, c2.results[0].Err(), ErrInsufficientBalance)

	// A direct debit payment moves money and is queried.
	g.set(200, statusAnswer(docOCID, "Completed", "hv9ahxcg4ccv", "False"))
	require.Equal(t, 200, whPost(h2, whFixture(t, "openapi/direct_debit_payment.json")).Code)
	assert.Len(t, g.queried(), before+1)
	assert.True(t, c2.results[3].Verified)
}

func TestVerifyWithStatusQueryMozambique(t *testing.T) {
	t.Parallel()
	g := newStatusGateway(t, "/ipg/v1x/queryTransactionStatus/", false)
	client := g.mozClient(t, WithServiceProviderCode("171717"), WithMaxRetries(0))
	c := &whCounter{}
	h := newTestHandler(t, c.fn, VerifyWithStatusQuery(client))
	body := whFixture(t, "mozambique/c2b.json")

	g.set(200, statusAnswer("241fasif1f1n92fn129nfasnf91nf1", "Expired", "", ""))
	assert.Equal(t, 422, whPost(h, body).Code)
	g.set(200, statusAnswer("241fasif1f1n92fn129nfasnf91nf1", "Completed", "", ""))
	assert.Equal(t, 200, whPost(h, body).Code)
	require.Equal(t, 1, c.calls())
	assert.True(t, c.results[0].Verified)
	assert.Equal(t, GatewayMozambique, c.results[0].Gateway)
	assert.Equal(t, []string{"11114", "11114"}, g.queried())

	// Without a TransactionID the query asks for the conversation.
	noTx := []byte(`{"input_OriginalConversationID":"AG_20180206_00005e7dccc6da08efa8","input_ThirdPartyReference":"r9","input_ResultCode":"0"}`)
	res, err := ParseResult(noTx)
	require.NoError(t, err)
	require.False(t, res.namesTransaction(), "nothing to verify without a TransactionID")
	assert.Equal(t, 200, whPost(h, noTx).Code)
	assert.Len(t, g.queried(), 2)
}

// TestVerifyWithStatusQueryTransportFailure uses an httpmock transport,
// injected into this test's client only, for failures a server cannot
// easily produce.
func TestVerifyWithStatusQueryTransportFailure(t *testing.T) {
	t.Parallel()
	_, pub := testKey(t)
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder("GET", "=~/ipg/v1x/queryTransactionStatus/",
		httpmock.NewErrorResponder(errors.New("read tcp: connection reset by peer")))
	client, err := NewClient(testAPIKey, WithGateway(GatewayMozambique), WithPublicKey(pub),
		WithHTTPClient(&http.Client{Transport: mt}), WithServiceProviderCode("171717"), WithMaxRetries(0))
	require.NoError(t, err)
	c := &whCounter{}
	h := newTestHandler(t, c.fn, VerifyWithStatusQuery(client))
	body := whFixture(t, "mozambique/c2b.json")

	rec := whPost(h, body)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.NotContains(t, rec.Body.String(), "reset")
	assert.Zero(t, c.calls())
	assert.Equal(t, 1, mt.GetTotalCallCount())

	// The claim was released: the redelivery is verified again.
	mt.RegisterResponder("GET", "=~/ipg/v1x/queryTransactionStatus/",
		httpmock.NewStringResponder(200, `{"output_ResponseCode":"INS-0","output_ResponseTransactionStatus":"Completed","output_ConversationID":"241fasif1f1n92fn129nfasnf91nf1","output_ThirdPartyReference":"q"}`))
	assert.Equal(t, http.StatusOK, whPost(h, body).Code)
	assert.Equal(t, 1, c.calls())
	assert.Equal(t, 2, mt.GetTotalCallCount())
}

func TestResultsAwait(t *testing.T) {
	t.Parallel()
	hub := NewResults(0, 0)
	res := mozPayment()

	// A waiter gets the result when it arrives.
	got := make(chan *Result)
	go func() {
		r, err := hub.Await(context.Background(), res.OriginalConversationID)
		assert.NoError(t, err)
		got <- r
	}()
	require.Eventually(t, func() bool { _, w := hub.Len(), hub.Waiting(); return w == 1 }, 5*time.Second, time.Millisecond)
	hub.Deliver(context.Background(), res)
	assert.Same(t, res, <-got)

	// A result that arrived first is found, by either key, more than once.
	for _, key := range []string{res.OriginalConversationID, res.ThirdPartyConversationID, res.OriginalConversationID} {
		r, err := hub.Await(context.Background(), key)
		require.NoError(t, err)
		assert.Same(t, res, r)
	}
	kept, waiting := hub.Len(), hub.Waiting()
	assert.Equal(t, 1, kept)
	assert.Zero(t, waiting)

	// Several waiters on both keys all get it.
	other := openAPIPayment()
	var wg sync.WaitGroup
	for _, key := range []string{docOCID, docOCID, docRef} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := hub.Await(context.Background(), key)
			assert.NoError(t, err)
			assert.Same(t, other, r)
		}()
	}
	require.Eventually(t, func() bool { _, w := hub.Len(), hub.Waiting(); return w == 3 }, 5*time.Second, time.Millisecond)
	hub.Deliver(context.Background(), other)
	wg.Wait()

	_, err := hub.Await(context.Background(), "")
	assert.Error(t, err)
	hub.Deliver(context.Background(), nil) // ignored
}

func TestResultsAwaitContextEnds(t *testing.T) {
	t.Parallel()
	hub := NewResults(0, 0)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error)
	go func() {
		_, err := hub.Await(ctx, "never")
		errs <- err
	}()
	require.Eventually(t, func() bool { _, w := hub.Len(), hub.Waiting(); return w == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	assert.ErrorIs(t, <-errs, context.Canceled)
	_, waiting := hub.Len(), hub.Waiting()
	assert.Zero(t, waiting, "the waiter is gone")

	// An ended context returns at once when nothing is there.
	_, err := hub.Await(ctx, "never")
	assert.ErrorIs(t, err, context.Canceled)
	// ... but a result that is there is returned.
	hub.Deliver(context.Background(), &Result{OriginalConversationID: "here"})
	r, err := hub.Await(ctx, "here")
	require.NoError(t, err)
	assert.Equal(t, "here", r.OriginalConversationID)
}

func TestResultsBounded(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	hub := NewResults(3, time.Minute)
	hub.now = clock.Now
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for i := 0; i < 10; i++ {
		hub.Deliver(context.Background(), &Result{OriginalConversationID: "c" + strconv.Itoa(i), ThirdPartyConversationID: "r" + strconv.Itoa(i)})
	}
	kept, _ := hub.Len(), hub.Waiting()
	assert.Equal(t, 3, kept)
	assert.Len(t, hub.kept, 6, "two keys per result")
	for i := 0; i < 10; i++ {
		_, err := hub.Await(ended, "r"+strconv.Itoa(i))
		if i < 7 {
			assert.ErrorIs(t, err, context.Canceled, "r%d was forgotten", i)
		} else {
			assert.NoError(t, err, "r%d is kept", i)
		}
	}

	// A result delivered again replaces the earlier one.
	hub.Deliver(context.Background(), &Result{OriginalConversationID: "c9", ThirdPartyConversationID: "r9", ResultCode: "INS-6"})
	r, err := hub.Await(ended, "c9")
	require.NoError(t, err)
	assert.Equal(t, "INS-6", r.ResultCode)
	kept, _ = hub.Len(), hub.Waiting()
	assert.Equal(t, 3, kept)

	clock.Advance(2 * time.Minute)
	kept, _ = hub.Len(), hub.Waiting()
	assert.Zero(t, kept, "all expired")
	assert.Empty(t, hub.kept)
	_, err = hub.Await(ended, "c9")
	assert.ErrorIs(t, err, context.Canceled)
}

// TestResultsNoGoroutineLeak: the hub starts no goroutine, and waiters whose
// context ends leave nothing behind. Not parallel: it counts goroutines.
func TestResultsNoGoroutineLeak(t *testing.T) {
	hub := NewResults(16, time.Minute)
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "k" + strconv.Itoa(i%50)
			if i%2 == 0 {
				_, _ = hub.Await(ctx, key)
				return
			}
			hub.Deliver(context.Background(), &Result{OriginalConversationID: "other" + strconv.Itoa(i)})
		}()
	}
	require.Eventually(t, func() bool { _, w := hub.Len(), hub.Waiting(); return w == 100 }, 5*time.Second, time.Millisecond)
	cancel()
	wg.Wait()
	kept, waiting := hub.Len(), hub.Waiting()
	assert.Zero(t, waiting)
	assert.Equal(t, 16, kept, "bounded")
	assert.Empty(t, hub.waiters)
	// Polled by hand: Eventually runs its condition on a goroutine of its
	// own. Goroutines of the waiters may take a moment to be reaped.
	for i := 0; i < 5000 && runtime.NumGoroutine() > before; i++ {
		time.Sleep(time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before)
}

func TestResultsConcurrentDeliverAndAwait(t *testing.T) {
	t.Parallel()
	hub := NewResults(1000, time.Minute)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		key := "conv" + strconv.Itoa(i)
		wg.Add(2)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r, err := hub.Await(ctx, key)
			if assert.NoError(t, err) {
				assert.Equal(t, key, r.OriginalConversationID)
			}
		}()
		go func() {
			defer wg.Done()
			hub.Deliver(context.Background(), &Result{OriginalConversationID: key})
		}()
	}
	wg.Wait()
	_, waiting := hub.Len(), hub.Waiting()
	assert.Zero(t, waiting)
}

func TestHandlerFeedsResults(t *testing.T) {
	t.Parallel()
	hub := NewResults(0, 0)
	fail := atomic.Bool{}
	fail.Store(true)
	h := newTestHandler(t, func(context.Context, *Result) error {
		if fail.Load() {
			return errors.New("not stored")
		}
		return nil
	}, FeedResults(hub))
	body := whFixture(t, "mozambique/b2c.json")

	// A result the function did not accept is not handed out.
	require.Equal(t, 500, whPost(h, body).Code)
	kept, _ := hub.Len(), hub.Waiting()
	assert.Zero(t, kept)

	fail.Store(false)
	require.Equal(t, 200, whPost(h, body).Code)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := hub.Await(ctx, "11114")
	require.NoError(t, err)
	assert.Equal(t, mozOCID, r.OriginalConversationID)
	assert.True(t, r.OK())

	// A duplicate does not feed it again.
	require.Equal(t, 200, whPost(h, body).Code)
	kept, _ = hub.Len(), hub.Waiting()
	assert.Equal(t, 1, kept)
}

// TestHandlerLogs checks what the handler logs, and that no log line holds
// the token, a body, a full MSISDN or the user's free text unmasked.
func TestHandlerLogs(t *testing.T) {
	t.Parallel()
	const msisdn = "255744553111"
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := &whCounter{}
	h := newTestHandler(t, func(ctx context.Context, res *Result) error {
		if res.ResultCode == "INS-2051" {
			return fmt.Errorf("customer %s unknown", msisdn)
		}
		return c.fn(ctx, res)
	}, HandlerLogger(logger), RequireToken(whToken))
	withMSISDN := []byte(`{"input_OriginalConversationID":"c-msisdn","input_ThirdPartyConversationID":"r1","input_ResultCode":"INS-2051","input_ResultDesc":"MSISDN ` + msisdn + ` invalid.","input_CustomerMSISDN":"` + msisdn + `"}`)

	whPost(h, whFixture(t, "openapi/c2b.json"))
	whPost(h, whFixture(t, "openapi/c2b.json"))
	whPost(h, withMSISDN)
	whPost(h, []byte(`{"input_CustomerMSISDN":"`+msisdn+`"}`))
	whPost(h, whFixture(t, "openapi/c2b.json"), func(r *http.Request) { r.URL.Path = "/mpesa/results/wrong" })

	out := logs.String()
	for _, want := range []string{`"msg":"mpesa: result accepted"`, `"msg":"mpesa: duplicate result acknowledged"`,
		`"msg":"mpesa: result function failed"`, `"msg":"mpesa: callback refused"`, `"conversation_id":"` + docOCID + `"`,
		`"reference":"` + docRef + `"`, `"source":"192.0.2.10"`, `"status":403`, "255******111"} {
		assert.Contains(t, out, want)
	}
	for _, leak := range []string{whToken, msisdn, "input_CustomerMSISDN", "Request processed successfully"} {
		assert.NotContains(t, out, leak)
	}
}

// FuzzParseResult checks that no body makes the parser or the handler
// panic, that the parser agrees with encoding/json, and that the handler
// answers every body with an acknowledgement or a 400. The seed corpus (the
// fixtures and testdata/fuzz/FuzzParseResult) runs in every go test.
func FuzzParseResult(f *testing.F) {
	_ = filepath.WalkDir(filepath.Join("testdata", "callbacks"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
		return nil
	})
	for _, s := range []string{``, `{}`, `[]`, `null`, `{"input_OriginalConversationID":""}`, `{"input_OriginalConversationID":{}}`,
		`{"input_OriginalConversationID":"a","input_originalconversationid":"b"}`, `{"a":"\ud800"}`, "{\"input_OriginalConversationID\":\"\xff\"}",
		`{"input_OriginalConversationID":-1.5e+3,"input_Reversed":[true]}`} {
		f.Add([]byte(s))
	}
	h, err := NewHandler(func(context.Context, *Result) error { return nil }, Deduplicate(noDedup{}))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := ParseResult(body)
		// The parser checks syntax itself: it must accept exactly what
		// encoding/json accepts.
		valid := json.Valid(body)
		trimmed := bytes.TrimLeft(body, " \t\r\n")
		isObject := valid && trimmed[0] == '{'
		if !valid {
			require.ErrorIs(t, err, ErrMalformedResult)
			require.ErrorContains(t, err, "not valid JSON")
		} else if !isObject {
			require.ErrorContains(t, err, "not a JSON object")
		} else if err != nil {
			require.ErrorContains(t, err, "no input_OriginalConversationID")
		}
		ref, refErr := referenceParse(body)
		if refErr != nil {
			require.ErrorIs(t, err, ErrMalformedResult)
			require.Nil(t, res)
		} else {
			require.NoError(t, err, "encoding/json reads it: %v", ref)
			require.NotEmpty(t, res.OriginalConversationID)
			for f, v := range ref.known {
				switch f {
				case fieldOriginalConversationID:
					assert.Equal(t, v, res.OriginalConversationID)
				case fieldTransactionID:
					assert.Equal(t, v, res.TransactionID)
				case fieldCustomerFirstName:
					assert.Equal(t, v, res.CustomerFirstName)
				case fieldExpiryDate:
					assert.Equal(t, v, res.ExpiryDate)
				}
			}
			for k, v := range ref.unknown {
				assert.Equal(t, v, res.Extra[k], k)
			}
			_ = fmt.Sprint(res)
			_ = res.Err()
		}

		rec := whPost(h, body)
		switch rec.Code {
		case http.StatusOK:
			require.NotNil(t, res)
			var ack map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ack))
			wantCode := "0"
			if res.API == APIDirectDebitQuery {
				wantCode = "INS-0" // as the Query Direct Debit page shows it
			}
			assert.Equal(t, wantCode, ack["output_ResponseCode"])
			assert.Equal(t, strings.ToValidUTF8(res.OriginalConversationID, "\ufffd"), ack["output_OriginalConversationID"])
		case http.StatusBadRequest:
			require.Nil(t, res)
		default:
			t.Fatalf("status %d", rec.Code)
		}
	})
}

// referenceBody is what encoding/json's tokenizer makes of a body: the value
// of each documented field, its key matched exactly, and the last value of
// each other key.
type referenceBody struct {
	known   map[resultField]string
	unknown map[string]string
}

// referenceParse reads a body with encoding/json's tokenizer, for the fuzz
// target to compare against.
func referenceParse(body []byte) (*referenceBody, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not an object")
	}
	ref := &referenceBody{known: map[resultField]string{}, unknown: map[string]string{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		var v string
		switch raw[0] {
		case '"':
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, err
			}
		case 'n':
		default:
			v = string(raw)
		}
		if f := resultFields[key]; f != fieldNone {
			if _, dup := ref.known[f]; dup {
				return nil, errors.New("a documented field twice")
			}
			ref.known[f] = v
			continue
		}
		ref.unknown[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the object")
	}
	if ref.known[fieldOriginalConversationID] == "" {
		return nil, errors.New("no input_OriginalConversationID")
	}
	return ref, nil
}
