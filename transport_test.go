package mpesa

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa/internal/wire"
)

// c2bParams are the parameters of the portal's C2B sample, in key order.
var c2bParams = []wire.Param{
	{Key: "input_Amount", Value: "10"},
	{Key: "input_Country", Value: "TZN"},
	{Key: "input_Currency", Value: "TZS"},
	{Key: "input_CustomerMSISDN", Value: "255744553111"},
	{Key: "input_PurchasedItemsDesc", Value: "Handbag, Black shoes"},
	{Key: "input_ServiceProviderCode", Value: "000000"},
	{Key: "input_ThirdPartyConversationID", Value: "asv02e5958774f7ba228d83d0d689761"},
	{Key: "input_TransactionReference", Value: "T12344C"},
}

// The transport tests run over HTTP/1.1 and HTTP/2 (forEachProtocol,
// newFakeGatewayOver in faultserver_test.go). The golden file they compare
// holds the request body only, which does not depend on the protocol: both
// runs compare to it unchanged, nothing is normalised.

func TestRequestOnTheWire(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, testRequestOnTheWire)
}

func testRequestOnTheWire(t *testing.T, proto string) {
	g := newFakeGatewayOver(t, proto)
	var got *http.Request
	var body []byte
	g.handle("POST", openAPIPath("c2bPayment/singleStage/"), func(w http.ResponseWriter, r *http.Request) {
		if _, ok := g.session(w, r); !ok {
			return
		}
		got = r
		body, _ = io.ReadAll(r.Body)
		writeJSON(w, 201, map[string]string{
			"output_ResponseCode": "INS-0", "output_ResponseDesc": "Request processed successfully",
			"output_TransactionID": "hv9ahxcg4ccv", "output_ConversationID": "fd1e9143d22544459f7c66e1860ef276",
			"output_ThirdPartyConversationID": "asv02e5958774f7ba228d83d0d689761",
		})
	})
	c := g.openAPIClient(t)
	out, err := c.do(context.Background(), APIC2B, c2bParams, "asv02e5958774f7ba228d83d0d689761")
	require.NoError(t, err)
	assert.Equal(t, "hv9ahxcg4ccv", string(out.TransactionID))
	assert.Equal(t, "fd1e9143d22544459f7c66e1860ef276", string(out.ConversationID))

	assert.Equal(t, "application/json", got.Header.Get("Content-Type"))
	assert.Equal(t, "application/json", got.Header.Get("Accept"))
	assert.Equal(t, "*", got.Header.Get("Origin"))
	assert.Equal(t, "mpesa-go/"+Version, got.Header.Get("User-Agent"))
	assert.Empty(t, got.Header.Get("Idempotency-Key"), "Go's transport would replay POSTs with it")
	assert.Empty(t, got.Header.Get("X-Idempotency-Key"))
	golden(t, "core_c2b_body.json", body)
}

func TestGETSendsParametersInTheQuery(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, testGETSendsParametersInTheQuery)
}

func testGETSendsParametersInTheQuery(t *testing.T, proto string) {
	g := newFakeGatewayOver(t, proto)
	var got *http.Request
	g.handle("GET", "/ipg/v1x/queryTransactionStatus/", func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		assert.Empty(t, b, "a GET has no body")
		writeJSON(w, 200, map[string]string{"output_ResponseCode": "INS-0", "output_ResponseTransactionStatus": "Completed"})
	})
	c := g.mozClient(t)
	params := []wire.Param{
		{Key: "input_QueryReference", Value: "5C1400CVRO"},
		{Key: "input_ServiceProviderCode", Value: "171717"},
		{Key: "input_ThirdPartyReference", Value: "11114 x+y"},
	}
	out, err := c.do(context.Background(), APITransactionStatus, params, "11114")
	require.NoError(t, err)
	assert.Equal(t, "Completed", string(out.ResponseTransactionStatus))
	assert.Equal(t, "input_QueryReference=5C1400CVRO&input_ServiceProviderCode=171717&input_ThirdPartyReference=11114+x%2By", got.URL.RawQuery)
	assert.Equal(t, "11114 x+y", got.URL.Query().Get("input_ThirdPartyReference"))
	assert.Equal(t, "application/json", got.Header.Get("Content-Type"), "GET carries the same headers (docs/gateways.md O6)")
	assert.Equal(t, "developer.mpesa.vm.co.mz", got.Header.Get("Origin"))
	key, ok := decryptBearer(g.priv, got.Header.Get("Authorization"))
	require.True(t, ok)
	assert.Equal(t, testAPIKey, key, "Mozambique's bearer is the encrypted API key")
}

func TestNotSupportedSendsNothing(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, testNotSupportedSendsNothing)
}

