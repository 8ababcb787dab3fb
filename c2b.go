package mpesa

import "context"

// C2BRequest asks a customer to pay the business: the gateway pushes a USSD
// prompt to the customer's phone and the customer confirms with their PIN.
type C2BRequest struct {
	// Amount is a decimal string greater than zero ("10", "10.50").
	Amount string
	// CustomerMSISDN is the paying customer's number with country code
	// ("255744553111"); NormalizeMSISDN turns typed numbers into it.
	CustomerMSISDN string
	// ServiceProviderCode is the shortcode credited; default
	// WithServiceProviderCode.
	ServiceProviderCode string
	// TransactionReference is the customer-facing reference, 1 to 20
	// letters, digits, '_', ' ' or '+'.
	TransactionReference string
	// ThirdPartyConversationID is your unique reference of this payment
	// and its idempotency key (input_ThirdPartyReference on Mozambique);
	// generated when empty. Keep it: it finds the payment again.
	ThirdPartyConversationID string
	// PurchasedItemsDesc describes what is bought, 1 to 256 characters.
	// Required on OpenAPI v2; not sent to Mozambique.
	PurchasedItemsDesc string
	// Country and Currency default to the client's market and currency
	// (OpenAPI v2 only).
	Country  string
	Currency string
}

// C2B charges a customer (POST c2bPayment/singleStage/). The call stays open
// while the PIN prompt is on the customer's phone; keep ctx's deadline above
// the payment timeout. A customer who declines gives ErrCancelledByCustomer
// (Mozambique) or ErrTransactionFailed, one who does not answer
// ErrPromptTimeout. If the outcome is unknown (ErrOutcomeUnknown), call
// Reconcile with the reference before anything else.
func (c *Client) C2B(ctx context.Context, req C2BRequest) (*PaymentResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, c.serviceProviderCode)
	k := checker{api: APIC2B}
	k.amount("Amount", req.Amount)
	k.msisdn(c.gateway, "CustomerMSISDN", req.CustomerMSISDN)
	k.shortcode("ServiceProviderCode", spc)
	k.reference("TransactionReference", req.TransactionReference, 20)
	k.reference("ThirdPartyConversationID", ref, 40)
	var p params
	p.add("input_Amount", req.Amount)
	p.add("input_CustomerMSISDN", req.CustomerMSISDN)
	p.add("input_ServiceProviderCode", spc)
	p.add("input_TransactionReference", req.TransactionReference)
	p.add(c.referenceKey(), ref)
	c.addMarketFields(&k, &p, req.Country, req.Currency, "input_PurchasedItemsDesc", req.PurchasedItemsDesc)
	return c.pay(ctx, &k, &p, ref)
}
