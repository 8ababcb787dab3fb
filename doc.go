// Package mpesa is a client for the M-Pesa payment gateways: the multi-market
// M-Pesa OpenAPI v2 gateway (Ghana, Tanzania, Lesotho, DR Congo, Mozambique)
// and the Vodacom Mozambique v1x gateway, with one Go vocabulary for both.
//
// # Gateways
//
// A Client speaks to one gateway application. NewClient takes its API key
// and options: WithGateway (GatewayOpenAPI by default, or GatewayMozambique),
// WithMarket (required on OpenAPI v2), WithEnvironment (Sandbox by default),
// WithServiceProviderCode (the business shortcode requests default to),
// WithPublicKey and the others listed with Option. Every invalid option is
// reported by name. A Client is safe for concurrent use; create one and share
// it: it caches the OpenAPI session, which concurrent callers fetch once, and
// encrypts each credential once, so that a call at steady state does no RSA
// work. See ExampleNewClient.
//
// # Products
//
// One method per product: Client.C2B (the customer pays, after a PIN prompt
// on their phone), Client.B2C, Client.B2B, Client.Reversal,
// Client.TransactionStatus and Client.Reconcile, the direct debit methods
// (OpenAPI v2 only) and Client.BeneficiaryName. Requests are validated before
// any I/O, and every invalid field is reported at once in a ValidationError.
// Money is a decimal string, never a float. Each product has a runnable
// example on the simulator.
//
// # Payments are sent once
//
// A payment is sent again only when the request provably did not reach the
// gateway, or the gateway said it did not process it (see Client for the
// rules); net/http is never allowed to resend one on its own. A payment whose
// request was written and whose answer never came, or whose answer says
// nothing certain, returns an error matching ErrOutcomeUnknown: reconcile it
// with Client.Reconcile and its reference before anything else.
//
// # Errors
//
// Every failure is an *Error (HTTP status, code, description, gateway, API,
// references), matched with errors.Is against the sentinels (ErrDuplicate,
// ErrInsufficientBalance, ErrCancelledByCustomer, ErrTransactionFailed,
// ErrPromptTimeout, ErrOutcomeUnknown, …) and read with errors.As, or, before
// any I/O, a *ValidationError. LookupCode gives the documented meaning of any
// code. No error, log line or %v output holds a secret or a full phone
// number.
//
// # Callbacks
//
// Products configured for asynchronous answers deliver their results to the
// application's Response URL. Handler is the http.Handler for it: it parses
// every documented callback into a Result, deduplicates deliveries
// (DedupStore, MemoryDedup), confirms successes with a status query
// (VerifyWithStatusQuery: the gateways sign nothing, and only a Result with
// Verified set proves a payment), runs your ResultFunc once per result, and
// acknowledges as each product's document shows. Results lets the code that
// paid wait for its result (Results.Await). See ExampleNewHandler,
// ExampleVerifyWithStatusQuery and ExampleAllowSources.
//
// # Testing
//
// Package mpesatest is an in-process simulator of both gateways: sessions,
// documented validation and codes, a ledger that remembers payments and
// reversals, scenarios of faults and codes, asynchronous callbacks, and a
// journal. examples/quickstart runs a whole payment on it with no
// credentials.
//
// Our reading of the gateway documents, with every choice made where they
// contradict themselves, is docs/gateways.md in the repository.
package mpesa
