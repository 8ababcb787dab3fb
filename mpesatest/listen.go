package mpesatest

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/mpesa-go/mpesa"
)

// Listeners, TLS and graceful shutdown: what a simulator that runs as a
// process of its own (the mpesa sim command) needs beyond a test's random
// loopback port and httptest's certificate.

// WithListener makes the simulator serve on ln instead of a listener of its
// own on a random port of the loopback interface: a fixed address, or one
// a container publishes. The simulator takes ln over and closes it with
// Close. URL is then built from ln's address.
func WithListener(ln net.Listener) Option {
	return func(c *config) { c.ext.listener = ln }
}

// WithMozambiqueListeners is WithMozambiquePorts with listeners the caller
// opened: lns gives the listener of some or all of the six Mozambique APIs
// (the others get a loopback port the system chooses). The simulator takes
// them over, serves each API alone on its listener, as WithMozambiquePorts
// describes, and closes them with Close. A caller that opens the listeners
// itself can report an address in use as an error, where NewServer panics.
func WithMozambiqueListeners(lns map[mpesa.API]net.Listener) Option {
	return func(c *config) {
		ports := make(map[mpesa.API]int, len(lns))
		c.ext.mozListeners = make(map[mpesa.API]net.Listener, len(lns))
		for api, ln := range lns {
			ports[api] = 0
			c.ext.mozListeners[api] = ln
		}
		// An API the gateway does not serve is refused by NewServer,
		// as WithMozambiquePorts refuses it.
		WithMozambiquePorts(ports)(c)
	}
}

// WithTLSConfig makes every listener of the simulator serve TLS with cfg:
// its Certificates (the first one is what Client trusts) and whatever else
// it sets. By default the simulator serves httptest's built-in certificate,
// valid for 127.0.0.1, ::1 and example.com, which Client trusts and no
// other program does; give a certificate of your own CA to reach the
// simulator from programs that can be told to trust that CA. The config
// is cloned; NextProtos defaults to HTTP/1.1 only, as without this option.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *config) {
		if cfg != nil {
			c.ext.tls = cfg.Clone()
		} else {
			c.ext.tls = nil
		}
	}
}

// WithPlainHTTP makes every listener of the simulator serve plain HTTP,
// for clients that cannot be given a CA. URL then starts with http://.
// The gateways themselves serve HTTPS only (docs/gateways.md O2, M2).
func WithPlainHTTP() Option {
	return func(c *config) { c.ext.plainHTTP = true }
}

// startListener starts one HTTP server of the simulator on ln (a loopback
// port of its own when nil), with TLS unless WithPlainHTTP.
func (s *Server) startListener(ln net.Listener, h http.Handler) *httptest.Server {
	ts := httptest.NewUnstartedServer(h)
	if ln != nil {
		_ = ts.Listener.Close()
		ts.Listener = ln
	}
	// The scenarios abort handlers and reset connections on purpose; the
	// server's complaints about that are noise in a test log.
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	if s.cfg.ext.plainHTTP {
		ts.Start()
		return ts
	}
	if s.cfg.ext.tls != nil {
		ts.TLS = s.cfg.ext.tls.Clone()
	}
	ts.StartTLS()
	return ts
}

// Shutdown stops the simulator gracefully: it stops accepting connections
// at once, lets the callback deliveries already started end (their retries
// included) until ctx ends, and then closes the simulator as Close does,
// cutting what is still running. It returns ctx's error when deliveries
// were still running as ctx ended, and nil otherwise. Open prompts
// (Prompts) are abandoned: nobody is left to answer them.
func (s *Server) Shutdown(ctx context.Context) error {
	_ = s.ts.Listener.Close()
	for _, ts := range s.mozServers {
		_ = ts.Listener.Close()
	}
	var err error
	for {
		s.mu.Lock()
		pending := 0
		for _, cb := range s.callbacks {
			if !cb.Done {
				pending++
			}
		}
		for _, cb := range s.ext.resetCallbacks {
			if !cb.Done {
				pending++
			}
		}
		ch := s.changed
		s.mu.Unlock()
		if pending == 0 {
			break
		}
		select {
		case <-ch:
			continue
		case <-ctx.Done():
			err = fmt.Errorf("mpesatest: %d callback deliveries still running: %w", pending, ctx.Err())
		}
		break
	}
	s.Close()
	return err
}
