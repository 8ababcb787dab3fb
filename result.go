package mpesa

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mpesa-go/mpesa/internal/redact"
)

// Result is one asynchronous result as a gateway posts it to the Response URL.
// Every documented callback of both gateways decodes into it: the payments
// (C2B, B2C, B2B, reversal), the transaction status query, the direct debit
// products and the beneficiary name query. Values sent as JSON numbers or
// booleans are kept in their JSON spelling ("15045", "true"); null is empty.
//
// Printing a Result with any fmt verb or logging it with log/slog masks
// phone numbers, customer names and free text; its fields hold the values as
// sent.
type Result struct {
	// Gateway is the gateway that sent the result. ParseResult infers it
	// from the reference field: input_ThirdPartyReference without
	// input_ThirdPartyConversationID is the Mozambique gateway. A Handler
	// sets it from HandlerGateway or VerifyWithStatusQuery when given.
	Gateway Gateway
	// API is the product the result belongs to, as far as the body shows
	// it: the status query (OriginalTransactionID or Reversed), the
	// beneficiary name query (customer names), the direct debit query
	// (input_ResponseCode or mandate fields), direct debit creation
	// (MandateID) and payment (TransactionID with MsisdnToken). Results of
	// C2B, B2C, B2B, reversal and direct debit cancellation look alike and
	// leave it 0. The sender writes the body, so API is a hint, never a
	// reason to trust a result: VerifyWithStatusQuery verifies every
	// success that names a transaction, whatever API the body suggests.
	API API

	// OriginalConversationID is the ConversationID the call that started
	// the transaction returned. It is never empty.
	OriginalConversationID string
	// TransactionID is the Mobile Money transaction ID.
	TransactionID string
	// ThirdPartyConversationID is the caller's reference of the request
	// (input_ThirdPartyConversationID, on Mozambique
	// input_ThirdPartyReference).
	ThirdPartyConversationID string
	// ResultCode and ResultDesc say how the transaction ended
	// (input_ResultCode and input_ResultDesc; the direct debit query sends
	// input_ResponseCode and input_ResponseDesc instead). Success is
	// "INS-0" or "0".
	ResultCode string
	ResultDesc string

	// TransactionReference, MsisdnToken and MandateID are the direct debit
	// fields. MsisdnToken is the gateway's encrypted stand-in for the
	// customer's number.
	TransactionReference string
	MsisdnToken          string
	MandateID            string

	// CustomerFirstName and CustomerLastName answer the beneficiary name
	// query.
	CustomerFirstName string
	CustomerLastName  string

	// OriginalTransactionID and Reversed answer the transaction status
	// query.
	OriginalTransactionID string
	Reversed              bool

	// The mandate fields answer the direct debit query. Dates are
	// YYYYMMDD; Frequency is "01" (once off) to "08" (on demand).
	MandateStatus    string
	AccountStatus    string
	FirstPaymentDate string
	Frequency        string
	PaymentDayFrom   string
	PaymentDayTo     string
	ExpiryDate       string
	// SufficientBalance is nil unless the query asked about the balance.
	SufficientBalance *bool

	// Extra holds every other field of the body, keyed as sent. Nothing
	// the gateway sends is dropped: a known field whose value could not be
	// read (Reversed "maybe") is kept here too, as is the second of two
	// spellings (input_ResponseCode when input_ResultCode is present).
	Extra map[string]string

	// Verified is set by a Handler with VerifyWithStatusQuery when a status
	// query confirmed the result. Only a verified success proves a
	// payment: the gateways sign nothing, and anybody who knows the URL can
	// post a success.
	Verified bool
}

// OK reports whether the result is a success (code "INS-0" or "0").
func (r *Result) OK() bool { return isSuccessCode(r.ResultCode) }

// Err returns nil for a success and otherwise an *Error that matches the
// same sentinels as the error of a synchronous call with that code:
//
//	if errors.Is(res.Err(), mpesa.ErrInsufficientBalance) { ... }
//
// Codes are looked up for the result's Gateway and API (LookupCode). A
// result without a code matches ErrUnexpectedResponse.
func (r *Result) Err() error {
	if r.OK() {
		return nil
	}
	e := &Error{
		Gateway:                  r.Gateway,
		API:                      r.API,
		Code:                     strings.TrimSpace(r.ResultCode),
		Description:              redact.Text(r.ResultDesc),
		ConversationID:           r.OriginalConversationID,
		ThirdPartyConversationID: r.ThirdPartyConversationID,
		TransactionID:            r.TransactionID,
	}
	if e.Code == "" {
		e.add(ErrUnexpectedResponse)
		if e.Description == "" {
			e.Description = "result without a result code"
		}
		return e
	}
	info, known := LookupCode(r.Gateway, r.API, e.Code)
	e.add(info.Kind)
	if e.Description == "" && known {
		e.Description = info.Description
	}
	return e
}

