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
	// TransactionReference is 1 to 20 letters, digits, '_', ' ' or '+'.
	TransactionReference string
	// ThirdPartyConversationID is your unique reference of the payment;
	// generated when empty (Mozambique: input_ThirdPartyReference).
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
	ref := referenceOrNew(req.ThirdPartyConversationID)
	primary := orDefault(req.PrimaryPartyCode, c.serviceProviderCode)
	k := checker{api: APIB2B}
	k.amount("Amount", req.Amount)
	k.shortcode("PrimaryPartyCode", primary)
	k.shortcode("ReceiverPartyCode", req.ReceiverPartyCode)
	k.reference("TransactionReference", req.TransactionReference, 20)
	k.reference("ThirdPartyConversationID", ref, 40)
	var p params
	p.add("input_Amount", req.Amount)
	p.add("input_PrimaryPartyCode", primary)
	p.add("input_ReceiverPartyCode", req.ReceiverPartyCode)
	p.add("input_TransactionReference", req.TransactionReference)
	p.add(c.referenceKey(), ref)
	c.addMarketFields(&k, &p, req.Country, req.Currency, "input_PurchasedItemsDesc", req.PurchasedItemsDesc)
	return c.pay(ctx, &k, &p, ref)
}
