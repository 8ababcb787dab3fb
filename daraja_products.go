package mpesa

import (
	"context"
	"strings"

	"github.com/mpesa-go/mpesa/internal/wire"
)

// The products of the Daraja dialect. Each maps the SDK's one vocabulary
// onto Daraja's fields as docs/gateways.md X1 records it, with these
// additions of the Daraja client:
//
//   - C2BRequest.TillNumber selects the buy-goods STK push (PartyB, with
//     TransactionType CustomerBuyGoodsOnline);
//   - B2BRequest's TransactionReference is AccountReference and
//     PurchasedItemsDesc is Remarks; CommandID and Requester are Daraja's;
//   - ReversalRequest.ReversalAmount is required (Amount), and Remarks
//     defaults to "Reversal";
//   - a request's ResultURL and QueueTimeoutURL default to the client's;
//   - Daraja's STK push, B2B, reversal, status and balance take no merchant
//     reference: ThirdPartyConversationID is kept by the SDK only (in the
//     answer and the errors), never sent. B2C v3's OriginatorConversationID
//     is the one merchant reference Daraja takes.
//
// Every body is a flat JSON object of strings, numbers included, as the
// 2017 summary's samples write them; the portal's samples write some
// numbers bare, and Daraja reads both.

// The rules of the products' own fields (docs/gateways.md D6, D15, D16,
// D19, D25).
var (
	stkAmount        = wholeShillings(1, 250_000)
	b2cAmount        = wholeShillings(10, 250_000)
	anyAmount        = wholeShillings(1, 0)
	stkDesc          = textRule(1, 13, "TransactionDesc")
	remarks          = textRule(2, 100, "Remarks")
	b2bRemarks       = textRule(1, 100, "Remarks")
	occasion         = textRule(1, 100, "Occassion")
	b2bAccountRef    = textRule(1, 13, "AccountReference")
	billRef          = textRule(1, 20, "BillRefNumber")
	b2cCommands      = oneOf("BusinessPayment", "SalaryPayment", "PromotionPayment")
	b2bCommands      = oneOf("BusinessPayBill", "BusinessBuyGoods", "BusinessPayToBulk")
	simulateCommands = oneOf(CommandCustomerPayBillOnline, CommandCustomerBuyGoodsOnline)
	responseTypes    = oneOf(C2BResponseCompleted, C2BResponseCancelled)
	stkCheckout      = rule{func(v string) bool { return strings.HasPrefix(v, "ws_CO_") && darajaRefOK(v) },
		"must be a CheckoutRequestID, ws_CO_ and up to 58 letters, digits, '-' or '_'"}
)

func (d *daraja) checker(api API) checker { return checker{api: api, rules: &darajaRules} }

// darajaMaxFields is the most fields a Daraja request has (B2B), so that
// a request's parameters are allocated once.
const darajaMaxFields = 14

// send validates, encodes and sends one call.
func (d *daraja) send(ctx context.Context, k *checker, p params, ref string, out *darajaOutput, hold bool) error {
	if err := k.err(); err != nil {
		return err
	}
	ps := p.sorted()
	rq := &request{api: k.api, ref: ref, out: out, holdOnOverload: hold,
		body: wire.AppendJSON(make([]byte, 0, wire.JSONLen(ps)), ps)}
	for _, q := range ps {
		if q.Key == "Password" {
			rq.secret = q.Value
		}
	}
	return d.c.send(ctx, rq)
}

// market refuses a Country or Currency of another market.
func (d *daraja) market(k *checker, country, currency string) {
	if country != "" && country != MarketKenya.Country() {
		k.fail("Country", "is not taken by the Daraja gateway, which serves Kenya", country)
	}
	if currency != "" && currency != MarketKenya.Currency() {
		k.fail("Currency", "is not taken by the Daraja gateway, which pays in KES", currency)
	}
}

// initiator adds the initiator and the SecurityCredential computed in
// NewClient; nameKey is InitiatorName (B2C) or Initiator (the others).
func (d *daraja) initiatorFields(k *checker, p *params, nameKey string) {
	if d.initiator == "" {
		k.fail("WithInitiator", "is required: this Daraja API acts as an initiator (name and password)", "")
	}
	p.add(nameKey, d.initiator)
	p.add("SecurityCredential", d.credential)
}

// callbackURL returns a request's URL, or the client's default, and checks
// it; the default was checked by NewClient.
func (d *daraja) callbackURL(k *checker, field, v, def, option string) string {
	if v == "" {
		if def == "" {
			k.fail(field, "is required: set it on the request or with "+option, "")
		}
		return def
	}
	if why := darajaURLProblem(d.env, v); why != "" {
		k.fail(field, why, v)
	}
	return v
}

