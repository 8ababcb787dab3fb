package mpesa

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mpesa-go/mpesa/internal/redact"
	"github.com/mpesa-go/mpesa/internal/wire"
)

// How Daraja answers, and what the client makes of it. Three shapes reach
// a caller synchronously (docs/gateways.md D8, D22, D23):
//
//   - the API gateway's error envelope {requestId, errorCode,
//     errorMessage}, with the HTTP status the code starts with;
//   - an acknowledgement with ResponseCode and ResponseDescription ("0"
//     accepted), and the STK query's ResultCode and ResultDesc;
//   - the token {access_token, expires_in} and the Pull answers, whose code
//     is ResponseStatus ("Response Status") or ResponseCode, 1000 meaning
//     success.

// darajaOutput is the union of the members of every synchronous Daraja
// answer. Values are taken as sent: strings decoded, numbers in their JSON
// spelling, null as "", nested values verbatim.
type darajaOutput struct {
	RequestID    string // requestId
	ErrorCode    string // errorCode
	ErrorMessage string // errorMessage

	AccessToken string // access_token
	ExpiresIn   string // expires_in, a number or a string

	ResponseCode             string
	ResponseDescription      string
	ConversationID           string
	OriginatorConversationID string // also "OriginatorCoversationID" (sic, docs/gateways.md D12)
	MerchantRequestID        string
	CheckoutRequestID        string
	CustomerMessage          string
	ResultCode               string
	ResultDesc               string

	// Pull.
	ResponseRefID   string
	ResponseStatus  string // also "Response Status"
	ShortCode       string
	ResponseMessage string
	Response        string // the transactions, verbatim JSON
	Transaction     string // "[[]]" when there are none

	// pending is set for an STK query the gateway answered "The
	// transaction is being processed" (docs/gateways.md D8, D9).
	pending bool
}

// field returns the index and address of the field a key names exactly,
// -1 for any other key. Two spellings of one field count as one, so that a
// body naming both is not trusted.
func (o *darajaOutput) field(key string) (int, *string) {
	switch key {
	case "requestId":
		return 0, &o.RequestID
	case "errorCode":
		return 1, &o.ErrorCode
	case "errorMessage":
		return 2, &o.ErrorMessage
	case "access_token":
		return 3, &o.AccessToken
	case "expires_in":
		return 4, &o.ExpiresIn
	case "ResponseCode":
		return 5, &o.ResponseCode
	case "ResponseDescription", "Response Description":
		return 6, &o.ResponseDescription
	case "ConversationID":
		return 7, &o.ConversationID
	case "OriginatorConversationID", "OriginatorCoversationID":
		return 8, &o.OriginatorConversationID
	case "MerchantRequestID":
		return 9, &o.MerchantRequestID
	case "CheckoutRequestID":
		return 10, &o.CheckoutRequestID
	case "CustomerMessage":
		return 11, &o.CustomerMessage
	case "ResultCode":
		return 12, &o.ResultCode
	case "ResultDesc":
		return 13, &o.ResultDesc
	case "ResponseRefID":
		return 14, &o.ResponseRefID
	case "ResponseStatus", "Response Status":
		return 15, &o.ResponseStatus
	case "ShortCode":
		return 16, &o.ShortCode
	case "ResponseMessage":
		return 17, &o.ResponseMessage
	case "Response":
		return 18, &o.Response
	case "Transaction":
		return 19, &o.Transaction
	}
	return -1, nil
}

// decode fills o from a JSON object.
func (o *darajaOutput) decode(data []byte) error {
	var seen uint32
	return wire.Object(string(data), func(key, val string) error {
		i, f := o.field(key)
		if f == nil {
			return nil
		}
		if seen&(1<<i) != 0 {
			return fmt.Errorf("%w: %s", errDuplicateKey, key)
		}
		seen |= 1 << i
		*f = val
		return nil
	})
}

// darajaTokenRefusals are the codes by which Daraja refuses an access
// token, one per family of pages (docs/gateways.md D4; 401.001 is the Pull
// page's). The gateway refuses before M-Pesa processes anything, so the
// call goes again once with a new token. 401.003.01 is not among them: it
// says the app lacks the API product.
func isTokenRefusal(code string) bool {
	switch code {
	case "404.001.03", "400.003.01", "401.002.01", "401.001":
		return true
	}
	return false
}

