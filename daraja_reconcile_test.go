package mpesa

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Reconcile and resends on Daraja (docs/gateways.md D8, D10, D18, X3).

// stkQueryAnswer is an STK query answer with a result code, or "" for the
// "being processed" error.
func stkQueryAnswer(code string) http.HandlerFunc {
	if code == "" {
		return answerJSON(500, `{"requestId":"1","errorCode":"500.001.1001","errorMessage":"The transaction is being processed"}`)
	}
	return answerJSON(200, `{"ResponseCode":"0","ResponseDescription":"The service request has been accepted successfully","MerchantRequestID":"8555-67195-1","CheckoutRequestID":"ws_CO_27072017151044001","ResultCode":"`+code+`","ResultDesc":"d"}`)
}

// TestDarajaReconcileSTKPush polls the STK query until the push is final.
func TestDarajaReconcileSTKPush(t *testing.T) {
	t.Parallel()
	f := newDarajaFake()
	f.answers = []http.HandlerFunc{stkQueryAnswer(""), stkQueryAnswer(""), stkQueryAnswer("1032")}
	c, _ := darajaClient(t, f, WithReconcileBackoff(time.Millisecond, 2*time.Millisecond))
	res, err := c.Reconcile(context.Background(), TransactionStatusRequest{QueryReference: "ws_CO_27072017151044001"})
	require.NoError(t, err)
	assert.Equal(t, StatusCancelled, res.TransactionStatus)
	assert.Equal(t, "1032", res.ResultCode)
	info, _ := LookupCode(GatewayDaraja, APIC2B, res.ResultCode)
	assert.ErrorIs(t, info.Kind, ErrCancelledByCustomer)
	reqs := f.requests()
	require.Len(t, reqs, 3)
	for _, r := range reqs {
		assert.Equal(t, "/mpesa/stkpushquery/v1/query", r.path)
	}
}

// TestDarajaReconcileWithoutHub returns the acknowledgement of the
// transaction status API: the state comes by callback.
func TestDarajaReconcileWithoutHub(t *testing.T) {
	t.Parallel()
	f := newDarajaFake()
	c, _ := darajaClient(t, f)
	res, err := c.Reconcile(context.Background(), TransactionStatusRequest{QueryReference: "PDU91HIVIT"})
	require.NoError(t, err)
	assert.True(t, res.Async())
	assert.Equal(t, "AG_20180223_0000493344ae97d86f75", res.ConversationID)
	assert.Len(t, f.requests(), 1)
}

// statusResult is the Result the callback side delivers for a status
// query (see daraja_reconcile.go for the contract).
func statusResult(conv, code, status string) *Result {
	return &Result{Gateway: GatewayDaraja, OriginalConversationID: conv, ThirdPartyConversationID: "10816-694520-2",
		ResultCode: code, ResultDesc: "The service request has been accepted successfully.", TransactionID: "LGR0000000",
		Parameters: []ResultParameter{{"ReceiptNo", "LGR919G2AV"}, {"Amount", "10"}, {"TransactionStatus", status}}}
}

// statusAcks answers each status query with a ConversationID of its own
// and reports them.
func statusAcks(f *darajaFake) <-chan string {
	ch := make(chan string, 100)
	var mu sync.Mutex
	n := 0
	f.answers = []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		conv := fmt.Sprintf("AG_20260101_%020d", n)
		mu.Unlock()
		writeJSON(w, 200, map[string]string{"ConversationID": conv, "OriginatorConversationID": "10816-694520-2",
			"ResponseCode": "0", "ResponseDescription": "Accept the service request successfully."})
		ch <- conv
	}}
	return ch
}

