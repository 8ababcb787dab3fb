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
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	// Test-only. go.mod pins golang.org/x/net v0.35.0: its go.mod says
	// go 1.18, later versions need Go 1.23+, and CI also tests with Go 1.22.
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The HTTP/2 side of the fault gateway: a raw server on the Framer of
// x/net, which can reset a stream with any code and send GOAWAY after
// reading it, as the server of net/http cannot.

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
	case faultGoAwayLast:
		// The stream is named the last one processed: it may have been.
		c.lastID.Store(st.id)
		c.goneAway.Store(true)
		_ = c.write(func(fr *http2.Framer) error { return fr.WriteGoAway(st.id, a.code, a.debug) })
		c.closeWrite()
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
