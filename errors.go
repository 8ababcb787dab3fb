package mpesa

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/mpesa-go/mpesa/internal/redact"
)

// Sentinel errors. Every error a call returns is, or wraps, an *Error or a
// *ValidationError; match the kind with errors.Is and read the details with
// errors.As:
//
//	res, err := client.C2B(ctx, req)
//	var e *mpesa.Error
//	switch {
//	case errors.Is(err, mpesa.ErrInsufficientBalance):
//		// ask the customer to top up
//	case errors.Is(err, mpesa.ErrOutcomeUnknown):
//		// the request left; reconcile with a status query on e.ThirdPartyConversationID
//	case errors.As(err, &e):
//		log.Printf("M-Pesa refused: %s %s", e.Code, e.Description)
//	}
var (
	// ErrUnauthorized: the gateway refused the credentials (INS-2 invalid
	// API key or session, an output_error answer with 401/403, Mozambique
	// INS-4 user not active, INS-26 not authorized, INS-2001 initiator
	// authentication error).
	ErrUnauthorized = errors.New("mpesa: unauthorized")
	// ErrInvalidRequest: a parameter was refused, by the client's own
	// validation (a *ValidationError, no request sent) or by the gateway
	// (INS-13…INS-21, INS-28 and the other parameter codes).
	ErrInvalidRequest = errors.New("mpesa: invalid request")
	// ErrInvalidMSISDN: the customer number was refused (INS-2051). It also
	// matches ErrInvalidRequest.
	ErrInvalidMSISDN = errors.New("mpesa: invalid MSISDN")
	// ErrDuplicate: the reference (ThirdPartyConversationID or
	// ThirdPartyReference) was used before (INS-10, HTTP 409). It says that
	// the reference is taken, not how the earlier payment ended; a status
	// query tells.
	ErrDuplicate = errors.New("mpesa: duplicate transaction")
	// ErrInsufficientBalance: the paying wallet lacks funds (INS-2006).
	ErrInsufficientBalance = errors.New("mpesa: insufficient balance")
	// ErrPromptTimeout: the customer did not answer the USSD PIN prompt in
	// time (INS-9, HTTP 408). It is not a network timeout.
	ErrPromptTimeout = errors.New("mpesa: customer did not answer the prompt in time")
	// ErrCancelledByCustomer: the customer declined the prompt (Mozambique
	// INS-5).
	ErrCancelledByCustomer = errors.New("mpesa: transaction cancelled by customer")
	// ErrTransactionFailed: the platform processed and failed the
	// transaction (INS-6).
	ErrTransactionFailed = errors.New("mpesa: transaction failed")
	// ErrOverloaded: the gateway was temporarily overloaded and did not
	// process the request (INS-16, HTTP 503).
	ErrOverloaded = errors.New("mpesa: gateway temporarily overloaded")
	// ErrLimitBreached: a customer, organisation or API limit configured for
	// the application was reached (OpenAPI INS-990…INS-996). OpenAPI
	// enforces these limits per session.
	ErrLimitBreached = errors.New("mpesa: transaction limit breached")
	// ErrAPINotEnabled: the product is not enabled for the application
	// (OpenAPI INS-997).
	ErrAPINotEnabled = errors.New("mpesa: API not enabled")
	// ErrInvalidMarket: the market does not offer this product (INS-998).
	ErrInvalidMarket = errors.New("mpesa: invalid market")
	// ErrInternal: the gateway reported an internal error (INS-1). For a
	// payment the outcome is then unknown too.
	ErrInternal = errors.New("mpesa: gateway internal error")
	// ErrSessionCreation: getSession failed (INS-989) or answered without
	// output_SessionID.
	ErrSessionCreation = errors.New("mpesa: session creation failed")
	// ErrTransactionNotFound: the queried transaction is unknown (OpenAPI
	// INS-23, Mozambique INS-997).
	ErrTransactionNotFound = errors.New("mpesa: transaction not found")
	// ErrMandateNotFound: no (active) direct debit mandate matches (OpenAPI
	// INS-58 and INS-6 of directDebitCancel, Mozambique INS-993).
	ErrMandateNotFound = errors.New("mpesa: direct debit mandate not found")
	// ErrUnexpectedResponse: the answer was not a gateway JSON document: an
	// HTML page, an empty, truncated or oversized body, or JSON without a
	// response code. The *Error carries the HTTP status and a short
	// redacted excerpt.
	ErrUnexpectedResponse = errors.New("mpesa: unexpected response")
	// ErrOutcomeUnknown: a payment request was sent but no usable answer came
	// back (timeout, connection reset, truncated body, 5xx from a proxy).
	// The gateway may have processed it. The *Error carries the reference;
	// reconcile with a transaction status query before trying again, and
	// resend only with the same reference.
	ErrOutcomeUnknown = errors.New("mpesa: outcome unknown")
	// ErrNotSupported: the configured gateway does not offer the product
	// (direct debit on the Mozambique gateway). Returned before any I/O.
	ErrNotSupported = errors.New("mpesa: not supported by this gateway")
)

