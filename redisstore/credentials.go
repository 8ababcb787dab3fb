package redisstore

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mpesa-go/mpesa"
)

// Credentials is the mpesa.CredentialStore of a Store: the credential of a
// gateway application, its refresh lease and its fence, on Redis.
//
// It also remembers, in this process, the credentials it was asked to
// invalidate, until they expire: Load never returns one of them, and
// removes it from Redis when Redis could not be told before. Otherwise a
// replica whose Invalidate failed (Redis away for a moment) would load the
// refused credential again as soon as Redis is back.
type Credentials struct {
	s       *Store
	refused *refusals
	seen    *seenValues
}

// refusals are the credentials refused in this process, by mpesa key.
type refusals struct {
	mu sync.Mutex
	m  map[string]refusal
}

// refusal is a credential the gateway refused: the hash of its value.
type refusal struct {
	sum     [sha256.Size]byte
	expires time.Time
}

var _ mpesa.CredentialStore = (*Credentials)(nil)

// fenceTTL is how long a fence counter outlives its last lease. A counter
// that expired, or that a restarted Redis lost, starts again from the
// server's clock in microseconds, above every fence granted before (unless
// the clock went back).
const fenceTTL = 30 * 24 * time.Hour

// minCredentialTTL keeps a credential that is about to expire for a moment
// rather than refuse it.
const minCredentialTTL = time.Second

// leaseScript grants the refresh lease: SET NX PX, with the fence INCR'd,
// unless the credential changed since the caller loaded it.
//
//	KEYS[1] lease, KEYS[2] fence, KEYS[3] value
//	ARGV[1] lease ttl (ms), ARGV[2] fence ttl (ms),
//	ARGV[3] SHA-1 of the value the caller loaded ("" for none, "*" for unknown)
//	returns the new fence, 0 when another replica holds the lease, -1 when
//	the value changed since the caller loaded it
var leaseScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
	return 0
end
if ARGV[3] ~= '*' then
	local v = redis.call('GET', KEYS[3])
	local seen = ''
	if v then
		seen = redis.sha1hex(v)
	end
	if seen ~= ARGV[3] then
		return -1
	end
end
if redis.call('EXISTS', KEYS[2]) == 0 then
	local t = redis.call('TIME')
	redis.call('SET', KEYS[2], t[1] .. string.format('%06d', tonumber(t[2])))
end
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local fence = redis.call('GET', KEYS[2])
redis.call('SET', KEYS[1], fence, 'NX', 'PX', ARGV[1])
return tonumber(fence)
`)

// storeScript saves a credential if the fence is still the newest, ends the
// lease it belongs to and wakes the waiters.
//
//	KEYS[1] value, KEYS[2] lease, KEYS[3] fence
//	ARGV[1] fence, ARGV[2] value, ARGV[3] ttl (ms), ARGV[4] channel, ARGV[5] message
//	returns 1 when stored, 0 when the fence is stale
var storeScript = redis.NewScript(`
if redis.call('GET', KEYS[3]) ~= ARGV[1] then
	return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if redis.call('GET', KEYS[2]) == ARGV[1] then
	redis.call('DEL', KEYS[2])
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`)

// invalidateScript removes a value if it is still the one read, and wakes
// the waiters.
//
//	KEYS[1] value; ARGV[1] the value read, ARGV[2] channel, ARGV[3] message
//	returns 1 when removed, 0 when the value changed meanwhile
var invalidateScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`)

// credentialKeys are the Redis keys of one credential, in one hash slot.
type credentialKeys struct{ value, lease, fence string }

func (c *Credentials) keys(key string) credentialKeys {
	base := c.s.cfg.prefix + "credential:{" + keyPart(key) + "}"
	return credentialKeys{value: base, lease: base + ":lease", fence: base + ":fence"}
}

// channel is where credential changes are announced, with the
// mpesa key as message.
func (c *Credentials) channel() string { return c.s.cfg.prefix + "credential-changed" }

// storedCredential is a credential as it is kept in Redis, as JSON: the
// secret in plain text, or sealed under the key KeyID.
type storedCredential struct {
	Version  int       `json:"v"`
	Obtained time.Time `json:"obtained"`
	Expires  time.Time `json:"expires"`
	Secret   string    `json:"secret,omitempty"`
	KeyID    string    `json:"key_id,omitempty"`
	Nonce    []byte    `json:"nonce,omitempty"`
	Sealed   []byte    `json:"sealed,omitempty"`
}

