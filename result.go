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
// Every documented callback of the three gateways decodes into it: on the iPG
// gateways the payments (C2B, B2C, B2B, reversal), the transaction status
// query, the direct debit products and the beneficiary name query; on Daraja
// the STK callback, the Result envelope of B2C, B2B, reversal, status and
// balance, the queue-timeout notice and the C2B validation and confirmation
// (Callback tells which). Values sent as JSON numbers or booleans are kept in
// their JSON spelling ("15045", "true", "1.00"); null is empty.
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
	// Callback is the kind of callback the body has the shape of: a result
	// (every iPG callback, Daraja's Result envelope), or one of Daraja's
	// STK callback, queue-timeout notice, C2B validation or confirmation.
	Callback CallbackKind

	// OriginalConversationID is the ConversationID the call that started
	// the transaction returned: on Daraja the envelope's ConversationID
	// (its OriginatorConversationID when it has none), an STK push's
	// CheckoutRequestID, a C2B payment's TransID. It is never empty.
	OriginalConversationID string
	// TransactionID is the Mobile Money transaction ID: on Daraja the
	// M-Pesa receipt (the envelope's TransactionID, an STK push's
	// MpesaReceiptNumber, a C2B TransID). Daraja's balance and status
	// results carry a placeholder there ("LGR0000000").
	TransactionID string
	// ThirdPartyConversationID is the caller's reference of the request
	// (input_ThirdPartyConversationID, on Mozambique
	// input_ThirdPartyReference; on Daraja the OriginatorConversationID,
	// and on a C2B payment the ThirdPartyTransID the validation answered).
	ThirdPartyConversationID string
	// ResultCode and ResultDesc say how the transaction ended
	// (input_ResultCode and input_ResultDesc; the direct debit query sends
	// input_ResponseCode and input_ResponseDesc instead). Success is
	// "INS-0" or "0". Daraja codes arrive as numbers, strings or
	// alphanumeric strings ("R000002") and are kept as written; a C2B
	// confirmation has no code and gets "0" (M-Pesa confirms completed
	// payments only).
	ResultCode string
	ResultDesc string

	// TransactionReference, MsisdnToken and MandateID are the direct debit
	// fields. MsisdnToken is the gateway's encrypted stand-in for the
	// customer's number.
	TransactionReference string
	MsisdnToken          string
	MandateID            string

	// CustomerFirstName and CustomerLastName answer the beneficiary name
	// query; on a Daraja C2B payment they are FirstName and LastName, with
	// CustomerMiddleName (any may be empty: Safaricom minimises the data).
	CustomerFirstName  string
	CustomerMiddleName string
	CustomerLastName   string

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

	// The fields below are Daraja's (docs/gateways.md D8, D13, D20, X1).
	//
	// MerchantRequestID and CheckoutRequestID are an STK push's IDs, as
	// its answer returned them; OriginalConversationID repeats the
	// CheckoutRequestID. OriginatorConversationID is the Result envelope's
	// (for B2C v3 the request's ThirdPartyConversationID), repeated in
	// ThirdPartyConversationID. ResultType is the envelope's: "0" final,
	// "1" further messages to come.
	MerchantRequestID        string
	CheckoutRequestID        string
	OriginatorConversationID string
	ResultType               string
	// Amount is the transaction's amount as sent ("1.00", "10"): the STK
	// item Amount, the C2B TransAmount, or the envelope's
	// TransactionAmount (B2C) or Amount parameter. A verified result
	// confirms it only where VerifyWithStatusQuery says so.
	Amount string
	// PhoneNumber is the STK callback's PhoneNumber item: the number that
	// paid, as M-Pesa sends it (254…). Masked in every print.
	PhoneNumber string
	// MSISDN is a C2B payment's MSISDN exactly as it arrives: masked with
	// C2B v2 ("2547 ***** 126"), a SHA-256 hash with v1. It is never a
	// number that can be dialled. Masked in every print too.
	MSISDN string
	// TransactionDate is when M-Pesa completed the payment, YYYYMMDDHHmmss
	// in East Africa Time: the STK item TransactionDate, the C2B TransTime.
	TransactionDate string
	// TransactionType ("Pay Bill", "Buy Goods"), ServiceProviderCode
	// (BusinessShortCode), InvoiceNumber and OrgAccountBalance (blank on
	// validation, the new balance on confirmation) are a C2B payment's;
	// its BillRefNumber, the account number the customer typed, is
	// TransactionReference.
	TransactionType     string
	ServiceProviderCode string
	InvoiceNumber       string
	OrgAccountBalance   string
	// Parameters are the envelope's ResultParameters in the order sent,
	// repeated keys kept (a status result names DebitPartyName twice); on
	// an STK callback, the CallbackMetadata items, Key being their Name.
	// ReferenceData are the envelope's ReferenceItems. See Parameter and
	// the typed accessors (Receipt, Status, CompletedAt, PublicName,
	// Balances).
	Parameters    ResultParameters
	ReferenceData ResultParameters

	// Extra holds every other field of the body, keyed as sent. Nothing
	// the gateway sends is dropped: a known field whose value could not be
	// read (Reversed "maybe") is kept here too, as is the second of two
	// spellings (input_ResponseCode when input_ResultCode is present). On
	// Daraja a member of a nested object is keyed by its path
	// ("Result.Extra", "Body.stkCallback.Extra").
	Extra map[string]string

	// Verified is set by a Handler with VerifyWithStatusQuery when a status
	// query confirmed the result. Only a verified success proves a
	// payment: the gateways sign nothing, and anybody who knows the URL can
	// post a success.
	Verified bool
}

