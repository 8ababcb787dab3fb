package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa/mpesatest"
)

// resultSink is a merchant's result URL for Daraja, independent of
// mpesa.Handler: it keeps every body and acknowledges it as
// docs/gateways.md D28 says.
type resultSink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newResultSink(t *testing.T) *resultSink {
	k := &resultSink{}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		k.mu.Lock()
		k.bodies = append(k.bodies, string(data))
		k.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ResultCode":0,"ResultDesc":"Accepted"}`)
	}))
	t.Cleanup(k.srv.Close)
	return k
}

// waitFor returns the first body that holds every one of parts.
func (k *resultSink) waitFor(t *testing.T, parts ...string) string {
	t.Helper()
	var found string
	require.Eventually(t, func() bool {
		k.mu.Lock()
		defer k.mu.Unlock()
	next:
		for _, b := range k.bodies {
			for _, p := range parts {
				if !strings.Contains(b, p) {
					continue next
				}
			}
			found = b
			return true
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "no result holds %q", parts)
	return found
}

// The operator commands on Daraja against mpesa sim, with the env file it
// writes: an STK push and its query, B2C, B2B, a reversal, a status query,
// the balance and the C2B URLs, each with the exit code of its outcome.
func TestDarajaCommandsAgainstTheSimulator(t *testing.T) {
	sink := newResultSink(t)
	s := runTestSim(t, "--async", sink.srv.URL+"/daraja", "--mozambique-ports=false")
	file := []string{"--env-file", s.envFile, "--gateway", "daraja"}
	cmd := func(args ...string) result { return mpesaCmd(t, nil, append(args, file...)...) }

	// The STK push: accepted at once (5), the callback to the result URL,
	// and the CheckoutRequestID the STK query answers.
	r := cmd("pay", "c2b", "--amount", "10", "--transaction-reference", "INV1042", "--json")
	require.Equal(t, exitPending, r.code, r.all())
	var rep map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	assert.Equal(t, "daraja", rep["gateway"])
	assert.Equal(t, "pending", rep["outcome"])
	assert.Equal(t, "0", rep["code"])
	assert.Equal(t, "254******149", rep["msisdn"])
	assert.Nil(t, rep["reference"], "the STK push takes no reference of ours")
	checkout, _ := rep["conversation_id"].(string)
	require.True(t, strings.HasPrefix(checkout, "ws_CO_"), "%v", rep)
	assert.NotEmpty(t, rep["merchant_request_id"])
	assert.Contains(t, rep["next"], "mpesa status "+checkout)
	body := sink.waitFor(t, checkout, `"ResultCode":0`)
	assert.Contains(t, body, `"stkCallback"`)

	r = cmd("status", checkout, "--wait", "20s")
	require.Equal(t, exitOK, r.code, r.all())
	assert.Contains(t, r.stdout, "status          Completed")
	assert.Contains(t, r.stdout, "result          0 The service request is processed successfully.")

	// A customer who cancels: the STK query ends it Cancelled (1).
	r = cmd("pay", "c2b", "--amount", "10", "--msisdn", mpesatest.DarajaMSISDNCancelled, "--wait", "20s")
	assert.Equal(t, exitRefused, r.code, r.all())
	assert.Contains(t, r.stdout, "ended Cancelled")
	assert.Contains(t, r.stdout, "1032 Request cancelled by user")
	assert.Contains(t, r.stdout, "meaning         transaction cancelled by customer")
	// The same phone and amount within two minutes: result 17.
	r = cmd("pay", "c2b", "--amount", "10", "--wait", "20s", "--json")
	assert.Equal(t, exitRefused, r.code, r.all())
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	assert.Equal(t, "17", rep["result_code"])

	// B2C, B2B and a reversal: acknowledged, their Results at the URL.
	r = cmd("pay", "b2c", "--amount", "100", "--ref", "PAYOUT-1")
	require.Equal(t, exitPending, r.code, r.all())
	assert.Contains(t, r.stdout, "reference       PAYOUT-1", "B2C's OriginatorConversationID is ours")
	assert.Contains(t, r.stdout, "conversation    AG_")
	b2c := sink.waitFor(t, "PAYOUT-1", `"Result"`)
	var res struct {
		Result struct {
			ResultCode    json.Number
			TransactionID string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(b2c), &res), b2c)
	assert.Equal(t, "0", res.Result.ResultCode.String())
	receipt := res.Result.TransactionID
	require.Len(t, receipt, 10)

	r = cmd("pay", "b2b", "--amount", "100", "--receiver", "600000")
	assert.Equal(t, exitPending, r.code, r.all())
	assert.NotContains(t, r.stdout, "reference ")
	r = cmd("status", receipt)
	assert.Equal(t, exitPending, r.code, r.all())
	assert.Contains(t, r.stdout, "Daraja posts the transaction's status to the result URL")
	r = cmd("reverse", receipt, "--amount", "100", "--json")
	assert.Equal(t, exitPending, r.code, r.all())
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	assert.Equal(t, "100", rep["amount"])

	// The Daraja-only commands.
	r = cmd("balance")
	require.Equal(t, exitPending, r.code, r.all())
	assert.Contains(t, r.stdout, "balance: pending (0 ")
	assert.Contains(t, r.stdout, "shortcode       "+mpesatest.DarajaShortcode)
	assert.Contains(t, r.stdout, "Daraja posts the balances to the result URL")
	sink.waitFor(t, `"AccountBalance"`)
	r = cmd("register-urls", "--response-type", "Completed", "--confirmation-url", sink.srv.URL+"/confirmation", "--validation-url", sink.srv.URL+"/validation", "--json")
	require.Equal(t, exitOK, r.code, r.all())
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	assert.Equal(t, "completed", rep["outcome"])
	assert.Equal(t, "0", rep["code"])
	assert.NotEmpty(t, rep["originator_conversation_id"])
	r = cmd("register-urls", "--response-type", "completed", "--confirmation-url", "https://x.example/c", "--validation-url", "https://x.example/v")
	assert.Equal(t, exitUsage, r.code, "ResponseType is sentence case: %s", r.all())
	assert.Contains(t, r.stdout, "ResponseType")

	// A refusal the customer causes: one prompt per subscriber.
	code, body2 := s.control(t, "POST", "/_sim/scenarios", `{"api":"c2b","code":"500.001.1001"}`)
	require.Equal(t, http.StatusCreated, code, body2)
	r = cmd("pay", "c2b", "--amount", "30")
	assert.Equal(t, exitRefused, r.code, r.all())
	assert.Contains(t, r.stdout, "customer already has a prompt open")

	// token: the OAuth access token alone on standard output, and the
	// warning that a new one may end the previous.
	r = cmd("token")
	require.Equal(t, exitOK, r.code, r.all())
	assert.Regexp(t, `^[A-Za-z0-9]+\n$`, r.stdout)
	assert.Contains(t, r.stderr, "OAuth access token")
	r = cmd("token", "--json")
	require.Equal(t, exitOK, r.code, r.all())
	var tok map[string]string
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &tok))
	assert.Equal(t, "daraja", tok["gateway"])
	assert.Equal(t, "Bearer "+tok["token"], tok["authorization"])
	r = mpesaCmd(t, map[string]string{"MPESA_DARAJA_CONSUMER_SECRET": "wrong"}, append([]string{"token"}, file...)...)
	assert.Equal(t, exitRefused, r.code, r.all())
	assert.Empty(t, r.stdout)
}

