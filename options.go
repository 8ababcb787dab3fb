package mpesa

import (
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa/internal/validate"
)

// An Option configures a Client. Options are validated by NewClient, which
// reports every bad one, each by name.
type Option func(*settings) error

type settings struct {
	apiKey           string
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
	retryBurst          int
	retryRefill         float64
	currencySet         bool
	credentialStore     CredentialStore

	// Daraja.
	consumerSecret  Secret
	passkey         Secret
	resultURL       string
	queueTimeoutURL string
	c2bVersion      int
	certificate     *rsa.PublicKey
	results         *Results
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
// on GatewayMozambique only MarketMozambique is accepted, on GatewayDaraja
// only MarketKenya (the default there), which GatewayOpenAPI refuses.
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
		s.currency, s.currencySet = code, true
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
// the key is required. On GatewayDaraja it replaces the key of the embedded
// certificate, as WithCertificate does.
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
// direct debit and name queries, and the PrimaryPartyCode of B2B. NewClient
// checks it with the gateway's rule. On Daraja it is the business
// shortcode (pay bill, or the head-office number of a till), also the
// default of AccountBalance, RegisterC2BURLs, SimulateC2B and the pull
// requests.
func WithServiceProviderCode(code string) Option {
	return func(s *settings) error {
		if code == "" {
			return optionError("WithServiceProviderCode", "empty shortcode")
		}
		s.serviceProviderCode = code
		return nil
	}
}

// WithInitiator sets the initiator identifier and security credential that
// Mozambique reversals need (input_InitiatorIdentifier,
// input_SecurityCredential) when a ReversalRequest leaves them empty. Both
// are issued by Vodacom. The credential is kept as a Secret.
//
// On Daraja it is the initiator name and the initiator's password in
// clear, as set on the M-Pesa business portal: B2C, B2B, reversal,
// transaction status and account balance need them. The client encrypts
// the password into the SecurityCredential once, in NewClient, with
// Safaricom's certificate of the environment (or WithCertificate).
func WithInitiator(identifier string, credential Secret) Option {
	return func(s *settings) error {
		if !validate.Text(identifier, 1, 1<<10) || !validate.Text(string(credential), 1, 1<<10) {
			return optionError("WithInitiator", "identifier and credential must both be set, as valid UTF-8 without control characters")
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

// WithRetryBudget bounds the retries of all calls of the client together:
// up to burst retries at once, and perSecond more each second. When a
// gateway fails every call, the first calls retry and the later ones fail at
// once instead of multiplying the traffic. Defaults DefaultRetryBurst and
// DefaultRetryRefill; WithRetryBudget(0, 0) turns retries off.
func WithRetryBudget(burst int, perSecond float64) Option {
	return func(s *settings) error {
		if burst < 0 || perSecond < 0 || burst > 1e6 || perSecond > 1e6 {
			return optionError("WithRetryBudget", "want 0 <= burst and 0 <= perSecond, got %d and %v", burst, perSecond)
		}
		s.retryBurst, s.retryRefill = burst, perSecond
		return nil
	}
}

func optionError(name, format string, args ...any) error {
	return fmt.Errorf("mpesa: %s: %s", name, fmt.Sprintf(format, args...))
}

func isHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// WithConsumerSecret sets the consumer secret of the Daraja app; the
// consumer key is NewClient's first argument. Required on GatewayDaraja.
func WithConsumerSecret(secret Secret) Option {
	return func(s *settings) error {
		if !validate.Text(string(secret), 1, 1<<10) {
			return optionError("WithConsumerSecret", "the secret must be set, as valid UTF-8 without control characters")
		}
		s.consumerSecret = secret
		return nil
	}
}

// WithPasskey sets the Lipa na M-Pesa Online passkey of the shortcode
// (WithServiceProviderCode), which the STK push (C2B) and STK query need on
// GatewayDaraja. Safaricom e-mails it after go-live; the sandbox shortcode
// 174379 has a public one.
func WithPasskey(passkey Secret) Option {
	return func(s *settings) error {
		if !validate.Text(string(passkey), 1, 1<<10) {
			return optionError("WithPasskey", "the passkey must be set, as valid UTF-8 without control characters")
		}
		s.passkey = passkey
		return nil
	}
}

// WithResultURL sets the URL Daraja posts results to when a request names
// none: the ResultURL of B2C, B2B, reversal, transaction status and account
// balance, and the CallBackURL of an STK push. NewClient checks it with
// Daraja's rules: HTTPS in production, no spaces, none of the words
// Daraja refuses (M-PESA, mpesa, Safaricom, exe, exec, cmd, SQL, query),
// and in production no ngrok, mockbin or requestbin host
// (docs/gateways.md D26).
func WithResultURL(rawURL string) Option {
	return func(s *settings) error {
		if rawURL == "" {
			return optionError("WithResultURL", "empty URL")
		}
		s.resultURL = rawURL
		return nil
	}
}

// WithQueueTimeoutURL sets the URL Daraja posts to when a request timed out
// in its queue (QueueTimeOutURL), for requests that name none; checked as
// WithResultURL. Such a notification means the outcome is unknown:
// reconcile before anything else.
func WithQueueTimeoutURL(rawURL string) Option {
	return func(s *settings) error {
		if rawURL == "" {
			return optionError("WithQueueTimeoutURL", "empty URL")
		}
		s.queueTimeoutURL = rawURL
		return nil
	}
}

// WithC2BVersion selects the version of Daraja's C2B register URL and
// simulate APIs, 1 or 2. Which one works depends on the API products
// enabled on the Daraja app; the wrong one answers ErrAPINotEnabled
// (401.003.01). Default 2 (docs/gateways.md D5).
func WithC2BVersion(version int) Option {
	return func(s *settings) error {
		if version != 1 && version != 2 {
			return optionError("WithC2BVersion", "%d is not 1 or 2", version)
		}
		s.c2bVersion = version
		return nil
	}
}

// WithCertificate sets the certificate whose RSA public key encrypts the
// Daraja SecurityCredential, in PEM or as base64 DER, should Safaricom
// publish another one. By default the client uses the certificate of the
// environment that Safaricom's developer portal publishes, embedded in the
// package. Dates and chain are never checked: the published certificates
// expired long ago and are still the ones Daraja uses (docs/gateways.md
// D11).
func WithCertificate(cert string) Option {
	return func(s *settings) error {
		pub, err := parseCertificateKey([]byte(cert))
		if err != nil {
			return optionError("WithCertificate", "%v", err)
		}
		s.certificate = pub
		return nil
	}
}

// WithResults gives the client the hub its result Handler feeds
// (FeedResults), so that Reconcile can wait there for a status that comes
// by callback: Daraja's transaction status API answers only with an
// acceptance, and posts the state to the ResultURL. Without it, Reconcile
// returns that acceptance (Async reports true). See Reconcile.
func WithResults(hub *Results) Option {
	return func(s *settings) error {
		if hub == nil {
			return optionError("WithResults", "nil *Results")
		}
		s.results = hub
		return nil
	}
}
