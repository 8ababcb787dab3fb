package mpesatest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa"
)

// The control plane: what a Go test does with the Server's methods, any
// language does over HTTP with JSON, under /_sim/ on the simulator's main
// listener (no gateway path starts so). The phone page (page.go) is at /.
// The endpoints are listed in controlRoutes; cmd/mpesa/README.md documents
// them with their bodies.
//
// Requests that change something must carry Content-Type: application/json
// (curl --json '{}' does): a web page of another origin cannot send that
// without a CORS preflight, which the control plane never grants.

// ControlPrefix is the path prefix of the control plane.
const ControlPrefix = "/_sim/"

// WithControlPlane makes the simulator's main listener (URL) serve the
// control plane under ControlPrefix and the phone page at "/". Neither
// shows in the journal. Anybody who can reach the listener can use them;
// keep it on the loopback interface.
func WithControlPlane() Option {
	return func(c *config) { c.ext.control = true }
}

// serveControl serves the control plane and the page; it reports false
// for every other request, which is then a gateway call.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) bool {
	if !s.cfg.ext.control {
		return false
	}
	switch {
	case r.URL.Path == "/":
		s.servePage(w, r)
	case r.URL.Path == "/favicon.ico":
		// Browsers ask for it; no gateway path is this, and the journal
		// is the gateways'.
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/_sim" || strings.HasPrefix(r.URL.Path, ControlPrefix):
		s.controlMux().ServeHTTP(w, r)
	default:
		return false
	}
	return true
}

// controlMux is the mux of the control plane, built once.
func (s *Server) controlMux() *http.ServeMux {
	s.ext.muxOnce.Do(func() {
		mux := http.NewServeMux()
		for _, rt := range s.controlRoutes() {
			mux.HandleFunc(rt.pattern, s.guard(rt.handle))
		}
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			writeControl(w, http.StatusNotFound, errorBody("no control endpoint "+r.Method+" "+r.URL.Path+"; GET "+ControlPrefix+" lists them"))
		})
		s.ext.mux = mux
	})
	return s.ext.mux
}

type controlRoute struct {
	pattern string
	what    string
	handle  func(r *http.Request) (int, any)
}

// controlRoutes are the endpoints, as GET /_sim/ lists them.
func (s *Server) controlRoutes() []controlRoute {
	return []controlRoute{
		{"GET /_sim/{$}", "what a client needs (base URLs, keys, shortcodes, the Daraja secrets and certificate, customers) and these endpoints", s.cInfo},
		{"GET /_sim/state", "everything the phone page shows; ?after=V waits until version V is past (up to 25 s)", s.cState},
		{"POST /_sim/scenarios", `queue scenarios: {"api":"c2b","code":"INS-16"} or {"api":"c2b","fault":"hang","status":0,"processed":false,"count":1}, or an array of them`, s.cAddScenarios},
		{"GET /_sim/scenarios", "scenarios still queued, per API", s.cScenarios},
		{"GET /_sim/async", "which products answer asynchronously, and where callbacks go", s.cAsync},
		{"PUT /_sim/async", `{"url":"http://127.0.0.1:9000/results","apis":{"c2b":true,"b2c":false},"delay_ms":0,"max_attempts":3,"backoff_ms":100}; {"enabled":false} makes all synchronous`, s.cSetAsync},
		{"PUT /_sim/interactive", `{"all":true}: every C2B (Daraja: STK push) waits for its prompt to be answered`, s.cSetInteractive},
		{"GET /_sim/customers", "the test customers and what each does", s.cCustomers},
		{"PUT /_sim/customers/{msisdn}", `{"outcome":"cancelled","first_name":"Ana","last_name":"Maria","interactive":true}`, s.cSetCustomer},
		{"GET /_sim/calls", "the journal of calls, secrets removed and MSISDNs masked; ?api=c2b&gateway=mozambique-v1x&since=SEQ", s.cCalls},
		{"GET /_sim/callbacks", "the callbacks with every delivery attempt and acknowledgement; ?wait=N&timeout_ms=5000 waits until N have finished", s.cCallbacks},
		{"GET /_sim/transactions", "the ledger", s.cTransactions},
		{"GET /_sim/transactions/{ref}", "one transaction by TransactionID, reference or ConversationID", s.cTransaction},
		{"PUT /_sim/transactions/{ref}", `{"status":"Pending"}: what status queries report`, s.cSetTransaction},
		{"GET /_sim/prompts", "the open PIN prompts; ?wait_ms=5000 waits for one", s.cPrompts},
		{"POST /_sim/prompts/{id}", `{"answer":"pin"} (or "decline", "timeout", "rejected", "insufficient_balance")`, s.cAnswer},
		{"POST /_sim/sessions/expire", "end every OpenAPI session", s.cExpire},
		{"GET /_sim/stats", "getSession requests and bearer decryptions", s.cStats},
		{"POST /_sim/reset", `forget ledger, journal, sessions, scenarios and prompts; {"customers":true} also the added customers`, s.cReset},
	}
}

