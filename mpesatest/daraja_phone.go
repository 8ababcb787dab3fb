package mpesatest

import (
	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/internal/redact"
)

// Interactive STK pushes: the PIN prompt of an interactive customer's push
// waits on the phone page (phone.go) for its answer. Daraja answers the
// push at once whatever the customer does (docs/gateways.md D8), so the
// call never waits here: the prompt opens once the answer is written, the
// STK query answers "The transaction is being processed" while it is open,
// the customer stays locked for other pushes (D10), and the STK callback
// carries the answer's result code.

// stkPrompt is what an open STK prompt needs to end its push.
type stkPrompt struct {
	st     *djSTK
	rec    *Callback
	settle func()
	build  func() jobj
}

// openSTKPrompt puts the PIN prompt of an STK push on the phone. Only a
// push whose result the customer decides gets here (stkGatewayOutcomeLocked
// found nothing); its callback record rec is launched once it is answered.
func (s *Server) openSTKPrompt(rq *djRequest, st *djSTK, rec *Callback, settle func(), build func() jobj) {
	p := rq.params
	s.mu.Lock()
	after := s.darajaOutcomeLocked(st.phone)
	s.mu.Unlock()
	pr := &prompt{t: st.t, after: after, done: make(chan struct{}), stk: &stkPrompt{st: st, rec: rec, settle: settle, build: build}}
	pr.Prompt = Prompt{
		Gateway:              mpesa.GatewayDaraja,
		Market:               mpesa.MarketKenya,
		API:                  mpesa.APIC2B,
		MSISDN:               redact.MSISDN(st.phone),
		Amount:               p["Amount"],
		Currency:             mpesa.MarketKenya.Currency(),
		ServiceProviderCode:  p["PartyB"],
		TransactionReference: p["AccountReference"],
		Reference:            st.merchantID,
		ConversationID:       st.checkoutID,
		Async:                true,
	}
	pr.Text = "Pay " + pr.Currency + " " + pr.Amount + " to " + pr.ServiceProviderCode +
		", account no. " + pr.TransactionReference + "? Enter your M-PESA PIN to confirm."
	s.openPrompt(pr)
}

// settleSTKPrompt ends the push of an answered STK prompt: its result code
// is the answer's, as stkCustomerCode maps it (the PIN entered by a
// customer registered as OutcomeRejected or OutcomeInsufficientBalance
// gives 2001 or 1), and its callback goes at once: the customer was the
// delay.
func (s *Server) settleSTKPrompt(p *prompt, o Outcome) {
	if o == OutcomeSuccess && (p.after == OutcomeRejected || p.after == OutcomeInsufficientBalance) {
		o = p.after
	}
	code := stkCustomerCode(o)
	sp := p.stk
	s.mu.Lock()
	sp.st.code, sp.st.desc = code, resultDesc(mpesa.APIC2B, code, stkDescs)
	s.mu.Unlock()
	sp.rec.plan.delay = 0
	s.djSend(sp.rec, sp.settle, sp.build)
}

// abandonSTKPrompt takes an unanswered prompt off the phone (Reset, Close):
// the customer is no longer locked; the push stays Pending, with no
// callback, as the other gateways' abandoned payments do.
func (s *Server) abandonSTKPrompt(p *prompt) {
	s.mu.Lock()
	p.stk.st.open = false
	s.mu.Unlock()
}
