package mpesatest

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/mpesa-go/mpesa"
)

// Direct debit, on OpenAPI only: a mandate is created with the customer's
// consent (a prompt), paid without it, queried and cancelled. A mandate is
// found by its shortcode and reference (input_ThirdPartyReference), or by
// input_MandateID, which must then belong to that reference.

func mandateKey(scope, spc, ref string) string { return scope + spc + "/" + ref }

// activeLocked reports whether a mandate can be paid today.
func (s *Server) activeLocked(m *mandate) bool {
	return m.active && !m.cancelled && (m.expiry == "" || s.today() <= m.expiry)
}

// resolveCustomerLocked returns the customer a direct-debit call names by
// input_CustomerMSISDN, input_MsisdnToken or both, or the code that
// refuses it: INS-56 "Invalid MSISDNToken Used" for a token the gateway
// never issued, INS-50 when the token and the MSISDN are different
// customers.
func (s *Server) resolveCustomerLocked(p map[string]string) (string, string) {
	msisdn, token := p["input_CustomerMSISDN"], p["input_MsisdnToken"]
	if token == "" {
		return msisdn, ""
	}
	owner, ok := s.ledger.tokens[token]
	if !ok {
		return "", "INS-56"
	}
	if msisdn != "" && msisdn != owner {
		return "", "INS-50"
	}
	return owner, ""
}

// findMandateLocked returns the active mandate of the customer that the
// call names, or the code that refuses it: INS-51 for an unknown MandateID,
// INS-52 for one of another reference, notFound when there is no active
// mandate for the customer.
func (s *Server) findMandateLocked(rq *request, msisdn, notFound string) (*mandate, string) {
	p := rq.params
	scope := scopeOf(rq.gw, rq.market)
	spc, ref := p["input_ServiceProviderCode"], p["input_ThirdPartyReference"]
	var m *mandate
	if id := p["input_MandateID"]; id != "" {
		m = s.ledger.mandates[scope+id]
		if m == nil {
			return nil, "INS-51"
		}
		if m.ref != ref || m.spc != spc {
			return nil, "INS-52"
		}
	} else {
		m = s.ledger.byMandate[mandateKey(scope, spc, ref)]
	}
	if m == nil || !s.activeLocked(m) || m.msisdn != msisdn {
		return nil, notFound
	}
	return m, ""
}

