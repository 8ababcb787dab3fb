package mpesatest

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/internal/redact"
)

// The run-time side of the simulator: what a simulator that runs as a
// process (the mpesa sim command) or serves a control plane needs on top of
// what a Go test sets up front. Its options live in extConfig, its state in
// serverExt, so that the core files carry one field each.

// extConfig holds the options of listen.go, phone.go, events.go and
// control.go.
type extConfig struct {
	listener     net.Listener
	mozListeners map[mpesa.API]net.Listener
	tls          *tls.Config
	plainHTTP    bool
	// accessLog gets a line per call and per callback delivery attempt.
	accessLog *slog.Logger
	// control serves the control plane and the phone page (control.go).
	control bool
	// interactive makes every C2B wait for its prompt's answer.
	interactive   bool
	promptTimeout time.Duration
}

// serverExt is the state of the run-time controls. Its fields are guarded
// by Server.mu unless their comment says otherwise.
type serverExt struct {
	// evMu guards version and evCh: the change counter that the phone
	// page's long poll waits on.
	evMu    sync.Mutex
	version uint64
	evCh    chan struct{}

	// asyncClient sends the callbacks of SetAsync settings that name no
	// client; Close drops its idle connections.
	asyncClient *http.Client
	// interactive is WithInteractive, switchable at run time.
	interactive bool

	// done holds the calls callAnswered reported whose handler has not
	// returned yet.
	done map[*Call]struct{}

	prompts   map[string]*prompt
	promptSeq int
	// mux serves the control plane, built once (muxOnce).
	muxOnce sync.Once
	mux     *http.ServeMux

	// resetCallbacks are deliveries still running that Reset took out of
	// the journal; Shutdown waits for them too.
	resetCallbacks []*Callback
}

func (s *Server) initExt() {
	s.ext.evCh = make(chan struct{})
	s.ext.prompts = make(map[string]*prompt)
	s.ext.done = make(map[*Call]struct{})
	s.ext.interactive = s.cfg.ext.interactive
	if s.cfg.ext.promptTimeout <= 0 {
		s.cfg.ext.promptTimeout = DefaultPromptTimeout
	}
	// Prompts wait on timers; none outlives the server.
	context.AfterFunc(s.ctx, s.abandonPrompts)
}

func (s *Server) closeExt() {
	s.mu.Lock()
	hc := s.ext.asyncClient
	s.mu.Unlock()
	if hc != nil {
		hc.CloseIdleConnections()
	}
}

// bump records that something the control plane shows has changed, and
// wakes its long polls.
func (s *Server) bump() {
	s.ext.evMu.Lock()
	defer s.ext.evMu.Unlock()
	s.ext.version++
	close(s.ext.evCh)
	s.ext.evCh = make(chan struct{})
}

// waitChange returns the current version once it is past after, or when
// ctx ends.
func (s *Server) waitChange(ctx context.Context, after uint64) uint64 {
	for {
		s.ext.evMu.Lock()
		v, ch := s.ext.version, s.ext.evCh
		s.ext.evMu.Unlock()
		if v > after {
			return v
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return v
		}
	}
}

// WithAccessLog makes the simulator log one line to l per call, once it is
// answered (or abandoned: status 0), and one per callback delivery attempt:
// the gateway, API, method, path, HTTP status and response code, and the
// journal's view of the parameters and the answer, which holds no secret
// and no full MSISDN (see Call). Calls are logged at Info level; a
// delivery attempt at Info when the listener acknowledged it and at Warn
// when not, with the reason. Without it nothing is logged but the failed
// deliveries of WithLogger.
func WithAccessLog(l *slog.Logger) Option {
	return func(c *config) { c.ext.accessLog = l }
}

// callAnswered reports a call as soon as its answer is written, ahead of
// the callback the answer starts; callDone then skips it.
func (s *Server) callAnswered(c *Call) {
	s.mu.Lock()
	s.ext.done[c] = struct{}{}
	s.mu.Unlock()
	s.reportCall(c)
}

// callDone runs when the handler of a call returns: answered or not.
func (s *Server) callDone(c *Call) {
	s.mu.Lock()
	_, seen := s.ext.done[c]
	delete(s.ext.done, c)
	s.mu.Unlock()
	if !seen {
		s.reportCall(c)
	}
}

// reportCall logs a call and wakes the control plane's long polls.
func (s *Server) reportCall(c *Call) {
	s.mu.Lock()
	snap := c.clone()
	s.mu.Unlock()
	s.bump()
	l := s.cfg.ext.accessLog
	if l == nil {
		return
	}
	attrs := make([]slog.Attr, 0, 12)
	if snap.API != 0 {
		attrs = append(attrs, slog.String("gateway", snap.Gateway.String()), slog.String("api", snap.API.String()))
	}
	attrs = append(attrs,
		slog.String("method", snap.Method),
		slog.String("path", snap.Path),
		slog.Int("status", snap.Status),
	)
	if code := responseCode(snap); code != "" {
		attrs = append(attrs, slog.String("code", code))
	}
	if e, ok := snap.Response["output_error"]; ok {
		attrs = append(attrs, slog.String("error", e))
	}
	if snap.Scenario != nil {
		attrs = append(attrs, slog.String("scenario", scenarioName(*snap.Scenario)))
	}
	if snap.Status == 0 {
		attrs = append(attrs, slog.Bool("answered", false))
	}
	attrs = append(attrs, slog.Duration("duration", time.Since(snap.Time).Round(time.Millisecond)))
	if len(snap.Params) > 0 {
		attrs = append(attrs, mapGroup("params", snap.Params))
	}
	if len(snap.Response) > 0 {
		attrs = append(attrs, mapGroup("response", snap.Response))
	}
	l.LogAttrs(context.Background(), slog.LevelInfo, "call", attrs...)
}

