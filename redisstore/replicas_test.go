package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// TestReplicasShareOneSession: 8 replicas (separate Clients, each with its
// own Redis client and Store) of one application, each with 1,000 callers
// on a cold start, make exactly one getSession between them; at steady
// state a call sends no command to Redis.
//
// It runs alone, before the parallel tests: 8,000 calls cost the simulator
// 8,000 RSA decryptions, which would starve the timing of the others.
func TestReplicasShareOneSession(t *testing.T) {
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	srv := mpesatest.NewServer(mpesatest.WithLogger(discardLogger()))
	defer srv.Close()
	const replicas, callers = 8, 1000

	var clients []*mpesa.Client
	counters := make([]*commandCounter, replicas)
	for i := 0; i < replicas; i++ {
		r := newRedis(t)
		counters[i] = &commandCounter{}
		r.AddHook(counters[i])
		// The simulator's RSA work saturates the machine's cores (the
		// more so with -race): give Redis's answers time to come back.
		s := newStore(t, r, p, WithTimeout(10*time.Second))
		c, err := mpesa.NewClient(srv.APIKey(), append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania),
			mpesa.WithHTTPClient(replicaHTTPClient(t, srv)), mpesa.WithQueryTimeout(3*time.Minute),
			mpesa.WithCredentialStore(s.Credentials()), mpesa.WithLogger(testLogger(t)))...)
		require.NoError(t, err)
		clients = append(clients, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, c := range clients {
		for j := 0; j < callers; j++ {
			wg.Add(1)
			go func(c *mpesa.Client) {
				defer wg.Done()
				<-start
				if _, err := c.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: "none"}); err != nil && !isGatewayAnswer(err) {
					if failed.Add(1) <= 3 {
						t.Error(err)
					}
				}
			}(c)
		}
	}
	close(start)
	wg.Wait()
	require.Zero(t, failed.Load(), "every call went through")
	if !assert.Equal(t, 1, srv.SessionRequests(), "one getSession for %d replicas × %d callers", replicas, callers) {
		for _, c := range srv.CallsTo(mpesa.APIGetSession) {
			t.Logf("getSession at %s: HTTP %d %v", c.Time.Format("15:04:05.000000"), c.Status, c.Response)
		}
	}

	before := make([]int64, replicas)
	for i, c := range counters {
		before[i] = c.n.Load()
	}
	for _, c := range clients {
		for j := 0; j < 10; j++ {
			_, err := c.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: "none"})
			if err != nil && !isGatewayAnswer(err) {
				t.Fatal(err)
			}
		}
	}
	for i, c := range counters {
		assert.Equal(t, before[i], c.n.Load(), "replica %d: a call at steady state sends nothing to Redis", i)
	}
}

