package mpesa

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mpesa-go/mpesa/internal/validate"
	"github.com/mpesa-go/mpesa/internal/wire"
)

// The Safaricom Daraja dialect (Kenya): an OAuth token shared by every call,
// JSON bodies with Daraja's own field names, answers that only acknowledge,
// and results posted to the URLs each request names (docs/gateways.md
// D1–D30). Its products are in daraja_products.go, its codes in
// daraja_codes.go, its credentials in daraja_credential.go.

// The Daraja hosts (docs/gateways.md D2).
const (
	darajaSandboxRoot    = "https://sandbox.safaricom.co.ke"
	darajaProductionRoot = "https://api.safaricom.co.ke"
)

// DefaultC2BVersion is the version of Daraja's C2B register URL and
// simulate APIs when WithC2BVersion is not given (docs/gateways.md D5).
const DefaultC2BVersion = 2

// darajaPaths maps the APIs Daraja offers to their paths; every one is a
// POST but the OAuth token's GET (docs/gateways.md D2, D5). %d is the C2B
// version.
var darajaPaths = map[API]string{
	APIToken:             "/oauth/v1/generate",
	APIC2B:               "/mpesa/stkpush/v1/processrequest",
	APISTKQuery:          "/mpesa/stkpushquery/v1/query",
	APIB2C:               "/mpesa/b2c/v3/paymentrequest",
	APIB2B:               "/mpesa/b2b/v1/paymentrequest",
	APIReversal:          "/mpesa/reversal/v1/request",
	APITransactionStatus: "/mpesa/transactionstatus/v1/query",
	APIAccountBalance:    "/mpesa/accountbalance/v1/query",
	APIC2BRegister:       "/mpesa/c2b/v%d/registerurl",
	APIC2BSimulate:       "/mpesa/c2b/v%d/simulate",
	APIPullRegister:      "/pulltransactions/v1/register",
	APIPullQuery:         "/pulltransactions/v1/query",
}

// tokenQuery is the query of the token request.
var tokenQuery = []wire.Param{{Key: "grant_type", Value: "client_credentials"}}

// The token's lifetime when expires_in cannot be read, as documented
// (3599 s), and the longest one believed.
const (
	darajaTokenLifetime    = 3599 * time.Second
	darajaMaxTokenLifetime = 24 * time.Hour
)

// darajaRefreshAhead is how long before expiry the next token is fetched:
// a tenth of its life, at least two minutes, at most half of it. Each new
// token may invalidate the previous one, so the cache fetches one at a
// time and switches to it at once (docs/gateways.md D3).
func darajaRefreshAhead(lifetime time.Duration) time.Duration {
	return min(max(lifetime/10, 2*time.Minute), lifetime/2)
}

// daraja is the Daraja dialect.
type daraja struct {
	c    *Client
	env  Environment
	urls [apiCount]string

	consumerKey    string
	consumerSecret Secret
	basic          staticAuth // Basic base64(key:secret), for the token
	tokens         *credCache

	passkey    Secret
	initiator  string
	password   Secret
	pub        *rsa.PublicKey // the key of the SecurityCredential
	credential string         // the SecurityCredential, encrypted once

	resultURL       string
	queueTimeoutURL string
	results         *Results

	// pending maps a result being verified to the status queries sent for
	// it whose status has not come yet (daraja_verify.go).
	vmu     sync.Mutex
	pending map[string][]string

	// past keeps the last tokens fetched, so that one the gateway echoes
	// in an error is scrubbed even after the cache dropped it.
	mu   sync.Mutex
	past [4]string
	next int
}