// String hides the secret.
func (sc storedCredential) String() string { return "redisstore.storedCredential{…}" }

// Format writes String whatever the verb.
func (sc storedCredential) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, sc.String()) }

// aad binds a sealed secret to its key and its times, so that it cannot be
// moved under another key or given another expiry.
func credentialAAD(key string, obtained, expires time.Time) []byte {
	return []byte("mpesa/redisstore/credential/v1\x00" + key + "\x00" +
		strconv.FormatInt(obtained.UnixNano(), 10) + "\x00" + strconv.FormatInt(expires.UnixNano(), 10))
}

// encode returns the value kept for cred under key.
func (c *Credentials) encode(key string, cred mpesa.SharedCredential) (string, error) {
	sc := storedCredential{Version: 1, Obtained: cred.Obtained, Expires: cred.Expires}
	if sl := c.s.cfg.sealer; sl != nil {
		kid, nonce, sealed, err := sl.seal([]byte(cred.Value), credentialAAD(key, cred.Obtained, cred.Expires))
		if err != nil {
			return "", err
		}
		sc.KeyID, sc.Nonce, sc.Sealed = kid, nonce, sealed
	} else {
		sc.Secret = string(cred.Value)
	}
	b, err := json.Marshal(sc)
	if err != nil {
		return "", fmt.Errorf("redisstore: encoding the credential of %q: %w", key, err)
	}
	return string(b), nil
}

// errPlainIgnored: a store with encryption found a credential in plain text.
var errPlainIgnored = errors.New("stored in plain text")

// decode reads a value kept under key. Its errors never hold the value.
func (c *Credentials) decode(key, raw string) (mpesa.SharedCredential, error) {
	var sc storedCredential
	if err := json.Unmarshal([]byte(raw), &sc); err != nil {
		return mpesa.SharedCredential{}, errors.New("not a stored credential")
	}
	if sc.Version != 1 {
		return mpesa.SharedCredential{}, fmt.Errorf("stored credential version %d is not known", sc.Version)
	}
	out := mpesa.SharedCredential{Obtained: sc.Obtained, Expires: sc.Expires}
	sl := c.s.cfg.sealer
	switch {
	case sc.KeyID == "" && sl != nil:
		return mpesa.SharedCredential{}, errPlainIgnored
	case sc.KeyID == "":
		if sc.Secret == "" {
			return mpesa.SharedCredential{}, errors.New("a stored credential without its value")
		}
		out.Value = mpesa.Secret(sc.Secret)
	case sl == nil:
		return mpesa.SharedCredential{}, fmt.Errorf("sealed under key ID %q, and this store has no encryption keys (WithEncryption)", sc.KeyID)
	default:
		pt, err := sl.open(sc.KeyID, sc.Nonce, sc.Sealed, credentialAAD(key, sc.Obtained, sc.Expires))
		if err != nil {
			return mpesa.SharedCredential{}, err
		}
		out.Value = mpesa.Secret(pt)
	}
	return out, nil
}

// Load implements mpesa.CredentialStore. A credential stored in plain text
// is not found by a store with encryption.
func (c *Credentials) Load(ctx context.Context, key string) (mpesa.SharedCredential, bool, error) {
	cred, _, ok, err := c.load(ctx, key)
	return cred, ok, err
}

// remember notes that cred was refused, until it expires.
func (c *Credentials) remember(key string, cred mpesa.SharedCredential) {
	rs := c.refused
	rs.mu.Lock()
	defer rs.mu.Unlock()
	now := time.Now()
	for k, r := range rs.m {
		if !now.Before(r.expires) {
			delete(rs.m, k)
		}
	}
	if rs.m == nil {
		rs.m = map[string]refusal{}
	}
	expires := cred.Expires
	if expires.IsZero() || expires.Sub(now) > 24*time.Hour {
		expires = now.Add(24 * time.Hour)
	}
	rs.m[key] = refusal{sum: sha256.Sum256([]byte(cred.Value)), expires: expires}
}

