package mpesa

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// HandlerLogger makes the handler log each request to l: accepted results
// and duplicates at info level, refused requests at warn, failures at
// error. It never logs a body, a token, a full MSISDN or the request URL
// (which may hold the token). By default refusals and failures go to
// slog.Default() at warn and error, so that a callback the handler turns
// away is never silent; HandlerLogger with a logger that discards
// silences them.
func HandlerLogger(l *slog.Logger) HandlerOption {
	return func(h *Handler) error {
		if l == nil {
			return optionError("HandlerLogger", "nil *slog.Logger")
		}
		h.logger = l
		return nil
	}
}

// HandlerGateway fixes the gateway results come from, instead of inferring
// it from each body. It decides how bodies are read, how Result.Err maps
// codes (INS-5 means "cancelled by customer" on Mozambique only) and how
// results are acknowledged. VerifyWithStatusQuery implies the client's
// gateway.
func HandlerGateway(g Gateway) HandlerOption {
	return func(h *Handler) error {
		if !g.valid() {
			return optionError("HandlerGateway", "unknown gateway %d", int(g))
		}
		h.gateway, h.gatewaySet = g, true
		return nil
	}
}

// MaxCallbackBytes caps the body; a larger one is answered 413 without being
// read. Default DefaultMaxCallbackBytes.
func MaxCallbackBytes(n int64) HandlerOption {
	return func(h *Handler) error {
		if n < 512 || n > 16<<20 {
			return optionError("MaxCallbackBytes", "%d is outside 512..16 MiB", n)
		}
		h.maxBody = n
		return nil
	}
}

// RequireToken makes the handler accept only requests that carry token as
// the last segment of the URL path (https://example.com/mpesa/results/TOKEN)
// or as the "token" query parameter (…/results?token=TOKEN). Put that URL
// into the Response URL on the portal. Others are answered 403. The token
// is compared in constant time and never logged; it must be at least 16
// letters, digits, '-', '_', '.' or '~' (NewReference gives one).
//
// The gateways sign nothing: a token keeps out those who do not know the
// URL. It travels in every callback, so use HTTPS, and keep it out of access
// logs.
func RequireToken(token Secret) HandlerOption {
	return func(h *Handler) error {
		t := string(token)
		if len(t) < minTokenLength {
			return optionError("RequireToken", "the token must be at least %d characters", minTokenLength)
		}
		for i := 0; i < len(t); i++ {
			c := t[i]
			if !isAlnumByte(c) && c != '-' && c != '_' && c != '.' && c != '~' {
				return optionError("RequireToken", "the token may hold letters, digits, '-', '_', '.' and '~' only")
			}
		}
		sum := sha256.Sum256([]byte(t))
		h.token = &sum
		return nil
	}
}

func isAlnumByte(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// AllowSources makes the handler accept only requests from the given address
// ranges (the gateway's egress addresses, as your operator gives them);
// others are answered 403. The source is the peer address, unless the peer is
// a TrustProxies proxy: then it is the rightmost X-Forwarded-For address that
// is not a trusted proxy. X-Forwarded-For from any other peer is ignored, so
// it cannot be spoofed.
func AllowSources(prefixes ...netip.Prefix) HandlerOption {
	return func(h *Handler) error {
		if len(prefixes) == 0 {
			return optionError("AllowSources", "no address ranges")
		}
		ps, err := maskedPrefixes("AllowSources", prefixes)
		if err != nil {
			return err
		}
		h.allow = append(h.allow, ps...)
		return nil
	}
}

// TrustProxies names the reverse proxies (load balancers, ingress) in front
// of the handler whose X-Forwarded-For header tells the real source address.
func TrustProxies(prefixes ...netip.Prefix) HandlerOption {
	return func(h *Handler) error {
		ps, err := maskedPrefixes("TrustProxies", prefixes)
		if err != nil {
			return err
		}
		h.trusted = append(h.trusted, ps...)
		return nil
	}
}

func maskedPrefixes(name string, prefixes []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if !p.IsValid() {
			return nil, optionError(name, "invalid address range %v", p)
		}
		// An IPv4 range given in IPv6 form (::ffff:10.0.0.0/104) matches
		// the unmapped addresses the handler compares.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Deduplicate replaces the handler's DedupStore, by default a MemoryDedup
// with DefaultDedupSize and DefaultDedupTTL. Behind several replicas, use a
// store they share.
func Deduplicate(store DedupStore) HandlerOption {
	return func(h *Handler) error {
		if store == nil {
			return optionError("Deduplicate", "nil DedupStore")
		}
		h.dedup = store
		return nil
	}
}

// OnDelivery makes the handler call fn with every request body it reads, as
// received, before it acts on it: also a body it cannot parse, or whose
// Content-Type is wrong, and every duplicate. Store it there and nothing the
// gateway sends is lost. When fn returns an error the handler answers 503,
// so that the gateway delivers again. Bodies refused before reading (403,
// 405, 413) do not reach fn.
func OnDelivery(fn func(ctx context.Context, d *Delivery) error) HandlerOption {
	return func(h *Handler) error {
		if fn == nil {
			return optionError("OnDelivery", "nil function")
		}
		h.onDelivery = fn
		return nil
	}
}

// FeedResults makes the handler hand every processed result to hub, after
// the ResultFunc returned nil, so that code waiting in hub.Await gets it.
func FeedResults(hub *Results) HandlerOption {
	return func(h *Handler) error {
		if hub == nil {
			return optionError("FeedResults", "nil *Results")
		}
		h.hub = hub
		return nil
	}
}

// source returns the address a request came from: the peer, or, when the
// peer is a trusted proxy, the rightmost X-Forwarded-For address that is
// not a trusted proxy. ok is false when an address cannot be read.
func (h *Handler) source(r *http.Request) (addr netip.Addr, ok bool) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err == nil {
		addr = peer.Addr()
	} else if addr, err = netip.ParseAddr(r.RemoteAddr); err != nil {
		return netip.Addr{}, false
	}
	addr = addr.Unmap().WithZone("")
	if len(h.trusted) == 0 || !containsAddr(h.trusted, addr) {
		return addr, true
	}
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for line != "" {
			var item string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				item, line = line[j+1:], line[:j]
			} else {
				item, line = line, ""
			}
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			a, err := netip.ParseAddr(item)
			if err != nil {
				ap, err2 := netip.ParseAddrPort(item)
				if err2 != nil {
					// A trusted proxy wrote something unreadable:
					// refuse rather than guess.
					return netip.Addr{}, false
				}
				a = ap.Addr()
			}
			addr = a.Unmap().WithZone("")
			if !containsAddr(h.trusted, addr) {
				return addr, true
			}
		}
	}
	// Every hop is a trusted proxy: the leftmost is the origin.
	return addr, true
}

