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
	"bufio"
	"bytes"
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
	"golang.org/x/net/http2/hpack"
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
	faultHoldRequest                        // never answer
)

type faultAction struct {
	kind   faultActionKind
	status int
	header http.Header
	body   []byte
	code   http2.ErrCode
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

// faultConnKey is the context key of the connection number (HTTP/1.1).
type faultConnKey struct{}

// faultListener accepts TCP connections, applies the conn fault, and hands
// the others to net/http wrapped in TLS.
type faultListener struct {
	net.Listener
	g *faultGateway
}

func (l *faultListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		id, ok := l.g.admit(c)
		if !ok {
			continue
		}
		// A *tls.Conn itself, so that net/http sees TLS (r.TLS).
		tc := tls.Server(c, l.g.tlsConf)
		l.g.h1ConnIDs.Store(tc, id)
		return tc, nil
	}
}

// admit counts a new connection and applies the conn fault; it reports
// whether the connection is to be served.
func (g *faultGateway) admit(c net.Conn) (int64, bool) {
	id := g.conns.Add(1)
	if g.cfg.conn == connHealthy || id <= g.cfg.healthyConns {
		return id, true
	}
	switch g.cfg.conn {
	case connResetBeforeTLS:
		resetConn(c)
	case connResetAfterHandshake:
		go func() {
			tc := tls.Server(c, g.tlsConf)
			_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
			if err := tc.Handshake(); err != nil {
				g.anomaly("conn %d: handshake before the reset failed: %v", id, err)
			}
			resetConn(c)
		}()
	}
	return id, false
}

// resetConn closes c with SO_LINGER 0, so that the peer gets a RST. c is a
// TCP connection or a TLS connection over one.
func resetConn(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn() // closing the TLS conn would send close_notify
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// serveHTTP1 is the handler of the HTTP/1.1 server.
func (g *faultGateway) serveHTTP1(w http.ResponseWriter, r *http.Request) {
	sr := &seenRequest{
		Proto: r.Proto, Method: r.Method, RawQuery: r.URL.RawQuery,
		Path: strings.TrimPrefix(r.URL.Path, faultBase), Header: r.Header.Clone(), At: time.Now(),
	}
	if !strings.HasPrefix(r.URL.Path, faultBase+"/") {
		sr.Path = r.URL.Path
	}
	if id, ok := r.Context().Value(faultConnKey{}).(int64); ok {
		sr.Conn = id
	}
	if r.TLS != nil {
		g.h1TLSProtos.Store(r.TLS.NegotiatedProtocol, true)
	} else {
		g.anomaly("HTTP/1.1 request without TLS")
	}
	n := g.record(sr)
	body, err := io.ReadAll(r.Body)
	g.complete(sr, body, err == nil && (r.ContentLength < 0 || int64(len(body)) == r.ContentLength))

	a := g.decide(sr, n)
	switch a.kind {
	case faultAnswer:
		for k, v := range a.header {
			w.Header()[k] = v
		}
		if a.closeAfter {
			w.Header().Set("Connection", "close")
		}
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	case faultResetConn:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			g.anomaly("hijack: %v", err)
			return
		}
		resetConn(conn)
	case faultHoldRequest:
		t := time.NewTimer(faultHold)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-g.quit:
		case <-t.C:
		}
	default:
		g.anomaly("fault %d is not possible over HTTP/1.1", a.kind)
		w.WriteHeader(http.StatusTeapot)
	}
}

// acceptH2 is the accept loop of the HTTP/2 server.
func (g *faultGateway) acceptH2() {
	defer g.wg.Done()
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		id, ok := g.admit(c)
		if !ok {
			continue
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.serveH2(c, id)
		}()
	}
}

// h2ServerConn is one connection of the raw HTTP/2 server.
type h2ServerConn struct {
	g   *faultGateway
	id  int64
	raw net.Conn
	tc  *tls.Conn
	fr  *http2.Framer

	wmu    sync.Mutex // guards writes: fr's Write methods, enc, encBuf
	enc    *hpack.Encoder
	encBuf bytes.Buffer

	closed   chan struct{}
	goneAway atomic.Bool
	lastID   atomic.Uint32 // last stream ID of the GOAWAY sent

	streams map[uint32]*h2Stream // read loop only
}

