package mpesa

import (
	"context"
	"errors"
	"strings"
)

// Reconcile on Daraja. An STK push is reconciled with the STK query, which
// answers synchronously, and needs nothing here. Every other transaction is
// asked with the transaction status API, whose answer only acknowledges:
// the state comes later, as a Result envelope posted to the ResultURL
// (docs/gateways.md D18, D20, X5). With WithResults, Reconcile waits for
// that result on the hub the callback handler feeds.
//
// The contract with the callback side (the Daraja Result parser and
// Handler, which deliver to the hub):
//
//   - the *Result delivered for a status query has OriginalConversationID
//     set to the envelope's ConversationID, the one the acknowledgement
//     returned (ThirdPartyConversationID to OriginatorConversationID; see
//     docs/gateways.md X1, "Results");
//   - ResultCode and ResultDesc are the envelope's, read as strings;
//   - the result parameters TransactionStatus and ReceiptNo are in
//     Result.Parameters, the ordered list of the envelope's
//     ResultParameters (docs/gateways.md D20);
//   - the client records the IDs of every acknowledgement on the hub, so
//     that the Handler knows the status result for what it is (never a
//     payment to verify) when it arrives, even before the acknowledgement.

// resultParameter returns the value of a Daraja result parameter.
func resultParameter(r *Result, key string) string { return r.param(key) }

// darajaStatus maps the TransactionStatus parameter of a status result to
// a state (docs/gateways.md D18): Initiated and (Pending) Authorized are
// not final yet; Declined is a failure; no value is N/A. Any other value is
// kept as sent.
func darajaStatus(v string) TransactionStatus {
	switch strings.ToLower(v) {
	case "completed":
		return StatusCompleted
	case "cancelled", "canceled":
		return StatusCancelled
	case "expired":
		return StatusExpired
	case "declined", "failed":
		return StatusFailed
	case "initiated", "authorized", "authorised", "pending authorized", "pending":
		return StatusPending
	case "":
		return StatusNotAvailable
	}
	return TransactionStatus(v)
}

// errNoResultYet is returned for a round of Reconcile in which no status
// result arrived; Reconcile then asks again.
var errNoResultYet = errors.New("no status result arrived in time; asking again")

// awaitStatus implements asyncStatusAwaiter. It first looks for the result
// of an earlier acknowledgement of the same Reconcile (a result that came
// late), then waits for this one's, at most one round
// (max(query timeout, reconcile backoff cap)). waited is false when the
// client has no hub.
func (d *daraja) awaitStatus(ctx context.Context, ack *TransactionStatusResponse, earlier []string) (*TransactionStatusResponse, bool, error) {
	hub := d.results
	if hub == nil {
		return nil, false, nil
	}
	for _, key := range earlier {
		if r := hub.peek(key); r != nil {
			res, err := d.statusFromResult(r, ack)
			return res, true, err
		}
	}
	key := ack.ConversationID
	if key == "" {
		e := d.c.newError(APITransactionStatus, ack.ThirdPartyConversationID, ErrUnexpectedResponse,
			errors.New("the acknowledgement has no ConversationID to wait on"))
		return nil, true, e
	}
	wctx, stop := context.WithTimeout(ctx, max(d.c.queryTimeout, d.c.reconcileMax))
	defer stop()
	r, err := hub.Await(wctx, key)
	switch {
	case err == nil:
		res, err := d.statusFromResult(r, ack)
		return res, true, err
	case ctx.Err() != nil:
		return nil, true, ctx.Err()
	}
	e := d.c.newError(APITransactionStatus, ack.ThirdPartyConversationID, nil, errNoResultYet)
	e.ConversationID = key
	e.retryable, e.retryReason = true, "no status result yet"
	return nil, true, e
}

// statusFromResult turns a status result into the answer Reconcile
// returns. A failed result is its error (Result.Err), looked up as a
// Daraja status code.
func (d *daraja) statusFromResult(r *Result, ack *TransactionStatusResponse) (*TransactionStatusResponse, error) {
	rr := *r
	rr.Gateway, rr.API = GatewayDaraja, APITransactionStatus
	if rr.Callback == CallbackQueueTimeout {
		// The query itself timed out in M-Pesa's queue: ask again.
		e := d.c.newError(APITransactionStatus, ack.ThirdPartyConversationID, nil, errors.New("the status query timed out in M-Pesa's queue; asking again"))
		e.ConversationID = ack.ConversationID
		e.retryable, e.retryReason = true, "the status query timed out in the queue"
		return nil, e
	}
	if !rr.OK() {
		return nil, rr.Err()
	}
	return &TransactionStatusResponse{
		ConversationID:           ack.ConversationID,
		ThirdPartyConversationID: ack.ThirdPartyConversationID,
		ResponseCode:             ack.ResponseCode,
		ResponseDesc:             ack.ResponseDesc,
		TransactionStatus:        darajaStatus(resultParameter(r, "TransactionStatus")),
		OriginalTransactionID:    resultParameter(r, "ReceiptNo"),
		ResultCode:               strings.TrimSpace(r.ResultCode),
		ResultDesc:               r.ResultDesc,
	}, nil
}
