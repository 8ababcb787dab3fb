// Package mpesa is a client for the M-Pesa payment gateways: the multi-market
// OpenAPI v2 gateway (Ghana, Tanzania, Lesotho, DR Congo, Mozambique) and the
// Vodacom Mozambique v1x gateway.
//
// A Client encrypts the API key with the gateway's RSA public key, obtains and
// caches OpenAPI session keys, and offers one method per product. Calls that
// move money are never re-sent unless the request provably did not reach the
// gateway or the gateway said it did not process it; see Client for the
// rules.
package mpesa

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/mpesa-go/mpesa/internal/redact"
	"github.com/mpesa-go/mpesa/internal/validate"
	"github.com/mpesa-go/mpesa/internal/wire"
)

// Version is the version of this module; the default User-Agent is
// "mpesa-go/" + Version.
const Version = "0.1.0"

// Defaults of the options.
const (
	// DefaultPaymentTimeout bounds one attempt of a call that moves money.
	// The Mozambique gateway keeps a C2B call open while the USSD PIN
	// prompt is on the customer's phone; 66 to more than 90 seconds have
	// been observed, and a shorter timeout marks paid transactions failed.
	DefaultPaymentTimeout = 150 * time.Second
	// DefaultQueryTimeout bounds one attempt of a query (a GET).
	DefaultQueryTimeout = 30 * time.Second
	// DefaultMaxRetries is how many times a retryable failure is retried.
	DefaultMaxRetries = 2
	// DefaultRetryBackoff and DefaultMaxRetryBackoff shape the exponential
	// backoff with full jitter between attempts.
	DefaultRetryBackoff    = 250 * time.Millisecond
	DefaultMaxRetryBackoff = 5 * time.Second
	// DefaultSessionLifetime is the session lifetime assumed when
	// WithSessionLifetime is not given. Set it to the value of the
	// application on the portal.
	DefaultSessionLifetime = time.Hour
	// DefaultSessionActivation is how long a new OpenAPI session may take
	// to become live ("up to 30 seconds", per the portal).
	DefaultSessionActivation = 30 * time.Second
	// OriginOpenAPI and OriginMozambique are the default Origin headers.
	OriginOpenAPI    = "*"
	OriginMozambique = "developer.mpesa.vm.co.mz"
)

// maxBodyBytes caps how much of an answer is read. Gateway answers are a few
// hundred bytes; anything near this is an error page.
const maxBodyBytes = 256 << 10

// excerptBytes is the length of the body excerpt in an *Error.
const excerptBytes = 120

// Client calls one M-Pesa gateway. It is safe for concurrent use and meant to
// be created once and shared: it caches the OpenAPI session and the
// encrypted credentials.
//
// Retries. A call is sent again automatically only when that cannot move
// money twice:
//   - a query (GET) after a network error, a 5xx answer or INS-16;
//   - any call whose request provably never left (DNS, dial or TLS failure
//     before a connection was obtained), or that the gateway answered with
//     503 INS-16 ("temporary overloading": not processed);
//   - an OpenAPI call refused with INS-2 while its session is new (a session
//     can take up to 30 seconds to become live), with backoff inside the
//     activation window; and once more after a later INS-2, with a fresh
//     session, since the refused request was not processed.
//
// Every resend carries the byte-identical body, hence the same reference.
// Nothing else is retried: not 401 INS-5 or INS-6 (a resend would push a
// second PIN prompt), 408 INS-9, 409 INS-10 or any other 4xx. A payment whose
// request was written but whose answer never came returns an error matching
// ErrOutcomeUnknown.
type Client struct {
	gateway  Gateway
	env      Environment
	market   Market
	currency string

	urls      [apiCount]string
	originHdr []string
	uaHdr     []string

	http   *http.Client
	logger *slog.Logger

	paymentTimeout   time.Duration
	queryTimeout     time.Duration
	maxRetries       int
	backoffBase      time.Duration
	backoffMax       time.Duration
	activationWindow time.Duration

	// Request defaults.
	serviceProviderCode string
	initiatorID         string
	reconcileBase       time.Duration
	reconcileMax        time.Duration

	// cred and sessions are pointers so that printing a Client value with
	// %v shows addresses, never a secret.
	cred     *credentials
	sessions *sessionCache // nil on the Mozambique gateway

	now func() time.Time
}

// credentials holds the secrets of a client.
type credentials struct {
	apiKey string
	pub    *rsa.PublicKey
	// keyAuthz is "Bearer " + base64(RSA(API key)), computed once.
	keyAuthz []string
	// securityCredential is the Mozambique reversal credential.
	securityCredential Secret
}

func (*credentials) String() string   { return redact.Mask }
func (*credentials) GoString() string { return redact.Mask }