// Every missing Daraja setting is named at once, and only those the
// command needs; nothing is sent.
func TestDarajaMissingSettingsAreNamedAtOnce(t *testing.T) {
	d := map[string]string{"MPESA_GATEWAY": "daraja"}
	r := mpesaCmd(t, d, "pay", "c2b")
	assert.Equal(t, exitUsage, r.code)
	for _, want := range []string{"MPESA_CONSUMER_KEY is not set", "MPESA_CONSUMER_SECRET is not set", "no shortcode",
		"MPESA_PASSKEY is not set", "no result URL: --result-url or MPESA_RESULT_URL", "no amount", "no customer"} {
		assert.Contains(t, r.stderr, want)
	}
	assert.NotContains(t, r.stderr, "initiator", "an STK push needs no initiator")
	assert.NotContains(t, r.stderr, "market", "Daraja has none")

	r = mpesaCmd(t, map[string]string{"MPESA_GATEWAY": "safaricom", "MPESA_API_KEY": "k"}, "pay", "b2c", "--amount", "10", "--msisdn", "254708374149")
	assert.Equal(t, exitUsage, r.code)
	for _, want := range []string{"MPESA_CONSUMER_SECRET is not set", "no initiator: --initiator or MPESA_INITIATOR_NAME", "MPESA_INITIATOR_PASSWORD is not set", "no result URL"} {
		assert.Contains(t, r.stderr, want)
	}
	assert.NotContains(t, r.stderr, "MPESA_CONSUMER_KEY", "MPESA_API_KEY is the consumer key")
	assert.NotContains(t, r.stderr, "PASSKEY")

	// The STK query signs with the passkey; the status API acts as the
	// initiator.
	r = mpesaCmd(t, map[string]string{"MPESA_MARKET": "safaricomKEN"}, "status", "ws_CO_12345")
	assert.Contains(t, r.stderr, "MPESA_PASSKEY")
	assert.NotContains(t, r.stderr, "initiator")
	r = mpesaCmd(t, d, "status", "LGR919G2AV", "--wait", "1m")
	for _, want := range []string{"no initiator", "no result URL", "--wait: Daraja posts the result"} {
		assert.Contains(t, r.stderr, want)
	}
	r = mpesaCmd(t, d, "reverse", "LGR919G2AV", "--ref", "R1")
	for _, want := range []string{"no amount: --amount", "--ref: Daraja's reverse takes no reference", "no initiator"} {
		assert.Contains(t, r.stderr, want)
	}
	r = mpesaCmd(t, d, "token")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "MPESA_CONSUMER_SECRET")
	assert.NotContains(t, r.stderr, "shortcode", "a token needs the key and secret only")

	r = mpesaCmd(t, d, "register-urls")
	for _, want := range []string{"no confirmation URL", "no validation URL", "no response type", "no shortcode"} {
		assert.Contains(t, r.stderr, want)
	}
	assert.NotContains(t, r.stderr, "result URL")
	r = mpesaCmd(t, nil, "balance", "--market", "vodacomTZN")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "balance is Daraja's: --gateway daraja")
	r = mpesaCmd(t, map[string]string{"MPESA_MARKET": "vodacomTZN"}, "pay", "c2b", "--till", "123456")
	assert.Contains(t, r.stderr, "--till: Daraja only")
	r = mpesaCmd(t, map[string]string{"MPESA_GATEWAY": "daraja", "MPESA_CONSUMER_KEY": "k", "MPESA_CONSUMER_SECRET": "s", "MPESA_CERTIFICATE_FILE": "/does/not/exist"}, "token")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "certificate: open /does/not/exist")
}