func newDaraja(c *Client, s *settings) (dialect, []error) {
	var errs []error
	switch key := s.apiKey; {
	case strings.TrimSpace(key) == "":
		errs = append(errs, errors.New("mpesa: consumerKey: empty"))
	case !isHeaderValue(key) || strings.Contains(key, ":"):
		errs = append(errs, errors.New("mpesa: consumerKey: contains ':' or control characters"))
	}
	if s.consumerSecret == "" {
		errs = append(errs, errors.New("mpesa: WithConsumerSecret: the Daraja gateway needs the consumer secret of the app"))
	}
	if s.market != "" && s.market != MarketKenya {
		errs = append(errs, fmt.Errorf("mpesa: WithMarket: the Daraja gateway serves %s only, not %s", MarketKenya, s.market))
	}
	if s.currencySet && s.currency != MarketKenya.Currency() {
		errs = append(errs, fmt.Errorf("mpesa: WithCurrency: the Daraja gateway takes no currency; it pays in %s", MarketKenya.Currency()))
	}
	if v := s.serviceProviderCode; v != "" && !darajaShortcode.ok(v) {
		errs = append(errs, optionError("WithServiceProviderCode", "%q %s", v, darajaShortcode.says))
	}
	for _, u := range []struct{ option, url string }{{"WithResultURL", s.resultURL}, {"WithQueueTimeoutURL", s.queueTimeoutURL}} {
		if u.url == "" {
			continue
		}
		if why := darajaURLProblem(s.env, u.url); why != "" {
			errs = append(errs, optionError(u.option, "the URL %s", why))
		}
	}
	pub := s.certificate
	switch {
	case pub != nil && s.publicKey != nil:
		errs = append(errs, errors.New("mpesa: WithCertificate: WithPublicKey sets the same key; give one of them"))
	case pub == nil && s.publicKey != nil:
		pub = s.publicKey
	case pub == nil:
		pub = darajaCertificateKey(s.env)
	}
	d := &daraja{
		c: c, env: s.env,
		consumerKey: s.apiKey, consumerSecret: s.consumerSecret,
		passkey: s.passkey, initiator: s.initiatorID, password: s.securityCredential, pub: pub,
		resultURL: s.resultURL, queueTimeoutURL: s.queueTimeoutURL, results: s.results,
	}
	if d.initiator != "" && len(errs) == 0 {
		cred, err := securityCredential(pub, d.password)
		if err != nil {
			errs = append(errs, fmt.Errorf("mpesa: WithInitiator: the initiator password cannot be encrypted: %w", err))
		}
		d.credential = cred
	}
	if len(errs) > 0 {
		return nil, errs
	}
	c.market, c.currency = MarketKenya, MarketKenya.Currency()
	if s.origin != "" {
		c.header["Origin"] = []string{s.origin}
	}
	root := s.baseURL
	if root == "" {
		root = darajaSandboxRoot
		if s.env == Production {
			root = darajaProductionRoot
		}
	}
	version := s.c2bVersion
	if version == 0 {
		version = DefaultC2BVersion
	}
	for api, path := range darajaPaths {
		if strings.Contains(path, "%d") {
			path = fmt.Sprintf(path, version)
		}
		d.urls[api] = root + path
	}
	if s.env == Production {
		d.urls[APIC2BSimulate] = "" // sandbox only (docs/gateways.md D14)
	}
	basic := base64.StdEncoding.EncodeToString([]byte(s.apiKey + ":" + string(s.consumerSecret)))
	d.basic = staticAuth{&credential{secret: basic, authz: []string{"Basic " + basic}}}
	d.tokens = &credCache{
		fetch:      d.fetchToken,
		now:        func() time.Time { return c.now() },
		activation: 0, // each new token may invalidate the previous one: switch at once
		ahead:      darajaRefreshAhead,
		backoff:    c.backoff,
		failPause:  c.backoffMax,
	}
	if s.credentialStore != nil {
		// One token for every replica: each new token may invalidate the
		// previous one, so replicas refreshing on their own log each other
		// out.
		d.tokens.shared = &sharing{
			store:     s.credentialStore,
			key:       sharedKey(GatewayDaraja, s.env, s.apiKey),
			authorize: func(token string) ([]string, error) { return []string{"Bearer " + token}, nil },
			leaseTTL:  s.queryTimeout,
			logger:    c.logger,
		}
	}
	return d, nil
}

func (d *daraja) endpoint(api API) (string, string, bool) {
	if api <= 0 || api >= apiCount || d.urls[api] == "" {
		return "", "", false
	}
	if api == APIToken {
		return http.MethodGet, d.urls[api], true
	}
	return http.MethodPost, d.urls[api], true
}

// auth implements dialect: the token request carries the consumer key and
// secret (Basic), every other call the shared token (Bearer).
func (d *daraja) auth(api API) authenticator {
	if api == APIToken {
		return d.basic
	}
	return d.tokens
}

// fetchToken asks for a new access token. expires_in comes as a number or
// as a string ("3599"); anything unreadable is taken as the documented 3599
// seconds (docs/gateways.md D3).
func (d *daraja) fetchToken(ctx context.Context) (*credential, error) {
	out := new(darajaOutput)
	if err := d.c.send(ctx, &request{api: APIToken, query: tokenQuery, out: out}); err != nil {
		return nil, err
	}
	lifetime := darajaTokenLifetime
	if n, err := strconv.ParseFloat(strings.TrimSpace(out.ExpiresIn), 64); err == nil && n >= 1 {
		lifetime = min(time.Duration(n*float64(time.Second)), darajaMaxTokenLifetime)
	}
	d.mu.Lock()
	d.past[d.next%len(d.past)] = out.AccessToken
	d.next++
	d.mu.Unlock()
	now := d.c.now()
	return &credential{secret: out.AccessToken, authz: []string{"Bearer " + out.AccessToken},
		obtained: now, expires: now.Add(lifetime)}, nil
}

