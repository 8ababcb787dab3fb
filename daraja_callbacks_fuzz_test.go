package mpesa

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
)

// FuzzParseDarajaResult compares the Daraja parser, in each of its three
// modes (results, queue-timeout notices, C2B validations), with a reference
// written on encoding/json: both must accept the same bodies and read the
// same Result from them, field for field, Extra included. The seed corpus
// is every Daraja fixture and the shapes below.
func FuzzParseDarajaResult(f *testing.F) {
	_ = filepath.WalkDir(filepath.Join("testdata", "callbacks", "daraja"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
		return nil
	})
	for _, s := range []string{``, `{}`, `null`, `{"Result":null}`, `{"Result":"{}"}`, `{"Body":{}}`, `{"TransID":""}`,
		`{"Result":{"ConversationID":"a","ResultParameters":{"ResultParameter":{"Key":"k"}},"ReferenceData":[{"Key":1,"Value":[1]}]}}`,
		`{"Result":{"OriginatorConversationID":"o","ResultParameters":[{"Key":"Amount","Value":1.50,"X":{}}],"Result.X":1},"Result.X":2}`,
		`{"Body":{"stkCallback":{"CheckoutRequestID":{"a":1},"CallbackMetadata":{"Item":{"Name":"Amount"}},"x":null}},"TransactionID":"t"}`,
		`{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","CallbackMetadata":{"Item":[{"Name":"Amount"},{"Name":"Amount"}]}}}}`,
		`{"TransID":"T","MSISDN":2547,"FirstName":null,"ConversationID":"c","Body":1}`, `{"ConversationID":"c","ResultCode":0}`,
		"{\"Result\":{\"ConversationID\":\"\xff\",\"ResultDesc\":\"\\ud800\"}}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, mode := range []darajaMode{darajaResults, darajaQueueTimeout, darajaValidation} {
			got, err := parseDaraja(body, mode)
			if !json.Valid(body) {
				// Malformed; a field named twice before the syntax error
				// may be what the scan meets first.
				require.ErrorIs(t, err, ErrMalformedResult)
				require.Nil(t, got)
				continue
			}
			if nesting(body) > 64 {
				continue // the reference re-reads each level: too slow to compare
			}
			want, werr := referenceDaraja(body, mode)
			if werr != nil {
				require.Error(t, err, "the reference refuses it (%v) and the parser reads %v", werr, got)
				require.Nil(t, got)
				if errors.Is(werr, errRefNotDaraja) {
					require.ErrorIs(t, err, errNotThisGateway)
				} else {
					require.ErrorIs(t, err, ErrMalformedResult)
				}
				continue
			}
			require.NoError(t, err, "the reference reads %v", want)
			want.API = got.API // a hint the reference does not compute
			if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
				t.Fatalf("mode %d: mismatch (-reference +parser):\n%s", mode, d)
			}
			_ = got.String()
			_ = got.Err()
			_, _ = got.CompletedAt()
			_ = got.Balances()
		}
	})
}

// nesting is how deep the brackets of body go, strings ignored roughly.
func nesting(body []byte) int {
	depth, most := 0, 0
	for _, c := range body {
		switch c {
		case '{', '[':
			depth++
			most = max(most, depth)
		case '}', ']':
			depth--
		}
	}
	return most
}

var (
	errRefMalformed = errors.New("reference: malformed")
	errRefNotDaraja = errors.New("reference: not a Daraja body")
)

// refNode is a JSON value as encoding/json reads it: a scalar as the SDK
// keeps one (a string decoded, a number or boolean as written, null as
// ""), a composite verbatim, and an object's members in order.
type refNode struct {
	kind    byte // '{', '[', '"', 'n', or the first byte of a number or boolean
	str     string
	members []refMember
	elems   []*refNode
}

type refMember struct {
	key string
	val *refNode
}

func refDecode(raw json.RawMessage) (*refNode, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, io.ErrUnexpectedEOF
	}
	n := &refNode{kind: raw[0], str: string(raw)}
	switch raw[0] {
	case '"':
		if err := json.Unmarshal(raw, &n.str); err != nil {
			return nil, err
		}
	case 'n':
		n.str = ""
	case '{', '[':
		dec := json.NewDecoder(bytes.NewReader(raw))
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		for dec.More() {
			var key string
			if raw[0] == '{' {
				tok, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key = tok.(string)
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, err
			}
			child, err := refDecode(v)
			if err != nil {
				return nil, err
			}
			if raw[0] == '{' {
				n.members = append(n.members, refMember{key, child})
			} else {
				n.elems = append(n.elems, child)
			}
		}
	}
	return n, nil
}

// refReader reads a body's shape into a Result, with Extra written in the
// order the parser writes it (it matters only when two paths collide).
type refReader struct {
	r     *Result
	extra [][2]string
}

func (rr *refReader) unknown(path, key, val string) {
	rr.extra = append(rr.extra, [2]string{path + key, val})
}

