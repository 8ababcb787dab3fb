package mpesa

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// VerifyWithStatusQuery on Daraja (docs/gateways.md X6, D32): STK results
// with the STK query, envelopes and C2B confirmations with the transaction
// status, whose answer comes by callback to the same Handler.

const (
	paidCheckout = "ws_CO_191220191020363925"
	ourParty     = testShortcode + " - Test Shop"
	customer     = "254708374149 - John Doe"
)

func TestDarajaVerifySTK(t *testing.T) {
	t.Parallel()
	l := newDarajaLedger()
	l.stk[paidCheckout] = "0"
	l.stk["ws_CO_CANCELLED"] = "1032"
	l.stk["ws_CO_PENDING"] = ""
	m := newDarajaMerchant(t, l)

	assert.Equal(t, http.StatusOK, m.post(stkBody(paidCheckout, "NLJ7RT61SV", 0)))
	require.Len(t, m.verified(), 1)
	assert.Equal(t, "NLJ7RT61SV", m.verified()[0].TransactionID)

	for checkout, want := range map[string]int{
		"ws_CO_CANCELLED": http.StatusUnprocessableEntity, // the query says 1032
		"ws_CO_PENDING":   http.StatusServiceUnavailable,  // being processed
		"ws_CO_UNKNOWN":   http.StatusServiceUnavailable,  // the query fails
		"not-a-checkout":  http.StatusUnprocessableEntity, // no STK query can ask for it
	} {
		assert.Equal(t, want, m.post(stkBody(checkout, "LGR7OWQX0R", 0)), checkout)
	}
	assert.Len(t, m.results(), 1, "none of them reached the ResultFunc")

	// A failure is passed on unverified, without a query.
	assert.Equal(t, http.StatusOK, m.post(stkBody("ws_CO_CANCELLED", "", 1032)))
	require.Len(t, m.results(), 2)
	assert.False(t, m.results()[1].Verified)

	// The answer must name the same CheckoutRequestID.
	l2 := newDarajaLedger()
	l2.stk["ws_CO_ASKED"] = "0"
	l2.stkAnswerID = "ws_CO_ANOTHER"
	m2 := newDarajaMerchant(t, l2)
	assert.Equal(t, http.StatusUnprocessableEntity, m2.post(stkBody("ws_CO_ASKED", "LGR7OWQX0R", 0)))
	assert.Empty(t, m2.results())
}

func TestDarajaVerifyEnvelopeWaitsForTheStatusResult(t *testing.T) {
	t.Parallel()
	l := newDarajaLedger()
	l.delay = 20 * time.Millisecond
	l.add(darajaTx{receipt: "SG632NMUAB", originator: "O-PAID", conversation: "AG_PAID", amount: "10", status: "Completed",
		debit: ourParty, credit: customer})
	m := newDarajaMerchant(t, l)

	assert.Equal(t, http.StatusOK, m.post(envelopeBody("O-PAID", "AG_PAID", "SG632NMUAB", "10.00", 0, "")))
	require.Len(t, m.verified(), 1, "10.00 and 10 are one amount")
	assert.Equal(t, int32(1), l.queries.Load())
	for _, r := range m.results() {
		assert.NotEqual(t, APITransactionStatus, r.API, "the handler's own status results stay out of the ResultFunc")
	}
	// The status result was processed on its own request and fed to the
	// hub, never verified itself (no second query).
	assert.Equal(t, int32(1), l.queries.Load())

	// Contradictions.
	l.add(darajaTx{receipt: "SGFAILED01", originator: "O-FAILED", conversation: "AG_FAILED", amount: "10", status: "Declined"})
	l.add(darajaTx{receipt: "SGOTHER001", originator: "O-OTHER", conversation: "AG_OTHER", amount: "10", status: "Completed"})
	l.add(darajaTx{receipt: "SGAMOUNT01", originator: "O-AMOUNT", conversation: "AG_AMOUNT", amount: "10", status: "Completed"})
	l.add(darajaTx{receipt: "SGCONV0001", originator: "O-CONV", conversation: "AG_REAL", amount: "10", status: "Completed"})
	l.add(darajaTx{receipt: "SGPEND0001", originator: "O-PEND", conversation: "AG_PEND", amount: "10", status: "Initiated"})
	for _, tt := range []struct {
		body string
		want int
	}{
		{envelopeBody("O-FAILED", "AG_FAILED", "SGFAILED01", "10", 0, ""), http.StatusUnprocessableEntity},
		{envelopeBody("O-OTHER", "AG_OTHER", "SG632NMUAB", "10", 0, ""), http.StatusUnprocessableEntity}, // another receipt
		{envelopeBody("O-AMOUNT", "AG_AMOUNT", "SGAMOUNT01", "10000", 0, ""), http.StatusUnprocessableEntity},
		{envelopeBody("O-CONV", "AG_FORGED", "SGCONV0001", "10", 0, ""), http.StatusUnprocessableEntity},
		{envelopeBody("O-PEND", "AG_PEND", "SGPEND0001", "10", 0, ""), http.StatusServiceUnavailable},
		{envelopeBody("O-NEVER", "AG_NEVER", "SGNEVER001", "10", 0, ""), http.StatusServiceUnavailable}, // SFC_IC0003
	} {
		assert.Equal(t, tt.want, m.post(tt.body), tt.body)
	}
	assert.Len(t, m.verified(), 1)
	assert.Len(t, m.results(), 1)

	// A failure and a balance result (a placeholder TransactionID) are
	// passed on unverified, without a query.
	before := l.queries.Load()
	assert.Equal(t, http.StatusOK, m.post(envelopeBody("O-F", "AG_F", "SGF0000001", "10", 2001, "")))
	assert.Equal(t, http.StatusOK, m.post(string(darajaFixture(t, "account_balance.json"))))
	assert.Equal(t, before, l.queries.Load())
	assert.Len(t, m.results(), 3)
}

