package redisstore

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// redisServer is a redis-server process of the test's own, on a free
// loopback port, with its data in a temporary directory.
type redisServer struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	args []string
}

// startRedisServer starts redis-server with an append-only file written
// before every answer (appendfsync always), so that a kill loses nothing
// Redis acknowledged. It skips the test when redis-server is not
// installed.
func startRedisServer(t testing.TB) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (apt-get install redis-server): this test stops and starts a Redis of its own")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	dir := t.TempDir()
	r := &redisServer{t: t, bin: bin, dir: dir, port: port, args: []string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log"),
	}}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// start runs the server and waits until it answers.
func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, r.args...)
	require.NoError(r.t, r.cmd.Start())
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on port %d does not answer: %v (see %s)", r.port, err, filepath.Join(r.dir, "redis.log"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the server at once, as a crash would.
func (r *redisServer) kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// TestRedisRestartMidRun: Redis is killed while payments are in flight,
// the gateway's sessions expire meanwhile, and Redis comes back. The
// replicas fetch sessions of their own while it is away and payments go
// on; callbacks are answered 503 and delivered again; once Redis is back
// every result is processed exactly once (every 5th acknowledgement is
// lost, so that processed results are redelivered too) and reaches the
// replica that awaits it.
func TestRedisRestartMidRun(t *testing.T) {
	t.Parallel()
	redisURL(t) // with the other tests against a real Redis
	srv := startRedisServer(t)
	var clientLogs logBuffer
	rs := newReplicaSet(t, replicaOptions{
		n: 4, redisURL: srv.url(), prefix: testPrefix(t, nil),
		storeOpts:  []Option{WithTimeout(300 * time.Millisecond), WithPollInterval(200 * time.Millisecond)},
		async:      mpesatest.Async{MaxAttempts: 12, Backoff: 100 * time.Millisecond},
		clientLogs: &clientLogs,
	})
	rs.loseAckEvery = 5
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	before := rs.payAll(ctx, 3)
	rs.checkOnce(ctx, before)

	srv.kill()
	down := time.Now()
	rs.srv.ExpireSessions()
	during := make(chan []string, 1)
	go func() { during <- rs.payAll(ctx, 3) }()
	// Let the refreshes and the callbacks of the new payments meet the
	// missing Redis.
	eventually(t, 30*time.Second, "a replica fetched a session of its own while Redis is away", func() bool {
		return strings.Contains(clientLogs.String(), "fetches a credential of its own")
	})
	eventually(t, 30*time.Second, "a callback answered 503 while Redis is away", func() bool {
		_, statuses := attempts(rs.srv.Callbacks())
		return statuses[http.StatusServiceUnavailable] > 0
	})
	time.Sleep(500 * time.Millisecond)
	srv.start()
	t.Logf("Redis was away for %v", time.Since(down).Round(time.Millisecond))

	all := append(before, <-during...)
	cbs := rs.checkOnce(ctx, all)
	total, statuses := attempts(cbs)
	t.Logf("%d results, %d deliveries: %v by status", len(all), total, statuses)
	assert.Len(t, all, 2*3*4, "every payment went through and its result was awaited")
	assert.Greater(t, rs.elsewhere(), 0, "results reached the awaiting replica from another one")
}

// TestDedupMendsOnceRedisIsBack: a completion that failed because Redis
// went away is made once it is back, so that a redelivery is acknowledged
// without being processed again; and a claim Redis applied but whose
// answer was lost is released, so that redeliveries do not wait for its
// lease.
func TestDedupMendsOnceRedisIsBack(t *testing.T) {
	t.Parallel()
	redisURL(t)
	srv := startRedisServer(t)
	rdb := dialRedis(t, srv.url())
	d := newStore(t, rdb, testPrefix(t, nil), WithTimeout(200*time.Millisecond)).Dedup()
	ctx := context.Background()
	const processed, ambiguous = `result/openapi-v2/"processed"/"0"/"tx"`, `result/openapi-v2/"ambiguous"/"0"/"tx"`

	s, err := d.Claim(ctx, processed, "a")
	require.NoError(t, err)
	require.Equal(t, mpesa.ClaimAcquired, s)
	// Redis applies the second claim, then dies before answering.
	require.NoError(t, rdb.Set(ctx, d.key(ambiguous), "claimed:b", time.Minute).Err())
	srv.kill()

	assert.Error(t, d.Complete(ctx, processed, "a"), "the result was processed; Redis is away")
	_, err = d.Claim(ctx, ambiguous, "b")
	assert.Error(t, err, "the handler answers 503 and does not know it holds the claim")

	srv.start()
	eventually(t, 10*time.Second, "the completion is made once Redis is back", func() bool {
		v, _ := rdb.Get(ctx, d.key(processed)).Result()
		return v == "done:a"
	})
	eventually(t, 10*time.Second, "the lost claim is released", func() bool {
		n, _ := rdb.Exists(ctx, d.key(ambiguous)).Result()
		return n == 0
	})
	s, err = d.Claim(ctx, processed, "c")
	require.NoError(t, err)
	assert.Equal(t, mpesa.ClaimDone, s, "a redelivery is not processed again")
	s, err = d.Claim(ctx, ambiguous, "d")
	require.NoError(t, err)
	assert.Equal(t, mpesa.ClaimAcquired, s, "a redelivery is processed at once")
}