// interpret implements dialect.
func (d *daraja) interpret(rq *request, status int, data []byte) *Error {
	c := d.c
	out := rq.out.(*darajaOutput)
	*out = darajaOutput{} // nothing of an earlier attempt's answer counts
	if len(strings.TrimSpace(string(data))) == 0 {
		if rq.api == APIToken && status == http.StatusBadRequest {
			// A wrong consumer key or secret: HTTP 400, often with no
			// body (docs/gateways.md D3).
			e := c.newError(rq.api, rq.ref, ErrUnauthorized, nil)
			e.HTTPStatus = status
			e.Description = "the consumer key or secret was refused (HTTP 400 without a body)"
			return e
		}
		return c.unexpected(rq, status, data, errors.New("empty body"), false)
	}
	if err := out.decode(data); err != nil {
		return c.unexpected(rq, status, data, err, false)
	}
	if code := strings.TrimSpace(out.ErrorCode); code != "" {
		if rq.api == APISTKQuery && code == "500.001.1001" && strings.Contains(strings.ToLower(out.ErrorMessage), "being processed") {
			// The customer has not finished: pending, not a failure.
			out.pending = true
			return nil
		}
		return d.gatewayError(rq, status, code, out)
	}
	ok := status >= 200 && status < 300
	var code string
	switch rq.api {
	case APIToken:
		if ok && out.AccessToken != "" {
			return nil
		}
		return c.unexpected(rq, status, data, errors.New("no access_token"), false)
	case APIPullRegister, APIPullQuery:
		code = strings.TrimSpace(orDefault(out.ResponseCode, out.ResponseStatus))
		if ok && (code == "1000" || (code == "1001" && rq.api == APIPullQuery)) {
			return nil // 1001 on the query: no transactions in the period
		}
	default:
		code = strings.TrimSpace(out.ResponseCode)
		if ok && code == "0" {
			return nil
		}
	}
	switch {
	case code == "":
		return c.unexpected(rq, status, data, errors.New("no ResponseCode"), false)
	case code == "0" || code == "1000":
		return c.unexpected(rq, status, data, fmt.Errorf("success code %s with HTTP status %d", code, status), false)
	}
	desc := orDefault(out.ResponseDescription, out.ResponseMessage)
	entry, known := darajaCodes.lookup(rq.api, code)
	e := d.newAnswerError(rq, status, code, desc, entry, known, out)
	switch payment := rq.payment(); {
	case payment && ok && !known:
		// A success status with an undocumented refusal: the answer
		// contradicts itself, and the payment may have gone through.
		e.add(ErrOutcomeUnknown)
	case payment && known && entry.info.Kind == ErrInternal:
		// M-Pesa's own failure says nothing of what it did with the
		// payment, as on the error envelope.
		e.add(ErrOutcomeUnknown)
	case !known && status >= 500:
		if payment {
			e.add(ErrOutcomeUnknown)
		} else {
			e.retryable, e.retryReason = true, "a query got a server error"
		}
	}
	return e
}

// gatewayError interprets the API gateway's error envelope
// (docs/gateways.md D23). The code decides, never the HTTP status alone.
func (d *daraja) gatewayError(rq *request, status int, code string, out *darajaOutput) *Error {
	entry, known := darajaCodes.lookup(rq.api, code)
	msg := strings.ToLower(out.ErrorMessage)
	meaningful := known
	switch code {
	case "500.001.1001":
		// Four meanings on the STK APIs, told apart by the message
		// (docs/gateways.md D9); undocumented elsewhere.
		meaningful = rq.api == APIC2B || rq.api == APISTKQuery
		switch {
		case !meaningful:
		case strings.Contains(msg, "unable to lock subscriber"):
			entry.info.Kind = ErrCustomerBusy
		case strings.Contains(msg, "wrong credentials"):
			entry.info.Kind = ErrUnauthorized
		case strings.Contains(msg, "merchant does not exist"):
			entry.info.Kind = ErrInvalidRequest
		}
	case "500.003.1001":
		if strings.Contains(msg, "already registered") || strings.Contains(msg, "duplicate notification info") {
			entry.info.Kind = ErrAlreadyRegistered
		}
	}
	e := d.newAnswerError(rq, status, code, out.ErrorMessage, entry, known, out)
	payment := rq.payment()
	switch kind := entry.info.Kind; {
	case isTokenRefusal(code) && rq.api != APIToken:
		e.authRefused = true
	case code == "500.003.02" || code == "500.003.03":
		// Spike arrest and quota: refused by the API gateway before
		// M-Pesa (docs/gateways.md D23, X3). An STK push is still not
		// resent: every resend is a prompt (docs/gateways.md D10).
		if !rq.holdOnOverload {
			e.retryable, e.retryReason = true, "Daraja's API gateway refused the request before M-Pesa ("+code+")"
		}
	case kind == ErrOverloaded:
		// Maintenance: not among the resends of docs/gateways.md X3 for a
		// payment; a query goes again.
		if !payment {
			e.retryable, e.retryReason = true, "Daraja is under maintenance ("+code+")"
		}
	case kind == ErrInternal || (!meaningful && status >= 500):
		if payment {
			e.add(ErrOutcomeUnknown)
		} else {
			e.retryable, e.retryReason = true, "a query got a server error ("+code+")"
		}
	}
	return e
}

// newAnswerError builds the *Error of a refusal: the code, the gateway's
// text (the documents' when it sent none), the sentinel of the code, and
// the IDs the answer carries.
func (d *daraja) newAnswerError(rq *request, status int, code, desc string, entry codeEntry, known bool, out *darajaOutput) *Error {
	e := d.c.newError(rq.api, rq.ref, entry.info.Kind, nil)
	e.HTTPStatus = status
	e.Code = code
	// A message that quotes the request must not show its STK Password
	// (the passkey, base64-encoded) or SecurityCredential either.
	e.Description = redact.Text(redact.Scrub(redact.Values(desc, secretFields...), d.c.secretsOf(rq)...))
	if e.Description == "" && known {
		e.Description = entry.info.Description
	}
	e.RequestID = out.RequestID
	e.ConversationID = orDefault(out.ConversationID, out.CheckoutRequestID)
	return e
}