// attempted runs after each delivery attempt of a callback.
func (s *Server) attempted(rec *Callback, at Attempt, reason string, attempt, max int) {
	s.bump()
	l := s.cfg.ext.accessLog
	if l == nil {
		return
	}
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String("gateway", rec.Gateway.String()),
		slog.String("api", rec.API.String()),
		slog.String("url", logURL(rec.URL)),
		slog.Int("attempt", attempt),
		slog.Int("max_attempts", max),
		slog.Int("status", at.Status),
		slog.Bool("acknowledged", at.Err == ""),
	}
	for _, k := range []string{"output_ResponseCode", "ResultCode"} { // Daraja's acknowledgements carry ResultCode
		if code, ok := at.Ack[k]; ok {
			attrs = append(attrs, slog.String("ack_code", code))
			break
		}
	}
	if at.Err != "" {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("reason", redact.Text(reason)))
	}
	attrs = append(attrs, mapGroup("params", journalParams(rec.Params)))
	if len(at.Ack) > 0 {
		attrs = append(attrs, mapGroup("ack", journalParams(at.Ack)))
	}
	l.LogAttrs(context.Background(), level, "callback", attrs...)
}

// mapGroup is a log group of a journal map, in key order.
func mapGroup(name string, m map[string]string) slog.Attr {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	args := make([]any, 0, len(keys))
	for _, k := range keys {
		args = append(args, slog.String(k, m[k]))
	}
	return slog.Group(name, args...)
}

// scenarioName describes a scenario in a word or two: "INS-16", "hang",
// "INS-6 processed".
func scenarioName(sc Scenario) string {
	name := sc.Code
	if sc.Fault != FaultNone {
		name = sc.Fault.String()
	}
	if sc.Processed {
		name += " processed"
	}
	return name
}

// SetAsync changes, from the next call on, which products answer
// asynchronously and where their callbacks go, as WithAsync sets it at the
// start (the same defaults apply; a.URL is required). SetAsync(nil) makes
// every product answer synchronously. A call keeps the settings it arrived
// under, and a delivery in progress the settings of its call. A nil
// a.Client uses one client that the simulator shares between SetAsync
// settings and closes with Close.
func (s *Server) SetAsync(a *Async) {
	var next *Async
	if a != nil {
		cp := *a
		if cp.Client == nil {
			cp.Client = s.sharedAsyncClient()
		}
		cp = cp.withDefaults()
		next = &cp
	}
	s.mu.Lock()
	prev := s.cfg.async
	s.cfg.async = next
	s.mu.Unlock()
	if prev != nil && prev.ownClient {
		// The client of WithAsync would otherwise only be closed by
		// Close, which no longer sees it.
		prev.Client.CloseIdleConnections()
	}
	s.bump()
}

// AsyncSettings returns the asynchronous settings in force (with their
// defaults filled in), and false when every product answers synchronously.
func (s *Server) AsyncSettings() (Async, bool) {
	a := s.currentAsync()
	if a == nil {
		return Async{}, false
	}
	out := *a
	out.APIs = append([]mpesa.API(nil), a.APIs...)
	return out, true
}

func (s *Server) currentAsync() *Async {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.async
}

func (s *Server) sharedAsyncClient() *http.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ext.asyncClient == nil {
		s.ext.asyncClient = &http.Client{Timeout: 10 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return s.ext.asyncClient
}

// Reset makes the simulator forget what it remembers, as if it had just
// started: the ledger of transactions and mandates, the journal of calls and
// callbacks, the OpenAPI sessions, the queued scenarios, the open prompts
// (abandoned: a C2B call waiting on one is cut) and the counters of
// SessionRequests and Decryptions. The keys, the customers and the
// asynchronous settings stay. A callback delivery in progress goes on, but
// is no longer in Callbacks. An OpenAPI client's next call is refused with
// INS-2 and fetches a new session; an mpesa.Client whose session is younger
// than its activation window (WithSessionActivation, 30 s) first retries
// through that window, as it would on the live gateway.
func (s *Server) Reset() {
	s.abandonPrompts()
	s.mu.Lock()
	var keep []*Callback
	for _, cb := range append(s.ext.resetCallbacks, s.callbacks...) {
		if !cb.Done {
			keep = append(keep, cb)
		}
	}
	s.ext.resetCallbacks = keep
	s.calls = nil
	s.callbacks = nil
	s.sessions = make(map[string]*session)
	s.scenarios = make(map[mpesa.API][]Scenario)
	s.ledger = newLedger()
	s.notifyLocked()
	s.mu.Unlock()
	s.sessionCalls.Store(0)
	s.decryptions.Store(0)
	s.bump()
}

// resetCustomers puts the customers back as NewServer made them.
func (s *Server) resetCustomers() {
	s.mu.Lock()
	s.customers = defaultCustomers()
	s.mu.Unlock()
	s.bump()
}