// guard checks the media type of changes and writes the answer.
func (s *Server) guard(h func(r *http.Request) (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !isJSON(r.Header.Get("Content-Type")) {
			writeControl(w, http.StatusUnsupportedMediaType, errorBody("send Content-Type: application/json (curl --json '{}')"))
			return
		}
		status, body := h(r)
		if status >= 200 && status < 300 && r.Method != http.MethodGet {
			s.bump()
		}
		writeControl(w, status, body)
	}
}

func writeControl(w http.ResponseWriter, status int, body any) {
	data, err := json.MarshalIndent(body, "", "  ")
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

func errorBody(msg string) map[string]string { return map[string]string{"error": msg} }

func bad(format string, args ...any) (int, any) {
	return http.StatusBadRequest, errorBody(fmt.Sprintf(format, args...))
}

// decode reads a JSON body into v; an empty body leaves v as it is.
func decode(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes))
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("reading the JSON body: %w", err)
	}
	return nil
}

// info is what a client needs to reach the simulator.
type info struct {
	Gateways  map[string]gatewayInfo `json:"gateways"`
	APIKey    string                 `json:"api_key"`
	PublicKey string                 `json:"public_key"`
	Customers []customerView         `json:"customers"`
	Endpoints []string               `json:"endpoints"`
}

type gatewayInfo struct {
	BaseURL             string            `json:"base_url"`
	Paths               string            `json:"paths"`
	Markets             []string          `json:"markets,omitempty"`
	Environment         string            `json:"environment,omitempty"`
	ServiceProviderCode string            `json:"service_provider_code"`
	InitiatorIdentifier string            `json:"initiator_identifier,omitempty"`
	SecurityCredential  string            `json:"security_credential,omitempty"`
	PortURLs            map[string]string `json:"port_urls,omitempty"`
	Origin              string            `json:"origin,omitempty"`
	// Daraja's: the consumer key is the API key; these are the rest of
	// what Options(mpesa.GatewayDaraja) gives a client, the simulator's
	// test credentials.
	ConsumerSecret    string `json:"consumer_secret,omitempty"`
	Passkey           string `json:"passkey,omitempty"`
	InitiatorName     string `json:"initiator_name,omitempty"`
	InitiatorPassword string `json:"initiator_password,omitempty"`
	Certificate       string `json:"certificate,omitempty"`
	ResultURL         string `json:"result_url,omitempty"`
	QueueTimeoutURL   string `json:"queue_timeout_url,omitempty"`
}

