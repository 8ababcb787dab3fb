package mpesa

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mpesa-go/mpesa/internal/redact"
)

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
	// TransactionReference is the customer-facing reference: on OpenAPI
	// v2 1 to 20 letters, digits, '_', ' ' or '+'; on Mozambique 1 to 20
	// characters.
	TransactionReference string
	// ThirdPartyConversationID is your unique reference of this payment
	// and its idempotency key (input_ThirdPartyReference on Mozambique);
	// generated when empty. Keep it: it finds the payment again. On
	// OpenAPI v2 it is 1 to 32 letters and digits, so that Reconcile can
	// query it.
	ThirdPartyConversationID string
	// PurchasedItemsDesc describes what is bought, 1 to 256 characters.
	// Required on OpenAPI v2; not sent to Mozambique.
	PurchasedItemsDesc string
	// Country and Currency default to the client's market and currency
	// (OpenAPI v2 only).
	Country  string
	Currency string

	// TillNumber makes a Daraja STK push a buy-goods payment
	// (CustomerBuyGoodsOnline) to this till, with ServiceProviderCode the
	// head-office or store number the passkey belongs to. Empty, the
	// payment goes to the pay bill ServiceProviderCode
	// (CustomerPayBillOnline). Daraja only.
	TillNumber string
	// ResultURL is where Daraja posts the STK result (CallBackURL);
	// default WithResultURL. Daraja only.
	ResultURL string
}

// C2B charges a customer (POST c2bPayment/singleStage/). The call stays open
// while the PIN prompt is on the customer's phone; keep ctx's deadline above
// the payment timeout. A customer who declines gives ErrCancelledByCustomer
// (Mozambique) or ErrTransactionFailed (OpenAPI v2 answers a declined prompt
// with INS-6), one who does not answer ErrPromptTimeout. If the outcome is
// unknown (ErrOutcomeUnknown), call Reconcile with the reference before
// anything else.
//
// On Daraja, C2B is the STK push (M-Pesa Express,
// /mpesa/stkpush/v1/processrequest): the answer only says the prompt was
// sent, its ConversationID is the CheckoutRequestID, and the result comes
// to ResultURL; ask it with TransactionStatus or Reconcile on the
// ConversationID. Amounts are whole shillings (1 to 250,000);
// TransactionReference is the AccountReference shown in the prompt (at
// most 12 characters) and PurchasedItemsDesc the optional TransactionDesc
// (at most 13). An STK push is never sent again automatically once it may
// have reached M-Pesa, not even after a rate-limit answer: every resend
// would be a new prompt, and a customer with a prompt open gets
// ErrCustomerBusy (docs/gateways.md D6, D10). STK has no merchant
// reference: ThirdPartyConversationID (given or generated) is kept in the
// answer and the errors for your logs and is not sent; a payment whose
// outcome is unknown before a CheckoutRequestID came back cannot be
// queried, so check with the customer or on the portal before asking
// again.
func (c *Client) C2B(ctx context.Context, req C2BRequest) (*PaymentResponse, error) {
	p, ok := c.d.(c2bPayer)
	if !ok {
		return nil, c.newError(APIC2B, req.ThirdPartyConversationID, ErrNotSupported, nil)
	}
	return p.c2b(ctx, &req)
}

// Format prints the request with the customer's number masked, whatever the
// verb, so that a logged request does not carry it.
func (r C2BRequest) Format(f fmt.State, verb rune) {
	r.CustomerMSISDN = redact.MSISDN(r.CustomerMSISDN)
	type c2bRequest C2BRequest
	fmt.Fprintf(f, fmt.FormatString(f, verb), c2bRequest(r))
}

// LogValue describes the request to log/slog with the number masked.
func (r C2BRequest) LogValue() slog.Value {
	r.CustomerMSISDN = redact.MSISDN(r.CustomerMSISDN)
	type c2bRequest C2BRequest
	return slog.AnyValue(c2bRequest(r))
}
