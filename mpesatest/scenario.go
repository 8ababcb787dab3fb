package mpesatest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/mpesa-go/mpesa"
)

// Fault is a way for the gateway, or something in front of it, to fail a
// call without a gateway answer.
type Fault int

const (
	// FaultNone: no fault; the scenario answers its Code.
	FaultNone Fault = iota
	// FaultHang holds the call open, answering nothing, until the client
	// gives up (its request context ends) or the server closes. A client
	// then sees its own timeout.
	FaultHang
	// FaultReset reads the request and resets the TCP connection.
	FaultReset
	// FaultHTML answers an HTML page, as the web firewall in front of the
	// Mozambique gateway does (seen live, docs/gateways.md M13).
	FaultHTML
	// FaultEmptyBody answers a JSON content type and no body at all.
	FaultEmptyBody
	// FaultTruncatedBody announces a whole JSON answer in Content-Length,
	// sends half of it and closes the connection.
	FaultTruncatedBody
	// FaultOutputError answers {"output_error": "Invalid API Key"} with
	// HTTP 401 (Status overrides it) and no output_ResponseCode: how the
	// live Mozambique gateway has been seen to refuse a bad API key
	// (docs/gateways.md M13), where its documents give 401 INS-2 "Invalid API
	// Key", which the simulator answers by default. Like every scenario it
	// plays on a call that passed the credential check, standing in for
	// the refusal.
	FaultOutputError

	lastFault = FaultOutputError
)

// String returns the name of the fault ("hang").
func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case FaultHang:
		return "hang"
	case FaultReset:
		return "reset"
	case FaultHTML:
		return "html"
	case FaultEmptyBody:
		return "empty body"
	case FaultTruncatedBody:
		return "truncated body"
	case FaultOutputError:
		return "output error"
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// Scenario makes one call of an API misbehave. Queue scenarios with Next.
// A scenario takes effect once the call has passed the header, market and
// credential checks (an OpenAPI call needs a known market and a live session
// of its environment first).
type Scenario struct {
	// Code is a response code to answer, with the HTTP status the
	// documents pair with it on the call's gateway ("INS-16" for 503
	// overload, "INS-6" for 401 Transaction Failed). A code that ends a
	// payment as the customer's answer would (INS-5, INS-6, INS-9,
	// INS-2006) leaves a valid payment recorded with that outcome, so
	// that a status query reports it and its reference is taken.
	Code string
	// Fault, when set, replaces the answer; Code is then ignored.
	Fault Fault
	// Status overrides the HTTP status: of Code's answer, of an HTML,
	// empty or truncated answer (default 200 for those), or of an
	// output_error answer (default 401).
	Status int
	// Processed makes the gateway carry the request out as usual before
	// it answers with Code or Fault: the payment is recorded, its
	// callback sent, and a status query finds it. Without it, nothing
	// happens but the answer (and, for a business outcome code, the
	// failed payment).
	Processed bool
	// QueueTimeout, on Daraja's B2C, B2B, reversal, transaction status
	// and account balance, answers the request as accepted and then posts
	// the notice of a request that timed out in M-Pesa's queue to its
	// QueueTimeOutURL instead of the Result to its ResultURL
	// (docs/gateways.md D21). With Processed the request was carried out
	// all the same, so that a status query finds it; without, it was not.
	// The other gateways ignore it.
	//
	// On Daraja, a Code with dots (500.003.02) is answered as the API
	// gateway's error envelope; a result code (1032, 2001, R000001) lets
	// the request through and ends it with that code, in the callback or
	// the STK query's answer.
	QueueTimeout bool
}

