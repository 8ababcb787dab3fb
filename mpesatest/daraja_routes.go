package mpesatest

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/mpesa-go/mpesa"
)

// djRoute is a Daraja API as the gateway serves it.
type djRoute struct {
	api     mpesa.API
	method  string
	version int // the C2B version of the path, 0 elsewhere
	// badToken is the code by which the API's page refuses an access
	// token: they differ per page (docs/gateways.md D4; the Pull page's
	// 401.001, D22).
	badToken string
}

// darajaRoutes maps Daraja's paths to their APIs, written out from the
// portal pages (docs/gateways.md D2, D5) rather than taken from the mpesa
// package, so that the simulator judges the client's URLs. Every API is a
// POST but the token's GET.
var darajaRoutes = map[string]djRoute{
	"/oauth/v1/generate":                {mpesa.APIToken, http.MethodGet, 0, ""},
	"/mpesa/stkpush/v1/processrequest":  {mpesa.APIC2B, http.MethodPost, 0, "404.001.03"},
	"/mpesa/stkpushquery/v1/query":      {mpesa.APISTKQuery, http.MethodPost, 0, "404.001.03"},
	"/mpesa/c2b/v1/registerurl":         {mpesa.APIC2BRegister, http.MethodPost, 1, "400.003.01"},
	"/mpesa/c2b/v2/registerurl":         {mpesa.APIC2BRegister, http.MethodPost, 2, "400.003.01"},
	"/mpesa/c2b/v1/simulate":            {mpesa.APIC2BSimulate, http.MethodPost, 1, "400.003.01"},
	"/mpesa/c2b/v2/simulate":            {mpesa.APIC2BSimulate, http.MethodPost, 2, "400.003.01"},
	"/mpesa/b2c/v3/paymentrequest":      {mpesa.APIB2C, http.MethodPost, 0, "404.001.03"},
	"/mpesa/b2b/v1/paymentrequest":      {mpesa.APIB2B, http.MethodPost, 0, "404.001.03"},
	"/mpesa/reversal/v1/request":        {mpesa.APIReversal, http.MethodPost, 0, "404.001.03"},
	"/mpesa/transactionstatus/v1/query": {mpesa.APITransactionStatus, http.MethodPost, 0, "400.003.01"},
	"/mpesa/accountbalance/v1/query":    {mpesa.APIAccountBalance, http.MethodPost, 0, "401.002.01"},
	"/pulltransactions/v1/register":     {mpesa.APIPullRegister, http.MethodPost, 0, "401.001"},
	"/pulltransactions/v1/query":        {mpesa.APIPullQuery, http.MethodPost, 0, "401.001"},
}

// isDarajaPath reports whether a path is below one of Daraja's roots,
// which the other gateways' paths never are.
func isDarajaPath(p string) bool {
	return strings.HasPrefix(p, "/oauth/") || strings.HasPrefix(p, "/mpesa/") || strings.HasPrefix(p, "/pulltransactions/")
}

// djRequest is one Daraja call being handled.
type djRequest struct {
	r      *http.Request
	rt     djRoute
	call   *Call
	params map[string]string
	// force is the result code a scenario gives the call's outcome;
	// queueTimeout sends the QueueTimeOutURL notice instead of the
	// result, and processed says the request was carried out anyway.
	force        string
	queueTimeout bool
	processed    bool
	// async is the asynchronous settings in force when the request came
	// (SetAsync may change them meanwhile).
	async *Async
}

func (rq *djRequest) api() mpesa.API { return rq.rt.api }

// djAnswer is an answer about to be written, and what to do once it is.
type djAnswer struct {
	status int
	body   jobj // nil: no body
	after  func()
}

