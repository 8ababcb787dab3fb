package mpesa

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mpesa-go/mpesa/internal/redact"
)

// B2CRequest pays a customer from the business's wallet.
type B2CRequest struct {
	// Amount is a decimal string greater than zero.
	Amount string
	// CustomerMSISDN is the number credited, with country code.
	CustomerMSISDN string
	// ServiceProviderCode is the shortcode debited; default
	// WithServiceProviderCode.
	ServiceProviderCode string
	// TransactionReference is as for C2BRequest.
	TransactionReference string
	// ThirdPartyConversationID is your unique reference of the payment,
	// as for C2BRequest.
	ThirdPartyConversationID string
	// PaymentItemsDesc describes the payment ("Salary payment"), 1 to 256
	// characters. Required on OpenAPI v2; not sent to Mozambique.
	PaymentItemsDesc string
	// Country and Currency default to the client's market (OpenAPI v2).
	Country  string
	Currency string

	// CommandID is Daraja's kind of payment: "BusinessPayment" (the
	// default), "SalaryPayment" or "PromotionPayment". Daraja only.
	CommandID string
	// ResultURL and QueueTimeoutURL are where Daraja posts the result and
	// a queue timeout; default WithResultURL and WithQueueTimeoutURL.
	// Daraja only.
	ResultURL       string
	QueueTimeoutURL string
}

// B2C pays a customer (POST b2cPayment/). ErrInsufficientBalance means the
// business wallet lacks funds.
//
// On Daraja it is B2C v3 (/mpesa/b2c/v3/paymentrequest), which needs
// WithInitiator: ThirdPartyConversationID is the OriginatorConversationID,
// Daraja's idempotency key (a reused one answers ErrDuplicate, which says
// nothing of how the first payment ended), PaymentItemsDesc the Remarks
// (2 to 100 characters) and TransactionReference the optional Occassion.
// Amounts are whole shillings, 10 to 250,000. The answer is always
// asynchronous (docs/gateways.md D15).
func (c *Client) B2C(ctx context.Context, req B2CRequest) (*PaymentResponse, error) {
	p, ok := c.d.(b2cPayer)
	if !ok {
		return nil, c.newError(APIB2C, req.ThirdPartyConversationID, ErrNotSupported, nil)
	}
	return p.b2c(ctx, &req)
}

// Format prints the request with the customer's number masked, whatever the
// verb.
func (r B2CRequest) Format(f fmt.State, verb rune) {
	r.CustomerMSISDN = redact.MSISDN(r.CustomerMSISDN)
	type b2cRequest B2CRequest
	fmt.Fprintf(f, fmt.FormatString(f, verb), b2cRequest(r))
}

// LogValue describes the request to log/slog with the number masked.
func (r B2CRequest) LogValue() slog.Value {
	r.CustomerMSISDN = redact.MSISDN(r.CustomerMSISDN)
	type b2cRequest B2CRequest
	return slog.AnyValue(b2cRequest(r))
}
