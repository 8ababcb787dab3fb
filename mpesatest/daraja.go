package mpesatest

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/mpesa-go/mpesa"
)

// The Safaricom Daraja gateway (Kenya), played below the same base URL as
// the other two gateways and told apart by path (docs/gateways.md D2, D5).
// This file holds its configuration and state; the routes are in
// daraja_routes.go, the products in daraja_token.go, daraja_stk.go,
// daraja_c2b.go and daraja_results.go, the callbacks in daraja_deliver.go
// and their bodies in daraja_json.go.

// Defaults of the Daraja gateway.
const (
	// DarajaShortcode is the business shortcode of the Daraja sandbox's
	// test data (MpesaExpressSimulate), the default of Daraja.Shortcode.
	DarajaShortcode = "174379"
	// DarajaInitiator is the default initiator name, the sandbox's
	// "testapi".
	DarajaInitiator = "testapi"
	// DefaultTokenLifetime is the expires_in of the Daraja portal page
	// Authorization's sample: 3599 seconds.
	DefaultTokenLifetime = 3599 * time.Second
	// DefaultValidationTimeout is how long M-Pesa waits for the C2B
	// validation answer, "usually < 8 seconds" (docs/gateways.md D13).
	DefaultValidationTimeout = 8 * time.Second
	// DefaultTimestampWindow is how far an STK Timestamp may be from the
	// simulator's clock, either way, before it is refused as invalid.
	// The documents give no window; ten minutes take any honest clock and
	// refuse a timestamp of another time zone, which is hours away
	// (docs/gateways.md D7).
	DefaultTimestampWindow = 10 * time.Minute
)

// Daraja test customers. Each number ends with the STK result code the
// customer's answer to the PIN prompt gives (docs/gateways.md D9), as the
// other gateways' MSISDN constants do; the success number is the sandbox's
// own test MSISDN (docs/gateways.md D14). Any other valid number pays, and
// SetCustomer overrides them: OutcomeCancelled is 1032, OutcomePromptTimeout
// 1037, OutcomeInsufficientBalance 1 and OutcomeRejected 2001 on Daraja.
const (
	// DarajaMSISDNSuccess confirms the prompt: result 0, with the
	// callback's metadata.
	DarajaMSISDNSuccess = "254708374149"
	// DarajaMSISDNCancelled cancels the prompt: 1032 "Request cancelled
	// by user".
	DarajaMSISDNCancelled = "254700001032"
	// DarajaMSISDNUnreachable cannot be reached: 1037 "DS timeout user
	// cannot be reached".
	DarajaMSISDNUnreachable = "254700001037"
	// DarajaMSISDNInsufficientBalance lacks funds: 1 "The balance is
	// insufficient for the transaction".
	DarajaMSISDNInsufficientBalance = "254700000001"
	// DarajaMSISDNWrongPIN enters a wrong PIN: 2001 "The initiator
	// information is invalid".
	DarajaMSISDNWrongPIN = "254700002001"
)

// darajaCustomers are the Daraja test customers, looked up after the ones
// of SetCustomer.
var darajaCustomers = map[string]Outcome{
	DarajaMSISDNSuccess:             OutcomeSuccess,
	DarajaMSISDNCancelled:           OutcomeCancelled,
	DarajaMSISDNUnreachable:         OutcomePromptTimeout,
	DarajaMSISDNInsufficientBalance: OutcomeInsufficientBalance,
	DarajaMSISDNWrongPIN:            OutcomeRejected,
}

