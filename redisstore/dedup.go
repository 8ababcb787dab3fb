package redisstore

import (
	"context"
	"fmt"
	"io"

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
// or completed the key meanwhile.
func (d *Dedup) Complete(ctx context.Context, key, owner string) error {
	k := d.key(key)
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

// Release implements mpesa.DedupStore (releaseScript).
func (d *Dedup) Release(ctx context.Context, key, owner string) error {
	k := d.key(key)
	return d.s.do(ctx, "release", k, func(ctx context.Context) error {
		return releaseScript.Run(ctx, d.s.rdb, []string{k}, owner).Err()
	})
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
