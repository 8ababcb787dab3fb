package mpesa

import "context"

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
}

// B2B pays a business (POST b2bPayment/).
func (c *Client) B2B(ctx context.Context, req B2BRequest) (*PaymentResponse, error) {
	p, ok := c.d.(b2bPayer)
	if !ok {
		return nil, c.newError(APIB2B, req.ThirdPartyConversationID, ErrNotSupported, nil)
	}
	return p.b2b(ctx, &req)
}
