package mpesa

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mpesa-go/mpesa/internal/redact"
	"github.com/mpesa-go/mpesa/internal/wire"
)

// This file is what the two gateways of Vodacom's iPG platform share:
// OpenAPI v2 (openapi.go) and Mozambique v1x (mozambique.go). Both take a
// flat JSON object of input_* strings (the query string of a GET), answer a
// flat object of output_* values with an INS-… response code, and post
// flat input_* callbacks (docs/gateways.md O8, O15, M6).

// ipg is the dialect of an iPG gateway. The two gateways differ in what a
// table (their profile) and a few hooks (their flavor) say; the product
// encoders below are written once for both.
type ipg struct {
	c       *Client
	g       Gateway
	methods [apiCount]string
	urls    [apiCount]string
	key     staticAuth // the encrypted API key
	rules   *rulebook
	codes   codeTable
	refKey  string // input_ThirdPartyConversationID or input_ThirdPartyReference
	flavor  ipgFlavor
}

// ipgFlavor holds what one iPG gateway adds to the shared encoders.
type ipgFlavor interface {
	// addMarket checks and adds what a payment carries about the market
	// (OpenAPI: Country, Currency and the description descKey).
	addMarket(k *checker, p *params, country, currency, descKey, desc string)
	// addCountry checks and adds a query's or reversal's Country.
	addCountry(k *checker, p *params, country string)
	// addReversal checks and adds what a reversal needs beyond the shared
	// fields (Mozambique: the initiator and its credential).
	addReversal(k *checker, p *params, req *ReversalRequest)
	// addNameQuery adds what a name query needs beyond the shared fields.
	addNameQuery(p *params)
}

func (d *ipg) endpoint(api API) (string, string, bool) {
	if api <= 0 || api >= apiCount || d.urls[api] == "" {
		return "", "", false
	}
	return d.methods[api], d.urls[api], true
}

// checker returns a checker of a request of api with the gateway's rules.
func (d *ipg) checker(api API) checker { return checker{api: api, rules: d.rules} }

// send validates, sends and decodes one call.
func (d *ipg) send(ctx context.Context, k *checker, p params, ref string) (*ipgOutput, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	out := new(ipgOutput)
	rq := &request{api: k.api, ref: ref, out: out}
	if d.methods[k.api] == http.MethodGet {
		rq.query = p.sorted()
	} else {
		ps := p.sorted()
		rq.body = wire.AppendJSON(make([]byte, 0, wire.JSONLen(ps)), ps)
	}
	if err := d.c.send(ctx, rq); err != nil {
		return nil, err
	}
	return out, nil
}

// ipgOutput is the union of the output_* fields of every answer of both
// gateways. Values are taken as sent: strings decoded, numbers and
// booleans in their JSON spelling, null as "".
type ipgOutput struct {
	ResponseCode              string
	ResponseDesc              string
	Error                     string // output_error
	SessionID                 string
	ConversationID            string
	TransactionID             string
	ThirdPartyConversationID  string
	ThirdPartyReference       string
	ResponseTransactionStatus string
	OriginalTransactionID     string
	Reversed                  string
	TransactionReference      string
	MsisdnToken               string
	MandateID                 string
	MandateStatus             string
	AccountStatus             string
	SufficientBalance         string
	FirstPaymentDate          string
	Frequency                 string
	PaymentDayFrom            string
	PaymentDayTo              string
	ExpiryDate                string
	CustomerFirstName         string
	CustomerLastName          string
	CustomerName              string
	FirstName                 string
	SecondName                string
}

// field returns the index and address of the field the key names exactly,
// -1 for any other key. Keys are never matched without regard to case: a
// body that says output_ResponseCode INS-6 and OUTPUT_RESPONSECODE INS-0
// means INS-6.
func (o *ipgOutput) field(key string) (int, *string) {
	switch key {
	case "output_ResponseCode":
		return 0, &o.ResponseCode
	case "output_ResponseDesc":
		return 1, &o.ResponseDesc
	case "output_error":
		return 2, &o.Error
	case "output_SessionID":
		return 3, &o.SessionID
	case "output_ConversationID":
		return 4, &o.ConversationID
	case "output_TransactionID":
		return 5, &o.TransactionID
	case "output_ThirdPartyConversationID":
		return 6, &o.ThirdPartyConversationID
	case "output_ThirdPartyReference":
		return 7, &o.ThirdPartyReference
	case "output_ResponseTransactionStatus":
		return 8, &o.ResponseTransactionStatus
	case "output_OriginalTransactionID":
		return 9, &o.OriginalTransactionID
	case "output_Reversed":
		return 10, &o.Reversed
	case "output_TransactionReference":
		return 11, &o.TransactionReference
	case "output_MsisdnToken":
		return 12, &o.MsisdnToken
	case "output_MandateID":
		return 13, &o.MandateID
	case "output_MandateStatus":
		return 14, &o.MandateStatus
	case "output_AccountStatus":
		return 15, &o.AccountStatus
	case "output_SufficientBalance":
		return 16, &o.SufficientBalance
	case "output_FirstPaymentDate":
		return 17, &o.FirstPaymentDate
	case "output_Frequency":
		return 18, &o.Frequency
	case "output_PaymentDayFrom":
		return 19, &o.PaymentDayFrom
	case "output_PaymentDayTo":
		return 20, &o.PaymentDayTo
	case "output_ExpiryDate":
		return 21, &o.ExpiryDate
	case "output_CustomerFirstName":
		return 22, &o.CustomerFirstName
	case "output_CustomerLastName":
		return 23, &o.CustomerLastName
	case "output_CustomerName":
		return 24, &o.CustomerName
	case "output_FirstName":
		return 25, &o.FirstName
	case "output_SecondName":
		return 26, &o.SecondName
	}
	return -1, nil
}