// Daraja configures the Safaricom Daraja gateway of the simulator. The zero
// value is the sandbox with random secrets; Server.Daraja returns the
// settings in effect, and Options(mpesa.GatewayDaraja) hands them to a
// client. The consumer key is the server's API key (APIKey, WithAPIKey).
type Daraja struct {
	// Environment is mpesa.Sandbox (the default) or mpesa.Production. In
	// production C2B URLs are registered once, C2B simulate does not
	// exist, and every callback URL must be HTTPS (docs/gateways.md D12,
	// D14, D26); Options then adds mpesa.WithEnvironment(mpesa.Production).
	Environment mpesa.Environment
	// ConsumerSecret is the app's consumer secret. Default: random.
	ConsumerSecret mpesa.Secret
	// Shortcode is the business shortcode the Passkey belongs to: an STK
	// push or query for another one answers 500.001.1001 "Merchant does
	// not exist". Default DarajaShortcode.
	Shortcode string
	// Passkey is the shortcode's Lipa na M-Pesa Online passkey. Default:
	// random.
	Passkey mpesa.Secret
	// Initiator and InitiatorPassword are the initiator's name and
	// password in clear, which the SecurityCredential of B2C, B2B,
	// reversal, status and balance must carry, encrypted with the
	// simulator's key (PublicKey, Certificate). Defaults DarajaInitiator
	// and a random password.
	Initiator         string
	InitiatorPassword mpesa.Secret
	// TokenLifetime is how long an access token lives (expires_in, whole
	// seconds, at least one). Default DefaultTokenLifetime.
	TokenLifetime time.Duration
	// KeepPreviousTokens leaves earlier access tokens valid when a new one
	// is issued. By default each new token invalidates the previous ones,
	// as the Authorization FAQ says (docs/gateways.md D3).
	KeepPreviousTokens bool
	// Delay is the time between an answer and its callback: how long the
	// customer takes with the PIN prompt (the STK query answers "The
	// transaction is being processed" meanwhile), and M-Pesa with a
	// Result. Default: the Delay of WithAsync, else 0.
	Delay time.Duration
	// ValidationTimeout is how long M-Pesa waits for the C2B validation
	// answer before the registered ResponseType applies. Default
	// DefaultValidationTimeout.
	ValidationTimeout time.Duration
	// SkipValidation sends C2B payments to the confirmation URL alone, as
	// M-Pesa does for a shortcode without external validation: the
	// default of a real shortcode, which Safaricom changes on request
	// (docs/gateways.md D13). By default the simulator validates.
	SkipValidation bool
	// TimestampWindow is how far an STK Timestamp, read in East Africa
	// Time, may be from the simulator's clock; farther answers 400.002.02
	// "Bad Request - Invalid Timestamp" (docs/gateways.md D7). Default
	// DefaultTimestampWindow; negative turns the check off, for a test
	// whose WithClock is far from the client's clock.
	TimestampWindow time.Duration
	// C2BVersion is the version of the C2B API product enabled on the
	// app, 1 or 2: calls to the other version answer 401.003.01 "no
	// apiproduct match found" (docs/gateways.md D4, D5). 0, the default,
	// serves both.
	C2BVersion int
	// ResultURL and QueueTimeoutURL are the client's default result URLs,
	// which Options passes on (mpesa.WithResultURL,
	// mpesa.WithQueueTimeoutURL). Defaults: the URL of WithAsync, and
	// ResultURL. The simulator itself always posts to the URLs each
	// request names.
	ResultURL, QueueTimeoutURL string
	// Shapes selects the variations of the callbacks' bodies that
	// Daraja is seen to send (docs/gateways.md D20); see Shape.
	Shapes Shape
}

// WithDaraja configures the Daraja gateway.
func WithDaraja(d Daraja) Option {
	return func(c *config) { c.daraja = &d }
}

// darajaState is what the Daraja gateway remembers. Its maps are guarded by
// Server.mu.
type darajaState struct {
	cfg Daraja
	// client sends the callbacks when WithAsync gives none; Close drops
	// its idle connections.
	client *http.Client
	cert   func() string

	tokens   map[string]*djToken
	stks     map[string]*djSTK     // CheckoutRequestID
	prompts  map[string]*djSTK     // PhoneNumber: the prompt open on the phone
	origins  map[string]bool       // B2C OriginatorConversationIDs taken
	receipts map[string]*djPayment // receipt: money received or paid
	c2bURLs  map[string]*djC2BURLs // shortcode
	pulls    map[string]string     // shortcode: Pull CallBackURL
	payments []*djPayment          // oldest first, for Pull and the balance
	reversed map[string]bool       // receipts reversed
	results  map[string]*djPayment // ConversationID and OriginatorConversationID of a Result
}

