package mpesa

import "context"

// B2CRequest pays a customer from the business's wallet.
type B2CRequest struct {
	// Amount is a decimal string greater than zero.
	Amount string
	// CustomerMSISDN is the number credited, with country code.
	CustomerMSISDN string
	// ServiceProviderCode is the shortcode debited; default
	// WithServiceProviderCode.
	ServiceProviderCode string
	// TransactionReference is 1 to 20 letters, digits, '_', ' ' or '+'.
	TransactionReference string
	// ThirdPartyConversationID is your unique reference of the payment;
	// generated when empty (Mozambique: input_ThirdPartyReference).
	ThirdPartyConversationID string
	// PaymentItemsDesc describes the payment ("Salary payment"), 1 to 256
	// characters. Required on OpenAPI v2; not sent to Mozambique.
	PaymentItemsDesc string
	// Country and Currency default to the client's market (OpenAPI v2).
	Country  string
	Currency string
}

// B2C pays a customer (POST b2cPayment/). ErrInsufficientBalance means the
// business wallet lacks funds.
func (c *Client) B2C(ctx context.Context, req B2CRequest) (*PaymentResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, c.serviceProviderCode)
	k := checker{api: APIB2C}
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
	c.addMarketFields(&k, &p, req.Country, req.Currency, "input_PaymentItemsDesc", req.PaymentItemsDesc)
	return c.pay(ctx, &k, &p, ref)
}
