package mpesa

import (
	"container/list"
	"context"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of the MemoryDedup store a Handler uses when no Deduplicate
// option is given: how many completed keys of each kind it remembers, and
// for how long.
const (
	DefaultDedupSize = 10000
	DefaultDedupTTL  = 24 * time.Hour
)

// ClaimState is the answer of a DedupStore to a claim.
type ClaimState int

const (
	// ClaimAcquired: the caller holds the key and processes the result.
	ClaimAcquired ClaimState = iota + 1
	// ClaimInProgress: another delivery of the same result holds the key
	// and is being processed.
	ClaimInProgress
	// ClaimDone: the result was processed already.
	ClaimDone
)

// String returns "acquired", "in progress" or "done".
func (s ClaimState) String() string {
	switch s {
	case ClaimAcquired:
		return "acquired"
	case ClaimInProgress:
		return "in progress"
	case ClaimDone:
		return "done"
	}
	return "ClaimState(" + strconv.Itoa(int(s)) + ")"
}

// DedupStore remembers which results were processed, so that a result the
// gateway delivers more than once, or twice at the same time, is processed
// once. owner is unique per delivery. A Handler calls Claim before it
// processes a result, then Complete when the ResultFunc returned nil, or
// Release when it failed, so that a later delivery processes the result
// again.
//
// The Handler claims two kinds of keys. A result key ("result/…") names one
// result: its gateway, its conversation, its code and its transaction, so
// that a different result for the same conversation (a success after a
// failure) is a different key and reaches the application. A transaction
// key ("tx/…") names a transaction that a verified result consumed
// (VerifyWithStatusQuery): one transaction verifies one result, whatever
// conversation a later body claims.
//
// A store shared by replicas (see the redisstore module) must let a claim
// expire (a lease) so that a replica that dies mid-processing does not block
// the result forever; the lease must outlast the slowest ResultFunc.
// Implementations must be safe for concurrent use.
type DedupStore interface {
	// Claim takes key for owner, or reports that it is taken or done.
	Claim(ctx context.Context, key, owner string) (ClaimState, error)
	// Complete marks key done, if owner still holds it or nobody does.
	Complete(ctx context.Context, key, owner string) error
	// Release frees key, if owner holds it and it is not done.
	Release(ctx context.Context, key, owner string) error
}

// txKeyPrefix starts the transaction keys of a DedupStore.
const txKeyPrefix = "tx/"

// MemoryDedup is the in-memory DedupStore of one process, bounded in size and
// time: it remembers at most size completed keys of each kind, each for ttl,
// forgetting the oldest first. Claims in progress do not expire (the Handler
// releases them however the ResultFunc ends) and do not count against size.
//
// It is no replay defence on its own: anyone who can post to the Response
// URL can post size junk results and push a genuine result key out, after
// which a replay of that result is processed again. Transaction keys are
// bounded apart from result keys, and only a result that a status query
// verified creates one, so with VerifyWithStatusQuery a replay of a
// processed payment is still refused for ttl: junk cannot evict them. Behind
// several replicas use a shared store instead.
type MemoryDedup struct {
	mu      sync.Mutex
	entries map[string]*dedupEntry
	done    [2]list.List // of *dedupEntry, oldest completion first: results, transactions
	size    int
	ttl     time.Duration
	now     func() time.Time
}

type dedupEntry struct {
	key, owner string
	done       bool
	expires    time.Time
	elem       *list.Element
}

// NewMemoryDedup returns a MemoryDedup that remembers up to size completed
// keys of each kind for ttl each. Zero or negative values take
// DefaultDedupSize and DefaultDedupTTL.
func NewMemoryDedup(size int, ttl time.Duration) *MemoryDedup {
	if size <= 0 {
		size = DefaultDedupSize
	}
	if ttl <= 0 {
		ttl = DefaultDedupTTL
	}
	return &MemoryDedup{entries: make(map[string]*dedupEntry), size: size, ttl: ttl, now: time.Now}
}

// Claim implements DedupStore.
func (m *MemoryDedup) Claim(_ context.Context, key, owner string) (ClaimState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire()
	if e := m.entries[key]; e != nil {
		if e.done {
			return ClaimDone, nil
		}
		return ClaimInProgress, nil
	}
	m.entries[key] = &dedupEntry{key: key, owner: owner}
	return ClaimAcquired, nil
}

// Complete implements DedupStore.
func (m *MemoryDedup) Complete(_ context.Context, key, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[key]
	switch {
	case e == nil:
		e = &dedupEntry{key: key, owner: owner}
		m.entries[key] = e
	case e.done || e.owner != owner:
		return nil
	}
	e.done = true
	e.expires = m.now().Add(m.ttl)
	l := m.list(key)
	e.elem = l.PushBack(e)
	for l.Len() > m.size {
		m.remove(l, l.Front().Value.(*dedupEntry))
	}
	m.expire()
	return nil
}

// Release implements DedupStore.
func (m *MemoryDedup) Release(_ context.Context, key, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.entries[key]; e != nil && !e.done && e.owner == owner {
		delete(m.entries, key)
	}
	return nil
}

// Len returns how many keys the store holds, in progress or done.
func (m *MemoryDedup) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire()
	return len(m.entries)
}

// list returns the completion list of key's kind.
func (m *MemoryDedup) list(key string) *list.List {
	if strings.HasPrefix(key, txKeyPrefix) {
		return &m.done[1]
	}
	return &m.done[0]
}

// expire forgets the completed keys whose time is up. Keys of a kind
// complete in order and share one ttl, so they expire from the front.
func (m *MemoryDedup) expire() {
	now := m.now()
	for i := range m.done {
		l := &m.done[i]
		for f := l.Front(); f != nil; f = l.Front() {
			e := f.Value.(*dedupEntry)
			if now.Before(e.expires) {
				break
			}
			m.remove(l, e)
		}
	}
}

func (m *MemoryDedup) remove(l *list.List, e *dedupEntry) {
	l.Remove(e.elem)
	if m.entries[e.key] == e {
		delete(m.entries, e.key)
	}
}
