package redisstore

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
)

const testCredKey = "mpesa/credential/openapi-v2/sandbox/0123456789abcdef01234567"

func testCred(secret string, lifetime time.Duration) mpesa.SharedCredential {
	now := time.Now().Truncate(time.Millisecond)
	return mpesa.SharedCredential{Value: mpesa.Secret(secret), Obtained: now, Expires: now.Add(lifetime)}
}

func TestLeaseIsExclusiveAndStoreChecksTheFence(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	a, b := newStore(t, rdb, p).Credentials(), replicaStore(t, p).Credentials()
	ctx := context.Background()

	_, ok, err := a.Load(ctx, testCredKey)
	require.NoError(t, err)
	assert.False(t, ok, "nothing stored yet")

	f1, ok, err := a.Lease(ctx, testCredKey, 10*time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = b.Lease(ctx, testCredKey, 10*time.Second)
	require.NoError(t, err)
	assert.False(t, ok, "one replica holds the lease")

	cred := testCred("session-one", time.Hour)
	require.NoError(t, a.Store(ctx, testCredKey, cred, f1))
	got, ok, err := b.Load(ctx, testCredKey)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "session-one", string(got.Value))
	assert.True(t, got.Obtained.Equal(cred.Obtained))
	assert.True(t, got.Expires.Equal(cred.Expires))

	f2, ok, err := b.Lease(ctx, testCredKey, 10*time.Second)
	require.NoError(t, err)
	require.True(t, ok, "Store ended the lease")
	assert.Greater(t, f2, f1)
	assert.ErrorIs(t, a.Store(ctx, testCredKey, testCred("stale", time.Hour), f1), mpesa.ErrStaleLease)
	require.NoError(t, b.Store(ctx, testCredKey, testCred("session-two", time.Hour), f2))
	got, _, err = a.Load(ctx, testCredKey)
	require.NoError(t, err)
	assert.Equal(t, "session-two", string(got.Value))
}

// TestLeaseThatRanOutCannotOverwrite: a replica whose lease ran out while it
// fetched cannot overwrite the credential of the replica that took the
// lease after it.
func TestLeaseThatRanOutCannotOverwrite(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	slow, fast := newStore(t, rdb, p).Credentials(), replicaStore(t, p).Credentials()
	ctx := context.Background()

	f1, ok, err := slow.Lease(ctx, testCredKey, 50*time.Millisecond)
	require.NoError(t, err)
	require.True(t, ok)
	time.Sleep(100 * time.Millisecond)
	f2, ok, err := fast.Lease(ctx, testCredKey, 10*time.Second)
	require.NoError(t, err)
	require.True(t, ok, "the first lease ran out")
	require.NoError(t, fast.Store(ctx, testCredKey, testCred("newer", time.Hour), f2))
	assert.ErrorIs(t, slow.Store(ctx, testCredKey, testCred("older", time.Hour), f1), mpesa.ErrStaleLease)
	got, _, err := slow.Load(ctx, testCredKey)
	require.NoError(t, err)
	assert.Equal(t, "newer", string(got.Value))
}

