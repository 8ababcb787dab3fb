package mpesa

// Fault servers: a test gateway that answers every call of the OpenAPI v2
// (Tanzania) and Mozambique gateways normally, or injects a fault, over
// HTTP/1.1 (net/http) and over HTTP/2 (a small raw server written with
// golang.org/x/net/http2's Framer, since net/http's server cannot reset a
// stream with an arbitrary code or send GOAWAY after reading a stream). Both
// count every request they see, per API path, once its headers arrived, and
// record whether its body was read completely.
//
// Only the exported API of the package is used here (and the helpers of
// helpers_test.go), so that the core can be restructured freely.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	// Test-only. go.mod pins golang.org/x/net v0.35.0: its go.mod says
	// go 1.18, later versions need Go 1.23+, and CI also tests with Go 1.22.
	"golang.org/x/net/http2"
)

// The protocols a fault gateway speaks.
const (
	protoHTTP1 = "http1"
	protoHTTP2 = "http2"
)

var faultProtocols = []string{protoHTTP1, protoHTTP2}

// faultBase is the non-empty base path the fault gateway serves below, so
// that every test also proves the client keeps a path prefix.
const faultBase = "/gw/v1"

// The API paths below faultBase.
const (
	faultOpenAPIPrefix = "/sandbox/ipg/v2/vodacomTZN/"
	faultMozPrefix     = "/ipg/v1x/"
	faultSessionPath   = faultOpenAPIPrefix + "getSession/"
)

// faultHold is the longest a held request is kept unanswered.
const faultHold = 10 * time.Second

// defaultRunawayCap is how many requests of one API path a fault gateway
// faults before it gives up and answers normally. A client that resends on
// its own (Go's HTTP/2 transport after RST_STREAM or GOAWAY) would otherwise
// loop until its context ends; once a cell has seen this many requests its
// assertion is lost anyway, and answering ends the call at once.
const defaultRunawayCap = 50

// seenRequest is one request as the gateway saw it.
type seenRequest struct {
	Proto    string // "HTTP/1.1" or "HTTP/2.0"
	Method   string
	Path     string // below faultBase
	RawQuery string
	Header   http.Header
	Body     []byte
	// Complete reports that the body was read to its end (END_STREAM, or
	// EOF with the announced length).
	Complete bool
	At       time.Time
	Conn     int64 // connection number, 1-based
	Stream   uint32
}

// payload is what must be byte-identical across resends of one call.
func (r *seenRequest) payload() string {
	return r.Method + " " + r.Path + "?" + r.RawQuery + "\n" + string(r.Body)
}

// faultActionKind is what the gateway does with a request it has read.
type faultActionKind int

const (
	faultAnswer      faultActionKind = iota // write status, header and body
	faultResetConn                          // reset the TCP connection (SO_LINGER 0)
	faultRSTStream                          // HTTP/2 only: RST_STREAM with code
	faultGoAway                             // HTTP/2 only: GOAWAY(0, code), then close
	faultGoAwayLast                         // HTTP/2 only: GOAWAY(this stream, code, debug), then close
	faultHoldRequest                        // never answer
)

type faultAction struct {
	kind   faultActionKind
	status int
	header http.Header
	body   []byte
	code   http2.ErrCode
	// debug is a GOAWAY's debug data, text of the server's choosing.
	debug []byte
	// closeAfter closes the connection gracefully after the answer
	// (HTTP/1.1 Connection: close; HTTP/2 GOAWAY with this stream last).
	closeAfter bool
}

func faultRespond(status int, contentType, body string) faultAction {
	return faultAction{kind: faultAnswer, status: status, header: http.Header{
		"Content-Type":   {contentType},
		"Content-Length": {strconv.Itoa(len(body))},
	}, body: []byte(body)}
}

func faultJSON(status int, v any) faultAction {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return faultRespond(status, "application/json", string(b))
}

// faultFunc decides the fate of a product request (getSession is always
// answered normally). n counts the requests of the same API path the gateway
// has seen, this one included. g.normal(r) is the regular answer.
type faultFunc func(g *faultGateway, r *seenRequest, n int) faultAction

// connFault is a fault applied to a connection before any request is read.
type connFault int

const (
	connHealthy connFault = iota
	// connResetBeforeTLS resets the TCP connection as soon as it is
	// accepted, before reading anything.
	connResetBeforeTLS
	// connResetAfterHandshake completes the TLS handshake and resets the
	// connection without reading a request.
	connResetAfterHandshake
)