// String describes the client without its secrets.
func (c *Client) String() string {
	if c == nil {
		return "mpesa.Client(nil)"
	}
	s := "mpesa.Client{gateway: " + c.gateway.String() + ", environment: " + c.env.String()
	if c.gateway == GatewayOpenAPI {
		s += ", market: " + string(c.market)
	}
	return s + ", apiKey: " + redact.Mask + "}"
}

// GoString is String, so that %#v does not print the secrets either.
func (c *Client) GoString() string { return c.String() }

// LogValue describes the client to log/slog without its secrets.
func (c *Client) LogValue() slog.Value {
	if c == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(
		slog.String("gateway", c.gateway.String()),
		slog.String("environment", c.env.String()),
		slog.String("market", string(c.market)),
	)
}

// Gateway returns the gateway the client speaks to.
func (c *Client) Gateway() Gateway { return c.gateway }

// Environment returns the environment the client speaks to.
func (c *Client) Environment() Environment { return c.env }

// Market returns the client's market: the configured one on OpenAPI v2,
// MarketMozambique on the Mozambique gateway.
func (c *Client) Market() Market { return c.market }

// Currency returns the currency requests are made in unless they set one.
func (c *Client) Currency() string { return c.currency }

// An Option configures a Client. Options are validated by NewClient, which
// reports every bad one, each by name.
type Option func(*settings) error

type settings struct {
	gateway          Gateway
	env              Environment
	market           Market
	currency         string
	baseURL          string
	publicKey        *rsa.PublicKey
	origin           string
	httpClient       *http.Client
	logger           *slog.Logger
	paymentTimeout   time.Duration
	queryTimeout     time.Duration
	maxRetries       int
	backoffBase      time.Duration
	backoffMax       time.Duration
	userAgent        string
	sessionLifetime  time.Duration
	activationWindow time.Duration

	serviceProviderCode string
	initiatorID         string
	securityCredential  Secret
	reconcileBase       time.Duration
	reconcileMax        time.Duration
}

func optionError(name, format string, args ...any) error {
	return fmt.Errorf("mpesa: %s: %s", name, fmt.Sprintf(format, args...))
}

// WithGateway selects the gateway. The default is GatewayOpenAPI.
func WithGateway(g Gateway) Option {
	return func(s *settings) error {
		if !g.valid() {
			return optionError("WithGateway", "unknown gateway %d", int(g))
		}
		s.gateway = g
		return nil
	}
}

// WithMarket selects the OpenAPI v2 market. It is required on GatewayOpenAPI;
// on GatewayMozambique only MarketMozambique is accepted.
func WithMarket(m Market) Option {
	return func(s *settings) error {
		if !m.Valid() {
			return optionError("WithMarket", "unknown market %q (known: %v)", string(m), Markets())
		}
		s.market = m
		return nil
	}
}

// WithEnvironment selects Sandbox (the default) or Production.
func WithEnvironment(e Environment) Option {
	return func(s *settings) error {
		if e != Sandbox && e != Production {
			return optionError("WithEnvironment", "unknown environment %d", int(e))
		}
		s.env = e
		return nil
	}
}

// WithCurrency overrides the market's default currency (three letters,
// "CDF" for DR Congo francs). Requests may still set their own.
func WithCurrency(code string) Option {
	return func(s *settings) error {
		if !validate.Letters(code, 1, 3) {
			return optionError("WithCurrency", "%q is not 1 to 3 letters", code)
		}
		s.currency = code
		return nil
	}
}

// WithBaseURL sends every call to rawURL instead of the gateway's own host:
// for a proxy, or for a test server such as mpesatest. It is
// scheme://host[:port][/prefix]; the gateway paths are appended. Mozambique
// serves each API on its own port; with a base URL every API goes to the one
// address and is told apart by path.
func WithBaseURL(rawURL string) Option {
	return func(s *settings) error {
		u, err := url.Parse(rawURL)
		if err != nil {
			return optionError("WithBaseURL", "%v", err)
		}
		if u.Scheme != "https" && u.Scheme != "http" {
			return optionError("WithBaseURL", "scheme must be https or http, got %q", u.Scheme)
		}
		if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return optionError("WithBaseURL", "want scheme://host[:port][/path] without credentials, query or fragment")
		}
		s.baseURL = strings.TrimRight(u.String(), "/")
		return nil
	}
}

// WithPublicKey sets the gateway's RSA public key: base64 DER
// SubjectPublicKeyInfo as the portals show it, or PEM. The OpenAPI key of the
// developer portal is the default on GatewayOpenAPI; on GatewayMozambique
// the key is required.
func WithPublicKey(key string) Option {
	return func(s *settings) error {
		pub, err := ParsePublicKey(key)
		if err != nil {
			return optionError("WithPublicKey", "%v", err)
		}
		s.publicKey = pub
		return nil
	}
}