// baseURL is the simulator's URL as the request reached it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) cInfo(r *http.Request) (int, any) {
	base := baseURL(r)
	markets := make([]string, 0, 5)
	for _, m := range mpesa.Markets() {
		markets = append(markets, string(m))
	}
	moz := gatewayInfo{
		BaseURL: base, Paths: "/ipg/v1x/{api}/", ServiceProviderCode: MozambiqueServiceProviderCode,
		InitiatorIdentifier: s.cfg.initiator, SecurityCredential: s.cfg.credential, Origin: OriginMozambique,
	}
	if urls := s.MozambiqueURLs(); urls != nil {
		moz.PortURLs = make(map[string]string, len(urls))
		for api, u := range urls {
			moz.PortURLs[api.String()] = u
		}
	}
	var endpoints []string
	for _, rt := range s.controlRoutes() {
		endpoints = append(endpoints, strings.Replace(rt.pattern, "{$}", "", 1)+": "+rt.what)
	}
	return http.StatusOK, info{
		Gateways: map[string]gatewayInfo{
			mpesa.GatewayOpenAPI.String(): {
				BaseURL: base, Paths: "/{sandbox|openapi}/ipg/v2/{market}/{api}/", Markets: markets,
				ServiceProviderCode: OpenAPIServiceProviderCode, Origin: s.cfg.origins[0],
			},
			mpesa.GatewayMozambique.String(): moz,
			mpesa.GatewayDaraja.String():     s.darajaInfo(base),
		},
		APIKey: s.cfg.apiKey, PublicKey: s.pubB64, Customers: s.customerViews(), Endpoints: endpoints,
	}
}

func (s *Server) cAddScenarios(r *http.Request) (int, any) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes))
	if err != nil {
		return bad("reading the body: %v", err)
	}
	var list []scenarioView
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "[") {
		err = json.Unmarshal(data, &list)
	} else {
		var one scenarioView
		err = json.Unmarshal(data, &one)
		list = []scenarioView{one}
	}
	if err != nil {
		return bad("reading the JSON body: %v", err)
	}
	type queued struct {
		api mpesa.API
		sc  Scenario
	}
	var all []queued
	for i, v := range list {
		api, ok := parseAPI(v.API)
		if !ok {
			return bad("scenario %d: unknown api %q (one of %s)", i, v.API, apiNames())
		}
		sc := Scenario{Code: v.Code, Status: v.Status, Processed: v.Processed}
		if v.Fault != "" {
			if sc.Fault, ok = parseFault(v.Fault); !ok {
				return bad("scenario %d: unknown fault %q (one of %s)", i, v.Fault, faultNames())
			}
		}
		if sc.Fault == FaultNone && sc.Code == "" && sc.Status == 0 {
			return bad("scenario %d: give a code, a fault or a status", i)
		}
		if msg := checkScenario(s, api, sc); msg != "" {
			return bad("scenario %d: %s", i, msg)
		}
		for n := max(v.Count, 1); n > 0; n-- {
			all = append(all, queued{api, sc})
		}
	}
	for _, q := range all {
		s.Next(q.api, q.sc)
	}
	return http.StatusCreated, s.pendingScenarios()
}

// checkScenario asks Next whether it takes sc, on a throwaway server, so
// that the control plane accepts exactly what Next accepts.
func checkScenario(_ *Server, api mpesa.API, sc Scenario) (msg string) {
	probe := &Server{scenarios: make(map[mpesa.API][]Scenario)}
	defer func() {
		if r := recover(); r != nil {
			msg = strings.TrimPrefix(fmt.Sprint(r), "mpesatest: ")
		}
	}()
	probe.Next(api, sc)
	return ""
}

func (s *Server) pendingScenarios() map[string]int {
	out := map[string]int{}
	for _, api := range allAPIs() {
		if n := s.PendingScenarios(api); n > 0 {
			out[api.String()] = n
		}
	}
	return out
}

func (s *Server) cScenarios(*http.Request) (int, any) { return http.StatusOK, s.pendingScenarios() }

func (s *Server) cSetInteractive(r *http.Request) (int, any) {
	var v struct {
		All bool `json:"all"`
	}
	if err := decode(r, &v); err != nil {
		return bad("%v", err)
	}
	s.SetInteractive(v.All)
	return http.StatusOK, map[string]bool{"all": v.All}
}

