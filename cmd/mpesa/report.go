package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mpesa-go/mpesa"
)

// report is what an operator command prints: as aligned text, or with
// --json as one JSON object. It never holds a secret: the MSISDN is masked
// and the bearer is printed by mpesa token alone, outside a report; the
// Daraja consumer secret, passkey and initiator password never reach one.
type report struct {
	Command        string `json:"command"`
	Gateway        string `json:"gateway"`
	Outcome        string `json:"outcome"` // completed, pending, answered, refused, unknown, unavailable, invalid
	Code           string `json:"code,omitempty"`
	Description    string `json:"description,omitempty"`
	Meaning        string `json:"meaning,omitempty"`
	HTTPStatus     int    `json:"http_status,omitempty"`
	Reference      string `json:"reference,omitempty"` // ThirdPartyConversationID / ThirdPartyReference
	ConversationID string `json:"conversation_id,omitempty"`
	TransactionID  string `json:"transaction_id,omitempty"`
	Status         string `json:"transaction_status,omitempty"`
	ResultCode     string `json:"result_code,omitempty"` // Daraja's STK query: how the push ended
	ResultDesc     string `json:"result_desc,omitempty"`
	Reversed       *bool  `json:"reversed,omitempty"`
	OriginalTxID   string `json:"original_transaction_id,omitempty"`
	// Daraja's own IDs: the OriginatorConversationID of an acknowledgement,
	// the MerchantRequestID of an STK push; the shortcode asked.
	Originator        string         `json:"originator_conversation_id,omitempty"`
	MerchantRequestID string         `json:"merchant_request_id,omitempty"`
	Shortcode         string         `json:"shortcode,omitempty"`
	Amount            string         `json:"amount,omitempty"`
	MSISDN            string         `json:"msisdn,omitempty"` // masked
	Next              string         `json:"next,omitempty"`   // what to do now
	Fields            []fieldProblem `json:"invalid_fields,omitempty"`
	exit              int
}

type fieldProblem struct {
	Field string `json:"field"`
	Rule  string `json:"rule"`
}

// sentinels name the kinds of failure in words, most specific first.
var sentinels = []error{
	mpesa.ErrOutcomeUnknown, mpesa.ErrCustomerBusy, mpesa.ErrAlreadyRegistered,
	mpesa.ErrCancelledByCustomer, mpesa.ErrPromptTimeout, mpesa.ErrInsufficientBalance,
	mpesa.ErrTransactionFailed, mpesa.ErrDuplicate, mpesa.ErrTransactionNotFound, mpesa.ErrInvalidMSISDN,
	mpesa.ErrLimitBreached, mpesa.ErrAPINotEnabled, mpesa.ErrInvalidMarket, mpesa.ErrMandateNotFound,
	mpesa.ErrOverloaded, mpesa.ErrSessionCreation, mpesa.ErrUnauthorized, mpesa.ErrInternal,
	mpesa.ErrUnexpectedResponse, mpesa.ErrNotSupported, mpesa.ErrInvalidRequest,
}

func meaning(err error) string {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return strings.TrimPrefix(s.Error(), "mpesa: ")
		}
	}
	return ""
}

// failed fills r from the error of a call and sets its exit code. payment
// says whether the call could move money.
func (r *report) failed(err error, payment bool) {
	r.Meaning = meaning(err)
	var ve *mpesa.ValidationError
	var e *mpesa.Error
	switch {
	case errors.As(err, &ve):
		r.Outcome, r.exit = "invalid", exitUsage
		r.Description = "nothing was sent: the request is invalid"
		for _, f := range ve.Fields {
			r.Fields = append(r.Fields, fieldProblem{f.Field, f.Rule})
		}
		return
	case !errors.As(err, &e):
		r.Outcome, r.exit, r.Description = "unavailable", exitUnavailable, err.Error()
		return
	}
	r.Code, r.Description, r.HTTPStatus = e.Code, e.Description, e.HTTPStatus
	if e.ConversationID != "" {
		r.ConversationID = e.ConversationID
	}
	if e.TransactionID != "" && e.TransactionID != "N/A" {
		r.TransactionID = e.TransactionID
	}
	if e.ThirdPartyConversationID != "" {
		r.Reference = e.ThirdPartyConversationID
	}
	switch {
	case errors.Is(err, mpesa.ErrOutcomeUnknown):
		r.Outcome, r.exit = "unknown", exitUnknown
		if r.Description == "" {
			r.Description = "no usable answer"
			if e.Err != nil {
				r.Description += ": " + lastPart(e.Err.Error())
			}
		}
		r.Next = "the payment may have gone through: do not pay again under a new reference; reconcile with: mpesa status " + r.Reference
	case e.HTTPStatus != 0 && !errors.Is(err, mpesa.ErrUnexpectedResponse) && !e.Retryable():
		r.Outcome, r.exit = "refused", exitRefused
		if errors.Is(err, mpesa.ErrDuplicate) && payment {
			r.Next = "the reference was used before: mpesa status " + r.Reference + " tells how that payment ended"
		}
	default:
		r.Outcome, r.exit = "unavailable", exitUnavailable
		if r.Description == "" && e.Err != nil {
			r.Description = e.Err.Error()
		}
		if payment {
			r.Next = "the gateway did not process it: running the command again with --ref " + r.Reference + " is safe"
		}
	}
}

// print writes the report and returns its exit code.
func (r *report) print(w io.Writer, asJSON bool) int {
	if asJSON {
		data, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			fmt.Fprintln(w, `{"outcome":"unavailable","description":"encoding the report failed"}`)
			return exitUnavailable
		}
		fmt.Fprintln(w, string(data))
		return r.exit
	}
	head := r.Command + ": " + r.Outcome
	if r.Code != "" || r.Description != "" {
		head += " (" + strings.TrimSpace(r.Code+" "+r.Description) + ")"
	}
	fmt.Fprintln(w, head)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-15s %s\n", k, v)
		}
	}
	row("gateway", r.Gateway)
	row("meaning", r.Meaning)
	if r.HTTPStatus != 0 {
		row("http status", fmt.Sprint(r.HTTPStatus))
	}
	row("status", r.Status)
	row("result", strings.TrimSpace(r.ResultCode+" "+r.ResultDesc))
	if r.Reversed != nil {
		row("reversed", fmt.Sprint(*r.Reversed))
	}
	row("amount", r.Amount)
	row("customer", r.MSISDN)
	row("shortcode", r.Shortcode)
	row("reference", r.Reference)
	row("conversation", r.ConversationID)
	row("originator", r.Originator)
	row("merchant req", r.MerchantRequestID)
	row("transaction", r.TransactionID)
	row("original tx", r.OriginalTxID)
	for _, f := range r.Fields {
		row("invalid", f.Field+" "+f.Rule)
	}
	row("next", r.Next)
	return r.exit
}

// lastPart is the end of a wrapped error's text ("connection reset by
// peer"), without the URL that net/http puts in front.
func lastPart(s string) string {
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}
