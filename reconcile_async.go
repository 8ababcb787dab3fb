package mpesa

import "context"

// awaitAsync waits for the status result of an asynchronous status answer,
// when the dialect can (Daraja with WithResults); see Reconcile. acks
// collects the ConversationIDs of the call's acknowledgements. waited is
// false when there is nothing to wait on: Reconcile then returns ack.
func (c *Client) awaitAsync(ctx context.Context, ack *TransactionStatusResponse, acks *[]string) (res *TransactionStatusResponse, waited bool, err error) {
	a, ok := c.d.(asyncStatusAwaiter)
	if !ok {
		return nil, false, nil
	}
	res, waited, err = a.awaitStatus(ctx, ack, *acks)
	if ack.ConversationID != "" {
		*acks = append(*acks, ack.ConversationID)
	}
	return res, waited, err
}
