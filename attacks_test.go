package mpesa_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// These tests play the attacker of the hardening issue against a Handler
// with VerifyWithStatusQuery, on the simulator: a forged or replayed "paid"
// result must never reach the application as a verified success.

// victim is a merchant: a client on the simulator, a verifying Handler, and
// what its ResultFunc saw.
type victim struct {
	srv     *mpesatest.Server
	client  *mpesa.Client
	handler *mpesa.Handler
	hub     *mpesa.Results
	mu      sync.Mutex
	seen    []*mpesa.Result
}

func newVictim(t *testing.T, opts ...mpesa.HandlerOption) *victim {
	t.Helper()
	v := &victim{srv: mpesatest.NewServer(), hub: mpesa.NewResults(0, 0)}
	t.Cleanup(v.srv.Close)
	c, err := mpesa.NewClient(v.srv.APIKey(), append(v.srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
	require.NoError(t, err)
	v.client = c
	h, err := mpesa.NewHandler(func(_ context.Context, res *mpesa.Result) error {
		v.mu.Lock()
		v.seen = append(v.seen, res)
		v.mu.Unlock()
		return nil
	}, append([]mpesa.HandlerOption{mpesa.VerifyWithStatusQuery(c), mpesa.FeedResults(v.hub)}, opts...)...)
	require.NoError(t, err)
	v.handler = h
	return v
}

// pay makes a C2B payment of the customer and returns its answer.
func (v *victim) pay(t *testing.T, msisdn, ref string) *mpesa.PaymentResponse {
	t.Helper()
	res, err := v.client.C2B(context.Background(), mpesa.C2BRequest{Amount: "1", CustomerMSISDN: msisdn,
		TransactionReference: "T1", PurchasedItemsDesc: "Shoes", ThirdPartyConversationID: ref})
	if msisdn == mpesatest.MSISDNSuccess {
		require.NoError(t, err)
	}
	return res
}

// post delivers a callback body to the handler and returns the status.
func (v *victim) post(t *testing.T, body map[string]string) int {
	t.Helper()
	data, err := json.Marshal(body)
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodPost, "/mpesa/results", bytes.NewReader(data))
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	v.handler.ServeHTTP(rec, r)
	return rec.Code
}

// verifiedSuccesses returns the verified successes the application saw.
func (v *victim) verifiedSuccesses() []*mpesa.Result {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []*mpesa.Result
	for _, r := range v.seen {
		if r.OK() && r.Verified {
			out = append(out, r)
		}
	}
	return out
}

func success(conv, ref, txID string) map[string]string {
	return map[string]string{"input_OriginalConversationID": conv, "input_ThirdPartyConversationID": ref,
		"input_TransactionID": txID, "input_ResultCode": "INS-0", "input_ResultDesc": "Request processed successfully"}
}

// TestForgedSuccessCarryingAnotherPaymentsTransactionIsRefused (item 2): a
// forged "paid" result for an order that was never paid, carrying the
// TransactionID of another completed payment of the shortcode (the
// attacker's own 1 TZS payment), was verified, because the status query
// asked about that TransactionID. It is now asked by the order's reference.
func TestForgedSuccessCarryingAnotherPaymentsTransactionIsRefused(t *testing.T) {
	t.Parallel()
	v := newVictim(t)
	paid := v.pay(t, mpesatest.MSISDNSuccess, "ATTACKER1")
	declined := v.pay(t, mpesatest.MSISDNRejected, "ORDER42")
	_ = declined

	// The order the attacker wants shipped was declined.
	status := v.post(t, success("forgedconversation", "ORDER42", paid.TransactionID))
	assert.NotEqual(t, http.StatusOK, status)
	// An order the gateway never heard of.
	status = v.post(t, success("forgedconversation2", "NEVERPAID7", paid.TransactionID))
	assert.NotEqual(t, http.StatusOK, status)
	assert.Empty(t, v.verifiedSuccesses())

	// The genuine result is verified once.
	assert.Equal(t, http.StatusOK, v.post(t, success(paid.ConversationID, "ATTACKER1", paid.TransactionID)))
	assert.Len(t, v.verifiedSuccesses(), 1)
}

// TestReplayUnderANewConversationIsNotProcessedTwice (item 2): a genuine
// callback replayed under a new OriginalConversationID was verified and
// processed again. One transaction verifies one result.
func TestReplayUnderANewConversationIsNotProcessedTwice(t *testing.T) {
	t.Parallel()
	v := newVictim(t)
	paid := v.pay(t, mpesatest.MSISDNSuccess, "ORDER1")
	require.Equal(t, http.StatusOK, v.post(t, success(paid.ConversationID, "ORDER1", paid.TransactionID)))
	for i := 0; i < 3; i++ {
		v.post(t, success(fmt.Sprintf("replayed%d", i), "ORDER1", paid.TransactionID))
	}
	assert.Len(t, v.verifiedSuccesses(), 1)
}

// TestOneAddedFieldDoesNotSkipVerification (item 3): adding input_Reversed,
// input_CustomerFirstName or input_MandateID to a forged success made it
// look like the result of a query, which was not verified and reached the
// application and the hub as a success.
func TestOneAddedFieldDoesNotSkipVerification(t *testing.T) {
	t.Parallel()
	v := newVictim(t)
	v.pay(t, mpesatest.MSISDNRejected, "ORDER9")
	for i, extra := range []map[string]string{
		{"input_Reversed": "False"},
		{"input_OriginalTransactionID": "4C123GE3"},
		{"input_CustomerFirstName": "Jane", "input_CustomerLastName": "Doe"},
		{"input_MandateID": "15045"},
		{"input_MsisdnToken": "cvgwUBZ3lAO9ivwhWAFeng=="},
		{"input_ResponseCode": "INS-0", "input_MandateStatus": "Active"},
	} {
		body := success(fmt.Sprintf("forged%d", i), "ORDER9", "5C1400CVRO")
		for k, val := range extra {
			body[k] = val
		}
		status := v.post(t, body)
		assert.NotEqual(t, http.StatusOK, status, "%v", extra)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range v.seen {
		assert.False(t, r.OK(), "a forged success reached the application: %v", r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := v.hub.Await(ctx, "ORDER9")
	assert.Error(t, err, "a forged success reached the Results hub")
}

// TestSuccessAfterAFailureOfTheSameConversationIsProcessed (item 6): a
// failure result (which anybody can post: failures are not verified) for a
// conversation made the later genuine success of that conversation a
// "duplicate", acknowledged and never processed.
func TestSuccessAfterAFailureOfTheSameConversationIsProcessed(t *testing.T) {
	t.Parallel()
	v := newVictim(t)
	paid := v.pay(t, mpesatest.MSISDNSuccess, "ORDER5")
	failure := map[string]string{"input_OriginalConversationID": paid.ConversationID, "input_ThirdPartyConversationID": "ORDER5",
		"input_TransactionID": "N/A", "input_ResultCode": "INS-6", "input_ResultDesc": "Transaction Failed"}
	require.Equal(t, http.StatusOK, v.post(t, failure))
	require.Equal(t, http.StatusOK, v.post(t, success(paid.ConversationID, "ORDER5", paid.TransactionID)))
	assert.Len(t, v.verifiedSuccesses(), 1, "the success reached the application")
}

// TestJunkCannotEvictAProcessedPayment (item 7): posting 10,000 junk results
// pushed a processed result out of the in-memory store, after which a
// replay of the genuine body ran the ResultFunc again. Transaction keys are
// bounded apart, so the verified path still holds: one transaction, one
// processed result.
func TestJunkCannotEvictAProcessedPayment(t *testing.T) {
	t.Parallel()
	v := newVictim(t, mpesa.Deduplicate(mpesa.NewMemoryDedup(100, 0)))
	paid := v.pay(t, mpesatest.MSISDNSuccess, "ORDER7")
	genuine := success(paid.ConversationID, "ORDER7", paid.TransactionID)
	require.Equal(t, http.StatusOK, v.post(t, genuine))
	for i := 0; i < 250; i++ { // two and a half times the store's size
		v.post(t, map[string]string{"input_OriginalConversationID": fmt.Sprintf("junk%d", i), "input_ResultCode": "INS-6"})
	}
	assert.Equal(t, http.StatusOK, v.post(t, genuine), "the replay is acknowledged")
	assert.Len(t, v.verifiedSuccesses(), 1, "and not processed again")
}