// replicaHTTPClient is an HTTP client of the simulator of a replica's own,
// with a few connections, as a process would have: a thousand callers
// queue on them instead of opening a thousand TLS connections.
func replicaHTTPClient(t *testing.T, srv *mpesatest.Server) *http.Client {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost = 16, 16
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// isGatewayAnswer reports whether err is the gateway's answer to a
// well-formed call (a status query of an unknown reference is refused):
// the call was authorised, which is all the session test needs.
func isGatewayAnswer(err error) bool {
	var e *mpesa.Error
	return errors.As(err, &e) && e.Code != "" && !errors.Is(err, mpesa.ErrUnauthorized)
}

// TestReplicasShareOneToken is TestReplicasShareOneSession for Daraja's
// OAuth token, where sharing matters more: each new token invalidates the
// previous one, so replicas refreshing on their own would log each other
// out. 8 replicas × 1,000 callers fetch one token between them; when the
// simulator ends it, every replica's next calls are refused at once, and
// the replicas still fetch one replacement between them.
func TestReplicasShareOneToken(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	p := testPrefix(t, rdb)
	srv := mpesatest.NewServer(mpesatest.WithLogger(discardLogger()))
	defer srv.Close()
	const replicas, callers = 8, 1000

	var clients []*mpesa.Client
	for i := 0; i < replicas; i++ {
		s := newStore(t, newRedis(t), p, WithTimeout(10*time.Second))
		c, err := mpesa.NewClient(srv.APIKey(), append(srv.Options(mpesa.GatewayDaraja),
			mpesa.WithHTTPClient(replicaHTTPClient(t, srv)), mpesa.WithQueryTimeout(time.Minute),
			mpesa.WithCredentialStore(s.Credentials()), mpesa.WithLogger(testLogger(t)))...)
		require.NoError(t, err)
		clients = append(clients, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// An STK query of a push nobody made: the simulator refuses it, but
	// only after the token was accepted.
	query := mpesa.TransactionStatusRequest{QueryReference: "ws_CO_01012020000000000000"}
	burst := func() {
		start := make(chan struct{})
		var wg sync.WaitGroup
		var failed atomic.Int64
		for _, c := range clients {
			for j := 0; j < callers; j++ {
				wg.Add(1)
				go func(c *mpesa.Client) {
					defer wg.Done()
					<-start
					if _, err := c.TransactionStatus(ctx, query); err != nil && !isGatewayAnswer(err) {
						if failed.Add(1) <= 3 {
							t.Error(err)
						}
					}
				}(c)
			}
		}
		close(start)
		wg.Wait()
		require.Zero(t, failed.Load(), "every call went through")
	}
	burst()
	assert.Equal(t, 1, srv.TokenRequests(), "one token for %d replicas × %d callers", replicas, callers)

	srv.ExpireTokens()
	burst()
	assert.Equal(t, 2, srv.TokenRequests(), "one replacement for every replica")
}

// replicaSet is N replicas of a payment service behind a round-robin
// reverse proxy, as the gateway sees them: each with its own Redis client,
// Store, Client, Handler and Results hub.
type replicaSet struct {
	t        *testing.T
	srv      *mpesatest.Server
	replicas []*replica
	proxy    *httptest.Server
	next     atomic.Uint64 // round-robin counter
	// loseAckEvery > 0 makes every n-th delivery's acknowledgement lost
	// on its way back (the proxy answers 502 after the replica answered),
	// so that the gateway redelivers a result that was processed.
	loseAckEvery uint64
	// copyEvery > 0 makes every n-th delivery also go, at the same time,
	// to the next replica: a gateway that delivers twice at once.
	copyEvery uint64
	copies    sync.WaitGroup

	mu        sync.Mutex
	processed map[string][]string // OriginalConversationID → replicas whose ResultFunc succeeded
	payer     map[string]string   // OriginalConversationID → the replica that paid and awaited
}

type replica struct {
	name    string
	rdb     *redis.Client
	store   *Store
	client  *mpesa.Client
	hub     *mpesa.Results
	handler *mpesa.Handler
	server  *httptest.Server
	// process, when set, runs in the ResultFunc before the result counts
	// as processed; an error fails the delivery.
	process func(ctx context.Context, res *mpesa.Result) error
	// dead makes the proxy answer for the replica as for a process that
	// is gone: 502, the replica never sees the request.
	dead atomic.Bool
}

type replicaOptions struct {
	n           int
	storeOpts   []Option
	async       mpesatest.Async
	redisURL    string // default REDIS_URL
	prefix      string
	clientOpts  []mpesa.Option
	clientLogs  io.Writer
	handlerLogs io.Writer
}

func newReplicaSet(t *testing.T, o replicaOptions) *replicaSet {
	t.Helper()
	rs := &replicaSet{t: t, processed: map[string][]string{}, payer: map[string]string{}}
	rs.proxy = httptest.NewServer(http.HandlerFunc(rs.route))
	t.Cleanup(rs.proxy.Close)
	o.async.URL = rs.proxy.URL + "/mpesa/results"
	rs.srv = mpesatest.NewServer(mpesatest.WithAsync(o.async), mpesatest.WithLogger(discardLogger()))
	t.Cleanup(rs.srv.Close)
	url := o.redisURL
	if url == "" {
		url = redisURL(t)
	}
	handlerLogs, clientLogs := o.handlerLogs, o.clientLogs
	if handlerLogs == nil {
		handlerLogs = io.Discard
	}
	if clientLogs == nil {
		clientLogs = io.Discard
	}
	for i := 0; i < o.n; i++ {
		r := &replica{name: fmt.Sprintf("replica-%d", i)}
		r.rdb = dialRedis(t, url)
		r.store = newStore(t, r.rdb, o.prefix, o.storeOpts...)
		var err error
		r.client, err = mpesa.NewClient(rs.srv.APIKey(), append(append(rs.srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania),
			mpesa.WithCredentialStore(r.store.Credentials()), mpesa.WithLogger(slogTo(clientLogs, r.name))), o.clientOpts...)...)
		require.NoError(t, err)
		r.hub = mpesa.NewResults(0, 0, mpesa.ShareResults(r.store.Results()))
		r.handler, err = mpesa.NewHandler(rs.resultFunc(r),
			mpesa.Deduplicate(r.store.Dedup()), mpesa.FeedResults(r.hub),
			mpesa.HandlerLogger(slogTo(handlerLogs, r.name)))
		require.NoError(t, err)
		r.server = httptest.NewServer(r.handler)
		t.Cleanup(r.server.Close)
		rs.replicas = append(rs.replicas, r)
	}
	t.Cleanup(rs.copies.Wait)
	return rs
}

func (rs *replicaSet) resultFunc(r *replica) mpesa.ResultFunc {
	return func(ctx context.Context, res *mpesa.Result) error {
		if r.process != nil {
			if err := r.process(ctx, res); err != nil {
				return err
			}
		}
		rs.mu.Lock()
		rs.processed[res.OriginalConversationID] = append(rs.processed[res.OriginalConversationID], r.name)
		rs.mu.Unlock()
		return nil
	}
}

// route is the round-robin proxy in front of the replicas.
func (rs *replicaSet) route(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	n := rs.next.Add(1)
	target := rs.replicas[int(n%uint64(len(rs.replicas)))]
	if rs.copyEvery > 0 && n%rs.copyEvery == 0 {
		other := rs.replicas[int((n+1)%uint64(len(rs.replicas)))]
		rs.copies.Add(1)
		go func() {
			defer rs.copies.Done()
			resp, err := http.Post(other.server.URL+r.URL.Path, "application/json", bytes.NewReader(body))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	if target.dead.Load() {
		w.WriteHeader(http.StatusBadGateway) // connection refused
		return
	}
	u, _ := url.Parse(target.server.URL)
	rec := httptest.NewRecorder()
	r.Body = io.NopCloser(bytes.NewReader(body))
	httputil.NewSingleHostReverseProxy(u).ServeHTTP(rec, r)
	if rs.loseAckEvery > 0 && n%rs.loseAckEvery == 0 {
		w.WriteHeader(http.StatusBadGateway) // the replica's answer is lost
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// pay makes one C2B payment on replica r and awaits its result there.
func (rs *replicaSet) pay(ctx context.Context, r *replica) (conv string, res *mpesa.Result, err error) {
	ref := mpesa.NewReference()
	req := c2bRequest()
	req.ThirdPartyConversationID = ref
	ans, err := r.client.C2B(ctx, req)
	if err != nil {
		return "", nil, fmt.Errorf("%s: C2B: %w", r.name, err)
	}
	if !ans.Async() {
		return "", nil, fmt.Errorf("%s: a synchronous answer", r.name)
	}
	res, err = r.hub.Await(ctx, ref)
	if err != nil {
		return ans.ConversationID, nil, fmt.Errorf("%s: Await %s: %w", r.name, ref, err)
	}
	return ans.ConversationID, res, nil
}

// payAll makes perReplica payments on every replica at once and checks
// that each result reached the replica that paid.
func (rs *replicaSet) payAll(ctx context.Context, perReplica int) []string {
	t := rs.t
	type outcome struct {
		conv, payer string
		res         *mpesa.Result
		err         error
	}
	out := make(chan outcome, perReplica*len(rs.replicas))
	for _, r := range rs.replicas {
		for j := 0; j < perReplica; j++ {
			go func(r *replica) {
				conv, res, err := rs.pay(ctx, r)
				out <- outcome{conv, r.name, res, err}
			}(r)
		}
	}
	var convs []string
	for i := 0; i < cap(out); i++ {
		o := <-out
		if !assert.NoError(t, o.err) {
			continue
		}
		assert.Equal(t, o.conv, o.res.OriginalConversationID, "awaited on the replica that paid")
		assert.True(t, o.res.OK())
		convs = append(convs, o.conv)
		rs.mu.Lock()
		rs.payer[o.conv] = o.payer
		rs.mu.Unlock()
	}
	return convs
}

// checkOnce waits for the gateway to finish delivering and checks that
// every result was processed exactly once.
func (rs *replicaSet) checkOnce(ctx context.Context, convs []string) []mpesatest.Callback {
	t := rs.t
	cbs, err := rs.srv.WaitCallbacks(ctx, len(convs))
	require.NoError(t, err)
	rs.copies.Wait()
	for _, cb := range cbs {
		assert.True(t, cb.Acknowledged, "callback %s acknowledged after %d attempts", cb.Params["input_OriginalConversationID"], len(cb.Attempts))
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	assert.Len(t, rs.processed, len(convs), "every result processed")
	for _, conv := range convs {
		assert.Len(t, rs.processed[conv], 1, "result %s processed once: %v", conv, rs.processed[conv])
	}
	return cbs
}

// elsewhere counts the results processed on a replica other than the one
// that paid and awaited them.
func (rs *replicaSet) elsewhere() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	n := 0
	for conv, by := range rs.processed {
		if len(by) > 0 && by[0] != rs.payer[conv] {
			n++
		}
	}
	return n
}

func attempts(cbs []mpesatest.Callback) (total int, statuses map[int]int) {
	statuses = map[int]int{}
	for _, cb := range cbs {
		total += len(cb.Attempts)
		for _, a := range cb.Attempts {
			statuses[a.Status]++
		}
	}
	return total, statuses
}

// TestHandlerReplicasProcessEachResultOnce: 8 handler replicas behind a
// round-robin proxy get every delivery of the simulator's callbacks. Half
// the replicas fail the first delivery of every result, every 5th
// acknowledgement is lost on the way back and every 4th delivery reaches a
// second replica at the same time, so that the gateway redelivers results
// both unprocessed and processed: each is processed exactly once, and
// reaches the Await of the replica that paid.
func TestHandlerReplicasProcessEachResultOnce(t *testing.T) {
	t.Parallel()
	rs := newReplicaSet(t, replicaOptions{
		n: 8, prefix: testPrefix(t, newRedis(t)),
		async: mpesatest.Async{MaxAttempts: 12, Backoff: 20 * time.Millisecond},
	})
	rs.loseAckEvery, rs.copyEvery = 5, 4
	for i, r := range rs.replicas {
		if i%2 == 0 {
			var seen sync.Map
			r.process = func(_ context.Context, res *mpesa.Result) error {
				if _, again := seen.LoadOrStore(res.OriginalConversationID, true); !again {
					return errors.New("first delivery fails on this replica")
				}
				return nil
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	convs := rs.payAll(ctx, 5)
	cbs := rs.checkOnce(ctx, convs)
	total, statuses := attempts(cbs)
	t.Logf("%d results, %d deliveries: %v by status", len(convs), total, statuses)
	assert.Greater(t, total, len(convs), "there were redeliveries")
	assert.NotZero(t, statuses[http.StatusInternalServerError], "a replica failed a delivery")
	assert.NotZero(t, statuses[http.StatusBadGateway], "an acknowledgement was lost")
	assert.Greater(t, rs.elsewhere(), len(convs)/2, "most results arrived at a replica other than the one awaiting them")
	assert.Equal(t, 1, rs.srv.SessionRequests(), "the replicas share one session")
}

// TestKilledReplicaRedeliveredToAnother: the replica that gets the first
// delivery dies while it processes it (its ResultFunc never returns and the
// gateway's request times out). Its claim holds until its lease runs out,
// deliveries meanwhile are answered 503, and the next one is processed once
// by another replica and reaches the Await of the replica that paid.
func TestKilledReplicaRedeliveredToAnother(t *testing.T) {
	t.Parallel()
	const lease = 2 * time.Second
	rs := newReplicaSet(t, replicaOptions{
		n: 3, prefix: testPrefix(t, newRedis(t)),
		storeOpts: []Option{WithClaimLease(lease)},
		async: mpesatest.Async{MaxAttempts: 10, Backoff: 100 * time.Millisecond,
			Client: &http.Client{Timeout: time.Second}},
	})
	killed := make(chan struct{})
	entered := make(chan time.Time, 1)
	dead := rs.replicas[1]
	dead.process = func(ctx context.Context, res *mpesa.Result) error {
		dead.dead.Store(true) // from now on its port refuses connections
		entered <- time.Now()
		<-killed // the process is gone: nothing after this happens
		return errors.New("killed")
	}
	t.Cleanup(func() { close(killed) })
	rs.next.Store(0) // the first delivery goes to replica 1

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conv, res, err := rs.pay(ctx, rs.replicas[0])
	require.NoError(t, err)
	assert.Equal(t, conv, res.OriginalConversationID)
	cbs, err := rs.srv.WaitCallbacks(ctx, 1)
	require.NoError(t, err)
	died := <-entered
	rs.mu.Lock()
	by := rs.processed[conv]
	rs.mu.Unlock()
	require.Len(t, by, 1, "processed once")
	assert.NotEqual(t, dead.name, by[0])
	cb := cbs[0]
	assert.True(t, cb.Acknowledged)
	last := cb.Attempts[len(cb.Attempts)-1]
	assert.GreaterOrEqual(t, last.Time.Sub(died), lease/2, "processed only once the dead replica's lease ran out")
	_, statuses := attempts(cbs)
	t.Logf("%d deliveries: %v by status", len(cb.Attempts), statuses)
	for _, a := range cb.Attempts {
		t.Logf("attempt at +%v: %d %s", a.Time.Sub(died), a.Status, a.Err)
	}
	assert.NotZero(t, statuses[0], "the delivery to the dead replica got no answer")
	assert.NotZero(t, statuses[http.StatusServiceUnavailable], "deliveries during the lease were answered 503")
	for _, a := range cb.Attempts[1:] {
		if a.Status == http.StatusServiceUnavailable {
			assert.Less(t, a.Time.Sub(died), lease, "503 while the lease holds")
		}
	}
}