// fields reads an object's members: the documented ones (names) into a
// map, refusing one twice, the others into Extra under path.
func (rr *refReader) fields(n *refNode, path string, names ...string) (map[string]*refNode, error) {
	out := map[string]*refNode{}
	for _, m := range n.members {
		documented := false
		for _, name := range names {
			if m.key == name {
				documented = true
			}
		}
		if !documented {
			rr.unknown(path, m.key, m.val.str)
			continue
		}
		if _, dup := out[m.key]; dup {
			return nil, errRefMalformed
		}
		out[m.key] = m.val
	}
	return out, nil
}

func str(m map[string]*refNode, key string) string {
	if n := m[key]; n != nil {
		return n.str
	}
	return ""
}

// list reads Key/Value (or Name/Value) items: a list, one bare object, or
// null.
func (rr *refReader) list(path string, n *refNode, keyName string) (ResultParameters, error) {
	var items []*refNode
	switch n.kind {
	case 'n':
		return nil, nil
	case '{':
		items = []*refNode{n}
	case '[':
		items = n.elems
	default:
		return nil, errRefMalformed
	}
	var out ResultParameters
	for i, it := range items {
		if it.kind != '{' {
			return nil, errRefMalformed
		}
		m, err := rr.fields(it, path+"["+strconv.Itoa(i)+"].", keyName, "Value")
		if err != nil {
			return nil, err
		}
		out = append(out, ResultParameter{str(m, keyName), str(m, "Value")})
	}
	return out, nil
}

func (rr *refReader) wrapped(path, inner string, n *refNode) (ResultParameters, error) {
	switch n.kind {
	case 'n':
		return nil, nil
	case '[':
		return rr.list(path, n, "Key")
	case '{':
	default:
		return nil, errRefMalformed
	}
	m, err := rr.fields(n, path+".", inner)
	if err != nil || m[inner] == nil {
		return nil, err
	}
	return rr.list(path+"."+inner, m[inner], "Key")
}

func (rr *refReader) envelope(n *refNode, cb CallbackKind) error {
	if n.kind != '{' {
		return errRefMalformed
	}
	m, err := rr.fields(n, "Result.", "ResultType", "ResultCode", "ResultDesc", "OriginatorConversationID",
		"ConversationID", "TransactionID", "ResultParameters", "ReferenceData")
	if err != nil {
		return err
	}
	r := rr.r
	r.Callback = cb
	r.ResultType, r.ResultCode, r.ResultDesc = str(m, "ResultType"), str(m, "ResultCode"), str(m, "ResultDesc")
	r.OriginatorConversationID, r.OriginalConversationID = str(m, "OriginatorConversationID"), str(m, "ConversationID")
	r.TransactionID = str(m, "TransactionID")
	if r.OriginalConversationID == "" && r.OriginatorConversationID == "" {
		return errRefMalformed
	}
	if p := m["ResultParameters"]; p != nil {
		if r.Parameters, err = rr.wrapped("Result.ResultParameters", "ResultParameter", p); err != nil {
			return err
		}
	}
	if p := m["ReferenceData"]; p != nil {
		if r.ReferenceData, err = rr.wrapped("Result.ReferenceData", "ReferenceItem", p); err != nil {
			return err
		}
	}
	if v, ok := r.Parameter("TransactionAmount"); ok {
		r.Amount = v
	} else if v, ok := r.Parameter("Amount"); ok {
		r.Amount = v
	}
	if r.OriginalConversationID == "" {
		r.OriginalConversationID = r.OriginatorConversationID
	}
	r.ThirdPartyConversationID = r.OriginatorConversationID
	return nil
}

