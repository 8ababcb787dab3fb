package mpesa

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The attacks of attacks_test.go, repeated on Daraja: a forged or replayed
// "paid" callback must never reach the application as a verified success.
// Daraja signs nothing either (docs/gateways.md D27).

// TestDarajaForgedSTKSuccessIsRefused: a forged STK success for a push the
// customer cancelled, or never saw, carrying another payment's receipt.
func TestDarajaForgedSTKSuccessIsRefused(t *testing.T) {
	t.Parallel()
	l := newDarajaLedger()
	l.stk[paidCheckout] = "0"
	l.stk["ws_CO_ORDER42"] = "1032"
	m := newDarajaMerchant(t, l)
	assert.NotEqual(t, http.StatusOK, m.post(stkBody("ws_CO_ORDER42", "NLJ7RT61SV", 0)))
	assert.NotEqual(t, http.StatusOK, m.post(stkBody("ws_CO_NEVERSENT", "NLJ7RT61SV", 0)))
	assert.Empty(t, m.verified())
	assert.Equal(t, http.StatusOK, m.post(stkBody(paidCheckout, "NLJ7RT61SV", 0)))
	assert.Len(t, m.verified(), 1)
}

// TestDarajaForgedEnvelopeCarryingAnotherPaymentsReceiptIsRefused: the
// status is asked by the result's OriginatorConversationID, never by the
// receipt the body claims, which any completed payment would confirm.
func TestDarajaForgedEnvelopeCarryingAnotherPaymentsReceiptIsRefused(t *testing.T) {
	t.Parallel()
	l := newDarajaLedger()
	l.add(darajaTx{receipt: "SGPAID0001", originator: "O-PAID", conversation: "AG_PAID", amount: "10", status: "Completed"})
	l.add(darajaTx{receipt: "SGFAIL0001", originator: "O-DECLINED", conversation: "AG_DECLINED", amount: "10", status: "Cancelled"})
	m := newDarajaMerchant(t, l)
	assert.NotEqual(t, http.StatusOK, m.post(envelopeBody("O-DECLINED", "AG_DECLINED", "SGPAID0001", "10", 0, "")))
	assert.NotEqual(t, http.StatusOK, m.post(envelopeBody("O-NEVERPAID", "AG_X", "SGPAID0001", "10", 0, "")))
	assert.Empty(t, m.verified())
	assert.Equal(t, http.StatusOK, m.post(envelopeBody("O-PAID", "AG_PAID", "SGPAID0001", "10", 0, "")))
	assert.Len(t, m.verified(), 1)
}

// TestDarajaReplayIsNotProcessedTwice: a genuine callback replayed with
// another receipt, another conversation, or as another shape.
func TestDarajaReplayIsNotProcessedTwice(t *testing.T) {
	t.Parallel()
	l := newDarajaLedger()
	l.stk[paidCheckout] = "0"
	l.add(darajaTx{receipt: "NLJ7RT61SV", amount: "10", status: "Completed", debit: customer, credit: ourParty})
	l.add(darajaTx{receipt: "SGPAID0001", originator: "O-PAID", conversation: "AG_PAID", amount: "10", status: "Completed",
		debit: customer, credit: ourParty})
	m := newDarajaMerchant(t, l)
	require.Equal(t, http.StatusOK, m.post(stkBody(paidCheckout, "NLJ7RT61SV", 0)))
	require.Equal(t, http.StatusOK, m.post(envelopeBody("O-PAID", "AG_PAID", "SGPAID0001", "10", 0, "")))
	for i := 0; i < 3; i++ {
		m.post(stkBody(paidCheckout, fmt.Sprintf("LGR000000%d", i), 0))                          // the same push, another receipt
		m.post(envelopeBody("O-PAID", fmt.Sprintf("AG_REPLAY%d", i), "SGPAID0001", "10", 0, "")) // another conversation
	}
	// The STK payment's receipt, posted as a customer's C2B payment: the
	// status would confirm it, but the receipt was consumed.
	assert.Equal(t, http.StatusOK, m.post(c2bBody("NLJ7RT61SV", "10", "ANOTHER-ORDER")))
	assert.Len(t, m.verified(), 2)
}

