package mpesa

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"time"
)

// TransactionStatus is the state of a transaction as a status query reports
// it (output_ResponseTransactionStatus). A value the documents do not list is
// kept as the gateway sent it.
type TransactionStatus string

// The documented transaction states.
const (
	StatusCompleted    TransactionStatus = "Completed"
	StatusPending      TransactionStatus = "Pending"
	StatusCancelled    TransactionStatus = "Cancelled"
	StatusExpired      TransactionStatus = "Expired"
	StatusFailed       TransactionStatus = "Failed"
	StatusNotAvailable TransactionStatus = "N/A"
)

// Known reports whether s is one of the documented states.
func (s TransactionStatus) Known() bool {
	switch s {
	case StatusCompleted, StatusPending, StatusCancelled, StatusExpired, StatusFailed, StatusNotAvailable:
		return true
	}
	return false
}

// Final reports whether s will not change any more: every state but Pending
// and N/A (and the empty value of an asynchronous answer). An undocumented
// state counts as final, so that Reconcile hands it to the caller instead of
// waiting on something it cannot interpret.
func (s TransactionStatus) Final() bool {
	return s != StatusPending && s != StatusNotAvailable && s != ""
}

// TransactionStatusRequest asks for the state of a transaction.
type TransactionStatusRequest struct {
	// QueryReference identifies the transaction: its TransactionID, its
	// ThirdPartyConversationID (Mozambique: ThirdPartyReference) or its
	// ConversationID. On OpenAPI v2 it is 1 to 32 letters and digits.
	QueryReference string
	// ServiceProviderCode is the business shortcode; default
	// WithServiceProviderCode.
	ServiceProviderCode string
	// ThirdPartyConversationID is the reference of this query itself;
	// generated when empty.
	ThirdPartyConversationID string
	// Country defaults to the client's market (OpenAPI v2 only).
	Country string
}

// TransactionStatusResponse is the answer to a status query.
type TransactionStatusResponse struct {
	ConversationID           string
	ThirdPartyConversationID string
	ResponseCode             string
	ResponseDesc             string
	// TransactionStatus is empty when the answer is asynchronous.
	TransactionStatus TransactionStatus
	// OriginalTransactionID and Reversed are OpenAPI v2 fields: the
	// queried transaction's ID and whether it was reversed.
	OriginalTransactionID string
	Reversed              bool
}

// Async reports whether the answer was the asynchronous one: the status will
// arrive by callback.
func (r *TransactionStatusResponse) Async() bool { return r.TransactionStatus == "" }

// TransactionStatus queries the state of a transaction (GET
// queryTransactionStatus). Queries are retried on network errors, 5xx and
// INS-16.
func (c *Client) TransactionStatus(ctx context.Context, req TransactionStatusRequest) (*TransactionStatusResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, c.serviceProviderCode)
	country := orDefault(req.Country, c.market.Country())

	k := checker{api: APITransactionStatus}
	if c.gateway == GatewayMozambique {
		// Mozambique conversation IDs look like
		// AG_20180206_00005e7dccc6da08efa8, and a ThirdPartyReference may
		// hold '_', ' ' or '+': the reference rule, not OpenAPI's.
		k.reference("QueryReference", req.QueryReference, 40)
	} else {
		k.alnum("QueryReference", req.QueryReference, 32)
		k.country("Country", country)
	}
	k.shortcode("ServiceProviderCode", spc)
	k.reference("ThirdPartyConversationID", ref, 40)
	if err := k.err(); err != nil {
		return nil, err
	}

	var p params
	if c.gateway == GatewayOpenAPI {
		p.add("input_Country", country)
	}
	p.add("input_QueryReference", req.QueryReference)
	p.add("input_ServiceProviderCode", spc)
	p.add(c.referenceKey(), ref)
	out, err := c.do(ctx, APITransactionStatus, p.sorted(), ref)
	if err != nil {
		return nil, err
	}
	return &TransactionStatusResponse{
		ConversationID:           string(out.ConversationID),
		ThirdPartyConversationID: orDefault(out.reference(), ref),
		ResponseCode:             string(out.ResponseCode),
		ResponseDesc:             string(out.ResponseDesc),
		TransactionStatus:        TransactionStatus(strings.TrimSpace(string(out.ResponseTransactionStatus))),
		OriginalTransactionID:    string(out.OriginalTransactionID),
		Reversed:                 isTrue(string(out.Reversed)),
	}, nil
}

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
// After several N/A answers in a row it returns the last one, status N/A
// and no error: the platform keeps no state for that reference, so ask
// your operator before paying again. It returns an error matching
// ErrTransactionNotFound when the gateway does not know the reference
// after several tries: the payment was not
// processed, and sending it again with the same reference is safe (a late
// original would make the resend a duplicate, not a second charge). When
// ctx ends first, it returns the last answer it had together with the
// context's error. When the status product answers asynchronously, it
// returns that first answer (Async reports true): the state comes by
// callback.
func (c *Client) Reconcile(ctx context.Context, req TransactionStatusRequest) (*TransactionStatusResponse, error) {
	var last *TransactionStatusResponse
	unknown := 0 // answers in a row that gave no state: not found or N/A
	wait := c.reconcileBase
	for {
		q := req
		q.ThirdPartyConversationID = "" // every query has a reference of its own
		res, err := c.TransactionStatus(ctx, q)
		switch {
		case err == nil:
			last = res
			if res.Async() || res.TransactionStatus.Final() {
				return res, nil
			}
			// N/A: the platform has no state for the reference (yet).
			// Like "not found", it is believed after a few answers in a
			// row, rather than polled until the context ends.
			if res.TransactionStatus != StatusNotAvailable {
				unknown = 0
			} else if unknown++; unknown >= notFoundLimit {
				return res, nil
			}
		case errors.Is(err, ErrTransactionNotFound):
			if unknown++; unknown >= notFoundLimit {
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
