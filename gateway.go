package mpesa

import "strconv"

// Gateway names one of the M-Pesa payment gateways the client speaks to.
// The zero value is GatewayOpenAPI.
type Gateway int

const (
	// GatewayOpenAPI is the multi-market M-Pesa OpenAPI v2 gateway at
	// openapi.m-pesa.com. It authenticates with session keys and serves the
	// markets listed by Markets.
	GatewayOpenAPI Gateway = iota
	// GatewayMozambique is the Vodacom Mozambique v1x gateway at
	// api.vm.co.mz, which listens on one port per API and has no session
	// step: every call carries the encrypted API key.
	GatewayMozambique
	// GatewayDaraja is Safaricom's Daraja API for Kenya, at
	// api.safaricom.co.ke (sandbox.safaricom.co.ke): an OAuth token
	// shared by every call, results posted to the URLs each request
	// names, whole-shilling amounts in KES.
	GatewayDaraja
	gatewayCount // keep last
)

// gatewayInfo is what the package knows of a gateway before any client of
// it exists: its name, its code table, and how a client of it is built.
type gatewayInfo struct {
	name      string
	codes     codeTable
	callbacks callbackCodec
	// build checks the settings of a client of the gateway and returns its
	// dialect, or every problem it found.
	build func(c *Client, s *settings) (dialect, []error)
}

// callbackCodec reads a gateway's callbacks and answers them.
type callbackCodec struct {
	// name tells codecs apart: gateways that share one (the iPG ones)
	// share its name, so that a body is read once by it.
	name string
	// parse reads a callback body; an error matching errNotThisGateway
	// says the body is not of the gateway's shape.
	parse func(body []byte) (*Result, error)
	// ack returns the body that acknowledges res (accepted) or refuses it
	// so that the gateway delivers again; res is nil when the request was
	// refused before it was read.
	ack func(res *Result, accepted bool, desc string) []byte
}

// gateways is the table of gateways. It is filled by init, because the
// builders refer to functions that refer back to it.
var gateways [gatewayCount]gatewayInfo

func init() {
	gateways = [gatewayCount]gatewayInfo{
		GatewayOpenAPI:    {name: "openapi-v2", codes: openAPICodes, callbacks: ipgCallbacks, build: newOpenAPI},
		GatewayMozambique: {name: "mozambique-v1x", codes: mozambiqueCodes, callbacks: ipgCallbacks, build: newMozambique},
		GatewayDaraja:     {name: "daraja", codes: darajaCodes, callbacks: darajaCallbacks, build: newDaraja},
	}
}

// String returns a short, stable name: "openapi-v2", "mozambique-v1x" or
// "daraja".
func (g Gateway) String() string {
	if g.valid() {
		return gateways[g].name
	}
	return "gateway(" + strconv.Itoa(int(g)) + ")"
}

func (g Gateway) valid() bool { return g >= 0 && g < gatewayCount }

// Environment selects the sandbox or the production deployment of a gateway.
// The zero value is Sandbox, so that a client never moves real money unless
// it is told to.
type Environment int

const (
	// Sandbox is the test deployment: openapi.m-pesa.com/sandbox,
	// api.sandbox.vm.co.mz and sandbox.safaricom.co.ke.
	Sandbox Environment = iota
	// Production moves real money: openapi.m-pesa.com/openapi,
	// api.vm.co.mz and api.safaricom.co.ke.
	Production
)

// String returns "sandbox" or "production".
func (e Environment) String() string {
	switch e {
	case Sandbox:
		return "sandbox"
	case Production:
		return "production"
	}
	return "environment(" + strconv.Itoa(int(e)) + ")"
}
