package mpesa

// PaymentResponse is the answer to a call that moves money: C2B, B2C, B2B and
// reversal. When the product is configured for asynchronous answers on the
// portal, TransactionID is empty and the result arrives later at the
// application's Response URL (see Handler). On Daraja every answer is
// asynchronous: the result goes to the request's result URL.
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

	// The fields below are Daraja's. An STK push (C2B) answers
	// MerchantRequestID, CheckoutRequestID and CustomerMessage, and
	// ConversationID is then the CheckoutRequestID ("ws_CO_…"): the ID the
	// STK callback and the STK query (TransactionStatus, Reconcile) know
	// the payment by. The initiator APIs (B2C, B2B, reversal) answer
	// ConversationID ("AG_…") and OriginatorConversationID, which for B2C
	// is the request's ThirdPartyConversationID.
	MerchantRequestID        string `json:",omitempty"`
	CheckoutRequestID        string `json:",omitempty"`
	CustomerMessage          string `json:",omitempty"`
	OriginatorConversationID string `json:",omitempty"`
}

// Async reports whether the answer was the asynchronous one: the request was
// accepted and its result will come by callback.
func (r *PaymentResponse) Async() bool { return r.TransactionID == "" }
