package mpesa

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mpesa-go/mpesa/internal/redact"
	"github.com/mpesa-go/mpesa/internal/wire"
)

// maxBodyBytes caps how much of an answer is read. Gateway answers are a few
// hundred bytes; anything near this is an error page.
const maxBodyBytes = 256 << 10

// excerptBytes is the length of the body excerpt in an *Error.
const excerptBytes = 120

// send performs one logical call: it authorises, sends, has the dialect
// interpret the answer into rq.out, and retries within the rules documented
// on Client. Every attempt carries the byte-identical body.
func (c *Client) send(ctx context.Context, rq *request) error {
	method, target, ok := c.d.endpoint(rq.api)
	if !ok {
		return c.newError(rq.api, rq.ref, ErrNotSupported, nil)
	}
	if len(rq.query) > 0 {
		target += "?" + wire.Query(rq.query)
	}
	timeout := c.paymentTimeout
	if !rq.payment() {
		timeout = c.queryTimeout
	}
	auth := c.d.auth(rq.api)
	var tries authTries
	retries, onces := 0, 0
	for attempt := 1; ; attempt++ {
		cred, err := auth.get(ctx)
		if err != nil {
			return c.credentialError(rq, err)
		}
		e := c.attempt(ctx, rq, method, target, cred, timeout, attempt)
		if e == nil {
			cred.live.Store(true)
			c.budget.succeeded()
			return nil
		}
		if ctx.Err() != nil {
			c.notRetrying(ctx, e, attempt, "the caller's context is done")
			return e
		}
		if e.authRefused {
			// The gateway refused the credential, not the call: it was
			// not processed, so sending it again is safe.
			wait, again, why := auth.refused(cred, &tries)
			if !again {
				c.notRetrying(ctx, e, attempt, why)
				return e
			}
			if wait > 0 && !c.pause(ctx, e, attempt, wait, why) {
				return e
			}
			c.debug(ctx, "mpesa: "+why, e, attempt)
			continue
		}
		if !e.retryable {
			c.notRetrying(ctx, e, attempt, e.finalReason())
			return e
		}
		if rq.holdOnOverload && e.is(ErrOverloaded) {
			c.notRetrying(ctx, e, attempt, "this payment is never resent on an overload answer: every resend is a new prompt on the customer's phone")
			return e
		}
		if retries >= c.maxRetries {
			c.notRetrying(ctx, e, attempt, "retry limit reached")
			return e
		}
		if e.once {
			if onces++; onces > 1 {
				c.notRetrying(ctx, e, attempt, "a refused stream is resent once")
				return e
			}
		}
		if !c.budget.take() {
			c.notRetrying(ctx, e, attempt, "the client's retry budget is spent: the gateway has been failing")
			return e
		}
		retries++
		wait := c.backoff(retries)
		if e.retryAfter > 0 {
			if e.retryAfter > c.maxRetryAfter {
				c.notRetrying(ctx, e, attempt, fmt.Sprintf("the gateway asked to wait %v (Retry-After), longer than %v", e.retryAfter, c.maxRetryAfter))
				return e
			}
			wait = max(wait, e.retryAfter)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			c.notRetrying(ctx, e, attempt, "the wait before the next attempt outlasts the caller's deadline")
			return e
		}
		if !c.pause(ctx, e, attempt, wait, e.retryReason) {
			return e
		}
	}
}

// credentialError reports that no credential could be obtained for a call
// (getSession or the token request failed). The gateway's answer to that
// request (status, code, description, the sentinels it matches) is lifted
// onto the error of the call itself, so that errors.As finds it on the one
// *Error a caller looks at. Nothing of the call was sent.
func (c *Client) credentialError(rq *request, err error) *Error {
	var inner *Error
	if !errors.As(err, &inner) {
		return c.newError(rq.api, rq.ref, nil, err) // the caller's context, for one
	}
	e := &Error{
		Gateway:                  c.gateway,
		API:                      rq.api,
		HTTPStatus:               inner.HTTPStatus,
		Code:                     inner.Code,
		Description:              inner.Description,
		ThirdPartyConversationID: rq.ref,
		RequestID:                inner.RequestID,
		Excerpt:                  inner.Excerpt,
		kinds:                    append([]error(nil), inner.kinds...),
		retryable:                inner.retryable,
		retryReason:              inner.retryReason,
	}
	name := inner.API.String()
	if inner.Err != nil {
		e.Err = fmt.Errorf("%s: %w", name, inner.Err)
	} else {
		e.Err = errors.New(name + " failed")
	}
	e.add(ErrSessionCreation)
	return e
}

