package mpesa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/mpesa-go/mpesa/internal/wire"
)

// Daraja's customer-initiated C2B callbacks (docs/gateways.md D12, D13):
// when a customer pays the shortcode from their phone, M-Pesa first asks
// the ValidationURL whether to complete the payment (only once Safaricom
// has enabled external validation for the shortcode), then posts the
// completed payment to the ConfirmationURL. Both bodies have one shape, so
// the URL tells them apart: the ValidationURL is served by a C2B validator
// (NewC2BValidator), the ConfirmationURL by a Handler, which reads every
// C2B body it receives as a confirmation.

// c2b reads the flat body of a C2B validation or confirmation.
func (p *darajaParser) c2b(vals *[topCount]string, used *uint64, kind CallbackKind) error {
	for i := topTransactionType; i <= topLastName; i++ {
		*used |= 1 << i
	}
	if vals[topTransID] == "" {
		return malformed("a C2B body without TransID")
	}
	r := p.r
	r.Callback, r.API = kind, APIC2B
	p.keep(&r.TransactionID, vals[topTransID])
	p.keep(&r.TransactionType, vals[topTransactionType])
	p.keep(&r.TransactionDate, vals[topTransTime])
	p.keep(&r.Amount, vals[topTransAmount])
	p.keep(&r.ServiceProviderCode, vals[topBusinessShortCode])
	p.keep(&r.TransactionReference, vals[topBillRefNumber])
	p.keep(&r.InvoiceNumber, vals[topInvoiceNumber])
	p.keep(&r.OrgAccountBalance, vals[topOrgAccountBalance])
	p.keep(&r.ThirdPartyConversationID, vals[topThirdPartyTransID])
	p.keep(&r.MSISDN, vals[topMSISDN])
	p.keep(&r.CustomerFirstName, vals[topFirstName])
	p.keep(&r.CustomerMiddleName, vals[topMiddleName])
	p.keep(&r.CustomerLastName, vals[topLastName])
	if kind == CallbackC2BConfirmation {
		// M-Pesa confirms completed payments only (docs/gateways.md D13).
		r.ResultCode = "0"
	}
	return nil
}

// C2BResultCode is a C2B validator's answer: C2BAccept, or one of the
// documented codes that reject the payment, each of which chooses the SMS
// the customer gets (docs/gateways.md D13).
type C2BResultCode string

// The C2B validation answers.
const (
	C2BAccept               C2BResultCode = "0"
	C2BInvalidMSISDN        C2BResultCode = "C2B00011"
	C2BInvalidAccountNumber C2BResultCode = "C2B00012"
	C2BInvalidAmount        C2BResultCode = "C2B00013"
	C2BInvalidKYCDetails    C2BResultCode = "C2B00014"
	C2BInvalidShortcode     C2BResultCode = "C2B00015"
	C2BOtherError           C2BResultCode = "C2B00016"
)

// known reports whether c is one of the documented answers.
func (c C2BResultCode) known() bool {
	switch c {
	case C2BAccept, C2BInvalidMSISDN, C2BInvalidAccountNumber, C2BInvalidAmount, C2BInvalidKYCDetails,
		C2BInvalidShortcode, C2BOtherError:
		return true
	}
	return false
}

// C2BDecision is a C2B validator's answer to one payment.
type C2BDecision struct {
	// Code accepts the payment (C2BAccept) or rejects it with a reason.
	Code C2BResultCode
	// ThirdPartyTransID, optional, is your ID of an accepted payment:
	// M-Pesa sends it back in the confirmation, where it is the Result's
	// ThirdPartyConversationID, so that Await finds the confirmation by
	// it.
	ThirdPartyTransID string
}

// AcceptC2B accepts a payment; thirdPartyTransID may be empty.
func AcceptC2B(thirdPartyTransID string) C2BDecision {
	return C2BDecision{Code: C2BAccept, ThirdPartyTransID: thirdPartyTransID}
}

// RejectC2B rejects a payment with one of the documented codes.
func RejectC2B(code C2BResultCode) C2BDecision { return C2BDecision{Code: code} }

// accepted reports whether d accepts.
func (d C2BDecision) accepted() bool { return d.Code == C2BAccept }

