package mpesa

// The fault matrix: every call of both gateways over HTTP/1.1 and HTTP/2
// against every fault the fault gateway (faultserver_test.go) can inject,
// each cell with a fresh server and one call. The expectations are the
// specification the transport must meet; in particular a payment is never
// sent twice unless the gateway said it did not process it, whatever Go's
// HTTP/2 transport would do on its own after RST_STREAM or GOAWAY.
//
// Run one cell: go test -run 'TestFaultMatrix/openapi/http2/goaway_after_read/c2b' .

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// faultGatewayKind is one of the two gateways with its client options.
type faultGatewayKind struct {
	name    string
	openAPI bool
}

var faultGateways = []faultGatewayKind{{"openapi", true}, {"mozambique", false}}

// newFaultClient returns a client of gk aimed at g.
func newFaultClient(t testing.TB, gk faultGatewayKind, g *faultGateway, extra ...Option) *Client {
	t.Helper()
	_, pub := testKey(t)
	opts := []Option{
		WithPublicKey(pub), WithBaseURL(g.base), WithHTTPClient(g.client),
		WithMaxRetries(2), WithRetryBackoff(time.Millisecond, 5*time.Millisecond),
		// Generous, so that a loaded machine does not turn a slow answer
		// into a timeout; the cells that test timeouts set their own.
		WithQueryTimeout(10 * time.Second),
	}
	if gk.openAPI {
		opts = append(opts, WithMarket(MarketTanzania), WithServiceProviderCode("000000"))
	} else {
		opts = append(opts, WithGateway(GatewayMozambique), WithServiceProviderCode("171717"),
			WithInitiator("MPesa2018", Secret("Mpesa2019")))
	}
	c, err := NewClient(testAPIKey, append(opts, extra...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// faultCall is one product call. do returns the reference the answer
// states.
type faultCall struct {
	name  string
	query bool
	do    func(ctx context.Context, c *Client, moz bool, ref string) (string, error)
}

func faultMSISDN(moz bool) string {
	if moz {
		return "258843330333"
	}
	return "255744553111"
}

var faultCalls = []faultCall{
	{name: "c2b", do: func(ctx context.Context, c *Client, moz bool, ref string) (string, error) {
		res, err := c.C2B(ctx, C2BRequest{Amount: "10", CustomerMSISDN: faultMSISDN(moz), TransactionReference: "T12344C",
			ThirdPartyConversationID: ref, PurchasedItemsDesc: "Handbag, Black shoes"})
		if res == nil {
			return "", err
		}
		return res.ThirdPartyConversationID, err
	}},
	{name: "b2c", do: func(ctx context.Context, c *Client, moz bool, ref string) (string, error) {
		res, err := c.B2C(ctx, B2CRequest{Amount: "10", CustomerMSISDN: faultMSISDN(moz), TransactionReference: "T12344C",
			ThirdPartyConversationID: ref, PaymentItemsDesc: "Salary payment"})
		if res == nil {
			return "", err
		}
		return res.ThirdPartyConversationID, err
	}},
	{name: "b2b", do: func(ctx context.Context, c *Client, moz bool, ref string) (string, error) {
		res, err := c.B2B(ctx, B2BRequest{Amount: "10", ReceiverPartyCode: "000001", TransactionReference: "T12344C",
			ThirdPartyConversationID: ref, PurchasedItemsDesc: "Shoes"})
		if res == nil {
			return "", err
		}
		return res.ThirdPartyConversationID, err
	}},
	{name: "reversal", do: func(ctx context.Context, c *Client, moz bool, ref string) (string, error) {
		res, err := c.Reversal(ctx, ReversalRequest{TransactionID: "49XCD123F6", ReversalAmount: "10", ThirdPartyConversationID: ref})
		if res == nil {
			return "", err
		}
		return res.ThirdPartyConversationID, err
	}},
	{name: "status", query: true, do: func(ctx context.Context, c *Client, moz bool, ref string) (string, error) {
		res, err := c.TransactionStatus(ctx, TransactionStatusRequest{QueryReference: "49XCD123F6", ThirdPartyConversationID: ref})
		if res == nil {
			return "", err
		}
		if err == nil && res.TransactionStatus != StatusCompleted {
			err = fmt.Errorf("status %q, want Completed", res.TransactionStatus)
		}
		return res.ThirdPartyConversationID, err
	}},
}

// faultRef is the fixed reference of a call: every resend must carry it.
func faultRef(call string) string { return "FLT" + strings.ToUpper(call) + "0c9f2e7a41" }

// faultWant is what a cell must observe.
type faultWant struct {
	min, max  int     // product requests the gateway saw (getSession not counted)
	ok        bool    // the call succeeds
	is        []error // errors.Is must hold for each
	not       []error // and must not for these
	retryable bool    // the *Error reports Retryable()
	check     func(t *testing.T, c *faultCell)
}

// faultCase is one row of the matrix.
type faultCase struct {
	name   string
	h2only bool
	cfg    func(openAPI bool) faultConfig
	// capAtBound sets the runaway cap to the most requests the cell
	// allows, for faults after which Go's transport resends with a backoff
	// of seconds (REFUSED_STREAM): the first request over the bound is
	// answered normally, so that a broken cell ends quickly.
	capAtBound bool
	// timeout is the call's context deadline; 20 s when nil.
	timeout func(query bool) time.Duration
	// opts are client options of the cell.
	opts           []Option
	payment, query faultWant
}

// faultCell is the outcome of one cell.
type faultCell struct {
	gk      faultGatewayKind
	proto   string
	call    faultCall
	g       *faultGateway
	ref     string
	gotRef  string
	err     error
	elapsed time.Duration
	reqs    []seenRequest
}

// describe summarises what happened, for failure messages.
func (c *faultCell) describe() string {
	var b strings.Builder
	complete := 0
	for _, r := range c.reqs {
		if r.Complete {
			complete++
		}
	}
	fmt.Fprintf(&b, "gateway saw %d product requests (%d with the body read completely), %d getSession, %d connections; call took %v; err = %v",
		len(c.reqs), complete, c.g.Sessions(), c.g.Conns(), c.elapsed.Round(time.Millisecond), c.err)
	if len(c.reqs) >= defaultRunawayCap {
		b.WriteString(" [runaway: the gateway stopped faulting after its cap and answered normally]")
	}
	return b.String()
}

func faultRetryAfter(seconds string) faultAction {
	a := faultRespond(http.StatusTooManyRequests, "application/json", `{"error":"rate limited"}`)
	a.header.Set("Retry-After", seconds)
	return a
}

const faultHTML = "<html><head><title>Gateway</title></head><body><h1>Service</h1><p>Please try again later.</p></body></html>"

// always returns a faultFunc that applies a to every product request.
func always(a faultAction) func(bool) faultConfig {
	return func(bool) faultConfig {
		return faultConfig{product: func(*faultGateway, *seenRequest, int) faultAction { return a }}
	}
}

// connFaultCfg applies f to every connection but the one of getSession.
func connFaultCfg(f connFault) func(bool) faultConfig {
	return func(openAPI bool) faultConfig {
		cfg := faultConfig{conn: f}
		if openAPI {
			// getSession gets a healthy connection that is closed after
			// the answer, so that the product request meets the fault.
			cfg.healthyConns = 1
		}
		return cfg
	}
}

// neverSentOrUnknown: a payment whose connection was reset before the
// gateway read anything either failed as never sent (retryable) or with its
// outcome unknown; after an outcome-unknown failure no further attempt may
// have been made.
func neverSentOrUnknown(t *testing.T, c *faultCell) {
	var e *Error
	if !errors.As(c.err, &e) {
		return // reported by the common checks
	}
	n := c.g.FaultedConns()
	switch {
	case errors.Is(c.err, ErrOutcomeUnknown):
		if n != 1 {
			t.Errorf("outcome unknown, yet %d connection attempts were made: an attempt followed an outcome-unknown failure; %s", n, c.describe())
		}
	case e.Retryable():
		if n < 1 || n > 3 {
			t.Errorf("never sent: %d connection attempts, want 1 to 3 (1 + WithMaxRetries(2)); %s", n, c.describe())
		}
	default:
		t.Errorf("want ErrOutcomeUnknown or a retryable never-sent error, got %v; %s", c.err, c.describe())
	}
}

// neverSentOrUnknownAfterHandshake is neverSentOrUnknown when connections
// may be redialled by net/http without the SDK knowing.
func neverSentOrUnknownAfterHandshake(t *testing.T, c *faultCell) {
	var e *Error
	if !errors.As(c.err, &e) {
		return // reported by the common checks
	}
	if !errors.Is(c.err, ErrOutcomeUnknown) && !e.Retryable() {
		t.Errorf("want ErrOutcomeUnknown or a retryable never-sent error, got %v; %s", c.err, c.describe())
	}
	if n := c.g.FaultedConns(); n < 1 || n > 10 {
		t.Errorf("%d connection attempts, want 1 to 10; %s", n, c.describe())
	}
}

// retriedConns: a query whose connections are reset before the gateway
// read anything is retried, a bounded number of times.
func retriedConns(t *testing.T, c *faultCell) {
	if n := c.g.FaultedConns(); n < 2 || n > 10 {
		t.Errorf("%d connection attempts, want 2 to 10 (retried, bounded); %s", n, c.describe())
	}
}

func faultDeadline(payment, query time.Duration) func(bool) time.Duration {
	return func(q bool) time.Duration {
		if q {
			return query
		}
		return payment
	}
}

var faultCases = []faultCase{
	{
		name: "none", cfg: func(bool) faultConfig { return faultConfig{} },
		payment: faultWant{min: 1, max: 1, ok: true},
		query:   faultWant{min: 1, max: 1, ok: true},
	},
	{
		// 1. Nothing listens: nothing reaches the gateway, and the call
		// may be retried since it never left.
		name: "refused", cfg: func(bool) faultConfig { return faultConfig{refused: true} },
		payment: faultWant{min: 0, max: 0, not: []error{ErrOutcomeUnknown}, retryable: true},
		query:   faultWant{min: 0, max: 0, not: []error{ErrOutcomeUnknown}, retryable: true},
	},
	{
		// 2. The TCP connection is reset before the server reads
		// anything (before TLS).
		name: "reset_before_write", cfg: connFaultCfg(connResetBeforeTLS),
		payment: faultWant{min: 0, max: 0, check: neverSentOrUnknown},
		query:   faultWant{min: 0, max: 0, check: retriedConns},
	},
	{
		// 2b. The same after the TLS handshake: the client may have
		// written its request, the server read none of it. Connections
		// are not attempts here: when an HTTP/2 connection dies before
		// the stream was written, net/http dials again on its own, so
		// only the kind and a bound are checked.
		name: "reset_after_handshake", cfg: connFaultCfg(connResetAfterHandshake),
		payment: faultWant{min: 0, max: 0, check: neverSentOrUnknownAfterHandshake},
		query:   faultWant{min: 0, max: 0, check: retriedConns},
	},
	{
		// 3. The server reads the whole request, then resets the TCP
		// connection.
		name: "reset_after_write", cfg: always(faultAction{kind: faultResetConn}),
		payment: faultWant{min: 1, max: 1, is: []error{ErrOutcomeUnknown}},
		query:   faultWant{min: 3, max: 3, not: []error{ErrOutcomeUnknown}, retryable: true},
	},
	{
		// 4. RST_STREAM PROTOCOL_ERROR after reading the stream: Go's
		// transport resends a POST with GetBody on its own. The query may
		// be resent (net/http's own retries of a body-less GET plus the
		// SDK's), within bounds.
		name: "rst_protocol_error", h2only: true,
		cfg:     always(faultAction{kind: faultRSTStream, code: http2.ErrCodeProtocol}),
		payment: faultWant{min: 1, max: 1, is: []error{ErrOutcomeUnknown}},
		query:   faultWant{min: 1, max: 10},
	},
	{
		// 5. REFUSED_STREAM once: the server says it did not process
		// the stream, so it may be sent once more.
		name: "rst_refused_once", h2only: true,
		cfg: func(bool) faultConfig {
			return faultConfig{product: func(g *faultGateway, r *seenRequest, n int) faultAction {
				if n == 1 {
					return faultAction{kind: faultRSTStream, code: http2.ErrCodeRefusedStream}
				}
				return g.normal(r)
			}}
		},
		payment: faultWant{min: 2, max: 2, ok: true},
		query:   faultWant{min: 2, max: 2, ok: true},
	},
	{
		// 5b. REFUSED_STREAM always: resent once at most.
		name: "rst_refused_always", h2only: true, capAtBound: true,
		cfg:     always(faultAction{kind: faultRSTStream, code: http2.ErrCodeRefusedStream}),
		payment: faultWant{min: 1, max: 2, not: []error{ErrOutcomeUnknown}},
		query:   faultWant{min: 2, max: 10, not: []error{ErrOutcomeUnknown}},
	},
	{
		// 5c. GOAWAY with REFUSED_STREAM naming this stream the last it
		// processes: the stream may have been processed, whatever the
		// code says, and the debug text (the server's) imitates a
		// refused stream's error.
		name: "goaway_refused_naming_the_stream", h2only: true,
		cfg: always(faultAction{kind: faultGoAwayLast, code: http2.ErrCodeRefusedStream,
			debug: []byte("stream error: stream ID 1; REFUSED_STREAM")}),
		payment: faultWant{min: 1, max: 1, is: []error{ErrOutcomeUnknown}},
		query:   faultWant{min: 2, max: 10},
	},
	{
		// 6. GOAWAY(LastStreamID 0, NO_ERROR) after reading the stream,
		// then the connection is closed.
		name: "goaway_after_read", h2only: true,
		cfg:     always(faultAction{kind: faultGoAway, code: http2.ErrCodeNo}),
		payment: faultWant{min: 1, max: 1, is: []error{ErrOutcomeUnknown}},
		query:   faultWant{min: 2, max: 10},
	},
	{
		// 7. The server reads the request and never answers. The
		// payment's context ends after 2 s; each query attempt ends
		// after WithQueryTimeout(1s) under a 20 s context.
		name: "slow_past_timeout", cfg: always(faultAction{kind: faultHoldRequest}),
		timeout: faultDeadline(2*time.Second, 20*time.Second),
		opts:    []Option{WithQueryTimeout(time.Second)},
		payment: faultWant{min: 1, max: 1, is: []error{ErrOutcomeUnknown, context.DeadlineExceeded}},
		query:   faultWant{min: 3, max: 3, retryable: true},
	},
	{
		// 8. Every product request gets a 500 that is not a gateway
		// answer.
		name: "5xx_storm", cfg: always(faultRespond(500, "application/json", `{"error":"upstream"}`)),
		payment: faultWant{min: 1, max: 1, is: []error{ErrOutcomeUnknown}},
		query:   faultWant{min: 3, max: 3},
	},
	{
		// 9. 429 with Retry-After: 1 on the first request of the call. A
		// 429 is a refusal before processing: the query is retried after
		// the wait, the payment is not resent by the SDK but reported
		// overloaded and retryable.
		name: "429_retry_after",
		cfg: func(bool) faultConfig {
			return faultConfig{product: func(g *faultGateway, r *seenRequest, n int) faultAction {
				if n == 1 {
					return faultRetryAfter("1")
				}
				return g.normal(r)
			}}
		},
		timeout: faultDeadline(3*time.Second, 5*time.Second),
		payment: faultWant{min: 1, max: 1, is: []error{ErrOverloaded}, not: []error{ErrOutcomeUnknown}, retryable: true},
		query: faultWant{min: 2, max: 2, ok: true, check: func(t *testing.T, c *faultCell) {
			if len(c.reqs) == 2 {
				if d := c.reqs[1].At.Sub(c.reqs[0].At); d < 900*time.Millisecond {
					t.Errorf("the retry came %v after the 429, want ≥ 900ms (Retry-After: 1); %s", d, c.describe())
				}
			}
		}},
	},
	{
		// 10. An HTML page with 200.
		name: "html_200", cfg: always(faultRespond(200, "text/html; charset=utf-8", faultHTML)),
		payment: faultWant{min: 1, max: 1, is: []error{ErrUnexpectedResponse, ErrOutcomeUnknown}},
		query:   faultWant{min: 3, max: 3, is: []error{ErrUnexpectedResponse}},
	},
	{
		// 10b. A firewall's 403 HTML page: refused before the gateway.
		name: "html_403", cfg: always(faultRespond(403, "text/html; charset=utf-8", faultHTML)),
		payment: faultWant{min: 1, max: 1, is: []error{ErrUnexpectedResponse}, not: []error{ErrOutcomeUnknown}},
		query:   faultWant{min: 1, max: 1, is: []error{ErrUnexpectedResponse}},
	},
	{
		// 11. Truncated JSON with a matching Content-Length.
		name: "truncated_json",
		cfg: func(bool) faultConfig {
			return faultConfig{product: func(g *faultGateway, r *seenRequest, n int) faultAction {
				status := http.StatusCreated
				if r.Method == http.MethodGet {
					status = http.StatusOK
				}
				return faultRespond(status, "application/json", `{"output_ResponseCode":"INS-0","output_Conv`)
			}}
		},
		payment: faultWant{min: 1, max: 1, is: []error{ErrOutcomeUnknown}},
		query:   faultWant{min: 3, max: 3},
	},
	{
		// 12. 409 INS-10.
		name:    "duplicate_409",
		cfg:     always(faultJSON(409, map[string]string{"output_ResponseCode": "INS-10", "output_ResponseDesc": "Duplicate Transaction"})),
		payment: faultWant{min: 1, max: 1, is: []error{ErrDuplicate}, not: []error{ErrOutcomeUnknown}},
		query:   faultWant{min: 1, max: 1},
	},
	{
		// 13. 401 INS-6: a business outcome, not a refused session: no
		// second getSession.
		name:    "failed_401_ins6",
		cfg:     always(faultJSON(401, map[string]string{"output_ResponseCode": "INS-6", "output_ResponseDesc": "Transaction Failed"})),
		payment: faultWant{min: 1, max: 1, is: []error{ErrTransactionFailed}, check: oneSession},
		query:   faultWant{min: 1, max: 1, check: oneSession},
	},
}

// oneSession: on OpenAPI exactly one getSession was made.
func oneSession(t *testing.T, c *faultCell) {
	if c.gk.openAPI && c.g.Sessions() != 1 {
		t.Errorf("%d getSession requests, want 1: the answer refused the transaction, not the session; %s", c.g.Sessions(), c.describe())
	}
}

func TestFaultMatrix(t *testing.T) {
	t.Parallel()
	for _, gk := range faultGateways {
		t.Run(gk.name, func(t *testing.T) {
			t.Parallel()
			for _, proto := range faultProtocols {
				t.Run(proto, func(t *testing.T) {
					t.Parallel()
					for _, fc := range faultCases {
						t.Run(fc.name, func(t *testing.T) {
							if fc.h2only && proto != protoHTTP2 {
								t.Skip("HTTP/2 only")
							}
							t.Parallel()
							for _, call := range faultCalls {
								t.Run(call.name, func(t *testing.T) {
									t.Parallel()
									runFaultCell(t, gk, proto, fc, call)
								})
							}
						})
					}
				})
			}
		})
	}
}

func runFaultCell(t *testing.T, gk faultGatewayKind, proto string, fc faultCase, call faultCall) {
	want := fc.payment
	if call.query {
		want = fc.query
	}
	cfg := fc.cfg(gk.openAPI)
	if fc.capAtBound {
		cfg.runawayCap = want.max
	}
	g := newFaultGateway(t, proto, cfg)
	client := newFaultClient(t, gk, g, fc.opts...)
	d := 20 * time.Second
	if fc.timeout != nil {
		d = fc.timeout(call.query)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()

	c := &faultCell{gk: gk, proto: proto, call: call, g: g, ref: faultRef(call.name)}
	start := time.Now()
	var panicked any
	var stack []byte
	func() {
		defer func() {
			if p := recover(); p != nil {
				panicked, stack = p, debug.Stack()
			}
		}()
		c.gotRef, c.err = call.do(ctx, client, !gk.openAPI, c.ref)
	}()
	c.elapsed = time.Since(start)
	c.reqs = g.ProductRequests()

	// (d) No panic.
	if panicked != nil {
		t.Fatalf("the call panicked: %v\n%s", panicked, stack)
	}
	for _, a := range g.Anomalies() {
		t.Errorf("fault gateway: %s", a)
	}
	// (a) How many product requests reached the gateway.
	if n := len(c.reqs); n < want.min || n > want.max {
		if want.min == want.max {
			t.Errorf("gateway saw %d product requests, want %d; %s", n, want.min, c.describe())
		} else {
			t.Errorf("gateway saw %d product requests, want %d to %d; %s", n, want.min, want.max, c.describe())
		}
	}
	// (c) Every request of the call was the same, with the reference, and
	// was read completely before the fault.
	for i, r := range c.reqs {
		if !r.Complete {
			t.Errorf("request %d: body not read completely; %s", i+1, c.describe())
		}
		if !strings.Contains(r.payload(), c.ref) {
			t.Errorf("request %d does not carry the reference %s:\n%s", i+1, c.ref, r.payload())
		}
		if i > 0 && r.payload() != c.reqs[0].payload() {
			t.Errorf("request %d differs from the first:\n%s\nfirst:\n%s", i+1, r.payload(), c.reqs[0].payload())
		}
	}
	// (b) The outcome.
	if want.ok {
		if c.err != nil {
			t.Errorf("want success, got %v; %s", c.err, c.describe())
		} else if c.gotRef != c.ref {
			t.Errorf("answer states reference %q, want %q", c.gotRef, c.ref)
		}
	} else {
		if c.err == nil {
			t.Errorf("want an error, got success; %s", c.describe())
		} else {
			var e *Error
			if !errors.As(c.err, &e) {
				t.Errorf("error %T is not an *Error: %v", c.err, c.err)
			} else {
				if e.ThirdPartyConversationID != c.ref {
					t.Errorf("error carries reference %q, want %q: %v", e.ThirdPartyConversationID, c.ref, c.err)
				}
				if want.retryable && !e.Retryable() {
					t.Errorf("want Retryable() true: %v; %s", c.err, c.describe())
				}
			}
			for _, k := range want.is {
				if !errors.Is(c.err, k) {
					t.Errorf("want an error matching %q, got %v; %s", k, c.err, c.describe())
				}
			}
			for _, k := range want.not {
				if errors.Is(c.err, k) {
					t.Errorf("want an error not matching %q, got %v; %s", k, c.err, c.describe())
				}
			}
		}
	}
	if want.check != nil {
		want.check(t, c)
	}
}

// TestRetryBudgetDuringA5xxStorm: 50 concurrent status queries on one client
// against a gateway that answers every request 503 without INS-16. Each
// query alone would be retried twice (150 requests); a per-client retry
// budget, like aws-sdk-go-v2's retry token bucket or stripe-go's, stops a
// storm from tripling the load on a gateway that is already failing.
//
// The exact budget is not designed yet. The bound says that once the
// budget is drained, at most half of the calls get a retry: total requests
// ≤ 50 + 50/2.
func TestRetryBudgetDuringA5xxStorm(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, proto string) {
		const calls = 50
		g := newFaultGateway(t, proto, faultConfig{runawayCap: -1, product: func(*faultGateway, *seenRequest, int) faultAction {
			return faultRespond(http.StatusServiceUnavailable, "application/json", `{"error":"upstream unavailable"}`)
		}})
		c := newFaultClient(t, faultGatewayKind{"mozambique", false}, g)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		var failed atomic.Int64
		for i := 0; i < calls; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.TransactionStatus(ctx, TransactionStatusRequest{
					QueryReference: "49XCD123F6", ThirdPartyConversationID: fmt.Sprintf("BUDGET%02d", i)})
				if err != nil {
					failed.Add(1)
				}
			}()
		}
		wg.Wait()
		if f := failed.Load(); f != calls {
			t.Errorf("%d of %d calls failed, want all", f, calls)
		}
		if n := len(g.ProductRequests()); n > calls+calls/2 {
			t.Errorf("the gateway saw %d requests for %d calls, want ≤ %d: the client needs a retry budget", n, calls, calls+calls/2)
		}
	})
}