// WithOrigin sets the Origin header. It must match the origin configured for
// the application. Defaults: OriginOpenAPI, OriginMozambique.
func WithOrigin(origin string) Option {
	return func(s *settings) error {
		if origin == "" || !isHeaderValue(origin) {
			return optionError("WithOrigin", "%q is not a valid header value", origin)
		}
		s.origin = origin
		return nil
	}
}

// WithHTTPClient makes the client send its requests with a copy of hc; hc
// itself is never modified. The copy does not follow redirects: a redirected
// payment is an error, not a second request. Mind hc.Timeout: it must outlast
// a customer typing a PIN (see DefaultPaymentTimeout); the client's own
// per-call timeouts apply on top of it.
//
// The default client has a cookie jar (the Mozambique gateway sits behind a
// firewall that sets cookies) and requires TLS 1.2.
func WithHTTPClient(hc *http.Client) Option {
	return func(s *settings) error {
		if hc == nil {
			return optionError("WithHTTPClient", "nil *http.Client")
		}
		s.httpClient = hc
		return nil
	}
}

// WithLogger sets the logger. The client logs each attempt and each retry
// decision at debug level, and never a secret or a full MSISDN. By default
// nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) error {
		if l == nil {
			return optionError("WithLogger", "nil *slog.Logger")
		}
		s.logger = l
		return nil
	}
}

// WithPaymentTimeout bounds each attempt of a call that moves money (POST and
// PUT). It must be at least a minute: the gateway holds a C2B call open while
// the customer's PIN prompt is showing. Default DefaultPaymentTimeout.
func WithPaymentTimeout(d time.Duration) Option {
	return func(s *settings) error {
		if d < time.Minute {
			return optionError("WithPaymentTimeout", "%v is shorter than a customer needs to answer the PIN prompt; use at least 1m", d)
		}
		s.paymentTimeout = d
		return nil
	}
}

// WithQueryTimeout bounds each attempt of a query (GET), getSession included.
// Default DefaultQueryTimeout.
func WithQueryTimeout(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 {
			return optionError("WithQueryTimeout", "%v is not positive", d)
		}
		s.queryTimeout = d
		return nil
	}
}

// WithMaxRetries sets how many times a retryable failure is retried, 0 to 10.
// Default DefaultMaxRetries.
func WithMaxRetries(n int) Option {
	return func(s *settings) error {
		if n < 0 || n > 10 {
			return optionError("WithMaxRetries", "%d is outside 0..10", n)
		}
		s.maxRetries = n
		return nil
	}
}

// WithRetryBackoff sets the first backoff and its cap. The wait before retry
// n is a random duration in [0, min(max, base·2ⁿ⁻¹)] (full jitter).
func WithRetryBackoff(base, max time.Duration) Option {
	return func(s *settings) error {
		if base <= 0 || max < base {
			return optionError("WithRetryBackoff", "want 0 < base <= max, got base %v, max %v", base, max)
		}
		s.backoffBase, s.backoffMax = base, max
		return nil
	}
}

// WithUserAgent sets the User-Agent header. The default is
// "mpesa-go/<Version>": the Mozambique firewall blocks Go's default agent.
func WithUserAgent(ua string) Option {
	return func(s *settings) error {
		if ua == "" || !isHeaderValue(ua) {
			return optionError("WithUserAgent", "%q is not a valid header value", ua)
		}
		s.userAgent = ua
		return nil
	}
}

// WithSessionLifetime tells the client the session lifetime configured for
// the application on the OpenAPI portal, so that it fetches the next session
// before the current one expires. Default DefaultSessionLifetime.
func WithSessionLifetime(d time.Duration) Option {
	return func(s *settings) error {
		if d < time.Second {
			return optionError("WithSessionLifetime", "%v is shorter than a second", d)
		}
		s.sessionLifetime = d
		return nil
	}
}

// WithSessionActivation sets how long a new OpenAPI session may take to
// become live. Within that window an INS-2 answer to a call with the new
// session is retried with backoff. Default DefaultSessionActivation; 0
// disables those retries.
func WithSessionActivation(d time.Duration) Option {
	return func(s *settings) error {
		if d < 0 || d > 5*time.Minute {
			return optionError("WithSessionActivation", "%v is outside 0..5m", d)
		}
		s.activationWindow = d
		return nil
	}
}

// WithServiceProviderCode sets the shortcode requests use when they leave
// theirs empty: the ServiceProviderCode of C2B, B2C, reversal, status,
// direct debit and name queries, and the PrimaryPartyCode of B2B.
func WithServiceProviderCode(code string) Option {
	return func(s *settings) error {
		if !validate.Alnum(code, 4, 12) {
			return optionError("WithServiceProviderCode", "%q is not 4 to 12 letters or digits", code)
		}
		s.serviceProviderCode = code
		return nil
	}
}