// serveDaraja handles a call to one of Daraja's paths. The checks come in
// the order of an API gateway in front of M-Pesa: the path and method, the
// credentials, the API product, the media type, the payload; then the
// scenarios and the product (docs/gateways.md D2, D4, D23).
func (s *Server) serveDaraja(w http.ResponseWriter, r *http.Request, call *Call, body []byte, readErr error) {
	rt, ok := darajaRoutes[r.URL.Path]
	d := s.dj
	if rt.api == mpesa.APIC2BSimulate && d.cfg.Environment == mpesa.Production {
		ok = false // sandbox only (docs/gateways.md D14)
	}
	s.note(call, func(c *Call) {
		c.Gateway, c.Market = mpesa.GatewayDaraja, mpesa.MarketKenya
		if ok {
			c.API = rt.api
		}
	})
	rq := &djRequest{r: r, rt: rt, call: call, async: s.currentAsync()}
	switch {
	case !ok:
		code := "404.001.01"
		if strings.HasPrefix(r.URL.Path, "/mpesa/c2b/") {
			code = "404.003.01"
		}
		s.writeDJ(w, rq, s.djError(code, "Resource not found"))
		return
	case r.Method != rt.method:
		s.writeDJ(w, rq, s.djError("405.001", "Method Not Allowed"))
		return
	case readErr != nil:
		s.writeDJ(w, rq, s.djError("400.002.05", "Invalid Request Payload"))
		return
	case rt.api == mpesa.APIToken:
		s.serveToken(w, rq)
		return
	}
	if a, refused := s.checkToken(rq); refused {
		s.writeDJ(w, rq, a)
		return
	}
	if rt.version != 0 && d.cfg.C2BVersion != 0 && rt.version != d.cfg.C2BVersion {
		s.writeDJ(w, rq, s.djError("401.003.01", "Invalid Access Token - Invalid API call as no apiproduct match found"))
		return
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		// "Invalid BusinessShortCode" is how the STK push answers a
		// missing or wrong media type (docs/gateways.md D2, FAQ 9).
		if rt.api == mpesa.APIC2B {
			s.writeDJ(w, rq, s.djError("400.002.02", "Bad Request - Invalid BusinessShortCode"))
		} else {
			s.writeDJ(w, rq, s.djError("400.002.05", "Invalid Request Payload"))
		}
		return
	}
	params, good := readDarajaParams(body)
	rq.params = params
	s.note(call, func(c *Call) { c.Params = djMaskParams(params) })
	if !good {
		s.writeDJ(w, rq, s.djError("400.002.05", "Invalid Request Payload"))
		return
	}
	if sc, ok := s.nextScenario(rt.api); ok {
		s.djPlay(w, rq, sc)
		return
	}
	s.writeDJ(w, rq, s.djHandle(rq))
}

// djHandle serves a call that passed the gateway's checks.
func (s *Server) djHandle(rq *djRequest) djAnswer {
	switch rq.api() {
	case mpesa.APIC2B:
		return s.stkPush(rq)
	case mpesa.APISTKQuery:
		return s.stkQuery(rq)
	case mpesa.APIC2BRegister:
		return s.c2bRegister(rq)
	case mpesa.APIC2BSimulate:
		return s.c2bSimulate(rq)
	case mpesa.APIB2C:
		return s.b2cPay(rq)
	case mpesa.APIB2B:
		return s.b2bPay(rq)
	case mpesa.APIReversal:
		return s.djReverse(rq)
	case mpesa.APITransactionStatus:
		return s.djStatus(rq)
	case mpesa.APIAccountBalance:
		return s.djBalance(rq)
	case mpesa.APIPullRegister:
		return s.pullRegister(rq)
	case mpesa.APIPullQuery:
		return s.pullQuery(rq)
	}
	return s.djError("404.001.01", "Resource not found")
}

