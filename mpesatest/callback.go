package mpesatest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/mpesa-go/mpesa"
)

// Async configures asynchronous answers, which the portal sets per product
// (SPEC-NOTES §3.11): the gateway answers at once with a ConversationID and
// the caller's reference, no TransactionID, and POSTs the result to the
// application's Response URL.
type Async struct {
	// URL receives the result callbacks: the Response URL of the
	// application. Required.
	URL string
	// APIs lists the products that answer asynchronously; empty means all
	// of them but getSession and the Mozambique customer-name query.
	APIs []mpesa.API
	// Delay is the time between the answer and the first delivery
	// attempt; the transaction is Pending until then. Default 0.
	Delay time.Duration
	// Client sends the callbacks. Default: a client of its own with a
	// 10 s timeout, whose idle connections Close drops.
	Client *http.Client
	// MaxAttempts bounds the deliveries of one callback. A delivery is
	// repeated when the listener does not answer, answers a status other
	// than 2xx, or acknowledges with an output_ResponseCode other than
	// "0". Default 3.
	MaxAttempts int
	// Backoff is the wait before the second attempt; it doubles for each
	// later one. Default 100 ms.
	Backoff time.Duration

	ownClient bool // Client was made here and is closed by Close
}

func (a Async) withDefaults() Async {
	if a.URL == "" {
		panic("mpesatest: WithAsync: Async.URL is required")
	}
	if a.Client == nil {
		a.Client = &http.Client{Timeout: 10 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
		a.ownClient = true
	}
	if a.MaxAttempts <= 0 {
		a.MaxAttempts = 3
	}
	if a.Backoff <= 0 {
		a.Backoff = 100 * time.Millisecond
	}
	if a.Delay < 0 {
		a.Delay = 0
	}
	a.APIs = append([]mpesa.API(nil), a.APIs...)
	return a
}

// WithAsync makes products answer asynchronously and deliver their results
// to a.URL.
func WithAsync(a Async) Option {
	return func(c *config) { c.async = &a }
}

// Callback is one result callback and the story of its delivery.
type Callback struct {
	Gateway mpesa.Gateway
	API     mpesa.API
	URL     string
	// Params is the JSON body POSTed: input_OriginalConversationID,
	// input_ResultCode and so on.
	Params map[string]string
	// Attempts lists each delivery attempt in order.
	Attempts []Attempt
	// Acknowledged reports that the listener acknowledged the result.
	Acknowledged bool
	// Done reports that delivery has ended: acknowledged, out of
	// attempts, or abandoned because the server closed.
	Done bool
}

// Attempt is one delivery of a callback.
type Attempt struct {
	Time time.Time
	// Status is the listener's HTTP status, 0 when it did not answer.
	Status int
	// Ack is the listener's JSON acknowledgement (output_ResponseCode,
	// output_OriginalConversationID, ...), nil when it was not a JSON
	// object.
	Ack map[string]string
	// Err says why the attempt did not count: a transport error, a bad
	// status, a bad acknowledgement. Empty for an accepted attempt.
	Err string
}

func (c *Callback) clone() Callback {
	out := *c
	out.Params = cloneMap(c.Params)
	out.Attempts = make([]Attempt, len(c.Attempts))
	for i, a := range c.Attempts {
		a.Ack = cloneMap(a.Ack)
		out.Attempts[i] = a
	}
	return out
}

// Callbacks returns every callback so far, in the order they were started.
func (s *Server) Callbacks() []Callback {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Callback, len(s.callbacks))
	for i, cb := range s.callbacks {
		out[i] = cb.clone()
	}
	return out
}

// WaitCallbacks waits until at least n callbacks have finished delivery
// (Done) and returns all callbacks, or returns ctx's error.
func (s *Server) WaitCallbacks(ctx context.Context, n int) ([]Callback, error) {
	for {
		s.mu.Lock()
		done := 0
		for _, cb := range s.callbacks {
			if cb.Done {
				done++
			}
		}
		ch := s.changed
		s.mu.Unlock()
		if done >= n {
			return s.Callbacks(), nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s.Callbacks(), ctx.Err()
		}
	}
}

// startDelivery sends a result callback in the background. settle, if not
// nil, runs when the delay is over, before the first attempt: it makes the
// transaction final.
func (s *Server) startDelivery(rq *request, params map[string]string, settle func()) {
	a := s.cfg.async
	rec := &Callback{Gateway: rq.gw, API: rq.api, URL: a.URL, Params: params}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.callbacks = append(s.callbacks, rec)
	s.wg.Add(1)
	s.mu.Unlock()
	go s.deliver(rec, settle)
}

func (s *Server) deliver(rec *Callback, settle func()) {
	defer s.wg.Done()
	a := s.cfg.async
	defer func() {
		s.mu.Lock()
		rec.Done = true
		s.notifyLocked()
		s.mu.Unlock()
	}()
	if !sleep(s.ctx, a.Delay) {
		return
	}
	if settle != nil {
		settle()
	}
	body, err := json.Marshal(rec.Params)
	if err != nil {
		panic("mpesatest: " + err.Error()) // a map of strings always marshals
	}
	wait := a.Backoff
	for i := 0; i < a.MaxAttempts; i++ {
		if i > 0 {
			if !sleep(s.ctx, wait) {
				return
			}
			wait *= 2
		}
		at := s.post(a.Client, a.URL, body, rec.API)
		s.mu.Lock()
		rec.Attempts = append(rec.Attempts, at)
		if at.Err == "" {
			rec.Acknowledged = true
		}
		s.mu.Unlock()
		if at.Err == "" {
			return
		}
	}
}

// post makes one delivery attempt.
func (s *Server) post(hc *http.Client, url string, body []byte, api mpesa.API) Attempt {
	at := Attempt{Time: s.now()}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		at.Err = err.Error()
		return at
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		at.Err = err.Error()
		return at
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRequestBytes))
	resp.Body.Close()
	at.Status = resp.StatusCode
	if err != nil {
		at.Err = "reading the acknowledgement: " + err.Error()
		return at
	}
	at.Ack, err = parseAck(data)
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		at.Err = "listener answered HTTP " + resp.Status
	case err != nil:
		at.Err = err.Error()
	case !ackAccepted(api, at.Ack["output_ResponseCode"]):
		at.Err = "acknowledgement output_ResponseCode is " + strconv.Quote(at.Ack["output_ResponseCode"]) + ", want \"0\""
	}
	return at
}

// ackAccepted: the documents ask the listener for output_ResponseCode "0".
// The Query Direct Debit document's own acknowledgement example says
// "INS-0" (SPEC-NOTES §3.11), so that product takes both.
func ackAccepted(api mpesa.API, code string) bool {
	return code == "0" || (api == mpesa.APIDirectDebitQuery && code == "INS-0")
}

// parseAck reads an acknowledgement: a JSON object whose values are kept as
// strings (a number or boolean as its JSON text).
func parseAck(data []byte) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return nil, errors.New("acknowledgement is not a JSON object")
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var str string
		if json.Unmarshal(v, &str) == nil {
			out[k] = str
		} else {
			out[k] = string(v)
		}
	}
	return out, nil
}

// sleep waits d unless ctx ends first, and reports whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
