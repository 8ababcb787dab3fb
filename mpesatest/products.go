package mpesatest

import (
	"net/http"
	"strings"

	"github.com/mpesa-go/mpesa"
)

const okDesc = "Request processed successfully"

// handle serves a call that passed the header and credential checks.
func (s *Server) handle(rq *request) answer {
	switch rq.api {
	case mpesa.APIGetSession:
		return s.getSession(rq)
	case mpesa.APIC2B, mpesa.APIB2C, mpesa.APIB2B:
		return s.pay(rq)
	case mpesa.APIReversal:
		return s.reverse(rq)
	case mpesa.APITransactionStatus:
		return s.status(rq)
	case mpesa.APIDirectDebitCreate:
		return s.createMandate(rq)
	case mpesa.APIDirectDebitPayment:
		return s.payMandate(rq)
	case mpesa.APIDirectDebitQuery:
		return s.queryMandate(rq)
	case mpesa.APIDirectDebitCancel:
		return s.cancelMandate(rq)
	case mpesa.APIBeneficiaryName:
		if rq.gw == mpesa.GatewayMozambique {
			return s.customerName(rq)
		}
		return s.beneficiary(rq)
	}
	return s.refuse(rq, "INS-1")
}

// successStatus is 201 for POST and PUT, 200 for GET.
func successStatus(rq *request) int {
	if rq.route.method == http.MethodGet {
		return http.StatusOK
	}
	return http.StatusCreated
}

// refuse answers a response code with its documented status and
// description, a fresh ConversationID and the caller's reference.
func (s *Server) refuse(rq *request, code string) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refuseLocked(rq, code, "")
}

func (s *Server) refuseLocked(rq *request, code, conv string) answer {
	status, desc := http.StatusBadRequest, code
	if info, ok := mpesa.LookupCode(rq.gw, rq.api, code); ok {
		status, desc = info.HTTPStatus, info.Description
	}
	if code == "INS-0" || code == "0" {
		status = successStatus(rq)
	}
	body := map[string]string{"output_ResponseCode": code, "output_ResponseDesc": desc}
	if rq.api != mpesa.APIGetSession {
		if conv == "" {
			conv = s.newConversationIDLocked(rq.gw, scopeOf(rq.gw, rq.market), false)
		}
		body["output_ConversationID"] = conv
		if ref := rq.params[rq.refKey()]; ref != "" {
			body[outRefKey(rq.gw)] = ref
		}
	}
	return answer{status: status, body: body}
}

// duplicateLocked answers a reference used before: 409 INS-10 (every
// Response Codes table of both gateways), with output_TransactionID "N/A",
// as the live gateways are seen to answer it (docs/gateways.md M13).
func (s *Server) duplicateLocked(rq *request) answer {
	a := s.refuseLocked(rq, "INS-10", "")
	a.body["output_TransactionID"] = "N/A"
	return a
}