// OK reports whether the result is a success (code "INS-0" or "0"). A
// Daraja queue-timeout notice or C2B validation request never is, whatever
// code it carries.
func (r *Result) OK() bool {
	return r.Callback != CallbackQueueTimeout && r.Callback != CallbackC2BValidation && isSuccessCode(r.ResultCode)
}

// Err returns nil for a success and otherwise an *Error that matches the
// same sentinels as the error of a synchronous call with that code:
//
//	if errors.Is(res.Err(), mpesa.ErrInsufficientBalance) { ... }
//
// Codes are looked up for the result's Gateway and API (LookupCode). A
// result without a code matches ErrUnexpectedResponse, and on Daraja
// ErrOutcomeUnknown too. A Daraja queue-timeout notice matches
// ErrOutcomeUnknown: the request timed out in M-Pesa's queue and may or may
// not have been processed; reconcile with a status query before anything
// else (docs/gateways.md D21).
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
	switch r.Callback {
	case CallbackQueueTimeout:
		e.add(ErrOutcomeUnknown)
		if e.Description == "" {
			e.Description = "the request timed out in M-Pesa's queue"
		}
		return e
	case CallbackC2BValidation:
		e.add(ErrUnexpectedResponse)
		e.Description = "a C2B validation request is not a result"
		return e
	}
	if e.Code == "" {
		e.add(ErrUnexpectedResponse)
		if r.Gateway == GatewayDaraja {
			// Every documented Daraja result has a code; one without says
			// nothing of the outcome (a queue-timeout notice posted to
			// the ResultURL has none, docs/gateways.md D32).
			e.add(ErrOutcomeUnknown)
		}
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
//
// On Daraja the shape of the callback decides: an STK push is named by its
// CheckoutRequestID and a C2B payment by its TransID, whatever the body
// says; a Result envelope names a transaction when its TransactionID is a
// receipt rather than a placeholder ("LGR0000000", as balance and status
// results carry).
func (r *Result) namesTransaction() bool {
	if r.Gateway == GatewayDaraja {
		switch r.Callback {
		case CallbackSTK:
			return r.CheckoutRequestID != ""
		case CallbackC2BConfirmation:
			return r.TransactionID != ""
		case CallbackResult:
			return isReceiptID(r.TransactionID)
		}
		return false
	}
	id := strings.TrimSpace(r.TransactionID)
	return id != "" && !strings.EqualFold(id, "N/A")
}

// isReceiptID reports whether a Daraja TransactionID names a transaction:
// neither empty, "N/A", nor a placeholder of seven trailing zeros.
func isReceiptID(id string) bool {
	id = strings.TrimSpace(id)
	return id != "" && !strings.EqualFold(id, "N/A") && !strings.HasSuffix(id, "0000000")
}

// IDs returns the IDs the result can be found by, in a Results hub: its
// OriginalConversationID and ThirdPartyConversationID, and on Daraja its
// CheckoutRequestID, MerchantRequestID and OriginatorConversationID, each
// once. These are the IDs the request's answer returned (an STK push's
// CheckoutRequestID and MerchantRequestID, the ConversationID and
// OriginatorConversationID of the others), so Await finds the result by any
// of them.
func (r *Result) IDs() []string {
	ids := make([]string, 0, 4)
	for _, id := range [...]string{r.OriginalConversationID, r.ThirdPartyConversationID,
		r.CheckoutRequestID, r.MerchantRequestID, r.OriginatorConversationID} {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// dedupKey is the key that tells this result from every other: a second
// delivery of the same result has it, a different result for the same
// conversation (a success after a failure) does not. On Daraja it is made
// of what Daraja repeats when it delivers again: the CheckoutRequestID of
// an STK push, the TransID of a C2B payment, the OriginatorConversationID
// of an envelope (docs/gateways.md D27).
func (r *Result) dedupKey() string {
	code := strings.TrimSpace(r.ResultCode)
	if isSuccessCode(code) {
		code = "0"
	}
	if r.Gateway == GatewayDaraja {
		switch r.Callback {
		case CallbackSTK:
			return "result/daraja/stk/" + strconv.Quote(r.CheckoutRequestID) + "/" + strconv.Quote(code)
		case CallbackC2BConfirmation:
			return "result/daraja/c2b/" + strconv.Quote(r.TransactionID)
		case CallbackQueueTimeout:
			return "result/daraja/timeout/" + strconv.Quote(r.OriginatorConversationID) + "/" + strconv.Quote(r.OriginalConversationID)
		}
		id := r.OriginatorConversationID
		if id == "" {
			id = r.OriginalConversationID
		}
		return "result/daraja/" + strconv.Quote(id) + "/" + strconv.Quote(code) + "/" + strconv.Quote(strings.TrimSpace(r.ResultType))
	}
	return "result/" + r.Gateway.String() + "/" + strconv.Quote(r.OriginalConversationID) + "/" +
		strconv.Quote(code) + "/" + strconv.Quote(r.TransactionID)
}

// txKeys are the transaction keys a verified result consumes: one
// transaction verifies one result. An STK push is verified by its
// CheckoutRequestID, so that key is consumed, and its receipt with it, so
// that the same receipt cannot be verified again under another shape (a
// forged C2B confirmation carrying it).
//
// The receipt is taken without surrounding blanks, as verification compares
// it: "SG632NMUAB " is the transaction SG632NMUAB, not another one.
func (r *Result) txKeys() []string {
	g := r.Gateway.String()
	tx := txKeyPrefix + g + "/" + strconv.Quote(strings.TrimSpace(r.TransactionID))
	if r.Gateway == GatewayDaraja && r.Callback == CallbackSTK {
		keys := []string{txKeyPrefix + g + "/stk/" + strconv.Quote(r.CheckoutRequestID)}
		if isReceiptID(r.TransactionID) {
			keys = append(keys, tx)
		}
		return keys
	}
	return []string{tx}
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
	if r.Callback != CallbackResult {
		f("callback", r.Callback.String())
	}
	f("OriginalConversationID", r.OriginalConversationID)
	f("TransactionID", r.TransactionID)
	f("ThirdPartyConversationID", r.ThirdPartyConversationID)
	f("ResultCode", r.ResultCode)
	f("ResultDesc", redact.Text(r.ResultDesc))
	f("TransactionReference", redact.Text(r.TransactionReference))
	f("MsisdnToken", r.MsisdnToken)
	f("MandateID", r.MandateID)
	f("CustomerFirstName", maskName(r.CustomerFirstName))
	f("CustomerMiddleName", maskName(r.CustomerMiddleName))
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
	f("MerchantRequestID", r.MerchantRequestID)
	f("CheckoutRequestID", r.CheckoutRequestID)
	f("OriginatorConversationID", r.OriginatorConversationID)
	f("ResultType", r.ResultType)
	f("Amount", redact.Text(r.Amount))
	f("PhoneNumber", redact.MSISDN(r.PhoneNumber))
	f("MSISDN", redact.MSISDN(r.MSISDN))
	f("TransactionDate", r.TransactionDate)
	f("TransactionType", redact.Text(r.TransactionType))
	f("ServiceProviderCode", r.ServiceProviderCode)
	f("InvoiceNumber", redact.Text(r.InvoiceNumber))
	f("OrgAccountBalance", redact.Text(r.OrgAccountBalance))
	f("Parameters", r.Parameters.String())
	f("ReferenceData", r.ReferenceData.String())
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
	if (strings.Contains(k, "msisdn") || strings.Contains(k, "phone")) && !strings.Contains(k, "token") {
		return redact.MSISDN(v)
	}
	if strings.Contains(k, "name") {
		return maskName(v)
	}
	return redact.Text(v)
}