// Daraja's settings follow the same precedence as the others': a flag over
// the environment over the file, MPESA_DARAJA_<NAME> before MPESA_<NAME>
// within a source, MPESA_CONSUMER_KEY before MPESA_API_KEY.
func TestDarajaSettingsPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.env")
	require.NoError(t, os.WriteFile(path, []byte(`MPESA_GATEWAY=daraja
MPESA_API_KEY=file-api-key
MPESA_DARAJA_CONSUMER_KEY=file-consumer-key
MPESA_SERVICE_PROVIDER_CODE=000000
MPESA_DARAJA_SERVICE_PROVIDER_CODE=174379
MPESA_DARAJA_CONSUMER_SECRET=file-secret
MPESA_PASSKEY=file-passkey
MPESA_DARAJA_INITIATOR_NAME=testapi
MPESA_INITIATOR_ID=MPesa2018
MPESA_DARAJA_INITIATOR_PASSWORD='pa#ss&1'
MPESA_RESULT_URL=https://pay.example.co.ke/daraja/result
MPESA_PUBLIC_KEY=not-for-daraja
`), 0o600))
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
	assert.Equal(t, "daraja", s.def.names[0])
	assert.Equal(t, "file-consumer-key", s.apiKey)
	assert.Equal(t, "174379", s.shortcode)
	assert.Equal(t, "file-secret", s.daraja.consumerSecret)
	assert.Equal(t, "file-passkey", s.daraja.passkey)
	assert.Equal(t, "testapi", s.initiator, "Daraja's initiator is a name, not Mozambique's ID")
	assert.Equal(t, "pa#ss&1", s.daraja.password)
	assert.Equal(t, "https://pay.example.co.ke/daraja/result", s.daraja.resultURL)
	assert.Equal(t, s.daraja.resultURL, s.daraja.queueTimeoutURL, "the queue timeout URL defaults to the result URL")
	assert.Empty(t, s.publicKey, "Daraja's key comes from its certificate")

	s = load(map[string]string{"MPESA_API_KEY": "env-api-key", "MPESA_PASSKEY": "env-passkey"})
	assert.Equal(t, "env-api-key", s.apiKey, "the environment wins over the file whatever the name")
	assert.Equal(t, "env-passkey", s.daraja.passkey)
	s = load(map[string]string{"MPESA_API_KEY": "env-api-key", "MPESA_CONSUMER_KEY": "env-consumer-key"})
	assert.Equal(t, "env-consumer-key", s.apiKey)
	s = load(nil, "--shortcode", "600000", "--result-url", "https://flag.example/r", "--queue-timeout-url", "https://flag.example/q", "--initiator", "other")
	assert.Equal(t, "600000", s.shortcode)
	assert.Equal(t, "https://flag.example/r", s.daraja.resultURL)
	assert.Equal(t, "https://flag.example/q", s.daraja.queueTimeoutURL)
	assert.Equal(t, "other", s.initiator)
	_, err := s.client()
	require.NoError(t, err, "the settings make a client")
}

