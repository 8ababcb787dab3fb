package mpesa

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/mpesa-go/mpesa/internal/wire"
)

// The callbacks of the iPG gateways (OpenAPI v2, Mozambique v1x): a flat
// JSON object of input_* values posted to the application's Response URL,
// acknowledged with a flat object of output_* strings (docs/gateways.md
// O15, O16, M9).

// The fields of an iPG callback body.
type resultField int

const (
	fieldNone resultField = iota
	fieldOriginalConversationID
	fieldTransactionID
	fieldResultCode
	fieldResultDesc
	fieldResponseCode
	fieldResponseDesc
	fieldThirdPartyConversationID
	fieldThirdPartyReference
	fieldTransactionReference
	fieldMsisdnToken
	fieldMandateID
	fieldCustomerFirstName
	fieldCustomerLastName
	fieldOriginalTransactionID
	fieldReversed
	fieldMandateStatus
	fieldAccountStatus
	fieldFirstPaymentDate
	fieldFrequency
	fieldPaymentDayFrom
	fieldPaymentDayTo
	fieldExpiryDate
	fieldSufficientBalance
	fieldCount
)

// resultFieldNames are the documented names of the callback fields.
var resultFieldNames = [fieldCount]string{
	fieldOriginalConversationID:   "input_OriginalConversationID",
	fieldTransactionID:            "input_TransactionID",
	fieldResultCode:               "input_ResultCode",
	fieldResultDesc:               "input_ResultDesc",
	fieldResponseCode:             "input_ResponseCode",
	fieldResponseDesc:             "input_ResponseDesc",
	fieldThirdPartyConversationID: "input_ThirdPartyConversationID",
	fieldThirdPartyReference:      "input_ThirdPartyReference",
	fieldTransactionReference:     "input_TransactionReference",
	fieldMsisdnToken:              "input_MsisdnToken",
	fieldMandateID:                "input_MandateID",
	fieldCustomerFirstName:        "input_CustomerFirstName",
	fieldCustomerLastName:         "input_CustomerLastName",
	fieldOriginalTransactionID:    "input_OriginalTransactionID",
	fieldReversed:                 "input_Reversed",
	fieldMandateStatus:            "input_MandateStatus",
	fieldAccountStatus:            "input_AccountStatus",
	fieldFirstPaymentDate:         "input_FirstPaymentDate",
	fieldFrequency:                "input_Frequency",
	fieldPaymentDayFrom:           "input_PaymentDayFrom",
	fieldPaymentDayTo:             "input_PaymentDayTo",
	fieldExpiryDate:               "input_ExpiryDate",
	fieldSufficientBalance:        "input_SufficientBalance",
}

// resultFields maps the documented names, exactly as written, to fields. A
// key is never matched without regard to case: input_RESULTCODE is not
// input_ResultCode, and lands in Extra.
var resultFields = func() map[string]resultField {
	m := make(map[string]resultField, fieldCount)
	for f := fieldNone + 1; f < fieldCount; f++ {
		m[resultFieldNames[f]] = f
	}
	return m
}()

// ParseResult decodes a callback body of an iPG gateway (OpenAPI v2 or
// Mozambique). The body must be a JSON object with a non-empty
// input_OriginalConversationID; values may be strings, numbers, booleans or
// null. A body that is not one, or that names a documented field twice,
// gives an error matching ErrMalformedResult.
func ParseResult(body []byte) (*Result, error) {
	r := new(Result)
	if err := r.parseIPG(body); err != nil {
		return nil, err
	}
	return r, nil
}

func malformed(why string) error { return fmt.Errorf("%w: %s", ErrMalformedResult, why) }

var errNotIPG = fmt.Errorf("%w: no input_OriginalConversationID", errNotThisGateway)

// ipgCallbacks reads and answers the callbacks of both iPG gateways.
var ipgCallbacks = callbackCodec{
	name: "ipg",
	parse: func(body []byte) (*Result, error) {
		r := new(Result)
		if err := r.parseIPG(body); err != nil {
			return nil, err
		}
		return r, nil
	},
	ack: ipgAck,
}