// TestHugeRetryAfterIsNotAwaitedPastTheDeadline: a query answered 429 with
// Retry-After: 3600 under a 2 s context gives up at once: it neither sleeps
// an hour nor until the deadline.
func TestHugeRetryAfterIsNotAwaitedPastTheDeadline(t *testing.T) {
	t.Parallel()
	// The margins are wide: the test tells "gave up at once" from "slept
	// until the deadline" or "slept for the Retry-After", not one fast
	// machine from a slow one.
	for _, tc := range []struct {
		name       string
		retryAfter string
		deadline   time.Duration
		within     time.Duration
	}{
		{"an hour, longer than any wait the client accepts", "3600", time.Minute, 30 * time.Second},
		{"longer than the caller's deadline", "20", 10 * time.Second, 8 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachProtocol(t, func(t *testing.T, proto string) {
				g := newFaultGateway(t, proto, faultConfig{product: func(*faultGateway, *seenRequest, int) faultAction {
					return faultRetryAfter(tc.retryAfter)
				}})
				c := newFaultClient(t, faultGatewayKind{"mozambique", false}, g)
				ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
				defer cancel()
				start := time.Now()
				_, err := c.TransactionStatus(ctx, TransactionStatusRequest{QueryReference: "49XCD123F6", ThirdPartyConversationID: "HUGERETRYAFTER"})
				d := time.Since(start)
				if err == nil {
					t.Error("want an error")
				}
				if d > tc.within {
					t.Errorf("returned after %v, want within %v: a wait that outlasts the deadline is not started", d, tc.within)
				}
				if n := len(g.ProductRequests()); n != 1 {
					t.Errorf("gateway saw %d requests, want 1", n)
				}
			})
		})
	}
}

