package mpesa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"
)

// A CredentialStore shares the credential of a gateway application (an
// OpenAPI session, a Daraja access token) between the replicas of a
// service, so that they hold one between them: N replicas that open N
// sessions run into per-session limits, and on Daraja each new token may
// invalidate the previous one, so replicas refreshing on their own log each
// other out. The redisstore module implements it on Redis.
//
// A Client with a store keeps using its own copy of the credential until its
// refresh window: at steady state a call makes no round trip to the store.
// Only a refresh does: the client loads what the store holds, takes the
// refresh lease when the stored credential is due too, fetches a new one
// from the gateway and stores it, while the other replicas wait for it. When
// the store cannot be reached, the client fetches a credential of its own
// and says so in its log: payments go on.
//
// Keys name a gateway, an environment and an application, never a secret.
// Implementations must be safe for concurrent use.
type CredentialStore interface {
	// Load returns the credential stored under key; ok is false when there
	// is none.
	Load(ctx context.Context, key string) (cred SharedCredential, ok bool, err error)
	// Lease takes the right to refresh key's credential for ttl, unless
	// another replica holds it. The fence grows with every lease granted;
	// Store checks it.
	Lease(ctx context.Context, key string, ttl time.Duration) (fence int64, ok bool, err error)
	// Store saves cred under key if fence is still key's newest lease (a
	// replica whose lease ran out cannot overwrite a newer credential;
	// ErrStaleLease says so), and wakes the replicas waiting in Wait.
	Store(ctx context.Context, key string, cred SharedCredential, fence int64) error
	// Invalidate removes cred from key if it is still the stored one: the
	// gateway refused it.
	Invalidate(ctx context.Context, key string, cred SharedCredential) error
	// Wait returns when key's credential may have changed, or with ctx's
	// error when ctx ends first.
	Wait(ctx context.Context, key string) error
}

// SharedCredential is a credential as a CredentialStore keeps it.
type SharedCredential struct {
	// Value is the session ID or the token.
	Value    Secret
	Obtained time.Time
	Expires  time.Time
}

// ErrStaleLease is returned by CredentialStore.Store when a newer lease was
// granted meanwhile: the credential was not stored.
var ErrStaleLease = errors.New("mpesa: the credential lease was overtaken by another replica")

// WithCredentialStore makes the client share its gateway credential with
// the other replicas that use the same store (see CredentialStore).
func WithCredentialStore(store CredentialStore) Option {
	return func(s *settings) error {
		if store == nil {
			return optionError("WithCredentialStore", "nil CredentialStore")
		}
		s.credentialStore = store
		return nil
	}
}

// sharedKey returns the store key of an application's credential: the
// gateway, the environment and a hash of the identifying key, never the key
// itself.
func sharedKey(g Gateway, env Environment, appKey string) string {
	sum := sha256.Sum256([]byte(appKey))
	return "mpesa/credential/" + g.String() + "/" + env.String() + "/" + hex.EncodeToString(sum[:12])
}

// sharing is what a credCache needs to share its credential.
type sharing struct {
	store CredentialStore
	key   string
	// authorize turns a stored secret into the Authorization header, as
	// fetch does for a new one.
	authorize func(secret string) ([]string, error)
	// leaseTTL bounds one replica's refresh, and the wait of the others.
	leaseTTL time.Duration
	logger   *slog.Logger
}

// obtain returns a new credential: from the store when another replica
// fetched one that is not due for refresh, otherwise from the gateway under
// the store's lease.
func (cc *credCache) obtain(ctx context.Context) (*credential, error) {
	sh := cc.shared
	if sh == nil {
		return cc.fetch(ctx)
	}
	for {
		stored, ok, err := sh.store.Load(ctx, sh.key)
		if err != nil {
			return cc.fetchAlone(ctx, "loading the shared credential failed", err)
		}
		if ok {
			if cred, fresh := cc.adopt(stored); fresh {
				return cred, nil
			}
		}
		fence, leased, err := sh.store.Lease(ctx, sh.key, sh.leaseTTL)
		if err != nil {
			return cc.fetchAlone(ctx, "taking the refresh lease failed", err)
		}
		if leased {
			// Another replica may have stored a credential between our
			// Load and our Lease (its lease ended when it stored):
			// fetching one more would open a second session, or on
			// Daraja log that replica out.
			if stored, ok, err := sh.store.Load(ctx, sh.key); err == nil && ok {
				if cred, fresh := cc.adopt(stored); fresh {
					return cred, nil // our lease runs out on its own
				}
			}
			cred, err := cc.fetch(ctx)
			if err != nil {
				return nil, err // the lease runs out on its own
			}
			sc := SharedCredential{Value: Secret(cred.secret), Obtained: cred.obtained, Expires: cred.expires}
			if err := sh.store.Store(context.WithoutCancel(ctx), sh.key, sc, fence); err != nil {
				sh.logger.Warn("mpesa: storing the shared credential failed; this replica uses its own",
					slog.String("key", sh.key), slog.String("error", err.Error()))
			}
			return cred, nil
		}
		// Another replica refreshes: wait for its credential, no longer
		// than its lease.
		wctx, cancel := context.WithTimeout(ctx, sh.leaseTTL)
		err = sh.store.Wait(wctx, sh.key)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return cc.fetchAlone(ctx, "waiting for the shared credential failed", err)
		}
	}
}

// fetchAlone fetches a credential without the store, and says why.
func (cc *credCache) fetchAlone(ctx context.Context, why string, err error) (*credential, error) {
	cc.shared.logger.Warn("mpesa: "+why+"; this replica fetches a credential of its own",
		slog.String("key", cc.shared.key), slog.String("error", err.Error()))
	return cc.fetch(ctx)
}

// adopt turns a stored credential into one of this client, and reports
// whether it is fresh: not expired, not due for refresh, and not the one
// the gateway last refused.
func (cc *credCache) adopt(sc SharedCredential) (*credential, bool) {
	now := cc.now()
	cred := &credential{secret: string(sc.Value), obtained: sc.Obtained, expires: sc.Expires}
	if !now.Before(cc.refreshAt(cred)) {
		return nil, false
	}
	cc.mu.Lock()
	refused := cc.refusedSecret == cred.secret
	cc.mu.Unlock()
	if refused {
		return nil, false
	}
	authz, err := cc.shared.authorize(cred.secret)
	if err != nil {
		return nil, false
	}
	cred.authz = authz
	return cred, true
}

// forget tells the store that the gateway refused s.
func (cc *credCache) forget(s *credential) {
	if cc.shared == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cc.shared.leaseTTL)
	defer cancel()
	sc := SharedCredential{Value: Secret(s.secret), Obtained: s.obtained, Expires: s.expires}
	if err := cc.shared.store.Invalidate(ctx, cc.shared.key, sc); err != nil {
		cc.shared.logger.Warn("mpesa: invalidating the shared credential failed",
			slog.String("key", cc.shared.key), slog.String("error", err.Error()))
	}
}
