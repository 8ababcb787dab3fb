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
	p := make(params, 0, maxParams)
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

// mandateCall starts a call about an existing mandate: payment, query and
// cancellation name the customer and the mandate the same way, and carry
// the shortcode, the reference, the country and, but for cancellation, the
// currency.
type mandateCall struct {
	k   checker
	p   params
	ref string
}

func (d *openAPI) startMandateCall(api API, m mandateParty, spc, ref, country, currency string) *mandateCall {
	mc := &mandateCall{k: d.checker(api), p: make(params, 0, maxParams), ref: referenceOrNew(ref)}
	spc = orDefault(spc, d.c.serviceProviderCode)
	m.check(&mc.k)
	mc.k.shortcode("ServiceProviderCode", spc)
	if api.isQuery() || api == APIDirectDebitCancel {
		mc.k.reference("ThirdPartyConversationID", mc.ref)
	} else {
		mc.k.paymentRef("ThirdPartyConversationID", mc.ref)
	}
	m.add(&mc.p)
	if api == APIDirectDebitCancel {
		d.addCountry(&mc.k, &mc.p, country)
	} else {
		country, currency = d.marketFields(&mc.k, country, currency)
		mc.p.add("input_Country", country)
		mc.p.add("input_Currency", currency)
	}
	mc.p.add("input_ServiceProviderCode", spc)
	mc.p.add("input_ThirdPartyConversationID", mc.ref)
	return mc
}

func (d *openAPI) directDebitPayment(ctx context.Context, req *DirectDebitPaymentRequest) (*DirectDebitPaymentResponse, error) {
	mc := d.startMandateCall(APIDirectDebitPayment, mandateParty{req.CustomerMSISDN, req.MsisdnToken, req.MandateReference, req.MandateID},
		req.ServiceProviderCode, req.ThirdPartyConversationID, req.Country, req.Currency)
	mc.k.amount("Amount", req.Amount)
	mc.p.add("input_Amount", req.Amount)
	out, err := d.send(ctx, &mc.k, mc.p, mc.ref)
	if err != nil {
		return nil, err
	}
	return &DirectDebitPaymentResponse{
		ConversationID:           out.ConversationID,
		TransactionID:            out.TransactionID,
		ThirdPartyConversationID: orDefault(out.reference(), mc.ref),
		ResponseCode:             out.ResponseCode,
		ResponseDesc:             out.ResponseDesc,
		MsisdnToken:              out.MsisdnToken,
	}, nil
}

func (d *openAPI) directDebitQuery(ctx context.Context, req *DirectDebitQueryRequest) (*DirectDebitQueryResponse, error) {
	mc := d.startMandateCall(APIDirectDebitQuery, mandateParty{req.CustomerMSISDN, req.MsisdnToken, req.MandateReference, req.MandateID},
		req.ServiceProviderCode, req.ThirdPartyConversationID, req.Country, req.Currency)
	if req.QueryBalanceAmount {
		mc.k.amount("BalanceAmount", req.BalanceAmount)
	} else {
		mc.k.optionalAmount("BalanceAmount", req.BalanceAmount)
	}
	query := "False"
	if req.QueryBalanceAmount {
		query = "True"
	}
	mc.p.addOptional("input_BalanceAmount", req.BalanceAmount)
	mc.p.add("input_QueryBalanceAmount", query)
	out, err := d.send(ctx, &mc.k, mc.p, mc.ref)
	if err != nil {
		return nil, err
	}
	return &DirectDebitQueryResponse{
		ConversationID:           out.ConversationID,
		ThirdPartyConversationID: orDefault(out.reference(), mc.ref),
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
	mc := d.startMandateCall(APIDirectDebitCancel, mandateParty{req.CustomerMSISDN, req.MsisdnToken, req.MandateReference, req.MandateID},
		req.ServiceProviderCode, req.ThirdPartyConversationID, req.Country, "")
	out, err := d.send(ctx, &mc.k, mc.p, mc.ref)
	if err != nil {
		return nil, err
	}
	return &DirectDebitCancelResponse{
		ConversationID:           out.ConversationID,
		ThirdPartyConversationID: orDefault(out.reference(), mc.ref),
		ResponseCode:             out.ResponseCode,
		ResponseDesc:             out.ResponseDesc,
		TransactionReference:     out.TransactionReference,
		MsisdnToken:              out.MsisdnToken,
	}, nil
}
