package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// safeBuffer is a bytes.Buffer that a running command and a test share.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// result is one run of a command.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) all() string { return r.stdout + r.stderr }

// mpesaCmd runs the command as a user would, with environ as its whole
// environment.
func mpesaCmd(t *testing.T, environ map[string]string, args ...string) result {
	t.Helper()
	var out, errOut safeBuffer
	e := &env{stdout: &out, stderr: &errOut, getenv: func(k string) string { return environ[k] }}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := run(ctx, e, args)
	return result{code, out.String(), errOut.String()}
}

// sim is an mpesa sim running in the test.
type sim struct {
	base, envFile, caFile string
	stdout, stderr        *safeBuffer
	stop                  func() int
}

func runTestSim(t *testing.T, args ...string) *sim {
	t.Helper()
	dir := t.TempDir()
	s := &sim{envFile: filepath.Join(dir, "sim.env"), caFile: filepath.Join(dir, "ca.pem"), stdout: &safeBuffer{}, stderr: &safeBuffer{}}
	ready := make(chan string, 1)
	e := &env{stdout: s.stdout, stderr: s.stderr, getenv: func(string) string { return "" }, ready: func(addr string) { ready <- addr }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	all := append([]string{"--addr", "127.0.0.1:0", "--env-out", s.envFile}, args...)
	if !contains(args, "--http") {
		all = append(all, "--ca-out", s.caFile)
	}
	go func() { done <- runSim(ctx, e, all) }()
	select {
	case s.base = <-ready:
	case code := <-done:
		cancel()
		t.Fatalf("mpesa sim exited %d: %s", code, s.stderr.String())
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("mpesa sim did not start")
	}
	var once sync.Once
	code := 0
	s.stop = func() int {
		once.Do(func() {
			cancel()
			code = <-done
		})
		return code
	}
	t.Cleanup(func() { s.stop() })
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// control calls the sim's control plane.
func (s *sim) control(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	hc := http.DefaultClient
	if strings.HasPrefix(s.base, "https://") {
		pem, err := os.ReadFile(s.caFile)
		require.NoError(t, err)
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM(pem))
		hc = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func TestUsageAndHelp(t *testing.T) {
	r := mpesaCmd(t, nil)
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stdout, "Commands:")
	r = mpesaCmd(t, nil, "frobnicate")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, `unknown command "frobnicate"`)
	assert.Equal(t, exitOK, mpesaCmd(t, nil, "help").code)

	// Every command's help says what it prints, on standard output.
	for _, c := range []string{"sim", "listen", "token", "status", "reverse", "pay", "balance", "register-urls"} {
		r := mpesaCmd(t, nil, c, "-help")
		assert.Equal(t, exitOK, r.code, c)
		assert.Contains(t, r.stdout, "Prints:", c)
		assert.Contains(t, r.stdout, "Usage: mpesa "+c, c)
	}
	r = mpesaCmd(t, nil, "token", "-help")
	assert.Contains(t, r.stdout, "the one command that prints a secret")
	r = mpesaCmd(t, nil, "pay", "c2b", "--bogus")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "flag provided but not defined: -bogus")
	assert.Contains(t, mpesaCmd(t, nil, "version").stdout, "github.com/mpesa-go/mpesa")
}

// Every missing setting is named at once, and nothing is sent.
func TestMissingSettingsAreNamedAtOnce(t *testing.T) {
	r := mpesaCmd(t, nil, "pay", "c2b")
	assert.Equal(t, exitUsage, r.code)
	for _, want := range []string{"MPESA_API_KEY is not set", "no market", "no shortcode", "no amount", "no customer"} {
		assert.Contains(t, r.stderr, want)
	}
	r = mpesaCmd(t, map[string]string{"MPESA_MARKET": "mozambique-v1x", "MPESA_API_KEY": "k"}, "reverse")
	assert.Equal(t, exitUsage, r.code)
	for _, want := range []string{"no public key", "no shortcode", "give the TRANSACTION_ID"} {
		assert.Contains(t, r.stderr, want)
	}
	assert.NotContains(t, r.stderr, "no market", "Mozambique has none")
	r = mpesaCmd(t, map[string]string{"MPESA_GATEWAY": "kenya"}, "token")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, `gateway "kenya" is not one of openapi-v2, mozambique-v1x, daraja`)
	r = mpesaCmd(t, map[string]string{"MPESA_MARKET": "vodacomKEN"}, "token")
	assert.Contains(t, r.stderr, `market "vodacomKEN" is not one of`)
	r = mpesaCmd(t, map[string]string{"MPESA_MARKET": "vodacomTZN", "MPESA_API_KEY": "k", "MPESA_PUBLIC_KEY": "bm90IGEga2V5"}, "token")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "WithPublicKey", "a bad option is a usage error")
	r = mpesaCmd(t, nil, "token", "--env-file", "/does/not/exist")
	assert.Contains(t, r.stderr, "--env-file: open /does/not/exist")
}

func TestEnvFileAndPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.env")
	require.NoError(t, os.WriteFile(path, []byte(`# a comment
export MPESA_MARKET=vodacomLES
MPESA_API_KEY="file key"
MPESA_SERVICE_PROVIDER_CODE='111111'
MPESA_MOZAMBIQUE_SERVICE_PROVIDER_CODE=171717
MPESA_BASE_URL=http://file

MPESA_MOZAMBIQUE_BASE_URL=http://file-moz
`), 0o600))
	vals, err := readEnvFile(path)
	require.NoError(t, err)
	assert.Equal(t, "file key", vals["MPESA_API_KEY"])
	assert.Equal(t, "111111", vals["MPESA_SERVICE_PROVIDER_CODE"])
	assert.Equal(t, "vodacomLES", vals["MPESA_MARKET"])

	bad := filepath.Join(dir, "bad.env")
	require.NoError(t, os.WriteFile(bad, []byte("MPESA_API_KEY\n"), 0o600))
	_, err = readEnvFile(bad)
	require.ErrorContains(t, err, "bad.env:1: want KEY=value")

	load := func(environ map[string]string, args ...string) *settings {
		e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return environ[k] }}
		op := newOp(e, "status", "", "", "")
		_, _, ok := op.parse(e, append([]string{"--env-file", path}, args...))
		require.True(t, ok)
		s, problems := loadSettings(e, op.settings, false)
		require.Empty(t, problems)
		return s
	}
	s := load(nil)
	assert.Equal(t, "111111", s.shortcode)
	assert.Equal(t, "http://file", s.baseURL)
	assert.Equal(t, "vodacomLES", string(s.market))
	// The environment wins over the file, and a flag over both.
	s = load(map[string]string{"MPESA_SERVICE_PROVIDER_CODE": "222222"})
	assert.Equal(t, "222222", s.shortcode)
	s = load(map[string]string{"MPESA_SERVICE_PROVIDER_CODE": "222222"}, "--shortcode", "333333")
	assert.Equal(t, "333333", s.shortcode)
	// A gateway's own names come first within a source.
	s = load(nil, "--gateway", "mozambique")
	assert.Equal(t, "171717", s.shortcode)
	assert.Equal(t, "http://file-moz", s.baseURL)
	s = load(map[string]string{"MPESA_SERVICE_PROVIDER_CODE": "222222"}, "--gateway", "mozambique-v1x")
	assert.Equal(t, "222222", s.shortcode, "the environment wins over the file whatever the name")
}

