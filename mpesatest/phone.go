package mpesatest

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/internal/redact"
)

// Interactive customers: a C2B payment that waits on the customer's phone,
// as on the live gateways, until somebody answers its PIN prompt: a test
// with AnswerPrompt, a person on the phone page of the control plane, or
// the prompt's deadline.

// DefaultPromptTimeout is how long a prompt waits for its answer unless
// WithPromptTimeout says otherwise. It is shorter than the SDK's payment
// timeout (mpesa.DefaultPaymentTimeout), so that a synchronous C2B call ends
// with the gateway's 408 INS-9 rather than the client's own timeout; the
// live Mozambique gateway has been seen to hold C2B calls open 66 to more
// than 90 seconds (docs/gateways.md M13).
const DefaultPromptTimeout = 90 * time.Second

// ErrNoPrompt is returned by AnswerPrompt for a prompt that is not open:
// unknown, answered already, timed out or abandoned.
var ErrNoPrompt = errors.New("mpesatest: no such open prompt")

// WithInteractive makes every C2B payment interactive (on Daraja, every STK
// push), as if every customer had Customer.Interactive set (SetInteractive
// changes it at run time).
func WithInteractive() Option {
	return func(c *config) { c.ext.interactive = true }
}

// WithPromptTimeout sets how long a prompt waits for its answer before it
// times out as OutcomePromptTimeout. Default DefaultPromptTimeout.
func WithPromptTimeout(d time.Duration) Option {
	return func(c *config) { c.ext.promptTimeout = d }
}

// SetInteractive switches WithInteractive on or off, from the next C2B
// call on. Customers with Customer.Interactive stay interactive.
func (s *Server) SetInteractive(all bool) {
	s.mu.Lock()
	s.ext.interactive = all
	s.mu.Unlock()
	s.bump()
}

// interactive reports whether a C2B of msisdn waits for its prompt.
func (s *Server) interactive(msisdn string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ext.interactive || s.customers[msisdn].Interactive
}

// Prompt is a USSD PIN prompt open on an interactive customer's phone
// (Customer.Interactive, WithInteractive). The C2B call that pushed it
// waits for the answer when the product answers synchronously, as the
// live Mozambique gateway keeps the call open while the prompt shows
// (docs/gateways.md M13); asynchronously the call is answered at once and
// the result callback is sent once the prompt is answered. Meanwhile the
// payment is Pending and its reference taken (a resend is a duplicate).
// A client that gives up on a synchronous call leaves the prompt open: its
// answer still decides the payment, which a status query then reports.
//
// On Daraja the prompt is an STK push's, and Async is always true: Daraja
// answers the push at once, the STK query answers "The transaction is
// being processed" while the prompt is open, and the STK callback carries
// the answer (PIN 0, decline 1032, timeout 1037, or the customer's
// registered 1 or 2001). A push the gateway ends before asking the
// customer (a scenario's code, an amount limit, 2028, 17) opens no prompt.
// Reference is then the MerchantRequestID, ConversationID the
// CheckoutRequestID, TransactionReference the AccountReference and
// ServiceProviderCode the PartyB.
type Prompt struct {
	// ID names the prompt for AnswerPrompt.
	ID      string
	Gateway mpesa.Gateway
	Market  mpesa.Market
	API     mpesa.API
	// MSISDN is the customer's number, masked as in the journal.
	MSISDN              string
	Amount              string
	Currency            string
	ServiceProviderCode string
	// TransactionReference is the customer-facing reference of the call;
	// Reference its ThirdPartyConversationID (Mozambique:
	// ThirdPartyReference), ConversationID the gateway's.
	TransactionReference string
	Reference            string
	ConversationID       string
	// Async reports that the call was answered at once and the result
	// goes by callback.
	Async bool
	// Text is what the phone shows.
	Text string
	// Opened is when the prompt appeared; Deadline when it times out.
	Opened, Deadline time.Time
}

