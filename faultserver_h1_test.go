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
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	// Test-only. go.mod pins golang.org/x/net v0.35.0: its go.mod says
	// go 1.18, later versions need Go 1.23+, and CI also tests with Go 1.22.
)

// The HTTP/1.1 side of the fault gateway: a listener that counts and
// resets connections, and a net/http handler that hijacks them for faults.

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
		// Never answer: returning would write an empty 200, which a
		// client that gives up at that instant may still read.
		panic(http.ErrAbortHandler)
	default:
		g.anomaly("fault %d is not possible over HTTP/1.1", a.kind)
		w.WriteHeader(http.StatusTeapot)
	}
}