// The operator commands against mpesa sim, with the env file it writes, in
// text and JSON, with the exit code of each outcome.
func TestOperatorCommandsAgainstTheSimulator(t *testing.T) {
	s := runTestSim(t, "--mozambique-ports=false")
	environ := map[string]string{}
	file := []string{"--env-file", s.envFile}
	cmd := func(args ...string) result { return mpesaCmd(t, environ, append(args, file...)...) }

	r := cmd("pay", "c2b", "--amount", "10")
	require.Equal(t, exitOK, r.code, r.all())
	assert.Contains(t, r.stdout, "pay c2b: completed (INS-0 Request processed successfully)")
	assert.Contains(t, r.stdout, "000******001")

	r = cmd("pay", "c2b", "--amount", "10", "--json", "--gateway", "mozambique-v1x")
	require.Equal(t, exitOK, r.code, r.all())
	var rep map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	assert.Equal(t, "completed", rep["outcome"])
	assert.Equal(t, "mozambique-v1x", rep["gateway"])
	assert.Equal(t, "258******333", rep["msisdn"])
	tx := rep["transaction_id"].(string)
	require.NotEmpty(t, tx)

	r = cmd("status", tx, "--gateway", "mozambique-v1x", "--json")
	require.Equal(t, exitOK, r.code, r.all())
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	assert.Equal(t, "Completed", rep["transaction_status"])

	r = cmd("reverse", tx, "--amount", "4", "--gateway", "mozambique-v1x")
	require.Equal(t, exitOK, r.code, r.all())
	assert.Contains(t, r.stdout, "reverse: completed")
	r = cmd("reverse", tx, "--gateway", "mozambique-v1x")
	assert.Equal(t, exitRefused, r.code, "reversed once already: %s", r.all())
	assert.Contains(t, r.stdout, "INS-6")

	// Refusals by the customer: exit 1.
	r = cmd("pay", "c2b", "--amount", "10", "--gateway", "mozambique", "--msisdn", mpesatest.MozambiqueMSISDNCancelled)
	assert.Equal(t, exitRefused, r.code)
	assert.Contains(t, r.stdout, "refused (INS-5 Transaction cancelled by customer)")
	r = cmd("pay", "b2c", "--amount", "10", "--msisdn", mpesatest.MSISDNRejected)
	assert.Equal(t, exitRefused, r.code)
	r = cmd("pay", "b2b", "--amount", "10", "--receiver", "654321")
	assert.Equal(t, exitOK, r.code, r.all())

	// An invalid field: nothing sent, exit 2.
	r = cmd("pay", "c2b", "--amount", "ten")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stdout, "invalid")
	assert.Contains(t, r.stdout, "Amount")

	// A reset connection after the request was written: the payment may
	// have gone through. Exit 3 and the reference to reconcile.
	code, body := s.control(t, "POST", "/_sim/scenarios", `{"api":"c2b","fault":"reset","processed":true}`)
	require.Equal(t, http.StatusCreated, code, body)
	r = cmd("pay", "c2b", "--amount", "10", "--ref", "RECONCILEME1", "--gateway", "mozambique")
	assert.Equal(t, exitUnknown, r.code, r.all())
	assert.Contains(t, r.stdout, "pay c2b: unknown")
	assert.Contains(t, r.stdout, "mpesa status RECONCILEME1")
	r = cmd("status", "RECONCILEME1", "--gateway", "mozambique")
	assert.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "Completed", "the gateway carried it out")

	// Asynchronous: accepted and pending (5); with --wait, the final state.
	code, body = s.control(t, "PUT", "/_sim/async", `{"url":"http://127.0.0.1:1/nobody","apis":{"c2b":true}}`)
	require.Equal(t, http.StatusOK, code, body)
	r = cmd("pay", "c2b", "--amount", "10")
	assert.Equal(t, exitPending, r.code, r.all())
	assert.Contains(t, r.stdout, "pay c2b: pending")
	r = cmd("pay", "c2b", "--amount", "10", "--msisdn", mpesatest.MSISDNPromptTimeout, "--wait", "20s")
	assert.Equal(t, exitRefused, r.code, r.all())
	assert.Contains(t, r.stdout, "ended Expired")
	r = cmd("pay", "c2b", "--amount", "10", "--wait", "20s", "--json")
	assert.Equal(t, exitOK, r.code, r.all())

	// Unavailable: nothing answers; nothing moved (4).
	r = mpesaCmd(t, environ, append([]string{"status", "X1", "--base-url", "http://127.0.0.1:1"}, file...)...)
	assert.Equal(t, exitUnavailable, r.code, r.all())
	r = mpesaCmd(t, environ, append([]string{"pay", "c2b", "--amount", "1", "--base-url", "http://127.0.0.1:1"}, file...)...)
	assert.Equal(t, exitUnavailable, r.code, r.all())
	assert.Contains(t, r.stdout, "running the command again with --ref")

	// token: the bearer alone on standard output.
	r = cmd("token")
	require.Equal(t, exitOK, r.code, r.all())
	assert.Regexp(t, `^[A-Za-z0-9+/]+=*\n$`, r.stdout)
	assert.Contains(t, r.stderr, "30 s")
	r = cmd("token", "--gateway", "mozambique", "--json")
	require.Equal(t, exitOK, r.code)
	var tok map[string]string
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &tok))
	assert.Equal(t, "Bearer "+tok["token"], tok["authorization"])
	// A refused key: the error goes to standard error, never where
	// $(mpesa token) would take it for a token.
	r = mpesaCmd(t, map[string]string{"MPESA_API_KEY": "wrong"}, append([]string{"token"}, file...)...)
	assert.Equal(t, exitRefused, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "INS-989")
}

