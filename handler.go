package mpesa

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mpesa-go/mpesa/internal/redact"
)

// The Handler receives the gateways' asynchronous results: when a product is
// configured for asynchronous answers, the call returns at once and the
// gateway later POSTs the result to the application's Response URL
// (docs/gateways.md O13–O16, M8–M9).
//
// The gateways sign nothing. Anybody who learns the URL can post a result,
// so a result that moves money must be confirmed with a status query before
// goods leave: see VerifyWithStatusQuery. RequireToken and AllowSources make
// forging harder; they do not make it impossible.

// Defaults of the Handler.
const (
	// DefaultMaxCallbackBytes caps a callback body. The documented
	// callbacks are a few hundred bytes.
	DefaultMaxCallbackBytes = 64 << 10
	// DefaultCallbackReadTimeout bounds the time a delivery may take to
	// send its body.
	DefaultCallbackReadTimeout = 10 * time.Second
	// minTokenLength is the shortest token RequireToken accepts.
	minTokenLength = 16
)

// ErrMalformedResult: a callback body is not a JSON object of a gateway's
// callback shape, lacks its conversation ID, or names a field twice.
// ParseResult returns an error matching it.
var ErrMalformedResult = errors.New("mpesa: malformed result callback")

// ResultFunc processes one result. It runs once per result: a duplicate
// delivery is acknowledged without running it again. Returning nil makes the
// Handler acknowledge the result; returning an error (or panicking, or
// leaving through runtime.Goexit) makes it answer with a 5xx so that the
// gateway may deliver the result again. Store what matters before returning
// nil.
type ResultFunc func(ctx context.Context, res *Result) error

// Delivery is one request to the Response URL, as OnDelivery receives it.
type Delivery struct {
	// Body is the raw body as received. It belongs to the callee.
	Body []byte
	// ContentType is the request's Content-Type header.
	ContentType string
	// Source is the address that sent the request: the peer, or the
	// client named by X-Forwarded-For when the peer is a trusted proxy.
	// It is invalid when the peer address could not be read.
	Source netip.Addr
	// ReceivedAt is when the handler read the body.
	ReceivedAt time.Time
	// Result is the parsed body, nil when Err is set.
	Result *Result
	// Err says why the body was not parsed (a wrong Content-Type or an
	// error matching ErrMalformedResult).
	Err error
}

// String describes the delivery without its body.
func (d Delivery) String() string {
	var b strings.Builder
	b.WriteString("mpesa.Delivery{bytes: ")
	b.WriteString(strconv.Itoa(len(d.Body)))
	if d.Source.IsValid() {
		b.WriteString(", source: ")
		b.WriteString(d.Source.String())
	}
	if d.Result != nil {
		b.WriteString(", result: ")
		b.WriteString(d.Result.String())
	}
	if d.Err != nil {
		b.WriteString(", error: ")
		b.WriteString(redact.Text(d.Err.Error()))
	}
	b.WriteByte('}')
	return b.String()
}

// GoString is String.
func (d Delivery) GoString() string { return d.String() }

// Format writes String whatever the verb, so that the body is never
// printed.
func (d Delivery) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, d.String()) }