// resultURLs adds ResultURL and QueueTimeOutURL.
func (d *daraja) resultURLs(k *checker, p *params, result, timeout string) {
	p.add("ResultURL", d.callbackURL(k, "ResultURL", result, d.resultURL, "WithResultURL"))
	p.add("QueueTimeOutURL", d.callbackURL(k, "QueueTimeoutURL", timeout, d.queueTimeoutURL, "WithQueueTimeoutURL"))
}

// stkCredentials adds the STK Password and Timestamp, built from one
// reading of the client's clock (docs/gateways.md D7).
func (d *daraja) stkCredentials(k *checker, p *params, shortcode string) {
	if d.passkey == "" {
		k.fail("WithPasskey", "is required: the STK push and query sign with the shortcode's passkey", "")
	}
	ts := darajaTimestamp(d.c.now())
	p.add("Password", stkPassword(shortcode, d.passkey, ts))
	p.add("Timestamp", ts)
}

// optional checks v against r when it is set.
func optional(k *checker, field, v string, r rule) {
	if v != "" {
		k.check(field, v, r)
	}
}

// c2b is the STK push (docs/gateways.md D6, D10).
func (d *daraja) c2b(ctx context.Context, req *C2BRequest) (*PaymentResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, d.c.serviceProviderCode)
	k := d.checker(APIC2B)
	k.check("Amount", req.Amount, stkAmount)
	k.msisdn("CustomerMSISDN", req.CustomerMSISDN)
	k.shortcode("ServiceProviderCode", spc)
	k.transactionRef("TransactionReference", req.TransactionReference)
	optional(&k, "PurchasedItemsDesc", req.PurchasedItemsDesc, stkDesc)
	k.text("ThirdPartyConversationID", ref)
	d.market(&k, req.Country, req.Currency)
	typ, partyB := "CustomerPayBillOnline", spc
	if req.TillNumber != "" {
		k.shortcode("TillNumber", req.TillNumber)
		typ, partyB = "CustomerBuyGoodsOnline", req.TillNumber
	}
	p := make(params, 0, darajaMaxFields)
	p.add("BusinessShortCode", spc)
	d.stkCredentials(&k, &p, spc)
	p.add("TransactionType", typ)
	p.add("Amount", req.Amount)
	p.add("PartyA", req.CustomerMSISDN)
	p.add("PartyB", partyB)
	p.add("PhoneNumber", req.CustomerMSISDN)
	p.add("CallBackURL", d.callbackURL(&k, "ResultURL", req.ResultURL, d.resultURL, "WithResultURL"))
	p.add("AccountReference", req.TransactionReference)
	p.addOptional("TransactionDesc", req.PurchasedItemsDesc)
	out := new(darajaOutput)
	if err := d.send(ctx, &k, p, ref, out, true); err != nil {
		return nil, err
	}
	return &PaymentResponse{
		ConversationID:           out.CheckoutRequestID,
		ThirdPartyConversationID: ref,
		ResponseCode:             out.ResponseCode,
		ResponseDesc:             out.ResponseDescription,
		MerchantRequestID:        out.MerchantRequestID,
		CheckoutRequestID:        out.CheckoutRequestID,
		CustomerMessage:          out.CustomerMessage,
	}, nil
}

// b2c is B2C v3 (docs/gateways.md D15).
func (d *daraja) b2c(ctx context.Context, req *B2CRequest) (*PaymentResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, d.c.serviceProviderCode)
	cmd := orDefault(req.CommandID, "BusinessPayment")
	k := d.checker(APIB2C)
	k.paymentRef("ThirdPartyConversationID", ref)
	k.check("CommandID", cmd, b2cCommands)
	k.check("Amount", req.Amount, b2cAmount)
	k.msisdn("CustomerMSISDN", req.CustomerMSISDN)
	k.shortcode("ServiceProviderCode", spc)
	k.check("PaymentItemsDesc", req.PaymentItemsDesc, remarks)
	optional(&k, "TransactionReference", req.TransactionReference, occasion)
	d.market(&k, req.Country, req.Currency)
	p := make(params, 0, darajaMaxFields)
	p.add("OriginatorConversationID", ref)
	d.initiatorFields(&k, &p, "InitiatorName")
	p.add("CommandID", cmd)
	p.add("Amount", req.Amount)
	p.add("PartyA", spc)
	p.add("PartyB", req.CustomerMSISDN)
	p.add("Remarks", req.PaymentItemsDesc)
	d.resultURLs(&k, &p, req.ResultURL, req.QueueTimeoutURL)
	// The v3 page spells it Occassion; it is sent only when set
	// (docs/gateways.md D15).
	p.addOptional("Occassion", req.TransactionReference)
	return d.pay(ctx, &k, p, ref)
}