// createMandate serves directDebitCreation. The customer is prompted to
// consent: OutcomeRejected, OutcomeCancelled and OutcomePromptTimeout
// customers fail it. A second mandate under a reference whose mandate is
// still active is a duplicate.
func (s *Server) createMandate(rq *request) answer {
	if code := validate(rq); code != "" {
		return s.refuse(rq, code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := rq.params
	scope := scopeOf(rq.gw, rq.market)
	if s.ledger.byRef[scope+p[rq.refKey()]] != nil {
		return s.duplicateLocked(rq)
	}
	key := mandateKey(scope, p["input_ServiceProviderCode"], p["input_ThirdPartyReference"])
	if m := s.ledger.byMandate[key]; m != nil && !m.cancelled {
		return s.duplicateLocked(rq)
	}
	msisdn := p["input_CustomerMSISDN"]
	t := s.newTxLocked(rq, s.asyncFor(rq))
	outcome := s.customerLocked(msisdn).Outcome
	if outcome == OutcomeInsufficientBalance {
		outcome = OutcomeSuccess // creating a mandate moves no money
	}
	if code, final, failed := failure(rq.gw, outcome); failed {
		return s.concludeLocked(rq, t, code, final, nil, nil, nil)
	}

	s.ledger.mandateSeq++
	first := p["input_FirstPaymentDate"]
	if first == "" && p["input_Frequency"] != "" {
		first = s.today() // "default value: current day"
	}
	m := &mandate{
		scope:     scope,
		id:        strconv.Itoa(s.ledger.mandateSeq),
		spc:       p["input_ServiceProviderCode"],
		ref:       p["input_ThirdPartyReference"],
		msisdn:    msisdn,
		txRef:     randomString(lowerAlnum, 32),
		firstDate: first,
		frequency: p["input_Frequency"],
		dayFrom:   p["input_StartRangeOfDays"],
		dayTo:     p["input_EndRangeOfDays"],
		expiry:    p["input_ExpiryDate"],
	}
	s.ledger.mandates[scope+m.id] = m
	s.ledger.byMandate[key] = m
	token := s.ledger.token(msisdn)
	out := map[string]string{
		"output_TransactionReference": m.txRef,
		"output_MsisdnToken":          token,
		"output_MandateID":            m.id,
	}
	cb := map[string]string{
		"input_TransactionReference": m.txRef,
		"input_MsisdnToken":          token,
		"input_MandateID":            m.id,
	}
	return s.concludeLocked(rq, t, "INS-0", mpesa.StatusCompleted, out, cb, func() { m.active = true })
}

// mandateCallLocked does what a payment and a cancellation under a mandate
// share: it checks the parameters, resolves the customer, refuses a reused
// reference and finds the mandate, answering notFound when there is none.
// refused is the answer when one of those fails.
func (s *Server) mandateCallLocked(rq *request, notFound string) (msisdn string, m *mandate, refused *answer) {
	fail := func(a answer) (string, *mandate, *answer) { return "", nil, &a }
	if code := validate(rq); code != "" {
		return fail(s.refuseLocked(rq, code, ""))
	}
	msisdn, code := s.resolveCustomerLocked(rq.params)
	if code != "" {
		return fail(s.refuseLocked(rq, code, ""))
	}
	if s.ledger.byRef[scopeOf(rq.gw, rq.market)+rq.params[rq.refKey()]] != nil {
		return fail(s.duplicateLocked(rq))
	}
	if m, code = s.findMandateLocked(rq, msisdn, notFound); code != "" {
		return fail(s.refuseLocked(rq, code, ""))
	}
	return msisdn, m, nil
}

// payMandate serves directDebitPayment: no prompt, but a customer without
// funds (INS-2006) or with a failing account (INS-6) fails it.
//
// A payment under no active mandate (never created, cancelled, expired, or
// another customer's) is 401 INS-6 "Transaction Failed": the Response Codes
// table of the portal's Direct Debit Payment page lists INS-6 and no code
// for a missing mandate. INS-58 "No Active Mandate found" is a code of the
// Query Direct Debit page only, and a client that maps codes per product
// would not expect it from a payment.
func (s *Server) payMandate(rq *request) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	msisdn, _, refused := s.mandateCallLocked(rq, "INS-6")
	if refused != nil {
		return *refused
	}
	t := s.newTxLocked(rq, s.asyncFor(rq))
	t.msisdn = msisdn
	outcome := s.customerLocked(msisdn).Outcome
	if outcome == OutcomeCancelled || outcome == OutcomePromptTimeout {
		outcome = OutcomeSuccess // nobody is prompted
	}
	if code, final, failed := failure(rq.gw, outcome); failed {
		return s.concludeLocked(rq, t, code, final, nil, nil, nil)
	}
	token := s.ledger.token(msisdn)
	return s.concludeLocked(rq, t, "INS-0", mpesa.StatusCompleted,
		map[string]string{"output_MsisdnToken": token},
		map[string]string{"input_MsisdnToken": token}, nil)
}

// queryMandate serves queryDirectDebit: the mandate of the customer and,
// when asked, whether the balance covers input_BalanceAmount.
func (s *Server) queryMandate(rq *request) answer {
	if code := validate(rq); code != "" {
		return s.refuse(rq, code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := rq.params
	msisdn, code := s.resolveCustomerLocked(p)
	if code != "" {
		return s.refuseLocked(rq, code, "")
	}
	m, code := s.findMandateLocked(rq, msisdn, "INS-58")
	if code != "" {
		return s.refuseLocked(rq, code, "")
	}
	fields := map[string]string{
		"TransactionReference": m.txRef,
		"MsisdnToken":          s.ledger.token(msisdn),
		"MandateID":            m.id,
		"MandateStatus":        "Active",
		"AccountStatus":        "Active",
		"FirstPaymentDate":     m.firstDate,
		"Frequency":            m.frequency,
		"PaymentDayFrom":       m.dayFrom,
		"PaymentDayTo":         m.dayTo,
		"ExpiryDate":           m.expiry,
	}
	if strings.EqualFold(p["input_QueryBalanceAmount"], "true") {
		fields["SufficientBalance"] = "True"
		if s.customerLocked(msisdn).Outcome == OutcomeInsufficientBalance {
			fields["SufficientBalance"] = "False"
		}
	}
	scope := scopeOf(rq.gw, rq.market)
	if s.asyncFor(rq) {
		// This callback has input_ResponseCode and input_ResponseDesc
		// where the others have input_ResultCode and input_ResultDesc:
		// the asynchronous result table of the portal's Query Direct
		// Debit page.
		conv := s.newConversationIDLocked(rq.gw, scope, true)
		params := map[string]string{
			"input_OriginalConversationID":   conv,
			"input_ThirdPartyConversationID": p[rq.refKey()],
			"input_ResponseCode":             "INS-0",
			"input_ResponseDesc":             okDesc,
		}
		for k, v := range fields {
			if v != "" {
				params["input_"+k] = v
			}
		}
		return answer{
			status: http.StatusOK,
			body:   s.okBody(rq, conv),
			after:  func() { s.startDelivery(rq, params, nil) },
		}
	}
	body := s.okBody(rq, s.newConversationIDLocked(rq.gw, scope, false))
	for k, v := range fields {
		if v != "" {
			body["output_"+k] = v
		}
	}
	return answer{status: http.StatusOK, body: body}
}

// cancelMandate serves directDebitCancel. Its own table answers a missing
// mandate with 401 INS-6 "Mandate does not exist".
func (s *Server) cancelMandate(rq *request) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	msisdn, m, refused := s.mandateCallLocked(rq, "INS-6")
	if refused != nil {
		return *refused
	}
	t := s.newTxLocked(rq, s.asyncFor(rq))
	t.msisdn = msisdn
	token := s.ledger.token(msisdn)
	// The document's example answers the mandate reference as
	// output_TransactionReference ("Test123").
	return s.concludeLocked(rq, t, "INS-0", mpesa.StatusCompleted,
		map[string]string{"output_TransactionReference": m.ref, "output_MsisdnToken": token},
		map[string]string{"input_TransactionReference": m.ref, "input_MsisdnToken": token},
		func() { m.cancelled, m.active = true, false })
}
