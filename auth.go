package mpesa

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// session is one OpenAPI session key with its encrypted bearer. It is
// immutable but for live.
type session struct {
	id string
	// authz is "Bearer " + base64(RSA(id)), computed once per session so
	// that a call at steady state does no RSA work.
	authz    []string
	obtained time.Time
	expires  time.Time
	// usableAt is when the session is presumed live. A session fetched
	// while an older one still serves waits out the activation window; a
	// session fetched with nothing to serve is used at once.
	usableAt time.Time
	// live is set by the first call the gateway accepted with it.
	live atomic.Bool
}

// flight is one getSession call in progress, shared by every caller that
// needs a session meanwhile.
type flight struct {
	done chan struct{}
	s    *session
	err  error
}

// sessionCache holds the current OpenAPI session, fetches the next one ahead
// of expiry, and makes concurrent callers share a single getSession.
//
// The lock guards only pointer swaps; no I/O happens under it, so a failed
// or slow fetch never blocks callers that hold a valid session, and a caller
// waiting for a fetch gives up when its own context ends.
type sessionCache struct {
	c            *Client
	lifetime     time.Duration
	activation   time.Duration
	refreshAhead time.Duration

	// fresh is the current session while it is outside its refresh-ahead
	// window: the lock-free path of get. It is written under mu.
	fresh atomic.Pointer[session]

	mu     sync.Mutex
	cur    *session // serving
	next   *session // fetched ahead, waiting for usableAt
	flight *flight  // fetch in progress
	// notBefore holds back the next early fetch after one failed, so that
	// a failing getSession is not called on every request while the
	// current session still serves.
	notBefore time.Time
}

func newSessionCache(c *Client, lifetime, activation time.Duration) *sessionCache {
	// Start the next session early enough for it to become live before
	// the current one expires, but never earlier than half-way through.
	ahead := min(activation+30*time.Second, lifetime/2)
	return &sessionCache{c: c, lifetime: lifetime, activation: activation, refreshAhead: ahead}
}

// get returns a session that has not expired, fetching one if needed.
func (sc *sessionCache) get(ctx context.Context) (*session, error) {
	if s := sc.fresh.Load(); s != nil && sc.c.now().Before(s.expires.Add(-sc.refreshAhead)) {
		return s, nil
	}
	for {
		sc.mu.Lock()
		now := sc.c.now()
		if n := sc.next; n != nil && (sc.cur == nil || !now.Before(n.usableAt) || !now.Before(sc.cur.expires)) {
			sc.setCurLocked(n)
			sc.next = nil
		}
		if s := sc.cur; s != nil && now.Before(s.expires) {
			if sc.flight == nil && sc.next == nil && !now.Before(s.expires.Add(-sc.refreshAhead)) && !now.Before(sc.notBefore) {
				sc.startLocked(ctx)
			}
			sc.mu.Unlock()
			return s, nil
		}
		sc.setCurLocked(nil)
		f := sc.flight
		if f == nil {
			f = sc.startLocked(ctx)
		}
		sc.mu.Unlock()

		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.err != nil {
			return nil, f.err
		}
		if sc.c.now().Before(f.s.expires) {
			return f.s, nil
		}
		// The new session expired before we could use it (a lifetime
		// shorter than a fetch): go round again.
	}
}

// startLocked starts a fetch. It runs detached from the caller's
// cancellation, so that one caller giving up does not fail the others, and
// is bounded by the query timeout.
func (sc *sessionCache) startLocked(ctx context.Context) *flight {
	f := &flight{done: make(chan struct{})}
	sc.flight = f
	fctx := context.WithoutCancel(ctx)
	go func() {
		s, err := sc.fetch(fctx)
		sc.mu.Lock()
		sc.flight = nil
		now := sc.c.now()
		if err != nil {
			sc.notBefore = now.Add(sc.c.backoffMax)
		} else {
			if sc.cur == nil || !now.Before(sc.cur.expires) {
				s.usableAt = s.obtained
				sc.setCurLocked(s)
			} else {
				s.usableAt = s.obtained.Add(sc.activation)
				sc.next = s
			}
		}
		sc.mu.Unlock()
		f.s, f.err = s, err
		close(f.done)
	}()
	return f
}

// setCurLocked makes s the serving session.
func (sc *sessionCache) setCurLocked(s *session) {
	sc.cur = s
	sc.fresh.Store(s)
}

// fetch calls getSession and encrypts the new session ID.
func (sc *sessionCache) fetch(ctx context.Context) (*session, error) {
	c := sc.c
	out, err := c.do(ctx, APIGetSession, nil, "")
	if err != nil {
		return nil, err
	}
	if out.SessionID == "" {
		e := c.newError(APIGetSession, "", ErrSessionCreation, errors.New("answer without output_SessionID"))
		e.Code = string(out.ResponseCode)
		return nil, e
	}
	bearer, err := encryptBearer(c.cred.pub, string(out.SessionID))
	if err != nil {
		return nil, c.newError(APIGetSession, "", ErrSessionCreation, err)
	}
	now := c.now()
	return &session{
		id:       string(out.SessionID),
		authz:    []string{"Bearer " + bearer},
		obtained: now,
		expires:  now.Add(sc.lifetime),
	}, nil
}

// invalidate drops s, and only s, after the gateway refused it. A newer
// session fetched meanwhile stays.
func (sc *sessionCache) invalidate(s *session) {
	sc.mu.Lock()
	if sc.cur == s {
		sc.setCurLocked(nil)
	}
	if sc.next == s {
		sc.next = nil
	}
	sc.mu.Unlock()
}

// secrets returns the session IDs and bearers held, for scrubbing excerpts.
func (sc *sessionCache) secrets() []string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	var out []string
	for _, s := range []*session{sc.cur, sc.next} {
		if s != nil {
			out = append(out, s.id, s.authz[0][len("Bearer "):])
		}
	}
	return out
}
