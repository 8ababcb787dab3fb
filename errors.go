package mpesa

import (
	"errors"
	"strconv"
	"strings"
	"time"

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
	// authentication error; Daraja's invalid token and authentication
	// codes, 2001 invalid initiator or PIN, 8006 credential locked).
	ErrUnauthorized = errors.New("mpesa: unauthorized")
	// ErrInvalidRequest: a parameter was refused, by the client's own
	// validation (a *ValidationError, no request sent) or by the gateway
	// (INS-13…INS-21, INS-28 and the other parameter codes).
	ErrInvalidRequest = errors.New("mpesa: invalid request")
	// ErrInvalidMSISDN: the customer number was refused (INS-2051). It also
	// matches ErrInvalidRequest.
	ErrInvalidMSISDN = errors.New("mpesa: invalid MSISDN")
	// ErrDuplicate: the reference (ThirdPartyConversationID or
	// ThirdPartyReference) was used before (INS-10, HTTP 409; Daraja
	// 500.002.1001). It says that the reference is taken, not how the
	// earlier payment ended; a status query tells.
	ErrDuplicate = errors.New("mpesa: duplicate transaction")
	// ErrInsufficientBalance: the paying wallet lacks funds (INS-2006;
	// Daraja result 1).
	ErrInsufficientBalance = errors.New("mpesa: insufficient balance")
	// ErrPromptTimeout: the customer did not answer the USSD PIN prompt in
	// time (INS-9, HTTP 408; Daraja 1037, 1019). It is not a network
	// timeout.
	ErrPromptTimeout = errors.New("mpesa: customer did not answer the prompt in time")
	// ErrCancelledByCustomer: the customer declined the prompt (Mozambique
	// INS-5, Daraja 1032).
	ErrCancelledByCustomer = errors.New("mpesa: transaction cancelled by customer")
	// ErrTransactionFailed: the platform processed and failed the
	// transaction (INS-6).
	ErrTransactionFailed = errors.New("mpesa: transaction failed")
	// ErrOverloaded: the gateway was temporarily overloaded and did not
	// process the request (INS-16, HTTP 503; Daraja spike arrest
	// 500.003.02 and quota 500.003.03, HTTP 500).
	ErrOverloaded = errors.New("mpesa: gateway temporarily overloaded")
	// ErrLimitBreached: a customer, organisation or API limit configured for
	// the application was reached (OpenAPI INS-990…INS-996). OpenAPI
	// enforces these limits per session.
	ErrLimitBreached = errors.New("mpesa: transaction limit breached")
	// ErrAPINotEnabled: the product is not enabled for the application
	// (OpenAPI INS-997; Daraja 401.003.01, also the answer to a C2B API
	// version the app lacks).
	ErrAPINotEnabled = errors.New("mpesa: API not enabled")
	// ErrInvalidMarket: the market does not offer this product (INS-998).
	ErrInvalidMarket = errors.New("mpesa: invalid market")
	// ErrInternal: the gateway reported an internal error (INS-1). For a
	// payment the outcome is then unknown too.
	ErrInternal = errors.New("mpesa: gateway internal error")
	// ErrSessionCreation: getSession failed (INS-989) or answered without
	// output_SessionID; on Daraja, the OAuth token request failed.
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
	// (direct debit on the Mozambique gateway, account balance outside
	// Daraja, C2B simulation in Daraja's production). Returned before any
	// I/O.
	ErrNotSupported = errors.New("mpesa: not supported by this gateway")
	// ErrAlreadyRegistered: the URLs or the shortcode are registered
	// already (Daraja C2B register URL 500.003.1001 "Urls are already
	// registered" or "Duplicate notification info", pull register 1001).
	// In production the registration is done once; change it on the
	// Daraja portal (docs/gateways.md D12, D22).
	ErrAlreadyRegistered = errors.New("mpesa: already registered")
	// ErrCustomerBusy: the customer already has a payment prompt open
	// (Daraja STK push 500.001.1001 "Unable to lock subscriber"). Nothing
	// was charged; ask again after at least a minute, never at once
	// (docs/gateways.md D9, D10).
	ErrCustomerBusy = errors.New("mpesa: customer already has a prompt open")
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
	// RequestID is the gateway's identifier of the failed request, where
	// it gives one (Daraja's requestId): quote it to the gateway's support.
	RequestID string
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
	// retryAfter is the wait the gateway asked for (Retry-After).
	retryAfter time.Duration
	// once limits the resends of such a failure to one per call.
	once bool
	// authRefused is set when the gateway refused the call's credential
	// (a session, a token, the API key) rather than the call.
	authRefused bool
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
	field("RequestID", e.RequestID)
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
	// Value is the offending value, with MSISDNs and every run of nine or
	// more digits (a phone number in another field) masked, and long
	// values cut.
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
