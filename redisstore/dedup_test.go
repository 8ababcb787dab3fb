package redisstore

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
)

const testResultKey = `result/openapi-v2/"conv-1"/"0"/"tx-1"`

// TestDedupFollowsTheDedupStoreContract: the same steps as MemoryDedup.
func TestDedupFollowsTheDedupStoreContract(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	d := newStore(t, rdb, p).Dedup()
	other := replicaStore(t, p).Dedup()
	ctx := context.Background()
	claim := func(d *Dedup, owner string) mpesa.ClaimState {
		t.Helper()
		s, err := d.Claim(ctx, testResultKey, owner)
		require.NoError(t, err)
		return s
	}

	assert.Equal(t, mpesa.ClaimAcquired, claim(d, "a"))
	assert.Equal(t, mpesa.ClaimInProgress, claim(other, "b"), "another delivery, another replica")
	require.NoError(t, other.Release(ctx, testResultKey, "b"), "not b's: nothing happens")
	assert.Equal(t, mpesa.ClaimInProgress, claim(other, "b"))
	require.NoError(t, d.Release(ctx, testResultKey, "a"))
	assert.Equal(t, mpesa.ClaimAcquired, claim(other, "b"), "released: the next delivery processes it")
	require.NoError(t, other.Complete(ctx, testResultKey, "b"))
	require.NoError(t, other.Complete(ctx, testResultKey, "b"), "completing twice is harmless")
	assert.Equal(t, mpesa.ClaimDone, claim(d, "c"))
	require.NoError(t, other.Release(ctx, testResultKey, "b"), "a done key is not released")
	assert.Equal(t, mpesa.ClaimDone, claim(d, "c"))

	// Complete without a claim marks the key done (the Handler does so
	// for a result whose transaction was processed already).
	const txKey = `tx/openapi-v2/"tx-1"`
	require.NoError(t, d.Complete(ctx, txKey, "z"))
	s, err := other.Claim(ctx, txKey, "y")
	require.NoError(t, err)
	assert.Equal(t, mpesa.ClaimDone, s)

	ttl, err := rdb.PTTL(ctx, d.key(testResultKey)).Result()
	require.NoError(t, err)
	assert.InDelta(t, mpesa.DefaultDedupTTL.Seconds(), ttl.Seconds(), 5, "kept for mpesa.DefaultDedupTTL")
}

// TestClaimLeaseRunsOut: a claim whose replica died is taken by the next
// delivery once its lease ends; the dead replica, should it come back,
// learns that it lost the claim.
func TestClaimLeaseRunsOut(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	dead := newStore(t, rdb, p, WithClaimLease(100*time.Millisecond)).Dedup()
	alive := replicaStore(t, p, WithClaimLease(100*time.Millisecond), WithDedupRetention(time.Minute)).Dedup()
	ctx := context.Background()

	s, err := dead.Claim(ctx, testResultKey, "dead")
	require.NoError(t, err)
	require.Equal(t, mpesa.ClaimAcquired, s)
	s, err = alive.Claim(ctx, testResultKey, "alive")
	require.NoError(t, err)
	assert.Equal(t, mpesa.ClaimInProgress, s)
	time.Sleep(150 * time.Millisecond)
	s, err = alive.Claim(ctx, testResultKey, "alive")
	require.NoError(t, err)
	require.Equal(t, mpesa.ClaimAcquired, s)
	assert.ErrorIs(t, dead.Complete(ctx, testResultKey, "dead"), ErrClaimLost)
	require.NoError(t, alive.Complete(ctx, testResultKey, "alive"))
	assert.ErrorIs(t, dead.Complete(ctx, testResultKey, "dead"), ErrClaimLost)
	require.NoError(t, dead.Release(ctx, testResultKey, "dead"))
	s, err = dead.Claim(ctx, testResultKey, "late")
	require.NoError(t, err)
	assert.Equal(t, mpesa.ClaimDone, s)
	ttl, err := rdb.PTTL(ctx, alive.key(testResultKey)).Result()
	require.NoError(t, err)
	assert.InDelta(t, time.Minute.Seconds(), ttl.Seconds(), 2, "WithDedupRetention")
}

// TestConcurrentClaimsAcquireOnce: many deliveries of one result on many
// replicas at once: one acquires.
func TestConcurrentClaimsAcquireOnce(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	var stores []*Dedup
	for i := 0; i < 4; i++ {
		stores = append(stores, replicaStore(t, p).Dedup())
	}
	ctx := context.Background()
	for round := 0; round < 20; round++ {
		key := testResultKey + "/" + strconv.Itoa(round)
		var mu sync.Mutex
		counts := map[mpesa.ClaimState]int{}
		var wg sync.WaitGroup
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				s, err := stores[i%len(stores)].Claim(ctx, key, "owner-"+strconv.Itoa(i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				counts[s]++
				mu.Unlock()
			}(i)
		}
		wg.Wait()
		assert.Equal(t, 1, counts[mpesa.ClaimAcquired], "round %d: %v", round, counts)
		assert.Equal(t, 39, counts[mpesa.ClaimInProgress])
	}
}

func TestLongKeysAreHashed(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	d := newStore(t, rdb, testPrefix(t, rdb)).Dedup()
	long := "result/openapi-v2/" + strings.Repeat("x", 10000)
	braces := "result/openapi-v2/{slot}"
	for _, key := range []string{long, braces} {
		assert.Contains(t, d.key(key), ":dedup:sha256:")
		s, err := d.Claim(context.Background(), key, "o")
		require.NoError(t, err)
		assert.Equal(t, mpesa.ClaimAcquired, s)
	}
	assert.NotEqual(t, d.key(long), d.key(long+"y"))
	assert.Equal(t, d.s.cfg.prefix+"dedup:"+testResultKey, d.key(testResultKey), "short keys stay readable")
}