// TestDarajaReconcileAwaitsTheStatusResult: with WithResults, Reconcile
// waits for the status result on the hub the Handler feeds.
func TestDarajaReconcileAwaitsTheStatusResult(t *testing.T) {
	t.Parallel()
	hub := NewResults(0, 0)
	f := newDarajaFake()
	acks := statusAcks(f)
	c, _ := darajaClient(t, f, WithResults(hub), WithReconcileBackoff(time.Millisecond, 2*time.Millisecond))
	go func() {
		conv := <-acks
		time.Sleep(10 * time.Millisecond)
		hub.Deliver(context.Background(), statusResult(conv, "0", "Completed"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Reconcile(ctx, TransactionStatusRequest{QueryReference: "feb5e3f2-fbbc-4745-844c-ee37b546f627"})
	require.NoError(t, err)
	assert.Equal(t, StatusCompleted, res.TransactionStatus)
	assert.Equal(t, "LGR919G2AV", res.OriginalTransactionID, "the receipt, not the result's placeholder TransactionID")
	assert.Equal(t, "AG_20260101_00000000000000000001", res.ConversationID)
	assert.False(t, res.Async())
	assert.Len(t, f.requests(), 1)
}

// TestDarajaReconcileResultBeforeAnswer: a callback may overtake the
// answer of the query that caused it; the hub keeps it.
func TestDarajaReconcileResultBeforeAnswer(t *testing.T) {
	t.Parallel()
	hub := NewResults(0, 0)
	f := newDarajaFake()
	f.answers = []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
		hub.Deliver(context.Background(), statusResult("AG_EARLY", "0", "Expired"))
		writeJSON(w, 200, map[string]string{"ConversationID": "AG_EARLY", "ResponseCode": "0", "ResponseDescription": "ok"})
	}}
	c, _ := darajaClient(t, f, WithResults(hub))
	res, err := c.Reconcile(context.Background(), TransactionStatusRequest{QueryReference: "PDU91HIVIT"})
	require.NoError(t, err)
	assert.Equal(t, StatusExpired, res.TransactionStatus)
}

// TestDarajaReconcilePendingThenFinal: a result that is not final yet
// (Pending Authorized) makes Reconcile ask again; a result that comes late
// for an earlier query still counts.
func TestDarajaReconcilePendingThenFinal(t *testing.T) {
	t.Parallel()
	hub := NewResults(0, 0)
	f := newDarajaFake()
	acks := statusAcks(f)
	c, _ := darajaClient(t, f, WithResults(hub), WithReconcileBackoff(time.Millisecond, 2*time.Millisecond),
		WithQueryTimeout(30*time.Millisecond))
	go func() {
		first := <-acks
		hub.Deliver(context.Background(), statusResult(first, "0", "Pending Authorized"))
		second := <-acks
		<-acks // the third query is sent: the second round passed without a result
		hub.Deliver(context.Background(), statusResult(second, "0", "Completed"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Reconcile(ctx, TransactionStatusRequest{QueryReference: "PDU91HIVIT"})
	require.NoError(t, err)
	assert.Equal(t, StatusCompleted, res.TransactionStatus)
	assert.GreaterOrEqual(t, len(f.requests()), 3)
}

// TestDarajaReconcileFailedResult returns the result's error.
func TestDarajaReconcileFailedResult(t *testing.T) {
	t.Parallel()
	hub := NewResults(0, 0)
	f := newDarajaFake()
	acks := statusAcks(f)
	c, _ := darajaClient(t, f, WithResults(hub))
	go func() { hub.Deliver(context.Background(), statusResult(<-acks, "2001", "")) }()
	last, err := c.Reconcile(context.Background(), TransactionStatusRequest{QueryReference: "PDU91HIVIT"})
	require.ErrorIs(t, err, ErrUnauthorized, "2001: the initiator information is invalid")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, GatewayDaraja, e.Gateway)
	assert.Equal(t, APITransactionStatus, e.API)
	require.NotNil(t, last)
	assert.True(t, last.Async(), "the last answer is the acknowledgement")
}

// TestDarajaReconcileContextEnds: no result ever comes; Reconcile returns
// the last acknowledgement and the context's error.
func TestDarajaReconcileContextEnds(t *testing.T) {
	t.Parallel()
	hub := NewResults(0, 0)
	f := newDarajaFake()
	statusAcks(f)
	c, _ := darajaClient(t, f, WithResults(hub), WithReconcileBackoff(time.Millisecond, 2*time.Millisecond),
		WithQueryTimeout(20*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	last, err := c.Reconcile(ctx, TransactionStatusRequest{QueryReference: "PDU91HIVIT"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotNil(t, last)
	assert.True(t, last.Async())
	assert.GreaterOrEqual(t, len(f.requests()), 2, "asked again after each round without a result")
}

var (
	errRefusedStream = errors.New("http2: Transport: cannot retry err [stream error: stream ID 3; REFUSED_STREAM; received from peer] " +
		"after Request.Body was written; define Request.GetBody to avoid this error")
	errGoAwayRefused = errors.New(`http2: server sent GOAWAY and closed the connection; LastStreamID=3, ErrCode=REFUSED_STREAM, ` +
		`debug="http2: Transport: cannot retry err [stream error: stream ID 3; REFUSED_STREAM] after Request.Body was written; define Request.GetBody to avoid this error"`)
)

// TestDarajaTransportResends: a request that never left is sent again,
// even an STK push; one that was written and not answered is an unknown
// outcome, never resent.
func TestDarajaTransportResends(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		err     error
		api     API
		hits    int
		unknown bool
	}{
		{"dial error, stk push", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, APIC2B, 2, false},
		{"dial error, b2c", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, APIB2C, 2, false},
		{"reset after writing, stk push", io.ErrUnexpectedEOF, APIC2B, 1, true},
		{"reset after writing, b2c", io.ErrUnexpectedEOF, APIB2C, 1, true},
		{"reset after writing, stk query", io.ErrUnexpectedEOF, APISTKQuery, 2, false},
		// Only net/http's own report of an RST_STREAM REFUSED_STREAM
		// proves the stream was not processed; text the server chose that
		// names REFUSED_STREAM (an HTTP/1.1 status line, a GOAWAY that
		// names the stream as processed, its debug data) proves nothing.
		{"refused stream, b2c", errRefusedStream, APIB2C, 2, false},
		{"status line naming REFUSED_STREAM, b2c", errors.New(`net/http: malformed HTTP status code "REFUSED_STREAM"`), APIB2C, 1, true},
		{"status line naming REFUSED_STREAM, stk push", errors.New(`net/http: malformed HTTP status code "REFUSED_STREAM"`), APIC2B, 1, true},
		{"GOAWAY with REFUSED_STREAM, b2c", errGoAwayRefused, APIB2C, 1, true},
		{"GOAWAY with REFUSED_STREAM, stk push", errGoAwayRefused, APIC2B, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newDarajaFake()
			c, mt := darajaClient(t, f, WithMaxRetries(2))
			_, err := c.AccountBalance(context.Background(), AccountBalanceRequest{}) // warm the token
			require.NoError(t, err)
			var mu sync.Mutex
			n := 0
			mt.RegisterNoResponder(func(req *http.Request) (*http.Response, error) {
				mu.Lock()
				n++
				first := n == 1
				mu.Unlock()
				if first {
					return nil, tc.err
				}
				return handlerResponder(f)(req)
			})
			_, err = darajaProducts[tc.api](context.Background(), c)
			assert.Equal(t, tc.hits, n)
			if tc.unknown {
				require.ErrorIs(t, err, ErrOutcomeUnknown)
				return
			}
			require.NoError(t, err)
			reqs := f.requests()
			assert.Len(t, reqs, 2, "the balance and the one that got through")
		})
	}
}
