package mpesatest

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mpesa-go/mpesa"
)

// route is an API as one gateway serves it.
type route struct {
	gateway mpesa.Gateway
	api     mpesa.API
	method  string
}

// openAPIRoutes maps the path below /{sandbox|openapi}/ipg/v2/{market}/ to
// its API, and mozambiqueRoutes the path below /ipg/v1x/. They are written
// out from the documents rather than taken from the mpesa package, so that
// the simulator judges the client's URLs instead of echoing them.
var (
	openAPIRoutes = map[string]route{
		"getSession/":             {mpesa.GatewayOpenAPI, mpesa.APIGetSession, http.MethodGet},
		"c2bPayment/singleStage/": {mpesa.GatewayOpenAPI, mpesa.APIC2B, http.MethodPost},
		"b2cPayment/":             {mpesa.GatewayOpenAPI, mpesa.APIB2C, http.MethodPost},
		"b2bPayment/":             {mpesa.GatewayOpenAPI, mpesa.APIB2B, http.MethodPost},
		"reversal/":               {mpesa.GatewayOpenAPI, mpesa.APIReversal, http.MethodPut},
		"queryTransactionStatus/": {mpesa.GatewayOpenAPI, mpesa.APITransactionStatus, http.MethodGet},
		"directDebitCreation/":    {mpesa.GatewayOpenAPI, mpesa.APIDirectDebitCreate, http.MethodPost},
		"directDebitPayment/":     {mpesa.GatewayOpenAPI, mpesa.APIDirectDebitPayment, http.MethodPost},
		"queryDirectDebit/":       {mpesa.GatewayOpenAPI, mpesa.APIDirectDebitQuery, http.MethodGet},
		"directDebitCancel/":      {mpesa.GatewayOpenAPI, mpesa.APIDirectDebitCancel, http.MethodPut},
		"queryBeneficiaryName/":   {mpesa.GatewayOpenAPI, mpesa.APIBeneficiaryName, http.MethodGet},
	}
	mozambiqueRoutes = map[string]route{
		"c2bPayment/singleStage/": {mpesa.GatewayMozambique, mpesa.APIC2B, http.MethodPost},
		"b2cPayment/":             {mpesa.GatewayMozambique, mpesa.APIB2C, http.MethodPost},
		"b2bPayment/":             {mpesa.GatewayMozambique, mpesa.APIB2B, http.MethodPost},
		"queryTransactionStatus/": {mpesa.GatewayMozambique, mpesa.APITransactionStatus, http.MethodGet},
		"reversal/":               {mpesa.GatewayMozambique, mpesa.APIReversal, http.MethodPut},
		// Not in the documents: the path published integrations agree on
		// (docs/gateways.md M14).
		"queryCustomerName/": {mpesa.GatewayMozambique, mpesa.APIBeneficiaryName, http.MethodGet},
	}
)

// target is what a request path names.
type target struct {
	route  route
	market mpesa.Market
	// env is the OpenAPI v2 environment of the path, "sandbox" or
	// "openapi"; "" on Mozambique.
	env string
	// badMarket: the path names an OpenAPI v2 API under a market that
	// does not exist (market holds the path's text).
	badMarket bool
}

// findRoute resolves a request path to its route and, on OpenAPI, market and
// environment. A known API under an unknown market (vodacomKEN, or a case
// slip such as VodafoneGHA: the market contexts are case-sensitive, written
// as the OpenAPI v2 developer portal's "Markets" tables write them) is found
// with badMarket set: every product page of the portal lists 400 INS-998
// "Invalid Market" in its Response Codes table.
func findRoute(path string) (target, bool) {
	if rest, ok := strings.CutPrefix(path, "/ipg/v1x/"); ok {
		rt, ok := mozambiqueRoutes[rest]
		return target{route: rt, market: mpesa.MarketMozambique}, ok
	}
	// /{sandbox|openapi}/ipg/v2/{market}/{api...}
	parts := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 5)
	if len(parts) != 5 || (parts[0] != "sandbox" && parts[0] != "openapi") || parts[1] != "ipg" || parts[2] != "v2" {
		return target{}, false
	}
	rt, ok := openAPIRoutes[parts[4]]
	if !ok {
		return target{}, false
	}
	m := mpesa.Market(parts[3])
	return target{route: rt, market: m, env: parts[0], badMarket: !m.Valid()}, true
}