// isRefused reports whether value is the refused credential of key.
func (c *Credentials) isRefused(key string, value mpesa.Secret) bool {
	c.refused.mu.Lock()
	r, ok := c.refused.m[key]
	c.refused.mu.Unlock()
	if !ok || !time.Now().Before(r.expires) {
		return false
	}
	sum := sha256.Sum256([]byte(value))
	return subtle.ConstantTimeCompare(sum[:], r.sum[:]) == 1
}

// load returns the credential under key and its raw value; a credential
// this process knows to be refused is not found, and is removed from
// Redis.
func (c *Credentials) load(ctx context.Context, key string) (mpesa.SharedCredential, string, bool, error) {
	cred, raw, ok, err := c.loadRaw(ctx, key)
	if ok && c.isRefused(key, cred.Value) {
		// Refused, and Redis was not told: tell it now.
		k := c.keys(key)
		err := c.s.do(ctx, "invalidate", k.value, func(ctx context.Context) error {
			return invalidateScript.Run(ctx, c.s.rdb, []string{k.value}, raw, c.channel(), key).Err()
		})
		if err == nil {
			c.seen.set(key, "", false)
		}
		return mpesa.SharedCredential{}, "", false, nil
	}
	return cred, raw, ok, err
}

// loadRaw returns the credential under key and its raw value.
func (c *Credentials) loadRaw(ctx context.Context, key string) (mpesa.SharedCredential, string, bool, error) {
	k := c.keys(key)
	var raw string
	err := c.s.do(ctx, "load", k.value, func(ctx context.Context) (err error) {
		raw, err = c.s.rdb.Get(ctx, k.value).Result()
		return err
	})
	if errors.Is(err, redis.Nil) {
		c.seen.set(key, "", false)
		return mpesa.SharedCredential{}, "", false, nil
	}
	if err != nil {
		return mpesa.SharedCredential{}, "", false, err
	}
	c.seen.set(key, raw, true)
	cred, err := c.decode(key, raw)
	if errors.Is(err, errPlainIgnored) {
		c.s.cfg.logger.Info("redisstore: a credential stored in plain text is ignored; this store encrypts",
			slog.String("key", k.value))
		return mpesa.SharedCredential{}, raw, false, nil
	}
	if err != nil {
		return mpesa.SharedCredential{}, "", false, &opError{op: "load", key: k.value, msg: err.Error(), err: err}
	}
	return cred, raw, true, nil
}

// Lease implements mpesa.CredentialStore with SET NX PX and an INCR'd
// fence (leaseScript). It is also refused (ok false, as when another
// replica holds the lease) when the credential changed since this process
// last loaded it: another replica refreshed between the caller's Load and
// its Lease, and the caller, which then waits and loads again, adopts that
// credential instead of fetching one more.
func (c *Credentials) Lease(ctx context.Context, key string, ttl time.Duration) (int64, bool, error) {
	if ttl < time.Millisecond {
		return 0, false, fmt.Errorf("redisstore: lease %q: ttl %v is below a millisecond", key, ttl)
	}
	k := c.keys(key)
	var fence int64
	err := c.s.do(ctx, "lease", k.lease, func(ctx context.Context) (err error) {
		fence, err = leaseScript.Run(ctx, c.s.rdb, []string{k.lease, k.fence, k.value},
			ttl.Milliseconds(), fenceTTL.Milliseconds(), c.seen.get(key)).Int64()
		return err
	})
	if err != nil {
		return 0, false, err
	}
	return fence, fence > 0, nil
}

// seenValues remembers, by mpesa key, the SHA-1 of the value this process
// last loaded ("" for none), for the lease's check.
type seenValues struct {
	mu sync.Mutex
	m  map[string]string
}