// parentOf lets a narrow sentinel also match its broader class.
func parentOf(sentinel error) error {
	if sentinel == ErrInvalidMSISDN {
		return ErrInvalidRequest
	}
	return nil
}

// Error is the error of a call the gateway refused or that could not be
// completed. It is always returned as a pointer. Its fields never hold
// secrets or a full MSISDN.
type Error struct {
	Gateway Gateway
	API     API
	// HTTPStatus is the status of the answer, 0 when none arrived.
	HTTPStatus int
	// Code is the gateway response code ("INS-10"), empty when the answer
	// had none.
	Code string
	// Description is the gateway's description (output_ResponseDesc or
	// output_error) or, when the answer had none, the documented one. A
	// phone number in it is masked.
	Description string
	// ConversationID, ThirdPartyConversationID and TransactionID are the
	// references of the call, as far as they are known. On the Mozambique
	// gateway ThirdPartyConversationID holds input_ThirdPartyReference.
	ConversationID           string
	ThirdPartyConversationID string
	TransactionID            string
	// Excerpt is the start of an unexpected body (HTML, truncated JSON),
	// with control characters, long digit runs and secrets removed.
	Excerpt string
	// Err is the underlying cause: a transport error, a context error, a
	// JSON syntax error. Unwrap returns it.
	Err error

	kinds []error // sentinels this error matches

	// retryable is set when the failed attempt may be sent again under the
	// rules documented on Client; retryReason says why.
	retryable   bool
	retryReason string
}