func testNotSupportedSendsNothing(t *testing.T, proto string) {
	g := newFakeGatewayOver(t, proto)
	c := g.mozClient(t)
	_, err := c.do(context.Background(), APIDirectDebitCreate, nil, "r")
	assert.ErrorIs(t, err, ErrNotSupported)
}

// TestUnexpectedAnswers covers every answer that is not a gateway JSON
// document: each is a typed *Error with the status and a redacted excerpt.
func TestUnexpectedAnswers(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, testUnexpectedAnswers)
}

func testUnexpectedAnswers(t *testing.T, proto string) {
	html := "<html><head><title>Request Rejected</title></head><body>The requested URL was rejected. Your support ID is: 1234567890123</body></html>"
	tests := []struct {
		name        string
		status      int
		body        string
		api         API
		wantKinds   []error
		notKinds    []error
		wantExcerpt string
		wantCode    string
		wantDesc    string
	}{
		{name: "firewall HTML 403 on a payment", status: 403, body: html, api: APIC2B,
			wantKinds: []error{ErrUnexpectedResponse}, notKinds: []error{ErrOutcomeUnknown},
			wantExcerpt: "<html><head><title>Request Rejected</title></head><body>The requested URL was rejected. Your support ID is: 123*******12…"},
		{name: "HTML 200 on a payment", status: 200, body: html, api: APIC2B,
			wantKinds: []error{ErrUnexpectedResponse, ErrOutcomeUnknown}},
		{name: "proxy 502 on a payment", status: 502, body: "Bad Gateway", api: APIB2C,
			wantKinds: []error{ErrUnexpectedResponse, ErrOutcomeUnknown}, wantExcerpt: "Bad Gateway"},
		{name: "empty 201", status: 201, body: "", api: APIC2B,
			wantKinds: []error{ErrUnexpectedResponse, ErrOutcomeUnknown}},
		{name: "truncated JSON 201", status: 201, body: `{"output_ResponseCode":"INS-0","output_Conv`, api: APIC2B,
			wantKinds: []error{ErrUnexpectedResponse, ErrOutcomeUnknown}},
		{name: "JSON without a code", status: 200, body: `{"hello":"world"}`, api: APIC2B,
			wantKinds: []error{ErrUnexpectedResponse, ErrOutcomeUnknown}},
		{name: "JSON array", status: 200, body: `[1,2]`, api: APIC2B,
			wantKinds: []error{ErrUnexpectedResponse}},
		{name: "output_error 401", status: 401, body: `{"output_error":"Bad API Key"}`, api: APIC2B,
			wantKinds: []error{ErrUnauthorized}, notKinds: []error{ErrUnexpectedResponse, ErrOutcomeUnknown}, wantDesc: "Bad API Key"},
		{name: "output_error 400 missing origin", status: 400, body: `{"output_error":"Missing Origin Header"}`, api: APIC2B,
			notKinds: []error{ErrUnauthorized, ErrOutcomeUnknown}, wantDesc: "Missing Origin Header"},
		{name: "success code with 400", status: 400, body: `{"output_ResponseCode":"INS-0"}`, api: APIC2B,
			wantKinds: []error{ErrUnexpectedResponse}},
		{name: "numbers and booleans", status: 409, body: `{"output_ResponseCode":"INS-10","output_ResponseDesc":"Duplicate Transaction","output_TransactionID":"N/A","output_ConversationID":12345,"output_Reversed":false}`, api: APIC2B,
			wantKinds: []error{ErrDuplicate}, wantCode: "INS-10", wantDesc: "Duplicate Transaction"},
		{name: "INS-1 on a payment", status: 500, body: `{"output_ResponseCode":"INS-1","output_ResponseDesc":"Internal Error"}`, api: APIC2B,
			wantKinds: []error{ErrInternal, ErrOutcomeUnknown}, wantCode: "INS-1"},
		// A payment answer that says nothing certain about the outcome is
		// outcome-unknown, so that a caller reconciles instead of paying
		// again under a new reference (hardening issue, item 9).
		{name: "unknown code keeps the gateway's words", status: 400, body: `{"output_ResponseCode":"INS-4242","output_ResponseDesc":"Something new"}`, api: APIC2B,
			wantCode: "INS-4242", wantDesc: "Something new", wantKinds: []error{ErrOutcomeUnknown}},
		{name: "unknown code on a query is a plain refusal", status: 400, body: `{"output_ResponseCode":"INS-4242","output_ResponseDesc":"Something new"}`, api: APITransactionStatus,
			wantCode: "INS-4242", wantDesc: "Something new", notKinds: []error{ErrOutcomeUnknown}},
		{name: "mozambique INS-23 Unknown Status on a payment", status: 400, body: `{"output_ResponseCode":"INS-23","output_ResponseDesc":"Unknown Status. Contact M-Pesa Support"}`, api: APIB2C,
			wantCode: "INS-23", wantKinds: []error{ErrOutcomeUnknown}},
		{name: "2xx with a failure code on a payment", status: 201, body: `{"output_ResponseCode":"INS-6","output_ResponseDesc":"Transaction Failed"}`, api: APIC2B,
			wantCode: "INS-6", wantKinds: []error{ErrOutcomeUnknown}},
		{name: "ambiguous duplicate key on a payment", status: 201, body: `{"output_ResponseCode":"INS-6","output_ResponseCode":"INS-0"}`, api: APIC2B,
			wantKinds: []error{ErrUnexpectedResponse, ErrOutcomeUnknown}},
		{name: "documented description fills a missing one", status: 422, body: `{"output_ResponseCode":"INS-2006"}`, api: APIB2C,
			wantKinds: []error{ErrInsufficientBalance}, wantCode: "INS-2006", wantDesc: "Insufficient balance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newFakeGatewayOver(t, proto)
			hits := 0
			g.handle(apiMethod(tt.api), "/ipg/v1x/"+mozambiqueEndpoints[tt.api].path, func(w http.ResponseWriter, r *http.Request) {
				hits++
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			c := g.mozClient(t, WithMaxRetries(0))
			_, err := c.do(context.Background(), tt.api, c2bParams, "REF42")
			require.Error(t, err)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.status, e.HTTPStatus)
			assert.Equal(t, "REF42", e.ThirdPartyConversationID, "every error carries the reference")
			for _, k := range tt.wantKinds {
				assert.ErrorIs(t, err, k)
			}
			for _, k := range tt.notKinds {
				assert.NotErrorIs(t, err, k)
			}
			if tt.wantExcerpt != "" {
				assert.Equal(t, tt.wantExcerpt, e.Excerpt)
			}
			assert.LessOrEqual(t, len(e.Excerpt), excerptBytes+len("…"))
			assert.Equal(t, tt.wantCode, e.Code)
			if tt.wantDesc != "" {
				assert.Equal(t, tt.wantDesc, e.Description)
			}
			assert.Equal(t, 1, hits, "a payment is sent once")
		})
	}
}