// Next queues scenarios for the next calls of api on either gateway, one
// call each, in order; calls after them are served normally. It panics
// when a scenario names neither a known fault nor a code the documents give
// for a gateway, unless it sets Status.
func (s *Server) Next(api mpesa.API, scenarios ...Scenario) {
	for _, sc := range scenarios {
		if sc.Fault < FaultNone || sc.Fault > lastFault {
			panic(fmt.Sprintf("mpesatest: Next(%v): unknown fault %d", api, int(sc.Fault)))
		}
		if sc.Fault == FaultNone && sc.Status == 0 {
			_, oa := mpesa.LookupCode(mpesa.GatewayOpenAPI, api, sc.Code)
			_, mz := mpesa.LookupCode(mpesa.GatewayMozambique, api, sc.Code)
			_, dj := mpesa.LookupCode(mpesa.GatewayDaraja, api, sc.Code)
			if !oa && !mz && !dj && !(sc.QueueTimeout && sc.Code == "") {
				panic(fmt.Sprintf("mpesatest: Next(%v): %q is not a documented response code; set Status to use it", api, sc.Code))
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scenarios[api] = append(s.scenarios[api], scenarios...)
}

// PendingScenarios returns how many queued scenarios of api have not been
// played yet.
func (s *Server) PendingScenarios(api mpesa.API) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.scenarios[api])
}

func (s *Server) nextScenario(api mpesa.API) (Scenario, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.scenarios[api]
	if len(q) == 0 {
		return Scenario{}, false
	}
	s.scenarios[api] = q[1:]
	return q[0], true
}

// play answers a call with a scenario.
func (s *Server) play(w http.ResponseWriter, rq *request, sc Scenario) {
	s.note(rq.call, func(c *Call) { c.Scenario = &sc })
	var a answer
	if sc.Processed {
		a = s.handle(rq)
	}
	if sc.Fault == FaultNone {
		var out answer
		if sc.Processed {
			// Carried out, but answered with the code: keep the
			// references of the real answer, and its callback.
			out = s.refuse(rq, sc.Code)
			for _, k := range []string{"output_ConversationID", "output_TransactionID", outRefKey(rq.gw)} {
				if v, ok := a.body[k]; ok {
					out.body[k] = v
				}
			}
			out.after = a.after
		} else {
			out = s.forced(rq, sc.Code)
		}
		if sc.Status != 0 {
			out.status = sc.Status
		}
		s.writeAnswer(w, rq, out)
		return
	}

	// A processed call still starts its callback: the gateway did the work
	// and only the answer is lost.
	if a.after != nil {
		a.after()
	}
	s.writeFault(w, rq.r, rq.call, sc, func() []byte {
		body := a.body
		if body == nil {
			body = s.plausibleAnswer(rq)
		}
		data, err := json.Marshal(body)
		if err != nil {
			panic("mpesatest: " + err.Error()) // a map of strings always marshals
		}
		return data
	})
}

// writeFault answers a call with the fault of sc, on any gateway. body
// returns the JSON answer a truncated body is cut from.
func (s *Server) writeFault(w http.ResponseWriter, r *http.Request, call *Call, sc Scenario, body func() []byte) {
	status := sc.Status
	if status == 0 {
		status = http.StatusOK
		if sc.Fault == FaultOutputError {
			status = http.StatusUnauthorized
		}
	}
	switch sc.Fault {
	case FaultOutputError:
		s.writeError(w, call, status, "Invalid API Key")
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-s.ctx.Done():
		}
		// Leave without an answer: net/http drops the connection.
		panic(http.ErrAbortHandler)
	case FaultReset:
		resetConnection(w)
	case FaultHTML:
		s.writeFirewallPage(w, call, status)
	case FaultEmptyBody:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(status)
		s.note(call, func(c *Call) { c.Status = status })
	case FaultTruncatedBody:
		data := body()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(status)
		_, _ = w.Write(data[:len(data)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		s.note(call, func(c *Call) { c.Status = status })
		// Abort: the connection closes short of Content-Length.
		panic(http.ErrAbortHandler)
	}
}

// resetConnection closes the call's TCP connection with a reset instead of
// an orderly close, so that the client sees "connection reset by peer".
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		raw = nc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
		_ = tcp.Close()
		return
	}
	_ = conn.Close()
}

// writeFirewallPage answers the firewall's HTML page with status.
func (s *Server) writeFirewallPage(w http.ResponseWriter, call *Call, status int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(firewallPage)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(firewallPage))
	s.note(call, func(c *Call) { c.Status = status })
}

// firewallPage is what a web application firewall shows instead of the
// gateway's answer.
const firewallPage = `<!DOCTYPE html>
<html><head><title>Request Rejected</title></head>
<body><h1>Request Rejected</h1>
<p>The requested URL was rejected. Please consult with your administrator.</p>
<p>Your support ID is: 7312043856091834721</p></body></html>
`

// plausibleAnswer is the success answer a call would have had, for a
// truncated body of a request the gateway did not process.
func (s *Server) plausibleAnswer(rq *request) map[string]string {
	s.mu.Lock()
	conv := s.newConversationIDLocked(rq.gw, scopeOf(rq.gw, rq.market), false)
	s.mu.Unlock()
	return s.okBody(rq, conv)
}
