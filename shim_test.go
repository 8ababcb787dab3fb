package mpesa

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/mpesa-go/mpesa/internal/wire"
)

// do sends ps as the body (POST, PUT) or query (GET) of an iPG call of api
// and returns the decoded answer: the transport without a product in front,
// for the tests of retries, sessions and answers.
func (c *Client) do(ctx context.Context, api API, ps []wire.Param, ref string) (*ipgOutput, error) {
	out := new(ipgOutput)
	rq := &request{api: api, ref: ref, out: out}
	if method, _, ok := c.d.endpoint(api); ok && method == http.MethodGet {
		rq.query = ps
	} else if ps != nil {
		rq.body = wire.AppendJSON(nil, ps)
	}
	if err := c.send(ctx, rq); err != nil {
		return nil, err
	}
	return out, nil
}

// sessionCache returns the OpenAPI session cache of c.
func (c *Client) sessionCache() *credCache { return c.d.(*openAPI).sessions }

// endpointURL returns where c sends api, "" when its gateway lacks it.
func (c *Client) endpointURL(api API) string {
	_, u, _ := c.d.endpoint(api)
	return u
}

// apiMethod returns the HTTP method of api on the iPG gateways.
func apiMethod(api API) string {
	if ep, ok := openAPIEndpoints[api]; ok {
		return ep[0]
	}
	return mozambiqueEndpoints[api].method
}

// offeredBy reports whether gateway g serves api.
func offeredBy(api API, g Gateway) bool {
	switch g {
	case GatewayOpenAPI:
		_, ok := openAPIEndpoints[api]
		return ok
	case GatewayMozambique:
		_, ok := mozambiqueEndpoints[api]
		return ok
	case GatewayDaraja:
		_, ok := darajaPaths[api]
		return ok
	}
	return false
}

// rulesOf returns the rulebook of an iPG client.
func rulesOf(c *Client) *rulebook {
	switch d := c.d.(type) {
	case *openAPI:
		return d.rules
	case *mozambique:
		return d.rules
	}
	return nil
}

// discardLogger returns a logger that drops everything.
func discardLogger() *slog.Logger { return slog.New(discardHandler{}) }
