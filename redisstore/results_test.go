package redisstore

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
)

// fullResult returns a Result with every exported field set, found by
// reflection, so that a field added to mpesa.Result and not carried by the
// bus fails TestResultMessageKeepsEveryField.
func fullResult(t *testing.T) *mpesa.Result {
	t.Helper()
	res := &mpesa.Result{}
	v := reflect.ValueOf(res).Elem()
	for i := 0; i < v.NumField(); i++ {
		f, sf := v.Field(i), v.Type().Field(i)
		if !sf.IsExported() {
			continue
		}
		switch {
		case sf.Type == reflect.TypeOf(mpesa.Gateway(0)):
			f.Set(reflect.ValueOf(mpesa.GatewayMozambique))
		case sf.Type == reflect.TypeOf(mpesa.API(0)):
			f.Set(reflect.ValueOf(mpesa.APIDirectDebitQuery))
		case sf.Type == reflect.TypeOf(mpesa.CallbackKind(0)):
			f.Set(reflect.ValueOf(mpesa.CallbackSTK))
		case sf.Type == reflect.TypeOf(mpesa.ResultParameters(nil)):
			f.Set(reflect.ValueOf(mpesa.ResultParameters{{Key: sf.Name + "-key", Value: "1"}, {Key: "TransactionDate", Value: "20261202101010"}}))
		case f.Kind() == reflect.String:
			f.SetString(sf.Name + "-value")
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case sf.Type == reflect.TypeOf((*bool)(nil)):
			b := false
			f.Set(reflect.ValueOf(&b))
		case sf.Type == reflect.TypeOf(map[string]string(nil)):
			f.Set(reflect.ValueOf(map[string]string{"input_Unknown": "x", "input_Other": "y"}))
		default:
			t.Fatalf("mpesa.Result.%s is a %s, which this test does not fill: teach it, and resultMessage", sf.Name, sf.Type)
		}
	}
	return res
}

func TestResultMessageKeepsEveryField(t *testing.T) {
	t.Parallel()
	res := fullResult(t)
	payload, err := encodeResult(res.IDs(), res)
	require.NoError(t, err)
	ids, got, err := decodeResultMessage(payload)
	require.NoError(t, err)
	assert.Equal(t, res.IDs(), ids)
	assert.True(t, reflect.DeepEqual(res, got), "every exported field travels:\nsent %#v\ngot  %#v", *res, *got)

	// Gateways and APIs this build does not name travel as numbers.
	odd := &mpesa.Result{Gateway: mpesa.Gateway(41), API: mpesa.API(200), Callback: mpesa.CallbackKind(33), OriginalConversationID: "c"}
	payload, err = encodeResult(odd.IDs(), odd)
	require.NoError(t, err)
	_, got, err = decodeResultMessage(payload)
	require.NoError(t, err)
	assert.Equal(t, odd.Gateway, got.Gateway)
	assert.Equal(t, odd.API, got.API)
	assert.Equal(t, odd.Callback, got.Callback)

	for _, bad := range []string{`nope`, `{"v":2}`, `{"v":1,"result":{"gateway":"pigeon"}}`, `{"v":1,"result":{"gateway":"openapi-v2","api":"fax"}}`, `{"v":1,"result":{"gateway":"daraja","callback":"telegram"}}`} {
		_, _, err := decodeResultMessage(bad)
		assert.Error(t, err, bad)
	}
}

func testResult(conv, ref string) *mpesa.Result {
	return &mpesa.Result{Gateway: mpesa.GatewayOpenAPI, OriginalConversationID: conv, ThirdPartyConversationID: ref,
		ResultCode: "INS-0", ResultDesc: "Request processed successfully", TransactionID: "tx-" + conv}
}

// TestResultPublishedBeforeWait: retention.
func TestResultPublishedBeforeWait(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	pub, sub := newStore(t, rdb, p).Results(), replicaStore(t, p, WithPollInterval(time.Minute)).Results()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sent := testResult("conv-before", "ref-before")
	require.NoError(t, pub.Publish(ctx, sent))
	for _, id := range sent.IDs() {
		got, err := sub.Wait(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, sent, got, "found by %s", id)
	}
	ttl, err := rdb.PTTL(ctx, pub.key("conv-before")).Result()
	require.NoError(t, err)
	assert.InDelta(t, mpesa.DefaultResultsTTL.Seconds(), ttl.Seconds(), 5)
}

// TestResultPublishedAfterWait: pub/sub, long before the poll interval.
func TestResultPublishedAfterWait(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	pub := newStore(t, rdb, p, WithResultRetention(time.Minute)).Results()
	sub := replicaStore(t, p, WithPollInterval(time.Minute)).Results()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan *mpesa.Result, 2)
	for _, id := range []string{"conv-after", "ref-after"} {
		go func(id string) {
			res, err := sub.Wait(ctx, id)
			if err != nil {
				t.Error(err)
			}
			got <- res
		}(id)
	}
	time.Sleep(200 * time.Millisecond)
	sent := testResult("conv-after", "ref-after")
	published := time.Now()
	require.NoError(t, pub.Publish(ctx, sent))
	for i := 0; i < 2; i++ {
		select {
		case res := <-got:
			assert.Equal(t, sent, res)
		case <-ctx.Done():
			t.Fatal("no result")
		}
	}
	assert.Less(t, time.Since(published), 2*time.Second)
	ttl, err := rdb.PTTL(ctx, pub.key("ref-after")).Result()
	require.NoError(t, err)
	assert.InDelta(t, 60, ttl.Seconds(), 2, "WithResultRetention")
}

func TestResultWaitEndsWithItsContext(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	bus := newStore(t, rdb, testPrefix(t, rdb), WithPollInterval(20*time.Millisecond)).Results()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err := bus.Wait(ctx, "never")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	_, err = bus.Wait(context.Background(), "")
	assert.Error(t, err)
}

