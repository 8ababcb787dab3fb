package mpesa

import (
	"context"
	"errors"
)

// awaitAsync waits for the status result of an asynchronous status answer,
// when the dialect can (Daraja with WithResults); see Reconcile. acks holds
// the ConversationIDs of the call's acknowledgements whose result has not
// come yet: a late one still counts. Once a result was used, the older
// acknowledgements are forgotten. waited is false when there is nothing to
// wait on: Reconcile then returns ack.
func (c *Client) awaitAsync(ctx context.Context, ack *TransactionStatusResponse, acks *[]string) (res *TransactionStatusResponse, waited bool, err error) {
	a, ok := c.d.(asyncStatusAwaiter)
	if !ok {
		return nil, false, nil
	}
	res, waited, err = a.awaitStatus(ctx, ack, *acks)
	switch {
	case errors.Is(err, errNoResultYet):
		*acks = append(*acks, ack.ConversationID)
	case ctx.Err() == nil:
		*acks = nil
	}
	return res, waited, err
}
