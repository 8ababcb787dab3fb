// Package mpesatest is an in-process simulator of the three M-Pesa payment
// gateways of the mpesa package, for tests that must run payments without
// credentials or network.
//
// NewServer starts one HTTPS listener on the loopback interface that serves
// every gateway, told apart by path exactly as mpesa.WithBaseURL builds them:
//
//   - OpenAPI v2 at /{sandbox|openapi}/ipg/v2/{market}/{api}/ for the five
//     markets (vodafoneGHA, vodacomTZN, vodacomLES, vodacomDRC, vodacomMOZ):
//     getSession and the ten products;
//   - Vodacom Mozambique v1x at /ipg/v1x/{api}/: C2B, B2C, B2B, transaction
//     status, reversal and the customer-name query;
//   - Safaricom Daraja (Kenya) at its own paths: /oauth/v1/generate, the STK
//     push and query (/mpesa/stkpush/v1/processrequest,
//     /mpesa/stkpushquery/v1/query), C2B register URL and simulate (v1 and
//     v2), B2C v3, B2B, reversal, transaction status, account balance and
//     the Pull API (see Daraja below).
//
// WithMozambiquePorts adds what the live Mozambique gateway does: one
// listener per API (C2B 18352, B2C 18345, B2B 18349, status 18353, reversal
// 18354, customer name 19323, or ports the system chooses), each answering
// its own API alone; MozambiqueURLs tells where they are.
//
// The simulator plays the gateway as the documents describe it. It decrypts
// every bearer token with its own RSA key, issues OpenAPI sessions per
// environment (a sandbox session is refused on production paths and the
// reverse) that can take a while to become live and expire, checks method,
// path, market, Origin and Content-Type, validates every parameter with the
// rules of its gateway's documents (the OpenAPI v2 regular expressions on
// OpenAPI v2; on Mozambique, whose documents type every field as a plain
// string, only the lengths and formats its codes name), and answers the
// documented response code with the documented HTTP status. It remembers what happened: a reference used twice is a
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
//	daraja, err := mpesa.NewClient(srv.APIKey(), srv.Options(mpesa.GatewayDaraja)...)
//
// # Customers
//
// Customer numbers decide how a customer answers the PIN prompt, as the
// sandbox's pre-built cases do: MSISDNSuccess pays, MSISDNRejected fails
// (401 INS-6), MSISDNCancelled declines (401 INS-5 on Mozambique),
// MSISDNPromptTimeout lets the prompt time out (408 INS-9) and
// MSISDNInsufficientBalance lacks funds (422 INS-2006). The Mozambique
// equivalents start with 258, the Daraja ones with 254 (see Daraja). Any
// other valid number pays; SetCustomer registers more.
//
// # Daraja
//
// The Daraja gateway plays the Safaricom portal pages (docs/gateways.md
// D1–D30). Its consumer key is the API key; WithDaraja sets the rest, and
// Options hands it all to a client: the consumer secret, the shortcode and
// its passkey, the initiator and password, and Certificate, a certificate
// of the simulator's own RSA key, so that the simulator decrypts the
// SecurityCredential the client encrypts.
//
// OAuth tokens expire by the simulator's clock and each new one invalidates
// the previous (the Authorization FAQ); a stale token is refused with the
// invalid-token code of its page. The STK push checks every field, the
// Password against the passkey and the very Timestamp sent, and that
// Timestamp in East Africa Time against the clock; it keeps one prompt per
// subscriber ("Unable to lock subscriber") and the two-minute rule of result
// 17. Its callback comes to the request's CallBackURL after Daraja.Delay,
// until when the STK query answers "The transaction is being processed".
// DarajaMSISDNSuccess pays; DarajaMSISDNCancelled (1032),
// DarajaMSISDNUnreachable (1037), DarajaMSISDNInsufficientBalance (1) and
// DarajaMSISDNWrongPIN (2001) answer the prompt otherwise. An interactive
// customer's prompt (Customer.Interactive, WithInteractive) waits for
// AnswerPrompt or the phone page instead, and the callback carries the
// answer; see Prompt.
//
// C2B register URL records a shortcode's URLs (once, in production); C2B
// simulate asks the ValidationURL, honours the merchant's answer or, when
// none comes in time, the registered ResponseType, and sends the
// confirmation, the MSISDN masked (v2) or hashed (v1). B2C v3 refuses a
// reused OriginatorConversationID; B2C, B2B, reversal (once per receipt),
// transaction status and account balance acknowledge and post their Result
// to the request's ResultURL, where a wrong SecurityCredential comes back as
// 2001. Scenario.QueueTimeout sends the QueueTimeOutURL notice instead, and
// Daraja.Shapes the variations of the bodies that Daraja is seen to send.
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
// until the listener acknowledges it as the product's document shows. By
// default the payments, the reversal and the mandate changes answer so; the
// queries stay synchronous unless Async.APIs lists them. Every failed
// delivery attempt is logged at Warn level to slog.Default(), or to the
// logger of WithLogger. Callbacks and Calls keep a journal of every request
// and every delivery, without secrets and with MSISDNs masked, for
// assertions.
//
// # Sources
//
// The comments cite the gateway documents by these names:
//
//   - the OpenAPI v2 developer portal (openapi.m-pesa.com), by page:
//     Generate SessionKey, C2B Single Stage, B2C Single Stage, B2B Single
//     Stage, Reversal, Query Transaction Status, Direct Debit Create, Direct
//     Debit Payment, Query Direct Debit, Cancel Direct Debit, Query
//     Beneficiary Name;
//   - the Vodacom Mozambique v1x documents 'C2B, B2C, B2B, Query
//     Transaction Status, Reversal', 'Query Transaction Status' and 'Async
//     Response, Callbacks and Response Codes' (developer.mpesa.vm.co.mz);
//   - the Safaricom Daraja portal (developer.safaricom.co.ke), by page:
//     Authorization, MpesaExpressSimulate, CustomerToBusiness,
//     CustomerToBusinessRegisterURL, BusinessToCustomer, BusinessPayBill,
//     AccountBalance, TransactionStatus, Reversal, PullTransaction;
//   - docs/gateways.md of this repository, by section ID (M13: facts from
//     public integrations; M14: the customer-name query; D1–D30: Daraja,
//     its sources, the integrators' reports and the choices), for what published
//     integrations have seen the live gateways do beyond the documents, and
//     for the choices made where the documents are silent or contradict
//     themselves.
package mpesatest
