package mpesa

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mpesa-go/mpesa/internal/redact"
)

// Gateway names one of the two M-Pesa payment gateways the client speaks to.
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
)

// String returns a short, stable name: "openapi-v2" or "mozambique-v1x".
func (g Gateway) String() string {
	switch g {
	case GatewayOpenAPI:
		return "openapi-v2"
	case GatewayMozambique:
		return "mozambique-v1x"
	}
	return "gateway(" + strconv.Itoa(int(g)) + ")"
}

func (g Gateway) valid() bool { return g == GatewayOpenAPI || g == GatewayMozambique }

// Environment selects the sandbox or the production deployment of a gateway.
// The zero value is Sandbox, so that a client never moves real money unless
// it is told to.
type Environment int

const (
	// Sandbox is the test deployment: openapi.m-pesa.com/sandbox and
	// api.sandbox.vm.co.mz.
	Sandbox Environment = iota
	// Production moves real money: openapi.m-pesa.com/openapi and
	// api.vm.co.mz.
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

// Market is an OpenAPI v2 market, spelled as the URL context value of the
// gateway documents ("vodacomTZN"). Each market fixes the input_Country and
// default input_Currency values and the country calling code of its MSISDNs.
type Market string

// The markets of the OpenAPI v2 gateway.
const (
	MarketGhana      Market = "vodafoneGHA"
	MarketTanzania   Market = "vodacomTZN"
	MarketLesotho    Market = "vodacomLES"
	MarketDRC        Market = "vodacomDRC"
	MarketMozambique Market = "vodacomMOZ"
)

type marketInfo struct {
	name, country, currency, callingCode string
	// nationalDigits is the length of a national significant number
	// (the MSISDN without its calling code).
	nationalDigits int
	// mobileLeads holds the digits a mobile national number starts with.
	mobileLeads string
}

// markets is the market table of the OpenAPI v2 portal document ("Markets":
// URL context value, input_Country value, input_Currency value), with the
// ITU calling codes and national number lengths of each country.
var markets = map[Market]marketInfo{
	MarketGhana:      {"Vodafone Ghana", "GHA", "GHS", "233", 9, "25"},
	MarketTanzania:   {"Vodacom Tanzania", "TZN", "TZS", "255", 9, "67"},
	MarketLesotho:    {"Vodacom Lesotho", "LES", "LSL", "266", 8, "56"},
	MarketDRC:        {"Vodacom DR Congo", "DRC", "USD", "243", 9, "89"},
	MarketMozambique: {"Vodacom Mozambique", "MOZ", "MZN", "258", 9, "8"},
}

// Markets returns the markets of the OpenAPI v2 gateway, in the order of the
// gateway documents.
func Markets() []Market {
	return []Market{MarketGhana, MarketTanzania, MarketLesotho, MarketDRC, MarketMozambique}
}

// Valid reports whether m is one of the documented markets.
func (m Market) Valid() bool { _, ok := markets[m]; return ok }

// Country returns the input_Country value of the market ("TZN"), or "" for an
// unknown market.
func (m Market) Country() string { return markets[m].country }

// Currency returns the market's default input_Currency ("TZS"). A client can
// override it with WithCurrency (the DR Congo also trades in CDF).
func (m Market) Currency() string { return markets[m].currency }

// CallingCode returns the country calling code of the market's MSISDNs,
// without a plus sign ("255").
func (m Market) CallingCode() string { return markets[m].callingCode }

// Name returns a human-readable name ("Vodacom Tanzania").
func (m Market) Name() string { return markets[m].name }

// NationalNumberLength returns the number of digits that follow the calling
// code in an MSISDN of the market (9 for Tanzania: 255 744 553 111).
func (m Market) NationalNumberLength() int { return markets[m].nationalDigits }

// NormalizeMSISDN turns a mobile number as people type it into the form the
// gateways take for market m: the calling code and the national number,
// digits only. For Tanzania "+255 74 455 3111", "00255744553111",
// "0744553111" and "744553111" all become "255744553111"; for Mozambique
// "84 333 0333" becomes "258843330333". Spaces, dashes, dots and
// parentheses are ignored. A number that cannot be a mobile number of the
// market is an error matching ErrInvalidMSISDN.
//
// The gateways' sandboxes use test numbers such as "000000000001" that are
// no real market's numbers: requests accept any 12 to 14 digits, and this
// helper is for numbers typed by people.
func NormalizeMSISDN(m Market, s string) (string, error) {
	info, ok := markets[m]
	if !ok {
		return "", fmt.Errorf("%w: unknown market %q", ErrInvalidMSISDN, string(m))
	}
	var b strings.Builder
	b.Grow(len(s))
	plus := false
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '\u00a0':
		default:
			return "", fmt.Errorf("%w: %q is not a phone number", ErrInvalidMSISDN, redact.MSISDN(s))
		}
	}
	d := b.String()
	cc, n := info.callingCode, info.nationalDigits
	var national string
	switch {
	case plus || strings.HasPrefix(d, "00"):
		d = strings.TrimPrefix(d, "00")
		if !strings.HasPrefix(d, cc) {
			return "", fmt.Errorf("%w: %s is not a number of %s (+%s)", ErrInvalidMSISDN, redact.MSISDN(d), info.name, cc)
		}
		national = d[len(cc):]
	case len(d) == len(cc)+n && strings.HasPrefix(d, cc):
		national = d[len(cc):]
	case len(d) == n+1 && d[0] == '0':
		national = d[1:]
	default:
		national = d
	}
	if len(national) != n || strings.IndexByte(info.mobileLeads, national[0]) < 0 {
		return "", fmt.Errorf("%w: %s is not a mobile number of %s: want +%s and %d digits starting with one of %q",
			ErrInvalidMSISDN, redact.MSISDN(d), info.name, cc, n, info.mobileLeads)
	}
	return cc + national, nil
}