// TestDarajaVerifyWhenTheStatusIsLate: a status result that does not come
// within StatusResultWait gets 503; the next delivery finds the status that
// came meanwhile instead of asking again.
func TestDarajaVerifyWhenTheStatusIsLate(t *testing.T) {
	t.Parallel()
	l := newDarajaLedger()
	l.delay = 500 * time.Millisecond
	l.add(darajaTx{receipt: "SG632NMUAB", originator: "O-LATE", conversation: "AG_LATE", amount: "10", status: "Completed"})
	m := newDarajaMerchant(t, l, StatusResultWait(100*time.Millisecond))
	body := envelopeBody("O-LATE", "AG_LATE", "SG632NMUAB", "10", 0, "")
	rec := whPost(m.handler, []byte(body))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "10", rec.Header().Get("Retry-After"))
	assert.Empty(t, m.results())
	assert.Eventually(t, func() bool { return m.hub.Len() > 0 }, 5*time.Second, 10*time.Millisecond, "the status result arrives")
	assert.Equal(t, http.StatusOK, m.post(body))
	assert.Len(t, m.verified(), 1)
	assert.Equal(t, int32(1), l.queries.Load(), "the late status was used, not asked again")

	// No status at all: 503 again, bounded by the wait.
	l.mu.Lock()
	l.silent = true
	l.mu.Unlock()
	l.add(darajaTx{receipt: "SGSILENT01", originator: "O-SILENT", amount: "10", status: "Completed"})
	start := time.Now()
	assert.Equal(t, http.StatusServiceUnavailable, m.post(envelopeBody("O-SILENT", "AG_SILENT", "SGSILENT01", "10", 0, "")))
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestDarajaVerifyC2BConfirmation(t *testing.T) {
	t.Parallel()
	l := newDarajaLedger()
	l.add(darajaTx{receipt: "RKL51ZDR4F", amount: "5", status: "Completed", debit: customer, credit: ourParty})
	l.add(darajaTx{receipt: "SGPAYOUT01", amount: "5", status: "Completed", debit: ourParty, credit: customer}) // a B2C payout
	l.add(darajaTx{receipt: "RKOTHER001", amount: "5", status: "Completed", debit: customer, credit: "600000 - Another Shop"})
	l.add(darajaTx{receipt: "RKNOPARTY1", amount: "5", status: "Completed"})
	l.add(darajaTx{receipt: "RKAMOUNT01", amount: "5", status: "Completed", debit: customer, credit: ourParty})
	m := newDarajaMerchant(t, l)
	rec := whPost(m.handler, []byte(c2bBody("RKL51ZDR4F", "5.00", "INV-1")))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, darajaSuccess, rec.Body.String())
	require.Len(t, m.verified(), 1)
	assert.Equal(t, "INV-1", m.verified()[0].TransactionReference)

	assert.Equal(t, http.StatusUnprocessableEntity, m.post(c2bBody("SGPAYOUT01", "5", "INV-2")), "a payout's receipt is no payment in")
	assert.Equal(t, http.StatusUnprocessableEntity, m.post(c2bBody("RKOTHER001", "5", "INV-3")), "paid to another shortcode")
	assert.Equal(t, http.StatusUnprocessableEntity, m.post(c2bBody("RKAMOUNT01", "5000", "INV-4")), "another amount")
	assert.Equal(t, http.StatusOK, m.post(c2bBody("RKL51ZDR4F", "5000", "INV-6")), "a TransID processed: a duplicate, not run")
	assert.Equal(t, http.StatusServiceUnavailable, m.post(c2bBody("RKNOPARTY1", "5", "INV-5")), "no party to tell")
	assert.Len(t, m.results(), 1)
}

