package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strconv"
	"strings"

	"github.com/mpesa-go/mpesa"
)

// The settings of the operator commands come from flags, from the
// environment (the MPESA_… names of examples/quickstart) and from an env
// file (--env-file; the file mpesa sim --env-out writes works as it is). A
// flag wins over the environment, which wins over the file. For a setting
// of one gateway, MPESA_<GATEWAY>_<NAME> (MPESA_MOZAMBIQUE_BASE_URL) is
// read before MPESA_<NAME> from the same source, so that one file can
// configure every gateway. Secrets (the API key, the security credential;
// Daraja's consumer secret, passkey and initiator password) are read from
// the environment and the file only, never from a flag that ps and the
// shell history would show. Daraja's own settings are in config_daraja.go.

// gatewayDef is a gateway as the commands name it. A new gateway is a new
// row.
type gatewayDef struct {
	gw     mpesa.Gateway
	names  []string // accepted spellings; the first is canonical
	prefix string   // of its own settings: MPESA_<prefix>_<NAME>
}

var gatewayDefs = []gatewayDef{
	{mpesa.GatewayOpenAPI, []string{"openapi-v2", "openapi"}, "OPENAPI"},
	{mpesa.GatewayMozambique, []string{"mozambique-v1x", "mozambique"}, "MOZAMBIQUE"},
	{mpesa.GatewayDaraja, []string{"daraja", "safaricom"}, "DARAJA"},
}

func gatewayNames() string {
	var names []string
	for _, d := range gatewayDefs {
		names = append(names, d.names[0])
	}
	return strings.Join(names, ", ")
}

func findGateway(name string) (gatewayDef, bool) {
	for _, d := range gatewayDefs {
		for _, n := range d.names {
			if strings.EqualFold(n, name) {
				return d, true
			}
		}
	}
	return gatewayDef{}, false
}

// readEnvFile parses a .env file: KEY=value lines, # comments, blank
// lines, an optional "export " and optional single or double quotes.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%s:%d: want KEY=value", path, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			if v[0] == '"' {
				if uq, err := strconv.Unquote(v); err == nil {
					v = uq
				} else {
					v = v[1 : len(v)-1]
				}
			} else {
				v = v[1 : len(v)-1]
			}
		}
		out[k] = v
	}
	return out, sc.Err()
}

// settings is the configuration of one operator command.
type settings struct {
	def         gatewayDef
	market      mpesa.Market
	environment mpesa.Environment
	apiKey      string
	publicKey   string
	shortcode   string
	baseURL     string
	caFile      string
	origin      string
	initiator   string
	credential  string
	msisdn      string
	json        bool
	daraja      darajaSettings

	// flags holds the values given on the command line.
	flags map[string]*string
	file  map[string]string
	e     *env
}

// settingFlags declares the flags every operator command shares.
func settingFlags(fs *flag.FlagSet) map[string]*string {
	f := map[string]*string{}
	add := func(name, env, usage string) {
		f[name] = fs.String(name, "", usage+" (env "+env+")")
	}
	add("env-file", "none", "read settings from this .env file, as mpesa sim --env-out writes it")
	add("gateway", "MPESA_GATEWAY", "the gateway: "+gatewayNames()+"; MPESA_MARKET=mozambique-v1x also selects Mozambique")
	add("market", "MPESA_MARKET", "the OpenAPI v2 market: vodafoneGHA, vodacomTZN, vodacomLES, vodacomDRC, vodacomMOZ")
	add("environment", "MPESA_ENVIRONMENT", "sandbox (default) or production")
	add("base-url", "MPESA_BASE_URL", "send calls here instead of the gateway's host: a proxy, or mpesa sim")
	add("ca-file", "MPESA_CA_FILE", "also trust the CA certificates in this PEM file (mpesa sim --ca-out)")
	add("public-key", "MPESA_PUBLIC_KEY", "the gateway's public key, base64 DER or PEM (OpenAPI v2 defaults to the portal's)")
	add("shortcode", "MPESA_SERVICE_PROVIDER_CODE", "the business shortcode (service provider code)")
	add("origin", "MPESA_ORIGIN", "the Origin header, if the application's is not the default")
	add("initiator", "MPESA_INITIATOR_ID; Daraja MPESA_INITIATOR_NAME", "Mozambique reversals: the initiator identifier, whose credential is MPESA_SECURITY_CREDENTIAL; Daraja: the initiator name, whose password is MPESA_INITIATOR_PASSWORD")
	darajaFlags(add)
	return f
}