// faultConfig configures a fault gateway.
type faultConfig struct {
	product faultFunc
	conn    connFault
	// healthyConns is how many connections are served before conn
	// applies. With healthyConns > 0 the answer to getSession closes its
	// connection, so that the product request needs a new one.
	healthyConns int64
	// runawayCap overrides defaultRunawayCap; negative means no cap.
	runawayCap int
	// refused: no server at all, the port refuses connections.
	refused bool
}

// faultGateway plays both gateways below faultBase over one protocol.
type faultGateway struct {
	proto string
	priv  *rsa.PrivateKey
	cfg   faultConfig
	// base is the URL to give WithBaseURL; client trusts the server.
	base   string
	client *http.Client

	ln      net.Listener
	h1      *httptest.Server
	tlsConf *tls.Config
	quit    chan struct{}
	wg      sync.WaitGroup

	conns       atomic.Int64 // TCP connections accepted
	sessions    atomic.Int64 // getSession requests
	sessionSeq  atomic.Int64
	h2Frames    atomic.Int64 // HTTP/2 frames read
	h2Prefaces  atomic.Int64 // HTTP/2 client prefaces read
	h1TLSProtos sync.Map     // ALPN protocols negotiated on HTTP/1.1 conns
	h1ConnIDs   sync.Map     // *tls.Conn → connection number

	mu        sync.Mutex
	reqs      []*seenRequest
	anomalies []string
	bearers   map[string]string // decrypted Authorization values
}

// newFaultGateway starts a fault gateway over proto and returns it with a
// client that trusts it and speaks proto.
func newFaultGateway(t testing.TB, proto string, cfg faultConfig) *faultGateway {
	t.Helper()
	priv, _ := testKey(t)
	g := &faultGateway{proto: proto, priv: priv, cfg: cfg, quit: make(chan struct{}), bearers: map[string]string{}}
	cert, pool := faultCert(t)
	g.client = faultHTTPClient(proto, pool)
	t.Cleanup(g.client.CloseIdleConnections)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fault gateway: listen: %v", err)
	}
	g.base = "https://" + ln.Addr().String() + faultBase
	if cfg.refused {
		// Nothing listens on the port any more: connections are refused.
		ln.Close()
		return g
	}
	g.ln = ln
	switch proto {
	case protoHTTP1:
		g.tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
		g.h1 = httptest.NewUnstartedServer(http.HandlerFunc(g.serveHTTP1))
		g.h1.EnableHTTP2 = false
		// No HTTP/2 even if a client offered it.
		g.h1.Config.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		g.h1.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			if id, ok := g.h1ConnIDs.Load(c); ok {
				return context.WithValue(ctx, faultConnKey{}, id)
			}
			return ctx
		}
		// Resets make net/http log TLS handshake errors; they are the point.
		g.h1.Config.ErrorLog = log.New(io.Discard, "", 0)
		g.h1.Listener.Close()
		g.h1.Listener = &faultListener{Listener: ln, g: g}
		// Start, not StartTLS: the listener does TLS itself, so that it can
		// reset a connection right after the handshake. g.base holds the
		// https URL.
		g.h1.Start()
		t.Cleanup(func() {
			close(g.quit)
			g.h1.CloseClientConnections()
			g.h1.Close()
		})
	case protoHTTP2:
		g.tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}}
		g.wg.Add(1)
		go g.acceptH2()
		t.Cleanup(func() {
			close(g.quit)
			ln.Close()
			g.wg.Wait()
		})
	default:
		t.Fatalf("fault gateway: unknown protocol %q", proto)
	}
	return g
}

// faultHTTPClient returns a client that trusts pool and speaks proto.
func faultHTTPClient(proto string, pool *x509.CertPool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	if proto == protoHTTP2 {
		// NextProtos is left to net/http, whose bundled HTTP/2 then
		// offers h2.
		tr.ForceAttemptHTTP2 = true
	} else {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr}
}

var (
	faultCertOnce sync.Once
	faultCertKey  tls.Certificate
	faultCertPool *x509.CertPool
	faultCertErr  error
)

// faultCert returns a self-signed ECDSA certificate for 127.0.0.1 (cheap
// handshakes, since the matrix opens many connections) and a pool with it.
func faultCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	faultCertOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			faultCertErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "mpesa fault gateway"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
			DNSNames:              []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			faultCertErr = err
			return
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			faultCertErr = err
			return
		}
		faultCertKey = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		faultCertPool = x509.NewCertPool()
		faultCertPool.AddCert(leaf)
	})
	if faultCertErr != nil {
		t.Fatalf("fault gateway: certificate: %v", faultCertErr)
	}
	return faultCertKey, faultCertPool
}