func (s *Server) cCustomers(*http.Request) (int, any) { return http.StatusOK, s.customerViews() }

func (s *Server) cSetCustomer(r *http.Request) (int, any) {
	msisdn := r.PathValue("msisdn")
	var v customerView
	if err := decode(r, &v); err != nil {
		return bad("%v", err)
	}
	c := Customer{FirstName: v.FirstName, LastName: v.LastName, Interactive: v.Interactive}
	if v.Outcome != "" {
		o, ok := parseOutcome(v.Outcome)
		if !ok {
			return bad("unknown outcome %q (one of %s)", v.Outcome, outcomeNames())
		}
		c.Outcome = o
	}
	s.SetCustomer(msisdn, c)
	for _, cv := range s.customerViews() {
		if cv.MSISDN == msisdn {
			return http.StatusOK, cv
		}
	}
	return http.StatusOK, nil
}

func (s *Server) cCalls(r *http.Request) (int, any) {
	q := r.URL.Query()
	var api mpesa.API
	if name := q.Get("api"); name != "" {
		var ok bool
		if api, ok = parseAPI(name); !ok {
			return bad("unknown api %q (one of %s)", name, apiNames())
		}
	}
	since, _ := strconv.Atoi(q.Get("since"))
	out := []callView{}
	for i, c := range s.Calls() {
		if i < since || (api != 0 && c.API != api) || (q.Get("gateway") != "" && (c.API == 0 || c.Gateway.String() != q.Get("gateway"))) {
			continue
		}
		out = append(out, viewCall(i, c))
	}
	return http.StatusOK, out
}

func (s *Server) cCallbacks(r *http.Request) (int, any) {
	q := r.URL.Query()
	cbs := s.Callbacks()
	if n, _ := strconv.Atoi(q.Get("wait")); n > 0 {
		timeout := 5 * time.Second
		if ms, err := strconv.Atoi(q.Get("timeout_ms")); err == nil && ms > 0 {
			timeout = min(time.Duration(ms)*time.Millisecond, time.Minute)
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		var err error
		if cbs, err = s.WaitCallbacks(ctx, n); err != nil {
			return http.StatusGatewayTimeout, map[string]any{"error": fmt.Sprintf("fewer than %d callbacks finished within %v", n, timeout), "callbacks": viewCallbacks(cbs)}
		}
	}
	return http.StatusOK, viewCallbacks(cbs)
}

func viewCallbacks(cbs []Callback) []callbackView {
	out := make([]callbackView, len(cbs))
	for i, cb := range cbs {
		out[i] = viewCallback(i, cb)
	}
	return out
}

func (s *Server) cTransactions(*http.Request) (int, any) {
	txs := s.Transactions()
	out := make([]txView, len(txs))
	for i, t := range txs {
		out[i] = viewTx(t)
	}
	return http.StatusOK, out
}

func (s *Server) cTransaction(r *http.Request) (int, any) {
	t, ok := s.Transaction(r.PathValue("ref"))
	if !ok {
		return http.StatusNotFound, errorBody("no transaction has that TransactionID, reference or ConversationID")
	}
	return http.StatusOK, viewTx(t)
}

func (s *Server) cSetTransaction(r *http.Request) (int, any) {
	var v struct {
		Status string `json:"status"`
	}
	if err := decode(r, &v); err != nil || v.Status == "" {
		return bad(`give {"status":"Completed"} (Completed, Pending, Cancelled, Expired, Failed or N/A)`)
	}
	if !s.SetTransactionStatus(r.PathValue("ref"), mpesa.TransactionStatus(v.Status)) {
		return http.StatusNotFound, errorBody("no transaction has that TransactionID, reference or ConversationID")
	}
	return s.cTransaction(r)
}

func (s *Server) cPrompts(r *http.Request) (int, any) {
	if ms, err := strconv.Atoi(r.URL.Query().Get("wait_ms")); err == nil && ms > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), min(time.Duration(ms)*time.Millisecond, time.Minute))
		defer cancel()
		_, _ = s.WaitPrompt(ctx)
	}
	return http.StatusOK, s.promptViews()
}