func containsAddr(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// tokenMatches reports whether the last path segment or the "token" query
// parameter is the token. Both candidates are hashed and compared in
// constant time, so neither the token nor its length leaks through timing.
func (h *Handler) tokenMatches(r *http.Request) bool {
	p := strings.TrimRight(r.URL.Path, "/")
	seg := p[strings.LastIndexByte(p, '/')+1:]
	a := sha256.Sum256([]byte(seg))
	match := subtle.ConstantTimeCompare(a[:], h.token[:])
	if r.URL.RawQuery != "" {
		b := sha256.Sum256([]byte(r.URL.Query().Get("token")))
		match |= subtle.ConstantTimeCompare(b[:], h.token[:])
	}
	return match == 1
}

// CallbackReadTimeout bounds the time a delivery may take to send its body;
// a request that stalls is cut and its connection freed. Default
// DefaultCallbackReadTimeout. It sets the connection's read deadline
// through http.ResponseController; give the http.Server a ReadHeaderTimeout
// as well (see the README), which only the server can enforce.
func CallbackReadTimeout(d time.Duration) HandlerOption {
	return func(h *Handler) error {
		if d <= 0 || d > 5*time.Minute {
			return optionError("CallbackReadTimeout", "%v is outside (0, 5m]", d)
		}
		h.readTimeout = d
		return nil
	}
}

// DefaultStatusResultWait is how long VerifyWithStatusQuery waits for a
// status that comes by callback (Daraja's transaction status API) when
// StatusResultWait is not given.
const DefaultStatusResultWait = 15 * time.Second

// StatusResultWait bounds how long the handler, verifying a result with
// VerifyWithStatusQuery, waits for the status of a query whose answer comes
// by callback (Daraja's transaction status, docs/gateways.md D18): past it,
// the result is answered 503, and a later delivery of it looks for the
// status that came meanwhile before it asks again. The wait holds the
// gateway's request open, so keep it shorter than the time the gateway
// waits for an answer. Default DefaultStatusResultWait; from 100 ms to 2
// minutes.
func StatusResultWait(d time.Duration) HandlerOption {
	return func(h *Handler) error {
		if d < 100*time.Millisecond || d > 2*time.Minute {
			return optionError("StatusResultWait", "%v is outside 100ms..2m", d)
		}
		h.wait, h.waitSet = d, true
		return nil
	}
}

// QueueTimeoutNotices makes the handler the one of Daraja's
// QueueTimeOutURL (WithQueueTimeoutURL; implies HandlerGateway
// GatewayDaraja). Daraja documents no body for it, so every body is read as
// a notice: a Result envelope, or a JSON object with ConversationID and
// OriginatorConversationID at the top level; a body with neither ID is
// refused as malformed (docs/gateways.md D21, D32). The Result has Callback
// CallbackQueueTimeout, OK reports false and Err matches ErrOutcomeUnknown:
// the request timed out in M-Pesa's queue and may or may not have been
// processed, so reconcile it (Client.Reconcile) before doing anything else.
// It is acknowledged like a result, deduplicated on its IDs, passed to the
// ResultFunc and fed to the hub, where Await on the request's
// ConversationID or OriginatorConversationID finds it.
func QueueTimeoutNotices() HandlerOption {
	return func(h *Handler) error {
		h.mode = darajaQueueTimeout
		if !h.gatewaySet {
			h.gateway, h.gatewaySet = GatewayDaraja, true
		}
		return nil
	}
}