// TestFenceGrowsWhenRedisLostTheCounter: a Redis that lost its data (a
// restart without persistence) grants fences above those it granted
// before, so that a lease taken before cannot store after.
func TestFenceGrowsWhenRedisLostTheCounter(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	c := newStore(t, rdb, p).Credentials()
	ctx := context.Background()
	f1, ok, err := c.Lease(ctx, testCredKey, 10*time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	k := c.keys(testCredKey)
	require.NoError(t, rdb.Del(ctx, k.lease, k.fence).Err())
	f2, ok, err := c.Lease(ctx, testCredKey, 10*time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Greater(t, f2, f1)
	assert.ErrorIs(t, c.Store(ctx, testCredKey, testCred("old lease", time.Hour), f1), mpesa.ErrStaleLease)
	ttl, err := rdb.PTTL(ctx, k.fence).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, 29*24*time.Hour, "the counter expires, long after its last lease")
}

func TestCredentialExpiresWithItsLifetime(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	c := newStore(t, rdb, testPrefix(t, rdb)).Credentials()
	ctx := context.Background()
	f, _, err := c.Lease(ctx, testCredKey, time.Second)
	require.NoError(t, err)
	require.NoError(t, c.Store(ctx, testCredKey, testCred("s", time.Hour), f))
	ttl, err := rdb.PTTL(ctx, c.keys(testCredKey).value).Result()
	require.NoError(t, err)
	assert.InDelta(t, time.Hour.Seconds(), ttl.Seconds(), 5)
}

func TestInvalidateRemovesOnlyTheStoredCredential(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	c := newStore(t, rdb, testPrefix(t, rdb)).Credentials()
	ctx := context.Background()
	f, _, err := c.Lease(ctx, testCredKey, time.Second)
	require.NoError(t, err)
	cur := testCred("current", time.Hour)
	require.NoError(t, c.Store(ctx, testCredKey, cur, f))

	require.NoError(t, c.Invalidate(ctx, testCredKey, testCred("an older one", time.Hour)))
	_, ok, err := c.Load(ctx, testCredKey)
	require.NoError(t, err)
	assert.True(t, ok, "a refusal of an older credential leaves the newer one")

	require.NoError(t, c.Invalidate(ctx, testCredKey, cur))
	_, ok, err = c.Load(ctx, testCredKey)
	require.NoError(t, err)
	assert.False(t, ok)
	require.NoError(t, c.Invalidate(ctx, testCredKey, cur), "nothing to invalidate")
}

// TestWaitWakesOnStoreThroughPubSub: a waiter on another replica returns
// as soon as the credential is stored, long before its poll interval.
func TestWaitWakesOnStoreThroughPubSub(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	holder := newStore(t, rdb, p).Credentials()
	waiter := replicaStore(t, p, WithPollInterval(time.Minute)).Credentials()
	ctx := context.Background()
	f, ok, err := holder.Lease(ctx, testCredKey, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)

	done := make(chan error, 1)
	go func() { done <- waiter.Wait(ctx, testCredKey) }()
	select {
	case err := <-done:
		t.Fatalf("Wait returned while the lease is held: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	stored := time.Now()
	require.NoError(t, holder.Store(ctx, testCredKey, testCred("s", time.Hour), f))
	select {
	case err := <-done:
		require.NoError(t, err)
		assert.Less(t, time.Since(stored), 2*time.Second)
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after Store")
	}
}

// TestWaitReturnsWhenTheLeaseRunsOut: a holder that died never stores;
// the waiter notices the lease is gone by polling.
func TestWaitReturnsWhenTheLeaseRunsOut(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	holder := newStore(t, rdb, p).Credentials()
	waiter := replicaStore(t, p, WithPollInterval(20*time.Millisecond)).Credentials()
	ctx := context.Background()
	_, ok, err := holder.Lease(ctx, testCredKey, 300*time.Millisecond)
	require.NoError(t, err)
	require.True(t, ok)
	start := time.Now()
	require.NoError(t, waiter.Wait(ctx, testCredKey))
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)

	// Without a lease, Wait returns at once.
	require.NoError(t, waiter.Wait(ctx, testCredKey))

	// And it ends with its context.
	_, ok, err = holder.Lease(ctx, testCredKey, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, waiter.Wait(wctx, testCredKey), context.DeadlineExceeded)
}

func testKeyMaterial(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestEncryptionAtRest(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	k1 := EncryptionKey{ID: "2026-01", Key: testKeyMaterial(1)}
	k2 := EncryptionKey{ID: "2026-02", Key: testKeyMaterial(2)}
	old := newStore(t, rdb, p, WithEncryption(k1)).Credentials()
	ctx := context.Background()
	const secret = "SeSsIoN-sEcReT-0123456789"

	f, _, err := old.Lease(ctx, testCredKey, time.Second)
	require.NoError(t, err)
	require.NoError(t, old.Store(ctx, testCredKey, testCred(secret, time.Hour), f))
	raw, err := rdb.Get(ctx, old.keys(testCredKey).value).Result()
	require.NoError(t, err)
	assert.NotContains(t, raw, secret, "sealed at rest")
	assert.Contains(t, raw, `"key_id":"2026-01"`)
	got, ok, err := old.Load(ctx, testCredKey)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, secret, string(got.Value))

	// Rotation: a replica with the new key current opens the old key's
	// values, and seals under the new key.
	rotated := replicaStore(t, p, WithEncryption(k2, k1)).Credentials()
	got, ok, err = rotated.Load(ctx, testCredKey)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, secret, string(got.Value))
	f, _, err = rotated.Lease(ctx, testCredKey, time.Second)
	require.NoError(t, err)
	require.NoError(t, rotated.Store(ctx, testCredKey, testCred(secret+"-2", time.Hour), f))
	raw, err = rdb.Get(ctx, old.keys(testCredKey).value).Result()
	require.NoError(t, err)
	assert.Contains(t, raw, `"key_id":"2026-02"`)

	// A replica without the new key cannot open it, and says which key
	// it lacks; one without encryption says it has none.
	_, _, err = old.Load(ctx, testCredKey)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"2026-02"`)
	plain := replicaStore(t, p).Credentials()
	_, _, err = plain.Load(ctx, testCredKey)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WithEncryption")

	// A sealed value moved under another key does not open there.
	other := "mpesa/credential/openapi-v2/production/0123456789abcdef01234567"
	require.NoError(t, rdb.Set(ctx, rotated.keys(other).value, raw, time.Minute).Err())
	_, _, err = rotated.Load(ctx, other)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not open")

	// A value sealed under a key ID with other material does not open.
	impostor := replicaStore(t, p, WithEncryption(EncryptionKey{ID: "2026-02", Key: testKeyMaterial(9)})).Credentials()
	_, _, err = impostor.Load(ctx, testCredKey)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not open")
}

// TestPlainCredentialIgnoredWhenEncrypting: turning encryption on for a
// running service replaces the plain credential with a sealed one.
func TestPlainCredentialIgnoredWhenEncrypting(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	plain := newStore(t, rdb, p).Credentials()
	sealed := replicaStore(t, p, WithEncryption(EncryptionKey{ID: "k", Key: testKeyMaterial(3)})).Credentials()
	ctx := context.Background()
	f, _, err := plain.Lease(ctx, testCredKey, time.Second)
	require.NoError(t, err)
	require.NoError(t, plain.Store(ctx, testCredKey, testCred("plain", time.Hour), f))
	_, ok, err := sealed.Load(ctx, testCredKey)
	require.NoError(t, err)
	assert.False(t, ok)
	f, ok, err = sealed.Lease(ctx, testCredKey, time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, sealed.Store(ctx, testCredKey, testCred("sealed", time.Hour), f))
	got, ok, err := sealed.Load(ctx, testCredKey)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "sealed", string(got.Value))
}

func TestUnreadableCredentialIsAnErrorWithoutItsValue(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	c := newStore(t, rdb, testPrefix(t, rdb)).Credentials()
	ctx := context.Background()
	require.NoError(t, rdb.Set(ctx, c.keys(testCredKey).value, `{"v":1,"secret":`+`"garbled-secret`, time.Minute).Err())
	_, _, err := c.Load(ctx, testCredKey)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "garbled-secret")
	require.NoError(t, rdb.Set(ctx, c.keys(testCredKey).value, `{"v":7,"secret":"x"}`, time.Minute).Err())
	_, _, err = c.Load(ctx, testCredKey)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "version 7"), err.Error())
	assert.False(t, errors.Is(err, context.DeadlineExceeded))
}