// maxRequestBytes bounds a request body. Gateway requests are a few hundred
// bytes.
const maxRequestBytes = 64 << 10

// request is one call being handled.
type request struct {
	r      *http.Request
	route  route
	gw     mpesa.Gateway
	api    mpesa.API
	market mpesa.Market
	env    string // OpenAPI v2: "sandbox" or "openapi"
	params map[string]string
	// paramErr is why the parameters could not be read (malformed JSON, a
	// value that is not a string, a repeated query key).
	paramErr error
	call     *Call
	// async is the asynchronous configuration the call is answered
	// under, read once as it arrives (SetAsync may change it meanwhile);
	// nil answers synchronously.
	async *Async
}

// refKey is the name of the caller's per-request reference on the gateway.
func (rq *request) refKey() string { return refKey(rq.gw) }

func refKey(g mpesa.Gateway) string {
	if g == mpesa.GatewayMozambique {
		return "input_ThirdPartyReference"
	}
	return "input_ThirdPartyConversationID"
}

// outRefKey is the name of the reference in an answer.
func outRefKey(g mpesa.Gateway) string {
	if g == mpesa.GatewayMozambique {
		return "output_ThirdPartyReference"
	}
	return "output_ThirdPartyConversationID"
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serveControl(w, r) {
		return
	}
	s.serve(w, r, 0)
}

