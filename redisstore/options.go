package redisstore

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// An Option configures a Store. New reports every invalid option, each by
// name.
type Option func(*config) error

// config is what the options set.
type config struct {
	prefix          string
	timeout         time.Duration
	poll            time.Duration
	claimLease      time.Duration
	dedupRetention  time.Duration
	resultRetention time.Duration
	sealer          *sealer
	logger          *slog.Logger
}

func optionError(name, format string, args ...any) error {
	return fmt.Errorf("redisstore: %s: %s", name, fmt.Sprintf(format, args...))
}

// inRange checks that d is within [lo, hi].
func inRange(name string, d, lo, hi time.Duration) error {
	if d < lo || d > hi {
		return optionError(name, "%v is outside [%v, %v]", d, lo, hi)
	}
	return nil
}

// WithPrefix starts every key and channel name of the store with prefix
// instead of DefaultPrefix, so that several services, or tests, share one
// Redis. Replicas of one service must use the same prefix. It is 1 to 64
// printable ASCII characters, without spaces or hash-tag braces.
func WithPrefix(prefix string) Option {
	return func(c *config) error {
		if prefix == "" || len(prefix) > 64 {
			return optionError("WithPrefix", "the prefix must be 1 to 64 characters, not %d", len(prefix))
		}
		for i := 0; i < len(prefix); i++ {
			if b := prefix[i]; b <= ' ' || b >= 0x7f {
				return optionError("WithPrefix", "the prefix may hold printable ASCII characters other than space only")
			}
		}
		if strings.ContainsAny(prefix, "{}") {
			return optionError("WithPrefix", "the prefix may not hold '{' or '}', which Redis Cluster reads as a hash tag")
		}
		c.prefix = prefix
		return nil
	}
}

// WithTimeout bounds each Redis command of the store, DefaultTimeout by
// default, within (0, 1m]. An unreachable Redis costs a credential refresh
// or a callback at most about this long before the client fetches its own
// credential or the handler answers 503.
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if err := inRange("WithTimeout", d, time.Millisecond, time.Minute); err != nil {
			return err
		}
		c.timeout = d
		return nil
	}
}

// WithPollInterval sets how often a waiter (Credentials.Wait,
// ResultBus.Wait) looks at Redis itself in case a notification was lost,
// DefaultPollInterval by default, within [10ms, 1m].
func WithPollInterval(d time.Duration) Option {
	return func(c *config) error {
		if err := inRange("WithPollInterval", d, 10*time.Millisecond, time.Minute); err != nil {
			return err
		}
		c.poll = d
		return nil
	}
}

// WithClaimLease sets how long a claim of the de-duplication store holds a
// result, DefaultClaimLease by default, within [10ms, 24h]. It must outlast
// the slowest processing of a result (the status query of
// VerifyWithStatusQuery and the ResultFunc): a longer one only delays the
// redelivery of a result whose replica died mid-handling, a shorter one lets
// a slow result be processed twice (Complete then returns ErrClaimLost).
func WithClaimLease(d time.Duration) Option {
	return func(c *config) error {
		if err := inRange("WithClaimLease", d, 10*time.Millisecond, 24*time.Hour); err != nil {
			return err
		}
		c.claimLease = d
		return nil
	}
}

// WithDedupRetention sets how long the de-duplication store remembers a
// processed result, mpesa.DefaultDedupTTL by default, within [1s, 366 days]:
// a redelivery within it is acknowledged without being processed again.
func WithDedupRetention(d time.Duration) Option {
	return func(c *config) error {
		if err := inRange("WithDedupRetention", d, time.Second, 366*24*time.Hour); err != nil {
			return err
		}
		c.dedupRetention = d
		return nil
	}
}

// WithResultRetention sets how long a published result stays in Redis for
// an Await that starts after it arrived, mpesa.DefaultResultsTTL by
// default, within [1s, 24h]. Keep it at least the ttl of the replicas'
// Results hubs.
func WithResultRetention(d time.Duration) Option {
	return func(c *config) error {
		if err := inRange("WithResultRetention", d, time.Second, 24*time.Hour); err != nil {
			return err
		}
		c.resultRetention = d
		return nil
	}
}

// WithLogger makes the store log to l, instead of slog.Default(): at warn
// level when its subscription to Redis is lost or a value it reads cannot be
// used, at info level when the subscription is back. It logs key names and
// Redis's errors, never a credential.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return optionError("WithLogger", "nil *slog.Logger")
		}
		c.logger = l
		return nil
	}
}

// WithEncryption makes the store encrypt the credentials it keeps (the
// session IDs and tokens) with AES-GCM under current, and decrypt those
// sealed under current or any of previous. Each value carries the ID of its
// key, so that keys can rotate: first give every replica the new key in
// previous, then make it current, and drop the old key once the credentials
// it sealed have expired. Replicas that share credentials must be able to
// open each other's.
//
// A credential stored in plain text is ignored by a store with encryption,
// which then fetches a new one and stores it sealed; one sealed under a key
// the store lacks is an error (the client then fetches its own and logs it).
func WithEncryption(current EncryptionKey, previous ...EncryptionKey) Option {
	return func(c *config) error {
		s, err := newSealer(current, previous)
		if err != nil {
			return optionError("WithEncryption", "%s", err)
		}
		c.sealer = s
		return nil
	}
}