// No output of any command holds a secret: the API key, the security
// credential, a session ID or bearer, a full phone number, Daraja's
// consumer secret, passkey, initiator password, Basic credentials and
// access token; only mpesa token prints its bearer, on standard output.
func TestNoSecretInAnyOutput(t *testing.T) {
	s := runTestSim(t, "--api-key", "SIMAPIKEY0123456789abcdef")
	environ := map[string]string{}
	file := []string{"--env-file", s.envFile}
	full := []string{mpesatest.MSISDNSuccess, mpesatest.MozambiqueMSISDNSuccess, mpesatest.MozambiqueMSISDNCancelled,
		mpesatest.DarajaMSISDNSuccess, mpesatest.DarajaMSISDNCancelled}
	secrets := []string{"SIMAPIKEY0123456789abcdef", mpesatest.MozambiqueSecurityCredential}
	simEnv, err := readEnvFile(s.envFile)
	require.NoError(t, err)
	for _, k := range []string{"MPESA_DARAJA_CONSUMER_SECRET", "MPESA_DARAJA_PASSKEY", "MPESA_DARAJA_INITIATOR_PASSWORD"} {
		require.NotEmpty(t, simEnv[k], k)
		secrets = append(secrets, simEnv[k])
	}
	secrets = append(secrets, basicOf("SIMAPIKEY0123456789abcdef", simEnv["MPESA_DARAJA_CONSUMER_SECRET"]))

	tokenRun := mpesaCmd(t, environ, append([]string{"token"}, file...)...)
	require.Equal(t, exitOK, tokenRun.code)
	bearer := strings.TrimSpace(tokenRun.stdout)
	secrets = append(secrets, bearer)
	assert.NotContains(t, tokenRun.stderr, bearer)
	// Each Daraja token ends the previous one: the last is taken after
	// every other run, the ones before are secrets all the same.
	djToken := func() string {
		r := mpesaCmd(t, environ, append([]string{"token", "--gateway", "daraja"}, file...)...)
		require.Equal(t, exitOK, r.code, r.all())
		tok := strings.TrimSpace(r.stdout)
		assert.NotContains(t, r.stderr, tok)
		return tok
	}
	secrets = append(secrets, djToken())

	var runs []result
	for _, args := range [][]string{
		{"pay", "c2b", "--amount", "10"},
		{"pay", "c2b", "--amount", "10", "--json"},
		{"pay", "c2b", "--amount", "10", "--gateway", "mozambique"},
		{"pay", "c2b", "--amount", "10", "--gateway", "mozambique", "--msisdn", mpesatest.MozambiqueMSISDNCancelled, "--json"},
		{"pay", "b2c", "--amount", "10", "--gateway", "mozambique"},
		{"pay", "c2b", "--amount", "x", "--gateway", "mozambique"},
		{"reverse", "NOPE", "--gateway", "mozambique"},
		{"reverse", "NOPE", "--gateway", "mozambique", "--json"},
		{"status", "NOPE"},
		{"status", "NOPE", "--json", "--gateway", "mozambique"},
		{"token", "--gateway", "mozambique", "-help"},
		{"pay", "c2b", "--amount", "10", "--gateway", "daraja"},
		{"pay", "c2b", "--amount", "10", "--gateway", "daraja", "--msisdn", mpesatest.DarajaMSISDNCancelled, "--wait", "20s", "--json"},
		{"pay", "c2b", "--amount", "x", "--gateway", "daraja"},
		{"pay", "b2c", "--amount", "100", "--gateway", "daraja", "--json"},
		{"pay", "b2b", "--amount", "100", "--gateway", "daraja", "--receiver", "600000"},
		{"reverse", "NOPE123456", "--amount", "1", "--gateway", "daraja"},
		{"status", "ws_CO_NOPE", "--gateway", "daraja", "--json"},
		{"status", "NOPE123456", "--gateway", "daraja"},
		{"balance", "--gateway", "daraja", "--json"},
		{"register-urls", "--gateway", "daraja", "--response-type", "Completed", "--confirmation-url", "https://x.example/c", "--validation-url", "https://x.example/v"},
		{"token", "--gateway", "daraja", "-help"},
	} {
		runs = append(runs, mpesaCmd(t, environ, append(args, file...)...))
	}
	// Refused credentials: the gateway's error, never what was sent.
	runs = append(runs, mpesaCmd(t, map[string]string{"MPESA_DARAJA_CONSUMER_SECRET": "WRONGSECRET0123456789"}, append([]string{"pay", "c2b", "--amount", "10", "--gateway", "daraja"}, file...)...))
	secrets = append(secrets, "WRONGSECRET0123456789", basicOf("SIMAPIKEY0123456789abcdef", "WRONGSECRET0123456789"))
	dj := djToken()
	secrets = append(secrets, dj)
	runs = append(runs, mpesaCmd(t, map[string]string{"MPESA_API_KEY": "SIMAPIKEY0123456789abcdef"}, "pay", "c2b", "--base-url", "http://127.0.0.1:1", "--market", "vodacomTZN", "--shortcode", "000000", "--amount", "1", "--msisdn", mpesatest.MSISDNSuccess))
	for i, r := range runs {
		for _, secret := range append(secrets, full...) {
			assert.NotContains(t, r.all(), secret, "run %d", i)
		}
	}
	// The simulator's log: a line per call, masked.
	time.Sleep(100 * time.Millisecond)
	log := s.stderr.String()
	assert.Contains(t, log, "msg=call")
	assert.Contains(t, log, "258******333")
	assert.Contains(t, log, "254******149")
	for _, secret := range append(secrets, full...) {
		assert.NotContains(t, log, secret)
	}
}

