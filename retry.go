package mpesa

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Defaults of the retry budget: a client may spend DefaultRetryBurst
// retries at once, and earns DefaultRetryRefill more each second.
const (
	DefaultRetryBurst  = 20
	DefaultRetryRefill = 2.0
	// DefaultMaxRetryAfter is the longest Retry-After the client waits for;
	// a gateway that asks for more ends the call.
	DefaultMaxRetryAfter = 30 * time.Second
)

// retryBudget is a token bucket shared by every call of a client. Each
// retry takes a token, and tokens come back with time. When a gateway
// fails everything (a 5xx storm), the first calls retry and the later ones
// fail at once, so that the client does not multiply the traffic of a
// struggling gateway by its retry count.
type retryBudget struct {
	mu     sync.Mutex
	burst  float64
	refill float64 // tokens per second
	tokens float64
	last   time.Time
	now    func() time.Time
}

func newRetryBudget(burst int, refill float64) *retryBudget {
	return &retryBudget{burst: float64(burst), refill: refill, tokens: float64(burst), now: time.Now}
}

// take spends one token, and reports false when there is none.
func (b *retryBudget) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.refill)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// succeeded is called after every successful call. It is where a budget
// that also refunds on success would do so; this one refills with time
// only, so that the steady-state path takes no lock.
func (b *retryBudget) succeeded() {}

// backoff returns the wait before retry n (1-based): full jitter over an
// exponentially growing cap.
func (c *Client) backoff(n int) time.Duration {
	d := c.backoffMax
	if n < 30 {
		if capped := c.backoffBase << (n - 1); capped > 0 && capped < d {
			d = capped
		}
	}
	return rand.N(d + 1)
}

// pause waits d unless ctx ends first; it logs why it retries.
func (c *Client) pause(ctx context.Context, e *Error, attempt int, d time.Duration, reason string) bool {
	if c.logger.Enabled(ctx, slog.LevelDebug) {
		c.logger.LogAttrs(ctx, slog.LevelDebug, "mpesa: retrying",
			slog.String("api", e.API.String()), slog.Int("attempt", attempt),
			slog.String("reason", reason), slog.Duration("wait", d), slog.String("error", e.Error()))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		c.notRetrying(ctx, e, attempt, "the caller's context ended during the backoff")
		return false
	}
}

// notRetrying logs why a failure ends the call.
func (c *Client) notRetrying(ctx context.Context, e *Error, attempt int, reason string) {
	if c.logger.Enabled(ctx, slog.LevelDebug) {
		c.logger.LogAttrs(ctx, slog.LevelDebug, "mpesa: not retrying",
			slog.String("api", e.API.String()), slog.Int("attempt", attempt),
			slog.String("reason", reason), slog.String("error", e.Error()))
	}
}

func (c *Client) debug(ctx context.Context, msg string, e *Error, attempt int) {
	if c.logger.Enabled(ctx, slog.LevelDebug) {
		c.logger.LogAttrs(ctx, slog.LevelDebug, msg,
			slog.String("api", e.API.String()), slog.Int("attempt", attempt), slog.String("error", e.Error()))
	}
}
