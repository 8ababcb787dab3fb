package mpesa

import "context"

// ReversalRequest reverses a successful transaction, fully or in part.
type ReversalRequest struct {
	// TransactionID is the Mobile Money ID of the transaction to reverse,
	// 1 to 20 letters and digits.
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
}

// Reversal reverses a transaction (PUT reversal/). The funds go back from
// the party that received them to the one that paid.
func (c *Client) Reversal(ctx context.Context, req ReversalRequest) (*PaymentResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, c.serviceProviderCode)
	k := checker{api: APIReversal}
	k.alnum("TransactionID", req.TransactionID, 20)
	k.optionalAmount("ReversalAmount", req.ReversalAmount)
	k.shortcode("ServiceProviderCode", spc)
	k.reference("ThirdPartyConversationID", ref, 40)
	var p params
	p.add("input_TransactionID", req.TransactionID)
	p.addOptional("input_ReversalAmount", req.ReversalAmount)
	p.add("input_ServiceProviderCode", spc)
	p.add(c.referenceKey(), ref)
	if c.gateway == GatewayMozambique {
		id := orDefault(req.InitiatorIdentifier, c.initiatorID)
		cred := req.SecurityCredential
		if cred == "" {
			cred = c.cred.securityCredential
		}
		// The documents only say both are required strings. A JSON body
		// cannot carry invalid UTF-8 (the encoder would send U+FFFD in its
		// place), so such a value is refused rather than silently changed.
		k.utf8Text("InitiatorIdentifier", id, id)
		k.utf8Text("SecurityCredential", string(cred), cred.String())
		p.add("input_InitiatorIdentifier", id)
		p.add("input_SecurityCredential", string(cred))
	} else {
		country := orDefault(req.Country, c.market.Country())
		k.country("Country", country)
		p.add("input_Country", country)
	}
	return c.pay(ctx, &k, &p, ref)
}
