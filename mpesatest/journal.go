package mpesatest

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/internal/redact"
)

// Redacted stands in, in the journal, for a value that must not be kept:
// a session ID, a security credential.
const Redacted = "[REDACTED]"

// Call is one request the simulator received and what it answered. It
// never holds a secret: the Authorization (the encrypted API key or session
// bearer), Proxy-Authorization and Cookie headers are dropped, and session
// IDs and security credentials are replaced by Redacted. Nor does it hold a
// full MSISDN: every MSISDN-valued parameter (input_CustomerMSISDN and any
// other whose name has "MSISDN" in it, input_MsisdnToken excepted, which is
// a token) is masked as the SDK masks numbers in its logs, first three and
// last three digits kept ("255******111"), in Params, Query and Response
// alike. The simulator decides outcomes on the real numbers; only the
// journal is masked.
type Call struct {
	Time time.Time
	// Gateway, API and Market are those of the path; API is 0 for a path
	// that no API serves.
	Gateway mpesa.Gateway
	API     mpesa.API
	Market  mpesa.Market
	Method  string
	Path    string
	// Query is the raw URL query, MSISDNs masked.
	Query  string
	Header http.Header
	// Params are the parameters as read from the JSON body or the query,
	// secrets redacted and MSISDNs masked.
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

// msisdnKey reports whether a parameter holds an MSISDN: input_CustomerMSISDN
// and any other name with MSISDN in it, but not input_MsisdnToken, the
// gateway's token that stands in for a number.
func msisdnKey(k string) bool {
	l := strings.ToLower(k)
	return strings.Contains(l, "msisdn") && !strings.Contains(l, "token")
}

// journalValue is what the journal keeps of the value v of parameter k.
func journalValue(k, v string) string {
	switch {
	case secretKeys[k]:
		return Redacted
	case msisdnKey(k):
		return redact.MSISDN(v)
	}
	return v
}

// journalParams copies parameters, an answer or an acknowledgement for the
// journal: secrets redacted, MSISDNs masked.
func journalParams(p map[string]string) map[string]string {
	out := cloneMap(p)
	for k, v := range out {
		out[k] = journalValue(k, v)
	}
	return out
}

// journalQuery masks the values of a raw URL query as journalParams does,
// and leaves the rest of it as it came.
func journalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, part := range parts {
		k, v, found := strings.Cut(part, "=")
		if !found {
			continue
		}
		key, err := url.QueryUnescape(k)
		if err != nil {
			key = k
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			val = v
		}
		if kept := journalValue(key, val); kept != val {
			// The mask's stars need no escaping in a query.
			parts[i] = k + "=" + strings.ReplaceAll(url.QueryEscape(kept), "%2A", "*")
		}
	}
	return strings.Join(parts, "&")
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