// prompt is an open prompt and what answering it does.
type prompt struct {
	Prompt
	rq *request
	t  *tx
	// after is the customer's Outcome, applied when the PIN is entered
	// (see AnswerPrompt).
	after Outcome
	timer *time.Timer
	// done is closed once the prompt is answered or abandoned; sync is
	// then the synchronous answer of the call, nil when abandoned.
	done chan struct{}
	sync *answer
	// stk is set for a Daraja STK push's prompt (daraja_phone.go); rq is
	// then nil.
	stk *stkPrompt
}

// promptPay serves a C2B of an interactive customer.
func (s *Server) promptPay(rq *request) answer {
	async := s.asyncFor(rq)
	s.mu.Lock()
	if s.ledger.byRef[scopeOf(rq.gw, rq.market)+rq.params[rq.refKey()]] != nil {
		a := s.duplicateLocked(rq)
		s.mu.Unlock()
		return a
	}
	t := s.newTxLocked(rq, async)
	t.status = mpesa.StatusPending
	s.ledger.add(t)
	after := s.customerLocked(rq.params["input_CustomerMSISDN"]).Outcome
	s.mu.Unlock()

	p := s.newPrompt(rq, t, async, after)
	if async {
		// The prompt opens once the answer is written, so that its
		// callback cannot overtake the answer.
		return answer{status: successStatus(rq), body: s.okBody(rq, t.conv), after: func() { s.openPrompt(p) }}
	}
	s.openPrompt(p)
	select {
	case <-p.done:
	case <-rq.r.Context().Done():
		// The client gave up; the prompt stays on the phone.
		panic(http.ErrAbortHandler)
	case <-s.ctx.Done():
		panic(http.ErrAbortHandler)
	}
	if p.sync == nil { // abandoned by Reset or Close
		panic(http.ErrAbortHandler)
	}
	return *p.sync
}

func (s *Server) newPrompt(rq *request, t *tx, async bool, after Outcome) *prompt {
	p := rq.params
	currency := "MZN"
	if rq.gw != mpesa.GatewayMozambique {
		currency = p["input_Currency"]
	}
	pr := &prompt{rq: rq, t: t, after: after, done: make(chan struct{})}
	pr.Prompt = Prompt{
		Gateway:              rq.gw,
		Market:               rq.market,
		API:                  rq.api,
		MSISDN:               redact.MSISDN(p["input_CustomerMSISDN"]),
		Amount:               p["input_Amount"],
		Currency:             currency,
		ServiceProviderCode:  p["input_ServiceProviderCode"],
		TransactionReference: p["input_TransactionReference"],
		Reference:            p[rq.refKey()],
		ConversationID:       t.conv,
		Async:                async,
	}
	pr.Text = "Pay " + pr.Amount + " " + currency + " to " + pr.ServiceProviderCode +
		" for " + pr.TransactionReference + "? Enter your M-Pesa PIN to confirm."
	return pr
}

// openPrompt puts the prompt on the phone and starts its deadline.
func (s *Server) openPrompt(p *prompt) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		close(p.done)
		return
	}
	s.ext.promptSeq++
	p.ID = "P" + strconv.Itoa(s.ext.promptSeq)
	p.Opened = s.now()
	p.Deadline = p.Opened.Add(s.cfg.ext.promptTimeout)
	id := p.ID
	p.timer = time.AfterFunc(s.cfg.ext.promptTimeout, func() { _ = s.AnswerPrompt(id, OutcomePromptTimeout) })
	s.ext.prompts[id] = p
	s.mu.Unlock()
	s.bump()
}

// Prompts returns the open prompts, oldest first.
func (s *Server) Prompts() []Prompt {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Prompt, 0, len(s.ext.prompts))
	for _, p := range s.ext.prompts {
		out = append(out, p.Prompt)
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.Atoi(out[i].ID[1:])
		b, _ := strconv.Atoi(out[j].ID[1:])
		return a < b
	})
	return out
}