// serve handles a request. only, when not 0, is the one Mozambique API that
// the listener serves (WithMozambiquePorts): any other path is not found
// there.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, only mpesa.API) {
	call := &Call{
		Time:   s.now(),
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  journalQuery(r.URL.RawQuery),
		Header: journalHeader(r.Header),
	}
	s.journal(call)
	defer s.callDone(call)

	// Read the whole request first: every answer, a reset connection
	// included, comes after the gateway has read it.
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if only == 0 && isDarajaPath(r.URL.Path) {
		s.serveDaraja(w, r, call, body, readErr) // daraja_routes.go
		return
	}

	tg, ok := findRoute(r.URL.Path)
	if ok && only != 0 && (tg.route.gateway != mpesa.GatewayMozambique || tg.route.api != only) {
		ok = false // another API's path, on this API's port
	}
	if !ok {
		s.writeError(w, call, http.StatusNotFound, "Resource not found")
		return
	}
	rt, market := tg.route, tg.market
	rq := &request{r: r, route: rt, gw: rt.gateway, api: rt.api, market: market, env: tg.env, call: call, async: s.currentAsync()}
	s.note(call, func(c *Call) { c.Gateway, c.API, c.Market = rt.gateway, rt.api, market })
	if readErr != nil {
		s.writeError(w, call, http.StatusRequestEntityTooLarge, "Request body too large")
		return
	}
	if rt.gateway == mpesa.GatewayMozambique && blockedAgent(r.UserAgent()) {
		// The web firewall in front of the Mozambique hosts turns away
		// Go's default User-Agent with a page of its own, before the
		// gateway sees anything: seen on the live gateway, not in the
		// documents (docs/gateways.md M13).
		s.writeFirewallPage(w, call, http.StatusForbidden)
		return
	}
	rq.params, rq.paramErr = readParams(r, rt.method, body)
	s.note(call, func(c *Call) { c.Params = journalParams(rq.params) })

	// The header checks come in the order a front end makes them: the
	// method and path, the origin, the media type, then the credentials.
	// The documents give no answer for the first three; the simulator
	// answers them, on both gateways, the way the Mozambique gateway is
	// seen to answer a missing Origin, {"output_error": "..."}
	// (docs/gateways.md M13), with the HTTP status that names the problem.
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		s.writeError(w, call, http.StatusMethodNotAllowed, "Method "+r.Method+" not allowed; use "+rt.method)
		return
	}
	if !s.originAllowed(rq.gw, r.Header.Values("Origin")) {
		// 403: the caller is not allowed from there. A client maps an
		// output_error with 401 or 403 to an authorization failure, which
		// is what a wrong Origin is: a configuration the application
		// refuses.
		s.writeError(w, call, http.StatusForbidden, "Origin not allowed")
		return
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		// Every API of both gateways lists Content-Type: application/json
		// in its header table, GET calls included (the OpenAPI v2
		// developer portal, "API Headers" of each product; the Mozambique
		// documents, "Headers" of each API).
		s.writeError(w, call, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	if tg.badMarket {
		// 400 INS-998 "Invalid Market" (the Response Codes table of every
		// product page of the OpenAPI v2 developer portal). The documents
		// do not say whether the market or the credentials are checked
		// first; the simulator checks the market first, since the market
		// context selects the platform that would check them. So
		// getSession under an unknown market answers INS-998 too.
		if rt.api == mpesa.APIGetSession {
			s.sessionCalls.Add(1)
		}
		s.writeAnswer(w, rq, s.refuse(rq, "INS-998"))
		return
	}
	if !s.authorize(w, rq) {
		return
	}
	if sc, ok := s.nextScenario(rq.api); ok {
		s.play(w, rq, sc)
		return
	}
	s.writeAnswer(w, rq, s.handle(rq))
}

// blockedAgent reports whether the Mozambique firewall refuses a
// User-Agent: none, or Go's default.
func blockedAgent(ua string) bool {
	return ua == "" || strings.HasPrefix(ua, "Go-http-client/")
}

// readParams reads the parameters: a JSON object of strings in the body of
// a POST or PUT, the URL query of a GET.
func readParams(r *http.Request, method string, body []byte) (map[string]string, error) {
	if method == http.MethodGet {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return map[string]string{}, errors.New("malformed query string")
		}
		p := make(map[string]string, len(q))
		for k, vs := range q {
			if len(vs) != 1 {
				return p, errors.New("parameter " + k + " given more than once")
			}
			p[k] = vs[0]
		}
		return p, nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]string{}, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return map[string]string{}, errors.New("body is not a JSON object")
	}
	if raw == nil {
		return map[string]string{}, errors.New("body is not a JSON object")
	}
	p := make(map[string]string, len(raw))
	var bad error
	for k, v := range raw {
		var str string
		if !utf8.Valid(v) {
			// encoding/json would replace the invalid bytes with U+FFFD
			// and hide them from the rules. Keep the raw JSON text, which
			// every rule refuses: no gateway can take a value that is not
			// text.
			p[k] = string(v)
			continue
		}
		if err := json.Unmarshal(v, &str); err != nil {
			// Keep the value for the journal; the request is refused.
			p[k] = string(v)
			bad = errors.New("parameter " + k + " is not a JSON string")
			continue
		}
		p[k] = str
	}
	return p, bad
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// originAllowed checks the Origin header: exactly one, and on OpenAPI one of
// the application's origins ("*" takes any), on Mozambique OriginMozambique.
func (s *Server) originAllowed(g mpesa.Gateway, values []string) bool {
	if len(values) != 1 || values[0] == "" {
		return false
	}
	if g == mpesa.GatewayMozambique {
		return values[0] == OriginMozambique
	}
	for _, o := range s.cfg.origins {
		if o == "*" || o == values[0] {
			return true
		}
	}
	return false
}

// session is an OpenAPI session key.
type session struct {
	issued time.Time
	// env is the environment whose getSession issued it, "sandbox" or
	// "openapi": the portal's Generate SessionKey page has the sandbox
	// and the live environment issue their own session keys, each with
	// its own getSession URL.
	env     string
	expired bool // ended early by ExpireSessions
}

// decryptBearer returns the plaintext of "Bearer base64(RSA(secret))".
//
// The gateways encrypt with RSA PKCS #1 v1.5 padding, so the simulator must
// decrypt with it. Go 1.26 deprecates rsa.DecryptPKCS1v15 because a server
// that reveals whether the padding was valid is a padding oracle; the
// simulator is a test double on the loopback interface that holds no secret
// worth an attack, and it answers every failure the same way.
func (s *Server) decryptBearer(header string) (string, bool) {
	b64, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return "", false
	}
	ct, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(ct) == 0 {
		return "", false
	}
	s.decryptions.Add(1)
	pt, err := rsa.DecryptPKCS1v15(nil, s.key, ct)
	if err != nil {
		return "", false
	}
	return string(pt), true
}