// newDarajaState fills in the defaults of d.
func newDarajaState(c *config, s *Server) *darajaState {
	d := Daraja{}
	if c.daraja != nil {
		d = *c.daraja
	}
	if d.Environment != mpesa.Sandbox && d.Environment != mpesa.Production {
		panic(fmt.Sprintf("mpesatest: WithDaraja: unknown environment %v", d.Environment))
	}
	if d.ConsumerSecret == "" {
		d.ConsumerSecret = mpesa.Secret(randomString(alnum, 32))
	}
	if d.Shortcode == "" {
		d.Shortcode = DarajaShortcode
	}
	if d.Passkey == "" {
		d.Passkey = mpesa.Secret(randomString(hexLower, 64))
	}
	if d.Initiator == "" {
		d.Initiator = DarajaInitiator
	}
	if d.InitiatorPassword == "" {
		// Letters, digits and the special characters the portal allows
		// (docs/gateways.md D11).
		d.InitiatorPassword = mpesa.Secret(randomString(alnum, 14) + "#&")
	}
	switch {
	case d.TokenLifetime == 0:
		d.TokenLifetime = DefaultTokenLifetime
	case d.TokenLifetime < time.Second:
		panic(fmt.Sprintf("mpesatest: WithDaraja: TokenLifetime %v: want at least a second", d.TokenLifetime))
	}
	if d.Delay == 0 && c.async != nil {
		d.Delay = c.async.Delay
	}
	if d.Delay < 0 {
		d.Delay = 0
	}
	if d.ValidationTimeout <= 0 {
		d.ValidationTimeout = DefaultValidationTimeout
	}
	if d.TimestampWindow == 0 {
		d.TimestampWindow = DefaultTimestampWindow
	}
	switch sh := d.Shapes; {
	case sh&^shapeAll != 0:
		panic(fmt.Sprintf("mpesatest: WithDaraja: unknown shapes %v", sh))
	case sh&ShapeResultCodeString != 0 && sh&ShapeResultCodeNumber != 0:
		panic("mpesatest: WithDaraja: ShapeResultCodeString and ShapeResultCodeNumber exclude each other")
	case sh&ShapeReferenceItemObject != 0 && sh&ShapeReferenceItemArray != 0:
		panic("mpesatest: WithDaraja: ShapeReferenceItemObject and ShapeReferenceItemArray exclude each other")
	}
	if d.C2BVersion != 0 && d.C2BVersion != 1 && d.C2BVersion != 2 {
		panic(fmt.Sprintf("mpesatest: WithDaraja: C2BVersion %d: want 0, 1 or 2", d.C2BVersion))
	}
	if d.ResultURL == "" && c.async != nil {
		d.ResultURL = c.async.URL
	}
	if d.QueueTimeoutURL == "" {
		d.QueueTimeoutURL = d.ResultURL
	}
	st := &darajaState{
		cfg:      d,
		tokens:   make(map[string]*djToken),
		stks:     make(map[string]*djSTK),
		prompts:  make(map[string]*djSTK),
		origins:  make(map[string]bool),
		receipts: make(map[string]*djPayment),
		c2bURLs:  make(map[string]*djC2BURLs),
		pulls:    make(map[string]string),
		reversed: make(map[string]bool),
		results:  make(map[string]*djPayment),
	}
	if c.async == nil {
		st.client = &http.Client{Timeout: 10 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	st.cert = sync.OnceValue(func() string { return selfSigned(s) })
	return st
}

// close drops the idle connections of the simulator's own callback client.
func (d *darajaState) close() {
	if d.client != nil {
		d.client.CloseIdleConnections()
	}
}

// Daraja returns the settings of the Daraja gateway in effect, defaults
// and secrets included: for a test that builds its own requests.
func (s *Server) Daraja() Daraja { return s.dj.cfg }

// Certificate returns a self-signed X.509 certificate of the simulator's
// RSA public key in PEM, long expired like the ones Safaricom publishes
// (docs/gateways.md D11), for mpesa.WithCertificate: a Daraja client
// encrypts the initiator password into the SecurityCredential with it, and
// the simulator decrypts it with its private key.
func (s *Server) Certificate() string { return s.dj.cert() }

func selfSigned(s *Server) string {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "apicrypt.mpesatest.invalid", Organization: []string{"mpesatest"}},
		NotBefore:    time.Date(2014, 11, 12, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2016, 11, 11, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &s.key.PublicKey, s.key)
	if err != nil {
		panic("mpesatest: making the Daraja certificate: " + err.Error())
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// darajaOptions are the options of Options(mpesa.GatewayDaraja).
func (s *Server) darajaOptions() []mpesa.Option {
	d := s.dj.cfg
	opts := []mpesa.Option{
		mpesa.WithGateway(mpesa.GatewayDaraja),
		mpesa.WithBaseURL(s.URL()),
		mpesa.WithHTTPClient(s.Client()),
		mpesa.WithConsumerSecret(d.ConsumerSecret),
		mpesa.WithServiceProviderCode(d.Shortcode),
		mpesa.WithPasskey(d.Passkey),
		mpesa.WithInitiator(d.Initiator, d.InitiatorPassword),
		mpesa.WithCertificate(s.Certificate()),
	}
	if d.Environment == mpesa.Production {
		opts = append(opts, mpesa.WithEnvironment(mpesa.Production))
	}
	if d.C2BVersion != 0 {
		opts = append(opts, mpesa.WithC2BVersion(d.C2BVersion))
	}
	if d.ResultURL != "" {
		opts = append(opts, mpesa.WithResultURL(d.ResultURL))
	}
	if d.QueueTimeoutURL != "" {
		opts = append(opts, mpesa.WithQueueTimeoutURL(d.QueueTimeoutURL))
	}
	return opts
}

// darajaOutcome is how a Daraja customer answers the prompt: as SetCustomer
// registered, else as the test numbers say, else success.
func (s *Server) darajaOutcomeLocked(msisdn string) Outcome {
	if c, ok := s.customers[msisdn]; ok {
		return c.Outcome
	}
	return darajaCustomers[msisdn]
}
