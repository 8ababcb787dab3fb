package mpesa

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/mpesa-go/mpesa/internal/validate"
)

// The Vodacom Mozambique v1x dialect: api.vm.co.mz, one port per API, the
// encrypted API key on every call (docs/gateways.md M1–M14).

// The Mozambique hosts. Some older libraries still use api.mpesa.vm.co.mz,
// which is stale (docs/gateways.md M2).
const (
	mozambiqueSandboxHost    = "api.sandbox.vm.co.mz"
	mozambiqueProductionHost = "api.vm.co.mz"
)

// mozambiqueEndpoint is where a Mozambique API lives.
type mozambiqueEndpoint struct {
	method, path string
	port         int
}

// mozambiqueEndpoints maps the APIs Mozambique offers to their method, path
// below /ipg/v1x/ and port: the "Endpoint Information" tables of the
// Mozambique documents, and for the customer-name query, which no document
// covers, what published integrations agree on (docs/gateways.md M3, M14).
var mozambiqueEndpoints = map[API]mozambiqueEndpoint{
	APIC2B:               {http.MethodPost, "c2bPayment/singleStage/", 18352},
	APIB2C:               {http.MethodPost, "b2cPayment/", 18345},
	APIB2B:               {http.MethodPost, "b2bPayment/", 18349},
	APIReversal:          {http.MethodPut, "reversal/", 18354},
	APITransactionStatus: {http.MethodGet, "queryTransactionStatus/", 18353},
	APIBeneficiaryName:   {http.MethodGet, "queryCustomerName/", 19323},
}

// MozambiquePort returns the port the Mozambique gateway serves api on, 0
// for an API it does not offer.
func MozambiquePort(api API) int { return mozambiqueEndpoints[api].port }

// mozambiqueRules hold what the Mozambique documents constrain, and no more
// (docs/gateways.md M7): their fields are plain strings, so OpenAPI v2's
// regular expressions do not apply. Refused are values the documents or the
// code table rule out (a number that is not 258 and nine digits; a
// TransactionReference outside 1 to 20 characters, INS-17) and values no
// JSON string can carry faithfully (invalid UTF-8, control characters).
var mozambiqueRules = rulebook{
	msisdn: rule{func(v string) bool { return validate.Digits(v, 12, 12) && v[:3] == "258" },
		"must be 258 followed by 9 digits (see NormalizeMSISDN)"},
	shortcode: ruleText,
	transactionRef: rule{func(v string) bool { return validate.Text(v, 1, 20) },
		"must be 1 to 20 characters without control characters (INS-17)"},
	reference:     ruleText,
	paymentRef:    ruleText,
	queryRef:      ruleText,
	transactionID: ruleText,
	text:          ruleText,
}

// mozambique is the Mozambique v1x dialect.
type mozambique struct {
	ipg
	initiatorID        string
	securityCredential Secret
}

func newMozambique(c *Client, s *settings) (dialect, []error) {
	var errs []error
	errs = append(errs, checkAPIKey(s.apiKey)...)
	if s.market != "" && s.market != MarketMozambique {
		errs = append(errs, fmt.Errorf("mpesa: WithMarket: the Mozambique gateway serves %s only, not %s", MarketMozambique, s.market))
	}
	if s.publicKey == nil {
		errs = append(errs, errors.New("mpesa: WithPublicKey: the Mozambique gateway needs its public key (from the developer portal)"))
	}
	if s.currencySet && s.currency != MarketMozambique.Currency() {
		errs = append(errs, fmt.Errorf("mpesa: WithCurrency: the Mozambique gateway takes no currency; it pays in %s", MarketMozambique.Currency()))
	}
	if v := s.serviceProviderCode; v != "" && !mozambiqueRules.shortcode.ok(v) {
		errs = append(errs, optionError("WithServiceProviderCode", "%q is not valid UTF-8 without control characters", v))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	c.market, c.currency = MarketMozambique, MarketMozambique.Currency()
	c.header["Origin"] = []string{orDefault(s.origin, OriginMozambique)}
	d := &mozambique{initiatorID: s.initiatorID, securityCredential: s.securityCredential}
	d.ipg = ipg{c: c, g: GatewayMozambique, rules: &mozambiqueRules, codes: mozambiqueCodes,
		refKey: "input_ThirdPartyReference", flavor: d}
	for api, ep := range mozambiqueEndpoints {
		// A base URL (a proxy, the simulator) serves every API at one
		// address, told apart by path.
		root := s.baseURL
		if root == "" {
			host := mozambiqueSandboxHost
			if s.env == Production {
				host = mozambiqueProductionHost
			}
			root = "https://" + host + ":" + strconv.Itoa(ep.port)
		}
		d.methods[api], d.urls[api] = ep.method, root+"/ipg/v1x/"+ep.path
	}
	key, err := bearerCredential(s.publicKey, s.apiKey)
	if err != nil {
		return nil, []error{fmt.Errorf("mpesa: apiKey: %w", err)}
	}
	d.key = staticAuth{key}
	return d, nil
}

// auth implements dialect: every Mozambique call carries the encrypted API
// key; there is no session step.
func (d *mozambique) auth(API) authenticator { return d.key }

// addMarket adds nothing: Mozambique payments carry no Country, Currency or
// description. The description is left out, so that one request can serve
// both gateways; a Country or Currency of another market is refused.
func (d *mozambique) addMarket(k *checker, _ *params, country, currency, _, _ string) {
	d.addCountry(k, nil, country)
	if currency != "" && currency != MarketMozambique.Currency() {
		k.fail("Currency", "is not taken by the Mozambique gateway, which pays in MZN", currency)
	}
}

// addCountry refuses a Country other than Mozambique's.
func (d *mozambique) addCountry(k *checker, _ *params, country string) {
	if country != "" && country != MarketMozambique.Country() {
		k.fail("Country", "is not taken by the Mozambique gateway", country)
	}
}

// addReversal adds the initiator and its credential, which the Mozambique
// reversal requires (input_InitiatorIdentifier, input_SecurityCredential).
// The documents only say both are required strings; a value with a control
// character or invalid UTF-8 cannot reach the gateway as written, so it is
// refused rather than changed.
func (d *mozambique) addReversal(k *checker, p *params, req *ReversalRequest) {
	d.addCountry(k, nil, req.Country)
	id := orDefault(req.InitiatorIdentifier, d.initiatorID)
	cred := req.SecurityCredential
	if cred == "" {
		cred = d.securityCredential
	}
	k.check("InitiatorIdentifier", id, ruleText)
	k.secret("SecurityCredential", string(cred), ruleText)
	p.add("input_InitiatorIdentifier", id)
	p.add("input_SecurityCredential", string(cred))
}

func (d *mozambique) addNameQuery(*params) {}

func (d *mozambique) secrets() []string {
	return append(d.ipg.secrets(), string(d.securityCredential))
}
