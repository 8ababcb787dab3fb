package mpesa

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mpesa-go/mpesa/internal/redact"
)

// B2BRequest pays another business.
type B2BRequest struct {
	// Amount is a decimal string greater than zero.
	Amount string
	// PrimaryPartyCode is the shortcode debited; default
	// WithServiceProviderCode.
	PrimaryPartyCode string
	// ReceiverPartyCode is the shortcode credited.
	ReceiverPartyCode string
	// TransactionReference is as for C2BRequest.
	TransactionReference string
	// ThirdPartyConversationID is your unique reference of the payment,
	// as for C2BRequest.
	ThirdPartyConversationID string
	// PurchasedItemsDesc, 1 to 256 characters, is required on OpenAPI v2
	// and not sent to Mozambique.
	PurchasedItemsDesc string
	// Country and Currency default to the client's market (OpenAPI v2).
	Country  string
	Currency string

	// CommandID is Daraja's kind of payment: "BusinessPayBill" (the
	// default), "BusinessBuyGoods", or "BusinessPayToBulk" (a top-up of
	// the B2C account). Daraja only.
	CommandID string
	// Requester is the optional number of the customer on whose behalf
	// the business pays, 254 and nine digits. Daraja only.
	Requester string
	// ResultURL and QueueTimeoutURL default to WithResultURL and
	// WithQueueTimeoutURL. Daraja only.
	ResultURL       string
	QueueTimeoutURL string
}

// B2B pays a business (POST b2bPayment/).
//
// On Daraja it is the business pay bill or buy goods payment
// (/mpesa/b2b/v1/paymentrequest), which needs WithInitiator:
// TransactionReference is the AccountReference (at most 13 characters) and
// PurchasedItemsDesc the Remarks (at most 100). Daraja's B2B takes no
// merchant reference, so ThirdPartyConversationID is kept for your logs
// only (docs/gateways.md D16).
func (c *Client) B2B(ctx context.Context, req B2BRequest) (*PaymentResponse, error) {
	p, ok := c.d.(b2bPayer)
	if !ok {
		return nil, c.newError(APIB2B, req.ThirdPartyConversationID, ErrNotSupported, nil)
	}
	return p.b2b(ctx, &req)
}

// Format prints the request with the Requester's number masked, whatever
// the verb.
func (r B2BRequest) Format(f fmt.State, verb rune) {
	r.Requester = redact.MSISDN(r.Requester)
	type b2bRequest B2BRequest
	fmt.Fprintf(f, fmt.FormatString(f, verb), b2bRequest(r))
}

// LogValue describes the request to log/slog with the number masked.
func (r B2BRequest) LogValue() slog.Value {
	r.Requester = redact.MSISDN(r.Requester)
	type b2bRequest B2BRequest
	return slog.AnyValue(b2bRequest(r))
}
