package mpesa

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa/internal/validate"
)

// The OpenAPI v2 dialect: openapi.m-pesa.com, five markets, session keys
// (docs/gateways.md O1–O21).

// openAPIRoot is the gateway's host. The portal writes the port (443)
// explicitly; it is the HTTPS default, and leaving it out keeps the Host
// header plain.
const openAPIRoot = "https://openapi.m-pesa.com"

// openAPIEndpoints maps the APIs OpenAPI v2 offers to their method and their
// path below /{sandbox|openapi}/ipg/v2/{market}/ (docs/gateways.md O7).
var openAPIEndpoints = map[API][2]string{
	APIGetSession:         {http.MethodGet, "getSession/"},
	APIC2B:                {http.MethodPost, "c2bPayment/singleStage/"},
	APIB2C:                {http.MethodPost, "b2cPayment/"},
	APIB2B:                {http.MethodPost, "b2bPayment/"},
	APIReversal:           {http.MethodPut, "reversal/"},
	APITransactionStatus:  {http.MethodGet, "queryTransactionStatus/"},
	APIDirectDebitCreate:  {http.MethodPost, "directDebitCreation/"},
	APIDirectDebitPayment: {http.MethodPost, "directDebitPayment/"},
	APIDirectDebitQuery:   {http.MethodGet, "queryDirectDebit/"},
	APIDirectDebitCancel:  {http.MethodPut, "directDebitCancel/"},
	APIBeneficiaryName:    {http.MethodGet, "queryBeneficiaryName/"},
}

// openAPIRules are the parameter rules of the portal's "API Requests" tables
// (docs/gateways.md O9). A payment's reference is held to 1–32 letters and
// digits, narrower than the documented 1–40 with '_', ' ' and '+': the
// status query takes only that as QueryReference, and a payment whose
// outcome is unknown must be one Reconcile can find (docs/gateways.md X8).
var openAPIRules = rulebook{
	msisdn: rule{func(v string) bool { return validate.Digits(v, 12, 14) },
		"must be 12 to 14 digits with the country code (see NormalizeMSISDN)"},
	shortcode: rule{func(v string) bool { return validate.Alnum(v, 4, 12) }, "must be 4 to 12 letters or digits"},
	transactionRef: rule{func(v string) bool { return validate.Reference(v, 1, 20) },
		"must be 1 to 20 letters, digits, '_', ' ' or '+'"},
	reference: rule{func(v string) bool { return validate.Reference(v, 1, 40) },
		"must be 1 to 40 letters, digits, '_', ' ' or '+'"},
	paymentRef: rule{func(v string) bool { return validate.Alnum(v, 1, 32) },
		"must be 1 to 32 letters or digits, so that Reconcile can query it (QueryReference takes no more)"},
	queryRef:      ruleAlnum32,
	transactionID: ruleAlnum20,
	text:          ruleText,
}

// openAPI is the OpenAPI v2 dialect.
type openAPI struct {
	ipg
	pub         *rsa.PublicKey
	market      Market
	currency    string
	currencySet bool // WithCurrency chose currency
	lifetime    time.Duration
	sessions    *credCache
}

func newOpenAPI(c *Client, s *settings) (dialect, []error) {
	var errs []error
	errs = append(errs, checkAPIKey(s.apiKey)...)
	if s.market == "" {
		errs = append(errs, errors.New("mpesa: WithMarket: a market is required on the OpenAPI gateway"))
	}
	if s.market == MarketKenya {
		errs = append(errs, errors.New("mpesa: WithMarket: Kenya is served by GatewayDaraja, not the OpenAPI gateway"))
	}
	if s.serviceProviderCode != "" && !openAPIRules.shortcode.ok(s.serviceProviderCode) {
		errs = append(errs, optionError("WithServiceProviderCode", "%q is not 4 to 12 letters or digits", s.serviceProviderCode))
	}
	pub := s.publicKey
	if pub == nil {
		k, err := ParsePublicKey(OpenAPISandboxPublicKey)
		if err != nil {
			panic("mpesa: embedded OpenAPI public key: " + err.Error())
		}
		pub = k
	}
	if len(errs) > 0 {
		return nil, errs
	}
	d := &openAPI{pub: pub, market: s.market, currency: s.currency, currencySet: s.currencySet, lifetime: s.sessionLifetime}
	if d.currency == "" {
		d.currency = s.market.Currency()
	}
	c.market, c.currency = d.market, d.currency
	c.header["Origin"] = []string{orDefault(s.origin, OriginOpenAPI)}
	d.ipg = ipg{c: c, g: GatewayOpenAPI, rules: &openAPIRules, codes: openAPICodes,
		refKey: "input_ThirdPartyConversationID", flavor: d}
	env := "/sandbox"
	if s.env == Production {
		env = "/openapi"
	}
	prefix := orDefault(s.baseURL, openAPIRoot) + env + "/ipg/v2/" + string(s.market) + "/"
	for api, ep := range openAPIEndpoints {
		d.methods[api], d.urls[api] = ep[0], prefix+ep[1]
	}
	key, err := bearerCredential(pub, s.apiKey)
	if err != nil {
		return nil, []error{fmt.Errorf("mpesa: apiKey: %w", err)}
	}
	d.key = staticAuth{key}
	activation := s.activationWindow
	d.sessions = &credCache{
		fetch:      d.fetchSession,
		now:        func() time.Time { return c.now() },
		activation: activation,
		// Start the next session early enough for it to become live
		// before the current one expires, but never earlier than half-way.
		ahead:     func(lifetime time.Duration) time.Duration { return min(activation+30*time.Second, lifetime/2) },
		backoff:   c.backoff,
		failPause: c.backoffMax,
	}
	if s.credentialStore != nil {
		d.sessions.shared = &sharing{
			store: s.credentialStore,
			key:   sharedKey(GatewayOpenAPI, s.env, s.apiKey),
			authorize: func(id string) ([]string, error) {
				cred, err := bearerCredential(pub, id)
				if err != nil {
					return nil, err
				}
				return cred.authz, nil
			},
			leaseTTL: s.queryTimeout,
			logger:   c.logger,
		}
	}
	return d, nil
}

