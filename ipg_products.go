package mpesa

import (
	"context"
	"strings"
)

// The products of the iPG gateways, encoded once for OpenAPI v2 and
// Mozambique v1x: the field names are those of the portal's "API Requests"
// tables and the Mozambique "Request Parameters" tables; what the two
// gateways do differently is in their rulebooks and flavors.

func (d *ipg) c2b(ctx context.Context, req *C2BRequest) (*PaymentResponse, error) {
	return d.customerPayment(ctx, APIC2B, customerPayment{req.Amount, req.CustomerMSISDN, req.ServiceProviderCode,
		req.TransactionReference, req.ThirdPartyConversationID, req.Country, req.Currency,
		"input_PurchasedItemsDesc", req.PurchasedItemsDesc})
}

func (d *ipg) b2c(ctx context.Context, req *B2CRequest) (*PaymentResponse, error) {
	return d.customerPayment(ctx, APIB2C, customerPayment{req.Amount, req.CustomerMSISDN, req.ServiceProviderCode,
		req.TransactionReference, req.ThirdPartyConversationID, req.Country, req.Currency,
		"input_PaymentItemsDesc", req.PaymentItemsDesc})
}

// customerPayment is what C2B and B2C share on the iPG gateways: the
// customer pays the shortcode, or the shortcode pays the customer.
type customerPayment struct {
	amount, msisdn, spc, transactionRef, ref, country, currency, descKey, desc string
}

func (d *ipg) customerPayment(ctx context.Context, api API, cp customerPayment) (*PaymentResponse, error) {
	ref := referenceOrNew(cp.ref)
	spc := orDefault(cp.spc, d.c.serviceProviderCode)
	k := d.checker(api)
	k.amount("Amount", cp.amount)
	k.msisdn("CustomerMSISDN", cp.msisdn)
	k.shortcode("ServiceProviderCode", spc)
	k.transactionRef("TransactionReference", cp.transactionRef)
	k.paymentRef("ThirdPartyConversationID", ref)
	p := make(params, 0, maxParams)
	p.add("input_Amount", cp.amount)
	p.add("input_CustomerMSISDN", cp.msisdn)
	p.add("input_ServiceProviderCode", spc)
	p.add("input_TransactionReference", cp.transactionRef)
	p.add(d.refKey, ref)
	d.flavor.addMarket(&k, &p, cp.country, cp.currency, cp.descKey, cp.desc)
	return d.pay(ctx, &k, p, ref)
}

func (d *ipg) b2b(ctx context.Context, req *B2BRequest) (*PaymentResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	primary := orDefault(req.PrimaryPartyCode, d.c.serviceProviderCode)
	k := d.checker(APIB2B)
	k.amount("Amount", req.Amount)
	k.shortcode("PrimaryPartyCode", primary)
	k.shortcode("ReceiverPartyCode", req.ReceiverPartyCode)
	k.transactionRef("TransactionReference", req.TransactionReference)
	k.paymentRef("ThirdPartyConversationID", ref)
	p := make(params, 0, maxParams)
	p.add("input_Amount", req.Amount)
	p.add("input_PrimaryPartyCode", primary)
	p.add("input_ReceiverPartyCode", req.ReceiverPartyCode)
	p.add("input_TransactionReference", req.TransactionReference)
	p.add(d.refKey, ref)
	d.flavor.addMarket(&k, &p, req.Country, req.Currency, "input_PurchasedItemsDesc", req.PurchasedItemsDesc)
	return d.pay(ctx, &k, p, ref)
}

func (d *ipg) reversal(ctx context.Context, req *ReversalRequest) (*PaymentResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, d.c.serviceProviderCode)
	k := d.checker(APIReversal)
	k.check("TransactionID", req.TransactionID, d.rules.transactionID)
	k.optionalAmount("ReversalAmount", req.ReversalAmount)
	k.shortcode("ServiceProviderCode", spc)
	k.paymentRef("ThirdPartyConversationID", ref)
	p := make(params, 0, maxParams)
	p.add("input_TransactionID", req.TransactionID)
	p.addOptional("input_ReversalAmount", req.ReversalAmount)
	p.add("input_ServiceProviderCode", spc)
	p.add(d.refKey, ref)
	d.flavor.addReversal(&k, &p, req)
	return d.pay(ctx, &k, p, ref)
}

// pay sends a payment whose fields k checked and p holds.
func (d *ipg) pay(ctx context.Context, k *checker, p params, ref string) (*PaymentResponse, error) {
	out, err := d.send(ctx, k, p, ref)
	if err != nil {
		return nil, err
	}
	return &PaymentResponse{
		ConversationID:           out.ConversationID,
		TransactionID:            out.TransactionID,
		ThirdPartyConversationID: orDefault(out.reference(), ref),
		ResponseCode:             out.ResponseCode,
		ResponseDesc:             out.ResponseDesc,
	}, nil
}

func (d *ipg) transactionStatus(ctx context.Context, req *TransactionStatusRequest) (*TransactionStatusResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, d.c.serviceProviderCode)
	k := d.checker(APITransactionStatus)
	k.check("QueryReference", req.QueryReference, d.rules.queryRef)
	k.shortcode("ServiceProviderCode", spc)
	k.reference("ThirdPartyConversationID", ref)
	p := make(params, 0, maxParams)
	d.flavor.addCountry(&k, &p, req.Country)
	p.add("input_QueryReference", req.QueryReference)
	p.add("input_ServiceProviderCode", spc)
	p.add(d.refKey, ref)
	out, err := d.send(ctx, &k, p, ref)
	if err != nil {
		return nil, err
	}
	return &TransactionStatusResponse{
		ConversationID:           out.ConversationID,
		ThirdPartyConversationID: orDefault(out.reference(), ref),
		ResponseCode:             out.ResponseCode,
		ResponseDesc:             out.ResponseDesc,
		TransactionStatus:        TransactionStatus(strings.TrimSpace(out.ResponseTransactionStatus)),
		OriginalTransactionID:    out.OriginalTransactionID,
		Reversed:                 isTrue(out.Reversed),
	}, nil
}

func (d *ipg) beneficiaryName(ctx context.Context, req *BeneficiaryNameRequest) (*BeneficiaryNameResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, d.c.serviceProviderCode)
	k := d.checker(APIBeneficiaryName)
	k.msisdn("CustomerMSISDN", req.CustomerMSISDN)
	k.shortcode("ServiceProviderCode", spc)
	k.reference("ThirdPartyConversationID", ref)
	p := make(params, 0, maxParams)
	p.add("input_CustomerMSISDN", req.CustomerMSISDN)
	p.add("input_ServiceProviderCode", spc)
	p.add(d.refKey, ref)
	d.flavor.addCountry(&k, &p, req.Country)
	d.flavor.addNameQuery(&p)
	out, err := d.send(ctx, &k, p, ref)
	if err != nil {
		return nil, err
	}
	r := &BeneficiaryNameResponse{
		ConversationID:           out.ConversationID,
		ThirdPartyConversationID: orDefault(out.reference(), ref),
		ResponseCode:             out.ResponseCode,
		ResponseDesc:             out.ResponseDesc,
		FirstName:                orDefault(out.CustomerFirstName, out.FirstName),
		LastName:                 orDefault(out.CustomerLastName, out.SecondName),
		Name:                     out.CustomerName,
	}
	if r.Name == "" {
		r.Name = strings.TrimSpace(r.FirstName + " " + r.LastName)
	}
	return r, nil
}
