package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A minimal client of the Chrome DevTools Protocol, for the browser test:
// it starts the distribution's headless Chromium, talks to one page over a
// hand-written WebSocket client (RFC 6455, client side: masked frames out,
// unmasked and possibly fragmented frames in), and offers the few commands
// the test needs. Test code only: no DevTools library becomes a dependency
// of the module.

// findChromium returns the Chromium to drive: $MPESA_CHROMIUM, or chromium
// or chromium-browser on PATH.
func findChromium() string {
	if p := os.Getenv("MPESA_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

type browser struct {
	cmd  *exec.Cmd
	page *cdpConn
}

var devtoolsLine = regexp.MustCompile(`DevTools listening on (ws://[^\s]+)`)

// startBrowser starts headless Chromium with the flags that work on this
// machine's closed network (no background networking, no component
// updates) and a fresh profile, and connects to its page.
func startBrowser(t *testing.T, path string) *browser {
	t.Helper()
	// The profile is ours to remove, not t.TempDir's: Chromium's helper
	// processes may still be writing to it for a moment after the browser
	// is killed, which would fail the test for a file of Chromium's.
	profile, err := os.MkdirTemp("", "mpesa-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-default-apps", "--mute-audio",
		"--user-data-dir="+profile, "--remote-debugging-port=0", "--window-size=1280,1000", "about:blank")
	inOwnGroup(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(profile)
		t.Fatalf("starting %s: %v", path, err)
	}
	b := &browser{cmd: cmd}
	t.Cleanup(func() {
		if b.page != nil {
			b.page.close()
		}
		killGroup(cmd)
		_ = cmd.Wait()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			err := os.RemoveAll(profile)
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Logf("leaving Chromium's profile behind: %v", err)
				return
			}
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := devtoolsLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var wsURL string
	select {
	case wsURL = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("Chromium did not say where DevTools listens")
	}
	u, err := url.Parse(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	// The page target of about:blank.
	var targets []struct {
		Type string `json:"type"`
		WS   string `json:"webSocketDebuggerUrl"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + u.Host + "/json/list")
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
		}
		for _, tg := range targets {
			if tg.Type == "page" && tg.WS != "" {
				b.page, err = dialCDP(tg.WS)
				if err != nil {
					t.Fatalf("connecting to the page: %v", err)
				}
				return b
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("Chromium has no page target")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cdpConn is one WebSocket connection to a DevTools target.
type cdpConn struct {
	conn net.Conn
	rd   *bufio.Reader
	id   int
}

func dialCDP(wsURL string) (*cdpConn, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		u.RequestURI(), u.Host, base64.StdEncoding.EncodeToString(key))
	rd := bufio.NewReader(conn)
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	return &cdpConn{conn: conn, rd: rd}, nil
}

func (c *cdpConn) close() { _ = c.conn.Close() }

// writeText sends one masked text frame.
func (c *cdpConn) writeText(p []byte) error {
	hdr := []byte{0x81}
	switch n := len(p); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	mask := make([]byte, 4)
	_, _ = rand.Read(mask)
	hdr = append(hdr, mask...)
	body := make([]byte, len(p))
	for i := range p {
		body[i] = p[i] ^ mask[i%4]
	}
	_, err := c.conn.Write(append(hdr, body...))
	return err
}

// readMessage returns the next text message, joining fragments and
// answering pings.
func (c *cdpConn) readMessage() ([]byte, error) {
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.rd, h[:]); err != nil {
			return nil, err
		}
		fin, op := h[0]&0x80 != 0, h[0]&0x0f
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(c.rd, b[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(c.rd, b[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		var mask []byte
		if h[1]&0x80 != 0 {
			mask = make([]byte, 4)
			if _, err := io.ReadFull(c.rd, mask); err != nil {
				return nil, err
			}
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.rd, payload); err != nil {
			return nil, err
		}
		if mask != nil {
			for i := range payload {
				payload[i] ^= mask[i%4]
			}
		}
		switch op {
		case 0x8:
			return nil, errors.New("websocket closed by the browser")
		case 0x9: // ping: pong back, masked
			pong := append([]byte{0x8a, 0x80 | byte(len(payload))}, 0, 0, 0, 0)
			_, _ = c.conn.Write(append(pong, payload...))
			continue
		case 0xa:
			continue
		}
		msg = append(msg, payload...)
		if fin {
			return msg, nil
		}
	}
}

// call sends a DevTools command and returns its result, skipping events.
func (c *cdpConn) call(method string, params any) (json.RawMessage, error) {
	c.id++
	id := c.id
	req, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	_ = c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := c.writeText(req); err != nil {
		return nil, err
	}
	for {
		data, err := c.readMessage()
		if err != nil {
			return nil, err
		}
		var m struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(data, &m); err != nil || m.ID != id {
			continue
		}
		if m.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		return m.Result, nil
	}
}

// eval evaluates a JavaScript expression in the page and decodes its value
// into out.
func (c *cdpConn) eval(expr string, out any) error {
	res, err := c.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	if err != nil {
		return err
	}
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return err
	}
	if r.Exception != nil {
		return errors.New("javascript: " + r.Exception.Text)
	}
	if out == nil || len(r.Result.Value) == 0 {
		return nil
	}
	return json.Unmarshal(r.Result.Value, out)
}

// waitFor evaluates a boolean expression until it is true.
func (c *cdpConn) waitFor(t *testing.T, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var ok bool
		if err := c.eval("Boolean("+expr+")", &ok); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// click clicks the middle of the element selector finds, with the mouse,
// as a person would.
func (c *cdpConn) click(t *testing.T, selector string) {
	t.Helper()
	var box struct{ X, Y float64 }
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.scrollIntoView({block: "center"}); const r = e.getBoundingClientRect(); return {X: r.left + r.width/2, Y: r.top + r.height/2}; })()`, selector)
	if err := c.eval(expr, &box); err != nil {
		t.Fatalf("finding %s: %v", selector, err)
	}
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		p := map[string]any{"type": typ, "x": box.X, "y": box.Y}
		if typ != "mouseMoved" {
			p["button"], p["clickCount"] = "left", 1
		}
		if _, err := c.call("Input.dispatchMouseEvent", p); err != nil {
			t.Fatalf("clicking %s: %v", selector, err)
		}
	}
}

// screenshot returns a PNG of the page.
func (c *cdpConn) screenshot() ([]byte, error) {
	res, err := c.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": false})
	if err != nil {
		return nil, err
	}
	var r struct {
		Data string `json:"data"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(strings.TrimSpace(r.Data))
}
