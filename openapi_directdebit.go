package mpesa

import "context"

// The direct debit products, which OpenAPI v2 alone offers: the field names
// of the portal's "Direct Debit Create", "Direct Debit Payment", "Query
// Direct Debit" and "Direct Debit Cancel" pages (docs/gateways.md O10, O12).

func (d *openAPI) directDebitCreate(ctx context.Context, req *DirectDebitCreateRequest) (*DirectDebitCreateResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, d.c.serviceProviderCode)
	k := d.checker(APIDirectDebitCreate)
	k.msisdn("CustomerMSISDN", req.CustomerMSISDN)
	k.shortcode("ServiceProviderCode", spc)
	k.alnum("MandateReference", req.MandateReference, 32)
	k.reference("ThirdPartyConversationID", ref)
	checkMandateSchedule(&k, *req)
	agreed := "0"
	if req.AgreedTC {
		agreed = "1"
	}
	var p params
	p.add("input_AgreedTC", agreed)
	d.addCountry(&k, &p, req.Country)
	p.add("input_CustomerMSISDN", req.CustomerMSISDN)
	p.addOptional("input_EndRangeOfDays", req.EndRangeOfDays)
	p.addOptional("input_ExpiryDate", req.ExpiryDate)
	p.addOptional("input_FirstPaymentDate", req.FirstPaymentDate)
	p.addOptional("input_Frequency", string(req.Frequency))
	p.add("input_ServiceProviderCode", spc)
	p.addOptional("input_StartRangeOfDays", req.StartRangeOfDays)
	p.add("input_ThirdPartyConversationID", ref)
	p.add("input_ThirdPartyReference", req.MandateReference)
	out, err := d.send(ctx, &k, p, ref)
	if err != nil {
		return nil, err
	}
	return &DirectDebitCreateResponse{
		ConversationID:           out.ConversationID,
		ThirdPartyConversationID: orDefault(out.reference(), ref),
		ResponseCode:             out.ResponseCode,
		ResponseDesc:             out.ResponseDesc,
		TransactionReference:     out.TransactionReference,
		MsisdnToken:              out.MsisdnToken,
		MandateID:                out.MandateID,
	}, nil
}

func (d *openAPI) directDebitPayment(ctx context.Context, req *DirectDebitPaymentRequest) (*DirectDebitPaymentResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, d.c.serviceProviderCode)
	party := mandateParty{req.CustomerMSISDN, req.MsisdnToken, req.MandateReference, req.MandateID}
	k := d.checker(APIDirectDebitPayment)
	party.check(&k)
	k.amount("Amount", req.Amount)
	k.shortcode("ServiceProviderCode", spc)
	k.paymentRef("ThirdPartyConversationID", ref)
	country, currency := d.marketFields(&k, req.Country, req.Currency)
	var p params
	party.add(&p)
	p.add("input_Amount", req.Amount)
	p.add("input_Country", country)
	p.add("input_Currency", currency)
	p.add("input_ServiceProviderCode", spc)
	p.add("input_ThirdPartyConversationID", ref)
	out, err := d.send(ctx, &k, p, ref)
	if err != nil {
		return nil, err
	}
	return &DirectDebitPaymentResponse{
		ConversationID:           out.ConversationID,
		TransactionID:            out.TransactionID,
		ThirdPartyConversationID: orDefault(out.reference(), ref),
		ResponseCode:             out.ResponseCode,
		ResponseDesc:             out.ResponseDesc,
		MsisdnToken:              out.MsisdnToken,
	}, nil
}

func (d *openAPI) directDebitQuery(ctx context.Context, req *DirectDebitQueryRequest) (*DirectDebitQueryResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, d.c.serviceProviderCode)
	party := mandateParty{req.CustomerMSISDN, req.MsisdnToken, req.MandateReference, req.MandateID}
	k := d.checker(APIDirectDebitQuery)
	party.check(&k)
	if req.QueryBalanceAmount {
		k.amount("BalanceAmount", req.BalanceAmount)
	} else {
		k.optionalAmount("BalanceAmount", req.BalanceAmount)
	}
	k.shortcode("ServiceProviderCode", spc)
	k.reference("ThirdPartyConversationID", ref)
	country, currency := d.marketFields(&k, req.Country, req.Currency)
	query := "False"
	if req.QueryBalanceAmount {
		query = "True"
	}
	var p params
	party.add(&p)
	p.addOptional("input_BalanceAmount", req.BalanceAmount)
	p.add("input_Country", country)
	p.add("input_Currency", currency)
	p.add("input_QueryBalanceAmount", query)
	p.add("input_ServiceProviderCode", spc)
	p.add("input_ThirdPartyConversationID", ref)
	out, err := d.send(ctx, &k, p, ref)
	if err != nil {
		return nil, err
	}
	return &DirectDebitQueryResponse{
		ConversationID:           out.ConversationID,
		ThirdPartyConversationID: orDefault(out.reference(), ref),
		ResponseCode:             out.ResponseCode,
		ResponseDesc:             out.ResponseDesc,
		TransactionReference:     out.TransactionReference,
		MsisdnToken:              out.MsisdnToken,
		MandateID:                out.MandateID,
		MandateStatus:            out.MandateStatus,
		AccountStatus:            out.AccountStatus,
		SufficientBalance:        isTrue(out.SufficientBalance),
		FirstPaymentDate:         out.FirstPaymentDate,
		Frequency:                Frequency(out.Frequency),
		PaymentDayFrom:           out.PaymentDayFrom,
		PaymentDayTo:             out.PaymentDayTo,
		ExpiryDate:               out.ExpiryDate,
	}, nil
}

func (d *openAPI) directDebitCancel(ctx context.Context, req *DirectDebitCancelRequest) (*DirectDebitCancelResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, d.c.serviceProviderCode)
	party := mandateParty{req.CustomerMSISDN, req.MsisdnToken, req.MandateReference, req.MandateID}
	k := d.checker(APIDirectDebitCancel)
	party.check(&k)
	k.shortcode("ServiceProviderCode", spc)
	k.reference("ThirdPartyConversationID", ref)
	var p params
	party.add(&p)
	d.addCountry(&k, &p, req.Country)
	p.add("input_ServiceProviderCode", spc)
	p.add("input_ThirdPartyConversationID", ref)
	out, err := d.send(ctx, &k, p, ref)
	if err != nil {
		return nil, err
	}
	return &DirectDebitCancelResponse{
		ConversationID:           out.ConversationID,
		ThirdPartyConversationID: orDefault(out.reference(), ref),
		ResponseCode:             out.ResponseCode,
		ResponseDesc:             out.ResponseDesc,
		TransactionReference:     out.TransactionReference,
		MsisdnToken:              out.MsisdnToken,
	}, nil
}