// loadSettings resolves the settings after the flags were parsed.
func loadSettings(e *env, flags map[string]*string, jsonOut bool) (*settings, []string) {
	s := &settings{flags: flags, e: e, json: jsonOut}
	var problems []string
	if path := *flags["env-file"]; path != "" {
		file, err := readEnvFile(path)
		if err != nil {
			return nil, []string{"--env-file: " + err.Error()}
		}
		s.file = file
	}
	name := s.lookup("gateway", "GATEWAY", false)
	market := s.lookup("market", "MARKET", false)
	switch {
	case name != "":
		d, ok := findGateway(name)
		if !ok {
			problems = append(problems, fmt.Sprintf("gateway %q is not one of %s", name, gatewayNames()))
		}
		s.def = d
	case strings.EqualFold(market, mpesa.GatewayMozambique.String()):
		s.def, _ = findGateway(mpesa.GatewayMozambique.String())
	case strings.EqualFold(market, string(mpesa.MarketKenya)) || strings.EqualFold(market, mpesa.GatewayDaraja.String()):
		s.def, _ = findGateway(mpesa.GatewayDaraja.String())
	default:
		s.def = gatewayDefs[0]
	}
	// The gateway known, its own settings come first.
	if s.def.gw == mpesa.GatewayOpenAPI {
		market = s.lookup("market", "MARKET", true)
		if market != "" && !mpesa.Market(market).Valid() {
			problems = append(problems, fmt.Sprintf("market %q is not one of %v", market, mpesa.Markets()))
		}
		s.market = mpesa.Market(market)
	}
	switch env := s.lookup("environment", "ENVIRONMENT", true); strings.ToLower(env) {
	case "", "sandbox":
	case "production":
		s.environment = mpesa.Production
	default:
		problems = append(problems, fmt.Sprintf("environment %q is neither sandbox nor production", env))
	}
	s.shortcode = s.lookup("shortcode", "SERVICE_PROVIDER_CODE", true)
	s.baseURL = s.lookup("base-url", "BASE_URL", true)
	s.caFile = s.lookup("ca-file", "CA_FILE", true)
	s.origin = s.lookup("origin", "ORIGIN", true)
	s.msisdn = s.lookup("", "CUSTOMER_MSISDN", true)
	if s.def.gw == mpesa.GatewayDaraja {
		s.loadDaraja()
		return s, problems
	}
	s.apiKey = s.lookup("", "API_KEY", true)
	s.publicKey = s.lookup("public-key", "PUBLIC_KEY", true)
	s.initiator = s.lookup("initiator", "INITIATOR_ID", true)
	s.credential = s.lookup("", "SECURITY_CREDENTIAL", true)
	return s, problems
}

// lookup reads one setting: the flag, then the environment, then the env
// file; in each source MPESA_<GATEWAY>_<key> before MPESA_<key> when
// perGateway. aliases are other names of the setting, read after key in
// the same source (MPESA_CONSUMER_KEY, then MPESA_API_KEY).
func (s *settings) lookup(flagName, key string, perGateway bool, aliases ...string) string {
	if flagName != "" {
		if v := *s.flags[flagName]; v != "" {
			return v
		}
	}
	keys := append([]string{key}, aliases...)
	var names []string
	if perGateway && s.def.prefix != "" {
		for _, k := range keys {
			names = append(names, "MPESA_"+s.def.prefix+"_"+k)
		}
	}
	for _, k := range keys {
		names = append(names, "MPESA_"+k)
	}
	for _, n := range names {
		if v := s.e.getenv(n); v != "" {
			return v
		}
	}
	for _, n := range names {
		if v := s.file[n]; v != "" {
			return v
		}
	}
	return ""
}

// need is what a command needs besides the credentials of its gateway.
type need uint8

const (
	needShortcode need = 1 << iota
	// The Daraja-only needs; the other gateways ignore them.
	needPasskey   // the STK push and query sign with it
	needInitiator // B2C, B2B, reversal, status and balance act as an initiator
	needResultURL // where Daraja posts the result
)

