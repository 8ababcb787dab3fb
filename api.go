package mpesa

import "strconv"

// API names one operation of a gateway. It appears in errors and logs.
type API int

// The operations of the gateways. Not every gateway offers every API; a call
// to one its gateway lacks fails with ErrNotSupported before any I/O.
const (
	// APIGetSession is OpenAPI v2's getSession.
	APIGetSession API = iota + 1
	APIC2B
	APIB2C
	APIB2B
	APIReversal
	APITransactionStatus
	APIDirectDebitCreate
	APIDirectDebitPayment
	APIDirectDebitQuery
	APIDirectDebitCancel
	// APIBeneficiaryName is queryBeneficiaryName on OpenAPI v2 and
	// queryCustomerName on the Mozambique gateway.
	APIBeneficiaryName
	// APIToken is Daraja's OAuth token request
	// (GET /oauth/v1/generate).
	APIToken
	// APISTKQuery is Daraja's STK push query; TransactionStatus sends it
	// for a CheckoutRequestID ("ws_CO_…").
	APISTKQuery
	// APIAccountBalance, APIC2BRegister, APIC2BSimulate, APIPullRegister
	// and APIPullQuery are Daraja's own products.
	APIAccountBalance
	APIC2BRegister
	APIC2BSimulate
	APIPullRegister
	APIPullQuery
	apiCount // keep last
)

// apiInfo is what an API is, whatever the gateway: its name, and whether it
// only reads.
type apiInfo struct {
	name  string
	query bool
}

var apis = [apiCount]apiInfo{
	APIGetSession:         {"getSession", true},
	APIC2B:                {"c2b", false},
	APIB2C:                {"b2c", false},
	APIB2B:                {"b2b", false},
	APIReversal:           {"reversal", false},
	APITransactionStatus:  {"transactionStatus", true},
	APIDirectDebitCreate:  {"directDebitCreate", false},
	APIDirectDebitPayment: {"directDebitPayment", false},
	APIDirectDebitQuery:   {"directDebitQuery", true},
	APIDirectDebitCancel:  {"directDebitCancel", false},
	APIBeneficiaryName:    {"beneficiaryName", true},
	// Daraja. Registering URLs changes the shortcode's configuration, and a
	// simulated C2B payment moves (sandbox) money: neither is a query.
	APIToken:          {"oauthToken", true},
	APISTKQuery:       {"stkQuery", true},
	APIAccountBalance: {"accountBalance", true},
	APIC2BRegister:    {"c2bRegisterURL", false},
	APIC2BSimulate:    {"c2bSimulate", false},
	APIPullRegister:   {"pullRegister", false},
	APIPullQuery:      {"pullQuery", true},
}

// String returns the short name of the API ("c2b", "transactionStatus").
func (a API) String() string {
	if a > 0 && a < apiCount {
		return apis[a].name
	}
	return "api(" + strconv.Itoa(int(a)) + ")"
}

// isQuery reports whether the API only reads: resending it cannot move money
// or change anything, so it is retried after any transient failure.
func (a API) isQuery() bool { return a > 0 && a < apiCount && apis[a].query }