func (rr *refReader) stk(n *refNode) error {
	if n.kind != '{' {
		return errRefMalformed
	}
	body, err := rr.fields(n, "Body.", "stkCallback")
	if err != nil {
		return err
	}
	cb := body["stkCallback"]
	if cb == nil || cb.kind != '{' {
		return errRefMalformed
	}
	m, err := rr.fields(cb, "Body.stkCallback.", "MerchantRequestID", "CheckoutRequestID", "ResultCode", "ResultDesc", "CallbackMetadata")
	if err != nil {
		return err
	}
	r := rr.r
	r.Callback, r.API = CallbackSTK, APIC2B
	r.MerchantRequestID, r.CheckoutRequestID = str(m, "MerchantRequestID"), str(m, "CheckoutRequestID")
	r.ResultCode, r.ResultDesc = str(m, "ResultCode"), str(m, "ResultDesc")
	if r.CheckoutRequestID == "" {
		return errRefMalformed
	}
	r.OriginalConversationID = r.CheckoutRequestID
	meta := m["CallbackMetadata"]
	if meta == nil || meta.kind == 'n' {
		return nil
	}
	if meta.kind != '{' {
		return errRefMalformed
	}
	mm, err := rr.fields(meta, "Body.stkCallback.CallbackMetadata.", "Item")
	if err != nil {
		return err
	}
	if it := mm["Item"]; it != nil {
		if r.Parameters, err = rr.list("Body.stkCallback.CallbackMetadata.Item", it, "Name"); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, p := range r.Parameters {
		var dst *string
		switch p.Key {
		case "Amount":
			dst = &r.Amount
		case "MpesaReceiptNumber":
			dst = &r.TransactionID
		case "TransactionDate":
			dst = &r.TransactionDate
		case "PhoneNumber":
			dst = &r.PhoneNumber
		default:
			continue
		}
		if seen[p.Key] {
			return errRefMalformed
		}
		seen[p.Key] = true
		*dst = p.Value
	}
	return nil
}

var refC2BFields = []string{"TransactionType", "TransID", "TransTime", "TransAmount", "BusinessShortCode", "BillRefNumber",
	"InvoiceNumber", "OrgAccountBalance", "ThirdPartyTransID", "MSISDN", "FirstName", "MiddleName", "LastName"}

var refFlatFields = []string{"ConversationID", "OriginatorConversationID", "ResultCode", "ResultDesc", "ResultType", "TransactionID"}

// referenceDaraja reads body as the parser should, in mode.
func referenceDaraja(body []byte, mode darajaMode) (*Result, error) {
	root, err := refDecode(body)
	if err != nil {
		return nil, err
	}
	if root.kind != '{' {
		return nil, errRefMalformed
	}
	rr := &refReader{r: &Result{Gateway: GatewayDaraja}}
	top, err := rr.fields(root, "", append(append([]string{"Body", "Result"}, refC2BFields...), refFlatFields...)...)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	c2b := func(cb CallbackKind) error {
		for _, k := range refC2BFields {
			used[k] = true
		}
		r := rr.r
		if str(top, "TransID") == "" {
			return errRefMalformed
		}
		r.Callback, r.API = cb, APIC2B
		r.TransactionID, r.OriginalConversationID = str(top, "TransID"), str(top, "TransID")
		r.TransactionType, r.TransactionDate, r.Amount = str(top, "TransactionType"), str(top, "TransTime"), str(top, "TransAmount")
		r.ServiceProviderCode, r.TransactionReference = str(top, "BusinessShortCode"), str(top, "BillRefNumber")
		r.InvoiceNumber, r.OrgAccountBalance = str(top, "InvoiceNumber"), str(top, "OrgAccountBalance")
		r.ThirdPartyConversationID, r.MSISDN = str(top, "ThirdPartyTransID"), str(top, "MSISDN")
		r.CustomerFirstName, r.CustomerMiddleName, r.CustomerLastName = str(top, "FirstName"), str(top, "MiddleName"), str(top, "LastName")
		if cb == CallbackC2BConfirmation {
			r.ResultCode = "0"
		}
		return nil
	}
	has := func(k string) bool { return top[k] != nil }
	switch mode {
	case darajaResults:
		shapes := 0
		for _, k := range []string{"Body", "Result", "TransID"} {
			if has(k) {
				shapes++
			}
		}
		switch {
		case shapes > 1:
			return nil, errRefMalformed
		case has("Body"):
			used["Body"] = true
			err = rr.stk(top["Body"])
		case has("Result"):
			used["Result"] = true
			err = rr.envelope(top["Result"], CallbackResult)
		case has("TransID"):
			err = c2b(CallbackC2BConfirmation)
		default:
			return nil, errRefNotDaraja
		}
	case darajaValidation:
		if !has("TransID") || has("Body") || has("Result") {
			return nil, errRefMalformed
		}
		err = c2b(CallbackC2BValidation)
	case darajaQueueTimeout:
		if has("Result") {
			used["Result"] = true
			err = rr.envelope(top["Result"], CallbackQueueTimeout)
			break
		}
		for _, k := range refFlatFields {
			used[k] = true
		}
		r := rr.r
		r.Callback = CallbackQueueTimeout
		r.OriginalConversationID, r.OriginatorConversationID = str(top, "ConversationID"), str(top, "OriginatorConversationID")
		r.ResultCode, r.ResultDesc, r.ResultType = str(top, "ResultCode"), str(top, "ResultDesc"), str(top, "ResultType")
		r.TransactionID = str(top, "TransactionID")
		if r.OriginalConversationID == "" && r.OriginatorConversationID == "" {
			return nil, errRefMalformed
		}
		if r.OriginalConversationID == "" {
			r.OriginalConversationID = r.OriginatorConversationID
		}
		r.ThirdPartyConversationID = r.OriginatorConversationID
	}
	if err != nil {
		return nil, err
	}
	// The documented members the shape did not use, in the parser's order.
	for _, k := range append(append([]string{"Body", "Result"}, refC2BFields...), refFlatFields...) {
		if has(k) && !used[k] {
			rr.unknown("", k, top[k].str)
		}
	}
	if len(rr.extra) > 0 {
		rr.r.Extra = map[string]string{}
		for _, kv := range rr.extra {
			rr.r.Extra[kv[0]] = kv[1]
		}
	}
	return rr.r, nil
}

// TestReferenceDarajaReadsTheFixtures keeps the reference honest: it reads
// every fixture as the fixture table says.
func TestReferenceDarajaReadsTheFixtures(t *testing.T) {
	t.Parallel()
	for name, want := range darajaFixtures {
		got, err := referenceDaraja(darajaFixture(t, name), darajaFixtureMode(name))
		require.NoError(t, err, name)
		got.API = want.API
		if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("%s: mismatch (-want +reference):\n%s", name, strings.TrimSpace(d))
		}
	}
}