// WaitPrompt returns the oldest open prompt, waiting for one to open until
// ctx ends.
func (s *Server) WaitPrompt(ctx context.Context) (Prompt, error) {
	for {
		s.ext.evMu.Lock()
		v := s.ext.version
		s.ext.evMu.Unlock()
		if ps := s.Prompts(); len(ps) > 0 {
			return ps[0], nil
		}
		if ctx.Err() != nil {
			return Prompt{}, ctx.Err()
		}
		s.waitChange(ctx, v)
	}
}

// AnswerPrompt answers an open prompt as the customer would:
//
//   - OutcomeSuccess: the customer enters the PIN. The payment completes,
//     unless the customer's registered Outcome is one the platform decides
//     after the PIN (OutcomeRejected: INS-6, Daraja 2001;
//     OutcomeInsufficientBalance: INS-2006, Daraja 1), which then applies;
//   - OutcomeCancelled: the customer declines: Mozambique INS-5, OpenAPI
//     INS-6 (its documents have no INS-5), Daraja 1032; status Cancelled;
//   - OutcomePromptTimeout: nobody answers: INS-9 (Daraja 1037), status
//     Expired, as when the deadline passes;
//   - OutcomeRejected, OutcomeInsufficientBalance: as for a customer
//     registered with them.
//
// The waiting C2B call gets its answer, or the result callback (on Daraja
// the STK callback) is sent. It returns ErrNoPrompt when the prompt is not
// open.
func (s *Server) AnswerPrompt(id string, o Outcome) error {
	if o < OutcomeSuccess || o > OutcomeInsufficientBalance {
		return errors.New("mpesatest: AnswerPrompt: unknown outcome " + o.String())
	}
	s.mu.Lock()
	p := s.ext.prompts[id]
	if p == nil {
		s.mu.Unlock()
		return ErrNoPrompt
	}
	delete(s.ext.prompts, id)
	p.timer.Stop()
	s.mu.Unlock()

	s.settlePrompt(p, o)
	close(p.done)
	s.bump()
	return nil
}

// settlePrompt ends the payment of an answered prompt.
func (s *Server) settlePrompt(p *prompt, o Outcome) {
	if p.stk != nil {
		s.settleSTKPrompt(p, o)
		return
	}
	rq, t := p.rq, p.t
	if o == OutcomeSuccess && (p.after == OutcomeRejected || p.after == OutcomeInsufficientBalance) {
		o = p.after
	}
	code, final, failed := failure(rq.gw, o)
	if !failed {
		code, final = "INS-0", mpesa.StatusCompleted
	}
	s.mu.Lock()
	t.code = code
	if t.status == mpesa.StatusPending { // SetTransactionStatus may have said otherwise
		t.status = final
	}
	id := ""
	if !failed {
		id = s.newTransactionIDLocked(rq.gw, t.scope)
		s.ledger.setID(t, id)
	}
	if !p.Async {
		var a answer
		if failed {
			a = s.refuseLocked(rq, code, t.conv)
			a.body["output_TransactionID"] = "N/A"
		} else {
			a = answer{status: successStatus(rq), body: s.okBody(rq, t.conv)}
			a.body["output_TransactionID"] = id
		}
		p.sync = &a
	}
	s.mu.Unlock()
	if p.Async && rq.async != nil {
		// The customer was the delay: deliver at once.
		a := *rq.async
		a.Delay = 0
		drq := *rq
		drq.async = &a
		s.startDelivery(&drq, s.resultParams(rq, t.conv, code, id), nil)
	}
}

// abandonPrompts closes every open prompt without an answer: the calls
// waiting on them are cut, their payments stay Pending.
func (s *Server) abandonPrompts() {
	s.mu.Lock()
	ps := s.ext.prompts
	s.ext.prompts = make(map[string]*prompt)
	s.mu.Unlock()
	for _, p := range ps {
		p.timer.Stop()
		if p.stk != nil {
			s.abandonSTKPrompt(p)
		}
		close(p.done)
	}
	if len(ps) > 0 {
		s.bump()
	}
}
