package mpesatest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"

	"github.com/mpesa-go/mpesa"
)

// The live Mozambique gateway serves each API on a port of its own: the
// "Endpoint Information" table of each API in the Mozambique document 'C2B,
// B2C, B2B, Query Transaction Status, Reversal' (C2B 18352, B2C 18345, B2B
// 18349, status 18353, reversal 18354), and the Resource URL table of the
// Mozambique document 'Query Transaction Status' (18353). The customer-name
// query is in no document; its port, 19323, is the one published
// integrations agree on (docs/gateways.md M3, M14).
//
// By default the simulator serves them all on its one listener, told apart by
// path, which is how mpesa.WithBaseURL addresses them. WithMozambiquePorts
// adds one listener per API that answers that API alone.

// mozambiqueAPIs are the APIs of the Mozambique gateway, in the documents'
// order.
var mozambiqueAPIs = []mpesa.API{
	mpesa.APIC2B, mpesa.APIB2C, mpesa.APIB2B,
	mpesa.APITransactionStatus, mpesa.APIReversal, mpesa.APIBeneficiaryName,
}

// MozambiqueDocumentedPorts returns the port of each Mozambique API on the
// live gateway: C2B 18352, B2C 18345, B2B 18349, transaction status 18353,
// reversal 18354 and the customer-name query (mpesa.APIBeneficiaryName)
// 19323. Pass it to WithMozambiquePorts to serve the documented ports.
func MozambiqueDocumentedPorts() map[mpesa.API]int {
	return map[mpesa.API]int{
		mpesa.APIC2B:               18352,
		mpesa.APIB2C:               18345,
		mpesa.APIB2B:               18349,
		mpesa.APITransactionStatus: 18353,
		mpesa.APIReversal:          18354,
		mpesa.APIBeneficiaryName:   19323,
	}
}

// WithMozambiquePorts makes the simulator also listen, on the loopback
// interface, on one TLS port per Mozambique API, as the live gateway does.
// ports gives the port of some or all of the six APIs (C2B, B2C, B2B,
// transaction status, reversal, the customer-name query as
// mpesa.APIBeneficiaryName); an API it leaves out, or gives 0, gets a port
// the operating system chooses. WithMozambiquePorts(nil) chooses every port;
// WithMozambiquePorts(MozambiqueDocumentedPorts()) serves the documented
// ones. MozambiquePorts and MozambiqueURLs tell where each API is.
//
// Each of these listeners answers only the API that lives there, at its
// Mozambique path /ipg/v1x/{api}/. Any other path, another Mozambique API's
// or an OpenAPI v2 one, is answered 404 {"output_error": "Resource not
// found"}, the simulator's answer to a path it does not serve: the documents
// do not say what the live gateway answers on the wrong port, and a front
// end that routes by port has no route for another API's path. The Host
// header is not checked, so that a client can reach the listeners by
// address. The main listener (URL) keeps serving every API by path.
//
// NewServer panics when ports names an API the Mozambique gateway does not
// serve, a port outside 0…65535, the same port twice, or a port that cannot
// be listened on.
func WithMozambiquePorts(ports map[mpesa.API]int) Option {
	return func(c *config) {
		c.mozPorts = make(map[mpesa.API]int, len(mozambiqueAPIs))
		for _, api := range mozambiqueAPIs {
			c.mozPorts[api] = 0
		}
		for api, port := range ports {
			c.mozPorts[api] = port
		}
	}
}

// checkMozambiquePorts panics on a configuration WithMozambiquePorts refuses.
func checkMozambiquePorts(ports map[mpesa.API]int) {
	seen := make(map[int]mpesa.API, len(ports))
	for api, port := range ports {
		if !isMozambiqueAPI(api) {
			panic(fmt.Sprintf("mpesatest: WithMozambiquePorts: the Mozambique gateway does not serve %v", api))
		}
		if port < 0 || port > 65535 {
			panic(fmt.Sprintf("mpesatest: WithMozambiquePorts: port %d of %v is outside 0…65535", port, api))
		}
		if other, dup := seen[port]; dup && port != 0 {
			panic(fmt.Sprintf("mpesatest: WithMozambiquePorts: port %d given to both %v and %v", port, other, api))
		}
		seen[port] = api
	}
}

func isMozambiqueAPI(api mpesa.API) bool {
	for _, a := range mozambiqueAPIs {
		if a == api {
			return true
		}
	}
	return false
}

// startMozambiqueListeners starts the per-API listeners. They use the main
// listener's certificate (every httptest server has the same one), so that
// Client trusts them too.
func (s *Server) startMozambiqueListeners() {
	s.mozServers = make(map[mpesa.API]*httptest.Server, len(mozambiqueAPIs))
	for _, api := range mozambiqueAPIs {
		api := api
		// A listener given with WithMozambiqueListeners (listen.go) is
		// used as it is.
		ln, err := s.cfg.ext.mozListeners[api], error(nil)
		if ln == nil {
			ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.mozPorts[api])))
		}
		if err != nil {
			for _, ts := range s.mozServers {
				ts.Close()
			}
			s.ts.Close()
			s.cancel()
			panic(fmt.Sprintf("mpesatest: WithMozambiquePorts: listening for %v: %v", api, err))
		}
		s.mozServers[api] = s.startListener(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.serve(w, r, api)
		}))
	}
}

// MozambiquePorts returns the port of each per-API Mozambique listener
// (mpesa.APIC2B: 18352, ...), or nil when WithMozambiquePorts was not given.
func (s *Server) MozambiquePorts() map[mpesa.API]int {
	if s.mozServers == nil {
		return nil
	}
	out := make(map[mpesa.API]int, len(s.mozServers))
	for api, ts := range s.mozServers {
		out[api] = ts.Listener.Addr().(*net.TCPAddr).Port
	}
	return out
}

// MozambiqueURLs returns the base URL of each per-API Mozambique listener
// ("https://127.0.0.1:18352"), or nil when WithMozambiquePorts was not given.
// The API's path, /ipg/v1x/c2bPayment/singleStage/ and so on, is appended to
// it, as on the live gateway.
func (s *Server) MozambiqueURLs() map[mpesa.API]string {
	if s.mozServers == nil {
		return nil
	}
	out := make(map[mpesa.API]string, len(s.mozServers))
	for api, ts := range s.mozServers {
		out[api] = ts.URL
	}
	return out
}