func TestSimFlagsAndFiles(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key.pem")
	s := runTestSim(t, "--key", key, "--host", "api.sandbox.vm.co.mz", "--mozambique-ports=false")
	out := s.stdout.String()
	assert.Contains(t, out, "mpesa sim: the M-Pesa gateways on "+s.base)
	assert.Contains(t, out, "written to "+key)
	assert.Contains(t, out, "258840000005            declines the PIN prompt: 401 INS-5")
	env, err := readEnvFile(s.envFile)
	require.NoError(t, err)
	pub := env["MPESA_PUBLIC_KEY"]
	require.NotEmpty(t, pub)
	assert.Equal(t, s.base, env["MPESA_MOZAMBIQUE_BASE_URL"])
	assert.Equal(t, s.caFile, env["MPESA_CA_FILE"])
	assert.Equal(t, 0, s.stop())
	assert.Contains(t, s.stderr.String(), "shutting down")

	// The same key file: the same public key, the certificate valid for
	// the --host name.
	s2 := runTestSim(t, "--key", key, "--host", "api.sandbox.vm.co.mz")
	env2, err := readEnvFile(s2.envFile)
	require.NoError(t, err)
	assert.Equal(t, pub, env2["MPESA_PUBLIC_KEY"])
	assert.Contains(t, s2.stdout.String(), "from "+key)
	pem, err := os.ReadFile(s2.caFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	conn, err := tls.Dial("tcp", strings.TrimPrefix(s2.base, "https://"), &tls.Config{RootCAs: pool, ServerName: "api.sandbox.vm.co.mz"})
	require.NoError(t, err, "the certificate is valid for the --host name")
	conn.Close()
	conn, err = tls.Dial("tcp", strings.TrimPrefix(s2.base, "https://"), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	require.NoError(t, err)
	conn.Close()

	// Plain HTTP; --ca-out makes no sense there.
	r := mpesaCmd(t, nil, "sim", "--http", "--ca-out", filepath.Join(dir, "x.pem"), "--addr", "127.0.0.1:0")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "need TLS")
	r = mpesaCmd(t, nil, "sim", "--async-apis", "c2b")
	assert.Equal(t, exitUsage, r.code)
	r = mpesaCmd(t, nil, "sim", "--addr", "nonsense")
	assert.Equal(t, exitUsage, r.code)
	plain := runTestSim(t, "--http", "--json")
	assert.True(t, strings.HasPrefix(plain.base, "http://"))
	code, body := plain.control(t, "GET", "/_sim/", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "api_key")
	assert.Contains(t, plain.stderr.String(), `"msg":"serving"`)
}

// mpesa listen receives the simulator's callbacks, acknowledges them as
// documented, prints them, and forwards them to a service.
func TestListenReceivesAndForwards(t *testing.T) {
	var mu sync.Mutex
	var forwarded []string
	service := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		forwarded = append(forwarded, string(body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"output_ResponseCode":"00","output_ResponseDesc":"thanks"}`)
	})}
	sl := listenLocal(t)
	go func() { _ = service.Serve(sl) }()
	t.Cleanup(func() { _ = service.Close() })

	var out, errOut safeBuffer
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- runListen(ctx, &env{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }, ready: func(a string) { ready <- a }},
			[]string{"--addr", "127.0.0.1:0", "--forward-to", "http://" + sl.Addr().String() + "/mpesa?secret=QUERYSECRET", "--json"})
	}()
	addr := <-ready
	t.Cleanup(func() { cancel(); <-done })

	s := runTestSim(t, "--async", "http://"+addr+"/results", "--http")
	r := mpesaCmd(t, nil, "pay", "c2b", "--amount", "10", "--gateway", "mozambique", "--msisdn", mpesatest.MozambiqueMSISDNInsufficientBalance, "--env-file", s.envFile)
	assert.Equal(t, exitPending, r.code, r.all())
	code, body := s.control(t, "GET", "/_sim/callbacks?wait=1&timeout_ms=10000", "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"acknowledged": true`)

	require.Eventually(t, func() bool { return strings.Contains(out.String(), "\n") }, 5*time.Second, 10*time.Millisecond)
	var line map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.SplitN(out.String(), "\n", 2)[0]), &line))
	assert.Equal(t, "INS-2006", line["result_code"])
	assert.Equal(t, "mozambique-v1x", line["gateway"])
	assert.Equal(t, "Insufficient balance", line["meaning"])
	assert.Equal(t, "0", line["ack"].(map[string]any)["output_ResponseCode"])
	fwd := line["forward"].(map[string]any)
	assert.Equal(t, float64(200), fwd["status"])
	assert.Contains(t, fwd["ack_problems"], `output_ResponseCode is "00", want "0"`)
	assert.NotContains(t, out.String()+errOut.String(), "QUERYSECRET")
	mu.Lock()
	require.Len(t, forwarded, 1)
	assert.Contains(t, forwarded[0], `"input_ResultCode":"INS-2006"`)
	mu.Unlock()

	// Text output, and a service that fails: 503, so the gateway delivers
	// again.
	_ = service.Close()
	var text safeBuffer
	ready2 := make(chan string, 1)
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan int, 1)
	go func() {
		done2 <- runListen(ctx2, &env{stdout: &text, stderr: io.Discard, getenv: func(string) string { return "" }, ready: func(a string) { ready2 <- a }},
			[]string{"--addr", "127.0.0.1:0", "--forward-to", "http://" + sl.Addr().String() + "/gone"})
	}()
	addr2 := <-ready2
	t.Cleanup(func() { cancel2(); <-done2 })
	resp, err := http.Post("http://"+addr2+"/", "application/json", strings.NewReader(`{"input_OriginalConversationID":"C1","input_ThirdPartyReference":"R1","input_ResultCode":"0","input_ResultDesc":"ok","input_TransactionID":"T1"}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Eventually(t, func() bool { return strings.Contains(text.String(), "->") }, 5*time.Second, 10*time.Millisecond)
	assert.Contains(t, text.String(), "503")
	assert.Contains(t, text.String(), "conversation C1")
}

func listenLocal(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

// mpesa listen on Daraja: the simulator's STK callback, and C2B and
// queue-timeout bodies posted to the URLs Daraja sends them to, each
// acknowledged as Daraja expects and printed with what it is.
func TestListenOnDaraja(t *testing.T) {
	var out safeBuffer
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- runListen(ctx, &env{stdout: &out, stderr: io.Discard, getenv: func(string) string { return "" }, ready: func(a string) { ready <- a }},
			[]string{"--addr", "127.0.0.1:0", "--json"})
	}()
	addr := <-ready
	t.Cleanup(func() { cancel(); <-done })
	lines := func(n int) []map[string]any {
		t.Helper()
		require.Eventually(t, func() bool { return strings.Count(out.String(), "\n") >= n }, 20*time.Second, 10*time.Millisecond)
		var got []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &m), l)
			got = append(got, m)
		}
		return got
	}

	s := runTestSim(t, "--async", "http://"+addr+"/daraja/results", "--http", "--mozambique-ports=false")
	r := mpesaCmd(t, nil, "pay", "c2b", "--amount", "10", "--gateway", "daraja", "--env-file", s.envFile)
	require.Equal(t, exitPending, r.code, r.all())
	stk := lines(1)[0]
	assert.Equal(t, "daraja", stk["gateway"])
	assert.Equal(t, "stk", stk["callback"], "%v", stk)
	assert.Equal(t, "0", stk["result_code"])
	assert.Equal(t, float64(0), stk["ack"].(map[string]any)["ResultCode"])
	assert.Equal(t, "254******149", stk["msisdn"])
	assert.NotContains(t, out.String(), mpesatest.DarajaMSISDNSuccess)

	post := func(path, fixture string) int {
		body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "callbacks", "daraja", fixture))
		require.NoError(t, err)
		resp, err := http.Post("http://"+addr+path, "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, post("/daraja/validation", "c2b_v2_validation.json"))
	assert.Equal(t, http.StatusOK, post("/daraja/confirmation", "c2b_v2_confirmation.json"))
	assert.Equal(t, http.StatusOK, post("/daraja/timeout", "queue_timeout_flat.json"))
	got := lines(4)
	assert.Equal(t, "c2b-validation", got[1]["callback"])
	assert.Equal(t, "0", got[1]["ack"].(map[string]any)["ResultCode"], "a validation is answered with a string code")
	assert.Equal(t, "c2b-confirmation", got[2]["callback"])
	assert.Equal(t, float64(0), got[2]["ack"].(map[string]any)["ResultCode"])
	assert.Equal(t, "queue-timeout", got[3]["callback"], "%v", got[3])
	assert.False(t, got[3]["ok"].(bool), "a queue timeout is an unknown outcome")

	// A confirmation forwarded to a service that answers a string code
	// is reported: Daraja wants the number 0.
	assert.Equal(t, []string{`ResultCode is "0", want the number 0`},
		ackProblems(&mpesa.Result{Gateway: mpesa.GatewayDaraja, Callback: mpesa.CallbackC2BConfirmation}, []byte(`{"ResultCode":"0","ResultDesc":"ok"}`)))
	assert.Empty(t, ackProblems(&mpesa.Result{Gateway: mpesa.GatewayDaraja, Callback: mpesa.CallbackC2BValidation}, []byte(`{"ResultCode":"C2B00012","ResultDesc":"Rejected"}`)))
	assert.NotEmpty(t, ackProblems(&mpesa.Result{Gateway: mpesa.GatewayDaraja, Callback: mpesa.CallbackC2BValidation}, []byte(`{"ResultCode":0,"ResultDesc":"Accepted"}`)))
	assert.Empty(t, ackProblems(&mpesa.Result{Gateway: mpesa.GatewayDaraja, Callback: mpesa.CallbackSTK}, []byte(`thanks`)), "any answer acknowledges an STK callback")
	assert.NotEmpty(t, ackProblems(&mpesa.Result{Gateway: mpesa.GatewayDaraja, Callback: mpesa.CallbackResult}, []byte(`{"ResultCode":1}`)))
}
