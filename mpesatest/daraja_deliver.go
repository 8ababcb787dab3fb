package mpesatest

import (
	"strconv"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa"
)

// How Daraja's callbacks are sent: to the URL the request named, always
// (Daraja has no application-wide Response URL), after Daraja.Delay, with
// the Client, MaxAttempts and Backoff of WithAsync when it is given, else a
// client of the simulator's own, three attempts and 100 ms. They are
// journaled as the other gateways' callbacks are (Callbacks, WaitCallbacks).

// The kinds of Daraja callbacks (Callback.Kind).
const (
	// KindSTK is the STK push's result, {"Body":{"stkCallback":…}}, sent to
	// the request's CallBackURL (docs/gateways.md D8).
	KindSTK = "stkCallback"
	// KindResult is the Result envelope of B2C, B2B, reversal, transaction
	// status and account balance, sent to the request's ResultURL
	// (docs/gateways.md D20).
	KindResult = "result"
	// KindQueueTimeout is the notice sent to the request's QueueTimeOutURL
	// instead of the result when Scenario.QueueTimeout says so
	// (docs/gateways.md D21).
	KindQueueTimeout = "queueTimeout"
	// KindValidation is the C2B validation request to the registered
	// ValidationURL, whose answer decides the payment (docs/gateways.md
	// D13); it is sent once.
	KindValidation = "validation"
	// KindConfirmation is the C2B confirmation to the registered
	// ConfirmationURL.
	KindConfirmation = "confirmation"
)

// djPlan returns how a Daraja callback is sent, with the asynchronous
// settings a (nil: none) in force; check judges the answers.
func (s *Server) djPlan(a *Async, check func(map[string]string, map[string]bool, error) string) *delivery {
	p := &delivery{client: s.dj.client, maxAttempts: 3, backoff: 100 * time.Millisecond, delay: s.dj.cfg.Delay,
		check: check, masked: true}
	if a != nil {
		p.client, p.maxAttempts, p.backoff = a.Client, a.MaxAttempts, a.Backoff
	}
	return p
}

// djCallback starts a callback record.
func (s *Server) djCallback(a *Async, api mpesa.API, kind, url string, check func(map[string]string, map[string]bool, error) string) *Callback {
	return &Callback{Gateway: mpesa.GatewayDaraja, API: api, Kind: kind, URL: url, plan: s.djPlan(a, check)}
}

// setBodyLocked gives a callback its body: the real one to send, and the
// masked one and its flat view for the journal. s.mu is held once the
// callback is launched.
func setBodyLocked(rec *Callback, doc jobj) {
	rec.plan.body = mustJSON(doc)
	masked := maskTree(doc, "")
	rec.Body = string(mustJSON(masked))
	rec.Params = flatten(masked)
}

// djSend launches a callback whose body build makes once the delay is
// over, under s.mu; settle, if not nil, runs first, without the lock.
func (s *Server) djSend(rec *Callback, settle func(), build func() jobj) {
	s.launch(rec, nil, func() {
		if settle != nil {
			settle()
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		setBodyLocked(rec, build())
	})
}

// resultAck judges the answer to an STK callback, a Result or a queue
// timeout notice. Daraja documents no body for it (docs/gateways.md D28):
// any 2xx answer counts, unless it is a JSON object whose ResultCode is not
// 0, a listener's way of asking for the result again.
func resultAck(ack map[string]string, _ map[string]bool, parseErr error) string {
	if parseErr != nil {
		return ""
	}
	if code, ok := ack["ResultCode"]; ok && strings.TrimSpace(code) != "0" {
		return "the listener refused the result: ResultCode " + strconv.Quote(code)
	}
	return ""
}

// confirmationAck judges the answer to a C2B confirmation: the documented
// {"ResultCode": 0, "ResultDesc": "Success"}, ResultCode the number 0 and a
// description (docs/gateways.md D13, D28).
func confirmationAck(ack map[string]string, nonString map[string]bool, parseErr error) string {
	if parseErr != nil {
		return "acknowledgement not as documented: " + parseErr.Error()
	}
	var problems []string
	switch code, ok := ack["ResultCode"]; {
	case !ok:
		problems = append(problems, "ResultCode is missing")
	case !nonString["ResultCode"]:
		problems = append(problems, "ResultCode is the string "+strconv.Quote(code)+", want the number 0")
	case code != "0":
		problems = append(problems, "ResultCode is "+code+", want 0")
	}
	problems = append(problems, descProblems(ack, nonString)...)
	if len(problems) == 0 {
		return ""
	}
	return "acknowledgement not as documented: " + strings.Join(problems, "; ")
}

// validationAck judges the answer to a C2B validation request: ResultCode
// a string, "0" accepting and any other code (C2B00011–C2B00016) rejecting,
// a description, and an optional ThirdPartyTransID string
// (docs/gateways.md D13). An answer that is not so is no answer.
func validationAck(ack map[string]string, nonString map[string]bool, parseErr error) string {
	if parseErr != nil {
		return "validation answer not as documented: " + parseErr.Error()
	}
	var problems []string
	switch code, ok := ack["ResultCode"]; {
	case !ok:
		problems = append(problems, "ResultCode is missing")
	case nonString["ResultCode"]:
		problems = append(problems, "ResultCode is "+code+", not a JSON string (\"0\" accepts, \"C2B00011\"–\"C2B00016\" reject)")
	case strings.TrimSpace(code) == "":
		problems = append(problems, "ResultCode is empty")
	}
	problems = append(problems, descProblems(ack, nonString)...)
	if _, ok := ack["ThirdPartyTransID"]; ok && nonString["ThirdPartyTransID"] {
		problems = append(problems, "ThirdPartyTransID is not a JSON string")
	}
	if len(problems) == 0 {
		return ""
	}
	return "validation answer not as documented: " + strings.Join(problems, "; ")
}

func descProblems(ack map[string]string, nonString map[string]bool) []string {
	switch desc, ok := ack["ResultDesc"]; {
	case !ok:
		return []string{"ResultDesc is missing"}
	case nonString["ResultDesc"]:
		return []string{"ResultDesc is not a JSON string"}
	case strings.TrimSpace(desc) == "":
		return []string{"ResultDesc is empty"}
	}
	return nil
}