// authorize checks the bearer and answers the call when it is refused.
//
// OpenAPI v2, getSession: the bearer is the encrypted API key. A key that is
// wrong, undecryptable or missing is answered 400 INS-989 "Session Creation
// Failed": the Generate SessionKey page of the OpenAPI v2 developer portal
// lists that code alone besides INS-0 in its Response Codes table, and its
// flow has no other failure.
//
// OpenAPI v2, every other call: the bearer is the encrypted ID of a session
// that getSession of the same environment issued, that is live (past the
// warm-up) and not expired; else 401 INS-2. The portal's product tables do
// not list INS-2: it is the iPG platform's code for refused credentials, the
// one the Mozambique documents give with 401 ("Invalid API Key", Response
// Codes & Descriptions), and the one on which the SDK refreshes its session
// and sends again. A session of the sandbox is refused on /openapi/ paths
// and the reverse.
//
// Mozambique: every call takes the encrypted API key, else 401 INS-2
// "Invalid API Key", as the Response Codes & Descriptions table of the
// Mozambique documents gives it. The {"output_error": "..."} body the live
// gateway has been seen to answer instead is the scenario FaultOutputError.
func (s *Server) authorize(w http.ResponseWriter, rq *request) bool {
	secret, ok := s.decryptBearer(rq.r.Header.Get("Authorization"))
	if rq.gw == mpesa.GatewayMozambique {
		if !ok || secret != s.cfg.apiKey {
			s.writeAnswer(w, rq, s.refuse(rq, "INS-2"))
			return false
		}
		return true
	}
	if rq.api == mpesa.APIGetSession {
		s.sessionCalls.Add(1)
		if !ok || secret != s.cfg.apiKey {
			s.writeAnswer(w, rq, s.refuse(rq, "INS-989"))
			return false
		}
		return true
	}
	if !ok || !s.sessionLive(secret, rq.env) {
		a := s.refuse(rq, "INS-2")
		a.body["output_ResponseDesc"] = "Invalid Session ID"
		s.writeAnswer(w, rq, a)
		return false
	}
	return true
}

func (s *Server) sessionLive(id, env string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[id]
	if !ok || ss.expired || ss.env != env {
		return false
	}
	now := s.now()
	return !now.Before(ss.issued.Add(s.cfg.warmup)) && now.Before(ss.issued.Add(s.cfg.lifetime))
}

// getSession issues a new session.
func (s *Server) getSession(rq *request) answer {
	s.mu.Lock()
	id := randomString(hexLower, 32)
	for s.sessions[id] != nil {
		id = randomString(hexLower, 32)
	}
	s.sessions[id] = &session{issued: s.now(), env: rq.env}
	s.mu.Unlock()
	return answer{status: http.StatusOK, body: map[string]string{
		"output_ResponseCode": "INS-0",
		"output_ResponseDesc": "Request processed successfully",
		"output_SessionID":    id,
	}}
}

// answer is a JSON answer about to be written, and what to do once it is.
type answer struct {
	status int
	body   map[string]string
	// after runs once the answer is written: it starts the callback of an
	// asynchronous answer, which must not overtake it.
	after func()
}

func (s *Server) writeAnswer(w http.ResponseWriter, rq *request, a answer) {
	writeJSON(w, a.status, a.body)
	s.note(rq.call, func(c *Call) { c.Status, c.Response = a.status, journalParams(a.body) })
	if a.after != nil {
		s.callAnswered(rq.call) // before the callback it starts, in the access log too
		a.after()
	}
}

// writeError answers {"output_error": msg}.
func (s *Server) writeError(w http.ResponseWriter, call *Call, status int, msg string) {
	body := map[string]string{"output_error": msg}
	writeJSON(w, status, body)
	s.note(call, func(c *Call) { c.Status, c.Response = status, journalParams(body) })
}

func writeJSON(w http.ResponseWriter, status int, body map[string]string) {
	data, err := json.Marshal(body)
	if err != nil {
		// A map of strings always marshals.
		panic("mpesatest: " + err.Error())
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
