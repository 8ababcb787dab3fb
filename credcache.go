package mpesa

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// credential is one value a gateway accepts as authorisation: an OpenAPI
// session, a Daraja access token, or the encrypted API key itself. It is
// immutable but for live.
type credential struct {
	// secret is the session ID or token, kept to scrub excerpts.
	secret string
	// authz is the Authorization header value, computed once per
	// credential so that a call at steady state does no RSA work.
	authz    []string
	obtained time.Time
	expires  time.Time
	// usableAt is when the credential is presumed live. One fetched while
	// an older one still serves waits out the activation window; one
	// fetched with nothing to serve is used at once.
	usableAt time.Time
	// live is set by the first call the gateway accepted with it.
	live atomic.Bool
}

// fetchFunc obtains a new credential from the gateway (getSession, the
// OAuth token endpoint). It fills secret, authz, obtained and expires.
type fetchFunc func(ctx context.Context) (*credential, error)

// flight is one fetch in progress, shared by every caller that needs a
// credential meanwhile.
type flight struct {
	done chan struct{}
	cred *credential
	err  error
}

// credCache holds the current credential of a gateway application, fetches
// the next one ahead of expiry, and makes concurrent callers share a single
// fetch. It serves OpenAPI sessions and Daraja tokens alike.
//
// The lock guards only pointer swaps; no I/O happens under it, so a failed
// or slow fetch never blocks callers that hold a valid credential, and a
// caller waiting for a fetch gives up when its own context ends.
type credCache struct {
	fetch fetchFunc
	now   func() time.Time
	// activation is how long a new credential may take to become live
	// (OpenAPI: "up to 30 seconds"). While it has not, the previous one
	// keeps serving; and a refusal of a new credential inside the window
	// is retried with backoff. 0 switches to a new credential at once, as
	// Daraja needs: each new token may invalidate the previous one.
	activation time.Duration
	// ahead returns how long before expiry the next fetch starts, for a
	// credential of the given lifetime.
	ahead func(lifetime time.Duration) time.Duration
	// backoff returns the wait before the n-th warm-up retry.
	backoff func(n int) time.Duration
	// failPause holds back the next early fetch after one failed, so that
	// a failing endpoint is not called on every request while the current
	// credential still serves.
	failPause time.Duration
	// shared, when set, shares the credential with other replicas
	// (credstore.go).
	shared *sharing

	// fresh is the current credential while it is outside its
	// refresh-ahead window: the lock-free path of get. Written under mu.
	fresh atomic.Pointer[credential]

	mu        sync.Mutex
	cur       *credential // serving
	next      *credential // fetched ahead, waiting for usableAt
	flight    *flight     // fetch in progress
	notBefore time.Time
	// refusedSecret is the last credential the gateway refused. A store
	// may still hold it (another replica stored it back, or invalidating
	// it failed): it is never adopted again.
	refusedSecret string
}

// refreshAt returns when the next fetch for cred should start.
func (cc *credCache) refreshAt(cred *credential) time.Time {
	return cred.expires.Add(-cc.ahead(cred.expires.Sub(cred.obtained)))
}

// get returns a credential that has not expired, fetching one if needed.
func (cc *credCache) get(ctx context.Context) (*credential, error) {
	if s := cc.fresh.Load(); s != nil && cc.now().Before(cc.refreshAt(s)) {
		return s, nil
	}
	for {
		cc.mu.Lock()
		now := cc.now()
		if n := cc.next; n != nil && (cc.cur == nil || !now.Before(n.usableAt) || !now.Before(cc.cur.expires)) {
			cc.setCurLocked(n)
			cc.next = nil
		}
		if s := cc.cur; s != nil && now.Before(s.expires) {
			if cc.flight == nil && cc.next == nil && !now.Before(cc.refreshAt(s)) && !now.Before(cc.notBefore) {
				cc.startLocked(ctx)
			}
			cc.mu.Unlock()
			return s, nil
		}
		cc.setCurLocked(nil)
		f := cc.flight
		if f == nil {
			f = cc.startLocked(ctx)
		}
		cc.mu.Unlock()

		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.err != nil {
			return nil, f.err
		}
		if cc.now().Before(f.cred.expires) {
			return f.cred, nil
		}
		// The new credential expired before we could use it (a lifetime
		// shorter than a fetch): go round again.
	}
}

// startLocked starts a fetch. It runs detached from the caller's
// cancellation, so that one caller giving up does not fail the others; the
// fetch itself is bounded by the client's query timeout.
func (cc *credCache) startLocked(ctx context.Context) *flight {
	f := &flight{done: make(chan struct{})}
	cc.flight = f
	fctx := context.WithoutCancel(ctx)
	go func() {
		s, err := cc.obtain(fctx)
		cc.mu.Lock()
		cc.flight = nil
		now := cc.now()
		if err != nil {
			cc.notBefore = now.Add(cc.failPause)
		} else if cc.activation == 0 || cc.cur == nil || !now.Before(cc.cur.expires) {
			s.usableAt = s.obtained
			cc.setCurLocked(s)
			cc.next = nil
		} else {
			s.usableAt = s.obtained.Add(cc.activation)
			cc.next = s
		}
		cc.mu.Unlock()
		f.cred, f.err = s, err
		close(f.done)
	}()
	return f
}

// setCurLocked makes s the serving credential.
func (cc *credCache) setCurLocked(s *credential) {
	cc.cur = s
	cc.fresh.Store(s)
}

// invalidate drops s, and only s, after the gateway refused it. A newer
// credential fetched meanwhile stays.
func (cc *credCache) invalidate(s *credential) {
	cc.mu.Lock()
	cc.refusedSecret = s.secret
	if cc.cur == s {
		cc.setCurLocked(nil)
	}
	if cc.next == s {
		cc.next = nil
	}
	cc.mu.Unlock()
}

// refused implements authenticator. A credential that has not served a call
// yet is given its activation window, with backoff; any other refused
// credential is dropped and a new one fetched, once per call.
func (cc *credCache) refused(s *credential, t *authTries) (time.Duration, bool, string) {
	if !s.live.Load() && cc.activation > 0 {
		if left := s.obtained.Add(cc.activation).Sub(cc.now()); left > 0 {
			t.warmups++
			return min(cc.backoff(t.warmups), left), true, "a new session may take up to 30s to become live"
		}
	}
	if !t.refreshed {
		t.refreshed = true
		cc.invalidate(s)
		cc.forget(s)
		return 0, true, "the gateway refused the credential; fetching a new one and sending again"
	}
	return 0, false, "a fresh credential was refused too"
}

// secrets returns the credentials held, for scrubbing excerpts.
func (cc *credCache) secrets() []string {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	var out []string
	for _, s := range []*credential{cc.cur, cc.next} {
		if s != nil {
			out = append(out, s.secret, s.authz[0][len("Bearer "):])
		}
	}
	return out
}
