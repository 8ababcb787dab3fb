package mpesa

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// notFoundLimit is how many answers in a row without a state ("transaction
// not found", N/A) Reconcile accepts before it believes them: a payment that
// just left may not be visible yet.
const notFoundLimit = 3

// Reconcile finds out how a transaction ended. It queries the status with
// backoff (WithReconcileBackoff) until the state is final, and returns the
// last answer.
//
// Use it
//   - after an error matching ErrOutcomeUnknown (a C2B timeout while the
//     customer's PIN prompt was open, a reset connection), with the
//     payment's reference as QueryReference;
//   - after ErrDuplicate (INS-10) on a payment you sent again with the same
//     reference: the duplicate answer says the reference was used, not how
//     that payment ended;
//   - for a payment reported Pending.
//
// What it waits for. A payment the gateway has not finished may be
// invisible to the status query for as long as its PIN prompt stays open on
// the customer's phone (66 to more than 90 seconds have been seen), so
// Reconcile never says "not found" before the payment timeout
// (WithPaymentTimeout, 150 s by default) has passed since req.SentAt (or
// since Reconcile was called, when SentAt is zero), and only after
// several not-found answers in a row. Then it returns an error matching
// ErrTransactionNotFound: the payment was not processed, and sending it
// again with the same reference is safe (a late original would make the
// resend a duplicate, not a second charge). N/A answers are treated the
// same way, but end with the last answer, status N/A, and no error: the
// platform keeps no state for the reference, so ask your operator before
// paying again.
//
// When ctx ends first, it returns the last answer it had together with the
// context's error; give ctx a deadline past the payment timeout. When the
// status product answers asynchronously, it returns that first answer
// (Async reports true): the state comes by callback.
//
// On Daraja, a CheckoutRequestID (the ConversationID of an STK push) is
// polled with the STK query until the payment is final. Any other
// reference goes to the transaction status API, which answers
// asynchronously: with WithResults(hub), hub being the Results the result
// Handler feeds (FeedResults), Reconcile waits on the hub for the status
// result of each query, up to the longer of the query timeout and the
// reconcile backoff cap, then asks again; a result that came late for an
// earlier query still counts. The state is the result parameter
// TransactionStatus (Completed, Cancelled, Expired; Declined is
// StatusFailed; Initiated and Authorized are StatusPending), and a failed
// result is returned as its error. Without WithResults it returns the
// first acknowledgement, as above.
func (c *Client) Reconcile(ctx context.Context, req TransactionStatusRequest) (*TransactionStatusResponse, error) {
	sent := req.SentAt
	if sent.IsZero() {
		sent = c.now()
	}
	settled := sent.Add(c.paymentTimeout) // no verdict of absence before this
	var last *TransactionStatusResponse
	var acks []string // ConversationIDs of asynchronous answers, for awaitAsync
	unknown := 0      // answers in a row that gave no state: not found or N/A
	wait := c.reconcileBase
	for {
		q := req
		q.ThirdPartyConversationID = "" // every query has a reference of its own
		res, err := c.TransactionStatus(ctx, q)
		if err == nil && res.Async() {
			last = res
			var waited bool
			if res, waited, err = c.awaitAsync(ctx, res, &acks); !waited {
				return last, nil
			}
		}
		switch {
		case err == nil:
			last = res
			if res.Async() || res.TransactionStatus.Final() {
				return res, nil
			}
			if res.TransactionStatus != StatusNotAvailable {
				unknown = 0
			} else if unknown++; unknown >= notFoundLimit && !c.now().Before(settled) {
				return res, nil
			}
		case errors.Is(err, ErrTransactionNotFound):
			if unknown++; unknown >= notFoundLimit && !c.now().Before(settled) {
				return last, err
			}
		case ctx.Err() != nil:
			return last, err
		default:
			var e *Error
			if !errors.As(err, &e) || !(e.Retryable() || e.is(ErrUnexpectedResponse)) {
				return last, err
			}
		}
		// Full jitter over the upper half: never hammer, never stall.
		d := wait/2 + rand.N(wait/2+1)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return last, ctx.Err()
		}
		wait = min(wait*2, c.reconcileMax)
	}
}
