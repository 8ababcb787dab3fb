package mpesatest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpesa-go/mpesa"
)

// Defaults of the options.
const (
	// DefaultSessionLifetime is how long an OpenAPI session stays valid
	// unless WithSessionLifetime says otherwise.
	DefaultSessionLifetime = time.Hour
	// OriginMozambique is the Origin every Mozambique call must carry.
	OriginMozambique = "developer.mpesa.vm.co.mz"
	// OpenAPIServiceProviderCode and MozambiqueServiceProviderCode are the
	// business shortcodes of the documents' samples; Options configures
	// clients with them. Any shortcode that matches the documented rule
	// is accepted.
	OpenAPIServiceProviderCode    = "000000"
	MozambiqueServiceProviderCode = "171717"
	// MozambiqueInitiatorIdentifier and MozambiqueSecurityCredential are
	// the reversal credentials the Mozambique gateway accepts unless
	// WithInitiator sets others (the values of the document's example).
	MozambiqueInitiatorIdentifier = "MPesa2018"
	MozambiqueSecurityCredential  = "Mpesa2019"
)

// Server is a running simulator of the gateways. Create it with NewServer
// and stop it with Close. Its methods are safe for concurrent use.
type Server struct {
	ts *httptest.Server
	// mozServers are the per-API Mozambique listeners of
	// WithMozambiquePorts, nil without it.
	mozServers map[mpesa.API]*httptest.Server
	key        *rsa.PrivateKey
	pubB64     string
	cfg        config
	dj         *darajaState // the Daraja gateway (daraja.go)

	// ctx ends when Close starts; deliveries and hanging handlers watch it.
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
	wg        sync.WaitGroup // callback deliveries

	sessionCalls atomic.Int64
	decryptions  atomic.Int64

	mu        sync.Mutex
	closed    bool
	sessions  map[string]*session
	customers map[string]Customer
	scenarios map[mpesa.API][]Scenario
	ledger    ledger
	calls     []*Call
	callbacks []*Callback
	// changed is closed and replaced whenever a callback delivery ends,
	// to wake WaitCallbacks.
	changed chan struct{}

	// ext holds the state of the run-time controls (control.go, phone.go,
	// listen.go, events.go).
	ext serverExt
}

type config struct {
	key        *rsa.PrivateKey
	apiKey     string
	origins    []string
	lifetime   time.Duration
	warmup     time.Duration
	now        func() time.Time
	async      *Async
	initiator  string
	credential string
	// logger reports failed callback deliveries; nil means slog.Default()
	// at the time of logging.
	logger *slog.Logger
	// mozPorts is the port of each per-API Mozambique listener (0: any
	// free port); nil when WithMozambiquePorts was not given.
	mozPorts map[mpesa.API]int
	// ext holds the options of the run-time controls (listen.go,
	// phone.go, events.go, control.go).
	ext extConfig
	// daraja is the Daraja gateway's configuration (WithDaraja).
	daraja *Daraja
}

// An Option configures a Server.
type Option func(*config)

// WithKey makes the simulator use key instead of the RSA key it generates
// once per process. Clients must encrypt with its public half (PublicKey).
func WithKey(key *rsa.PrivateKey) Option {
	return func(c *config) { c.key = key }
}

// WithAPIKey sets the API key the simulator accepts. By default every Server
// has a random one; APIKey returns it.
func WithAPIKey(key string) Option {
	return func(c *config) { c.apiKey = key }
}

// WithOrigin sets the origins of the OpenAPI application: the Origin header
// of every OpenAPI call must be one of them. The default, "*", accepts any
// Origin, but the header must be present. Mozambique calls always need
// OriginMozambique.
func WithOrigin(origins ...string) Option {
	return func(c *config) { c.origins = append([]string(nil), origins...) }
}