// anomaly records something the gateway did not expect of the client.
func (g *faultGateway) anomaly(format string, args ...any) {
	g.mu.Lock()
	g.anomalies = append(g.anomalies, fmt.Sprintf(format, args...))
	g.mu.Unlock()
}

// Anomalies returns what the gateway did not expect of the client.
func (g *faultGateway) Anomalies() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.anomalies...)
}

// record counts a request whose headers arrived and returns how many
// requests of its path the gateway has seen.
func (g *faultGateway) record(r *seenRequest) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reqs = append(g.reqs, r)
	n := 0
	for _, x := range g.reqs {
		if x.Path == r.Path {
			n++
		}
	}
	return n
}

// complete stores the body of r and whether it was read to its end.
func (g *faultGateway) complete(r *seenRequest, body []byte, complete bool) {
	g.mu.Lock()
	r.Body = append([]byte(nil), body...)
	r.Complete = complete
	g.mu.Unlock()
}

// Requests returns a copy of every request seen, getSession included.
func (g *faultGateway) Requests() []seenRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]seenRequest, len(g.reqs))
	for i, r := range g.reqs {
		out[i] = *r
	}
	return out
}

// ProductRequests returns the requests seen other than getSession.
func (g *faultGateway) ProductRequests() []seenRequest {
	var out []seenRequest
	for _, r := range g.Requests() {
		if r.Path != faultSessionPath {
			out = append(out, r)
		}
	}
	return out
}

// Sessions returns how many getSession requests the gateway saw.
func (g *faultGateway) Sessions() int64 { return g.sessions.Load() }

// Conns returns how many TCP connections the gateway accepted.
func (g *faultGateway) Conns() int64 { return g.conns.Load() }

// FaultedConns returns how many accepted connections got the conn fault.
func (g *faultGateway) FaultedConns() int64 {
	if g.cfg.conn == connHealthy {
		return 0
	}
	return max(0, g.conns.Load()-g.cfg.healthyConns)
}

// decide returns what to do with a request that was read completely.
func (g *faultGateway) decide(r *seenRequest, n int) faultAction {
	if r.Path == faultSessionPath {
		a := g.session(r)
		a.closeAfter = g.cfg.healthyConns > 0
		return a
	}
	limit := g.cfg.runawayCap
	if limit == 0 {
		limit = defaultRunawayCap
	}
	if g.cfg.product != nil && (limit < 0 || n <= limit) {
		return g.cfg.product(g, r, n)
	}
	return g.normal(r)
}

// bearer decrypts an Authorization header, caching the result (the client
// reuses its encrypted bearers, and RSA decryption is the costliest part of
// serving a request).
func (g *faultGateway) bearer(h string) (string, bool) {
	g.mu.Lock()
	v, ok := g.bearers[h]
	g.mu.Unlock()
	if ok {
		return v, v != ""
	}
	v, ok = decryptBearer(g.priv, h)
	if !ok {
		v = ""
	}
	g.mu.Lock()
	g.bearers[h] = v
	g.mu.Unlock()
	return v, ok
}

var faultInvalidKey = map[string]string{"output_ResponseCode": "INS-2", "output_ResponseDesc": "Invalid API Key"}

// session answers OpenAPI getSession.
func (g *faultGateway) session(r *seenRequest) faultAction {
	g.sessions.Add(1)
	if r.Method != http.MethodGet {
		return faultRespond(http.StatusMethodNotAllowed, "text/plain", "fault gateway: getSession is a GET")
	}
	if key, ok := g.bearer(r.Header.Get("Authorization")); !ok || key != testAPIKey {
		return faultJSON(http.StatusUnauthorized, faultInvalidKey)
	}
	return faultJSON(http.StatusOK, map[string]string{
		"output_ResponseCode": "INS-0", "output_ResponseDesc": "Request processed successfully",
		"output_SessionID": fmt.Sprintf("SeSsIoN%020d", g.sessionSeq.Add(1)),
	})
}

// faultAPIs maps the product paths below the gateway prefixes to methods.
var faultAPIs = map[string]string{
	"c2bPayment/singleStage/": http.MethodPost,
	"b2cPayment/":             http.MethodPost,
	"b2bPayment/":             http.MethodPost,
	"reversal/":               http.MethodPut,
	"queryTransactionStatus/": http.MethodGet,
}

