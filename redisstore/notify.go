package redisstore

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mpesa-go/mpesa"
)

// notifier holds the store's one subscription to Redis and hands the
// messages on its channels to the waiters in this process.
//
// A waiter registers first, then waits until the channel's subscription is
// confirmed (ready), then reads Redis: whatever is published after the read
// reaches it. When the subscription is lost, messages published meanwhile
// are lost with it; when it is confirmed again, every waiter of the channel
// is woken to read Redis once more, so that none misses a change. Waiters
// also read Redis every poll interval, in case the connection died without
// the notifier noticing.
type notifier struct {
	rdb     redis.UniversalClient
	logger  *slog.Logger
	timeout time.Duration

	mu      sync.Mutex
	ps      *redis.PubSub
	decode  map[string]decodeFunc    // by channel, for the channels wanted
	live    map[string]chan struct{} // by channel: closed while subscribed
	waiters map[waitKey]map[*waiter]struct{}
	down    bool // the subscription was lost and is not back
	closed  bool
	done    chan struct{} // closed by close
}

// decodeFunc turns a message into the IDs it concerns and, for a result,
// the result itself.
type decodeFunc func(payload string) (ids []string, res *mpesa.Result, err error)

type waitKey struct{ channel, id string }

// waiter is one wait in progress. wake is signalled when a message for its
// ID arrived (notified, with res for a result) or when the subscription was
// confirmed again and Redis must be read once more.
type waiter struct {
	wake     chan struct{}
	notified bool
	res      *mpesa.Result
}

func newNotifier(rdb redis.UniversalClient, logger *slog.Logger, timeout time.Duration) *notifier {
	return &notifier{
		rdb: rdb, logger: logger, timeout: timeout,
		decode:  map[string]decodeFunc{},
		live:    map[string]chan struct{}{},
		waiters: map[waitKey]map[*waiter]struct{}{},
		done:    make(chan struct{}),
	}
}

// register adds a waiter for id on channel and subscribes to the channel
// if nobody did yet. The returned function removes the waiter.
func (n *notifier) register(ctx context.Context, channel, id string, decode decodeFunc) (*waiter, func(), error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, nil, ErrClosed
	}
	w := &waiter{wake: make(chan struct{}, 1)}
	k := waitKey{channel, id}
	if n.waiters[k] == nil {
		n.waiters[k] = map[*waiter]struct{}{}
	}
	n.waiters[k][w] = struct{}{}
	var subscribe bool
	if _, ok := n.decode[channel]; !ok {
		n.decode[channel] = decode
		n.live[channel] = make(chan struct{})
		subscribe = true
		if n.ps == nil {
			n.ps = n.rdb.Subscribe(context.WithoutCancel(ctx))
			go n.run(n.ps)
		}
	}
	ps := n.ps
	n.mu.Unlock()
	remove := func() {
		n.mu.Lock()
		delete(n.waiters[k], w)
		if len(n.waiters[k]) == 0 {
			delete(n.waiters, k)
		}
		n.mu.Unlock()
	}
	if subscribe {
		// PubSub.Subscribe waits for PubSub's lock, which a dial in
		// progress holds for as long as the client's timeouts: run it
		// aside and wait for it no longer than the store's timeout.
		// go-redis keeps the channel either way and subscribes to it
		// whenever it (re)connects.
		errc := make(chan error, 1)
		go func() { errc <- ps.Subscribe(context.Background(), channel) }()
		t := time.NewTimer(n.timeout)
		defer t.Stop()
		var err error
		select {
		case err = <-errc:
			if errors.Is(err, redis.ErrClosed) && !n.isClosed() {
				err = nil // a renewed subscription takes the channel along
			}
			if err != nil {
				err = &opError{op: "subscribe", key: channel, msg: err.Error(), err: err}
			}
		case <-t.C:
			// Slow, not failed: the waiter reads Redis meanwhile, and
			// is woken when the subscription is confirmed.
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			remove()
			return nil, nil, err
		}
	}
	return w, remove, nil
}

// ready returns once the subscription to channel is confirmed, or with an
// error after the store's timeout or when ctx ends. A waiter that is not
// ready yet reads Redis all the same, every poll interval: confirmation
// wakes it to read once more.
func (n *notifier) ready(ctx context.Context, channel string) error {
	n.mu.Lock()
	live, closed := n.live[channel], n.closed
	n.mu.Unlock()
	if closed {
		return ErrClosed
	}
	select {
	case <-live:
		return nil
	default:
	}
	t := time.NewTimer(n.timeout)
	defer t.Stop()
	select {
	case <-live:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		return ErrClosed
	case <-t.C:
		return &opError{op: "subscribe", key: channel, msg: "not confirmed within " + n.timeout.String(), err: ErrTimeout}
	}
}