// parseIPG fills r from an iPG body. It reads the body once, as strictly as
// encoding/json does, with exact key matching. The values it keeps are
// copied out of the body into one string of their own, so that a kept
// result does not hold a large body alive.
func (r *Result) parseIPG(body []byte) error {
	var vals [fieldCount]string
	var seen uint32
	var extra [][2]string
	// The scan reads the body in place: every value it keeps is copied out
	// by own or strings.Clone before parseIPG returns.
	err := wire.Object(unsafeString(body), func(key, val string) error {
		f := resultFields[key]
		if f == fieldNone {
			extra = append(extra, [2]string{key, val})
			return nil
		}
		if seen&(1<<f) != 0 {
			// Which of the two counts is not decided by the document, so
			// the body is not trusted.
			return malformed(key + " appears twice")
		}
		seen |= 1 << f
		vals[f] = val
		return nil
	})
	switch {
	case errors.Is(err, wire.ErrNotObject):
		return malformed("not a JSON object")
	case errors.Is(err, wire.ErrSyntax):
		return malformed("not valid JSON")
	case err != nil:
		return err
	}
	if vals[fieldOriginalConversationID] == "" {
		return errNotIPG
	}
	own(vals[:])
	r.OriginalConversationID = vals[fieldOriginalConversationID]
	r.TransactionID = vals[fieldTransactionID]
	r.ResultCode = r.either(&vals, fieldResultCode, fieldResponseCode)
	r.ResultDesc = r.either(&vals, fieldResultDesc, fieldResponseDesc)
	r.ThirdPartyConversationID = r.either(&vals, fieldThirdPartyConversationID, fieldThirdPartyReference)
	if vals[fieldThirdPartyConversationID] == "" && vals[fieldThirdPartyReference] != "" {
		r.Gateway = GatewayMozambique
	}
	r.TransactionReference = vals[fieldTransactionReference]
	r.MsisdnToken = vals[fieldMsisdnToken]
	r.MandateID = vals[fieldMandateID]
	r.CustomerFirstName = vals[fieldCustomerFirstName]
	r.CustomerLastName = vals[fieldCustomerLastName]
	r.OriginalTransactionID = vals[fieldOriginalTransactionID]
	if b, ok := parseBool(vals[fieldReversed]); ok {
		r.Reversed = b
	} else {
		r.keep(resultFieldNames[fieldReversed], vals[fieldReversed])
	}
	r.MandateStatus = vals[fieldMandateStatus]
	r.AccountStatus = vals[fieldAccountStatus]
	r.FirstPaymentDate = vals[fieldFirstPaymentDate]
	r.Frequency = vals[fieldFrequency]
	r.PaymentDayFrom = vals[fieldPaymentDayFrom]
	r.PaymentDayTo = vals[fieldPaymentDayTo]
	r.ExpiryDate = vals[fieldExpiryDate]
	if b, ok := parseBool(vals[fieldSufficientBalance]); ok {
		if vals[fieldSufficientBalance] != "" {
			r.SufficientBalance = &b
		}
	} else {
		r.keep(resultFieldNames[fieldSufficientBalance], vals[fieldSufficientBalance])
	}
	for _, kv := range extra {
		r.keep(strings.Clone(kv[0]), strings.Clone(kv[1]))
	}
	r.API = inferAPI(&vals)
	return nil
}

// own replaces the values, substrings of a body, by substrings of one new
// string that holds just them.
func own(vals []string) {
	n := 0
	for _, v := range vals {
		n += len(v)
	}
	var b strings.Builder
	b.Grow(n)
	for _, v := range vals {
		b.WriteString(v)
	}
	all := b.String()
	at := 0
	for i, v := range vals {
		vals[i] = all[at : at+len(v)]
		at += len(v)
	}
}

// either returns the value of field a, or of b when a is empty; when both are
// set, b's value is kept in Extra.
func (r *Result) either(vals *[fieldCount]string, a, b resultField) string {
	if vals[a] == "" {
		return vals[b]
	}
	if vals[b] != "" {
		r.keep(resultFieldNames[b], vals[b])
	}
	return vals[a]
}

// keep stores an unknown or unreadable field in Extra. The empty key is a
// key like any other.
func (r *Result) keep(key, val string) {
	if r.Extra == nil {
		r.Extra = make(map[string]string, 2)
	}
	r.Extra[key] = val
}

// inferAPI names the product a body belongs to, where its fields tell.
func inferAPI(v *[fieldCount]string) API {
	switch {
	case v[fieldResponseCode] != "" && v[fieldResultCode] == "",
		v[fieldMandateStatus] != "", v[fieldAccountStatus] != "", v[fieldSufficientBalance] != "",
		v[fieldFirstPaymentDate] != "", v[fieldFrequency] != "", v[fieldExpiryDate] != "",
		v[fieldPaymentDayFrom] != "", v[fieldPaymentDayTo] != "":
		return APIDirectDebitQuery
	case v[fieldCustomerFirstName] != "", v[fieldCustomerLastName] != "":
		return APIBeneficiaryName
	case v[fieldOriginalTransactionID] != "", v[fieldReversed] != "":
		return APITransactionStatus
	case v[fieldMandateID] != "":
		return APIDirectDebitCreate
	case v[fieldTransactionID] != "" && v[fieldMsisdnToken] != "":
		return APIDirectDebitPayment
	}
	return 0
}

// ipgAck is the acknowledgement of an iPG callback: the result's IDs
// echoed, a response code and a description. code is "0" for an
// acknowledgement and "1" for a refusal; the Query Direct Debit page shows
// its acknowledgement with "INS-0" where every other product's shows "0",
// and each product is answered as its own page shows (docs/gateways.md O16).
func ipgAck(res *Result, accepted bool, desc string) []byte {
	code := "1"
	if accepted {
		code = "0"
		if res != nil && res.API == APIDirectDebitQuery {
			code = "INS-0"
		}
	}
	var params [4]wire.Param
	n := 0
	if res != nil {
		params[n] = wire.Param{Key: "output_OriginalConversationID", Value: res.OriginalConversationID}
		n++
	}
	params[n] = wire.Param{Key: "output_ResponseCode", Value: code}
	params[n+1] = wire.Param{Key: "output_ResponseDesc", Value: desc}
	n += 2
	if res != nil {
		params[n] = wire.Param{Key: "output_ThirdPartyConversationID", Value: res.ThirdPartyConversationID}
		n++
	}
	return wire.AppendJSON(make([]byte, 0, 192+len(params[0].Value)+len(params[n-1].Value)), params[:n])
}

// unsafeString views b as a string without copying it. The string must not
// outlive a change of b, and nothing of it may be kept: callers copy what
// they keep.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
