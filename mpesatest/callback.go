package mpesatest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa"
)

// Async configures asynchronous answers: the gateway answers at once with a
// ConversationID and the caller's reference, no TransactionID, and POSTs the
// result to the application's Response URL. Every product page of the
// OpenAPI v2 developer portal says "The response back to the application can
// either be synchronous or asynchronous, depending the business use case"
// and sends the result "to the value listed in the Response URL", which no
// request carries: it is the application's setting, as the Mozambique
// document 'Async response, callback and response codes' says ("the
// Response URL provided on My Account's page").
//
// Daraja has no such application setting: it posts each result to the URLs
// its request names, always (see Daraja). There URL is only the default
// result URL that Options gives the client, APIs does not apply, and
// Client, MaxAttempts, Backoff and Delay apply as here.
type Async struct {
	// URL receives the result callbacks: the Response URL of the
	// application. Required.
	URL string
	// APIs lists the products that answer asynchronously. Empty means
	// the products whose results come by callback: C2B, B2C, B2B,
	// reversal, and direct debit creation, payment and cancellation.
	// The queries (transaction status, direct debit query, beneficiary
	// name) then answer synchronously, so that a listener that verifies
	// a result with a status query gets its answer at once; list them
	// to make them asynchronous too. The Mozambique transaction status
	// and customer-name queries are always synchronous, listed or not:
	// the Mozambique document 'Query Transaction Status' gives only a
	// synchronous answer, and no document describes the customer-name
	// query. getSession is always synchronous ("This API is only
	// available in an end-to-end synchronous flow", the portal's
	// Generate SessionKey page).
	APIs []mpesa.API
	// Delay is the time between the answer and the first delivery
	// attempt; the transaction is Pending until then. Default 0.
	Delay time.Duration
	// Client sends the callbacks. Default: a client of its own with a
	// 10 s timeout, whose idle connections Close drops.
	Client *http.Client
	// MaxAttempts bounds the deliveries of one callback. A delivery is
	// repeated when the listener does not answer, answers a status other
	// than 2xx, or does not acknowledge the result as the product's
	// document asks (see Attempt.Err): output_OriginalConversationID
	// and output_ThirdPartyConversationID echoed, a non-empty
	// output_ResponseDesc, and output_ResponseCode "0" ("INS-0" for the
	// OpenAPI v2 direct debit query). Each failed attempt is logged at
	// Warn level (WithLogger). Default 3.
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
	// Kind names a Daraja callback: KindSTK, KindResult,
	// KindQueueTimeout, KindValidation or KindConfirmation; "" on the
	// other gateways.
	Kind string
	// Params is the JSON body POSTed: input_OriginalConversationID,
	// input_ResultCode and so on (MSISDNs masked, as in Call.Params). On
	// Daraja, whose bodies are nested, it is a flat view of Body: every
	// scalar member, and each {Name|Key, Value} item as Name or Key →
	// Value, the first of a repeated key kept.
	Params map[string]string
	// Body is the JSON body POSTed, exactly as sent but for the masked
	// phone numbers; Daraja only (the other gateways' bodies are Params).
	Body string
	// Attempts lists each delivery attempt in order.
	Attempts []Attempt
	// Acknowledged reports that the listener acknowledged the result.
	Acknowledged bool
	// Done reports that delivery has ended: acknowledged, out of
	// attempts, or abandoned because the server closed.
	Done bool

	// plan is how a Daraja callback is sent; nil for the others, which
	// follow WithAsync.
	plan *delivery
}

// delivery is how one callback is sent.
type delivery struct {
	client      *http.Client
	maxAttempts int
	backoff     time.Duration
	delay       time.Duration
	// body is what is POSTed; nil sends Params as a JSON object.
	body []byte
	// check, when set, judges the listener's answer in place of the
	// iPG acknowledgement rules: "" accepts it, else it says why not.
	check func(ack map[string]string, nonString map[string]bool, parseErr error) string
	// masked says that Params are already as the journal shows them.
	masked bool
}