// TestDarajaOneAddedFieldDoesNotSkipVerification: members that make a
// forged success look like a status result, a balance, or a failure's
// shape do not skip its verification, nor bring it to the hub.
func TestDarajaOneAddedFieldDoesNotSkipVerification(t *testing.T) {
	t.Parallel()
	l := newDarajaLedger()
	l.add(darajaTx{receipt: "SGFAIL0001", originator: "O-ORDER9", conversation: "AG_ORDER9", amount: "10", status: "Declined"})
	l.stk["ws_CO_ORDER9"] = "1032"
	m := newDarajaMerchant(t, l)
	for i, extra := range []string{
		`,{"Key":"TransactionStatus","Value":"Completed"},{"Key":"ReceiptNo","Value":"SGFAIL0001"}`,
		`,{"Key":"AccountBalance","Value":"Working Account|KES|1.00|1.00|0.00|0.00"}`,
		`,{"Key":"OriginalTransactionID","Value":"SKC82PACB8"}`,
		`,{"Key":"DebitPartyName","Value":"` + ourParty + `"}`,
	} {
		status := m.post(envelopeBody("O-ORDER9", "AG_ORDER9", "SGFAIL0001", "10", 0, extra))
		assert.NotEqual(t, http.StatusOK, status, "%d: %s", i, extra)
	}
	for _, body := range []string{
		`{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_ORDER9","ResultCode":0,"ResultType":1,"CallbackMetadata":{"Item":[{"Name":"MpesaReceiptNumber","Value":"SGFAIL0001"}]}}},"Result.ResultCode":"0"}`,
		`{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_ORDER9","ResultCode":"0"}}}`, // no receipt: still an STK push
	} {
		assert.NotEqual(t, http.StatusOK, m.post(body), body)
	}
	for _, r := range m.results() {
		assert.False(t, r.OK(), "a forged success reached the application: %v", r)
	}
	for _, id := range []string{"O-ORDER9", "AG_ORDER9", "ws_CO_ORDER9"} {
		assert.Nil(t, m.hub.peek(id), "a forged success reached the Results hub under %s", id)
	}
}

// TestDarajaSuccessAfterAFailureIsProcessed: a failure, which anybody can
// post, does not make the later genuine success a duplicate.
func TestDarajaSuccessAfterAFailureIsProcessed(t *testing.T) {
	t.Parallel()
	l := newDarajaLedger()
	l.stk[paidCheckout] = "0"
	l.add(darajaTx{receipt: "SGPAID0001", originator: "O-PAID", conversation: "AG_PAID", amount: "10", status: "Completed"})
	m := newDarajaMerchant(t, l)
	require.Equal(t, http.StatusOK, m.post(stkBody(paidCheckout, "", 1037)))
	require.Equal(t, http.StatusOK, m.post(envelopeBody("O-PAID", "AG_PAID", "N/A", "10", 2001, "")))
	require.Equal(t, http.StatusOK, m.post(stkBody(paidCheckout, "NLJ7RT61SV", 0)))
	require.Equal(t, http.StatusOK, m.post(envelopeBody("O-PAID", "AG_PAID", "SGPAID0001", "10", 0, "")))
	assert.Len(t, m.verified(), 2)
}

// TestDarajaJunkCannotEvictAProcessedPayment: junk results push a
// processed result's key out of a small store; the transaction keys, bounded
// apart, still refuse the replay.
func TestDarajaJunkCannotEvictAProcessedPayment(t *testing.T) {
	t.Parallel()
	l := newDarajaLedger()
	l.stk[paidCheckout] = "0"
	l.add(darajaTx{receipt: "SGPAID0001", originator: "O-PAID", conversation: "AG_PAID", amount: "10", status: "Completed"})
	m := newDarajaMerchant(t, l, Deduplicate(NewMemoryDedup(100, 0)))
	stk, env := stkBody(paidCheckout, "NLJ7RT61SV", 0), envelopeBody("O-PAID", "AG_PAID", "SGPAID0001", "10", 0, "")
	require.Equal(t, http.StatusOK, m.post(stk))
	require.Equal(t, http.StatusOK, m.post(env))
	for i := 0; i < 250; i++ {
		m.post(fmt.Sprintf(`{"Result":{"OriginatorConversationID":"junk%d","ResultCode":2001}}`, i))
		m.post(fmt.Sprintf(`{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_junk%d","ResultCode":1032}}}`, i))
	}
	assert.Equal(t, http.StatusOK, m.post(stk), "the replay is acknowledged")
	assert.Equal(t, http.StatusOK, m.post(env), "the replay is acknowledged")
	assert.Len(t, m.verified(), 2, "and not processed again")
}

