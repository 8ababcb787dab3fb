package mpesa

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"
)

// A fake of Daraja for the tests of this package: the OAuth token endpoint
// with Basic auth, tokens it can refuse, and a product endpoint per path
// that answers what the portal pages document (docs/gateways.md D3–D22).
// It is an http.Handler, served through one httpmock transport per test.
// The Daraja simulator of package mpesatest comes with the callbacks issue.

// The credentials of the tests; no output may ever contain them.
const (
	testConsumerKey       = "cOnSuMeRkEy6bc4157dbee34d409118e0978"
	testConsumerSecret    = "cOnSuMeRsEcReTa1b2c3d4e5f60718"
	testPasskey           = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
	testInitiator         = "testapi"
	testInitiatorPassword = "Safaricom999!*!"
	testShortcode         = "174379"
	testResultURL         = "https://example.com/daraja/result"
	testTimeoutURL        = "https://example.com/daraja/timeout"
	testKenyaMSISDN       = "254708374149"
	darajaBase            = "https://daraja.test/prefix"
)

// testTokenPrefix starts every token the fake issues, so that a test can
// look for any of them in an output.
const testTokenPrefix = "tOkEnSGWcJPtNtYNPGm6uSYR9y"

// darajaRecord is one request as the fake received it.
type darajaRecord struct {
	method, path, rawQuery string
	header                 http.Header
	body                   []byte
}

// params decodes a product request's flat JSON body of strings.
func (r darajaRecord) params(t testing.TB) map[string]string {
	t.Helper()
	m, err := decodeFlatJSON(r.body)
	require.NoError(t, err, "body %q", r.body)
	return m
}

// darajaFake plays Daraja.
type darajaFake struct {
	mu         sync.Mutex
	tokenCalls int
	tokens     []string          // issued, oldest first
	refused    map[string]string // token → the code that refuses it
	records    []darajaRecord    // product requests
	// tokenAnswer, when set, answers the token request instead.
	tokenAnswer http.HandlerFunc
	// expiresIn is the JSON of expires_in; default "3599" as a string.
	expiresIn string
	// gate, when set, holds every token request until it is closed.
	gate chan struct{}
	// answers answer product requests in turn, the last repeating; by
	// default each path's documented acknowledgement.
	answers []http.HandlerFunc
}

func newDarajaFake() *darajaFake { return &darajaFake{refused: map[string]string{}} }

