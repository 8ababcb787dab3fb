package mpesa

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statusScript answers status queries with the given answers in turn (the
// last one repeats) and records the references of the queries.
type statusScript struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
	refs    []string
	queried []string
}

func (s *statusScript) handler(refKey string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.refs = append(s.refs, r.URL.Query().Get(refKey))
		s.queried = append(s.queried, r.URL.Query().Get("input_QueryReference"))
		i := min(len(s.refs), len(s.answers)) - 1
		s.mu.Unlock()
		s.answers[i](w)
	}
}

func (s *statusScript) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.refs)
}

func status(st string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		writeJSON(w, 200, map[string]string{
			"output_ResponseCode": "INS-0", "output_ResponseDesc": "Request processed successfully",
			"output_ResponseTransactionStatus": st, "output_ConversationID": "conv",
			"output_OriginalTransactionID": "4C123GE3", "output_Reversed": "False",
		})
	}
}

func codeAnswer(status int, code string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		writeJSON(w, status, map[string]string{"output_ResponseCode": code, "output_ResponseDesc": "x"})
	}
}

func reconcileClient(t *testing.T) (*Client, *statusScript) {
	t.Helper()
	g := newFakeGateway(t)
	s := &statusScript{}
	g.handle("GET", openAPIPath("queryTransactionStatus/"), s.handler("input_ThirdPartyConversationID"))
	c := g.openAPIClient(t, WithServiceProviderCode("000000"), WithReconcileBackoff(time.Millisecond, 2*time.Millisecond),
		WithMaxRetries(0))
	return c, s
}

func TestTransactionStatusDecodes(t *testing.T) {
	t.Parallel()
	c, s := reconcileClient(t)
	s.answers = []func(http.ResponseWriter){func(w http.ResponseWriter) {
		writeJSON(w, 200, map[string]any{"output_ResponseCode": "INS-0", "output_ResponseTransactionStatus": "Completed",
			"output_OriginalTransactionID": "4C123GE3", "output_Reversed": true, "output_ThirdPartyConversationID": "q1"})
	}}
	res, err := c.TransactionStatus(context.Background(), TransactionStatusRequest{QueryReference: "5C1400CVRO", ThirdPartyConversationID: "q1"})
	require.NoError(t, err)
	assert.Equal(t, StatusCompleted, res.TransactionStatus)
	assert.True(t, res.Reversed, "a JSON boolean is understood too")
	assert.Equal(t, "4C123GE3", res.OriginalTransactionID)
	assert.False(t, res.Async())
	assert.Equal(t, []string{"q1"}, s.refs)
}

func TestReconcileWaitsForAFinalState(t *testing.T) {
	t.Parallel()
	c, s := reconcileClient(t)
	s.answers = []func(http.ResponseWriter){status("Pending"), status("N/A"), status("Completed")}
	res, err := c.Reconcile(context.Background(), TransactionStatusRequest{QueryReference: "REF1", ThirdPartyConversationID: "fixed"})
	require.NoError(t, err)
	assert.Equal(t, StatusCompleted, res.TransactionStatus)
	assert.Equal(t, 3, s.count())
	assert.Equal(t, []string{"REF1", "REF1", "REF1"}, s.queried)
	seen := map[string]bool{}
	for _, r := range s.refs {
		assert.NotEqual(t, "fixed", r, "every query has its own reference")
		assert.False(t, seen[r])
		seen[r] = true
	}
}

// sentLongAgo is the SentAt of a payment whose timeout is long past.
var sentLongAgo = time.Now().Add(-time.Hour)

func TestReconcileNotFound(t *testing.T) {
	t.Parallel()
	c, s := reconcileClient(t)
	s.answers = []func(http.ResponseWriter){codeAnswer(400, "INS-23")}
	res, err := c.Reconcile(context.Background(), TransactionStatusRequest{QueryReference: "REF1", SentAt: sentLongAgo})
	assert.ErrorIs(t, err, ErrTransactionNotFound)
	assert.Nil(t, res)
	assert.Equal(t, notFoundLimit, s.count(), "not found is believed after a few tries")

	c2, s2 := reconcileClient(t)
	s2.answers = []func(http.ResponseWriter){codeAnswer(400, "INS-23"), status("Completed")}
	res, err = c2.Reconcile(context.Background(), TransactionStatusRequest{QueryReference: "REF1", SentAt: sentLongAgo})
	require.NoError(t, err, "a payment that just left may not be visible at once")
	assert.Equal(t, StatusCompleted, res.TransactionStatus)
}

