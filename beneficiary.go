package mpesa

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mpesa-go/mpesa/internal/redact"
)

// BeneficiaryNameRequest asks for the registered name of a customer before
// paying them.
type BeneficiaryNameRequest struct {
	// CustomerMSISDN is the customer's number with country code.
	CustomerMSISDN string
	// ServiceProviderCode defaults to WithServiceProviderCode.
	ServiceProviderCode string
	// ThirdPartyConversationID is this query's reference; generated when
	// empty (Mozambique: input_ThirdPartyReference).
	ThirdPartyConversationID string
	// Country defaults to the client's market (OpenAPI v2 only).
	Country string
}

// BeneficiaryNameResponse holds the customer's name as the gateway gives it.
// The Mozambique gateway masks names (for example "J*** D***").
type BeneficiaryNameResponse struct {
	ConversationID           string
	ThirdPartyConversationID string
	ResponseCode             string
	ResponseDesc             string
	FirstName                string
	LastName                 string
	// Name is the whole name when the gateway sends it in one field
	// (output_CustomerName on Mozambique); otherwise first and last name
	// joined.
	Name string
}

// Async reports whether the answer was the asynchronous one: the name comes
// by callback.
func (r *BeneficiaryNameResponse) Async() bool {
	return r.FirstName == "" && r.LastName == "" && r.Name == ""
}

// BeneficiaryName queries a customer's name: GET queryBeneficiaryName/ on
// OpenAPI v2, GET queryCustomerName/ (port 19323) on Mozambique. The
// portal's market table for this API lists only Vodafone Ghana; other
// markets may answer INS-998 (ErrInvalidMarket), which the client leaves to
// the gateway to decide (docs/gateways.md O11).
func (c *Client) BeneficiaryName(ctx context.Context, req BeneficiaryNameRequest) (*BeneficiaryNameResponse, error) {
	q, ok := c.d.(beneficiaryNamer)
	if !ok {
		return nil, c.newError(APIBeneficiaryName, req.ThirdPartyConversationID, ErrNotSupported, nil)
	}
	return q.beneficiaryName(ctx, &req)
}

// Format prints the request with the customer's number masked, whatever the
// verb.
func (r BeneficiaryNameRequest) Format(f fmt.State, verb rune) {
	r.CustomerMSISDN = redact.MSISDN(r.CustomerMSISDN)
	type beneficiaryNameRequest BeneficiaryNameRequest
	fmt.Fprintf(f, fmt.FormatString(f, verb), beneficiaryNameRequest(r))
}

// LogValue describes the request to log/slog with the number masked.
func (r BeneficiaryNameRequest) LogValue() slog.Value {
	r.CustomerMSISDN = redact.MSISDN(r.CustomerMSISDN)
	type beneficiaryNameRequest BeneficiaryNameRequest
	return slog.AnyValue(beneficiaryNameRequest(r))
}