// secrets implements dialect.
func (d *daraja) secrets() []string {
	out := []string{d.consumerKey, string(d.consumerSecret), d.basic.cred.secret, string(d.passkey),
		string(d.password), d.credential}
	d.mu.Lock()
	out = append(out, d.past[:]...)
	d.mu.Unlock()
	return append(out, d.tokens.secrets()...)
}

// darajaRules are the rules the products share (docs/gateways.md D6, D25,
// X9). Each product adds the limits of its own page.
var darajaRules = rulebook{
	msisdn:         darajaMSISDN,
	shortcode:      darajaShortcode,
	transactionRef: darajaAccountRef,
	reference:      darajaRef,
	paymentRef:     darajaRef,
	queryRef:       darajaRef,
	transactionID:  ruleAlnum20,
	text:           ruleText,
}

var (
	// darajaMSISDN: 254 and nine digits, 2547… and 2541… alike
	// (docs/gateways.md D25).
	darajaMSISDN = rule{func(v string) bool { return validate.Digits(v, 12, 12) && v[:3] == "254" },
		"must be 254 followed by 9 digits (see NormalizeMSISDN)"}
	// darajaShortcode: the STK page gives 5–6 digits for
	// BusinessShortCode; no page gives a length for other shortcodes or
	// till numbers, so up to 7 digits are let through to the gateway.
	darajaShortcode = rule{func(v string) bool { return validate.Digits(v, 5, 7) }, "must be 5 to 7 digits"}
	// darajaAccountRef is the STK AccountReference shown in the prompt.
	darajaAccountRef = rule{func(v string) bool { return validate.Text(v, 1, 12) },
		"must be 1 to 12 characters without control characters (Daraja AccountReference)"}
	// darajaRef is an OriginatorConversationID or a reference queried
	// by the status APIs: the documents set no rule; letters, digits,
	// '-' and '_' cover every sample (UUIDs, "19455-424535-1", "AG_…",
	// "ws_CO_…") and NewReference.
	darajaRef = rule{func(v string) bool { return darajaRefOK(v) },
		"must be 1 to 64 letters, digits, '-' or '_'"}
)

func darajaRefOK(v string) bool {
	if len(v) < 1 || len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// wholeShillings returns the rule of an amount in whole shillings from min
// to max (0: no maximum). It is sent as written, so "010" and "10.00" are
// refused rather than reinterpreted (docs/gateways.md D25, X7).
func wholeShillings(min, max int) rule {
	says := fmt.Sprintf("must be a whole number of shillings, at least %d", min)
	if max > 0 {
		says = fmt.Sprintf("must be a whole number of shillings from %d to %d", min, max)
	}
	return rule{func(v string) bool {
		if !validate.Digits(v, 1, 9) || v[0] == '0' {
			return false
		}
		n, _ := strconv.Atoi(v)
		return n >= min && (max == 0 || n <= max)
	}, says}
}

// textRule returns the rule of free text of min to max characters.
func textRule(min, max int, name string) rule {
	return rule{func(v string) bool { return validate.Text(v, min, max) },
		fmt.Sprintf("must be %d to %d characters without control characters (Daraja %s)", min, max, name)}
}

// oneOf returns the rule of a value from a documented list, spelt exactly.
func oneOf(values ...string) rule {
	return rule{func(v string) bool {
		for _, w := range values {
			if v == w {
				return true
			}
		}
		return false
	}, "must be one of " + strings.Join(values, ", ")}
}

// darajaBannedWords are the words Daraja refuses in callback URLs, in any
// letter case and anywhere in the URL (docs/gateways.md D26). "exe" also
// covers "exec".
var darajaBannedWords = []string{"m-pesa", "mpesa", "safaricom", "exe", "cmd", "sql", "query"}

// darajaURLProblem says why Daraja would refuse a callback URL, or "" when
// it would not (docs/gateways.md D26): HTTPS in production (plain HTTP is
// tolerated in the sandbox), a host, no spaces or control characters, none
// of the banned words, and in production none of the tunnel hosts Daraja
// blocks.
func darajaURLProblem(env Environment, raw string) string {
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] == 0x7f {
			return "must not contain spaces or control characters"
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a valid URL"
	}
	switch {
	case u.Scheme != "https" && (env == Production || u.Scheme != "http"):
		if env == Production {
			return "must be https in production"
		}
		return "must be https (or http in the sandbox)"
	case u.Hostname() == "":
		return "must name a host"
	}
	lower := strings.ToLower(raw)
	for _, w := range darajaBannedWords {
		if strings.Contains(lower, w) {
			return fmt.Sprintf("must not contain %q, which Daraja refuses in callback URLs", w)
		}
	}
	if env == Production {
		host := strings.ToLower(u.Hostname())
		for _, t := range []string{"ngrok", "mockbin", "requestbin"} {
			if strings.Contains(host, t) {
				return fmt.Sprintf("must not be a %s host, which Daraja blocks in production", t)
			}
		}
	}
	return ""
}