// errDuplicateKey reports a body that names a field twice: which one
// counts is not decided by the document, so the body is not trusted.
var errDuplicateKey = errors.New("a field appears twice")

// decode fills o from a JSON object. The values share one copy of the body.
func (o *ipgOutput) decode(data []byte) error {
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

// reference returns the caller's reference as the answer states it.
func (o *ipgOutput) reference() string {
	if o.ThirdPartyConversationID != "" {
		return o.ThirdPartyConversationID
	}
	return o.ThirdPartyReference
}

// interpret implements dialect: it decodes an iPG answer into rq.out.
func (d *ipg) interpret(rq *request, status int, data []byte) *Error {
	c := d.c
	payment := rq.payment()
	if len(strings.TrimSpace(string(data))) == 0 {
		return c.unexpected(rq, status, data, errors.New("empty body"), false)
	}
	out := rq.out.(*ipgOutput)
	*out = ipgOutput{} // a resent call's answer owes nothing to the last one's
	if err := out.decode(data); err != nil {
		return c.unexpected(rq, status, data, err, false)
	}
	// A new session ID is as secret as a stored one, even in an answer
	// that fails.
	secrets := d.secrets()
	if out.SessionID != "" {
		secrets = append(secrets, out.SessionID)
	}
	code := strings.TrimSpace(out.ResponseCode)
	if code == "" {
		if out.Error != "" {
			// {"output_error": "..."}: how the Mozambique gateway answers
			// a bad key or a missing Origin. Nothing was processed.
			e := c.newError(rq.api, rq.ref, nil, nil)
			e.HTTPStatus = status
			e.Description = redact.Text(redact.Scrub(out.Error, secrets...))
			if status == http.StatusUnauthorized || status == http.StatusForbidden {
				e.add(ErrUnauthorized)
			}
			return e
		}
		return c.unexpected(rq, status, data, errors.New("no output_ResponseCode"), false)
	}
	if isSuccessCode(code) {
		if status >= 200 && status < 300 {
			return nil
		}
		return c.unexpected(rq, status, data, fmt.Errorf("success code %s with HTTP status %d", code, status), false)
	}
	entry, known := d.codes.lookup(rq.api, code)
	info := entry.info
	e := c.newError(rq.api, rq.ref, info.Kind, nil)
	e.HTTPStatus = status
	e.Code = code
	e.Description = redact.Text(redact.Scrub(out.ResponseDesc, secrets...))
	if e.Description == "" && known {
		e.Description = info.Description
	}
	e.ConversationID = out.ConversationID
	e.TransactionID = out.TransactionID
	if r := out.reference(); r != "" {
		e.ThirdPartyConversationID = r
	}
	if code == "INS-2" && rq.api != APIGetSession {
		// INS-2 refuses the key or the session, not the call: it was not
		// processed (docs/gateways.md X3).
		e.authRefused = true
	}
	switch {
	case code == "INS-16" && (status == http.StatusServiceUnavailable || !payment):
		e.retryable, e.retryReason = true, "the gateway was overloaded and did not process the request (INS-16)"
	case payment && status >= 200 && status < 300:
		// A success status with a failure code contradicts itself.
		e.add(ErrOutcomeUnknown)
	case !payment && status >= 500 && info.Kind == ErrInternal:
		e.retryable, e.retryReason = true, "a query got an internal error"
	case payment && (!known || entry.unknownOutcome || info.Kind == ErrInternal):
		// An answer that says nothing certain about the outcome: an
		// undocumented code, a code without a meaning (Mozambique INS-23
		// "Unknown Status"), an internal error. The payment may have gone
		// through.
		e.add(ErrOutcomeUnknown)
	case known && info.Kind != ErrOverloaded:
		// A documented code with a meaning of its own (a parameter
		// problem, a business outcome) is the gateway's decision even
		// under a 5xx: the portal pairs INS-57 and query direct debit's
		// INS-52 with 500. Sending it again gets the same answer.
	case !payment && status >= 500:
		e.retryable, e.retryReason = true, "a query got a server error"
	case payment && status >= 500:
		e.add(ErrOutcomeUnknown)
	}
	return e
}

// secrets implements dialect.
func (d *ipg) secrets() []string {
	return []string{d.key.cred.secret, strings.TrimPrefix(d.key.cred.authz[0], "Bearer ")}
}