// Handler is the http.Handler of the Response URL. It answers POST requests
// only, with a JSON body of at most MaxCallbackBytes, read within
// CallbackReadTimeout. For each result it
//
//  1. checks the source address (AllowSources) and the token (RequireToken);
//  2. reads and parses the body, and hands the raw body to OnDelivery, so
//     that even a body it cannot parse is kept;
//  3. claims the result in the DedupStore: the same result processed before
//     is acknowledged without running the ResultFunc again, and one being
//     processed by a concurrent delivery is answered 503 so that the
//     gateway delivers it again later. A different result for the same
//     conversation (a success after a failure) is a different result;
//  4. with VerifyWithStatusQuery, confirms every success that names a
//     transaction with a status query, and holds that one transaction to
//     this one result;
//  5. runs the ResultFunc, feeds the Results hub (FeedResults) and
//     acknowledges with HTTP 200.
//
// The acknowledgement is each gateway's documented one; on the iPG
// gateways
//
//	{"output_OriginalConversationID":"…","output_ResponseCode":"0","output_ResponseDesc":"Successfully Accepted Result","output_ThirdPartyConversationID":"…"}
//
// echoing the result's IDs, with output_ResponseCode "INS-0" for a Query
// Direct Debit result, whose page shows it so; on Daraja
// {"ResultCode":0,"ResultDesc":"Accepted"}, and a C2B confirmation's
// {"ResultCode":0,"ResultDesc":"Success"} (docs/gateways.md D28). On
// Daraja's URLs, mount a Handler at the STK CallBackURL, the ResultURL and
// the C2B ConfirmationURL (it tells the STK callback, the Result envelope
// and the C2B body apart by their shape), a Handler with
// QueueTimeoutNotices at the QueueTimeOutURL, and a C2B validator
// (NewC2BValidator) at the ValidationURL. It acknowledges only after
// the ResultFunc returned nil. A ResultFunc error or panic, or a failing
// store, is answered with 500 or 503 and a refusal in the same shape, so
// that the gateway may deliver again; the answer never holds the error's
// text. Requests it refuses get a short generic answer: 403 (address or
// token), 405 with Allow: POST, 413, 415, 400 (not a callback), and 422 for
// a result its status query contradicts.
//
// Serve it from an http.Server with ReadHeaderTimeout, ReadTimeout and
// WriteTimeout set; the handler bounds its own body read, but only the
// server can bound the headers.
type Handler struct {
	fn          ResultFunc
	logger      *slog.Logger
	maxBody     int64
	readTimeout time.Duration
	token       *[sha256.Size]byte
	allow       []netip.Prefix
	trusted     []netip.Prefix
	dedup       DedupStore
	hub         *Results
	onDelivery  func(context.Context, *Delivery) error
	verifier    *Client
	gateway     Gateway
	gatewaySet  bool
	// wait bounds the wait for an asynchronous status result
	// (StatusResultWait).
	wait    time.Duration
	waitSet bool

	// mode is what a Daraja handler receives: results, queue-timeout
	// notices (QueueTimeoutNotices), or C2B validation requests
	// (NewC2BValidator, which sets validate and the fallback).
	mode          darajaMode
	validate      C2BValidateFunc
	fallback      C2BDecision
	fallbackAfter time.Duration
	fallbackSet   bool

	ownerPrefix string
	ownerSeq    atomic.Uint64
	now         func() time.Time
}

// A HandlerOption configures a Handler.
type HandlerOption func(*Handler) error