func (s *Server) promptViews() []promptView {
	ps := s.Prompts()
	out := make([]promptView, len(ps))
	for i, p := range ps {
		out[i] = viewPrompt(p)
	}
	return out
}

func (s *Server) cAnswer(r *http.Request) (int, any) {
	var v struct {
		Answer string `json:"answer"`
	}
	if err := decode(r, &v); err != nil {
		return bad("%v", err)
	}
	o, ok := parseOutcome(v.Answer)
	if !ok {
		return bad(`unknown answer %q: "pin", "decline", "timeout" or an outcome (%s)`, v.Answer, outcomeNames())
	}
	id := r.PathValue("id")
	if err := s.AnswerPrompt(id, o); err != nil {
		if errors.Is(err, ErrNoPrompt) {
			return http.StatusNotFound, errorBody("prompt " + id + " is not open (answered, timed out, or unknown)")
		}
		return bad("%v", err)
	}
	return http.StatusOK, map[string]string{"id": id, "answer": outcomeName(o)}
}

func (s *Server) cExpire(*http.Request) (int, any) {
	s.ExpireSessions()
	return http.StatusOK, map[string]bool{"expired": true}
}

func (s *Server) cStats(*http.Request) (int, any) {
	return http.StatusOK, map[string]int{"session_requests": s.SessionRequests(), "decryptions": s.Decryptions()}
}

func (s *Server) cReset(r *http.Request) (int, any) {
	var v struct {
		Customers bool `json:"customers"`
	}
	if err := decode(r, &v); err != nil {
		return bad("%v", err)
	}
	s.Reset()
	if v.Customers {
		s.resetCustomers()
	}
	return http.StatusOK, map[string]bool{"reset": true, "customers": v.Customers}
}

// state is what the phone page shows.
type state struct {
	Version     uint64         `json:"version"`
	Calls       []callView     `json:"calls"`
	Callbacks   []callbackView `json:"callbacks"`
	Prompts     []promptView   `json:"prompts"`
	Customers   []customerView `json:"customers"`
	Async       asyncView      `json:"async"`
	Interactive bool           `json:"interactive"`
}

// stateLimit bounds the calls and callbacks the page gets.
const stateLimit = 200

func (s *Server) cState(r *http.Request) (int, any) {
	if after, err := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64); err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), 25*time.Second)
		defer cancel()
		s.waitChange(ctx, after)
	}
	s.ext.evMu.Lock()
	v := s.ext.version
	s.ext.evMu.Unlock()
	calls, cbs := s.Calls(), s.Callbacks()
	st := state{Version: v, Prompts: s.promptViews(), Customers: s.customerViews(), Async: s.asyncView()}
	for i := max(0, len(calls)-stateLimit); i < len(calls); i++ {
		if calls[i].API != 0 || calls[i].Status != 0 {
			st.Calls = append(st.Calls, viewCall(i, calls[i]))
		}
	}
	for i := max(0, len(cbs)-stateLimit); i < len(cbs); i++ {
		st.Callbacks = append(st.Callbacks, viewCallback(i, cbs[i]))
	}
	s.mu.Lock()
	st.Interactive = s.ext.interactive
	s.mu.Unlock()
	return http.StatusOK, st
}

func apiNames() string {
	var names []string
	for _, a := range allAPIs() {
		names = append(names, a.String())
	}
	return strings.Join(names, ", ")
}

func faultNames() string {
	var names []string
	for f := FaultHang; f <= lastFault; f++ {
		names = append(names, faultName(f))
	}
	return strings.Join(names, ", ")
}

func outcomeNames() string {
	var names []string
	for o := OutcomeSuccess; o <= OutcomeInsufficientBalance; o++ {
		names = append(names, outcomeName(o))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