// need lists what a command lacks to reach the gateway at all.
func (s *settings) need(n need) []string {
	if s.def.gw == mpesa.GatewayDaraja {
		return s.needDaraja(n)
	}
	shortcode := n&needShortcode != 0
	var missing []string
	if s.apiKey == "" {
		missing = append(missing, "MPESA_API_KEY is not set (the application's API key; environment or --env-file)")
	}
	if s.def.gw == mpesa.GatewayOpenAPI && s.market == "" {
		missing = append(missing, fmt.Sprintf("no market: --market or MPESA_MARKET (one of %v)", mpesa.Markets()))
	}
	if s.def.gw == mpesa.GatewayMozambique && s.publicKey == "" {
		missing = append(missing, "no public key: --public-key or MPESA_PUBLIC_KEY (the Mozambique gateway's, from its developer portal)")
	}
	if shortcode && s.shortcode == "" {
		missing = append(missing, "no shortcode: --shortcode or MPESA_SERVICE_PROVIDER_CODE")
	}
	return missing
}

// client builds the SDK client of the settings.
func (s *settings) client(extra ...mpesa.Option) (*mpesa.Client, error) {
	opts := []mpesa.Option{mpesa.WithGateway(s.def.gw), mpesa.WithEnvironment(s.environment)}
	if s.def.gw == mpesa.GatewayOpenAPI {
		opts = append(opts, mpesa.WithMarket(s.market))
	}
	if s.def.gw == mpesa.GatewayDaraja {
		dopts, err := s.darajaOptions()
		if err != nil {
			return nil, err
		}
		opts = append(opts, dopts...)
	}
	if s.publicKey != "" {
		opts = append(opts, mpesa.WithPublicKey(s.publicKey))
	}
	if s.shortcode != "" {
		opts = append(opts, mpesa.WithServiceProviderCode(s.shortcode))
	}
	if s.baseURL != "" {
		opts = append(opts, mpesa.WithBaseURL(s.baseURL))
	}
	if s.origin != "" {
		opts = append(opts, mpesa.WithOrigin(s.origin))
	}
	if s.def.gw != mpesa.GatewayDaraja && (s.initiator != "" || s.credential != "") {
		opts = append(opts, mpesa.WithInitiator(s.initiator, mpesa.Secret(s.credential)))
	}
	if s.caFile != "" {
		hc, err := httpClientTrusting(s.caFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, mpesa.WithHTTPClient(hc))
	}
	return mpesa.NewClient(s.apiKey, append(opts, extra...)...)
}

// httpClientTrusting is an HTTP client like the SDK's default (TLS 1.2 or
// later, a cookie jar) that also trusts the CAs of caFile.
func httpClientTrusting(caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("ca-file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("ca-file: " + caFile + " holds no PEM certificate")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: tr, Jar: jar}, nil
}

// settingsHelp is the part of every operator command's help that lists
// the settings.
const settingsHelp = `
Settings, from flags, the environment or --env-file (a flag wins over the
environment, which wins over the file; MPESA_<GATEWAY>_<NAME>, for example
MPESA_MOZAMBIQUE_BASE_URL, is read before MPESA_<NAME> for that gateway):
  MPESA_API_KEY                 the API key (environment or file only)
  MPESA_GATEWAY, MPESA_MARKET   openapi-v2 with a market, mozambique-v1x, or daraja
  MPESA_ENVIRONMENT             sandbox (default) or production
  MPESA_PUBLIC_KEY              the gateway's public key (required on mozambique-v1x)
  MPESA_SERVICE_PROVIDER_CODE   the shortcode
  MPESA_BASE_URL, MPESA_CA_FILE a proxy or mpesa sim, and the CA to trust
  MPESA_ORIGIN                  the Origin header, if not the default
  MPESA_INITIATOR_ID, MPESA_SECURITY_CREDENTIAL  Mozambique reversals
  MPESA_CUSTOMER_MSISDN         the default customer of pay c2b and pay b2c
Daraja (--gateway daraja; MPESA_DARAJA_<NAME> first):
  MPESA_CONSUMER_KEY, MPESA_CONSUMER_SECRET  the app's (environment or file
                                only; MPESA_API_KEY is read for the key too)
  MPESA_PASSKEY                 the shortcode's STK passkey (environment or file only)
  MPESA_INITIATOR_NAME, MPESA_INITIATOR_PASSWORD  B2C, B2B, reversal, status,
                                balance (the password: environment or file only)
  MPESA_CERTIFICATE_FILE        --certificate: encrypts the initiator password
                                (default: Safaricom's, embedded)
  MPESA_RESULT_URL, MPESA_QUEUE_TIMEOUT_URL  --result-url, --queue-timeout-url:
                                where Daraja posts results (the queue timeout
                                URL defaults to the result URL)
`
