package mpesa

import (
	"context"
	"strings"
)

// Bearer returns the bearer token the client's calls carry in their
// Authorization header ("Authorization: Bearer <token>"), for trying a call
// by hand, with curl say: on OpenAPI v2 the encrypted ID of the client's
// current session, fetched with getSession when it has none (a session the
// gateway has just issued may take up to 30 seconds to become live); on the
// Mozambique gateway the encrypted API key, which has no session; on Daraja
// the OAuth access token the client's calls share, fetched from
// /oauth/v1/generate when it has none or its token is near expiry (a new
// token may invalidate the app's previous one, docs/gateways.md D3). The
// client's own calls never need it.
//
// The token is a credential that lets its holder move money until it
// expires: it is returned as a Secret so that it prints as [REDACTED];
// convert it with string() only where it must be shown. An error is an
// *Error as for any call; getSession's failure matches ErrSessionCreation.
func (c *Client) Bearer(ctx context.Context) (Secret, error) {
	rq := &request{api: APITransactionStatus}
	cred, err := c.d.auth(rq.api).get(ctx)
	if err != nil {
		return "", c.credentialError(rq, err)
	}
	return Secret(strings.TrimPrefix(cred.authz[0], "Bearer ")), nil
}