func TestOversizedBody(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, testOversizedBody)
}

func testOversizedBody(t *testing.T, proto string) {
	for _, chunked := range []bool{false, true} {
		g := newFakeGatewayOver(t, proto)
		g.handle("POST", "/ipg/v1x/c2bPayment/singleStage/", func(w http.ResponseWriter, r *http.Request) {
			big := strings.Repeat("A", maxBodyBytes+10)
			if !chunked {
				w.Header().Set("Content-Length", "262154")
			}
			w.WriteHeader(200)
			_, _ = io.WriteString(w, big)
		})
		c := g.mozClient(t)
		_, err := c.do(context.Background(), APIC2B, c2bParams, "R")
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.ErrorIs(t, err, ErrUnexpectedResponse)
		assert.ErrorContains(t, err, "body larger than 256 KiB")
		assert.LessOrEqual(t, len(e.Excerpt), excerptBytes+len("…"))
	}
}

// FuzzInterpret feeds arbitrary answers to the decoder: it must never panic,
// and it returns either a decoded output with no error or an *Error.
func FuzzInterpret(f *testing.F) {
	for _, s := range []string{
		`{"output_ResponseCode":"INS-0","output_TransactionID":"x"}`,
		`{"output_ResponseCode":"INS-10","output_ResponseDesc":"Duplicate Transaction"}`,
		`{"output_error":"Bad API Key"}`,
		`<html>blocked</html>`,
		`{"output_ResponseCode":0,"output_Reversed":true,"output_MandateID":15045}`,
		`{"output_ResponseCode":"INS-0","output_ConversationID":{"a":1}}`,
		`{"output_ResponseCode":"\u0000INS-0"}`,
		``, `null`, `{`, `"str"`,
	} {
		f.Add(201, []byte(s))
		f.Add(400, []byte(s))
	}
	g := newFakeGateway(f)
	c := g.mozClient(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		for _, api := range []API{APIC2B, APITransactionStatus} {
			rq := &request{api: api, ref: "ref", out: new(ipgOutput)}
			e := c.interpret(rq, &http.Response{StatusCode: status, Header: http.Header{}}, body, nil)
			if e != nil {
				_ = e.Error()
				var any *Error
				if !errors.As(e, &any) {
					t.Fatal("not an *Error")
				}
			}
		}
	})
}

// golden compares got with testdata/name; go test -update rewrites it.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	assert.Equal(t, string(want), string(got), "golden file %s", path)
}
