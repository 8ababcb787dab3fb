package mpesa

import "context"

// ReversalRequest reverses a successful transaction, fully or in part.
type ReversalRequest struct {
	// TransactionID is the Mobile Money ID of the transaction to reverse
	// (OpenAPI v2: 1 to 20 letters and digits).
	TransactionID string
	// ReversalAmount reverses part of the amount; empty reverses all.
	ReversalAmount string
	// ServiceProviderCode defaults to WithServiceProviderCode.
	ServiceProviderCode string
	// ThirdPartyConversationID is your unique reference of the reversal;
	// generated when empty (Mozambique: input_ThirdPartyReference).
	ThirdPartyConversationID string
	// Country defaults to the client's market (OpenAPI v2 only).
	Country string
	// InitiatorIdentifier and SecurityCredential are required by the
	// Mozambique gateway and issued by Vodacom; they default to
	// WithInitiator. OpenAPI v2 does not take them.
	InitiatorIdentifier string
	SecurityCredential  Secret

	// Remarks, 2 to 100 characters, default "Reversal"; ResultURL and
	// QueueTimeoutURL default to WithResultURL and WithQueueTimeoutURL.
	// Daraja only.
	Remarks         string
	ResultURL       string
	QueueTimeoutURL string
}

// Reversal reverses a transaction (PUT reversal/). The funds go back from
// the party that received them to the one that paid.
//
// On Daraja (/mpesa/reversal/v1/request, TransactionReversal) the initiator
// comes from WithInitiator, ReversalAmount is required (whole shillings),
// ServiceProviderCode is the ReceiverParty (identifier type 11), and the
// result comes to ResultURL. STK payments can be reversed, B2C payments
// cannot. Daraja's reversal takes no merchant reference, so
// ThirdPartyConversationID is kept for your logs only (docs/gateways.md
// D19).
func (c *Client) Reversal(ctx context.Context, req ReversalRequest) (*PaymentResponse, error) {
	p, ok := c.d.(reverser)
	if !ok {
		return nil, c.newError(APIReversal, req.ThirdPartyConversationID, ErrNotSupported, nil)
	}
	return p.reversal(ctx, &req)
}