// b2b is the business pay bill and buy goods payment (docs/gateways.md
// D16).
func (d *daraja) b2b(ctx context.Context, req *B2BRequest) (*PaymentResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	primary := orDefault(req.PrimaryPartyCode, d.c.serviceProviderCode)
	cmd := orDefault(req.CommandID, "BusinessPayBill")
	k := d.checker(APIB2B)
	k.text("ThirdPartyConversationID", ref)
	k.check("CommandID", cmd, b2bCommands)
	k.check("Amount", req.Amount, anyAmount)
	k.shortcode("PrimaryPartyCode", primary)
	k.shortcode("ReceiverPartyCode", req.ReceiverPartyCode)
	if cmd == "BusinessPayBill" {
		// "Mandatory for BusinessPaybill" (2017 summary; BusinessPayBill).
		k.check("TransactionReference", req.TransactionReference, b2bAccountRef)
	} else {
		optional(&k, "TransactionReference", req.TransactionReference, b2bAccountRef)
	}
	k.check("PurchasedItemsDesc", req.PurchasedItemsDesc, b2bRemarks)
	if req.Requester != "" {
		k.msisdn("Requester", req.Requester)
	}
	d.market(&k, req.Country, req.Currency)
	p := make(params, 0, darajaMaxFields)
	d.initiatorFields(&k, &p, "Initiator")
	p.add("CommandID", cmd)
	p.add("SenderIdentifierType", "4")
	p.add("RecieverIdentifierType", "4") // sic: the API spells it so
	p.add("Amount", req.Amount)
	p.add("PartyA", primary)
	p.add("PartyB", req.ReceiverPartyCode)
	p.addOptional("AccountReference", req.TransactionReference)
	p.addOptional("Requester", req.Requester)
	p.add("Remarks", req.PurchasedItemsDesc)
	d.resultURLs(&k, &p, req.ResultURL, req.QueueTimeoutURL)
	return d.pay(ctx, &k, p, ref)
}

// reversal is TransactionReversal (docs/gateways.md D19).
func (d *daraja) reversal(ctx context.Context, req *ReversalRequest) (*PaymentResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, d.c.serviceProviderCode)
	rem := orDefault(req.Remarks, "Reversal")
	k := d.checker(APIReversal)
	k.text("ThirdPartyConversationID", ref)
	k.check("TransactionID", req.TransactionID, darajaRules.transactionID)
	k.check("ReversalAmount", req.ReversalAmount, anyAmount)
	k.shortcode("ServiceProviderCode", spc)
	k.check("Remarks", rem, remarks)
	const why = "is not taken on Daraja: the initiator comes from WithInitiator, whose password the client encrypts once"
	if req.InitiatorIdentifier != "" {
		k.fail("InitiatorIdentifier", why, "")
	}
	if req.SecurityCredential != "" {
		k.fail("SecurityCredential", why, "")
	}
	d.market(&k, req.Country, "")
	p := make(params, 0, darajaMaxFields)
	d.initiatorFields(&k, &p, "Initiator")
	p.add("CommandID", "TransactionReversal")
	p.add("TransactionID", req.TransactionID)
	p.add("Amount", req.ReversalAmount)
	p.add("ReceiverParty", spc)
	p.add("RecieverIdentifierType", "11") // sic
	p.add("Remarks", rem)
	d.resultURLs(&k, &p, req.ResultURL, req.QueueTimeoutURL)
	return d.pay(ctx, &k, p, ref)
}

// pay sends an initiator payment and returns its acknowledgement.
func (d *daraja) pay(ctx context.Context, k *checker, p params, ref string) (*PaymentResponse, error) {
	out := new(darajaOutput)
	if err := d.send(ctx, k, p, ref, out, false); err != nil {
		return nil, err
	}
	return &PaymentResponse{
		ConversationID:           out.ConversationID,
		ThirdPartyConversationID: ref,
		ResponseCode:             out.ResponseCode,
		ResponseDesc:             out.ResponseDescription,
		OriginatorConversationID: out.OriginatorConversationID,
	}, nil
}

