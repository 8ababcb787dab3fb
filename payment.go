package mpesa

// PaymentResponse is the answer to a call that moves money: C2B, B2C, B2B and
// reversal. When the product is configured for asynchronous answers on the
// portal, TransactionID is empty and the result arrives later at the
// application's Response URL (see Handler).
type PaymentResponse struct {
	// ConversationID is the gateway's reference of the transaction.
	ConversationID string
	// TransactionID is the Mobile Money transaction ID; empty when the
	// answer is asynchronous.
	TransactionID string
	// ThirdPartyConversationID is the caller's reference, given or
	// generated (Mozambique: ThirdPartyReference).
	ThirdPartyConversationID string
	ResponseCode             string
	ResponseDesc             string
}

// Async reports whether the answer was the asynchronous one: the request was
// accepted and its result will come by callback.
func (r *PaymentResponse) Async() bool { return r.TransactionID == "" }