func (d *openAPI) auth(api API) authenticator {
	if api == APIGetSession {
		return d.key
	}
	return d.sessions
}

// fetchSession calls getSession and encrypts the new session ID once.
func (d *openAPI) fetchSession(ctx context.Context) (*credential, error) {
	out := new(ipgOutput)
	if err := d.c.send(ctx, &request{api: APIGetSession, out: out}); err != nil {
		return nil, err
	}
	if out.SessionID == "" {
		e := d.c.newError(APIGetSession, "", ErrSessionCreation, errors.New("answer without output_SessionID"))
		e.Code = out.ResponseCode
		return nil, e
	}
	cred, err := bearerCredential(d.pub, out.SessionID)
	if err != nil {
		return nil, d.c.newError(APIGetSession, "", ErrSessionCreation, err)
	}
	cred.obtained = d.c.now()
	cred.expires = cred.obtained.Add(d.lifetime)
	return cred, nil
}

func (d *openAPI) secrets() []string { return append(d.ipg.secrets(), d.sessions.secrets()...) }

// addMarket checks and adds Country, Currency and the description of an
// OpenAPI payment. Country must be the market's and Currency the market's
// or the one configured with WithCurrency: anything else is refused by the
// gateway (INS-21, INS-26), so it is refused here before any I/O.
func (d *openAPI) addMarket(k *checker, p *params, country, currency, descKey, desc string) {
	country, currency = d.marketFields(k, country, currency)
	k.description(strings.TrimPrefix(descKey, "input_"), desc)
	p.add("input_Country", country)
	p.add("input_Currency", currency)
	p.add(descKey, desc)
}

// marketFields returns a request's Country and Currency, defaulted from the
// client, and checks them.
func (d *openAPI) marketFields(k *checker, country, currency string) (string, string) {
	country = d.country(k, country)
	currency = orDefault(currency, d.currency)
	if currency != d.market.Currency() && currency != d.currency {
		k.fail("Currency", fmt.Sprintf("must be %s, the currency of market %s (or the one set with WithCurrency)", d.market.Currency(), d.market), currency)
	}
	return country, currency
}

// country returns a request's Country, defaulted from the market, and
// checks that it is the market's.
func (d *openAPI) country(k *checker, country string) string {
	want := d.market.Country()
	if country == "" {
		return want
	}
	if country != want {
		k.fail("Country", fmt.Sprintf("must be %s, the country of market %s", want, d.market), country)
	}
	return country
}

func (d *openAPI) addCountry(k *checker, p *params, country string) {
	p.add("input_Country", d.country(k, country))
}

func (d *openAPI) addReversal(k *checker, p *params, req *ReversalRequest) {
	if req.InitiatorIdentifier != "" || req.SecurityCredential != "" {
		k.fail("InitiatorIdentifier", "is a Mozambique field; OpenAPI v2 reversals do not take it", "")
	}
	d.addCountry(k, p, req.Country)
}

// addNameQuery adds the KYC query type. The parameter table and the code
// snippets spell the key input_KycQueryType; only the sample query string
// writes input_KYCQueryType (docs/gateways.md O11). "Name" is its only value.
func (d *openAPI) addNameQuery(p *params) { p.add("input_KycQueryType", "Name") }

// checkAPIKey reports an unusable API key.
func checkAPIKey(apiKey string) []error {
	switch {
	case strings.TrimSpace(apiKey) == "":
		return []error{errors.New("mpesa: apiKey: empty")}
	case !isHeaderValue(apiKey):
		return []error{errors.New("mpesa: apiKey: contains control characters")}
	}
	return nil
}

// bearerCredential encrypts secret into the bearer the iPG gateways expect.
func bearerCredential(pub *rsa.PublicKey, secret string) (*credential, error) {
	bearer, err := encryptBearer(pub, secret)
	if err != nil {
		return nil, err
	}
	return &credential{secret: secret, authz: []string{"Bearer " + bearer}}, nil
}