// Attempt is one delivery of a callback.
type Attempt struct {
	Time time.Time
	// Status is the listener's HTTP status, 0 when it did not answer.
	Status int
	// Ack is the listener's JSON acknowledgement (output_ResponseCode,
	// output_OriginalConversationID, ...), nil when it was not a JSON
	// object. A value that is not a JSON string is kept as its JSON text.
	Ack map[string]string
	// Err says why the attempt did not count: a transport error, a bad
	// status, or each way the acknowledgement differs from the one the
	// product's document shows. Empty for an accepted attempt.
	Err string
}

// clone copies the callback for the journal. The simulator keeps, and
// delivers, the real parameters; the copy masks them.
func (c *Callback) clone() Callback {
	out := *c
	if c.plan != nil && c.plan.masked {
		out.Params = cloneMap(c.Params)
	} else {
		out.Params = journalParams(c.Params)
	}
	out.Attempts = make([]Attempt, len(c.Attempts))
	for i, a := range c.Attempts {
		a.Ack = journalParams(a.Ack)
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
	a := rq.async
	rec := &Callback{Gateway: rq.gw, API: rq.api, URL: a.URL, Params: params}
	s.launch(rec, a, settle)
}

// launch journals a callback and delivers it in the background, by its own
// plan or else by a.
func (s *Server) launch(rec *Callback, a *Async, settle func()) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.callbacks = append(s.callbacks, rec)
	s.wg.Add(1)
	s.mu.Unlock()
	go s.deliver(rec, a, settle)
}

func (s *Server) deliver(rec *Callback, as *Async, settle func()) {
	defer s.wg.Done()
	a := rec.plan
	if a == nil {
		a = &delivery{client: as.Client, maxAttempts: as.MaxAttempts, backoff: as.Backoff, delay: as.Delay}
	}
	defer func() {
		s.mu.Lock()
		rec.Done = true
		s.notifyLocked()
		s.mu.Unlock()
	}()
	if !sleep(s.ctx, a.delay) {
		return
	}
	if settle != nil {
		settle()
	}
	body := a.body
	if body == nil {
		var err error
		if body, err = json.Marshal(rec.Params); err != nil {
			panic("mpesatest: " + err.Error()) // a map of strings always marshals
		}
	}
	wait := a.backoff
	for i := 0; i < a.maxAttempts; i++ {
		if i > 0 {
			if !sleep(s.ctx, wait) {
				return
			}
			wait *= 2
		}
		at, reason := s.post(a.client, rec.URL, body, rec)
		s.mu.Lock()
		rec.Attempts = append(rec.Attempts, at)
		if at.Err == "" {
			rec.Acknowledged = true
		}
		s.mu.Unlock()
		s.attempted(rec, at, reason, i+1, a.maxAttempts)
		if at.Err == "" {
			return
		}
		if s.ctx.Err() == nil { // an attempt cut by Close is no failure of the listener's
			s.logFailedAttempt(rec, at, reason, i+1, a.maxAttempts)
		}
	}
}

// post makes one delivery attempt. reason is why it failed, fit for a log
// line: a transport error without the URL (whose query may hold a token).
func (s *Server) post(hc *http.Client, target string, body []byte, rec *Callback) (at Attempt, reason string) {
	at = Attempt{Time: s.now()}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		at.Err = err.Error()
		return at, "invalid callback URL"
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		at.Err = err.Error()
		var ue *url.Error
		if errors.As(err, &ue) {
			return at, ue.Err.Error()
		}
		return at, at.Err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRequestBytes))
	resp.Body.Close()
	at.Status = resp.StatusCode
	if err != nil {
		at.Err = "reading the acknowledgement: " + err.Error()
		return at, at.Err
	}
	ack, nonString, err := parseAck(data)
	at.Ack = ack
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		at.Err = "listener answered HTTP " + resp.Status
	case rec.plan != nil && rec.plan.check != nil:
		at.Err = rec.plan.check(ack, nonString, err)
	case err != nil:
		at.Err = err.Error()
	default:
		if problems := ackProblems(rec, ack, nonString); len(problems) > 0 {
			at.Err = "acknowledgement not as documented: " + strings.Join(problems, "; ")
		}
	}
	return at, at.Err
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
