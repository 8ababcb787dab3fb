package mpesa

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// VerifyWithStatusQuery makes the handler confirm every successful result
// that names a transaction, whatever else its body says, with a status query
// through client before it runs the ResultFunc. The gateways sign nothing,
// so this is what stops a forged "paid" result. The client needs
// WithServiceProviderCode; on Daraja more, as below.
//
// The query asks by what the merchant knows: the result's reference (its
// ThirdPartyConversationID, on Mozambique its ThirdPartyReference), or,
// when that cannot be queried, the OriginalConversationID. The answer must
// agree with the result on the conversation and the transaction. One
// transaction verifies one result: a body that carries an already
// processed transaction under another conversation is acknowledged and not
// processed again.
//
// What happens:
//   - The status is Completed, not reversed, names the same conversation
//     and the same transaction: Result.Verified is set and the ResultFunc
//     runs.
//   - The query fails, the transaction is not found yet, is Pending or N/A,
//     or the status product answers asynchronously (a portal setting under
//     which this option cannot work): the ResultFunc does not run and the
//     handler answers 503, so that the gateway delivers again later.
//   - The status contradicts the result (Failed, Cancelled, Expired, an
//     undocumented state, reversed, another conversation or transaction):
//     the ResultFunc does not run, the handler answers 422 and logs at
//     error level. A forged result ends there; a genuine one is kept by
//     OnDelivery.
//
// Failures, and successes that name no transaction (a mandate created, a
// name found), reach the ResultFunc with Verified false: decide nothing that
// costs money on them. The query runs within the callback request, whose
// time the gateway may limit; a result it cuts short is delivered again.
//
// On Daraja (docs/gateways.md X6, D32):
//   - an STK result is asked with the STK query by its CheckoutRequestID,
//     which answers at once: it must name the same CheckoutRequestID and
//     say ResultCode 0 (a pending query is 503). The client needs
//     WithPasskey. The query confirms the push, not the body's Amount,
//     receipt or phone number: compare the amount with your own request;
//   - a Result envelope success (B2C, B2B, reversal) is asked with the
//     transaction status API by its OriginatorConversationID, and a C2B
//     confirmation by its TransID. That API answers by callback: the
//     client needs WithInitiator, WithResultURL and WithQueueTimeoutURL
//     pointing at this handler, and WithResults(hub) with the hub the
//     handler feeds (FeedResults, or it feeds that one). The handler sends
//     the query and waits for the status on the hub for StatusResultWait
//     (15 s by default), holding the callback's request open; when the
//     status does not come in time it answers 503, and a later delivery
//     first looks for the status that came meanwhile. The status must say
//     Completed and agree on the receipt, the conversation and the amount;
//     for a C2B payment, the CreditPartyName must be the client's
//     shortcode (WithServiceProviderCode) and the DebitPartyName must not;
//   - the status result arrives at this handler on a request of its own:
//     it is known by the IDs of the query's acknowledgement, which the
//     client records on the hub (a result arriving before the
//     acknowledgement waits for it, 2 s at most), is never verified as a
//     payment, is not passed to the ResultFunc, and is delivered to the
//     hub. Results of
//     your own TransactionStatus and Reconcile queries are known the same
//     way and reach the ResultFunc with API APITransactionStatus;
//   - Daraja may not deliver a result again after a 503 (the
//     AccountBalance page says it does not retry): keep every body with
//     OnDelivery, and reconcile what stayed unverified. Behind several
//     replicas the status result may reach another replica; it is then
//     processed there like any result (its TransactionID is a
//     placeholder, so it is not verified) and reaches the waiting replica
//     through the hubs' ResultBus.
func VerifyWithStatusQuery(client *Client) HandlerOption {
	return func(h *Handler) error {
		if client == nil {
			return optionError("VerifyWithStatusQuery", "nil *Client")
		}
		if client.serviceProviderCode == "" {
			return optionError("VerifyWithStatusQuery", "the client needs WithServiceProviderCode for the status query")
		}
		if _, ok := client.d.(resultVerifier); !ok {
			return optionError("VerifyWithStatusQuery", "the %s gateway has no status query to verify results with", client.gateway)
		}
		h.verifier = client
		return nil
	}
}

// verdict is what a verification found: 200 when the status confirms the
// result, 422 when it contradicts it, 503 when it cannot tell yet; why
// explains a refusal for the log.
type verdict struct {
	status int
	why    string
}

var verified = verdict{status: http.StatusOK}

func unverified(why string) verdict   { return verdict{http.StatusServiceUnavailable, why} }
func contradicted(why string) verdict { return verdict{http.StatusUnprocessableEntity, why} }

// A resultVerifier is a dialect that can confirm a result with the gateway.
// wait bounds the wait for a status that comes by callback (Daraja's
// transaction status API; StatusResultWait).
type resultVerifier interface {
	verifyResult(ctx context.Context, res *Result, wait time.Duration) verdict
}

// verify asks the gateway of the handler's client about res.
func (h *Handler) verify(ctx context.Context, res *Result) verdict {
	return h.verifier.d.(resultVerifier).verifyResult(ctx, res, h.wait)
}

// verifyResult confirms an iPG result with queryTransactionStatus, asked by
// the result's reference, or by its conversation when the reference cannot
// be queried (docs/gateways.md X6).
func (d *ipg) verifyResult(ctx context.Context, res *Result, _ time.Duration) verdict {
	ask := func(ref string) (*TransactionStatusResponse, error) {
		return d.transactionStatus(ctx, &TransactionStatusRequest{QueryReference: ref})
	}
	st, err := ask(res.ThirdPartyConversationID)
	var ve *ValidationError
	if res.ThirdPartyConversationID == "" || errors.As(err, &ve) {
		st, err = ask(res.OriginalConversationID)
	}
	switch {
	case errors.Is(err, ErrTransactionNotFound):
		return unverified("the status query does not know the transaction (yet)")
	case err != nil:
		return unverified("status query failed: " + err.Error())
	case st.Async():
		return unverified("the status query answered asynchronously; verification needs its synchronous answer")
	case st.TransactionStatus == StatusPending || st.TransactionStatus == StatusNotAvailable:
		return unverified("transaction status " + string(st.TransactionStatus))
	case st.TransactionStatus != StatusCompleted:
		return contradicted("transaction status " + strconv.Quote(string(st.TransactionStatus)))
	case st.Reversed:
		return contradicted("the transaction was reversed")
	case st.ConversationID != "" && st.ConversationID != res.OriginalConversationID:
		return contradicted("the status names conversation " + strconv.Quote(st.ConversationID))
	case st.OriginalTransactionID != "" && st.OriginalTransactionID != res.TransactionID:
		return contradicted("the status names transaction " + strconv.Quote(st.OriginalTransactionID))
	}
	return verified
}