// Error describes the failure in one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("mpesa: ")
	b.WriteString(e.Gateway.String())
	if e.API != 0 {
		b.WriteByte(' ')
		b.WriteString(e.API.String())
	}
	b.WriteString(": ")
	msg := false
	if e.is(ErrOutcomeUnknown) {
		b.WriteString("outcome unknown (reconcile with a status query)")
		msg = true
	}
	if e.Code != "" || e.Description != "" {
		if msg {
			b.WriteString(": ")
		}
		b.WriteString(e.Code)
		if e.Code != "" && e.Description != "" {
			b.WriteByte(' ')
		}
		b.WriteString(redact.Text(e.Description))
		msg = true
	} else if e.is(ErrUnexpectedResponse) {
		if msg {
			b.WriteString(": ")
		}
		b.WriteString("unexpected response")
		msg = true
	}
	if e.Err != nil {
		if msg {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	sep := " ("
	field := func(k, v string) {
		if v == "" {
			return
		}
		b.WriteString(sep)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		sep = ", "
	}
	if e.HTTPStatus != 0 {
		field("HTTP", strconv.Itoa(e.HTTPStatus))
	}
	field("ConversationID", e.ConversationID)
	field("ThirdPartyConversationID", e.ThirdPartyConversationID)
	field("TransactionID", e.TransactionID)
	if e.Excerpt != "" {
		field("body", strconv.Quote(e.Excerpt))
	}
	if sep != " (" {
		b.WriteByte(')')
	}
	return b.String()
}

// Is reports whether the error is of the kind of a sentinel of this package.
func (e *Error) Is(target error) bool { return e.is(target) }

func (e *Error) is(target error) bool {
	for _, k := range e.kinds {
		if k == target || parentOf(k) == target {
			return true
		}
	}
	return false
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same request may succeed if sent again
// later unchanged: the gateway was overloaded, a payment never left, or a
// query failed in transit or with a server error that does not name a
// problem of the request.
func (e *Error) Retryable() bool {
	return e.is(ErrOverloaded) || e.retryable
}

// finalReason says, for the debug log, why a failure is not retried.
func (e *Error) finalReason() string {
	switch {
	case e.is(ErrOutcomeUnknown):
		return "the payment request was sent and its outcome is unknown; resending could pay twice"
	case e.is(ErrCancelledByCustomer), e.is(ErrTransactionFailed), e.is(ErrPromptTimeout):
		return "a business outcome (" + e.Code + "); resending would prompt the customer again"
	case e.is(ErrDuplicate):
		return "the reference was used before (INS-10); query the status instead"
	case e.HTTPStatus >= 400 && e.HTTPStatus < 500:
		return "the gateway refused the request (HTTP " + strconv.Itoa(e.HTTPStatus) + ")"
	}
	return "not a retryable failure"
}

func (e *Error) add(kind error) {
	if kind != nil && !e.is(kind) {
		e.kinds = append(e.kinds, kind)
	}
}

// FieldError is one invalid field of a request.
type FieldError struct {
	// Field is the Go field name as the caller wrote it ("Amount").
	Field string
	// Rule says what the value must be ("required", "must match ^\d*\.?\d+$").
	Rule string
	// Value is the offending value; MSISDNs are masked and long values cut.
	Value string
}

// ValidationError lists every invalid field of a request. The client returns
// it before any network I/O. It matches ErrInvalidRequest.
type ValidationError struct {
	API    API
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("mpesa: invalid ")
	b.WriteString(e.API.String())
	b.WriteString(" request: ")
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteByte(' ')
		b.WriteString(f.Rule)
		if f.Value != "" {
			b.WriteString(" (got ")
			b.WriteString(strconv.Quote(f.Value))
			b.WriteByte(')')
		}
	}
	return b.String()
}

// Is makes a ValidationError match ErrInvalidRequest.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidRequest }

// Code describes one documented gateway response code.
type Code struct {
	Gateway Gateway
	// Code is the response code ("INS-2006").
	Code string
	// HTTPStatus is the status the documents pair with the code.
	HTTPStatus int
	// Description is the documented description.
	Description string
	// Kind is the sentinel the code maps to, nil when none fits.
	Kind error
}

// LookupCode returns what the documents say of a response code on a gateway
// and, where a product gives the code a meaning of its own, for that API. A
// success code may be written "INS-0" or "0".
func LookupCode(g Gateway, api API, code string) (Code, bool) {
	code = strings.TrimSpace(code)
	if code == "0" {
		code = "INS-0"
	}
	for _, c := range apiCodes {
		if c.gateway == g && c.api == api && c.info.Code == code {
			c.info.Gateway = g
			return c.info, true
		}
	}
	for _, c := range codes {
		if c.gateway == g && c.info.Code == code {
			c.info.Gateway = g
			if code == "INS-0" && api.Method() != http.MethodGet {
				// The product tables pair success with 201 on every POST
				// and PUT (Mozambique: "200 / 201"), 200 on the GETs.
				c.info.HTTPStatus = http.StatusCreated
			}
			return c.info, true
		}
	}
	return Code{}, false
}

// isSuccessCode reports whether a response or result code means success.
func isSuccessCode(code string) bool {
	code = strings.TrimSpace(code)
	return code == "INS-0" || code == "0"
}

type codeEntry struct {
	gateway Gateway
	api     API // 0 in the general table
	info    Code
}

func oa(code string, status int, desc string, kind error) codeEntry {
	return codeEntry{gateway: GatewayOpenAPI, info: Code{Code: code, HTTPStatus: status, Description: desc, Kind: kind}}
}

func mz(code string, status int, desc string, kind error) codeEntry {
	return codeEntry{gateway: GatewayMozambique, info: Code{Code: code, HTTPStatus: status, Description: desc, Kind: kind}}
}

// codes is every response code of the gateway documents, with the status the
// documents pair with it. Codes mean different things per gateway
// (SPEC-NOTES §3.2): INS-26 is "Not authorized" on Mozambique and "Invalid
// Currency Used" on OpenAPI; INS-993…998 are direct-debit and customer
// errors on Mozambique and limit errors on OpenAPI.
//
// Mozambique follows the full table with HTTP statuses, repeated in all three
// Mozambique documents, not the short "Common Response Codes" list that
// contradicts it (SPEC-NOTES §3.3).
var codes = []codeEntry{
	oa("INS-0", 200, "Request processed successfully", nil),
	oa("INS-1", 400, "Internal Error", ErrInternal),
	// INS-2 and INS-16 are not in the OpenAPI tables; they are the iPG
	// platform's answers for a refused key or session and for overload,
	// which both gateways share.
	oa("INS-2", 401, "Invalid API Key", ErrUnauthorized),
	oa("INS-6", 401, "Transaction Failed", ErrTransactionFailed),
	oa("INS-9", 408, "Request timeout", ErrPromptTimeout),
	oa("INS-10", 409, "Duplicate Transaction", ErrDuplicate),
	oa("INS-13", 400, "Invalid Shortcode Used", ErrInvalidRequest),
	oa("INS-15", 400, "Invalid Amount Used", ErrInvalidRequest),
	oa("INS-16", 503, "Unable to handle the request due to a temporary overloading", ErrOverloaded),
	oa("INS-17", 400, "Invalid Transaction Reference. Length Should Be Between 1 and 20.", ErrInvalidRequest),
	oa("INS-18", 400, "Invalid TransactionID Used", ErrInvalidRequest),
	oa("INS-19", 400, "Invalid ThirdPartyReference Used", ErrInvalidRequest),
	oa("INS-20", 400, "Not All Parameters Provided. Please try again.", ErrInvalidRequest),
	oa("INS-21", 400, "Parameter validations failed. Please try again.", ErrInvalidRequest),
	oa("INS-23", 400, "Transaction not found. Contact M-Pesa Support", ErrTransactionNotFound),
	oa("INS-26", 400, "Invalid Currency Used", ErrInvalidRequest),
	oa("INS-28", 400, "Invalid ThirdPartyConversationID Used", ErrInvalidRequest),
	oa("INS-30", 400, "Invalid Purchased Items Description Used", ErrInvalidRequest),
	oa("INS-31", 400, "Invalid Payment Items Description Used", ErrInvalidRequest),
	oa("INS-32", 400, "Invalid KYC Query Type Used", ErrInvalidRequest),
	oa("INS-35", 400, "This transaction do not belong to you", ErrInvalidRequest),
	oa("INS-36", 400, "Invalid Agreed TC Used", ErrInvalidRequest),
	oa("INS-39", 400, "Invalid First Payment Date Used", ErrInvalidRequest),
	oa("INS-40", 400, "Invalid Frequency Used", ErrInvalidRequest),
	oa("INS-41", 400, "Invalid Start Range Days Used", ErrInvalidRequest),
	oa("INS-42", 400, "Invalid End Range Days Used", ErrInvalidRequest),
	oa("INS-43", 400, "Invalid Expiry Date Used", ErrInvalidRequest),
	oa("INS-50", 400, "MSISDN Token and MSISDN provided does not Match", ErrInvalidRequest),
	oa("INS-51", 400, "Invalid MandateID Used", ErrInvalidRequest),
	oa("INS-52", 400, "The MandateID used does not correspond to the ThirdPartyReference used.", ErrInvalidRequest),
	oa("INS-54", 400, "Invalid BalanceAmount Used", ErrInvalidRequest),
	oa("INS-55", 401, "BalanceAmount is Mandatory when QueryBalanceAmount is True", ErrInvalidRequest),
	oa("INS-56", 401, "Invalid MSISDNToken Used", ErrInvalidRequest),
	oa("INS-57", 500, "Either MSISDN or MSISDNToken required", ErrInvalidRequest),
	oa("INS-58", 400, "No Active Mandate found", ErrMandateNotFound),
	oa("INS-989", 400, "Session Creation Failed", ErrSessionCreation),
	oa("INS-990", 400, "Customer Transaction Value Limit Breached", ErrLimitBreached),
	oa("INS-991", 400, "Customer Transaction Count Limit Breached", ErrLimitBreached),
	oa("INS-992", 400, "Multiple Limits Breached", ErrLimitBreached),
	oa("INS-993", 400, "Organization Transaction Count Limit Breached", ErrLimitBreached),
	oa("INS-994", 400, "Organization Transaction Value Limit Breached", ErrLimitBreached),
	oa("INS-995", 400, "API Single Transaction Limit Breached", ErrLimitBreached),
	oa("INS-996", 400, "API Being Used Outside Of Usage Time", ErrLimitBreached),
	oa("INS-997", 400, "API Not Enabled", ErrAPINotEnabled),
	oa("INS-998", 400, "Invalid Market", ErrInvalidMarket),
	oa("INS-2006", 422, "Insufficient balance", ErrInsufficientBalance),
	oa("INS-2051", 400, "MSISDN invalid.", ErrInvalidMSISDN),

	mz("INS-0", 200, "Request processed successfully", nil),
	mz("INS-1", 500, "Internal Error", ErrInternal),
	mz("INS-2", 401, "Invalid API Key", ErrUnauthorized),
	mz("INS-4", 401, "User is not active", ErrUnauthorized),
	mz("INS-5", 401, "Transaction cancelled by customer", ErrCancelledByCustomer),
	mz("INS-6", 401, "Transaction Failed", ErrTransactionFailed),
	mz("INS-9", 408, "Request timeout", ErrPromptTimeout),
	mz("INS-10", 409, "Duplicate Transaction", ErrDuplicate),
	mz("INS-13", 400, "Invalid Shortcode Used", ErrInvalidRequest),
	mz("INS-14", 400, "Invalid Reference Used", ErrInvalidRequest),
	mz("INS-15", 400, "Invalid Amount Used", ErrInvalidRequest),
	mz("INS-16", 503, "Unable to handle the request due to a temporary overloading", ErrOverloaded),
	mz("INS-17", 400, "Invalid Transaction Reference. Length Should Be Between 1 and 20.", ErrInvalidRequest),
	mz("INS-18", 400, "Invalid TransactionID Used", ErrInvalidRequest),
	mz("INS-19", 400, "Invalid ThirdPartyReference Used", ErrInvalidRequest),
	mz("INS-20", 400, "Not All Parameters Provided. Please try again.", ErrInvalidRequest),
	mz("INS-21", 400, "Parameter validations failed. Please try again.", ErrInvalidRequest),
	mz("INS-22", 400, "Invalid Operation Type", ErrInvalidRequest),
	mz("INS-23", 400, "Unknown Status. Contact M-Pesa Support", nil),
	mz("INS-24", 400, "Invalid InitiatorIdentifier Used", ErrInvalidRequest),
	mz("INS-25", 400, "Invalid SecurityCredential Used", ErrInvalidRequest),
	mz("INS-26", 400, "Not authorized", ErrUnauthorized),
	mz("INS-993", 400, "Direct Debit Missing", ErrMandateNotFound),
	mz("INS-994", 400, "Direct Debit Already Exists", nil),
	mz("INS-995", 400, "Customer's Profile Has Problems", nil),
	mz("INS-996", 400, "Customer Account Status Not Active", nil),
	mz("INS-997", 400, "Linking Transaction Not Found", ErrTransactionNotFound),
	mz("INS-998", 400, "Invalid Market", ErrInvalidMarket),
	mz("INS-2001", 400, "Initiator authentication error.", ErrUnauthorized),
	mz("INS-2002", 400, "Receiver invalid.", ErrInvalidRequest),
	mz("INS-2006", 422, "Insufficient balance", ErrInsufficientBalance),
	mz("INS-2051", 400, "MSISDN invalid.", ErrInvalidMSISDN),
	mz("INS-2057", 400, "Language code invalid.", ErrInvalidRequest),
}

// apiCodes holds the codes a product documents with a meaning or status of
// its own; LookupCode consults it before codes.
var apiCodes = []codeEntry{
	{GatewayOpenAPI, APIGetSession, Code{Code: "INS-0", HTTPStatus: 200, Description: "Request processed successfully"}},
	{GatewayOpenAPI, APIDirectDebitCancel, Code{Code: "INS-6", HTTPStatus: 401, Description: "Mandate does not exist", Kind: ErrMandateNotFound}},
	{GatewayOpenAPI, APIDirectDebitQuery, Code{Code: "INS-1", HTTPStatus: 500, Description: "Internal Error", Kind: ErrInternal}},
	{GatewayOpenAPI, APIDirectDebitQuery, Code{Code: "INS-52", HTTPStatus: 500, Description: "The MandateID used does not correspond to the ThirdPartyReference used.", Kind: ErrInvalidRequest}},
	{GatewayOpenAPI, APIDirectDebitQuery, Code{Code: "INS-54", HTTPStatus: 400, Description: "Invalid BalanceAmount Used", Kind: ErrInvalidRequest}},
}