// An interactive customer's STK push from mpesa pay c2b: the prompt waits
// on the phone; answered through the control plane's endpoints, its
// answer decides the callback and the command's exit code.
func TestDarajaInteractiveSTKPrompt(t *testing.T) {
	sink := newResultSink(t)
	s := runTestSim(t, "--interactive", "--async", sink.srv.URL+"/daraja", "--mozambique-ports=false", "--http")
	file := []string{"--env-file", s.envFile, "--gateway", "daraja"}

	code, page := s.control(t, "GET", "/", "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, page, mpesatest.DarajaMSISDNCancelled)
	assert.Contains(t, page, "cancels the prompt: 1032")

	for _, tc := range []struct {
		answer, code string
		exit         int
	}{{"decline", "1032", exitRefused}, {"pin", "0", exitOK}} {
		done := make(chan result, 1)
		go func(amount string) {
			done <- mpesaCmd(t, nil, append([]string{"pay", "c2b", "--amount", amount, "--wait", "50s", "--json"}, file...)...)
		}(map[string]string{"decline": "21", "pin": "22"}[tc.answer])

		code, body := s.control(t, "GET", "/_sim/prompts?wait_ms=20000", "")
		require.Equal(t, http.StatusOK, code, body)
		var prompts []map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &prompts))
		require.Len(t, prompts, 1, body)
		p := prompts[0]
		assert.Equal(t, "daraja", p["gateway"])
		assert.Equal(t, "254******149", p["msisdn"])
		assert.Contains(t, p["text"], "Enter your M-PESA PIN")
		select {
		case r := <-done:
			t.Fatalf("the command ended before the prompt was answered: %s", r.all())
		case <-time.After(100 * time.Millisecond):
		}
		code, body = s.control(t, "POST", "/_sim/prompts/"+p["id"].(string), `{"answer":"`+tc.answer+`"}`)
		require.Equal(t, http.StatusOK, code, body)

		r := <-done
		assert.Equal(t, tc.exit, r.code, r.all())
		var rep map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
		assert.Equal(t, tc.code, rep["result_code"])
		assert.Equal(t, p["conversation_id"], rep["conversation_id"])
		sink.waitFor(t, p["conversation_id"].(string), `"ResultCode":`+tc.code+`,`)
	}
}

// basicOf is the Authorization value of Daraja's token request, a secret.
func basicOf(key, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(key + ":" + secret))
}
