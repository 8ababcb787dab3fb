package mpesatest

import (
	"net/http"
	"time"

	"github.com/mpesa-go/mpesa"
)

// Redacted stands in, in the journal, for a value that must not be kept:
// a session ID, a security credential.
const Redacted = "[REDACTED]"

// Call is one request the simulator received and what it answered. It
// never holds a secret: the Authorization and Cookie headers are dropped,
// and session IDs and security credentials are replaced by Redacted.
type Call struct {
	Time time.Time
	// Gateway, API and Market are those of the path; API is 0 for a path
	// that no API serves.
	Gateway mpesa.Gateway
	API     mpesa.API
	Market  mpesa.Market
	Method  string
	Path    string
	// Query is the raw URL query.
	Query  string
	Header http.Header
	// Params are the parameters as read from the JSON body or the query.
	Params map[string]string
	// Status is the HTTP status answered; 0 when the call got no answer
	// (a hang or a reset).
	Status int
	// Response is the JSON answer, nil for an HTML page, an empty or a
	// truncated body and no answer at all.
	Response map[string]string
	// Scenario is the scenario the call played, nil for a normal answer.
	Scenario *Scenario
}

func (c *Call) clone() Call {
	out := *c
	out.Header = c.Header.Clone()
	out.Params = cloneMap(c.Params)
	out.Response = cloneMap(c.Response)
	if c.Scenario != nil {
		sc := *c.Scenario
		out.Scenario = &sc
	}
	return out
}

// Calls returns every call so far, in the order they arrived. A call still
// in progress (held by a hang scenario, say) is there with Status 0.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i := range s.calls {
		out[i] = s.calls[i].clone()
	}
	return out
}

// CallsTo returns the calls of one API, on either gateway.
func (s *Server) CallsTo(api mpesa.API) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for i := range s.calls {
		if s.calls[i].API == api {
			out = append(out, s.calls[i].clone())
		}
	}
	return out
}

// journal adds a call as it arrives; note updates it. Both hold s.mu, so
// that Calls sees a call in progress consistently.
func (s *Server) journal(c *Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

func (s *Server) note(c *Call, update func(*Call)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	update(c)
}

// journalHeader copies the request headers without the credentials.
func journalHeader(h http.Header) http.Header {
	out := h.Clone()
	out.Del("Authorization")
	out.Del("Proxy-Authorization")
	out.Del("Cookie")
	return out
}

// secretKeys are parameters and answer fields whose values the journal does
// not keep.
var secretKeys = map[string]bool{
	"input_SecurityCredential": true,
	"output_SessionID":         true,
}

func journalParams(p map[string]string) map[string]string {
	out := cloneMap(p)
	for k := range out {
		if secretKeys[k] {
			out[k] = Redacted
		}
	}
	return out
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
