package mpesatest

import (
	"net/http"
	"time"

	"github.com/mpesa-go/mpesa"
)

// The control plane's view of the asynchronous settings, and its switch
// per product (control.go lists the endpoints).

// asyncView is the control plane's view of the asynchronous settings.
type asyncView struct {
	Enabled     *bool           `json:"enabled,omitempty"`
	URL         string          `json:"url,omitempty"`
	APIs        map[string]bool `json:"apis,omitempty"`
	DelayMS     *int64          `json:"delay_ms,omitempty"`
	MaxAttempts *int            `json:"max_attempts,omitempty"`
	BackoffMS   *int64          `json:"backoff_ms,omitempty"`
	Note        string          `json:"note,omitempty"`
}

func (s *Server) cAsync(*http.Request) (int, any) { return http.StatusOK, s.asyncView() }

func (s *Server) asyncView() asyncView {
	a, on := s.AsyncSettings()
	v := asyncView{Enabled: &on, APIs: map[string]bool{},
		Note: "the Mozambique status and customer-name queries and getSession always answer synchronously"}
	for _, api := range allAPIs() {
		v.APIs[api.String()] = on && apiAsync(a, api)
	}
	if on {
		delay, backoff := a.Delay.Milliseconds(), a.Backoff.Milliseconds()
		v.URL, v.DelayMS, v.MaxAttempts, v.BackoffMS = a.URL, &delay, &a.MaxAttempts, &backoff
	}
	return v
}

// apiAsync reports whether a answers api asynchronously (on OpenAPI v2;
// see asyncFor).
func apiAsync(a Async, api mpesa.API) bool {
	if api == mpesa.APIGetSession {
		return false
	}
	if len(a.APIs) == 0 {
		return asyncByDefault(api)
	}
	for _, x := range a.APIs {
		if x == api {
			return true
		}
	}
	return false
}

func (s *Server) cSetAsync(r *http.Request) (int, any) {
	var v asyncView
	if err := decode(r, &v); err != nil {
		return bad("%v", err)
	}
	if v.Enabled != nil && !*v.Enabled {
		s.SetAsync(nil)
		return http.StatusOK, s.asyncView()
	}
	cur, on := s.AsyncSettings()
	next := Async{URL: cur.URL, Delay: cur.Delay, MaxAttempts: cur.MaxAttempts, Backoff: cur.Backoff, Client: cur.Client}
	set := map[mpesa.API]bool{}
	for _, api := range allAPIs() {
		set[api] = apiAsync(cur, api) && (on || len(v.APIs) == 0)
	}
	for name, async := range v.APIs {
		api, ok := parseAPI(name)
		if !ok {
			return bad("unknown api %q (one of %s)", name, apiNames())
		}
		set[api] = async
	}
	for _, api := range allAPIs() {
		if set[api] && api != mpesa.APIGetSession {
			next.APIs = append(next.APIs, api)
		}
	}
	if len(next.APIs) == 0 {
		// An empty list means "the default products" to Async; getSession
		// is never asynchronous, so listing it alone switches every
		// product to synchronous answers and keeps the URL.
		next.APIs = []mpesa.API{mpesa.APIGetSession}
	}
	if v.URL != "" {
		next.URL = v.URL
	}
	if next.URL == "" {
		return bad("url is required: where the callbacks go (the application's Response URL)")
	}
	if v.DelayMS != nil {
		next.Delay = time.Duration(*v.DelayMS) * time.Millisecond
	}
	if v.MaxAttempts != nil {
		next.MaxAttempts = *v.MaxAttempts
	}
	if v.BackoffMS != nil {
		next.Backoff = time.Duration(*v.BackoffMS) * time.Millisecond
	}
	s.SetAsync(&next)
	return http.StatusOK, s.asyncView()
}
