// Command replicas runs three replicas of a small payment service that share
// one Redis, in front of the M-Pesa simulator, and shows what they share:
// one gateway session between them, the de-duplication of callbacks, and
// the results, so that a payment's result that the gateway delivers to one
// replica reaches the replica that waits for it.
//
// Each replica has its own mpesa.Client, mpesa.Handler and mpesa.Results
// hub, on a redisstore.Store of its own, as separate processes would. A
// round-robin reverse proxy stands in for the load balancer: it is the
// Response URL the simulator delivers callbacks to.
//
//	redis-server --port 6390 --save '' --appendonly no --daemonize yes
//	REDIS_URL=redis://127.0.0.1:6390/0 go run .
//
// It prints each step and exits with status 1 if anything goes wrong.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
	"github.com/mpesa-go/mpesa/redisstore"
)

func main() {
	redisURL := os.Getenv("REDIS_URL")
	if redisURL == "" {
		fmt.Fprintln(os.Stderr, "replicas: set REDIS_URL, for example REDIS_URL=redis://127.0.0.1:6379/0")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, redisURL); err != nil {
		fmt.Fprintln(os.Stderr, "replicas: FAILED:", err)
		os.Exit(1)
	}
}

// replica is one instance of the payment service.
type replica struct {
	name    string
	store   *redisstore.Store
	client  *mpesa.Client
	hub     *mpesa.Results
	handler *mpesa.Handler
	server  *http.Server
	url     string
}

