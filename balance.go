package mpesa

import "context"

// AccountBalanceRequest asks for the balances of a shortcode's accounts
// (Daraja only).
type AccountBalanceRequest struct {
	// ServiceProviderCode is the shortcode whose accounts are asked
	// (PartyA); default WithServiceProviderCode.
	ServiceProviderCode string
	// Remarks, 2 to 100 characters, default "Account balance".
	Remarks string
	// ResultURL and QueueTimeoutURL are where the balances or a queue
	// timeout are posted; default WithResultURL and WithQueueTimeoutURL.
	ResultURL       string
	QueueTimeoutURL string
	// ThirdPartyConversationID is your reference of the query, kept in the
	// answer and the errors; Daraja's balance query takes none, so it is
	// not sent. Generated when empty.
	ThirdPartyConversationID string
}

// AccountBalanceResponse is Daraja's acknowledgement of a balance query.
// The balances come to the ResultURL, as the result parameter
// AccountBalance: accounts separated by '&', each
// "Name|Currency|amount|amount|amount|amount" (docs/gateways.md D17).
type AccountBalanceResponse struct {
	// ConversationID ("AG_…") and OriginatorConversationID are Daraja's
	// IDs of the query; the result carries them.
	ConversationID           string
	OriginatorConversationID string
	ThirdPartyConversationID string
	ResponseCode             string
	ResponseDesc             string
}

// Async reports true: the balances always come by callback.
func (r *AccountBalanceResponse) Async() bool { return true }

// AccountBalance asks Daraja for the balances of a shortcode
// (/mpesa/accountbalance/v1/query, CommandID AccountBalance, identifier type
// 4). It needs WithInitiator. The answer only acknowledges; the balances
// are posted to the ResultURL, and Daraja does not retry a callback it
// could not deliver. Other gateways answer ErrNotSupported without I/O.
func (c *Client) AccountBalance(ctx context.Context, req AccountBalanceRequest) (*AccountBalanceResponse, error) {
	q, ok := c.d.(balanceQuerier)
	if !ok {
		return nil, c.newError(APIAccountBalance, req.ThirdPartyConversationID, ErrNotSupported, nil)
	}
	return q.accountBalance(ctx, &req)
}