// TestFaultServersSpeakTheirProtocol proves the fault gateways: the HTTP/2
// one receives HTTP/2 frames (several streams per connection, several
// connections), the HTTP/1.1 one HTTP/1.1 over TLS, and both answer every
// call of both gateways normally.
func TestFaultServersSpeakTheirProtocol(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, proto string) {
		g := newFaultGateway(t, proto, faultConfig{})
		_, pub := testKey(t)
		bearer := faultBearer(t, pub, testAPIKey)
		// get may run on other goroutines: it reports with Errorf.
		get := func(hc *http.Client) *http.Response {
			req, err := http.NewRequest(http.MethodGet, g.base+faultSessionPath, nil)
			if err != nil {
				t.Error(err)
				return nil
			}
			req.Header.Set("Authorization", bearer)
			resp, err := hc.Do(req)
			if err != nil {
				t.Errorf("GET getSession: %v", err)
				return nil
			}
			resp.Body.Close()
			return resp
		}
		resp := get(g.client)
		if resp == nil {
			t.FailNow()
		}
		if resp.StatusCode != 200 {
			t.Errorf("getSession: %s", resp.Status)
		}
		wantMajor, wantProto := 1, "HTTP/1.1"
		if proto == protoHTTP2 {
			wantMajor, wantProto = 2, "HTTP/2.0"
		}
		if resp.ProtoMajor != wantMajor || resp.Proto != wantProto {
			t.Errorf("client got %s, want %s", resp.Proto, wantProto)
		}
		// Concurrent requests on the warm connection, then a second client.
		var wg sync.WaitGroup
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); get(g.client) }()
		}
		wg.Wait()
		other := faultHTTPClient(proto, g.client.Transport.(*http.Transport).TLSClientConfig.RootCAs)
		defer other.CloseIdleConnections()
		get(other)

		reqs := g.Requests()
		if len(reqs) != 12 {
			t.Errorf("gateway saw %d requests, want 12", len(reqs))
		}
		conns := map[int64]bool{}
		var maxStream uint32
		for _, r := range reqs {
			if r.Proto != wantProto {
				t.Errorf("gateway saw %s, want %s", r.Proto, wantProto)
			}
			conns[r.Conn] = true
			maxStream = max(maxStream, r.Stream)
		}
		if len(conns) < 2 {
			t.Errorf("requests came on %d connections, want 2 or more (two clients)", len(conns))
		}
		if proto == protoHTTP2 {
			if g.h2Prefaces.Load() < 2 || g.h2Frames.Load() < 12 {
				t.Errorf("HTTP/2 server read %d prefaces and %d frames", g.h2Prefaces.Load(), g.h2Frames.Load())
			}
			if maxStream < 3 {
				t.Errorf("highest stream ID %d: several streams per connection were not exercised", maxStream)
			}
		} else {
			protos := 0
			g.h1TLSProtos.Range(func(k, _ any) bool {
				protos++
				if k != "http/1.1" && k != "" { // no ALPN means HTTP/1.1
					t.Errorf("HTTP/1.1 server negotiated ALPN %q", k)
				}
				return true
			})
			if protos == 0 {
				t.Error("HTTP/1.1 server saw no TLS request")
			}
		}
		for _, a := range g.Anomalies() {
			t.Errorf("fault gateway: %s", a)
		}

		// Every call of both gateways succeeds against the normal answers.
		for _, gk := range faultGateways {
			for _, call := range faultCalls {
				g := newFaultGateway(t, proto, faultConfig{})
				c := newFaultClient(t, gk, g)
				ref := faultRef(call.name)
				got, err := call.do(context.Background(), c, !gk.openAPI, ref)
				if err != nil || got != ref {
					t.Errorf("%s %s: got %q, %v", gk.name, call.name, got, err)
				}
				for _, r := range g.Requests() {
					if r.Proto != wantProto {
						t.Errorf("%s %s: gateway saw %s", gk.name, call.name, r.Proto)
					}
				}
			}
		}
	})
}
