// Package mpesatest is an in-process simulator of the two M-Pesa payment
// gateways, for tests that must run payments without credentials or network.
//
// NewServer starts one HTTPS listener on the loopback interface that serves
// both gateways, told apart by path exactly as mpesa.WithBaseURL builds them:
//
//   - OpenAPI v2 at /{sandbox|openapi}/ipg/v2/{market}/{api}/ for the five
//     markets (vodafoneGHA, vodacomTZN, vodacomLES, vodacomDRC, vodacomMOZ):
//     getSession and the ten products;
//   - Vodacom Mozambique v1x at /ipg/v1x/{api}/: C2B, B2C, B2B, transaction
//     status, reversal and the customer-name query.
//
// The simulator plays the gateway as the documents describe it. It decrypts
// every bearer token with its own RSA key, issues OpenAPI sessions that can
// take a while to become live and expire, checks method, path, Origin and
// Content-Type, validates every parameter with the documents' own regular
// expressions, and answers the documented response code with the documented
// HTTP status. It remembers what happened: a reference used twice is a
// duplicate (409 INS-10), a status query reports how a payment ended, a
// transaction is reversed at most once, and a direct-debit mandate must be
// created before it is paid and is gone once cancelled. In front of the
// Mozambique gateway it plays the web firewall too, which refuses Go's
// default User-Agent with an HTML page.
//
// Point a client at it with Options:
//
//	srv := mpesatest.NewServer()
//	defer srv.Close()
//	client, err := mpesa.NewClient(srv.APIKey(),
//		append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
//
// # Customers
//
// Customer numbers decide how a customer answers the PIN prompt, as the
// sandbox's pre-built cases do: MSISDNSuccess pays, MSISDNRejected fails
// (401 INS-6), MSISDNCancelled declines (401 INS-5 on Mozambique),
// MSISDNPromptTimeout lets the prompt time out (408 INS-9) and
// MSISDNInsufficientBalance lacks funds (422 INS-2006). The Mozambique
// equivalents start with 258. Any other valid number pays; SetCustomer
// registers more.
//
// # Scenarios
//
// Next makes the next calls of an API misbehave: answer any documented code,
// hang until the client gives up, reset the connection, or answer an HTML
// page, an empty or a truncated body. A scenario can let the gateway carry
// the request out first, so that a test can check that a client which lost
// the answer reconciles instead of paying twice.
//
// # Asynchronous answers
//
// WithAsync makes products answer the asynchronous way (a ConversationID, no
// TransactionID) and POST the documented result callback to a URL, retrying
// until the listener acknowledges it. Callbacks and Calls keep a journal of
// every request and every delivery, without secrets, for assertions.
package mpesatest
