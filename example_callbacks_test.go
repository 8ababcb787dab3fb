package mpesa_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// post delivers a callback body to h as the gateway would, from peer, and
// returns the HTTP status of the answer.
func post(h http.Handler, body, peer, forwardedFor string) int {
	r := httptest.NewRequest(http.MethodPost, "/mpesa/results", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = peer
	if forwardedFor != "" {
		r.Header.Set("X-Forwarded-For", forwardedFor)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Code
}

// The gateways sign nothing: anybody who knows the Response URL can post a
// "paid" result. With VerifyWithStatusQuery the handler asks the status of
// every success by its reference before the application sees it; a forged
// result for an order that was never paid is refused, and only a genuine
// one arrives, with Verified set.
func ExampleVerifyWithStatusQuery() {
	srv := mpesatest.NewServer()
	defer srv.Close()
	client, err := mpesa.NewClient(srv.APIKey(), append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
	if err != nil {
		log.Fatal(err)
	}
	handler, err := mpesa.NewHandler(func(_ context.Context, res *mpesa.Result) error {
		fmt.Println("order", res.ThirdPartyConversationID, "paid:", res.OK() && res.Verified)
		return nil
	}, mpesa.VerifyWithStatusQuery(client))
	if err != nil {
		log.Fatal(err)
	}

	paid, err := client.C2B(context.Background(), mpesa.C2BRequest{Amount: "1", CustomerMSISDN: mpesatest.MSISDNSuccess,
		TransactionReference: "T1", PurchasedItemsDesc: "Shoes", ThirdPartyConversationID: "ORDER1"})
	if err != nil {
		log.Fatal(err)
	}
	result := func(conv, ref string) string {
		return fmt.Sprintf(`{"input_OriginalConversationID":%q,"input_ThirdPartyConversationID":%q,"input_TransactionID":%q,"input_ResultCode":"INS-0"}`,
			conv, ref, paid.TransactionID)
	}
	// A forged success for order 2, carrying order 1's transaction.
	fmt.Println(post(handler, result("forged", "ORDER2"), "203.0.113.7:4000", ""))
	// The genuine result of order 1.
	fmt.Println(post(handler, result(paid.ConversationID, "ORDER1"), "203.0.113.7:4000", ""))
	// Output:
	// 503
	// order ORDER1 paid: true
	// 200
}

// Callbacks can be limited to the addresses the gateway sends from. Behind
// a load balancer the peer is the balancer: TrustProxies names it, and the
// source is then the address it puts in X-Forwarded-For. From any other peer
// X-Forwarded-For is ignored, so it cannot be spoofed.
func ExampleAllowSources() {
	handler, err := mpesa.NewHandler(func(context.Context, *mpesa.Result) error { return nil },
		mpesa.AllowSources(netip.MustParsePrefix("196.201.214.0/24")), // the gateway, as your operator gives it
		mpesa.TrustProxies(netip.MustParsePrefix("10.0.0.0/8")),       // your load balancers
	)
	if err != nil {
		log.Fatal(err)
	}
	body := `{"input_OriginalConversationID":"c1","input_ResultCode":"INS-6"}`
	fmt.Println(post(handler, body, "196.201.214.200:5000", ""))                    // the gateway itself
	fmt.Println(post(handler, body, "10.1.2.3:5000", "196.201.214.200"))            // the gateway through the balancer
	fmt.Println(post(handler, body, "203.0.113.7:5000", "196.201.214.200"))         // a spoofed header from elsewhere
	fmt.Println(post(handler, body, "10.1.2.3:5000", "203.0.113.7, 196.201.214.9")) // the rightmost untrusted hop decides
	// Output:
	// 200
	// 200
	// 403
	// 200
}

// countingStore is a DedupStore that wraps another and counts what the
// handler asks of it: the shape of a store of your own (a database, Redis:
// see the redisstore module).
type countingStore struct {
	mpesa.DedupStore
	mu     sync.Mutex
	claims map[mpesa.ClaimState]int
}

func (s *countingStore) Claim(ctx context.Context, key, owner string) (mpesa.ClaimState, error) {
	st, err := s.DedupStore.Claim(ctx, key, owner)
	s.mu.Lock()
	s.claims[st]++
	s.mu.Unlock()
	return st, err
}

// A result delivered twice is processed once: the second delivery finds its
// key done in the DedupStore and is acknowledged without running the
// function.
func ExampleDedupStore() {
	store := &countingStore{DedupStore: mpesa.NewMemoryDedup(0, 0), claims: map[mpesa.ClaimState]int{}}
	runs := 0
	handler, err := mpesa.NewHandler(func(context.Context, *mpesa.Result) error { runs++; return nil },
		mpesa.Deduplicate(store))
	if err != nil {
		log.Fatal(err)
	}
	body := `{"input_OriginalConversationID":"c1","input_ThirdPartyConversationID":"r1","input_ResultCode":"INS-6"}`
	fmt.Println(post(handler, body, "203.0.113.7:4000", ""), post(handler, body, "203.0.113.7:4000", ""))
	fmt.Println("runs:", runs, "acquired:", store.claims[mpesa.ClaimAcquired], "done:", store.claims[mpesa.ClaimDone])
	// Output:
	// 200 200
	// runs: 1 acquired: 1 done: 1
}
