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
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa/internal/wire"
)

// whToken is the token of the tests that use RequireToken; no log line or
// answer may contain it.
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
		if err == nil && d.IsDir() && d.Name() == "daraja" {
			return filepath.SkipDir // TestDarajaEveryFixtureIsChecked
		}
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

// FuzzParseResult checks that no body makes the parser or the handler
// panic, that the parser agrees with encoding/json, and that the handler
// answers every body with an acknowledgement or a 400: the iPG one for an
// iPG body, Daraja's for a Daraja body (FuzzParseDarajaResult compares that
// parser with encoding/json). The seed corpus (the fixtures of every
// gateway and testdata/fuzz/FuzzParseResult) runs in every go test.
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
			// The scan refuses a documented field named twice as it meets
			// it, which may come before the syntax error.
			if !strings.Contains(err.Error(), "appears twice") {
				require.ErrorContains(t, err, "not valid JSON")
			}
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
		dres, _ := ParseDarajaResult(body)
		if res == nil && dres != nil {
			// Not an iPG body, but a Daraja one: Daraja's acknowledgement.
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			want := `{"ResultCode":0,"ResultDesc":"Accepted"}`
			if dres.Callback == CallbackC2BConfirmation {
				want = `{"ResultCode":0,"ResultDesc":"Success"}`
			}
			require.JSONEq(t, want, rec.Body.String())
			_ = fmt.Sprint(dres)
			_ = dres.Err()
			return
		}
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