// WithSessionLifetime sets how long an OpenAPI session is valid after
// getSession issued it (the application's "Session Lifetime" on the
// portal). Default DefaultSessionLifetime.
func WithSessionLifetime(d time.Duration) Option {
	return func(c *config) { c.lifetime = d }
}

// WithSessionWarmup sets how long a new OpenAPI session takes to become live.
// The portal says "up to 30 seconds"; calls made with the session before
// then are refused with 401 INS-2. Default 0, so that tests are fast.
func WithSessionWarmup(d time.Duration) Option {
	return func(c *config) { c.warmup = d }
}

// WithClock makes the simulator read the time from now instead of
// time.Now: for session warm-up and expiry, mandate dates and the journal.
// Delays of callback deliveries still use real timers.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithInitiator sets the InitiatorIdentifier and SecurityCredential that a
// Mozambique reversal must carry. Defaults MozambiqueInitiatorIdentifier and
// MozambiqueSecurityCredential. The credential is an mpesa.Secret, as in
// mpesa.WithInitiator, so that the same value configures both.
func WithInitiator(identifier string, credential mpesa.Secret) Option {
	return func(c *config) { c.initiator, c.credential = identifier, string(credential) }
}

// WithLogger sets the logger that reports every callback delivery attempt
// that failed (Warn level, one line per attempt: the API, the URL without
// its query string, the listener's status and the reason; never a secret or
// a full MSISDN). By default, and with nil, the simulator logs to
// slog.Default() as it is when the attempt fails. A logger whose handler
// discards everything silences the reports:
//
//	mpesatest.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

var (
	defaultKeyOnce sync.Once
	defaultKey     *rsa.PrivateKey
	defaultKeyErr  error
)

// processKey returns the RSA key shared by every Server of the process that
// was not given one: generating a 2048-bit key takes a noticeable fraction
// of a second, too long to pay per test.
func processKey() (*rsa.PrivateKey, error) {
	defaultKeyOnce.Do(func() {
		defaultKey, defaultKeyErr = rsa.GenerateKey(rand.Reader, 2048)
	})
	return defaultKey, defaultKeyErr
}

// NewServer starts a simulator of the gateways on a TLS listener of the
// loopback interface. It panics if the listener or the RSA key cannot be
// made, as httptest.NewServer does: a test cannot go on without them.
func NewServer(opts ...Option) *Server {
	cfg := config{
		origins:    []string{"*"},
		lifetime:   DefaultSessionLifetime,
		now:        time.Now,
		initiator:  MozambiqueInitiatorIdentifier,
		credential: MozambiqueSecurityCredential,
	}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.lifetime <= 0 {
		panic(fmt.Sprintf("mpesatest: WithSessionLifetime(%v): want a positive lifetime", cfg.lifetime))
	}
	if cfg.warmup < 0 {
		panic(fmt.Sprintf("mpesatest: WithSessionWarmup(%v): want zero or more", cfg.warmup))
	}
	if cfg.now == nil {
		panic("mpesatest: WithClock(nil)")
	}
	if len(cfg.origins) == 0 {
		panic("mpesatest: WithOrigin(): want at least one origin")
	}
	if cfg.async != nil {
		a := cfg.async.withDefaults()
		cfg.async = &a
	}
	checkMozambiquePorts(cfg.mozPorts)
	key := cfg.key
	if key == nil {
		k, err := processKey()
		if err != nil {
			panic("mpesatest: generating the RSA key: " + err.Error())
		}
		key = k
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		panic("mpesatest: encoding the public key: " + err.Error())
	}
	if cfg.apiKey == "" {
		cfg.apiKey = randomString(hexLower, 32)
	}

	s := &Server{
		key:       key,
		pubB64:    base64.StdEncoding.EncodeToString(der),
		cfg:       cfg,
		sessions:  make(map[string]*session),
		customers: defaultCustomers(),
		scenarios: make(map[mpesa.API][]Scenario),
		ledger:    newLedger(),
		changed:   make(chan struct{}),
	}
	s.dj = newDarajaState(&cfg, s)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.initExt()
	// HTTP/1.1 only: the reset scenario hijacks the connection, which
	// HTTP/2 does not allow.
	s.ts = s.startListener(cfg.ext.listener, http.HandlerFunc(s.serveHTTP))
	if cfg.mozPorts != nil {
		s.startMozambiqueListeners()
	}
	return s
}