// C2BValidateFunc decides whether M-Pesa completes a customer's payment.
// payment is the validation request: Callback is CallbackC2BValidation,
// TransactionID the TransID, TransactionReference the BillRefNumber the
// customer typed, Amount the TransAmount, MSISDN the customer's number
// masked or hashed as it arrives, the customer's names, and
// OrgAccountBalance blank. It must decide quickly: M-Pesa waits less than
// about 8 seconds, and a decision that comes after the validator's deadline
// (C2BFallback) is not sent. An error, a panic or an undocumented code gets
// the fallback decision too.
type C2BValidateFunc func(ctx context.Context, payment *Result) (C2BDecision, error)

// DefaultC2BValidationDeadline is how long a C2B validator waits for its
// function before it answers the fallback decision, well inside the ~8
// seconds M-Pesa waits (docs/gateways.md D13).
const DefaultC2BValidationDeadline = 5 * time.Second

// NewC2BValidator returns the handler of the C2B ValidationURL: for each
// validation request it runs fn and answers M-Pesa with fn's decision,
// {"ResultCode":"0","ResultDesc":"Accepted"} (with the ThirdPartyTransID
// when given) or {"ResultCode":"C2B00012","ResultDesc":"Rejected"}. When fn
// has not decided within the deadline, fails, panics or returns an
// undocumented code, it answers the fallback decision instead: by default
// it accepts after DefaultC2BValidationDeadline; set yours with
// C2BFallback, to match the ResponseType you registered (what M-Pesa does
// when it gets no answer).
//
// It takes the options of a Handler that concern the request:
// RequireToken, AllowSources, TrustProxies, OnDelivery, HandlerLogger,
// MaxCallbackBytes, CallbackReadTimeout, plus C2BFallback. A validation is
// a question, not a result: nothing is deduplicated, verified or fed to a
// Results hub, and those options are refused. Requests it refuses get a
// rejection (C2B00016) with 403, 405, 413 or 415; a body it cannot read
// gets the fallback decision with 400.
//
// Register distinct URLs for validation and confirmation
// (RegisterC2BURLs): both get the same body, and a Handler reads every C2B
// body as a confirmation, a completed payment.
func NewC2BValidator(fn C2BValidateFunc, opts ...HandlerOption) (*Handler, error) {
	h := newHandlerBase()
	h.validate, h.mode = fn, darajaValidation
	h.gateway, h.gatewaySet = GatewayDaraja, true
	var errs []error
	if fn == nil {
		errs = append(errs, errors.New("mpesa: NewC2BValidator: nil C2BValidateFunc"))
	}
	errs = append(errs, h.apply(opts)...)
	for _, o := range []struct {
		set  bool
		name string
	}{
		{h.dedup != nil, "Deduplicate"}, {h.hub != nil, "FeedResults"}, {h.verifier != nil, "VerifyWithStatusQuery"},
		{h.waitSet, "StatusResultWait"}, {h.mode != darajaValidation, "QueueTimeoutNotices"},
		{h.gateway != GatewayDaraja, "HandlerGateway"},
	} {
		if o.set {
			errs = append(errs, optionError(o.name, "a C2B validator answers questions, not results: it takes no %s", o.name))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	h.finish()
	return h, nil
}

// C2BFallback sets what a C2B validator answers when its function has not
// decided after the given time (counted from the request's arrival), or
// fails: usually the same as the ResponseType registered with
// RegisterC2BURLs, AcceptC2B("") for Completed and
// RejectC2B(C2BOtherError) for Cancelled. after must be at most 7 s,
// inside M-Pesa's ~8 s. Default: accept after DefaultC2BValidationDeadline.
// Only a C2B validator takes it.
func C2BFallback(d C2BDecision, after time.Duration) HandlerOption {
	return func(h *Handler) error {
		if !d.Code.known() {
			return optionError("C2BFallback", "%q is not a documented C2B answer (0, C2B00011 … C2B00016)", string(d.Code))
		}
		if after < 10*time.Millisecond || after > 7*time.Second {
			return optionError("C2BFallback", "%v is outside 10ms..7s, inside the ~8 s M-Pesa waits", after)
		}
		h.fallback, h.fallbackAfter, h.fallbackSet = d, after, true
		return nil
	}
}

// validationAnswer is the documented validation answer of d.
func validationAnswer(d C2BDecision) []byte {
	buf := append(make([]byte, 0, 64+len(d.ThirdPartyTransID)), `{"ResultCode":`...)
	buf = wire.AppendString(buf, string(d.Code))
	if d.accepted() {
		buf = append(buf, `,"ResultDesc":"Accepted"`...)
		if d.ThirdPartyTransID != "" {
			buf = append(buf, `,"ThirdPartyTransID":`...)
			buf = wire.AppendString(buf, d.ThirdPartyTransID)
		}
	} else {
		buf = append(buf, `,"ResultDesc":"Rejected"`...)
	}
	return append(buf, '}')
}

// answerValidation writes a validation answer.
func (h *Handler) answerValidation(w http.ResponseWriter, status int, d C2BDecision) {
	w.Header()["Content-Type"] = jsonHdr
	w.WriteHeader(status)
	_, _ = w.Write(validationAnswer(d))
}

// decided is what a validation function returned.
type decided struct {
	d   C2BDecision
	err error
}

// decide runs the validation function on payment and answers its decision,
// or the fallback when it fails or is late. The function runs in a
// goroutine of its own, with a context that ends at the deadline, so that a
// slow one cannot hold the answer; a late decision is dropped.
// beforeDeadline bounds a C2B validator's OnDelivery by the validation's
// deadline: M-Pesa waits about 8 s for the answer, and a slow archive must
// not make it apply the registered ResponseType instead of the merchant's
// fallback. An OnDelivery still running at the deadline carries on with
// its context ended, and the answer is the fallback.
func (h *Handler) beforeDeadline(arrived time.Time, fn func(context.Context, *Delivery) error) func(context.Context, *Delivery) error {
	return func(ctx context.Context, d *Delivery) error {
		dctx, cancel := context.WithDeadline(ctx, arrived.Add(h.fallbackAfter))
		defer cancel()
		ch := make(chan error, 1) // buffered: a late OnDelivery does not block
		go func() {
			err := errors.New("mpesa: OnDelivery panicked")
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("mpesa: OnDelivery panicked: %v", p)
				}
				ch <- err
			}()
			err = fn(dctx, d)
		}()
		select {
		case err := <-ch:
			return err
		case <-dctx.Done():
			return errors.New("mpesa: OnDelivery did not return before the C2B validation deadline")
		}
	}
}