// TestDarajaPlaceholderReceiptIsNeverVerified: a success naming no
// transaction (a placeholder receipt, as balance and status results
// carry) reaches the application unverified, like an iPG success without a
// TransactionID: only Verified proves a payment.
func TestDarajaPlaceholderReceiptIsNeverVerified(t *testing.T) {
	t.Parallel()
	m := newDarajaMerchant(t, newDarajaLedger())
	assert.Equal(t, http.StatusOK, m.post(envelopeBody("O-X", "AG_X", "SG60000000", "10", 0, "")))
	require.Len(t, m.results(), 1)
	assert.False(t, m.results()[0].Verified)
	assert.Empty(t, m.verified())
}

// paidB2CMerchant is a merchant whose ledger holds one completed B2C
// payment, SG632NMUAB of request O-PAID.
func paidB2CMerchant(t *testing.T) *darajaMerchant {
	l := newDarajaLedger()
	l.add(darajaTx{receipt: "SG632NMUAB", originator: "O-PAID", conversation: "AG_PAID", amount: "10", status: "Completed",
		debit: ourParty, credit: customer})
	return newDarajaMerchant(t, l)
}

// TestDarajaReplayWithABlankAfterTheReceiptIsNotVerifiedTwice: a genuine
// result replayed with another ResultType (a new dedup key) and a blank
// after its TransactionID still names the transaction it verified.
func TestDarajaReplayWithABlankAfterTheReceiptIsNotVerifiedTwice(t *testing.T) {
	t.Parallel()
	m := paidB2CMerchant(t)
	genuine := envelopeBody("O-PAID", "AG_PAID", "SG632NMUAB", "10", 0, "")
	require.Equal(t, http.StatusOK, m.post(genuine))
	require.Len(t, m.verified(), 1)
	require.Contains(t, genuine, `"ResultType":0`)
	require.Contains(t, genuine, `"TransactionID":"SG632NMUAB"`)
	replay := strings.Replace(genuine, `"ResultType":0`, `"ResultType":1`, 1)
	replay = strings.Replace(replay, `"TransactionID":"SG632NMUAB"`, `"TransactionID":"SG632NMUAB "`, 1)
	assert.Equal(t, http.StatusOK, m.post(replay), "acknowledged")
	assert.Len(t, m.verified(), 1, "one transaction verifies one result")
}

// TestDarajaForgedSuccessWithoutAReceiptCannotSwallowTheGenuineOne: a
// forged success naming no transaction, sent first under the request's
// OriginatorConversationID, reaches the application unverified; the
// genuine result that follows is still verified and processed, and the hub
// gives the verified one, whatever comes after it.
func TestDarajaForgedSuccessWithoutAReceiptCannotSwallowTheGenuineOne(t *testing.T) {
	t.Parallel()
	m := paidB2CMerchant(t)
	forged := envelopeBody("O-PAID", "AG_X", "LGR0000000", "10", 0, "")
	require.Equal(t, http.StatusOK, m.post(forged))
	require.Len(t, m.results(), 1)
	require.False(t, m.results()[0].Verified)

	require.Equal(t, http.StatusOK, m.post(envelopeBody("O-PAID", "AG_PAID", "SG632NMUAB", "10", 0, "")))
	assert.Len(t, m.verified(), 1, "the genuine result is processed")
	require.Contains(t, forged, `"ResultType":0`)
	require.Equal(t, http.StatusOK, m.post(strings.Replace(forged, `"ResultType":0`, `"ResultType":1`, 1)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := m.hub.Await(ctx, "O-PAID")
	require.NoError(t, err)
	assert.True(t, res.Verified, "the hub keeps the verified success: %v", res)
}

// TestC2BValidatorAnswersInTimeDespiteASlowOnDelivery: OnDelivery is
// bounded by the validation deadline too, or M-Pesa's ~8 s pass and it
// applies the registered ResponseType instead of the merchant's fallback.
func TestC2BValidatorAnswersInTimeDespiteASlowOnDelivery(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	h, err := NewC2BValidator(func(context.Context, *Result) (C2BDecision, error) { return AcceptC2B(""), nil },
		C2BFallback(RejectC2B(C2BOtherError), 100*time.Millisecond),
		OnDelivery(func(ctx context.Context, _ *Delivery) error {
			select {
			case <-release:
			case <-time.After(time.Minute):
			}
			return nil
		}),
		HandlerLogger(discardLogger()))
	require.NoError(t, err)
	done := make(chan string, 1)
	go func() {
		rec := whPost(h, []byte(c2bBody("RKL51ZDR4F", "5", "INV-1")))
		done <- rec.Body.String()
	}()
	select {
	case body := <-done:
		assert.Contains(t, body, `"C2B00016"`, "the fallback decision")
	case <-time.After(30 * time.Second):
		t.Fatal("the validator waited for OnDelivery past its deadline")
	}
}
