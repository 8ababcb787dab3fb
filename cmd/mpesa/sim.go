package main

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// mpesa sim: the simulator of package mpesatest as a server any language
// can test against.

// simConfig is what mpesa sim was asked for.
type simConfig struct {
	addr          string
	plainHTTP     bool
	hosts         listFlag
	caOut, caKey  string
	keyFile       string
	apiKey        string
	envOut        string
	mozPorts      bool
	asyncURL      string
	asyncAPIs     string
	asyncDelay    time.Duration
	interactive   bool
	promptTimeout time.Duration
	json          bool
	darajaCertOut string
}

// listFlag is a flag that may be given more than once.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// simInfo is everything a client needs, as the banner and the env file
// tell it.
type simInfo struct {
	base          string               // the main listener
	portURLs      map[mpesa.API]string // Mozambique per-API listeners
	hostURLs      map[mpesa.API]string // the same by the first --host name
	caFile        string
	apiKey        string
	publicKey     string
	keyFile       string
	keyCreated    bool
	customers     map[string]mpesatest.Customer
	asyncURL      string
	asyncAPIs     []mpesa.API
	interactive   bool
	promptTimeout time.Duration
	// daraja is the Daraja gateway's settings, secrets included (they are
	// the simulator's test credentials); darajaCert the file that holds
	// its certificate, in tmpDir unless --daraja-cert-out named one.
	daraja       mpesatest.Daraja
	darajaCert   string
	darajaResult string // the result URL the env file gives Daraja clients
	tmpDir       string
}

// defaultDarajaResultURL is the result URL of Daraja clients when mpesa sim
// has no --async URL: where mpesa listen listens by default. Daraja posts
// every result to the URL its request names (docs/gateways.md D26 bans
// "mpesa" in it).
const defaultDarajaResultURL = "http://127.0.0.1:8080/daraja/results"