type h2Stream struct {
	id        uint32
	req       *seenRequest
	n         int
	body      bytes.Buffer
	done      bool // END_STREAM seen
	cancelled chan struct{}
	once      sync.Once
}

func (st *h2Stream) cancel() { st.once.Do(func() { close(st.cancelled) }) }

// serveH2 speaks HTTP/2 on one accepted TCP connection: TLS with ALPN h2,
// the client preface, SETTINGS, then HEADERS (+CONTINUATION) and DATA of
// any number of streams, each answered or faulted on its own goroutine once
// its request was read to END_STREAM.
func (g *faultGateway) serveH2(raw net.Conn, id int64) {
	defer raw.Close()
	tc := tls.Server(raw, g.tlsConf)
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		return // the client went away; nothing to serve
	}
	_ = tc.SetDeadline(time.Time{})
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		g.anomaly("conn %d: client negotiated %q, not h2", id, p)
		return
	}
	br := bufio.NewReader(tc)
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(br, preface); err != nil || string(preface) != http2.ClientPreface {
		g.anomaly("conn %d: no HTTP/2 client preface (%q, %v)", id, preface, err)
		return
	}
	g.h2Prefaces.Add(1)
	c := &h2ServerConn{g: g, id: id, raw: raw, tc: tc, closed: make(chan struct{}), streams: map[uint32]*h2Stream{}}
	c.fr = http2.NewFramer(tc, br)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = 1 << 20
	c.enc = hpack.NewEncoder(&c.encBuf)
	defer func() {
		close(c.closed)
		for _, st := range c.streams {
			st.cancel()
		}
	}()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-g.quit:
			_ = raw.Close()
		case <-stop:
		}
	}()

	if err := c.write(func(fr *http2.Framer) error {
		return fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 250})
	}); err != nil {
		return
	}
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			return
		}
		g.h2Frames.Add(1)
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = c.write(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = c.write(func(fr *http2.Framer) error { return fr.WritePing(true, f.Data) })
			}
		case *http2.MetaHeadersFrame:
			c.onHeaders(f)
		case *http2.DataFrame:
			c.onData(f)
		case *http2.RSTStreamFrame:
			if st := c.streams[f.StreamID]; st != nil {
				st.cancel()
				delete(c.streams, f.StreamID)
			}
		case *http2.GoAwayFrame, *http2.WindowUpdateFrame, *http2.PriorityFrame:
			// Nothing to do: the server keeps reading until the client
			// closes; its answers are tiny and never wait on flow control.
		default:
			g.anomaly("conn %d: unexpected frame %v", id, f.Header())
		}
	}
}

// write runs f on the framer under the write lock.
func (c *h2ServerConn) write(f func(*http2.Framer) error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return f(c.fr)
}

func (c *h2ServerConn) onHeaders(f *http2.MetaHeadersFrame) {
	if c.goneAway.Load() && f.StreamID > c.lastID.Load() {
		return // after our GOAWAY: not processed, not counted
	}
	if c.streams[f.StreamID] != nil {
		// Trailers: not used by the client.
		if f.StreamEnded() {
			c.finish(c.streams[f.StreamID])
		}
		return
	}
	p := f.PseudoValue("path")
	path, query, _ := strings.Cut(p, "?")
	sr := &seenRequest{
		Proto: "HTTP/2.0", Method: f.PseudoValue("method"), RawQuery: query,
		Path: strings.TrimPrefix(path, faultBase), Header: http.Header{}, At: time.Now(),
		Conn: c.id, Stream: f.StreamID,
	}
	if !strings.HasPrefix(path, faultBase+"/") {
		sr.Path = path
	}
	for _, hf := range f.RegularFields() {
		sr.Header.Add(hf.Name, hf.Value)
	}
	st := &h2Stream{id: f.StreamID, req: sr, cancelled: make(chan struct{})}
	st.n = c.g.record(sr)
	c.streams[f.StreamID] = st
	if f.StreamEnded() {
		c.finish(st)
	}
}

