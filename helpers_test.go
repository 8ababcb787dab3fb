package mpesa

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testAPIKey is the API key of the tests; no output may ever contain it.
const testAPIKey = "tEsT-aPi-KeY-6bc4157dbee34d409118e0978dc6dd17"

var (
	keyOnce    sync.Once
	testPriv   *rsa.PrivateKey
	testPubB64 string
)

// testKey returns a 2048-bit RSA key pair shared by the tests of this
// package, generated once per process.
func testKey(t testing.TB) (*rsa.PrivateKey, string) {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			panic(err)
		}
		testPriv, testPubB64 = k, base64.StdEncoding.EncodeToString(der)
	})
	return testPriv, testPubB64
}

// decryptBearer undoes encryptBearer, as the gateway does.
func decryptBearer(priv *rsa.PrivateKey, header string) (string, bool) {
	b64, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return "", false
	}
	ct, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", false
	}
	// Deprecated since Go 1.26; the gateways use PKCS #1 v1.5 and the tests
	// play the gateway.
	pt, err := rsa.DecryptPKCS1v15(nil, priv, ct)
	if err != nil {
		return "", false
	}
	return string(pt), true
}

// fakeGateway is an httptest server that plays an OpenAPI v2 or Mozambique
// gateway below a non-empty base path, so that tests also prove the client
// keeps a path prefix.
type fakeGateway struct {
	t    testing.TB
	srv  *httptest.Server
	mux  *http.ServeMux
	base string
	priv *rsa.PrivateKey
	pub  string

	sessionCalls atomic.Int64
	sessionSeq   atomic.Int64
	// sessionHandler, when set, answers getSession instead of the default.
	sessionHandler http.HandlerFunc
	// refused holds session IDs the gateway rejects with INS-2.
	mu      sync.Mutex
	refused map[string]bool
}

const basePath = "/gw/v1"

func newFakeGateway(t testing.TB) *fakeGateway {
	t.Helper()
	priv, pub := testKey(t)
	g := &fakeGateway{t: t, mux: http.NewServeMux(), priv: priv, pub: pub, refused: map[string]bool{}}
	g.srv = httptest.NewServer(g.mux)
	t.Cleanup(g.srv.Close)
	g.base = g.srv.URL + basePath
	g.mux.HandleFunc("GET "+basePath+"/sandbox/ipg/v2/vodacomTZN/getSession/", func(w http.ResponseWriter, r *http.Request) {
		g.sessionCalls.Add(1)
		if g.sessionHandler != nil {
			g.sessionHandler(w, r)
			return
		}
		key, ok := decryptBearer(g.priv, r.Header.Get("Authorization"))
		if !ok || key != testAPIKey {
			writeJSON(w, 401, map[string]string{"output_ResponseCode": "INS-2", "output_ResponseDesc": "Invalid API Key"})
			return
		}
		writeJSON(w, 200, map[string]string{
			"output_ResponseCode": "INS-0", "output_ResponseDesc": "Request processed successfully",
			"output_SessionID": g.newSessionID(),
		})
	})
	return g
}

func (g *fakeGateway) newSessionID() string {
	return "SeSsIoN" + strings.Repeat("x", 20) + string(rune('A'+g.sessionSeq.Add(1)%26))
}

// handle registers a handler below the base path: "POST /ipg/v1x/b2cPayment/".
func (g *fakeGateway) handle(method, path string, h http.HandlerFunc) {
	g.mux.HandleFunc(method+" "+basePath+path, h)
}

// openAPIPath is the path of an OpenAPI v2 sandbox API of Tanzania.
func openAPIPath(api string) string { return "/sandbox/ipg/v2/vodacomTZN/" + api }

// session returns the session ID an OpenAPI request was authorised with, or
// "" after answering INS-2 itself when the bearer is not a known session.
func (g *fakeGateway) session(w http.ResponseWriter, r *http.Request) (string, bool) {
	id, ok := decryptBearer(g.priv, r.Header.Get("Authorization"))
	g.mu.Lock()
	refused := g.refused[id]
	g.mu.Unlock()
	if !ok || !strings.HasPrefix(id, "SeSsIoN") || refused {
		writeJSON(w, 401, map[string]string{"output_ResponseCode": "INS-2", "output_ResponseDesc": "Invalid API Key"})
		return "", false
	}
	return id, true
}

func (g *fakeGateway) refuse(id string) {
	g.mu.Lock()
	g.refused[id] = true
	g.mu.Unlock()
}

// openAPIClient returns a client of the OpenAPI Tanzania sandbox aimed at g.
func (g *fakeGateway) openAPIClient(t testing.TB, opts ...Option) *Client {
	t.Helper()
	base := []Option{WithMarket(MarketTanzania), WithPublicKey(g.pub), WithBaseURL(g.base),
		WithHTTPClient(g.srv.Client()), WithRetryBackoff(time.Millisecond, 5*time.Millisecond)}
	c, err := NewClient(testAPIKey, append(base, opts...)...)
	require.NoError(t, err)
	return c
}

// mozClient returns a Mozambique client aimed at g.
func (g *fakeGateway) mozClient(t testing.TB, opts ...Option) *Client {
	t.Helper()
	base := []Option{WithGateway(GatewayMozambique), WithPublicKey(g.pub), WithBaseURL(g.base),
		WithHTTPClient(g.srv.Client()), WithRetryBackoff(time.Millisecond, 5*time.Millisecond)}
	c, err := NewClient(testAPIKey, append(base, opts...)...)
	require.NoError(t, err)
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fakeClock is a settable clock for session timing tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}