func (f *darajaFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/prefix")
	if path == "/oauth/v1/generate" {
		f.serveToken(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.records = append(f.records, darajaRecord{method: r.Method, path: path, rawQuery: r.URL.RawQuery,
		header: r.Header.Clone(), body: body})
	n := len(f.records)
	token, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	known := slices.Contains(f.tokens, token)
	code := f.refused[token]
	var answer http.HandlerFunc
	if len(f.answers) > 0 {
		answer = f.answers[min(n, len(f.answers))-1]
	}
	f.mu.Unlock()
	switch {
	case !bearer || !known:
		writeJSON(w, 404, darajaEnvelope("404.001.03", "Invalid Access Token"))
	case code != "":
		status := 404
		fmt.Sscanf(code, "%d", &status)
		writeJSON(w, status, darajaEnvelope(code, "Invalid Access Token - "+token))
	case r.Method != http.MethodPost:
		writeJSON(w, 405, darajaEnvelope("405.001", "Method Not Allowed"))
	case answer != nil:
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		answer(w, r)
	default:
		writeJSON(w, 200, darajaAnswerFor(path))
	}
}

func (f *darajaFake) serveToken(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.tokenCalls++
	gate, custom := f.gate, f.tokenAnswer
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if custom != nil {
		custom(w, r)
		return
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(testConsumerKey+":"+testConsumerSecret))
	if r.Method != http.MethodGet || r.URL.Query().Get("grant_type") != "client_credentials" {
		writeJSON(w, 400, darajaEnvelope("400.008.02", "Invalid grant type passed"))
		return
	}
	if r.Header.Get("Authorization") != basic {
		w.WriteHeader(400) // a wrong key or secret: 400 with an empty body
		return
	}
	f.mu.Lock()
	token := fmt.Sprintf("%s%c%04d", testTokenPrefix, 'A'+len(f.tokens)%26, len(f.tokens))
	f.tokens = append(f.tokens, token)
	expires := orDefault(f.expiresIn, `"3599"`)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"expires_in":%s}`, token, expires)
}

// refuse makes the fake refuse a token it issued with code.
func (f *darajaFake) refuse(token, code string) {
	f.mu.Lock()
	f.refused[token] = code
	f.mu.Unlock()
}

// accept makes the fake accept a token a custom tokenAnswer handed out.
func (f *darajaFake) accept(token string) {
	f.mu.Lock()
	f.tokens = append(f.tokens, token)
	f.mu.Unlock()
}

func (f *darajaFake) requests() []darajaRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.records)
}

func (f *darajaFake) tokenCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCalls
}

func (f *darajaFake) issued() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.tokens)
}

// darajaEnvelope is the API gateway's error body.
func darajaEnvelope(code, msg string) map[string]string {
	return map[string]string{"requestId": "16813-1590513-1", "errorCode": code, "errorMessage": msg}
}

// darajaAnswerFor is the documented synchronous answer of each path.
func darajaAnswerFor(path string) map[string]string {
	switch {
	case strings.HasSuffix(path, "/stkpush/v1/processrequest"):
		return map[string]string{"MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": "ws_CO_191220191020363925",
			"ResponseCode": "0", "ResponseDescription": "Success. Request accepted for processing",
			"CustomerMessage": "Success. Request accepted for processing"}
	case strings.HasSuffix(path, "/stkpushquery/v1/query"):
		return map[string]string{"ResponseCode": "0", "ResponseDescription": "The service request has been accepted successsfully",
			"MerchantRequestID": "22205-34066-1", "CheckoutRequestID": "ws_CO_13012021093521236557", "ResultCode": "0",
			"ResultDesc": "The service request is processed successfully."}
	case strings.Contains(path, "/c2b/") && strings.HasSuffix(path, "/registerurl"):
		return map[string]string{"OriginatorCoversationID": "7619-37765134-1", "ResponseCode": "0", "ResponseDescription": "success"}
	case strings.Contains(path, "/c2b/") && strings.HasSuffix(path, "/simulate"):
		return map[string]string{"OriginatorCoversationID": "53e3-4aa8-9fe0-8fb5e4092cdd3405976", "ResponseCode": "0",
			"ResponseDescription": "Accept the service request successfully."}
	case strings.HasSuffix(path, "/pulltransactions/v1/register"):
		return map[string]string{"ResponseRefID": "18633-7271215-1", "ResponseStatus": "1000", "ShortCode": "600000",
			"ResponseDescription": "Shortcode Registered Successfully"}
	case strings.HasSuffix(path, "/pulltransactions/v1/query"):
		return map[string]string{"ResponseRefID": "26178-42530161-2", "ResponseCode": "1001", "ResponseMessage": "Null",
			"Transaction": "[[]]"}
	case strings.HasSuffix(path, "/b2c/v3/paymentrequest"):
		return map[string]string{"ConversationID": "AG_20191219_00005797af5d7d75f652", "OriginatorConversationID": "16740-34861180-1",
			"ResponseCode": "0", "ResponseDescription": "Accept the service request successfully."}
	}
	return map[string]string{"ConversationID": "AG_20180223_0000493344ae97d86f75", "OriginatorConversationID": "3213-416199-2",
		"ResponseCode": "0", "ResponseDescription": "Accept the service request successfully."}
}

// answerJSON answers with a status and a raw body.
func answerJSON(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// handlerResponder serves h through an httpmock transport.
func handlerResponder(h http.Handler) httpmock.Responder {
	return func(req *http.Request) (*http.Response, error) {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		return rr.Result(), nil
	}
}

var (
	certOnce    sync.Once
	testCertPEM string
)

// testCertificate returns a self-signed certificate of the tests' RSA key,
// long expired like Safaricom's, in PEM.
func testCertificate(t testing.TB) (*rsa.PrivateKey, string) {
	t.Helper()
	priv, _ := testKey(t)
	certOnce.Do(func() {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "apicrypt.test"},
			NotBefore: time.Date(2014, 11, 12, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2016, 11, 11, 0, 0, 0, 0, time.UTC)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
		if err != nil {
			panic(err)
		}
		testCertPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	})
	return priv, testCertPEM
}

// decryptCredential undoes the SecurityCredential, as Daraja does.
func decryptCredential(priv *rsa.PrivateKey, cred string) (string, bool) {
	return decryptBearer(priv, "Bearer "+cred)
}

// darajaClient returns a Daraja sandbox client whose requests f answers
// through a fresh httpmock transport, with every credential configured and
// the tests' certificate.
func darajaClient(t testing.TB, f *darajaFake, opts ...Option) (*Client, *httpmock.MockTransport) {
	t.Helper()
	_, cert := testCertificate(t)
	mt := httpmock.NewMockTransport()
	mt.RegisterNoResponder(handlerResponder(f))
	base := []Option{WithGateway(GatewayDaraja), WithConsumerSecret(testConsumerSecret), WithBaseURL(darajaBase),
		WithHTTPClient(&http.Client{Transport: mt}), WithServiceProviderCode(testShortcode), WithPasskey(testPasskey),
		WithInitiator(testInitiator, testInitiatorPassword), WithCertificate(cert), WithResultURL(testResultURL),
		WithQueueTimeoutURL(testTimeoutURL), WithRetryBackoff(time.Millisecond, 2*time.Millisecond)}
	c, err := NewClient(testConsumerKey, append(base, opts...)...)
	require.NoError(t, err)
	return c, mt
}

// darajaClock is the fixed time of the wire tests: 2026-11-23 23:30:05
// UTC, already the 24th in Nairobi.
var darajaClock = time.Date(2026, 11, 23, 23, 30, 5, 0, time.UTC)
