package mpesa

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa/internal/redact"
)

// Version is the version of this module; the default User-Agent is
// "mpesa-go/" + Version.
const Version = "0.2.0"

// Defaults of the options.
const (
	// DefaultPaymentTimeout bounds one attempt of a call that moves money.
	// The Mozambique gateway keeps a C2B call open while the USSD PIN
	// prompt is on the customer's phone; 66 to more than 90 seconds have
	// been observed, and a shorter timeout marks paid transactions failed.
	DefaultPaymentTimeout = 150 * time.Second
	// DefaultQueryTimeout bounds one attempt of a query.
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

// Client calls one M-Pesa gateway. It is safe for concurrent use and meant to
// be created once and shared: it caches the gateway's session or token and
// the encrypted credentials.
//
// Retries. A call is sent again automatically only when that cannot move
// money twice:
//   - a query after a network error, a 5xx answer or INS-16, and after a
//     429 once its Retry-After has passed;
//   - any call whose request provably never left (no connection was made,
//     or one was but nothing of the request was written), that an HTTP/2
//     server refused with REFUSED_STREAM, or that the gateway answered with
//     503 INS-16 ("temporary overloading": not processed);
//   - a call whose session or token the gateway refused: the refused
//     credential alone is dropped, a new one fetched, and the call sent
//     once more (OpenAPI also retries, with backoff, while a new session
//     becomes live: up to 30 seconds, per the portal).
//
// Every resend carries the byte-identical body, hence the same reference,
// and net/http never resends a body on its own (not even HTTP/2 after a
// reset). Nothing else is retried: not 401 INS-5 or INS-6 (a resend would
// push a second PIN prompt), 408 INS-9, 409 INS-10 or any other refusal. A
// payment whose request was written but whose answer never came, or whose
// answer says nothing certain about it, returns an error matching
// ErrOutcomeUnknown. All calls of a client share a retry budget
// (WithRetryBudget), so that a failing gateway is not flooded with retries.
//
// On Daraja the same rules hold with Daraja's codes (docs/gateways.md X3):
// spike arrest and quota answers (500.003.02, 500.003.03, sent with HTTP
// 500) are resent as INS-16 is, except an STK push, whose every resend is a
// new prompt on the customer's phone (docs/gateways.md D10); a refused
// token (404.001.03, 400.003.01, 401.002.01) is dropped alone and the call
// sent once more with a new one; 500.002.1001, a reused B2C
// OriginatorConversationID, is ErrDuplicate.
type Client struct {
	gateway  Gateway
	env      Environment
	market   Market
	currency string
	d        dialect

	// header holds the headers every call carries but Authorization.
	header http.Header
	http   *http.Client
	logger *slog.Logger

	paymentTimeout time.Duration
	queryTimeout   time.Duration
	maxRetries     int
	backoffBase    time.Duration
	backoffMax     time.Duration
	maxRetryAfter  time.Duration
	budget         *retryBudget

	// Request defaults.
	serviceProviderCode string
	reconcileBase       time.Duration
	reconcileMax        time.Duration

	now func() time.Time
}

// String describes the client without its secrets.
func (c *Client) String() string {
	if c == nil {
		return "mpesa.Client(nil)"
	}
	var b strings.Builder
	b.WriteString("mpesa.Client{gateway: ")
	b.WriteString(c.gateway.String())
	b.WriteString(", environment: ")
	b.WriteString(c.env.String())
	if c.market != "" {
		b.WriteString(", market: ")
		b.WriteString(string(c.market))
	}
	b.WriteString(", credentials: ")
	b.WriteString(redact.Mask)
	b.WriteByte('}')
	return b.String()
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

// Currency returns the currency requests are made in.
func (c *Client) Currency() string { return c.currency }

// NewClient returns a client that authenticates with apiKey: the API key of
// an OpenAPI v2 or Mozambique application. Without options it speaks to the
// OpenAPI sandbox, which also needs WithMarket:
//
//	c, err := mpesa.NewClient(apiKey, mpesa.WithMarket(mpesa.MarketTanzania))
//
// For the Mozambique gateway:
//
//	c, err := mpesa.NewClient(apiKey,
//		mpesa.WithGateway(mpesa.GatewayMozambique),
//		mpesa.WithPublicKey(publicKey))
//
// For Daraja (Kenya), apiKey is the Daraja app's consumer key:
//
//	c, err := mpesa.NewClient(consumerKey,
//		mpesa.WithGateway(mpesa.GatewayDaraja),
//		mpesa.WithConsumerSecret(consumerSecret),
//		mpesa.WithServiceProviderCode(shortcode),
//		mpesa.WithPasskey(passkey),
//		mpesa.WithInitiator(initiatorName, initiatorPassword),
//		mpesa.WithResultURL(resultURL),
//		mpesa.WithQueueTimeoutURL(timeoutURL))
//
// Every invalid option is reported, each by its name; the error never
// contains a secret.
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
		retryBurst:       DefaultRetryBurst,
		retryRefill:      DefaultRetryRefill,
		apiKey:           apiKey,
	}
	var errs []error
	for _, o := range opts {
		if o == nil {
			errs = append(errs, errors.New("mpesa: nil Option"))
			continue
		}
		if err := o(&s); err != nil {
			errs = append(errs, err)
		}
	}
	if s.userAgent == "" {
		s.userAgent = "mpesa-go/" + Version
	}
	if s.logger == nil {
		s.logger = slog.New(discardHandler{})
	}
	c := &Client{
		gateway:             s.gateway,
		env:                 s.env,
		logger:              s.logger,
		paymentTimeout:      s.paymentTimeout,
		queryTimeout:        s.queryTimeout,
		maxRetries:          s.maxRetries,
		backoffBase:         s.backoffBase,
		backoffMax:          s.backoffMax,
		maxRetryAfter:       DefaultMaxRetryAfter,
		budget:              newRetryBudget(s.retryBurst, s.retryRefill),
		serviceProviderCode: s.serviceProviderCode,
		reconcileBase:       s.reconcileBase,
		reconcileMax:        s.reconcileMax,
		http:                newHTTPClient(s.httpClient),
		header: http.Header{
			"Content-Type": jsonHdr,
			"Accept":       jsonHdr,
			"User-Agent":   {s.userAgent},
		},
		now: time.Now,
	}
	d, gwErrs := gateways[s.gateway].build(c, &s)
	errs = append(errs, gwErrs...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.d = d
	if s.httpClient != nil && s.httpClient.Timeout > 0 && s.httpClient.Timeout < s.paymentTimeout {
		c.logger.Warn("mpesa: the http.Client timeout is shorter than the payment timeout; a C2B call may be cut while the customer is still typing the PIN",
			slog.Duration("http_client_timeout", s.httpClient.Timeout),
			slog.Duration("payment_timeout", s.paymentTimeout))
	}
	return c, nil
}

var jsonHdr = []string{"application/json"}

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
