package mpesa

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultResultsSize and DefaultResultsTTL bound a Results hub: how many
// results it keeps for Await, and for how long.
const (
	DefaultResultsSize = 4096
	DefaultResultsTTL  = 15 * time.Minute
)

// Results lets the code that started a transaction wait for its result:
//
//	hub := mpesa.NewResults(0, 0) // DefaultResultsSize results, each for DefaultResultsTTL
//	h, _ := mpesa.NewHandler(store.Save, mpesa.FeedResults(hub), mpesa.VerifyWithStatusQuery(client))
//	...
//	res, err := client.C2B(ctx, req) // answers at once when asynchronous
//	if err == nil && res.Async() {
//		ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
//		defer cancel()
//		result, err := hub.Await(ctx, res.ConversationID)
//		if err == nil && result.OK() && result.Verified {
//			// paid
//		}
//	}
//
// A result is found by any of its IDs (Result.IDs: the OriginalConversationID
// and the ThirdPartyConversationID, the reference of the request, and on
// Daraja the IDs of its request). It is kept for the hub's ttl whether or
// not anybody waits, so Await also finds a result that arrived before it was
// called, as a callback may overtake the answer of the call that caused it.
// At most size results are kept, the oldest forgotten first. The hub starts
// no goroutine of its own; a waiter is removed as soon as its context ends.
// It is safe for concurrent use.
//
// A hub lives in one process. Behind several replicas the callback may
// reach another replica than the one waiting: give every replica's hub the
// same ResultBus (ShareResults; the redisstore module has one), and a result
// any replica receives reaches an Await on any other.
type Results struct {
	mu      sync.Mutex
	size    int
	ttl     time.Duration
	now     func() time.Time
	kept    map[string]*keptResult
	order   list.List // of *keptResult, oldest first
	waiters map[string][]*resultWaiter
	bus     ResultBus

	// queries are the IDs of the Daraja status queries the clients of the
	// hub sent (WithResults), oldest first: their results are status
	// results, never payments to verify (docs/gateways.md D32).
	queries    map[string]*statusMark
	queryOrder list.List // of *statusMark
	// inflight counts the status queries sent whose acknowledgement has
	// not come yet; changed is closed (and replaced) when one comes.
	inflight int
	changed  chan struct{}
}

// statusMark is one status query a client of the hub sent; internal marks
// one of a Handler's verification.
type statusMark struct {
	ids      [2]string
	internal bool
	expires  time.Time
	elem     *list.Element
}

// A ResultBus carries results between the Results hubs of several replicas.
// Implementations must be safe for concurrent use.
type ResultBus interface {
	// Publish makes res known to the hubs of every replica, under each of
	// its IDs, for at least the hubs' ttl.
	Publish(ctx context.Context, res *Result) error
	// Wait returns the result published under key: at once when it was
	// published within the retention, or when it is. It returns ctx's
	// error when ctx ends first.
	Wait(ctx context.Context, key string) (*Result, error)
}

type keptResult struct {
	res     *Result
	keys    []string
	expires time.Time
	elem    *list.Element
}

type resultWaiter struct{ ch chan *Result }

// A ResultsOption configures a Results hub.
type ResultsOption func(*Results)

// ShareResults makes the hub publish every delivered result on bus and find
// the results other replicas published there.
func ShareResults(bus ResultBus) ResultsOption {
	return func(h *Results) { h.bus = bus }
}

// NewResults returns a hub that keeps up to size results for ttl each. Zero
// or negative values take DefaultResultsSize and DefaultResultsTTL.
func NewResults(size int, ttl time.Duration, opts ...ResultsOption) *Results {
	if size <= 0 {
		size = DefaultResultsSize
	}
	if ttl <= 0 {
		ttl = DefaultResultsTTL
	}
	h := &Results{
		size: size, ttl: ttl, now: time.Now,
		kept:    make(map[string]*keptResult),
		waiters: make(map[string][]*resultWaiter),
	}
	for _, o := range opts {
		if o != nil {
			o(h)
		}
	}
	return h
}

// Deliver hands res to the waiters on any of its IDs and keeps it for later
// Await calls; with a ResultBus it also publishes res to the other
// replicas, and returns the bus's error. A later result with the same ID
// replaces an earlier one, except that an unverified result never replaces
// a verified success: a forged body must not hide the proof of payment
// from a later Await. A Handler with FeedResults calls it once per
// processed result.
func (h *Results) Deliver(ctx context.Context, res *Result) error {
	if res == nil {
		return nil
	}
	h.deliverLocal(res)
	if h.bus != nil {
		return h.bus.Publish(ctx, res)
	}
	return nil
}

func (h *Results) deliverLocal(res *Result) {
	keys := res.IDs()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expire()
	if !res.Verified {
		for _, k := range keys {
			if old := h.kept[k]; old != nil && old.res.Verified && old.res.OK() {
				return
			}
		}
	}
	for _, k := range keys {
		for _, w := range h.waiters[k] {
			select {
			case w.ch <- res: // buffered; a waiter listed under two IDs takes the first
			default:
			}
		}
		delete(h.waiters, k)
		if old := h.kept[k]; old != nil {
			h.forget(old)
		}
	}
	kr := &keptResult{res: res, keys: keys, expires: h.now().Add(h.ttl)}
	kr.elem = h.order.PushBack(kr)
	for _, k := range keys {
		h.kept[k] = kr
	}
	for h.order.Len() > h.size {
		h.forget(h.order.Front().Value.(*keptResult))
	}
}