// NewHandler returns the handler of the Response URL, which runs fn once per
// result. Every invalid option is reported, each by name.
func NewHandler(fn ResultFunc, opts ...HandlerOption) (*Handler, error) {
	h := newHandlerBase()
	h.fn = fn
	var errs []error
	if fn == nil {
		errs = append(errs, errors.New("mpesa: NewHandler: nil ResultFunc"))
	}
	errs = append(errs, h.apply(opts)...)
	if h.fallbackSet {
		errs = append(errs, optionError("C2BFallback", "only a C2B validator (NewC2BValidator) takes it"))
	}
	if h.mode == darajaQueueTimeout && h.gateway != GatewayDaraja {
		errs = append(errs, fmt.Errorf("mpesa: QueueTimeoutNotices: a Daraja option, but HandlerGateway is %s", h.gateway))
	}
	if h.verifier != nil && h.gatewaySet && h.gateway != h.verifier.Gateway() {
		errs = append(errs, fmt.Errorf("mpesa: HandlerGateway: %s, but the VerifyWithStatusQuery client speaks to %s", h.gateway, h.verifier.Gateway()))
	}
	if d, ok := h.verifierDialect().(*daraja); ok {
		errs = append(errs, d.verifierProblems(h)...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if d, ok := h.verifierDialect().(*daraja); ok && h.hub == nil {
		h.hub = d.results // the status results must reach the hub verification awaits on
	}
	h.finish()
	return h, nil
}

// newHandlerBase returns a handler with its defaults, before its options.
func newHandlerBase() *Handler {
	return &Handler{maxBody: DefaultMaxCallbackBytes, readTimeout: DefaultCallbackReadTimeout,
		wait: DefaultStatusResultWait, fallback: AcceptC2B(""), fallbackAfter: DefaultC2BValidationDeadline,
		now: time.Now, ownerPrefix: NewReference() + "-"}
}

// apply applies the options and returns what was wrong with them.
func (h *Handler) apply(opts []HandlerOption) []error {
	var errs []error
	for _, o := range opts {
		if o == nil {
			errs = append(errs, errors.New("mpesa: nil HandlerOption"))
			continue
		}
		if err := o(h); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// finish fills in the defaults the options left.
func (h *Handler) finish() {
	if h.logger == nil {
		h.logger = slog.New(warnings{})
	}
	if h.dedup == nil {
		h.dedup = NewMemoryDedup(0, 0)
	}
	if h.verifier != nil && !h.gatewaySet {
		h.gateway, h.gatewaySet = h.verifier.Gateway(), true
	}
}

// verifierDialect returns the dialect of the VerifyWithStatusQuery client,
// or nil.
func (h *Handler) verifierDialect() dialect {
	if h.verifier == nil {
		return nil
	}
	return h.verifier.d
}

// warnings is the default log handler of a Handler: slog.Default(), as it is
// when a line is logged, from warn level up.
type warnings struct{}

func (warnings) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && slog.Default().Handler().Enabled(ctx, l)
}
func (warnings) Handle(ctx context.Context, r slog.Record) error {
	return slog.Default().Handler().Handle(ctx, r)
}
func (w warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w warnings) WithGroup(string) slog.Handler      { return w }

// Answers of the handler.
const (
	ackDesc        = "Successfully Accepted Result"
	descRetry      = "Not accepted, deliver again"
	descForbidden  = "Forbidden"
	descMethod     = "Method not allowed"
	descTooLarge   = "Body too large"
	descMediaType  = "Content-Type must be application/json"
	descMalformed  = "Malformed result"
	descUnverified = "Result not confirmed by the transaction status"
	retryAfterSecs = "10"
)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	arrived := h.now()
	src, srcOK := h.source(r)
	if h.allow != nil && (!srcOK || !containsAddr(h.allow, src)) {
		h.refuse(ctx, w, http.StatusForbidden, descForbidden, nil, src, "source address not allowed")
		return
	}
	if h.token != nil && !h.tokenMatches(r) {
		h.refuse(ctx, w, http.StatusForbidden, descForbidden, nil, src, "missing or wrong token")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(ctx, w, http.StatusMethodNotAllowed, descMethod, nil, src, "method "+strconv.Quote(r.Method))
		return
	}
	if r.ContentLength > h.maxBody {
		h.refuse(ctx, w, http.StatusRequestEntityTooLarge, descTooLarge, nil, src, "declared body too large")
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.refuse(ctx, w, http.StatusRequestEntityTooLarge, descTooLarge, nil, src, "body too large")
			return
		}
		h.refuse(ctx, w, http.StatusBadRequest, descMalformed, nil, src, "reading the body failed")
		return
	}

	ct := r.Header.Get("Content-Type")
	var res *Result
	var perr error
	if !isJSONMediaType(ct) {
		perr = errors.New("mpesa: Content-Type is not application/json")
	} else {
		res, perr = h.parse(body)
	}
	if h.onDelivery != nil {
		d := &Delivery{Body: body, ContentType: ct, Source: src, ReceivedAt: h.now(), Result: res, Err: perr}
		run := h.onDelivery
		if h.validate != nil {
			run = h.beforeDeadline(arrived, h.onDelivery)
		}
		if err := run(ctx, d); err != nil {
			if h.validate != nil {
				h.log(ctx, slog.LevelError, "mpesa: OnDelivery failed; answered the fallback decision", res, src, http.StatusServiceUnavailable, err.Error())
				h.answerValidation(w, http.StatusServiceUnavailable, h.fallback)
				return
			}
			h.fail(ctx, w, http.StatusServiceUnavailable, res, src, "OnDelivery failed", err)
			return
		}
	}
	if res == nil {
		switch {
		case errors.Is(perr, ErrMalformedResult) && h.validate != nil:
			// A validator that cannot read the question cannot decide.
			h.log(ctx, slog.LevelWarn, "mpesa: C2B validation request unreadable; answered the fallback decision", nil, src, http.StatusBadRequest, perr.Error())
			h.answerValidation(w, http.StatusBadRequest, h.fallback)
		case errors.Is(perr, ErrMalformedResult):
			h.refuse(ctx, w, http.StatusBadRequest, descMalformed, nil, src, perr.Error())
		default:
			h.refuse(ctx, w, http.StatusUnsupportedMediaType, descMediaType, nil, src, "Content-Type "+strconv.Quote(ct))
		}
		return
	}
	if h.validate != nil {
		h.decide(ctx, w, res, src, arrived)
		return
	}
	h.process(ctx, w, res, src)
}

// parse reads a callback body with the parser of the handler's gateway, or
// of whichever gateway's callback shape the body has.
func (h *Handler) parse(body []byte) (*Result, error) {
	if h.mode != darajaResults {
		return parseDaraja(body, h.mode)
	}
	if h.gatewaySet {
		res, err := gateways[h.gateway].callbacks.parse(body)
		if res != nil {
			res.Gateway = h.gateway
		}
		return res, err
	}
	var first error
	for g := range gateways {
		if g > 0 && gateways[g].callbacks.name == gateways[g-1].callbacks.name {
			continue // the same parser, which the body did not fit
		}
		res, err := gateways[g].callbacks.parse(body)
		if err == nil {
			return res, nil
		}
		if first == nil || !errors.Is(err, errNotThisGateway) {
			first = err
		}
	}
	return nil, first
}

// errNotThisGateway marks a body that is not of a gateway's callback shape;
// a Handler without HandlerGateway then tries the next gateway.
var errNotThisGateway = malformed("not a callback of this gateway")

// readBody reads the whole body, at most maxBody bytes, within the read
// timeout. With a declared length it reads into a buffer of exactly that
// size plus the one byte that meets EOF.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	// A ResponseWriter that cannot set deadlines (a test recorder) leaves
	// the read to the server's own timeouts; one that wraps another (a
	// middleware's) is unwrapped by http.ResponseController.
	deadline := time.Now().Add(h.readTimeout)
	switch rw := w.(type) {
	case interface{ SetReadDeadline(time.Time) error }:
		_ = rw.SetReadDeadline(deadline)
	case interface{ Unwrap() http.ResponseWriter }:
		_ = http.NewResponseController(w).SetReadDeadline(deadline)
	}
	rd := http.MaxBytesReader(w, r.Body, h.maxBody)
	size := 512
	if r.ContentLength >= 0 {
		size = int(r.ContentLength) + 1
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// isJSONMediaType reports whether a Content-Type is application/json, with
// or without parameters.
func isJSONMediaType(ct string) bool {
	if ct == "application/json" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// answer writes the acknowledgement (accepted) or a refusal in the
// gateway's shape. The IDs are echoed when the result is known.
func (h *Handler) answer(w http.ResponseWriter, status int, res *Result, accepted bool, desc string) {
	if h.validate != nil {
		// A C2B validator refuses in the shape M-Pesa reads as a rejection.
		h.answerValidation(w, status, RejectC2B(C2BOtherError))
		return
	}
	g := h.gateway
	if res != nil {
		g = res.Gateway
	}
	buf := gateways[g].callbacks.ack(res, accepted, desc)
	w.Header()["Content-Type"] = jsonHdr
	w.WriteHeader(status)
	_, _ = w.Write(buf)
}

// refuse answers a request the handler will not process.
func (h *Handler) refuse(ctx context.Context, w http.ResponseWriter, status int, desc string, res *Result, src netip.Addr, why string) {
	h.log(ctx, slog.LevelWarn, "mpesa: callback refused", res, src, status, why)
	h.answer(w, status, res, false, desc)
}

// fail answers a result that could not be processed now, so that the
// gateway delivers it again. err is logged, never sent.
func (h *Handler) fail(ctx context.Context, w http.ResponseWriter, status int, res *Result, src netip.Addr, msg string, err error) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfterSecs)
	}
	h.log(ctx, slog.LevelError, "mpesa: "+msg, res, src, status, err.Error())
	h.answer(w, status, res, false, descRetry)
}

func (h *Handler) log(ctx context.Context, level slog.Level, msg string, res *Result, src netip.Addr, status int, why string) {
	if !h.logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 7)
	if src.IsValid() {
		attrs = append(attrs, slog.String("source", src.String()))
	}
	if status != 0 {
		attrs = append(attrs, slog.Int("status", status))
	}
	if res != nil {
		attrs = append(attrs,
			slog.String("conversation_id", res.OriginalConversationID),
			slog.String("reference", res.ThirdPartyConversationID),
			slog.String("code", res.ResultCode))
		if res.Verified {
			attrs = append(attrs, slog.Bool("verified", true))
		}
	}
	if why != "" {
		attrs = append(attrs, slog.String("reason", redact.Text(why)))
	}
	h.logger.LogAttrs(ctx, level, msg, attrs...)
}