// writeDJ writes an answer and journals it, then runs its after.
func (s *Server) writeDJ(w http.ResponseWriter, rq *djRequest, a djAnswer) {
	var data []byte
	if a.body != nil {
		data = mustJSON(a.body)
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(a.status)
	_, _ = w.Write(data)
	s.note(rq.call, func(c *Call) {
		c.Status = a.status
		if a.body != nil {
			c.Response = djMaskParams(flatten(a.body), s.djTokensLocked()...)
		}
	})
	if a.after != nil {
		a.after()
	}
}

// djError is the API gateway's error envelope, sent with the HTTP status
// the code starts with (docs/gateways.md D23).
func (s *Server) djError(code, msg string) djAnswer {
	return djAnswer{status: djHTTPStatus(code), body: flatObj("requestId", s.djRequestID(), "errorCode", code, "errorMessage", msg)}
}

// djHTTPStatus is the status a code starts with: 404.001.03 is 404. The
// maintenance code 00.002.1001 (sic) is 503.
func djHTTPStatus(code string) int {
	head, _, _ := strings.Cut(code, ".")
	if n, err := strconv.Atoi(head); err == nil && n >= 400 && n <= 599 {
		return n
	}
	return http.StatusServiceUnavailable
}

// bad answers 400.002.02 "Bad Request - Invalid <field>", Daraja's answer to
// a field that breaks its page's rules (docs/gateways.md D23).
func (s *Server) bad(field string) djAnswer {
	return s.djError("400.002.02", "Bad Request - Invalid "+field)
}

// ok answers HTTP 200 with a body.
func ok(body jobj) djAnswer { return djAnswer{status: http.StatusOK, body: body} }

// djRequestID returns a requestId of the samples' shape, 16813-1590513-1.
func (s *Server) djRequestID() string {
	return randomString("123456789", 5) + "-" + randomString(hexDigits, 8) + "-1"
}

const hexDigits = "0123456789"

// hasResults reports whether an API's scenario result codes end the
// request's outcome rather than answer it: the products whose outcome comes
// by callback or in the query's answer.
func hasResults(api mpesa.API) bool {
	switch api {
	case mpesa.APIC2B, mpesa.APISTKQuery, mpesa.APIC2BSimulate, mpesa.APIB2C, mpesa.APIB2B, mpesa.APIReversal,
		mpesa.APITransactionStatus, mpesa.APIAccountBalance, mpesa.APIPullRegister, mpesa.APIPullQuery:
		return true
	}
	return false
}

// djPlay answers a call with a scenario. An API gateway code (with dots,
// 500.003.02) is answered as the error envelope; a result code (1032,
// 2001, R000001) lets the request through and ends it with that code, in
// the callback or the query's answer; QueueTimeout sends the QueueTimeOutURL
// notice instead of the result.
func (s *Server) djPlay(w http.ResponseWriter, rq *djRequest, sc Scenario) {
	s.note(rq.call, func(c *Call) { c.Scenario = &sc })
	result := sc.Code != "" && !strings.Contains(sc.Code, ".") && hasResults(rq.api())
	if sc.Fault == FaultNone && (result || sc.QueueTimeout || sc.Code == "" || sc.Code == "0") {
		if sc.Code != "0" && result {
			rq.force = sc.Code
		}
		rq.queueTimeout, rq.processed = sc.QueueTimeout, sc.Processed
		a := s.djHandle(rq)
		if sc.Status != 0 {
			a.status = sc.Status
		}
		s.writeDJ(w, rq, a)
		return
	}
	var a djAnswer
	if sc.Processed {
		a = s.djHandle(rq)
	}
	if sc.Fault == FaultNone {
		out := s.djScenarioError(rq, sc.Code)
		if sc.Status != 0 {
			out.status = sc.Status
		}
		out.after = a.after
		s.writeDJ(w, rq, out)
		return
	}
	if a.after != nil {
		a.after() // the gateway did the work; only the answer is lost
	}
	s.writeFault(w, rq.r, rq.call, sc, func() []byte {
		body := a.body
		if body == nil {
			body = s.djPlausible(rq)
		}
		return mustJSON(body)
	})
}

// djScenarioError is a scenario's error envelope, with the message the
// page gives the code; 500.001.1001 takes the meaning of its API
// (docs/gateways.md D9, D12).
func (s *Server) djScenarioError(rq *djRequest, code string) djAnswer {
	msg := code
	if info, ok := mpesa.LookupCode(mpesa.GatewayDaraja, rq.api(), code); ok && info.Description != "" {
		msg = info.Description
	}
	switch {
	case code == "500.001.1001" && rq.api() == mpesa.APIC2B:
		msg = msgLocked
	case code == "500.001.1001" && rq.api() == mpesa.APISTKQuery:
		msg = msgProcessing
	case code == "500.003.1001" && rq.api() == mpesa.APIC2BRegister:
		msg = msgRegistered
	}
	a := s.djError(code, msg)
	if !strings.Contains(code, ".") {
		a.status = http.StatusInternalServerError
	}
	return a
}

// djPlausible is the success answer a call would have had, for a
// truncated body of a request the gateway did not carry out.
func (s *Server) djPlausible(rq *djRequest) jobj {
	switch rq.api() {
	case mpesa.APIToken:
		return flatObj("access_token", randomString(alnum, 28), "expires_in", "3599")
	case mpesa.APIC2B:
		return flatObj("MerchantRequestID", s.djRequestID(), "CheckoutRequestID", "ws_CO_"+randomString(hexDigits, 20),
			"ResponseCode", "0", "ResponseDescription", msgSTKAccepted, "CustomerMessage", msgSTKAccepted)
	}
	return s.djAck(s.djRequestID(), s.djConversationID())
}

// djAck is the acknowledgement of the initiator APIs (docs/gateways.md
// D15): the IDs, ResponseCode "0" and its description.
func (s *Server) djAck(originator, conv string) jobj {
	return flatObj("ConversationID", conv, "OriginatorConversationID", originator,
		"ResponseCode", "0", "ResponseDescription", msgAccepted)
}

// djConversationID returns a ConversationID of the samples' shape,
// AG_20191219_00005797af5d7d75f652.
func (s *Server) djConversationID() string {
	return "AG_" + s.now().In(eat).Format("20060102") + "_" + randomString(hexLower, 20)
}

// Messages of the portal pages and their samples.
const (
	msgAccepted    = "Accept the service request successfully."
	msgSTKAccepted = "Success. Request accepted for processing"
	msgProcessing  = "The transaction is being processed"
	msgLocked      = "Unable to lock subscriber, a transaction is already in process for the current subscriber"
	msgRegistered  = "Urls are already registered"
	msgWrongCreds  = "Wrong credentials"
	msgNoMerchant  = "Merchant does not exist"
	msgDuplicate   = "Duplicate OriginatorConversationID."
)