// TestReconcileSaysNotFoundOnlyAfterThePaymentTimeout: a PIN prompt stays
// open 66 to 90 seconds and more, and the payment may be invisible to the
// status query meanwhile. "Not found" means "resending is safe", so
// Reconcile must not say it before the payment timeout has passed since the
// payment was sent (hardening issue, item 11). The clock advances 10 s per
// query.
func TestReconcileSaysNotFoundOnlyAfterThePaymentTimeout(t *testing.T) {
	t.Parallel()
	for name, answer := range map[string]func(http.ResponseWriter){
		"not found": codeAnswer(400, "INS-23"),
		"N/A":       status("N/A"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, s := reconcileClient(t)
			clk := newFakeClock()
			c.now = clk.Now
			sent := clk.Now()
			s.answers = []func(http.ResponseWriter){func(w http.ResponseWriter) {
				clk.Advance(10 * time.Second)
				answer(w)
			}}
			_, err := c.Reconcile(context.Background(), TransactionStatusRequest{QueryReference: "REF1", SentAt: sent})
			if name == "not found" {
				assert.ErrorIs(t, err, ErrTransactionNotFound)
			} else {
				assert.NoError(t, err)
			}
			assert.False(t, clk.Now().Before(sent.Add(DefaultPaymentTimeout)),
				"the verdict came %v after the payment was sent, before its timeout", clk.Now().Sub(sent))
			assert.Equal(t, int(DefaultPaymentTimeout/(10*time.Second)), s.count())
		})
	}
}

func TestReconcileBelievesRepeatedNA(t *testing.T) {
	t.Parallel()
	c, s := reconcileClient(t)
	s.answers = []func(http.ResponseWriter){status("N/A"), status("Pending"), status("N/A")}
	res, err := c.Reconcile(context.Background(), TransactionStatusRequest{QueryReference: "REF1", SentAt: sentLongAgo})
	require.NoError(t, err)
	assert.Equal(t, StatusNotAvailable, res.TransactionStatus)
	assert.Equal(t, 2+notFoundLimit, s.count(), "N/A is believed after a few answers in a row, not polled forever")
}

func TestReconcileKeepsGoingThroughTemporaryFailures(t *testing.T) {
	t.Parallel()
	c, s := reconcileClient(t)
	s.answers = []func(http.ResponseWriter){codeAnswer(503, "INS-16"), func(w http.ResponseWriter) {
		w.WriteHeader(502)
	}, func(w http.ResponseWriter) {
		// The connection drops without an answer.
		conn, _, err := w.(http.Hijacker).Hijack()
		if assert.NoError(t, err) {
			conn.Close()
		}
	}, status("Failed")}
	res, err := c.Reconcile(context.Background(), TransactionStatusRequest{QueryReference: "REF1"})
	require.NoError(t, err)
	assert.Equal(t, StatusFailed, res.TransactionStatus)
}

func TestReconcileStopsOnPermanentErrorsAndContext(t *testing.T) {
	t.Parallel()
	c, s := reconcileClient(t)
	s.answers = []func(http.ResponseWriter){codeAnswer(400, "INS-13")}
	_, err := c.Reconcile(context.Background(), TransactionStatusRequest{QueryReference: "REF1"})
	assert.ErrorIs(t, err, ErrInvalidRequest)
	assert.Equal(t, 1, s.count())

	_, err = c.Reconcile(context.Background(), TransactionStatusRequest{QueryReference: "not valid!"})
	var v *ValidationError
	assert.ErrorAs(t, err, &v)
	assert.Equal(t, 1, s.count(), "validation fails before any I/O")

	c2, s2 := reconcileClient(t)
	s2.answers = []func(http.ResponseWriter){status("Pending")}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res, err := c2.Reconcile(ctx, TransactionStatusRequest{QueryReference: "REF1"})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotNil(t, res, "the last answer comes back with the context error")
	assert.Equal(t, StatusPending, res.TransactionStatus)
}

func TestReconcileReturnsAnAsynchronousAnswer(t *testing.T) {
	t.Parallel()
	c, s := reconcileClient(t)
	s.answers = []func(http.ResponseWriter){func(w http.ResponseWriter) {
		writeJSON(w, 200, map[string]string{"output_ResponseCode": "INS-0", "output_ConversationID": "conv"})
	}}
	res, err := c.Reconcile(context.Background(), TransactionStatusRequest{QueryReference: "REF1"})
	require.NoError(t, err)
	assert.True(t, res.Async())
	assert.Equal(t, 1, s.count())
}

func TestTransactionStatusValues(t *testing.T) {
	t.Parallel()
	for _, s := range []TransactionStatus{StatusCompleted, StatusCancelled, StatusExpired, StatusFailed} {
		assert.True(t, s.Known())
		assert.True(t, s.Final(), s)
	}
	for _, s := range []TransactionStatus{StatusPending, StatusNotAvailable, ""} {
		assert.False(t, s.Final(), s)
	}
	assert.False(t, TransactionStatus("Reversed").Known())
	assert.True(t, TransactionStatus("Reversed").Final(), "an unknown state is handed to the caller")
}