// isReceipt reports whether a status query's reference is an M-Pesa
// receipt, ten capital letters and digits ("LGR919G2AV"), rather than a
// conversation ID (docs/gateways.md D18).
func isReceipt(v string) bool {
	if len(v) != 10 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// transactionStatus sends a CheckoutRequestID to the STK query and
// anything else to the transaction status API (docs/gateways.md D8, D18).
func (d *daraja) transactionStatus(ctx context.Context, req *TransactionStatusRequest) (*TransactionStatusResponse, error) {
	if strings.HasPrefix(req.QueryReference, "ws_CO_") {
		return d.stkQuery(ctx, req)
	}
	return d.asyncStatus(ctx, req, isReceipt(req.QueryReference), false)
}

// asyncStatus sends a query to the transaction status API, by receipt
// (TransactionID) or by OriginalConversationID, and returns its
// acknowledgement. The state comes to the ResultURL; the IDs of the
// acknowledgement are recorded on the client's hub (WithResults), so that
// a Handler feeding it knows the result for a status result when it
// arrives. internal marks a query of a Handler's verification.
func (d *daraja) asyncStatus(ctx context.Context, req *TransactionStatusRequest, byReceipt, internal bool) (*TransactionStatusResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, d.c.serviceProviderCode)
	k := d.checker(APITransactionStatus)
	k.check("QueryReference", req.QueryReference, darajaRef)
	k.shortcode("ServiceProviderCode", spc)
	k.text("ThirdPartyConversationID", ref)
	d.market(&k, req.Country, "")
	p := make(params, 0, darajaMaxFields)
	d.initiatorFields(&k, &p, "Initiator")
	p.add("CommandID", "TransactionStatusQuery")
	if byReceipt {
		p.add("TransactionID", req.QueryReference)
	} else {
		p.add("OriginalConversationID", req.QueryReference)
	}
	p.add("PartyA", spc)
	p.add("IdentifierType", "4")
	p.add("Remarks", "Transaction status query")
	d.resultURLs(&k, &p, req.ResultURL, req.QueueTimeoutURL)
	if err := k.err(); err != nil {
		return nil, err
	}
	out := new(darajaOutput)
	acked := false
	if d.results != nil {
		d.results.statusSent()
		defer func() {
			if !acked {
				*out = darajaOutput{}
			}
			d.results.statusAcknowledged(internal, out.ConversationID, out.OriginatorConversationID)
		}()
	}
	if err := d.send(ctx, &k, p, ref, out, false); err != nil {
		return nil, err
	}
	acked = true
	return &TransactionStatusResponse{
		ConversationID:           out.ConversationID,
		ThirdPartyConversationID: ref,
		ResponseCode:             out.ResponseCode,
		ResponseDesc:             out.ResponseDescription,
	}, nil
}

// stkQuery asks how an STK push ended. Its answer is synchronous:
// "being processed" is pending, and the result code gives the state.
func (d *daraja) stkQuery(ctx context.Context, req *TransactionStatusRequest) (*TransactionStatusResponse, error) {
	res, _, err := d.stkQueryAnswer(ctx, req)
	return res, err
}

// stkQueryAnswer is stkQuery, returning the answer as sent too.
func (d *daraja) stkQueryAnswer(ctx context.Context, req *TransactionStatusRequest) (*TransactionStatusResponse, *darajaOutput, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, d.c.serviceProviderCode)
	k := d.checker(APISTKQuery)
	k.check("QueryReference", req.QueryReference, stkCheckout)
	k.shortcode("ServiceProviderCode", spc)
	k.text("ThirdPartyConversationID", ref)
	d.market(&k, req.Country, "")
	p := make(params, 0, darajaMaxFields)
	p.add("BusinessShortCode", spc)
	d.stkCredentials(&k, &p, spc)
	p.add("CheckoutRequestID", req.QueryReference)
	out := new(darajaOutput)
	if err := d.send(ctx, &k, p, ref, out, false); err != nil {
		return nil, nil, err
	}
	res := &TransactionStatusResponse{
		ConversationID:           orDefault(out.CheckoutRequestID, req.QueryReference),
		ThirdPartyConversationID: ref,
		ResponseCode:             out.ResponseCode,
		ResponseDesc:             out.ResponseDescription,
		ResultCode:               strings.TrimSpace(out.ResultCode),
		ResultDesc:               out.ResultDesc,
	}
	if out.pending {
		res.ResponseCode, res.ResponseDesc = out.ErrorCode, out.ErrorMessage
		res.TransactionStatus = StatusPending
		return res, out, nil
	}
	res.TransactionStatus = stkStatus(res.ResultCode)
	return res, out, nil
}

// stkStatus maps an STK result code to a state: 0 paid, 1032 declined by
// the customer, 1019 and 1037 unanswered; no code yet is pending, any
// other code a failure (docs/gateways.md D9).
func stkStatus(code string) TransactionStatus {
	switch code {
	case "0":
		return StatusCompleted
	case "1032":
		return StatusCancelled
	case "1019", "1037":
		return StatusExpired
	case "":
		return StatusPending
	}
	return StatusFailed
}