// run starts the simulator, the proxy and three replicas, makes one
// payment on the first replica and waits for its result there.
func run(ctx context.Context, out io.Writer, redisURL string) error {
	var printMu sync.Mutex
	say := func(who, format string, args ...any) {
		printMu.Lock()
		defer printMu.Unlock()
		fmt.Fprintf(out, "%-11s %s\n", "["+who+"]", fmt.Sprintf(format, args...))
	}
	warnings := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// The proxy's address comes first: it is the simulator's Response URL.
	proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	responseURL := "http://" + proxyLn.Addr().String() + "/mpesa/results"

	sim := mpesatest.NewServer(
		mpesatest.WithAsync(mpesatest.Async{URL: responseURL, APIs: []mpesa.API{mpesa.APIC2B}, Delay: 200 * time.Millisecond}),
		mpesatest.WithLogger(warnings))
	defer sim.Close()
	say("simulator", "M-Pesa OpenAPI simulator at %s; it delivers results to %s", sim.URL(), responseURL)

	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	opt.ContextTimeoutEnabled = true // the store's timeouts bound every command
	prefix := "replicas-example:" + randomHex(4) + ":"
	{
		rdb := redis.NewClient(opt)
		err := rdb.Ping(ctx).Err()
		_ = rdb.Close()
		if err != nil {
			return fmt.Errorf("no answer from Redis at %s: %w", redactURL(redisURL), err)
		}
	}
	say("redis", "connected to %s; this run's keys start with %q", redactURL(redisURL), prefix)
	defer func() {
		n, err := removeKeys(opt, prefix)
		if err != nil {
			say("redis", "removing this run's keys failed: %v", err)
			return
		}
		say("redis", "removed this run's %d keys", n)
	}()

	var (
		mu          sync.Mutex
		processedBy = map[string][]string{} // conversation → replicas that processed it
	)
	var replicas []*replica
	for i := 1; i <= 3; i++ {
		r := &replica{name: fmt.Sprintf("replica-%d", i)}
		rdb := redis.NewClient(opt) // a process of its own would have its own client
		defer rdb.Close()
		if r.store, err = redisstore.New(rdb, redisstore.WithPrefix(prefix), redisstore.WithLogger(warnings)); err != nil {
			return err
		}
		defer r.store.Close()
		r.client, err = mpesa.NewClient(sim.APIKey(), append(sim.Options(mpesa.GatewayOpenAPI),
			mpesa.WithMarket(mpesa.MarketTanzania),
			mpesa.WithCredentialStore(r.store.Credentials()),
			mpesa.WithLogger(warnings))...)
		if err != nil {
			return err
		}
		r.hub = mpesa.NewResults(0, 0, mpesa.ShareResults(r.store.Results()))
		name := r.name
		r.handler, err = mpesa.NewHandler(func(ctx context.Context, res *mpesa.Result) error {
			// A real service records the outcome in its database here.
			mu.Lock()
			processedBy[res.OriginalConversationID] = append(processedBy[res.OriginalConversationID], name)
			mu.Unlock()
			say(name, "received the result of conversation %s: %s %q, verified by a status query: %v; processed here, published through Redis",
				res.OriginalConversationID, res.ResultCode, res.ResultDesc, res.Verified)
			return nil
		},
			mpesa.Deduplicate(r.store.Dedup()),
			mpesa.FeedResults(r.hub),
			mpesa.VerifyWithStatusQuery(r.client),
			mpesa.HandlerLogger(warnings))
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		r.url = "http://" + ln.Addr().String()
		r.server = &http.Server{Handler: r.handler, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
		go func() { _ = r.server.Serve(ln) }()
		defer r.server.Close()
		say(r.name, "serving the Response URL on %s, sharing Redis with the others", ln.Addr())
		replicas = append(replicas, r)
	}

	// The load balancer: round robin, starting with replica-2, so that the
	// callback of replica-1's payment goes elsewhere first.
	var next atomic.Uint64
	var deliveries atomic.Int64
	proxy := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r := replicas[int(next.Add(1)%uint64(len(replicas)))]
		say("proxy", "callback delivery %d → %s", deliveries.Add(1), r.name)
		u, _ := url.Parse(r.url)
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, req)
	})}
	go func() { _ = proxy.Serve(proxyLn) }()
	defer proxy.Close()

	// replica-1 takes a payment and waits for its result.
	payer := replicas[0]
	ref := mpesa.NewReference()
	ans, err := payer.client.C2B(ctx, mpesa.C2BRequest{
		Amount: "10", CustomerMSISDN: mpesatest.MSISDNSuccess, TransactionReference: "replicas",
		ThirdPartyConversationID: ref, PurchasedItemsDesc: "replicas example",
	})
	if err != nil {
		return fmt.Errorf("%s: the payment was refused: %w", payer.name, err)
	}
	if !ans.Async() {
		return fmt.Errorf("%s: the gateway answered synchronously", payer.name)
	}
	say(payer.name, "C2B payment of 10 TZS accepted: conversation %s, reference %s; waiting for its result", ans.ConversationID, ref)
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := payer.hub.Await(waitCtx, ref)
	if err != nil {
		return fmt.Errorf("%s: no result for %s: %w", payer.name, ref, err)
	}
	mu.Lock()
	by := append([]string(nil), processedBy[ans.ConversationID]...)
	mu.Unlock()
	if len(by) != 1 {
		return fmt.Errorf("the result was processed %d times (%v), want once", len(by), by)
	}
	if by[0] == payer.name {
		return fmt.Errorf("the result was processed by %s itself: nothing crossed replicas", payer.name)
	}
	if res.OriginalConversationID != ans.ConversationID || !res.OK() || !res.Verified {
		return fmt.Errorf("%s: unexpected result %v", payer.name, res)
	}
	say(payer.name, "the result reached the waiting replica from %s: %s, transaction %s, verified: %v — paid",
		by[0], res.ResultCode, res.TransactionID, res.Verified)

	cbs, err := sim.WaitCallbacks(waitCtx, 1)
	if err != nil {
		return fmt.Errorf("the simulator's callback did not finish: %w", err)
	}
	if !cbs[0].Acknowledged {
		return errors.New("the simulator's callback was not acknowledged")
	}
	sessions := sim.SessionRequests()
	say("gateway", "getSession calls: %d for %d replicas (the others loaded the session from Redis); callback deliveries: %d, acknowledged",
		sessions, len(replicas), len(cbs[0].Attempts))
	if sessions != 1 {
		return fmt.Errorf("%d getSession calls, want 1 for all replicas", sessions)
	}
	say("ok", "the result %s received reached %s, which was waiting for it", by[0], payer.name)
	return nil
}

// removeKeys deletes the keys under prefix.
func removeKeys(opt *redis.Options, prefix string) (int, error) {
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var keys []string
	iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return 0, err
	}
	if len(keys) == 0 {
		return 0, nil
	}
	return len(keys), rdb.Del(ctx, keys...).Err()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// redactURL hides a password in a Redis URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(REDIS_URL)"
	}
	return u.Redacted()
}