// Await returns the result with the ID key: at once when it arrived within
// the hub's ttl, or when it arrives. It returns ctx's error when ctx ends
// first; give ctx a deadline, since a result may never come (ask the status
// then, with Client.Reconcile). A success is proof of payment only when
// Verified is set (see VerifyWithStatusQuery).
func (h *Results) Await(ctx context.Context, key string) (*Result, error) {
	if key == "" {
		return nil, errors.New("mpesa: Await: empty key")
	}
	h.mu.Lock()
	h.expire()
	if kr := h.kept[key]; kr != nil {
		h.mu.Unlock()
		return kr.res, nil
	}
	if err := ctx.Err(); err != nil {
		h.mu.Unlock()
		return nil, err
	}
	w := &resultWaiter{ch: make(chan *Result, 1)}
	h.waiters[key] = append(h.waiters[key], w)
	h.mu.Unlock()

	var remote chan *Result
	if h.bus != nil {
		bctx, cancel := context.WithCancel(ctx)
		defer cancel()
		remote = make(chan *Result, 1)
		go h.waitRemote(bctx, key, remote)
	}
	select {
	case res := <-w.ch:
		return res, nil
	case res := <-remote:
		h.removeWaiter(key, w)
		return res, nil
	case <-ctx.Done():
	}
	if h.removeWaiter(key, w) {
		return nil, ctx.Err()
	}
	// Deliver took the waiter off the list: its result is in the channel.
	return <-w.ch, nil
}

// waitRemote waits on the bus for the result under key and sends it on
// out. A failed Wait (Redis restarting, a dropped subscription) is tried
// again with a growing pause until ctx ends: the result may yet come, and
// the waiter has only its own deadline to give up on.
func (h *Results) waitRemote(ctx context.Context, key string, out chan<- *Result) {
	pause := 50 * time.Millisecond
	for {
		res, err := h.bus.Wait(ctx, key)
		if err == nil && res != nil {
			out <- res
			return
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// removeWaiter takes w off the waiters of key, and reports whether it was
// still there.
func (h *Results) removeWaiter(key string, w *resultWaiter) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	ws := h.waiters[key]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			if len(ws) == 0 {
				delete(h.waiters, key)
			} else {
				h.waiters[key] = ws
			}
			return true
		}
	}
	return false
}

// statusSent marks a status query sent; statusAcknowledged, to be called
// once after it however it ends, records the IDs of its acknowledgement.
// Between the two, a result that may be its status waits for them
// (statusQueryWait): a callback may overtake the answer of the query.
func (h *Results) statusSent() {
	h.mu.Lock()
	h.inflight++
	h.mu.Unlock()
}

// statusAcknowledged records the IDs of a status query's acknowledgement,
// so that its result is known for what it is when it arrives, for the
// hub's ttl; at most twice the hub's size are kept.
func (h *Results) statusAcknowledged(internal bool, conversationID, originatorID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.inflight--
	if h.changed != nil {
		close(h.changed)
		h.changed = nil
	}
	if conversationID == "" && originatorID == "" {
		return
	}
	if h.queries == nil {
		h.queries = make(map[string]*statusMark)
	}
	h.expireQueries()
	m := &statusMark{ids: [2]string{conversationID, originatorID}, internal: internal, expires: h.now().Add(h.ttl)}
	m.elem = h.queryOrder.PushBack(m)
	for _, id := range m.ids {
		if id != "" {
			h.queries[id] = m
		}
	}
	for h.queryOrder.Len() > 2*h.size {
		h.forgetQuery(h.queryOrder.Front().Value.(*statusMark))
	}
}

// statusQuery reports whether any of ids is the ID of a status query a
// client of the hub sent, and whether a Handler's verification sent it.
// While status queries are awaiting their acknowledgement it waits for
// them, at most maxWait (or until ctx ends), since the result may have
// overtaken its query's answer.
func (h *Results) statusQuery(ctx context.Context, maxWait time.Duration, ids ...string) (known, internal bool) {
	var timeout <-chan time.Time
	for {
		h.mu.Lock()
		h.expireQueries()
		for _, id := range ids {
			if m := h.queries[id]; id != "" && m != nil {
				h.mu.Unlock()
				return true, m.internal
			}
		}
		if h.inflight <= 0 {
			h.mu.Unlock()
			return false, false
		}
		if h.changed == nil {
			h.changed = make(chan struct{})
		}
		ch := h.changed
		h.mu.Unlock()
		if timeout == nil {
			t := time.NewTimer(maxWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ch:
		case <-timeout:
			return false, false
		case <-ctx.Done():
			return false, false
		}
	}
}

func (h *Results) expireQueries() {
	now := h.now()
	for f := h.queryOrder.Front(); f != nil; f = h.queryOrder.Front() {
		m := f.Value.(*statusMark)
		if now.Before(m.expires) {
			return
		}
		h.forgetQuery(m)
	}
}

func (h *Results) forgetQuery(m *statusMark) {
	h.queryOrder.Remove(m.elem)
	for _, id := range m.ids {
		if h.queries[id] == m {
			delete(h.queries, id)
		}
	}
}

// peek returns the result kept under key in this process, or nil.
func (h *Results) peek(key string) *Result {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expire()
	if kr := h.kept[key]; kr != nil {
		return kr.res
	}
	return nil
}

// Len returns how many results the hub keeps.
func (h *Results) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expire()
	return h.order.Len()
}

// Waiting returns how many Await calls are waiting.
func (h *Results) Waiting() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, ws := range h.waiters {
		n += len(ws)
	}
	return n
}

func (h *Results) expire() {
	now := h.now()
	for f := h.order.Front(); f != nil; f = h.order.Front() {
		kr := f.Value.(*keptResult)
		if now.Before(kr.expires) {
			return
		}
		h.forget(kr)
	}
}

func (h *Results) forget(kr *keptResult) {
	h.order.Remove(kr.elem)
	for _, k := range kr.keys {
		if h.kept[k] == kr {
			delete(h.kept, k)
		}
	}
}