// URL returns the base URL of the simulator ("https://127.0.0.1:port"), for
// mpesa.WithBaseURL. It serves every API of every gateway, told apart by
// path, also when WithMozambiquePorts adds the per-API listeners.
func (s *Server) URL() string { return s.ts.URL }

// Client returns an HTTP client that trusts the simulator's TLS certificate.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// APIKey returns the API key the simulator accepts.
func (s *Server) APIKey() string { return s.cfg.apiKey }

// PublicKey returns the simulator's RSA public key as the portals show keys:
// base64 DER SubjectPublicKeyInfo, for mpesa.WithPublicKey.
func (s *Server) PublicKey() string { return s.pubB64 }

// Options returns the client options that point an mpesa.Client of gateway g
// at the simulator: gateway, base URL, HTTP client, public key, the sample
// shortcode, and on Mozambique the reversal initiator; on OpenAPI the
// session lifetime and, when WithOrigin set one, the application's origin.
// An OpenAPI client still needs mpesa.WithMarket. On Daraja they are those
// of WithDaraja: the consumer secret (the consumer key is APIKey), the
// shortcode, passkey and initiator, Certificate, and the default result
// URLs and environment when set.
func (s *Server) Options(g mpesa.Gateway) []mpesa.Option {
	if g == mpesa.GatewayDaraja {
		return s.darajaOptions()
	}
	opts := []mpesa.Option{
		mpesa.WithGateway(g),
		mpesa.WithBaseURL(s.URL()),
		mpesa.WithHTTPClient(s.Client()),
		mpesa.WithPublicKey(s.PublicKey()),
	}
	if g == mpesa.GatewayMozambique {
		return append(opts,
			mpesa.WithServiceProviderCode(MozambiqueServiceProviderCode),
			mpesa.WithInitiator(s.cfg.initiator, mpesa.Secret(s.cfg.credential)))
	}
	opts = append(opts, mpesa.WithServiceProviderCode(OpenAPIServiceProviderCode))
	if s.cfg.lifetime >= time.Second {
		opts = append(opts, mpesa.WithSessionLifetime(s.cfg.lifetime))
	}
	if o := s.cfg.origins[0]; o != "*" {
		opts = append(opts, mpesa.WithOrigin(o))
	}
	return opts
}

// logger returns the logger of failed deliveries.
func (s *Server) logger() *slog.Logger {
	if s.cfg.logger != nil {
		return s.cfg.logger
	}
	return slog.Default()
}

// Close stops the simulator: calls held by a hang scenario are cut, pending
// callback deliveries are abandoned, and Close returns once every handler and
// every delivery goroutine has ended. It may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()
		s.ts.Close()
		for _, ts := range s.mozServers {
			ts.Close()
		}
		s.wg.Wait()
		if a := s.cfg.async; a != nil && a.ownClient {
			a.Client.CloseIdleConnections()
		}
		s.closeExt()
		s.dj.close()
	})
}

// SessionRequests returns how many getSession calls reached the simulator,
// refused ones included.
func (s *Server) SessionRequests() int { return int(s.sessionCalls.Load()) }

// Decryptions returns how many bearer tokens the simulator has RSA-decrypted.
func (s *Server) Decryptions() int { return int(s.decryptions.Load()) }

// ExpireSessions ends every OpenAPI session issued so far, as the gateway
// does when their lifetime runs out: later calls with them get 401 INS-2.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		ss.expired = true
	}
}

func (s *Server) now() time.Time { return s.cfg.now() }

// notifyLocked wakes everything waiting in WaitCallbacks. s.mu is held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}
