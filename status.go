package mpesa

import (
	"context"
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
	// SentAt is when the payment being reconciled was sent. Reconcile does
	// not conclude that the gateway never received a payment before the
	// payment timeout has passed since then; zero means now.
	// TransactionStatus ignores it.
	SentAt time.Time
	// ResultURL and QueueTimeoutURL are where Daraja posts the status
	// (ResultURL) or a queue timeout; they default to WithResultURL and
	// WithQueueTimeoutURL. Daraja only; an STK query takes neither.
	ResultURL       string
	QueueTimeoutURL string
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
	// queried transaction's ID and whether it was reversed. On Daraja
	// OriginalTransactionID is the M-Pesa receipt, where the answer has
	// one.
	OriginalTransactionID string
	Reversed              bool
	// ResultCode and ResultDesc are Daraja's result of the payment: the
	// STK query's ResultCode ("0", "1032" …) or the status result's. Look
	// a code up with LookupCode(GatewayDaraja, APIC2B, code) for an STK
	// push.
	ResultCode string `json:",omitempty"`
	ResultDesc string `json:",omitempty"`
}

// Async reports whether the answer was the asynchronous one: the status will
// arrive by callback.
func (r *TransactionStatusResponse) Async() bool { return r.TransactionStatus == "" }

// TransactionStatus queries the state of a transaction (GET
// queryTransactionStatus). Queries are retried on network errors, 5xx and
// INS-16.
//
// On Daraja, a CheckoutRequestID ("ws_CO_…", the ConversationID of an STK
// push) is asked with the STK query, which answers at once: "being
// processed" is StatusPending, and the result code maps to a state (0
// Completed, 1032 Cancelled, 1019 and 1037 Expired, any other Failed, with
// ResultCode and ResultDesc set). Any other QueryReference goes to the
// transaction status API, whose answer is asynchronous (Async reports
// true): the state is posted to the ResultURL. A QueryReference of exactly
// ten capital letters and digits is sent as an M-Pesa receipt
// (TransactionID), anything else as OriginalConversationID
// (docs/gateways.md D8, D18).
func (c *Client) TransactionStatus(ctx context.Context, req TransactionStatusRequest) (*TransactionStatusResponse, error) {
	q, ok := c.d.(statusQuerier)
	if !ok {
		return nil, c.newError(APITransactionStatus, req.ThirdPartyConversationID, ErrNotSupported, nil)
	}
	return q.transactionStatus(ctx, &req)
}