// API names one operation of a gateway. It appears in errors and logs.
type API int

// The operations of the gateways. Not every gateway offers every API; a call
// to one its gateway lacks fails with ErrNotSupported before any I/O.
const (
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
	apiCount // keep last
)

// endpoint is where and how an API is reached on each gateway.
type endpoint struct {
	name   string // short name for errors and logs
	method string
	// openAPIPath is the path below /{sandbox|openapi}/ipg/v2/{market}/;
	// empty when OpenAPI v2 does not offer the API.
	openAPIPath string
	// mozPath is the path below /ipg/v1x/ and mozPort the port that serves
	// it; empty and 0 when the Mozambique gateway does not offer the API.
	mozPath string
	mozPort int
}

// endpoints maps every API to its paths: SPEC-NOTES §1 and §2, the per-API
// "Endpoint Information" tables of the Mozambique documents, and, for the
// Mozambique customer-name query that the documents do not cover, the port
// and path that published integrations agree on (SPEC-NOTES §4).
var endpoints = [apiCount]endpoint{
	APIGetSession:         {"getSession", "GET", "getSession/", "", 0},
	APIC2B:                {"c2b", "POST", "c2bPayment/singleStage/", "c2bPayment/singleStage/", 18352},
	APIB2C:                {"b2c", "POST", "b2cPayment/", "b2cPayment/", 18345},
	APIB2B:                {"b2b", "POST", "b2bPayment/", "b2bPayment/", 18349},
	APIReversal:           {"reversal", "PUT", "reversal/", "reversal/", 18354},
	APITransactionStatus:  {"transactionStatus", "GET", "queryTransactionStatus/", "queryTransactionStatus/", 18353},
	APIDirectDebitCreate:  {"directDebitCreate", "POST", "directDebitCreation/", "", 0},
	APIDirectDebitPayment: {"directDebitPayment", "POST", "directDebitPayment/", "", 0},
	APIDirectDebitQuery:   {"directDebitQuery", "GET", "queryDirectDebit/", "", 0},
	APIDirectDebitCancel:  {"directDebitCancel", "PUT", "directDebitCancel/", "", 0},
	APIBeneficiaryName:    {"beneficiaryName", "GET", "queryBeneficiaryName/", "queryCustomerName/", 19323},
}

// String returns the short name of the API ("c2b", "transactionStatus").
func (a API) String() string {
	if a > 0 && a < apiCount {
		return endpoints[a].name
	}
	return "api(" + strconv.Itoa(int(a)) + ")"
}

// Method returns the HTTP method of the API: GET for queries, POST or PUT for
// the calls that move money or change a mandate.
func (a API) Method() string {
	if a > 0 && a < apiCount {
		return endpoints[a].method
	}
	return ""
}

// isQuery reports whether the API only reads: it is sent with GET, its
// parameters travel in the URL, and resending it cannot move money.
func (a API) isQuery() bool { return a.Method() == "GET" }

// offeredBy reports whether gateway g serves the API.
func (a API) offeredBy(g Gateway) bool {
	if a <= 0 || a >= apiCount {
		return false
	}
	if g == GatewayMozambique {
		return endpoints[a].mozPort != 0
	}
	return endpoints[a].openAPIPath != ""
}

// Default hosts. The OpenAPI documents write the port (443) explicitly; it is
// the HTTPS default, and leaving it out keeps the Host header plain.
const (
	openAPIRoot           = "https://openapi.m-pesa.com"
	mozambiqueSandboxHost = "api.sandbox.vm.co.mz"
	// The production host of the Mozambique gateway. Some older libraries
	// still use api.mpesa.vm.co.mz, which is stale (SPEC-NOTES §4).
	mozambiqueProductionHost = "api.vm.co.mz"
)

// endpointURL returns the URL of api for the given gateway, environment and
// market. A non-empty base replaces scheme, host, port and any path prefix of
// the gateway; for the Mozambique gateway it then serves every API, which are
// told apart by path, as a reverse proxy or the mpesatest simulator does.
func endpointURL(g Gateway, env Environment, m Market, base string, a API) string {
	ep := endpoints[a]
	var b strings.Builder
	if g == GatewayMozambique {
		if base != "" {
			b.WriteString(base)
		} else {
			host := mozambiqueSandboxHost
			if env == Production {
				host = mozambiqueProductionHost
			}
			b.WriteString("https://")
			b.WriteString(host)
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(ep.mozPort))
		}
		b.WriteString("/ipg/v1x/")
		b.WriteString(ep.mozPath)
		return b.String()
	}
	if base != "" {
		b.WriteString(base)
	} else {
		b.WriteString(openAPIRoot)
	}
	if env == Production {
		b.WriteString("/openapi")
	} else {
		b.WriteString("/sandbox")
	}
	b.WriteString("/ipg/v2/")
	b.WriteString(string(m))
	b.WriteByte('/')
	b.WriteString(ep.openAPIPath)
	return b.String()
}