// attempt sends the request once and has the dialect interpret the answer.
// A nil *Error means success.
func (c *Client) attempt(ctx context.Context, rq *request, method, target string, cred *credential, timeout time.Duration, attempt int) *Error {
	var tr connTrace
	actx := httptrace.WithClientTrace(ctx, tr.init())
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > timeout {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(actx, timeout)
		defer cancel()
	}
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(actx, method, target, body)
	if err != nil {
		return c.newError(rq.api, rq.ref, nil, err)
	}
	// Without GetBody net/http cannot rewind a body, so it never sends a
	// call again on its own: HTTP/2 would otherwise resend a POST after a
	// PROTOCOL_ERROR reset or a GOAWAY that came after the gateway read it,
	// and a GET (which has no body to rewind) over and over for as long as
	// a proxy keeps resetting it. An empty body that is not NoBody gives a
	// GET the same protection; net/http sends it as no body at all.
	// Resends are decided here, by the rules on Client.
	req.GetBody = nil
	if req.Body == nil || req.Body == http.NoBody {
		req.Body = emptyBody{}
	}
	req.Header = make(http.Header, len(c.header)+len(rq.header)+1)
	for k, v := range c.header {
		req.Header[k] = v
	}
	for k, v := range rq.header {
		req.Header[k] = v
	}
	req.Header["Authorization"] = cred.authz

	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		e := c.transportError(rq, &tr, err)
		c.logAttempt(ctx, rq, attempt, 0, time.Since(start), e)
		return e
	}
	data, readErr := readBody(resp)
	resp.Body.Close()
	e := c.interpret(rq, resp, data, readErr)
	c.logAttempt(ctx, rq, attempt, resp.StatusCode, time.Since(start), e)
	return e
}

// transportError classifies a failure to get an answer at all.
func (c *Client) transportError(rq *request, tr *connTrace, err error) *Error {
	e := c.newError(rq.api, rq.ref, nil, scrubURLError(err))
	switch {
	case finalTransportError(err):
		// A certificate the client does not trust, or a host that does
		// not exist: nothing was sent, and sending again will not help.
	case tr.neverSent(err):
		e.retryable, e.retryReason = true, "the request never left: nothing of it was written"
	case refusedStream(err):
		// RST_STREAM REFUSED_STREAM: the server says it did not process
		// the stream (RFC 9113 §8.7), so even a payment may go again,
		// once.
		e.retryable, e.retryReason, e.once = true, "the HTTP/2 server refused the stream without processing it", true
	case !rq.payment():
		e.retryable, e.retryReason = true, "a query failed in transit"
	default:
		e.add(ErrOutcomeUnknown)
	}
	return e
}

// interpret turns an HTTP answer into success or an *Error: what every
// gateway shares (unreadable bodies, 429) here, the rest in the dialect.
func (c *Client) interpret(rq *request, resp *http.Response, data []byte, readErr error) *Error {
	status := resp.StatusCode
	if status == http.StatusTooManyRequests {
		// Refused before processing (RFC 6585): a query waits and goes
		// again; a payment is reported, and its caller may resend it with
		// the same reference.
		e := c.newError(rq.api, rq.ref, ErrOverloaded, nil)
		e.HTTPStatus = status
		e.Excerpt = c.excerpt(rq, data)
		e.retryAfter = retryAfter(resp.Header, time.Now())
		if !rq.payment() {
			e.retryable, e.retryReason = true, "the gateway is rate limiting (429)"
		}
		return e
	}
	var e *Error
	if readErr != nil {
		e = c.unexpected(rq, status, data, readErr, true)
	} else {
		e = c.d.interpret(rq, status, data)
	}
	if e != nil && e.retryable && status == http.StatusServiceUnavailable {
		e.retryAfter = retryAfter(resp.Header, time.Now())
	}
	return e
}

// unexpected reports an answer that is not a gateway document: an HTML
// page, an empty, truncated or oversized body. readFailed says the body
// could not be read whole.
func (c *Client) unexpected(rq *request, status int, data []byte, cause error, readFailed bool) *Error {
	e := c.newError(rq.api, rq.ref, ErrUnexpectedResponse, cause)
	e.HTTPStatus = status
	e.Excerpt = c.excerpt(rq, data)
	// A success status or a proxy's 5xx: the gateway may have processed
	// the request. A 3xx or 4xx page comes from something in front of the
	// gateway that refused it, and sending it again will not help.
	if status < 300 || status >= 500 || readFailed {
		if rq.payment() {
			e.add(ErrOutcomeUnknown)
		} else {
			e.retryable, e.retryReason = true, "a query got an unusable answer"
		}
	}
	return e
}

// secretFields are the members of an answer that carry a new secret: a new
// session ID or token is masked in an excerpt even when the client never
// got to store it (a truncated answer, one without a code). Daraja's
// Password (base64 of the shortcode, the passkey and a timestamp) and
// SecurityCredential are masked too, should a proxy echo a request.
var secretFields = []string{"output_SessionID", "access_token", "Password", "SecurityCredential"}

