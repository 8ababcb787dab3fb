package mpesa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/mpesa-go/mpesa/internal/redact"
)

// Daraja's customer-initiated C2B: the URLs M-Pesa calls when a customer
// pays the shortcode from their phone, and the sandbox's simulation of such
// a payment (docs/gateways.md D12–D14). The callbacks themselves are
// received by the Handler.

// The ResponseType values of RegisterC2BURLsRequest: what M-Pesa does with
// a payment when the validation URL does not answer in time.
const (
	C2BResponseCompleted = "Completed"
	C2BResponseCancelled = "Cancelled"
)

// RegisterC2BURLsRequest registers the validation and confirmation URLs of
// a shortcode (Daraja only).
type RegisterC2BURLsRequest struct {
	// ShortCode defaults to WithServiceProviderCode.
	ShortCode string
	// ResponseType is C2BResponseCompleted or C2BResponseCancelled,
	// spelt so: whether M-Pesa completes or cancels a payment when the
	// ValidationURL is unreachable or late. Required.
	ResponseType string
	// ConfirmationURL receives every completed payment; ValidationURL is
	// asked before a payment completes, once Safaricom has enabled
	// external validation for the shortcode. Both are required and
	// checked as WithResultURL is.
	ConfirmationURL string
	ValidationURL   string
}

// RegisterC2BURLsResponse is Daraja's answer to a registration.
type RegisterC2BURLsResponse struct {
	// OriginatorConversationID is Daraja's ID of the request (the answer
	// spells it OriginatorCoversationID).
	OriginatorConversationID string
	ResponseCode             string
	ResponseDesc             string
}

// Async reports false: the registration is answered at once.
func (r *RegisterC2BURLsResponse) Async() bool { return false }

// RegisterC2BURLs registers where M-Pesa sends a shortcode's C2B
// validation and confirmation callbacks (/mpesa/c2b/v2/registerurl, or v1
// with WithC2BVersion(1)). In production a shortcode registers once: a
// second registration answers ErrAlreadyRegistered, and changing the URLs
// takes deleting them on the Daraja portal first. In the sandbox a new
// registration replaces the old one. A version the app lacks answers
// ErrAPINotEnabled. Other gateways answer ErrNotSupported without I/O.
func (c *Client) RegisterC2BURLs(ctx context.Context, req RegisterC2BURLsRequest) (*RegisterC2BURLsResponse, error) {
	r, ok := c.d.(c2bRegistrar)
	if !ok {
		return nil, c.newError(APIC2BRegister, "", ErrNotSupported, nil)
	}
	return r.registerC2BURLs(ctx, &req)
}

// The CommandID values of SimulateC2BRequest.
const (
	CommandCustomerPayBillOnline  = "CustomerPayBillOnline"
	CommandCustomerBuyGoodsOnline = "CustomerBuyGoodsOnline"
)

// SimulateC2BRequest makes the Daraja sandbox play a customer paying the
// shortcode from their phone.
type SimulateC2BRequest struct {
	// ShortCode defaults to WithServiceProviderCode.
	ShortCode string
	// CommandID is CommandCustomerPayBillOnline (the default) or
	// CommandCustomerBuyGoodsOnline.
	CommandID string
	// Amount is a whole number of shillings.
	Amount string
	// MSISDN is the paying number, 254 and nine digits; the sandbox's
	// test number is 254708374149.
	MSISDN string
	// BillRefNumber is the account number the customer types, at most 20
	// characters; leave it empty for a till.
	BillRefNumber string
}

// SimulateC2BResponse is the sandbox's acknowledgement. The payment then
// reaches the registered URLs.
type SimulateC2BResponse struct {
	ConversationID           string
	OriginatorConversationID string
	ResponseCode             string
	ResponseDesc             string
}

// Async reports true: the payment comes to the registered URLs.
func (r *SimulateC2BResponse) Async() bool { return true }

// SimulateC2B asks the Daraja sandbox to simulate a customer's C2B payment
// (/mpesa/c2b/v2/simulate, or v1 with WithC2BVersion(1)). Register the URLs
// first, before each simulation. In production, and on the other gateways,
// it answers ErrNotSupported without I/O.
func (c *Client) SimulateC2B(ctx context.Context, req SimulateC2BRequest) (*SimulateC2BResponse, error) {
	s, ok := c.d.(c2bSimulator)
	if !ok {
		return nil, c.newError(APIC2BSimulate, "", ErrNotSupported, nil)
	}
	if c.env == Production {
		return nil, c.newError(APIC2BSimulate, "", ErrNotSupported, errors.New("C2B simulate exists in the sandbox only"))
	}
	return s.simulateC2B(ctx, &req)
}

// Format prints the request with the number masked, whatever the verb.
func (r SimulateC2BRequest) Format(f fmt.State, verb rune) {
	r.MSISDN = redact.MSISDN(r.MSISDN)
	type simulateC2BRequest SimulateC2BRequest
	fmt.Fprintf(f, fmt.FormatString(f, verb), simulateC2BRequest(r))
}

// LogValue describes the request to log/slog with the number masked.
func (r SimulateC2BRequest) LogValue() slog.Value {
	r.MSISDN = redact.MSISDN(r.MSISDN)
	type simulateC2BRequest SimulateC2BRequest
	return slog.AnyValue(simulateC2BRequest(r))
}
