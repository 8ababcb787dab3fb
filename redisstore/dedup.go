package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mpesa-go/mpesa"
)

// Dedup is the mpesa.DedupStore of a Store: one Redis key per result key
// ("result/…") or transaction key ("tx/…") of the Handler, holding
// "claimed:OWNER" for the claim's lease (WithClaimLease), then "done:OWNER"
// for the retention (WithDedupRetention). Each step is one Lua script, so
// that two replicas cannot both claim a result, nor complete one the other
// holds.
type Dedup struct{ s *Store }

var _ mpesa.DedupStore = (*Dedup)(nil)

// claimScript claims a key unless it is claimed or done.
//
//	KEYS[1] key; ARGV[1] owner, ARGV[2] lease (ms)
//	returns 1 acquired, 2 in progress, 3 done
var claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
	redis.call('SET', KEYS[1], 'claimed:' .. ARGV[1], 'PX', ARGV[2])
	return 1
end
if string.sub(v, 1, 5) == 'done:' then
	return 3
end
return 2
`)

// completeScript marks a key done if the owner still holds it or nobody
// does.
//
//	KEYS[1] key; ARGV[1] owner, ARGV[2] retention (ms)
//	returns 1 when done by this owner, 0 when another owner claimed or
//	completed it after this owner's lease ran out
var completeScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if (not v) or v == 'claimed:' .. ARGV[1] then
	redis.call('SET', KEYS[1], 'done:' .. ARGV[1], 'PX', ARGV[2])
	return 1
end
if v == 'done:' .. ARGV[1] then
	return 1
end
return 0
`)

// releaseScript frees a key if the owner holds it and it is not done.
//
//	KEYS[1] key; ARGV[1] owner
//	returns 1 when freed, 0 otherwise
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == 'claimed:' .. ARGV[1] then
	redis.call('DEL', KEYS[1])
	return 1
end
return 0
`)

func (d *Dedup) key(key string) string { return d.s.cfg.prefix + "dedup:" + keyPart(key) }

// Claim implements mpesa.DedupStore (claimScript). The claim lasts the
// store's claim lease, after which another delivery may claim the key.
func (d *Dedup) Claim(ctx context.Context, key, owner string) (mpesa.ClaimState, error) {
	k := d.key(key)
	var state int64
	err := d.s.do(ctx, "claim", k, func(ctx context.Context) (err error) {
		state, err = claimScript.Run(ctx, d.s.rdb, []string{k}, owner, d.s.cfg.claimLease.Milliseconds()).Int64()
		return err
	})
	if err != nil {
		// The claim may have been made all the same (Redis applied it
		// and the answer was lost): release it once Redis answers, so
		// that redeliveries need not wait for its lease.
		d.retryLater("release after a failed claim", k, func(ctx context.Context) error { return d.release(ctx, k, owner) })
		return 0, err
	}
	switch state {
	case 1:
		return mpesa.ClaimAcquired, nil
	case 2:
		return mpesa.ClaimInProgress, nil
	case 3:
		return mpesa.ClaimDone, nil
	}
	return 0, fmt.Errorf("redisstore: claim %q: unexpected answer %d", k, state)
}

// Complete implements mpesa.DedupStore (completeScript). It returns
// ErrClaimLost when the owner's lease ran out and another delivery claimed
// or completed the key meanwhile. When Redis does not answer, it returns
// the error and completes the key in the background once Redis answers,
// within the claim's lease, so that a redelivery is not processed again.
func (d *Dedup) Complete(ctx context.Context, key, owner string) error {
	k := d.key(key)
	err := d.complete(ctx, k, owner)
	if err != nil && !errors.Is(err, ErrClaimLost) {
		d.retryLater("complete", k, func(ctx context.Context) error { return d.complete(ctx, k, owner) })
	}
	return err
}

func (d *Dedup) complete(ctx context.Context, k, owner string) error {
	var ok int64
	err := d.s.do(ctx, "complete", k, func(ctx context.Context) (err error) {
		ok, err = completeScript.Run(ctx, d.s.rdb, []string{k}, owner, d.s.cfg.dedupRetention.Milliseconds()).Int64()
		return err
	})
	if err != nil {
		return err
	}
	if ok == 0 {
		return &opError{op: "complete", key: k, msg: ErrClaimLost.Error(), err: ErrClaimLost}
	}
	return nil
}

// Release implements mpesa.DedupStore (releaseScript). When Redis does
// not answer, it returns the error and releases the key in the background
// once Redis answers, within the claim's lease, so that redeliveries need
// not wait for the lease to end.
func (d *Dedup) Release(ctx context.Context, key, owner string) error {
	k := d.key(key)
	err := d.release(ctx, k, owner)
	if err != nil {
		d.retryLater("release", k, func(ctx context.Context) error { return d.release(ctx, k, owner) })
	}
	return err
}

func (d *Dedup) release(ctx context.Context, k, owner string) error {
	return d.s.do(ctx, "release", k, func(ctx context.Context) error {
		return releaseScript.Run(ctx, d.s.rdb, []string{k}, owner).Err()
	})
}

// retryLater runs step in the background until it succeeds, ends with
// ErrClaimLost, the claim's lease is over (nothing is left to mend then:
// the key is free or another delivery's) or the store closes.
func (d *Dedup) retryLater(op, k string, step func(ctx context.Context) error) {
	log := d.s.cfg.logger
	log.Debug("redisstore: "+op+" failed; trying again in the background until the claim's lease ends", slog.String("key", k))
	deadline := time.Now().Add(d.s.cfg.claimLease)
	done := d.s.notifier.done
	go func() {
		wait := 50 * time.Millisecond
		for {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-done:
				t.Stop()
				return
			}
			if !time.Now().Before(deadline) {
				log.Warn("redisstore: "+op+" still failing when the claim's lease ended; given up", slog.String("key", k))
				return
			}
			switch err := step(context.Background()); {
			case err == nil:
				log.Info("redisstore: "+op+" done in the background", slog.String("key", k))
				return
			case errors.Is(err, ErrClaimLost):
				log.Warn("redisstore: "+op+" in the background: "+err.Error(), slog.String("key", k))
				return
			}
			wait = min(2*wait, time.Second)
		}
	}()
}

// String describes the store.
func (d Dedup) String() string {
	if d.s == nil {
		return "redisstore.Dedup{}"
	}
	return "redisstore.Dedup{" + d.s.String() + "}"
}

// Format writes String whatever the verb.
func (d Dedup) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, d.String()) }