// excerpt returns the start of an answer for an error, with every secret
// the client holds or the answer carries masked.
func (c *Client) excerpt(rq *request, data []byte) string {
	return redact.Excerpt([]byte(redact.Values(string(data), secretFields...)), excerptBytes, c.secretsOf(rq)...)
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date. It
// returns 0 when there is none or it cannot be read.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 1<<20)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// readBody reads at most maxBodyBytes of the answer, into one buffer of the
// declared length when there is one. A declared length of 0 is read like an
// unknown one: a RoundTripper that builds its own responses may leave it 0.
func readBody(resp *http.Response) ([]byte, error) {
	if resp.ContentLength > maxBodyBytes {
		buf := make([]byte, excerptBytes)
		n, _ := io.ReadFull(resp.Body, buf)
		return buf[:n], errBodyTooLarge
	}
	if n := resp.ContentLength; n > 0 {
		buf := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("truncated body: %w", err)
			}
			return buf, err
		}
		return buf, nil
	}
	buf := make([]byte, 0, 1024)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > maxBodyBytes {
			return buf[:excerptBytes], errBodyTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// emptyBody is the body of a GET: empty, and not rewindable.
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }

var errBodyTooLarge = fmt.Errorf("body larger than %d KiB", maxBodyBytes>>10)

// connTrace records how far the transport got with a request. When it
// asked for a connection and never got one, or got one and never wrote the
// request's headers, nothing of the request was written.
type connTrace struct {
	getConn, gotConn, wroteHeaders atomic.Bool
	trace                          httptrace.ClientTrace
}

func (t *connTrace) init() *httptrace.ClientTrace {
	t.trace.GetConn = func(string) { t.getConn.Store(true) }
	t.trace.GotConn = func(httptrace.GotConnInfo) { t.gotConn.Store(true) }
	t.trace.WroteHeaders = func() { t.wroteHeaders.Store(true) }
	return &t.trace
}

// neverSent reports whether a transport error proves the request was not
// written: by the trace, or, for a RoundTripper that does not report trace
// events, by the type of the error.
func (t *connTrace) neverSent(err error) bool {
	switch {
	case t.wroteHeaders.Load():
		return false
	case t.gotConn.Load():
		// net/http reports WroteHeaders right after it wrote them, on
		// HTTP/1.1 and HTTP/2 alike, failed or not.
		return true
	case t.getConn.Load():
		return true
	}
	return preConnectError(err)
}

// preConnectError reports whether err happened before a connection existed.
func preConnectError(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && (opErr.Op == "dial" || opErr.Op == "proxyconnect") {
		return true
	}
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	return errors.As(err, &certErr) || errors.As(err, &recErr)
}

// finalTransportError reports a failure that retrying within a call cannot
// heal: the gateway's certificate is not trusted, or its host name does not
// exist.
func finalTransportError(err error) bool {
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid) {
		return true
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && dnsErr.IsNotFound
}

// refusedStream reports an HTTP/2 RST_STREAM with REFUSED_STREAM. net/http
// does not export its stream error, and reports it only in the text of the
// error it returns when it could not resend a body by itself; that text is
// matched whole, because other errors quote what the server sent: a GOAWAY's
// code and debug data (a GOAWAY naming the stream may follow its
// processing) or an HTTP/1.1 status line.
func refusedStream(err error) bool {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return refusedStreamText.MatchString(err.Error())
}

var refusedStreamText = regexp.MustCompile(`^http2: Transport: cannot retry err \[stream error: stream ID [0-9]+; REFUSED_STREAM(; received from peer)?\] after Request\.Body was written; define Request\.GetBody to avoid this error$`)

// scrubURLError removes the query from the URL of a *url.Error: the query of
// a GET holds parameters such as the customer's MSISDN.
func scrubURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	if i := strings.IndexByte(ue.URL, '?'); i >= 0 {
		return &url.Error{Op: ue.Op, URL: ue.URL[:i], Err: ue.Err}
	}
	return err
}

// secrets returns the values no excerpt may contain.
func (c *Client) secrets() []string { return c.d.secrets() }

// secretsOf returns the secrets to mask in an error of rq: the client's and
// the call's own.
func (c *Client) secretsOf(rq *request) []string {
	s := c.secrets()
	if rq != nil && rq.secret != "" {
		s = append(s, rq.secret)
	}
	return s
}

// newError returns an *Error of this client for api.
func (c *Client) newError(api API, ref string, kind, cause error) *Error {
	e := &Error{Gateway: c.gateway, API: api, ThirdPartyConversationID: ref, Err: cause}
	e.add(kind)
	return e
}

func (c *Client) logAttempt(ctx context.Context, rq *request, attempt, status int, d time.Duration, e *Error) {
	if !c.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("api", rq.api.String()), slog.Int("attempt", attempt),
		slog.Int("status", status), slog.Duration("duration", d), slog.String("reference", rq.ref),
	}
	if e != nil {
		attrs = append(attrs, slog.String("code", e.Code), slog.String("error", e.Error()))
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "mpesa: attempt", attrs...)
}
