package mpesatest

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa"
)

// Daraja's OAuth token (portal page Authorization; docs/gateways.md D3, D4).

// djToken is an access token the gateway issued.
type djToken struct {
	expires time.Time
	revoked bool // a newer token invalidated it
}

// serveToken answers GET /oauth/v1/generate?grant_type=client_credentials:
// Basic base64(consumer key ":" consumer secret), and a token that lives
// Daraja.TokenLifetime. Not Basic answers 400.008.01; another grant type
// 400.008.02; a wrong key or secret HTTP 400 with an empty body, as Daraja
// is seen to (docs/gateways.md D3). Scenarios play once the credentials
// passed, as on the other APIs.
func (s *Server) serveToken(w http.ResponseWriter, rq *djRequest) {
	basic, isBasic := strings.CutPrefix(rq.r.Header.Get("Authorization"), "Basic ")
	switch {
	case !isBasic:
		s.writeDJ(w, rq, s.djError("400.008.01", "Invalid Authentication passed"))
		return
	case rq.r.URL.Query().Get("grant_type") != "client_credentials" || len(rq.r.URL.Query()["grant_type"]) != 1:
		s.writeDJ(w, rq, s.djError("400.008.02", "Invalid grant type passed"))
		return
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(basic))
	key, secret, _ := strings.Cut(string(raw), ":")
	if err != nil || key != s.cfg.apiKey || secret != string(s.dj.cfg.ConsumerSecret) {
		s.writeDJ(w, rq, djAnswer{status: http.StatusBadRequest})
		return
	}
	if sc, ok := s.nextScenario(mpesa.APIToken); ok {
		s.djPlay(w, rq, sc)
		return
	}
	s.writeDJ(w, rq, s.issueToken())
}

// issueToken makes a new access token and, unless KeepPreviousTokens,
// invalidates every earlier one. expires_in is a string unless
// ShapeExpiresInNumber: the portal's sample writes a number, live answers
// and peer libraries a string (docs/gateways.md D3).
func (s *Server) issueToken() djAnswer {
	d := s.dj
	s.mu.Lock()
	tok := randomString(alnum, 28)
	for d.tokens[tok] != nil {
		tok = randomString(alnum, 28)
	}
	if !d.cfg.KeepPreviousTokens {
		for _, t := range d.tokens {
			t.revoked = true
		}
	}
	d.tokens[tok] = &djToken{expires: s.now().Add(d.cfg.TokenLifetime)}
	s.mu.Unlock()
	secs := strconv.FormatInt(int64(d.cfg.TokenLifetime/time.Second), 10)
	var expires any = secs
	if d.cfg.Shapes&ShapeExpiresInNumber != 0 {
		expires = jnum(secs)
	}
	return ok(jobj{{"access_token", tok}, {"expires_in", expires}})
}

// checkToken refuses a call without a live token: no Bearer header
// answers 404.001.04 "Invalid Authentication Header"; an unknown, expired
// or invalidated token the page's invalid-token code (docs/gateways.md D4),
// the AccountBalance page's quoting the token as it does ("Invalid Access
// Token - XXX").
func (s *Server) checkToken(rq *djRequest) (djAnswer, bool) {
	tok, isBearer := strings.CutPrefix(rq.r.Header.Get("Authorization"), "Bearer ")
	tok = strings.TrimSpace(tok)
	if !isBearer || tok == "" {
		return s.djError("404.001.04", "Invalid Authentication Header"), true
	}
	s.mu.Lock()
	t := s.dj.tokens[tok]
	live := t != nil && !t.revoked && s.now().Before(t.expires)
	s.mu.Unlock()
	if live {
		return djAnswer{}, false
	}
	msg := "Invalid Access Token"
	if rq.rt.badToken == "401.002.01" {
		msg += " - " + tok
	}
	return s.djError(rq.rt.badToken, msg), true
}

// djTokensLocked returns every token issued, for the journal to scrub.
// s.mu is held.
func (s *Server) djTokensLocked() []string {
	out := make([]string, 0, len(s.dj.tokens))
	for t := range s.dj.tokens {
		out = append(out, t)
	}
	return out
}

// ExpireTokens ends every Daraja access token issued so far, as their
// lifetime running out does: later calls with them get the page's
// invalid-token code (docs/gateways.md D4).
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.dj.tokens {
		t.revoked = true
	}
}

// TokenRequests returns how many Daraja token requests reached the
// simulator, refused ones included.
func (s *Server) TokenRequests() int { return len(s.CallsTo(mpesa.APIToken)) }