// forced answers a scenario's code without handling the call. A business
// outcome of a valid call that moves money or changes a mandate is
// recorded, as the gateway would have: the customer was prompted, and the
// reference is taken.
func (s *Server) forced(rq *request, code string) answer {
	st, business := outcomeStatus(code)
	if !business || rq.route.method == http.MethodGet || validate(rq) != "" {
		return s.refuse(rq, code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	scope := scopeOf(rq.gw, rq.market)
	ref := rq.params[rq.refKey()]
	if s.ledger.byRef[scope+ref] != nil {
		return s.refuseLocked(rq, code, "")
	}
	t := s.newTxLocked(rq, false)
	t.status, t.code = st, code
	s.ledger.add(t)
	a := s.refuseLocked(rq, code, t.conv)
	a.body["output_TransactionID"] = "N/A"
	return a
}

// asyncFor reports whether the call is answered the asynchronous way (see
// Async.APIs): never getSession, whose page says "This API is only
// available in an end-to-end synchronous flow"; never the Mozambique
// transaction status query, whose document ('Query Transaction Status', and
// the section of 'C2B, B2C, B2B, Query Transaction Status, Reversal') gives a
// synchronous answer alone, nor the Mozambique customer-name query, which no
// document describes; by default the products whose results come by callback;
// otherwise the APIs listed.
func (s *Server) asyncFor(rq *request) bool {
	a := rq.async
	if a == nil || rq.api == mpesa.APIGetSession {
		return false
	}
	if rq.gw == mpesa.GatewayMozambique && (rq.api == mpesa.APITransactionStatus || rq.api == mpesa.APIBeneficiaryName) {
		return false
	}
	if len(a.APIs) == 0 {
		return asyncByDefault(rq.api)
	}
	for _, api := range a.APIs {
		if api == rq.api {
			return true
		}
	}
	return false
}

// asyncByDefault reports whether an API answers asynchronously when
// Async.APIs is empty: the payments, the reversal and the mandate changes,
// whose outcome waits on the customer or the platform. The queries only
// read, and a listener that verifies a result with a status query needs
// their answer at once.
func asyncByDefault(api mpesa.API) bool {
	switch api {
	case mpesa.APIC2B, mpesa.APIB2C, mpesa.APIB2B, mpesa.APIReversal,
		mpesa.APIDirectDebitCreate, mpesa.APIDirectDebitPayment, mpesa.APIDirectDebitCancel:
		return true
	}
	return false
}

// newTxLocked starts a transaction of the call.
func (s *Server) newTxLocked(rq *request, async bool) *tx {
	scope := scopeOf(rq.gw, rq.market)
	p := rq.params
	t := &tx{
		scope:  scope,
		gw:     rq.gw,
		market: rq.market,
		api:    rq.api,
		conv:   s.newConversationIDLocked(rq.gw, scope, async),
		ref:    p[rq.refKey()],
		msisdn: p["input_CustomerMSISDN"],
	}
	if a, ok := parseAmount(p["input_Amount"]); ok {
		t.amount = a
	}
	switch rq.api {
	case mpesa.APIB2B:
		t.parties = []string{p["input_PrimaryPartyCode"], p["input_ReceiverPartyCode"]}
	default:
		t.parties = []string{p["input_ServiceProviderCode"]}
	}
	return t
}

func (t *tx) hasParty(code string) bool {
	for _, p := range t.parties {
		if p == code {
			return true
		}
	}
	return false
}

// hasTransactionID reports whether an API's answers and callbacks carry a
// TransactionID.
func hasTransactionID(api mpesa.API) bool {
	switch api {
	case mpesa.APIC2B, mpesa.APIB2C, mpesa.APIB2B, mpesa.APIReversal, mpesa.APIDirectDebitPayment, mpesa.APITransactionStatus:
		return true
	}
	return false
}

// conclude records t, which ends with code (INS-0 or a business failure)
// and status final, and answers. Synchronously the answer carries the
// result; asynchronously it says the request was accepted, t stays Pending,
// and the result goes to the callback URL. out holds the answer fields of
// a success beyond the common ones, cb the callback's. onSuccess runs when
// the transaction completes (at once, or when the callback is sent). s.mu
// is held.
func (s *Server) concludeLocked(rq *request, t *tx, code string, final mpesa.TransactionStatus, out, cb map[string]string, onSuccess func()) answer {
	success := code == "INS-0"
	t.code = code
	id := ""
	if success && hasTransactionID(rq.api) {
		id = s.newTransactionIDLocked(rq.gw, t.scope)
	}
	if !s.asyncFor(rq) {
		t.status = final
		if id != "" {
			t.id = id
		}
		s.ledger.add(t)
		if !success {
			a := s.refuseLocked(rq, code, t.conv)
			a.body["output_TransactionID"] = "N/A"
			return a
		}
		if onSuccess != nil {
			onSuccess()
		}
		body := s.okBody(rq, t.conv)
		if id != "" {
			body["output_TransactionID"] = id
		}
		for k, v := range out {
			body[k] = v
		}
		return answer{status: successStatus(rq), body: body}
	}

	t.status = mpesa.StatusPending
	s.ledger.add(t)
	params := s.resultParams(rq, t.conv, code, id)
	for k, v := range cb {
		params[k] = v
	}
	if !success {
		// "Only returned in successful messages."
		delete(params, "input_MsisdnToken")
		delete(params, "input_MandateID")
		delete(params, "input_TransactionReference")
	}
	settle := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if t.status == mpesa.StatusPending {
			t.status = final
		}
		if id != "" {
			s.ledger.setID(t, id)
		}
		if success && onSuccess != nil {
			onSuccess()
		}
	}
	return answer{
		status: successStatus(rq),
		body:   s.okBody(rq, t.conv),
		after:  func() { s.startDelivery(rq, params, settle) },
	}
}

// okBody is the common part of a success answer, and the whole of an
// asynchronous one.
func (s *Server) okBody(rq *request, conv string) map[string]string {
	body := map[string]string{
		"output_ResponseCode":   "INS-0",
		"output_ResponseDesc":   okDesc,
		"output_ConversationID": conv,
	}
	if ref := rq.params[rq.refKey()]; ref != "" {
		body[outRefKey(rq.gw)] = ref
	}
	return body
}

// resultParams are the common fields of a result callback. OpenAPI writes a
// success "INS-0" (input_ResultCode of each product page's asynchronous
// result); the Mozambique documents write "0" ("API Async Result Request").
func (s *Server) resultParams(rq *request, conv, code, id string) map[string]string {
	desc := okDesc
	if code != "INS-0" {
		if info, ok := mpesa.LookupCode(rq.gw, rq.api, code); ok {
			desc = info.Description
		}
	}
	if code == "INS-0" && rq.gw == mpesa.GatewayMozambique {
		code, desc = "0", "Request Processed Successfully"
	}
	p := map[string]string{
		"input_OriginalConversationID": conv,
		"input_ResultCode":             code,
		"input_ResultDesc":             desc,
		refKey(rq.gw):                  rq.params[rq.refKey()],
	}
	if hasTransactionID(rq.api) {
		if id == "" {
			id = "N/A"
		}
		p["input_TransactionID"] = id
	}
	return p
}

// pay serves C2B, B2C and B2B.
func (s *Server) pay(rq *request) answer {
	if code := validate(rq); code != "" {
		return s.refuse(rq, code)
	}
	if rq.api == mpesa.APIC2B && s.interactive(rq.params["input_CustomerMSISDN"]) {
		return s.promptPay(rq) // phone.go: the customer answers on the phone page
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	scope := scopeOf(rq.gw, rq.market)
	if s.ledger.byRef[scope+rq.params[rq.refKey()]] != nil {
		return s.duplicateLocked(rq)
	}
	outcome := OutcomeSuccess
	switch c := s.customerLocked(rq.params["input_CustomerMSISDN"]); rq.api {
	case mpesa.APIC2B:
		outcome = c.Outcome
	case mpesa.APIB2C:
		// Crediting a customer prompts nobody; only a failing account
		// fails it.
		if c.Outcome == OutcomeRejected {
			outcome = OutcomeRejected
		}
	}
	t := s.newTxLocked(rq, s.asyncFor(rq))
	code, final, failed := failure(rq.gw, outcome)
	if !failed {
		code, final = "INS-0", mpesa.StatusCompleted
	}
	return s.concludeLocked(rq, t, code, final, nil, nil, nil)
}

// notFoundCode is the answer to a query or reversal of a transaction the
// gateway does not know: OpenAPI's status table has INS-23 "Transaction not
// found", its reversal table INS-18 "Invalid TransactionID Used". Mozambique
// has INS-997 "Linking Transaction Not Found" (its INS-23 means "Unknown
// Status"); the simulator uses it for both.
func notFoundCode(rq *request) string {
	switch {
	case rq.gw == mpesa.GatewayMozambique:
		return "INS-997"
	case rq.api == mpesa.APIReversal:
		return "INS-18"
	}
	return "INS-23"
}

// status serves queryTransactionStatus. A transaction that belongs to
// another shortcode is not found: the gateway does not tell one business
// about another's payments. Only OpenAPI v2 answers it asynchronously
// (asyncFor).
func (s *Server) status(rq *request) answer {
	if code := validate(rq); code != "" {
		return s.refuse(rq, code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := rq.params
	t := s.ledger.find(scopeOf(rq.gw, rq.market), p["input_QueryReference"])
	if t == nil || !t.hasParty(p["input_ServiceProviderCode"]) {
		return s.refuseLocked(rq, notFoundCode(rq), "")
	}
	original := t.id
	if original == "" {
		original = "N/A"
	}
	reversed := "False"
	if t.reversed {
		reversed = "True"
	}
	if s.asyncFor(rq) {
		conv := s.newConversationIDLocked(rq.gw, t.scope, true)
		params := s.resultParams(rq, conv, "INS-0", t.id)
		if rq.gw == mpesa.GatewayOpenAPI {
			params["input_OriginalTransactionID"] = original
			params["input_Reversed"] = reversed
		}
		return answer{
			status: http.StatusOK,
			body:   s.okBody(rq, conv),
			after:  func() { s.startDelivery(rq, params, nil) },
		}
	}
	body := s.okBody(rq, t.conv)
	body["output_ResponseTransactionStatus"] = string(t.status)
	if rq.gw == mpesa.GatewayOpenAPI {
		body["output_OriginalTransactionID"] = original
		body["output_Reversed"] = reversed
	}
	return answer{status: http.StatusOK, body: body}
}

// reverse serves reversal: of a completed payment of the same shortcode,
// once, fully or in part.
func (s *Server) reverse(rq *request) answer {
	if code := validate(rq); code != "" {
		return s.refuse(rq, code)
	}
	p := rq.params
	if rq.gw == mpesa.GatewayMozambique {
		// An unknown initiator is INS-24 "Invalid InitiatorIdentifier
		// Used"; a known one with the wrong credential fails to
		// authenticate, INS-2001 "Initiator authentication error".
		if p["input_InitiatorIdentifier"] != s.cfg.initiator {
			return s.refuse(rq, "INS-24")
		}
		if p["input_SecurityCredential"] != s.cfg.credential {
			return s.refuse(rq, "INS-2001")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	scope := scopeOf(rq.gw, rq.market)
	if s.ledger.byRef[scope+p[rq.refKey()]] != nil {
		return s.duplicateLocked(rq)
	}
	orig := s.ledger.byID[scope+p["input_TransactionID"]]
	if orig == nil {
		return s.refuseLocked(rq, notFoundCode(rq), "")
	}
	spc := p["input_ServiceProviderCode"]
	if !orig.hasParty(spc) {
		// OpenAPI documents INS-35 "This transaction do not belong to
		// you"; Mozambique has no such code and does not reveal another
		// business's transaction.
		if rq.gw == mpesa.GatewayMozambique {
			return s.refuseLocked(rq, notFoundCode(rq), "")
		}
		return s.refuseLocked(rq, "INS-35", "")
	}
	t := s.newTxLocked(rq, s.asyncFor(rq))
	t.original = orig
	if orig.api == mpesa.APIReversal || orig.status != mpesa.StatusCompleted || orig.reversed {
		// Already reversed, failed, pending, or itself a reversal: the
		// platform fails the reversal, 401 INS-6 "Transaction Failed".
		return s.concludeLocked(rq, t, "INS-6", mpesa.StatusFailed, nil, nil, nil)
	}
	amount := orig.amount
	if v := p["input_ReversalAmount"]; v != "" {
		a, _ := parseAmount(v)
		if orig.amount != nil && a.Cmp(orig.amount) > 0 {
			return s.refuseLocked(rq, "INS-15", "")
		}
		amount = a
	}
	t.amount = amount
	// Reserve the original at once, so that a second reversal sent while
	// an asynchronous one is pending is refused too.
	orig.reversed = true
	orig.reversedAmount = amount
	return s.concludeLocked(rq, t, "INS-0", mpesa.StatusCompleted, nil, nil, nil)
}

// beneficiary serves queryBeneficiaryName. The API Markets table of the
// portal's Query Beneficiary Name page lists vodafoneGHA alone, so other
// markets answer INS-998 "Invalid Market" from its Response Codes table.
func (s *Server) beneficiary(rq *request) answer {
	// The sample query string spells the type input_KYCQueryType.
	if v, ok := rq.params["input_KYCQueryType"]; ok {
		if _, has := rq.params["input_KycQueryType"]; !has {
			rq.params["input_KycQueryType"] = v
		}
	}
	if code := validate(rq); code != "" {
		return s.refuse(rq, code)
	}
	if rq.market != mpesa.MarketGhana {
		return s.refuse(rq, "INS-998")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customerLocked(rq.params["input_CustomerMSISDN"])
	if s.asyncFor(rq) {
		conv := s.newConversationIDLocked(rq.gw, scopeOf(rq.gw, rq.market), true)
		params := s.resultParams(rq, conv, "INS-0", "")
		params["input_CustomerFirstName"] = c.FirstName
		params["input_CustomerLastName"] = c.LastName
		return answer{
			status: http.StatusOK,
			body:   s.okBody(rq, conv),
			after:  func() { s.startDelivery(rq, params, nil) },
		}
	}
	body := s.okBody(rq, s.newConversationIDLocked(rq.gw, scopeOf(rq.gw, rq.market), false))
	body["output_CustomerFirstName"] = c.FirstName
	body["output_CustomerLastName"] = c.LastName
	return answer{status: http.StatusOK, body: body}
}

// customerName serves the Mozambique queryCustomerName: the customer's name
// masked, in output_CustomerName, as published integrations show it
// ("Jo*n Sm**h").
func (s *Server) customerName(rq *request) answer {
	if code := validate(rq); code != "" {
		return s.refuse(rq, code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customerLocked(rq.params["input_CustomerMSISDN"])
	body := s.okBody(rq, s.newConversationIDLocked(rq.gw, scopeOf(rq.gw, rq.market), false))
	body["output_CustomerName"] = maskName(c.FirstName) + " " + maskName(c.LastName)
	return answer{status: http.StatusOK, body: body}
}

// maskName keeps the first two and the last letter of a name.
func maskName(name string) string {
	r := []rune(name)
	if len(r) == 0 {
		return ""
	}
	if len(r) <= 3 {
		return string(r[:1]) + strings.Repeat("*", len(r)-1)
	}
	return string(r[:2]) + strings.Repeat("*", len(r)-3) + string(r[len(r)-1])
}