// take reads what woke w: whether a message for its ID arrived, and the
// result it carried.
func (n *notifier) take(w *waiter) (notified bool, res *mpesa.Result) {
	n.mu.Lock()
	defer n.mu.Unlock()
	notified, res = w.notified, w.res
	w.notified, w.res = false, nil
	return notified, res
}

// pingEvery is how long the subscription may be idle before the notifier
// sends a ping; a ping unanswered for as long again ends the connection.
const pingEvery = 2 * time.Second

// run receives the subscription's messages until the notifier closes.
func (n *notifier) run(ps *redis.PubSub) {
	ctx := context.Background()
	pinged := false
	failures := 0
	for {
		msg, err := ps.ReceiveTimeout(ctx, pingEvery)
		if n.isClosed() {
			return
		}
		if err != nil {
			if isTimeout(err) {
				if !pinged {
					pinged = ps.Ping(ctx) == nil
					if pinged {
						continue
					}
				}
				// Silence after a ping: the connection is dead
				// without saying so. Start again on a new one.
				ps = n.renew(ps, errors.New("no answer to a ping"))
				pinged = false
				continue
			}
			if errors.Is(err, redis.ErrClosed) {
				return
			}
			n.lost(err)
			failures++
			// go-redis reconnects and subscribes again on the next
			// receive; do not spin while Redis is away.
			select {
			case <-time.After(min(time.Duration(failures)*100*time.Millisecond, time.Second)):
			case <-n.done:
				return
			}
			continue
		}
		pinged, failures = false, 0
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				n.confirmed(m.Channel)
			}
		case *redis.Message:
			n.dispatch(m.Channel, m.Payload)
		}
	}
}

// renew replaces a dead subscription with a new one on the same channels.
func (n *notifier) renew(old *redis.PubSub, why error) *redis.PubSub {
	n.lost(why)
	_ = old.Close()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return old
	}
	channels := make([]string, 0, len(n.decode))
	for ch := range n.decode {
		channels = append(channels, ch)
	}
	n.ps = n.rdb.Subscribe(context.Background(), channels...)
	return n.ps
}

// lost marks every channel unsubscribed until confirmed again.
func (n *notifier) lost(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch, live := range n.live {
		select {
		case <-live:
			n.live[ch] = make(chan struct{})
		default:
		}
	}
	if !n.down {
		n.down = true
		n.logger.Warn("redisstore: the subscription to Redis is lost; waiters read Redis until it is back",
			slog.String("error", err.Error()))
	}
}

// confirmed marks channel subscribed and wakes its waiters to read Redis
// once more: a message published while the subscription was away is lost.
func (n *notifier) confirmed(channel string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	live := n.live[channel]
	if live == nil {
		return
	}
	select {
	case <-live:
		return // a second confirmation of the same subscription
	default:
	}
	close(live)
	if n.down {
		n.down = false
		n.logger.Info("redisstore: the subscription to Redis is back", slog.String("channel", channel))
	}
	for k, ws := range n.waiters {
		if k.channel == channel {
			for w := range ws {
				signal(w)
			}
		}
	}
}

// dispatch hands a message to the waiters of the IDs it concerns.
func (n *notifier) dispatch(channel, payload string) {
	n.mu.Lock()
	decode, idle := n.decode[channel], len(n.waiters) == 0
	n.mu.Unlock()
	if decode == nil || idle {
		return // nobody waits: a result is read from Redis when asked for
	}
	ids, res, err := decode(payload)
	if err != nil {
		n.logger.Warn("redisstore: a message that cannot be read was ignored",
			slog.String("channel", channel), slog.String("error", err.Error()))
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, id := range ids {
		for w := range n.waiters[waitKey{channel, id}] {
			w.notified = true
			if res != nil {
				w.res = res
			}
			signal(w)
		}
	}
}

func signal(w *waiter) {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (n *notifier) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// close ends the subscription and every wait.
func (n *notifier) close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	close(n.done)
	ps := n.ps
	n.mu.Unlock()
	if ps != nil {
		// PubSub.Close waits for a dial in progress, which a Redis that
		// does not answer holds for the client's timeouts: do not make
		// the caller wait too. run ends once it returns.
		go func() { _ = ps.Close() }()
	}
}