func (h *Handler) decide(ctx context.Context, w http.ResponseWriter, payment *Result, src netip.Addr, arrived time.Time) {
	dctx, cancel := context.WithDeadline(ctx, arrived.Add(h.fallbackAfter))
	defer cancel()
	ch := make(chan decided, 1) // buffered: a late function does not block
	go func() {
		var out decided
		defer func() {
			if p := recover(); p != nil {
				out = decided{err: fmt.Errorf("mpesa: C2B validation function panicked: %v", p)}
			}
			ch <- out
		}()
		out.d, out.err = h.validate(dctx, payment)
	}()
	var out decided
	select {
	case out = <-ch:
	case <-dctx.Done():
		h.log(ctx, slog.LevelWarn, "mpesa: C2B validation did not decide in time; answered the fallback decision", payment, src, http.StatusOK, "")
		h.answerValidation(w, http.StatusOK, h.fallback)
		return
	}
	switch {
	case out.err != nil:
		h.log(ctx, slog.LevelError, "mpesa: C2B validation failed; answered the fallback decision", payment, src, http.StatusOK, out.err.Error())
		out.d = h.fallback
	case !out.d.Code.known():
		h.log(ctx, slog.LevelError, "mpesa: C2B validation returned an undocumented code; answered the fallback decision", payment, src, http.StatusOK, "code "+string(out.d.Code))
		out.d = h.fallback
	default:
		h.log(ctx, slog.LevelInfo, "mpesa: C2B validation answered", payment, src, http.StatusOK, "code "+string(out.d.Code))
	}
	h.answerValidation(w, http.StatusOK, out.d)
}