// TestRefusedCredentialNotLoadedAgain: a replica told that the gateway
// refused a credential while Redis was away does not load it again once
// Redis is back, and removes it there.
func TestRefusedCredentialNotLoadedAgain(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	c := newStore(t, rdb, p).Credentials()
	ctx := context.Background()
	f, _, err := c.Lease(ctx, testCredKey, time.Second)
	require.NoError(t, err)
	refused := testCred("refused", time.Hour)
	require.NoError(t, c.Store(ctx, testCredKey, refused, f))

	// Invalidate while Redis does not answer: only this process knows.
	c.remember(testCredKey, refused)
	_, ok, err := c.Load(ctx, testCredKey)
	require.NoError(t, err)
	assert.False(t, ok, "the refused credential is not loaded again")
	n, err := rdb.Exists(ctx, c.keys(testCredKey).value).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "and is removed from Redis")

	// A newer credential is loaded as usual.
	f, _, err = c.Lease(ctx, testCredKey, time.Second)
	require.NoError(t, err)
	require.NoError(t, c.Store(ctx, testCredKey, testCred("newer", time.Hour), f))
	got, ok, err := c.Load(ctx, testCredKey)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "newer", string(got.Value))
}

// TestLeaseRefusedWhenAnotherReplicaRefreshedMeanwhile: a replica that
// found no credential, but asks for the lease only after another replica
// stored one, is not granted it: it waits, loads and adopts that
// credential instead of fetching one more.
func TestLeaseRefusedWhenAnotherReplicaRefreshedMeanwhile(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	fast, late := newStore(t, rdb, p).Credentials(), replicaStore(t, p).Credentials()
	ctx := context.Background()

	_, ok, err := late.Load(ctx, testCredKey)
	require.NoError(t, err)
	require.False(t, ok)
	f, ok, err := fast.Lease(ctx, testCredKey, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, fast.Store(ctx, testCredKey, testCred("fresh", time.Hour), f))

	_, ok, err = late.Lease(ctx, testCredKey, time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "the credential changed since late loaded it")
	require.NoError(t, late.Wait(ctx, testCredKey), "nobody holds the lease: Wait returns at once")
	got, ok, err := late.Load(ctx, testCredKey)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "fresh", string(got.Value))
	_, ok, err = late.Lease(ctx, testCredKey, time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "once it has seen the stored credential, the lease is its to take")
}