// namesTransaction reports whether the result names a transaction of the
// Mobile Money platform, the mark of a result that moves money. It does not
// look at which product the body seems to be from: the sender writes the
// body, and one added field must not make a payment look like a query.
func (r *Result) namesTransaction() bool {
	id := strings.TrimSpace(r.TransactionID)
	return id != "" && !strings.EqualFold(id, "N/A")
}

// IDs returns the IDs the result can be found by, in a Results hub: its
// OriginalConversationID and ThirdPartyConversationID, each once.
func (r *Result) IDs() []string {
	ids := make([]string, 0, 2)
	for _, id := range [...]string{r.OriginalConversationID, r.ThirdPartyConversationID} {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// dedupKey is the key that tells this result from every other: a second
// delivery of the same result has it, a different result for the same
// conversation (a success after a failure) does not.
func (r *Result) dedupKey() string {
	code := strings.TrimSpace(r.ResultCode)
	if isSuccessCode(code) {
		code = "0"
	}
	return "result/" + r.Gateway.String() + "/" + strconv.Quote(r.OriginalConversationID) + "/" +
		strconv.Quote(code) + "/" + strconv.Quote(r.TransactionID)
}

// String describes the result with phone numbers, names and free text
// masked.
func (r Result) String() string {
	var b strings.Builder
	b.WriteString("mpesa.Result{")
	sep := ""
	field := func(k, v string) {
		if v == "" {
			return
		}
		b.WriteString(sep)
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(v)
		sep = ", "
	}
	r.fields(field)
	b.WriteByte('}')
	return b.String()
}

// GoString is String, so that %#v masks too.
func (r Result) GoString() string { return r.String() }

// Format writes String whatever the verb, so that no verb prints a raw
// field.
func (r Result) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, r.String()) }

// LogValue describes the result to log/slog, masked as String is.
func (r Result) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, 8)
	r.fields(func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	})
	return slog.GroupValue(attrs...)
}

// fields calls f with every field of the result in its printable, masked
// form.
func (r *Result) fields(f func(k, v string)) {
	f("gateway", r.Gateway.String())
	if r.API != 0 {
		f("api", r.API.String())
	}
	f("OriginalConversationID", r.OriginalConversationID)
	f("TransactionID", r.TransactionID)
	f("ThirdPartyConversationID", r.ThirdPartyConversationID)
	f("ResultCode", r.ResultCode)
	f("ResultDesc", redact.Text(r.ResultDesc))
	f("TransactionReference", r.TransactionReference)
	f("MsisdnToken", r.MsisdnToken)
	f("MandateID", r.MandateID)
	f("CustomerFirstName", maskName(r.CustomerFirstName))
	f("CustomerLastName", maskName(r.CustomerLastName))
	f("OriginalTransactionID", r.OriginalTransactionID)
	if r.Reversed {
		f("Reversed", "true")
	}
	f("MandateStatus", r.MandateStatus)
	f("AccountStatus", r.AccountStatus)
	f("FirstPaymentDate", r.FirstPaymentDate)
	f("Frequency", r.Frequency)
	f("PaymentDayFrom", r.PaymentDayFrom)
	f("PaymentDayTo", r.PaymentDayTo)
	f("ExpiryDate", r.ExpiryDate)
	if r.SufficientBalance != nil {
		f("SufficientBalance", strconv.FormatBool(*r.SufficientBalance))
	}
	if r.Verified {
		f("Verified", "true")
	}
	if len(r.Extra) > 0 {
		keys := make([]string, 0, len(r.Extra))
		for k := range r.Extra {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(redact.Text(k))
			b.WriteString(": ")
			b.WriteString(maskExtra(k, r.Extra[k]))
		}
		b.WriteByte('}')
		f("Extra", b.String())
	}
}

// maskName keeps the first letter of a customer's name.
func maskName(s string) string {
	if s == "" {
		return ""
	}
	_, n := utf8.DecodeRuneInString(s)
	return redact.Text(s[:n]) + "***"
}

// maskExtra masks an unknown field: a field named like an MSISDN is masked
// whole, anything else as free text (digit runs that could be a phone
// number).
func maskExtra(key, v string) string {
	k := strings.ToLower(key)
	if strings.Contains(k, "msisdn") && !strings.Contains(k, "token") {
		return redact.MSISDN(v)
	}
	if strings.Contains(k, "name") {
		return maskName(v)
	}
	return redact.Text(v)
}