// WithInitiator sets the initiator identifier and security credential that
// Mozambique reversals need (input_InitiatorIdentifier,
// input_SecurityCredential) when a ReversalRequest leaves them empty. Both
// are issued by Vodacom. The credential is kept as a Secret.
func WithInitiator(identifier string, credential Secret) Option {
	return func(s *settings) error {
		if identifier == "" || credential == "" || !utf8.ValidString(identifier) || !utf8.ValidString(string(credential)) {
			return optionError("WithInitiator", "identifier and credential must both be set, as valid UTF-8")
		}
		s.initiatorID, s.securityCredential = identifier, credential
		return nil
	}
}

// WithReconcileBackoff sets the wait between the status queries of
// Reconcile: first wait, doubling up to max, with jitter. Defaults 2s and
// 30s.
func WithReconcileBackoff(first, max time.Duration) Option {
	return func(s *settings) error {
		if first <= 0 || max < first {
			return optionError("WithReconcileBackoff", "want 0 < first <= max, got first %v, max %v", first, max)
		}
		s.reconcileBase, s.reconcileMax = first, max
		return nil
	}
}

// NewClient returns a client that authenticates with apiKey. Without options
// it speaks to the OpenAPI sandbox, which also needs WithMarket:
//
//	c, err := mpesa.NewClient(apiKey, mpesa.WithMarket(mpesa.MarketTanzania))
//
// For the Mozambique gateway:
//
//	c, err := mpesa.NewClient(apiKey,
//		mpesa.WithGateway(mpesa.GatewayMozambique),
//		mpesa.WithPublicKey(publicKey))
//
// Every invalid option is reported, each by its name; the error never
// contains the API key.
func NewClient(apiKey string, opts ...Option) (*Client, error) {
	s := settings{
		paymentTimeout:   DefaultPaymentTimeout,
		queryTimeout:     DefaultQueryTimeout,
		maxRetries:       DefaultMaxRetries,
		backoffBase:      DefaultRetryBackoff,
		backoffMax:       DefaultMaxRetryBackoff,
		sessionLifetime:  DefaultSessionLifetime,
		activationWindow: DefaultSessionActivation,
		reconcileBase:    2 * time.Second,
		reconcileMax:     30 * time.Second,
	}
	var errs []error
	if strings.TrimSpace(apiKey) == "" {
		errs = append(errs, errors.New("mpesa: apiKey: empty"))
	} else if !isHeaderValue(apiKey) {
		errs = append(errs, errors.New("mpesa: apiKey: contains control characters"))
	}
	for _, o := range opts {
		if o == nil {
			errs = append(errs, errors.New("mpesa: nil Option"))
			continue
		}
		if err := o(&s); err != nil {
			errs = append(errs, err)
		}
	}
	switch s.gateway {
	case GatewayOpenAPI:
		if s.market == "" {
			errs = append(errs, errors.New("mpesa: WithMarket: a market is required on the OpenAPI gateway"))
		}
		if s.publicKey == nil {
			pub, err := ParsePublicKey(OpenAPISandboxPublicKey)
			if err != nil {
				panic("mpesa: embedded OpenAPI public key: " + err.Error())
			}
			s.publicKey = pub
		}
		if s.origin == "" {
			s.origin = OriginOpenAPI
		}
	case GatewayMozambique:
		if s.market != "" && s.market != MarketMozambique {
			errs = append(errs, fmt.Errorf("mpesa: WithMarket: the Mozambique gateway serves %s only, not %s", MarketMozambique, s.market))
		}
		s.market = MarketMozambique
		if s.publicKey == nil {
			errs = append(errs, errors.New("mpesa: WithPublicKey: the Mozambique gateway needs its public key (from the developer portal)"))
		}
		if s.origin == "" {
			s.origin = OriginMozambique
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if s.currency == "" {
		s.currency = s.market.Currency()
	}
	if s.userAgent == "" {
		s.userAgent = "mpesa-go/" + Version
	}
	if s.logger == nil {
		s.logger = slog.New(discardHandler{})
	}

	c := &Client{
		gateway:          s.gateway,
		env:              s.env,
		market:           s.market,
		currency:         s.currency,
		originHdr:        []string{s.origin},
		uaHdr:            []string{s.userAgent},
		logger:           s.logger,
		paymentTimeout:   s.paymentTimeout,
		queryTimeout:     s.queryTimeout,
		maxRetries:       s.maxRetries,
		backoffBase:      s.backoffBase,
		backoffMax:       s.backoffMax,
		activationWindow: s.activationWindow,

		serviceProviderCode: s.serviceProviderCode,
		initiatorID:         s.initiatorID,
		reconcileBase:       s.reconcileBase,
		reconcileMax:        s.reconcileMax,

		now: time.Now,
	}
	for a := API(1); a < apiCount; a++ {
		if a.offeredBy(c.gateway) {
			c.urls[a] = endpointURL(c.gateway, c.env, c.market, s.baseURL, a)
		}
	}
	c.http = newHTTPClient(s.httpClient)
	if s.httpClient != nil && s.httpClient.Timeout > 0 && s.httpClient.Timeout < s.paymentTimeout {
		c.logger.Warn("mpesa: the http.Client timeout is shorter than the payment timeout; a C2B call may be cut while the customer is still typing the PIN",
			slog.Duration("http_client_timeout", s.httpClient.Timeout),
			slog.Duration("payment_timeout", s.paymentTimeout))
	}

	bearer, err := encryptBearer(s.publicKey, apiKey)
	if err != nil {
		return nil, fmt.Errorf("mpesa: apiKey: %w", err)
	}
	c.cred = &credentials{apiKey: apiKey, pub: s.publicKey, keyAuthz: []string{"Bearer " + bearer},
		securityCredential: s.securityCredential}
	if c.gateway == GatewayOpenAPI {
		c.sessions = newSessionCache(c, s.sessionLifetime, s.activationWindow)
	}
	return c, nil
}

// newHTTPClient returns the client the transport uses: a copy of the user's,
// or a default with a cookie jar. Neither follows redirects.
func newHTTPClient(user *http.Client) *http.Client {
	var hc http.Client
	if user != nil {
		hc = *user
	} else {
		jar, _ := cookiejar.New(nil) // never fails without options
		hc = http.Client{
			Jar: jar,
			Transport: &http.Transport{
				Proxy:                 http.ProxyFromEnvironment,
				DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				ForceAttemptHTTP2:     true,
				MaxIdleConns:          100,
				MaxIdleConnsPerHost:   16,
				IdleConnTimeout:       90 * time.Second,
				TLSHandshakeTimeout:   10 * time.Second,
				ExpectContinueTimeout: time.Second,
				TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
			},
		}
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &hc
}

// discardHandler is a slog.Handler that drops everything (slog.DiscardHandler
// needs Go 1.24).
type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }

// wireOutput is the union of the output_* fields of every answer of both
// gateways. Values are decoded from JSON strings, numbers or booleans.
type wireOutput struct {
	ResponseCode              flexString `json:"output_ResponseCode"`
	ResponseDesc              flexString `json:"output_ResponseDesc"`
	Error                     flexString `json:"output_error"`
	SessionID                 flexString `json:"output_SessionID"`
	ConversationID            flexString `json:"output_ConversationID"`
	TransactionID             flexString `json:"output_TransactionID"`
	ThirdPartyConversationID  flexString `json:"output_ThirdPartyConversationID"`
	ThirdPartyReference       flexString `json:"output_ThirdPartyReference"`
	ResponseTransactionStatus flexString `json:"output_ResponseTransactionStatus"`
	OriginalTransactionID     flexString `json:"output_OriginalTransactionID"`
	Reversed                  flexString `json:"output_Reversed"`
	TransactionReference      flexString `json:"output_TransactionReference"`
	MsisdnToken               flexString `json:"output_MsisdnToken"`
	MandateID                 flexString `json:"output_MandateID"`
	MandateStatus             flexString `json:"output_MandateStatus"`
	AccountStatus             flexString `json:"output_AccountStatus"`
	SufficientBalance         flexString `json:"output_SufficientBalance"`
	FirstPaymentDate          flexString `json:"output_FirstPaymentDate"`
	Frequency                 flexString `json:"output_Frequency"`
	PaymentDayFrom            flexString `json:"output_PaymentDayFrom"`
	PaymentDayTo              flexString `json:"output_PaymentDayTo"`
	ExpiryDate                flexString `json:"output_ExpiryDate"`
	CustomerFirstName         flexString `json:"output_CustomerFirstName"`
	CustomerLastName          flexString `json:"output_CustomerLastName"`
	CustomerName              flexString `json:"output_CustomerName"`
	FirstName                 flexString `json:"output_FirstName"`
	SecondName                flexString `json:"output_SecondName"`
}

// reference returns the caller's reference as the answer states it.
func (o *wireOutput) reference() string {
	if o.ThirdPartyConversationID != "" {
		return string(o.ThirdPartyConversationID)
	}
	return string(o.ThirdPartyReference)
}

// flexString decodes a JSON string, number or boolean into a string, and
// null into "". The documents show every value as a string, but a gateway
// that sends a number or a boolean must not break the decoding of a payment.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '"':
		if bytes.IndexByte(b, '\\') < 0 {
			*f = flexString(b[1 : len(b)-1])
			return nil
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case 'n':
		*f = ""
	case '{', '[':
		// An object where a string belongs: keep it verbatim rather than
		// fail the whole answer.
		*f = flexString(b)
	default:
		*f = flexString(b)
	}
	return nil
}

// do performs one logical call: it encodes params once, authorises, sends,
// decodes, and retries within the rules documented on Client. ref is the
// caller's reference, put into every error.
func (c *Client) do(ctx context.Context, api API, params []wire.Param, ref string) (*wireOutput, error) {
	if err := c.unsupported(api, ref); err != nil {
		return nil, err
	}
	method := api.Method()
	target := c.urls[api]
	var body []byte
	timeout := c.paymentTimeout
	if api.isQuery() {
		timeout = c.queryTimeout
		if len(params) > 0 {
			target += "?" + wire.Query(params)
		}
	} else {
		body = wire.AppendJSON(make([]byte, 0, wire.JSONLen(params)), params)
	}

	retries, warmups := 0, 0
	refreshed := false
	for attempt := 1; ; attempt++ {
		authz, sess, err := c.authorization(ctx, api)
		if err != nil {
			return nil, c.sessionError(api, ref, err)
		}
		out, e := c.attempt(ctx, api, method, target, body, authz, timeout, ref, attempt)
		if e == nil {
			if sess != nil {
				sess.live.Store(true)
			}
			return out, nil
		}
		if ctx.Err() != nil {
			c.notRetrying(ctx, e, attempt, "the caller's context is done")
			return nil, e
		}
		if e.retryable {
			if retries >= c.maxRetries {
				c.notRetrying(ctx, e, attempt, "retry limit reached")
				return nil, e
			}
			retries++
			if !c.pause(ctx, e, attempt, c.backoff(retries), e.retryReason) {
				return nil, e
			}
			continue
		}
		if sess != nil && e.Code == "INS-2" {
			// The gateway refused the session, not the payment: the
			// request was not processed, so sending it again is safe.
			if !sess.live.Load() {
				if left := sess.obtained.Add(c.activationWindow).Sub(c.now()); left > 0 {
					warmups++
					if !c.pause(ctx, e, attempt, min(c.backoff(warmups), left), "a new session may take up to 30s to become live") {
						return nil, e
					}
					continue
				}
			}
			if !refreshed {
				refreshed = true
				c.sessions.invalidate(sess)
				c.debug(ctx, "mpesa: session refused; fetching a new one and sending again", e, attempt)
				continue
			}
			c.notRetrying(ctx, e, attempt, "a fresh session was refused too")
			return nil, e
		}
		c.notRetrying(ctx, e, attempt, e.finalReason())
		return nil, e
	}
}

// sessionError reports that no session could be obtained for a call of
// api. The gateway's answer to getSession (status, code, description, the
// sentinels it matches) is lifted onto the error of the product call, so
// that errors.As finds it on the one *Error a caller looks at; the message
// says the failure happened in getSession. Nothing of the product call was
// sent.
func (c *Client) sessionError(api API, ref string, err error) *Error {
	var inner *Error
	if !errors.As(err, &inner) {
		return c.newError(api, ref, nil, err) // the caller's context, for one
	}
	e := &Error{
		Gateway:                  c.gateway,
		API:                      api,
		HTTPStatus:               inner.HTTPStatus,
		Code:                     inner.Code,
		Description:              inner.Description,
		ThirdPartyConversationID: ref,
		Excerpt:                  inner.Excerpt,
		kinds:                    append([]error(nil), inner.kinds...),
	}
	if inner.Err != nil {
		e.Err = fmt.Errorf("getSession: %w", inner.Err)
	} else {
		e.Err = errors.New("getSession failed")
	}
	e.add(ErrSessionCreation)
	return e
}

// unsupported returns an error matching ErrNotSupported when the client's
// gateway does not offer api.
func (c *Client) unsupported(api API, ref string) error {
	if api.offeredBy(c.gateway) {
		return nil
	}
	return c.newError(api, ref, ErrNotSupported, nil)
}

// authorization returns the Authorization header value for a call of api and
// the session it belongs to (nil when the API key itself is the bearer).
func (c *Client) authorization(ctx context.Context, api API) ([]string, *session, error) {
	if c.sessions == nil || api == APIGetSession {
		return c.cred.keyAuthz, nil, nil
	}
	s, err := c.sessions.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	return s.authz, s, nil
}

// backoff returns the wait before retry n (1-based): full jitter over an
// exponentially growing cap.
func (c *Client) backoff(n int) time.Duration {
	d := c.backoffMax
	if n < 30 {
		if capped := c.backoffBase << (n - 1); capped > 0 && capped < d {
			d = capped
		}
	}
	return rand.N(d + 1)
}

// pause waits d unless ctx ends first; it logs why it retries.
func (c *Client) pause(ctx context.Context, e *Error, attempt int, d time.Duration, reason string) bool {
	if c.logger.Enabled(ctx, slog.LevelDebug) {
		c.logger.LogAttrs(ctx, slog.LevelDebug, "mpesa: retrying",
			slog.String("api", e.API.String()), slog.Int("attempt", attempt),
			slog.String("reason", reason), slog.Duration("wait", d), slog.String("error", e.Error()))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		c.notRetrying(ctx, e, attempt, "the caller's context ended during the backoff")
		return false
	}
}

func (c *Client) notRetrying(ctx context.Context, e *Error, attempt int, reason string) {
	if c.logger.Enabled(ctx, slog.LevelDebug) {
		c.logger.LogAttrs(ctx, slog.LevelDebug, "mpesa: not retrying",
			slog.String("api", e.API.String()), slog.Int("attempt", attempt),
			slog.String("reason", reason), slog.String("error", e.Error()))
	}
}

func (c *Client) debug(ctx context.Context, msg string, e *Error, attempt int) {
	if c.logger.Enabled(ctx, slog.LevelDebug) {
		c.logger.LogAttrs(ctx, slog.LevelDebug, msg,
			slog.String("api", e.API.String()), slog.Int("attempt", attempt), slog.String("error", e.Error()))
	}
}

// connTrace records whether the transport obtained a connection. When it
// asked for one (GetConn) and never got it (GotConn), nothing was written:
// the failure was in DNS, dial, proxy or TLS.
type connTrace struct {
	getConn, gotConn atomic.Bool
	trace            httptrace.ClientTrace
}

func (t *connTrace) init() *httptrace.ClientTrace {
	t.trace.GetConn = func(string) { t.getConn.Store(true) }
	t.trace.GotConn = func(httptrace.GotConnInfo) { t.gotConn.Store(true) }
	return &t.trace
}

// neverSent reports whether a transport error proves the request was not
// written: by the trace, or, for a RoundTripper that does not report trace
// events, by the type of the error.
func (t *connTrace) neverSent(err error) bool {
	if t.getConn.Load() {
		return !t.gotConn.Load()
	}
	return preConnectError(err)
}

// preConnectError reports whether err happened before a connection existed.
func preConnectError(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && (opErr.Op == "dial" || opErr.Op == "proxyconnect") {
		return true
	}
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	return errors.As(err, &certErr) || errors.As(err, &recErr)
}

// attempt sends the request once and interprets the answer. A nil *Error
// means success.
func (c *Client) attempt(ctx context.Context, api API, method, target string, body []byte, authz []string, timeout time.Duration, ref string, attempt int) (*wireOutput, *Error) {
	var tr connTrace
	actx, cancel := context.WithTimeout(httptrace.WithClientTrace(ctx, tr.init()), timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, target, rd)
	if err != nil {
		return nil, c.newError(api, ref, nil, err)
	}
	req.Header = http.Header{
		"Content-Type":  jsonHdr,
		"Accept":        jsonHdr,
		"Authorization": authz,
		"Origin":        c.originHdr,
		"User-Agent":    c.uaHdr,
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		e := c.newError(api, ref, nil, scrubURLError(err))
		switch {
		case tr.neverSent(err):
			e.retryable, e.retryReason = true, "the request never left: no connection was made"
		case api.isQuery():
			e.retryable, e.retryReason = true, "a query failed in transit"
		default:
			e.add(ErrOutcomeUnknown)
		}
		c.logAttempt(ctx, api, attempt, 0, "", time.Since(start), ref, e)
		return nil, e
	}
	data, readErr := readBody(resp)
	resp.Body.Close()
	out, e := c.interpret(api, ref, resp.StatusCode, data, readErr)
	code := ""
	if out != nil {
		code = string(out.ResponseCode)
	}
	c.logAttempt(ctx, api, attempt, resp.StatusCode, code, time.Since(start), ref, e)
	return out, e
}

var jsonHdr = []string{"application/json"}

func (c *Client) logAttempt(ctx context.Context, api API, attempt, status int, code string, d time.Duration, ref string, e *Error) {
	if !c.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("api", api.String()), slog.Int("attempt", attempt),
		slog.Int("status", status), slog.String("code", code),
		slog.Duration("duration", d), slog.String("reference", ref),
	}
	if e != nil {
		attrs = append(attrs, slog.String("error", e.Error()))
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "mpesa: attempt", attrs...)
}

