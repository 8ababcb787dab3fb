package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mpesa-go/mpesa"
)

// Defaults of a Store.
const (
	// DefaultPrefix starts every key and channel name of a Store.
	DefaultPrefix = "mpesa:"
	// DefaultTimeout bounds each Redis command of the store, so that an
	// unreachable Redis fails a refresh or a callback promptly.
	DefaultTimeout = time.Second
	// DefaultPollInterval is how often a waiter looks at Redis itself,
	// in case a notification was lost.
	DefaultPollInterval = time.Second
	// DefaultClaimLease is how long a claim of the de-duplication store
	// holds a result before another replica may process it.
	DefaultClaimLease = 2 * time.Minute
)

// ErrClaimLost is returned by Dedup.Complete when the claim's lease ran out
// before the result was processed and another delivery claimed or completed
// the result meanwhile: the result may have been processed twice. Make the
// lease (WithClaimLease) longer than the slowest ResultFunc.
var ErrClaimLost = errors.New("redisstore: the claim's lease ran out before the result was completed")

// ErrTimeout is matched by the error of a command that Redis did not answer
// within the store's timeout (WithTimeout).
var ErrTimeout = errors.New("redisstore: no answer from Redis in time")

// ErrClosed is returned by the waits of a Store that was closed.
var ErrClosed = errors.New("redisstore: store closed")

// Store keeps what the replicas of a service share in one Redis: the gateway
// credential (Credentials), the callback de-duplication (Dedup) and the
// results that awaiting code waits for (Results). It is safe for concurrent
// use; each replica makes its own.
type Store struct {
	rdb      redis.UniversalClient
	cfg      config
	notifier *notifier
	creds    Credentials
	dedup    Dedup
	results  ResultBus
}

// New returns a Store on rdb. rdb must be created with
// ContextTimeoutEnabled set, so that the store's timeout bounds each
// command (New checks it for *redis.Client, *redis.ClusterClient and
// *redis.Ring). Every invalid option is reported, each by name. The store
// does not close rdb; Close stops what the store started.
func New(rdb redis.UniversalClient, opts ...Option) (*Store, error) {
	cfg := config{
		prefix:          DefaultPrefix,
		timeout:         DefaultTimeout,
		poll:            DefaultPollInterval,
		claimLease:      DefaultClaimLease,
		dedupRetention:  mpesa.DefaultDedupTTL,
		resultRetention: mpesa.DefaultResultsTTL,
	}
	var errs []error
	if rdb == nil {
		errs = append(errs, errors.New("redisstore: New: nil Redis client"))
	} else if enabled, known := contextTimeoutEnabled(rdb); known && !enabled {
		errs = append(errs, errors.New("redisstore: New: the Redis client must have ContextTimeoutEnabled set, so that the store's timeout bounds every command"))
	}
	for i, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("redisstore: New: option %d is nil", i))
			continue
		}
		if err := o(&cfg); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	s := &Store{rdb: rdb, cfg: cfg}
	s.notifier = newNotifier(rdb, cfg.logger, cfg.timeout)
	s.creds.s, s.dedup.s, s.results.s = s, s, s
	s.creds.refused, s.creds.seen = &refusals{}, &seenValues{}
	return s, nil
}

// contextTimeoutEnabled reports the ContextTimeoutEnabled setting of the
// clients go-redis makes; known is false for any other UniversalClient.
func contextTimeoutEnabled(rdb redis.UniversalClient) (enabled, known bool) {
	switch c := rdb.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled, true
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled, true
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled, true
	}
	return false, false
}

// Credentials returns the store's mpesa.CredentialStore, for
// mpesa.WithCredentialStore.
func (s *Store) Credentials() *Credentials { return &s.creds }

// Dedup returns the store's mpesa.DedupStore, for mpesa.Deduplicate.
func (s *Store) Dedup() *Dedup { return &s.dedup }

// Results returns the store's mpesa.ResultBus, for mpesa.ShareResults.
func (s *Store) Results() *ResultBus { return &s.results }

// Close ends the waits in progress with ErrClosed and stops the store's
// subscription to Redis, without waiting for a Redis that does not answer.
// It does not close the Redis client. It may be called more than once.
func (s *Store) Close() error {
	s.notifier.close()
	return nil
}

// String describes the store by its prefix; it never shows a key.
func (s Store) String() string {
	enc := ""
	if s.cfg.sealer != nil {
		enc = ", encrypted with key " + strconv.Quote(s.cfg.sealer.current.id)
	}
	return "redisstore.Store{prefix: " + strconv.Quote(s.cfg.prefix) + enc + "}"
}

// GoString is String.
func (s Store) GoString() string { return s.String() }

// Format writes String whatever the verb, so that no verb prints the
// encryption keys.
func (s Store) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// do runs one Redis operation within the store's timeout. An operation that
// the timeout cut, not ctx, matches ErrTimeout and not
// context.DeadlineExceeded: the caller's own deadline is not over.
func (s *Store) do(ctx context.Context, op, key string, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	err := fn(octx)
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	return classify(ctx, octx, s.cfg.timeout, op, key, err)
}

// classify turns the error of an operation run under octx, a context of
// ctx bounded by timeout, into the store's error.
func classify(ctx, octx context.Context, timeout time.Duration, op, key string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if octx.Err() != nil || isTimeout(err) {
		return &opError{op: op, key: key, msg: "no answer within " + timeout.String(), err: ErrTimeout}
	}
	return &opError{op: op, key: key, msg: err.Error(), err: err}
}

// opError is the error of a Redis operation. Its text names the operation
// and the store key (never a secret) and the Redis client's error.
type opError struct {
	op, key, msg string
	err          error
}

func (e *opError) Error() string {
	return "redisstore: " + e.op + " " + strconv.Quote(e.key) + ": " + e.msg
}

func (e *opError) Unwrap() error { return e.err }

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// maxKeyPart is the longest caller-given part kept as is in a Redis key;
// longer ones (a callback may carry anything) are hashed.
const maxKeyPart = 200

// keyPart returns s as it goes into a Redis key: itself when it is short
// and has no hash-tag braces, else "sha256:" and its hash.
func keyPart(s string) string {
	if len(s) <= maxKeyPart && !strings.ContainsAny(s, "{}") {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}