// TestHubsShareResultsThroughRedis: what mpesa.ShareResults does with the
// bus: a result delivered to one replica's hub reaches Await on another's,
// whether Await started before or after.
func TestHubsShareResultsThroughRedis(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	a := mpesa.NewResults(0, 0, mpesa.ShareResults(newStore(t, rdb, p).Results()))
	b := mpesa.NewResults(0, 0, mpesa.ShareResults(replicaStore(t, p).Results()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	waiting := make(chan *mpesa.Result, 1)
	go func() {
		res, err := b.Await(ctx, "ref-1")
		if err != nil {
			t.Error(err)
		}
		waiting <- res
	}()
	time.Sleep(100 * time.Millisecond)
	first := testResult("conv-1", "ref-1")
	require.NoError(t, a.Deliver(ctx, first))
	assert.Equal(t, first, <-waiting)

	second := testResult("conv-2", "ref-2")
	require.NoError(t, a.Deliver(ctx, second))
	got, err := b.Await(ctx, "conv-2")
	require.NoError(t, err)
	assert.Equal(t, second, got)
}

func TestStoreClosedEndsWaits(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	s := newStore(t, rdb, p)
	holder := replicaStore(t, p).Credentials()
	_, ok, err := holder.Lease(context.Background(), testCredKey, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	errs := make(chan error, 2)
	go func() { _, err := s.Results().Wait(context.Background(), "x"); errs <- err }()
	go func() { errs <- s.Credentials().Wait(context.Background(), testCredKey) }()
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "twice")
	for i := 0; i < 2; i++ {
		select {
		case err := <-errs:
			assert.ErrorIs(t, err, ErrClosed)
		case <-time.After(5 * time.Second):
			t.Fatal("a wait did not end")
		}
	}
	_, err = s.Results().Wait(context.Background(), "x")
	assert.ErrorIs(t, err, ErrClosed)
	assert.Equal(t, fmt.Sprint(s), s.String())
}

// TestLostMessageDoesNotHangAWaiter: a result in Redis whose message never
// came is found by the waiter's poll.
func TestLostMessageDoesNotHangAWaiter(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	bus := newStore(t, rdb, p, WithPollInterval(50*time.Millisecond)).Results()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan *mpesa.Result, 1)
	go func() {
		res, err := bus.Wait(ctx, "conv-lost")
		if err != nil {
			t.Error(err)
		}
		got <- res
	}()
	time.Sleep(100 * time.Millisecond)
	sent := testResult("conv-lost", "ref-lost")
	payload, err := encodeResult(sent.IDs(), sent)
	require.NoError(t, err)
	require.NoError(t, rdb.Set(ctx, bus.key("conv-lost"), payload, time.Minute).Err(), "kept, never published")
	select {
	case res := <-got:
		assert.Equal(t, sent, res)
	case <-ctx.Done():
		t.Fatal("the waiter hangs")
	}
}

// TestResubscribedWaiterReadsAgain: when the subscription's connection is
// cut, what was kept meanwhile reaches the waiter as soon as the
// subscription is back, without waiting for its (here very long) poll.
func TestResubscribedWaiterReadsAgain(t *testing.T) {
	t.Parallel()
	opt, err := redis.ParseURL(redisURL(t))
	require.NoError(t, err)
	opt.ContextTimeoutEnabled = true
	opt.ClientName = "resubscribe-" + randomName()
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	reads := &commandCounter{} // the waiter's GETs: pub/sub goes around the hook
	rdb.AddHook(reads)
	admin := newRedis(t)
	p := testPrefix(t, admin)
	var logs logBuffer
	s, err := New(rdb, WithPrefix(p), WithPollInterval(time.Minute), WithLogger(logs.logger()))
	require.NoError(t, err)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan *mpesa.Result, 1)
	go func() {
		res, err := s.Results().Wait(ctx, "conv-cut")
		if err != nil {
			t.Error(err)
		}
		got <- res
	}()
	eventually(t, 5*time.Second, "the waiter subscribed and read", func() bool {
		n, err := admin.PubSubNumSub(ctx, s.Results().channel()).Result()
		return err == nil && n[s.Results().channel()] == 1 && reads.n.Load() > 0
	})
	time.Sleep(50 * time.Millisecond) // its GET has been answered
	// Cut the subscription's connection, and keep a result without
	// publishing it: only reading again after resubscribing finds it.
	sent := testResult("conv-cut", "ref-cut")
	payload, err := encodeResult(sent.IDs(), sent)
	require.NoError(t, err)
	require.NoError(t, admin.Set(ctx, s.Results().key("conv-cut"), payload, time.Minute).Err())
	require.NoError(t, killSubscriber(ctx, admin, opt.ClientName))
	select {
	case res := <-got:
		assert.Equal(t, sent, res)
	case <-ctx.Done():
		t.Fatal("the waiter did not read again after resubscribing")
	}
	assert.Contains(t, logs.String(), "the subscription to Redis is lost")
	eventually(t, 5*time.Second, "the subscription is back", func() bool {
		return strings.Contains(logs.String(), "the subscription to Redis is back")
	})
}

// killSubscriber closes the subscription connection of the client named
// name, as a network failure would.
func killSubscriber(ctx context.Context, admin *redis.Client, name string) error {
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		return err
	}
	for _, line := range strings.Split(list, "\n") {
		var id, cname, sub string
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "id":
				id = v
			case "name":
				cname = v
			case "sub":
				sub = v
			}
		}
		if cname == name && sub != "" && sub != "0" {
			return admin.Do(ctx, "CLIENT", "KILL", "ID", id).Err()
		}
	}
	return fmt.Errorf("no subscription connection named %q", name)
}