func (c *h2ServerConn) onData(f *http2.DataFrame) {
	if n := f.Header().Length; n > 0 {
		// Give the flow-control credit back at once, connection and
		// stream, so that a client never waits on it.
		_ = c.write(func(fr *http2.Framer) error {
			if err := fr.WriteWindowUpdate(0, n); err != nil {
				return err
			}
			if !f.StreamEnded() {
				return fr.WriteWindowUpdate(f.StreamID, n)
			}
			return nil
		})
	}
	st := c.streams[f.StreamID]
	if st == nil || st.done {
		return
	}
	st.body.Write(f.Data())
	if f.StreamEnded() {
		c.finish(st)
	}
}

// finish is called when a stream's request was read to END_STREAM.
func (c *h2ServerConn) finish(st *h2Stream) {
	st.done = true
	c.g.complete(st.req, st.body.Bytes(), true)
	c.g.wg.Add(1)
	go func() {
		defer c.g.wg.Done()
		c.handle(st)
	}()
}

// handle carries out the gateway's decision for one stream.
func (c *h2ServerConn) handle(st *h2Stream) {
	a := c.g.decide(st.req, st.n)
	switch a.kind {
	case faultAnswer:
		if a.closeAfter {
			// GOAWAY first, naming this stream the last: the client knows
			// the connection is going away before it has the answer, so
			// its next request cannot race onto this connection.
			c.goAway(st.id, http2.ErrCodeNo)
		}
		_ = c.respond(st.id, a)
		if a.closeAfter {
			c.closeWrite()
		}
	case faultRSTStream:
		_ = c.write(func(fr *http2.Framer) error { return fr.WriteRSTStream(st.id, a.code) })
	case faultGoAway:
		c.goAway(0, a.code)
		c.closeWrite()
	case faultResetConn:
		resetConn(c.raw)
	case faultHoldRequest:
		t := time.NewTimer(faultHold)
		defer t.Stop()
		select {
		case <-st.cancelled:
		case <-c.closed:
		case <-c.g.quit:
		case <-t.C:
		}
	}
}

// respond writes HEADERS and DATA with END_STREAM.
func (c *h2ServerConn) respond(id uint32, a faultAction) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.encBuf.Reset()
	_ = c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(a.status)})
	for k, vs := range a.header {
		for _, v := range vs {
			_ = c.enc.WriteField(hpack.HeaderField{Name: strings.ToLower(k), Value: v})
		}
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID: id, BlockFragment: c.encBuf.Bytes(), EndHeaders: true, EndStream: len(a.body) == 0,
	}); err != nil {
		return err
	}
	body := a.body
	for len(body) > 0 {
		n := min(len(body), 16384) // the default SETTINGS_MAX_FRAME_SIZE
		if err := c.fr.WriteData(id, n == len(body), body[:n]); err != nil {
			return err
		}
		body = body[n:]
	}
	return nil
}

// goAway sends GOAWAY: streams above last are not processed (nor counted)
// from now on.
func (c *h2ServerConn) goAway(last uint32, code http2.ErrCode) {
	c.lastID.Store(last)
	c.goneAway.Store(true)
	_ = c.write(func(fr *http2.Framer) error { return fr.WriteGoAway(last, code, nil) })
}

// closeWrite closes the connection gracefully: it stops writing (TLS
// close_notify, then TCP FIN) and lets the read loop drain what the client
// still sends, for at most two seconds, so that what was written is not
// lost to a RST.
func (c *h2ServerConn) closeWrite() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.tc.CloseWrite()
	if tcp, ok := c.raw.(*net.TCPConn); ok {
		_ = tcp.CloseWrite()
	}
	_ = c.raw.SetReadDeadline(time.Now().Add(2 * time.Second))
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
