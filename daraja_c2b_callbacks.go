package mpesa

// Daraja's customer-initiated C2B callbacks (docs/gateways.md D12, D13):
// when a customer pays the shortcode from their phone, M-Pesa first asks
// the ValidationURL whether to complete the payment (only once Safaricom
// has enabled external validation for the shortcode), then posts the
// completed payment to the ConfirmationURL. Both bodies have one shape, so
// the URL tells them apart: the ValidationURL is served by a C2B validator
// (NewC2BValidator), the ConfirmationURL by a Handler, which reads every
// C2B body it receives as a confirmation.

// c2b reads the flat body of a C2B validation or confirmation.
func (p *darajaParser) c2b(vals *[topCount]string, used *uint64, kind CallbackKind) error {
	for i := topTransactionType; i <= topLastName; i++ {
		*used |= 1 << i
	}
	if vals[topTransID] == "" {
		return malformed("a C2B body without TransID")
	}
	r := p.r
	r.Callback, r.API = kind, APIC2B
	p.keep(&r.TransactionID, vals[topTransID])
	p.keep(&r.TransactionType, vals[topTransactionType])
	p.keep(&r.TransactionDate, vals[topTransTime])
	p.keep(&r.Amount, vals[topTransAmount])
	p.keep(&r.ServiceProviderCode, vals[topBusinessShortCode])
	p.keep(&r.TransactionReference, vals[topBillRefNumber])
	p.keep(&r.InvoiceNumber, vals[topInvoiceNumber])
	p.keep(&r.OrgAccountBalance, vals[topOrgAccountBalance])
	p.keep(&r.ThirdPartyConversationID, vals[topThirdPartyTransID])
	p.keep(&r.MSISDN, vals[topMSISDN])
	p.keep(&r.CustomerFirstName, vals[topFirstName])
	p.keep(&r.CustomerMiddleName, vals[topMiddleName])
	p.keep(&r.CustomerLastName, vals[topLastName])
	if kind == CallbackC2BConfirmation {
		// M-Pesa confirms completed payments only (docs/gateways.md D13).
		r.ResultCode = "0"
	}
	return nil
}