func runSim(ctx context.Context, e *env, args []string) int {
	var c simConfig
	fs := flag.NewFlagSet("mpesa sim", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8443", "serve every API of every gateway, the control plane (/_sim/) and the phone page (/) here")
	fs.BoolVar(&c.plainHTTP, "http", false, "serve plain HTTP instead of TLS, for clients that cannot be given a CA")
	fs.Var(&c.hosts, "host", "a host name the TLS certificate must also be valid for (for example api.sandbox.vm.co.mz, pointed at 127.0.0.1 in /etc/hosts); repeatable")
	fs.StringVar(&c.caOut, "ca-out", "", "write the CA certificate a client must trust to this file (PEM)")
	fs.StringVar(&c.caKey, "ca-key", "", "keep the CA (certificate and key) in this file, made if missing, so that it stays the same across runs")
	fs.StringVar(&c.keyFile, "key", "", "the simulator's RSA key (PEM), made if missing: the printed public key then stays the same across runs")
	fs.StringVar(&c.apiKey, "api-key", "", "the API key the simulator accepts (default: a random one, printed)")
	fs.StringVar(&c.envOut, "env-out", "", "write everything a client needs to this .env file (mpesa --env-file reads it)")
	fs.BoolVar(&c.mozPorts, "mozambique-ports", false, "also serve each Mozambique API on its documented port (18352 C2B, 18345 B2C, 18349 B2B, 18353 status, 18354 reversal, 19323 customer name) on the --addr host")
	fs.StringVar(&c.asyncURL, "async", "", "answer asynchronously and POST the result callbacks to this URL (the application's Response URL)")
	fs.StringVar(&c.asyncAPIs, "async-apis", "", "with --async: the products that answer asynchronously, comma-separated (default c2b,b2c,b2b,reversal and the direct debit changes)")
	fs.DurationVar(&c.asyncDelay, "async-delay", 0, "with --async: the wait between the answer and the callback")
	fs.BoolVar(&c.interactive, "interactive", false, "every C2B (on Daraja, every STK push) waits for its PIN prompt to be answered on the phone page (or the control plane)")
	fs.StringVar(&c.darajaCertOut, "daraja-cert-out", "", "write the Daraja certificate (the simulator's key, for encrypting the initiator password) to this file and keep it (default: a temporary file, removed on exit)")
	fs.DurationVar(&c.promptTimeout, "prompt-timeout", mpesatest.DefaultPromptTimeout, "how long a PIN prompt waits before it times out (INS-9)")
	fs.BoolVar(&c.json, "json", false, "log JSON lines (log/slog) instead of text")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprint(w, `Usage: mpesa sim [flags]

Serves the M-Pesa gateways on a local address: OpenAPI v2 in its five markets
at /{sandbox|openapi}/ipg/v2/{market}/{api}/, Vodacom Mozambique v1x at
/ipg/v1x/{api}/ and Safaricom Daraja at its own paths (/oauth/v1/generate,
/mpesa/..., /pulltransactions/v1/...), as the mpesatest package does for Go
tests, with a JSON control plane under /_sim/ and a phone page at /. It runs
until SIGINT or SIGTERM, then lets callbacks in flight finish (up to 5 s).

Prints: on start, everything a client needs (base URLs, the API key, the
public key, shortcodes, the Mozambique initiator and credential, Daraja's
consumer secret, passkey, initiator and password and the file of its
certificate, the test customers and what each does); these are the
simulator's test credentials, not secrets. Then one log line per call and
per callback delivery attempt on standard error, with no secret and no full
phone number.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usageError(e, "sim", "unexpected arguments: "+strings.Join(fs.Args(), " "))
	}
	var asyncAPIs []mpesa.API
	if c.asyncAPIs != "" {
		if c.asyncURL == "" {
			return usageError(e, "sim", "--async-apis needs --async URL")
		}
		for _, name := range strings.Split(c.asyncAPIs, ",") {
			api, ok := apiByName(strings.TrimSpace(name))
			if !ok {
				return usageError(e, "sim", fmt.Sprintf("--async-apis: unknown API %q", name))
			}
			asyncAPIs = append(asyncAPIs, api)
		}
	}

	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	if c.json {
		logger = slog.New(slog.NewJSONHandler(e.stderr, nil))
	}
	srv, info, err := startSim(&c, asyncAPIs, logger)
	if err != nil {
		fmt.Fprintln(e.stderr, "mpesa sim:", err)
		return exitUsage
	}
	defer info.removeTemp()
	printBanner(e.stdout, &c, info)
	if c.envOut != "" {
		if err := writeNew(c.envOut, []byte(envFile(&c, info))); err != nil {
			srv.Close()
			fmt.Fprintln(e.stderr, "mpesa sim: --env-out:", err)
			return exitUsage
		}
	}
	logger.Info("serving", "url", info.base)
	if e.ready != nil {
		e.ready(info.base)
	}
	<-ctx.Done()
	logger.Info("shutting down: finishing the callbacks in flight (5 s at most)")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("shutdown", "error", err.Error())
	}
	return exitOK
}

// apiByName finds an API by its short name ("c2b", "transactionStatus").
func apiByName(name string) (mpesa.API, bool) {
	for a := mpesa.API(1); a < 1000 && !strings.HasPrefix(a.String(), "api("); a++ {
		if strings.EqualFold(a.String(), name) {
			return a, true
		}
	}
	return 0, false
}

// startSim opens the listeners and starts the simulator.
func startSim(c *simConfig, asyncAPIs []mpesa.API, logger *slog.Logger) (*mpesatest.Server, *simInfo, error) {
	host, _, err := net.SplitHostPort(c.addr)
	if err != nil {
		return nil, nil, fmt.Errorf("--addr %q: %w", c.addr, err)
	}
	info := &simInfo{keyFile: c.keyFile, caFile: absPath(c.caOut), asyncURL: c.asyncURL, asyncAPIs: asyncAPIs,
		interactive: c.interactive, promptTimeout: c.promptTimeout}
	opts := []mpesatest.Option{
		mpesatest.WithControlPlane(),
		mpesatest.WithAccessLog(logger),
		// Failed deliveries are in the access log, with their reason.
		mpesatest.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		mpesatest.WithPromptTimeout(c.promptTimeout),
	}
	if c.keyFile != "" {
		key, created, err := loadOrCreateRSAKey(c.keyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--key: %w", err)
		}
		info.keyCreated = created
		opts = append(opts, mpesatest.WithKey(key))
	}
	if c.apiKey != "" {
		opts = append(opts, mpesatest.WithAPIKey(c.apiKey))
	}
	if c.interactive {
		opts = append(opts, mpesatest.WithInteractive())
	}
	if c.asyncURL != "" {
		opts = append(opts, mpesatest.WithAsync(mpesatest.Async{URL: c.asyncURL, APIs: asyncAPIs, Delay: c.asyncDelay}))
	}
	if c.plainHTTP {
		if c.caOut != "" || c.caKey != "" {
			return nil, nil, errors.New("--ca-out and --ca-key need TLS; drop --http")
		}
		opts = append(opts, mpesatest.WithPlainHTTP())
	} else {
		cfg, err := simTLS(c, host)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, mpesatest.WithTLSConfig(cfg))
	}

	var opened []net.Listener
	closeAll := func() {
		for _, ln := range opened {
			_ = ln.Close()
		}
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return nil, nil, fmt.Errorf("--addr: %w", err)
	}
	opened = append(opened, ln)
	opts = append(opts, mpesatest.WithListener(ln))
	if c.mozPorts {
		lns := map[mpesa.API]net.Listener{}
		for api, port := range mpesatest.MozambiqueDocumentedPorts() {
			l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("--mozambique-ports: %v port %d: %w", api, port, err)
			}
			opened = append(opened, l)
			lns[api] = l
		}
		opts = append(opts, mpesatest.WithMozambiqueListeners(lns))
	}
	srv := mpesatest.NewServer(opts...)

	scheme := "https"
	if c.plainHTTP {
		scheme = "http"
	}
	info.base = scheme + "://" + printable(ln.Addr())
	if c.mozPorts {
		info.portURLs, info.hostURLs = map[mpesa.API]string{}, map[mpesa.API]string{}
		for api, port := range srv.MozambiquePorts() {
			info.portURLs[api] = scheme + "://" + net.JoinHostPort(printableHost(host), strconv.Itoa(port))
			if len(c.hosts) > 0 {
				info.hostURLs[api] = scheme + "://" + net.JoinHostPort(c.hosts[0], strconv.Itoa(port))
			}
		}
	}
	info.apiKey, info.publicKey = srv.APIKey(), srv.PublicKey()
	info.customers = srv.Customers()
	if err := info.writeDarajaCert(srv, c); err != nil {
		srv.Close()
		return nil, nil, err
	}
	return srv, info, nil
}

// writeDarajaCert writes the Daraja certificate where a client reads it
// (mpesa.WithCertificate takes its PEM; MPESA_CERTIFICATE_FILE names it):
// --daraja-cert-out, or a file in a temporary directory that removeTemp
// removes on exit.
func (info *simInfo) writeDarajaCert(srv *mpesatest.Server, c *simConfig) error {
	info.daraja = srv.Daraja()
	info.darajaResult = info.daraja.ResultURL
	if info.darajaResult == "" {
		info.darajaResult = defaultDarajaResultURL
	}
	path := c.darajaCertOut
	if path == "" {
		dir, err := os.MkdirTemp("", "mpesa-sim-")
		if err != nil {
			return fmt.Errorf("a directory for the Daraja certificate: %w", err)
		}
		info.tmpDir = dir
		path = filepath.Join(dir, "daraja-certificate.pem")
	}
	// A certificate is no secret: readable by the clients of other users.
	if err := os.WriteFile(path, []byte(srv.Certificate()), 0o644); err != nil {
		info.removeTemp()
		return fmt.Errorf("--daraja-cert-out: %w", err)
	}
	info.darajaCert = absPath(path)
	return nil
}

// removeTemp removes what the simulator wrote for this run only.
func (info *simInfo) removeTemp() {
	if info.tmpDir != "" {
		_ = os.RemoveAll(info.tmpDir)
	}
}

// simTLS makes the TLS configuration: a certificate for localhost, the
// loopback addresses, the --addr host and every --host, signed by the
// simulator's CA, which --ca-out writes out.
func simTLS(c *simConfig, addrHost string) (*tls.Config, error) {
	var ca *authority
	var err error
	if c.caKey != "" {
		ca, err = loadOrCreateAuthority(c.caKey)
		if err != nil {
			return nil, fmt.Errorf("--ca-key: %w", err)
		}
	} else if ca, err = newAuthority(); err != nil {
		return nil, err
	}
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if ip := net.ParseIP(addrHost); addrHost != "" && (ip == nil || !ip.IsUnspecified()) {
		hosts = append(hosts, addrHost)
	}
	hosts = append(hosts, c.hosts...)
	cert, err := ca.issue(dedup(hosts))
	if err != nil {
		return nil, err
	}
	if c.caOut != "" {
		if err := writeNew(c.caOut, ca.pem); err != nil {
			return nil, fmt.Errorf("--ca-out: %w", err)
		}
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// absPath makes the env file's paths work from any directory.
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

func dedup(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// printable is a listener's address as a client dials it: 127.0.0.1 for
// an address that listens on every interface.
func printable(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return net.JoinHostPort(printableHost(host), port)
}

func printableHost(host string) string {
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return "127.0.0.1"
	}
	return host
}

// publicKeyBits is the size of the simulator's RSA key, for the banner.
func publicKeyBits(b64 string) int {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return 0
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return 0
	}
	if rk, ok := k.(*rsa.PublicKey); ok {
		return rk.N.BitLen()
	}
	return 0
}

// sortedCustomers lists the customers, OpenAPI numbers first.
func sortedCustomers(cs map[string]mpesatest.Customer) []string {
	out := make([]string, 0, len(cs))
	for k := range cs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// gatewayOf is the gateway of a test customer, as the control plane tells
// them apart: 258… Mozambique, 254… Daraja, any other number OpenAPI v2.
func gatewayOf(msisdn string) mpesa.Gateway {
	switch {
	case strings.HasPrefix(msisdn, "258"):
		return mpesa.GatewayMozambique
	case strings.HasPrefix(msisdn, "254"):
		return mpesa.GatewayDaraja
	}
	return mpesa.GatewayOpenAPI
}