func (sv *seenValues) set(key, raw string, found bool) {
	h := ""
	if found {
		sum := sha1.Sum([]byte(raw))
		h = hex.EncodeToString(sum[:])
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.m == nil {
		sv.m = map[string]string{}
	}
	sv.m[key] = h
}

// get returns the SHA-1 last seen for key, or "*" when none was loaded.
func (sv *seenValues) get(key string) string {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if h, ok := sv.m[key]; ok {
		return h
	}
	return "*"
}

// Store implements mpesa.CredentialStore (storeScript). The credential is
// kept until it expires, and sealed when the store has WithEncryption.
func (c *Credentials) Store(ctx context.Context, key string, cred mpesa.SharedCredential, fence int64) error {
	k := c.keys(key)
	val, err := c.encode(key, cred)
	if err != nil {
		return err
	}
	ttl := max(time.Until(cred.Expires), minCredentialTTL)
	var stored int64
	err = c.s.do(ctx, "store", k.value, func(ctx context.Context) (err error) {
		stored, err = storeScript.Run(ctx, c.s.rdb, []string{k.value, k.lease, k.fence},
			strconv.FormatInt(fence, 10), val, ttl.Milliseconds(), c.channel(), key).Int64()
		return err
	})
	if err != nil {
		return scrub(err, string(cred.Value), val)
	}
	if stored == 0 {
		return mpesa.ErrStaleLease
	}
	return nil
}

// Invalidate implements mpesa.CredentialStore: it reads the stored
// credential and removes it if it holds cred's value and has not changed
// since (invalidateScript).
func (c *Credentials) Invalidate(ctx context.Context, key string, cred mpesa.SharedCredential) error {
	c.remember(key, cred)
	stored, raw, ok, err := c.loadRaw(ctx, key)
	if err != nil || !ok || subtle.ConstantTimeCompare([]byte(stored.Value), []byte(cred.Value)) != 1 {
		return scrub(err, string(cred.Value), raw)
	}
	k := c.keys(key)
	err = c.s.do(ctx, "invalidate", k.value, func(ctx context.Context) error {
		return invalidateScript.Run(ctx, c.s.rdb, []string{k.value}, raw, c.channel(), key).Err()
	})
	return scrub(err, string(cred.Value), raw)
}

// Wait implements mpesa.CredentialStore. It returns when a credential is
// stored or invalidated under key, or when nobody holds the refresh lease
// (the refresh ended, or its lease ran out); it subscribes before it looks
// (waiting for the subscription no longer than the store's timeout), and
// looks again every poll interval in case a message was lost. Its errors
// come within about twice the store's timeout when Redis does not answer.
func (c *Credentials) Wait(ctx context.Context, key string) error {
	w, remove, err := c.s.notifier.register(ctx, c.channel(), key, decodeCredentialMessage)
	if err != nil {
		return err
	}
	defer remove()
	if err := c.s.notifier.ready(ctx, c.channel()); ctx.Err() != nil || errors.Is(err, ErrClosed) {
		return err
	}
	k := c.keys(key)
	tick := time.NewTicker(c.s.cfg.poll)
	defer tick.Stop()
	for {
		err := c.s.do(ctx, "wait", k.lease, func(ctx context.Context) error {
			return c.s.rdb.Get(ctx, k.lease).Err()
		})
		if errors.Is(err, redis.Nil) {
			return nil // nobody refreshes
		}
		if err != nil {
			return err
		}
		select {
		case <-w.wake:
			if notified, _ := c.s.notifier.take(w); notified {
				return nil
			}
			// The subscription came back: look again.
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.s.notifier.done:
			return ErrClosed
		}
	}
}

// decodeCredentialMessage: a credential message is the mpesa key.
func decodeCredentialMessage(payload string) ([]string, *mpesa.Result, error) {
	return []string{payload}, nil, nil
}

// String describes the store without its keys.
func (c Credentials) String() string {
	if c.s == nil {
		return "redisstore.Credentials{}"
	}
	return "redisstore.Credentials{" + c.s.String() + "}"
}

// Format writes String whatever the verb.
func (c Credentials) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// scrub keeps secrets out of an error's text, should Redis ever echo a
// value it was sent.
func scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		if s != "" {
			clean = strings.ReplaceAll(clean, s, "[REDACTED]")
		}
	}
	if clean == msg {
		return err
	}
	return &scrubbed{msg: clean, err: err}
}

// scrubbed is an error whose text had a secret removed. It unwraps to the
// sentinels only, never to the error that held the secret.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }

func (e *scrubbed) Is(target error) bool {
	return target == ErrTimeout && errors.Is(e.err, ErrTimeout) ||
		target == context.DeadlineExceeded && errors.Is(e.err, context.DeadlineExceeded) ||
		target == context.Canceled && errors.Is(e.err, context.Canceled)
}