// normal answers a product request with the documented synchronous success.
func (g *faultGateway) normal(r *seenRequest) faultAction {
	var api, refKey, outKey string
	openAPI := false
	switch {
	case strings.HasPrefix(r.Path, faultOpenAPIPrefix):
		api, openAPI = strings.TrimPrefix(r.Path, faultOpenAPIPrefix), true
		refKey, outKey = "input_ThirdPartyConversationID", "output_ThirdPartyConversationID"
	case strings.HasPrefix(r.Path, faultMozPrefix):
		api = strings.TrimPrefix(r.Path, faultMozPrefix)
		refKey, outKey = "input_ThirdPartyReference", "output_ThirdPartyReference"
	}
	method, ok := faultAPIs[api]
	if !ok {
		return faultRespond(http.StatusNotFound, "text/plain", "fault gateway: no API at "+r.Path)
	}
	if r.Method != method {
		return faultRespond(http.StatusMethodNotAllowed, "text/plain", "fault gateway: "+api+" is a "+method)
	}
	bearer, ok := g.bearer(r.Header.Get("Authorization"))
	if !ok || (openAPI && !strings.HasPrefix(bearer, "SeSsIoN")) || (!openAPI && bearer != testAPIKey) {
		return faultJSON(http.StatusUnauthorized, faultInvalidKey)
	}
	var ref string
	if method == http.MethodGet {
		q, err := url.ParseQuery(r.RawQuery)
		if err != nil {
			return faultRespond(http.StatusBadRequest, "text/plain", "fault gateway: bad query")
		}
		ref = q.Get(refKey)
	} else {
		var in map[string]string
		if err := json.Unmarshal(r.Body, &in); err != nil {
			return faultRespond(http.StatusBadRequest, "text/plain", "fault gateway: bad JSON body: "+err.Error())
		}
		ref = in[refKey]
	}
	out := map[string]string{
		"output_ResponseCode":   "INS-0",
		"output_ResponseDesc":   "Request processed successfully",
		"output_ConversationID": "d3502ff9b5d04ea5ab7e5b8c0b1c6f2a",
		"output_TransactionID":  "49XCD123F6",
		outKey:                  ref,
	}
	status := http.StatusCreated
	if method == http.MethodGet {
		status = http.StatusOK
		out["output_ResponseTransactionStatus"] = "Completed"
	}
	return faultJSON(status, out)
}

// newFakeGatewayOver returns a fakeGateway (helpers_test.go) whose server
// speaks proto: protoHTTP1 is the plain-HTTP httptest server of
// newFakeGateway; protoHTTP2 serves the same mux and getSession handler over
// TLS with EnableHTTP2, and the client of g.srv.Client() speaks h2. Every
// request is checked to arrive over proto.
func newFakeGatewayOver(t testing.TB, proto string) *fakeGateway {
	t.Helper()
	g := newFakeGateway(t) // registers getSession on g.mux
	want := 1
	if proto == protoHTTP2 {
		want = 2
	}
	check := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != want {
			t.Errorf("fake gateway over %s got an %s request", proto, r.Proto)
		}
		g.mux.ServeHTTP(w, r)
	})
	// Replace the server newFakeGateway started by one with the check
	// (the handler of a running server must not be changed).
	g.srv.Close()
	srv := httptest.NewUnstartedServer(check)
	switch proto {
	case protoHTTP1:
		srv.Start()
	case protoHTTP2:
		srv.EnableHTTP2 = true
		srv.StartTLS()
	default:
		t.Fatalf("unknown protocol %q", proto)
	}
	t.Cleanup(srv.Close)
	g.srv = srv
	g.base = srv.URL + basePath
	return g
}

// forEachProtocol runs f as the parallel subtests "http1" and "http2".
func forEachProtocol(t *testing.T, f func(t *testing.T, proto string)) {
	t.Helper()
	for _, proto := range faultProtocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			f(t, proto)
		})
	}
}

// faultBearer returns "Bearer " + base64(RSA(secret)) for pub (base64 DER),
// as a client sends it; for requests made without the SDK.
func faultBearer(t testing.TB, pub, secret string) string {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(pub)
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("public key is a %T", k)
	}
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, rk, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + base64.StdEncoding.EncodeToString(ct)
}