// TestDarajaStatusResultsAreNeverPayments: the result of a status query a
// client of the hub sent is a status result, whatever it carries: it is not
// verified (a loop of queries otherwise), and the application's own ones
// reach the ResultFunc with APITransactionStatus.
func TestDarajaStatusResultsAreNeverPayments(t *testing.T) {
	t.Parallel()
	l := newDarajaLedger()
	l.silent = true
	m := newDarajaMerchant(t, l)
	ack, err := m.client.TransactionStatus(context.Background(), TransactionStatusRequest{QueryReference: "O-ASKED"})
	require.NoError(t, err)
	require.Equal(t, int32(1), l.queries.Load())
	// Its result carries a receipt as its TransactionID: a payment, were
	// it not known for a status result.
	body := `{"Result":{"ResultType":0,"ResultCode":0,"OriginatorConversationID":"9001-000001-1","ConversationID":"` + ack.ConversationID +
		`","TransactionID":"SG632NMUAB","ResultParameters":{"ResultParameter":[{"Key":"TransactionStatus","Value":"Completed"},{"Key":"ReceiptNo","Value":"SG632NMUAB"}]}}}`
	assert.Equal(t, http.StatusOK, m.post(body))
	assert.Equal(t, int32(1), l.queries.Load(), "not verified: no second query")
	require.Len(t, m.results(), 1)
	assert.Equal(t, APITransactionStatus, m.results()[0].API)
	assert.False(t, m.results()[0].Verified)
}

// TestDarajaReconcileThroughAVerifyingHandler: Reconcile's status result
// arrives at the verifying Handler, which processes it and feeds it to the
// hub Reconcile waits on.
func TestDarajaReconcileThroughAVerifyingHandler(t *testing.T) {
	t.Parallel()
	l := newDarajaLedger()
	l.add(darajaTx{receipt: "SG632NMUAB", originator: "O-REC", conversation: "AG_REC", amount: "10", status: "Completed"})
	m := newDarajaMerchant(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := m.client.Reconcile(ctx, TransactionStatusRequest{QueryReference: "O-REC"})
	require.NoError(t, err)
	assert.Equal(t, StatusCompleted, st.TransactionStatus)
	assert.Equal(t, "SG632NMUAB", st.OriginalTransactionID)
	require.Len(t, m.results(), 1)
	assert.Equal(t, APITransactionStatus, m.results()[0].API)
}

// TestDarajaVerificationsInParallel: many results verified at once, each
// waiting for its status on the hub while the status results come in on
// other requests.
func TestDarajaVerificationsInParallel(t *testing.T) {
	t.Parallel()
	l := newDarajaLedger()
	const n = 40
	for i := 0; i < n; i++ {
		l.add(darajaTx{receipt: "SGPAR" + pad5(i), originator: "O-PAR-" + pad5(i), conversation: "AG_PAR_" + pad5(i),
			amount: "10", status: "Completed"})
	}
	m := newDarajaMerchant(t, l)
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i] = m.post(envelopeBody("O-PAR-"+pad5(i), "AG_PAR_"+pad5(i), "SGPAR"+pad5(i), "10", 0, ""))
		}(i)
	}
	wg.Wait()
	for i, c := range codes {
		assert.Equal(t, http.StatusOK, c, i)
	}
	assert.Len(t, m.verified(), n)
}

func pad5(i int) string { return fmt.Sprintf("%05d", i) }

func TestDarajaVerifierConfiguration(t *testing.T) {
	t.Parallel()
	fn := (&whCounter{}).fn
	f := newDarajaFake()
	noHub, _ := darajaClient(t, f)
	_, err := NewHandler(fn, VerifyWithStatusQuery(noHub))
	assert.ErrorContains(t, err, "WithResults")

	hub := NewResults(0, 0)
	withHub, _ := darajaClient(t, f, WithResults(hub))
	_, err = NewHandler(fn, VerifyWithStatusQuery(withHub), FeedResults(NewResults(0, 0)))
	assert.ErrorContains(t, err, "same hub")
	h, err := NewHandler(fn, VerifyWithStatusQuery(withHub))
	require.NoError(t, err)
	assert.Same(t, hub, h.hub, "the handler feeds the client's hub")
	assert.Equal(t, GatewayDaraja, h.gateway)
	_, err = NewHandler(fn, VerifyWithStatusQuery(withHub), FeedResults(hub), HandlerGateway(GatewayDaraja), StatusResultWait(time.Second))
	assert.NoError(t, err)
	_, err = NewHandler(fn, StatusResultWait(time.Hour))
	assert.ErrorContains(t, err, "StatusResultWait")

	bare, err := NewClient(testConsumerKey, WithGateway(GatewayDaraja), WithConsumerSecret(testConsumerSecret),
		WithServiceProviderCode(testShortcode))
	require.NoError(t, err)
	_, err = NewHandler(fn, VerifyWithStatusQuery(bare))
	assert.ErrorContains(t, err, "WithPasskey")
	// STK only: a passkey and no initiator needs no hub.
	stkOnly, err := NewClient(testConsumerKey, WithGateway(GatewayDaraja), WithConsumerSecret(testConsumerSecret),
		WithServiceProviderCode(testShortcode), WithPasskey(testPasskey))
	require.NoError(t, err)
	h, err = NewHandler(fn, VerifyWithStatusQuery(stkOnly), HandlerLogger(discardLogger()))
	require.NoError(t, err)
	// An envelope success then cannot be verified: 503, never processed.
	assert.Equal(t, http.StatusServiceUnavailable, whPost(h, darajaFixture(t, "b2c_success.json")).Code)
}