// readBody reads at most maxBodyBytes+1 bytes of the answer.
func readBody(resp *http.Response) ([]byte, error) {
	if resp.ContentLength > maxBodyBytes {
		buf := make([]byte, excerptBytes)
		n, _ := io.ReadFull(resp.Body, buf)
		return buf[:n], errBodyTooLarge
	}
	size := 512
	if resp.ContentLength > 0 {
		size = int(resp.ContentLength) + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	_, err := buf.ReadFrom(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err == nil && buf.Len() > maxBodyBytes {
		err = errBodyTooLarge
	}
	return buf.Bytes(), err
}

var errBodyTooLarge = fmt.Errorf("body larger than %d KiB", maxBodyBytes>>10)

// interpret turns an answer into the decoded output or an *Error.
func (c *Client) interpret(api API, ref string, status int, data []byte, readErr error) (*wireOutput, *Error) {
	payment := !api.isQuery()
	unexpected := func(cause error) (*wireOutput, *Error) {
		e := c.newError(api, ref, ErrUnexpectedResponse, cause)
		e.HTTPStatus = status
		e.Excerpt = redact.Excerpt(data, excerptBytes, c.secrets()...)
		// A success status or a proxy's 5xx: the gateway may have processed
		// the request. A 3xx or 4xx page comes from something in front of
		// the gateway that refused it, and sending it again will not help.
		if status < 300 || status >= 500 || readErr != nil {
			if payment {
				e.add(ErrOutcomeUnknown)
			} else {
				e.retryable, e.retryReason = true, "a query got an unusable answer"
			}
		}
		return nil, e
	}
	if readErr != nil {
		return unexpected(readErr)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return unexpected(errors.New("empty body"))
	}
	out := new(wireOutput)
	if err := json.Unmarshal(data, out); err != nil {
		return unexpected(err)
	}
	code := strings.TrimSpace(string(out.ResponseCode))
	if code == "" {
		if out.Error != "" {
			// {"output_error": "..."}: how the Mozambique gateway answers
			// a bad key or a missing Origin. Nothing was processed.
			e := c.newError(api, ref, nil, nil)
			e.HTTPStatus = status
			e.Description = redact.Text(string(out.Error))
			if status == http.StatusUnauthorized || status == http.StatusForbidden {
				e.add(ErrUnauthorized)
			}
			return out, e
		}
		return unexpected(errors.New("no output_ResponseCode"))
	}
	if isSuccessCode(code) {
		if status >= 200 && status < 300 {
			return out, nil
		}
		return unexpected(fmt.Errorf("success code %s with HTTP status %d", code, status))
	}
	info, known := LookupCode(c.gateway, api, code)
	e := c.newError(api, ref, info.Kind, nil)
	e.HTTPStatus = status
	e.Code = code
	e.Description = redact.Text(string(out.ResponseDesc))
	if e.Description == "" && known {
		e.Description = info.Description
	}
	e.ConversationID = string(out.ConversationID)
	e.TransactionID = string(out.TransactionID)
	if r := out.reference(); r != "" {
		e.ThirdPartyConversationID = r
	}
	// A documented code with a meaning of its own (a parameter problem, a
	// business outcome) is the gateway's decision even under a 5xx: the
	// portal pairs INS-57 and query direct debit's INS-52 with 500. Sending
	// it again gets the same answer, and its outcome is known.
	decided := known && info.Kind != nil && info.Kind != ErrInternal && info.Kind != ErrOverloaded
	switch {
	case code == "INS-16" && (status == http.StatusServiceUnavailable || !payment):
		e.retryable, e.retryReason = true, "the gateway was overloaded and did not process the request (INS-16)"
	case decided:
	case !payment && status >= 500:
		e.retryable, e.retryReason = true, "a query got a server error"
	case payment && (code == "INS-1" || status >= 500):
		e.add(ErrOutcomeUnknown)
	}
	return out, e
}

// secrets returns the values no excerpt may contain.
func (c *Client) secrets() []string {
	s := []string{c.cred.apiKey, strings.TrimPrefix(c.cred.keyAuthz[0], "Bearer "), string(c.cred.securityCredential)}
	if c.sessions != nil {
		s = append(s, c.sessions.secrets()...)
	}
	return s
}

// newError returns an *Error of this client for api.
func (c *Client) newError(api API, ref string, kind, cause error) *Error {
	e := &Error{Gateway: c.gateway, API: api, ThirdPartyConversationID: ref, Err: cause}
	e.add(kind)
	return e
}

// scrubURLError removes the query from the URL of a *url.Error: the query of
// a GET holds parameters such as the customer's MSISDN.
func scrubURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	if i := strings.IndexByte(ue.URL, '?'); i >= 0 {
		return &url.Error{Op: ue.Op, URL: ue.URL[:i], Err: ue.Err}
	}
	return err
}

func isHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}
