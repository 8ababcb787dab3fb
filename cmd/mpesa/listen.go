package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/internal/redact"
)

// mpesa listen: a local Response URL. mpesa.Handler parses each callback
// and acknowledges it as its gateway expects; listen prints what arrived
// and, with --forward-to, passes the body on to the user's service.

type listenConfig struct {
	addr, path, token, gateway, forwardTo string
	json                                  bool
	forwardTimeout                        time.Duration
}

// delivery is what listen saw of one request.
type delivery struct {
	res      *mpesa.Result
	parseErr error
	ran      bool // the result was new: not a duplicate
	fwd      *forwarded
}

type forwarded struct {
	URL      string   `json:"url"`
	Status   int      `json:"status,omitempty"`
	Body     string   `json:"body,omitempty"`
	Error    string   `json:"error,omitempty"`
	Problems []string `json:"ack_problems,omitempty"`
}

type deliveryKey struct{}

func runListen(ctx context.Context, e *env, args []string) int {
	var c listenConfig
	fs := flag.NewFlagSet("mpesa listen", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen here; the Response URL is http://ADDR/PATH (a tunnel you run can expose it)")
	fs.StringVar(&c.path, "path", "/", "the path of the Response URL; every path below it is served")
	fs.StringVar(&c.token, "token", "", "require this secret as the last path segment or ?token= (env MPESA_CALLBACK_TOKEN)")
	fs.StringVar(&c.gateway, "gateway", "", "the gateway results come from ("+gatewayNames()+"; default: read from each body)")
	fs.StringVar(&c.forwardTo, "forward-to", "", "POST each body on to this URL (your service) and show its answer; a failure there is answered 503, so that the gateway delivers again")
	fs.DurationVar(&c.forwardTimeout, "forward-timeout", 10*time.Second, "how long --forward-to may take")
	fs.BoolVar(&c.json, "json", false, "print one JSON object per delivery")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprint(w, `Usage: mpesa listen [flags]

Serves a Response URL on a local address. Each result callback is parsed and
acknowledged with the body its gateway expects (mpesa.Handler: IDs echoed,
output_ResponseCode "0", "INS-0" for a query direct debit result; on Daraja
{"ResultCode":0,...}); a repeated delivery is acknowledged again. On Daraja,
a path with "timeout" in it is read as the QueueTimeOutURL (the queue-timeout
notice) and one with "validat" in it as the C2B ValidationURL, where every
payment is accepted; every other path takes STK callbacks, Result envelopes
and C2B confirmations. Configure the URL as the Response URL of the
application (on the portal, behind a tunnel you run) or of mpesa sim
(--async URL, or PUT /_sim/async). It runs until SIGINT or SIGTERM.

Prints: one line per delivery on standard output: the product, the result
code and what it means, the IDs, the masked phone number and the amount when
the body has them, the acknowledgement, and with --forward-to the answer of
your service, checked against the acknowledgement the gateway expects. Never
the token, nor a full phone number.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return exitOK
		}
		return exitUsage
	}
	if c.token == "" {
		c.token = e.getenv("MPESA_CALLBACK_TOKEN")
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := []mpesa.HandlerOption{mpesa.HandlerLogger(quiet)}
	var problems []string
	if c.token != "" {
		opts = append(opts, mpesa.RequireToken(mpesa.Secret(c.token)))
	}
	if c.gateway != "" {
		d, ok := findGateway(c.gateway)
		if !ok {
			problems = append(problems, fmt.Sprintf("--gateway %q is not one of %s", c.gateway, gatewayNames()))
		}
		opts = append(opts, mpesa.HandlerGateway(d.gw))
	}
	if c.forwardTo != "" && !strings.HasPrefix(c.forwardTo, "http://") && !strings.HasPrefix(c.forwardTo, "https://") {
		problems = append(problems, "--forward-to: want an http:// or https:// URL")
	}
	if len(problems) > 0 {
		return usageError(e, "listen", problems...)
	}
	fwdClient := &http.Client{Timeout: c.forwardTimeout}
	opts = append(opts, mpesa.OnDelivery(func(ctx context.Context, d *mpesa.Delivery) error {
		rec, _ := ctx.Value(deliveryKey{}).(*delivery)
		if rec == nil {
			return nil
		}
		rec.res, rec.parseErr = d.Result, d.Err
		if c.forwardTo == "" {
			return nil
		}
		rec.fwd = forward(ctx, fwdClient, c.forwardTo, d)
		if rec.fwd.Error != "" || rec.fwd.Status < 200 || rec.fwd.Status > 299 {
			return errors.New("forwarding failed")
		}
		return nil
	}))
	ran := func(ctx context.Context, _ *mpesa.Result) error {
		if rec, _ := ctx.Value(deliveryKey{}).(*delivery); rec != nil {
			rec.ran = true
		}
		return nil
	}
	var h http.Handler
	h, err := mpesa.NewHandler(ran, opts...)
	if err != nil {
		return usageError(e, "listen", strings.Split(err.Error(), "\n")...)
	}
	// Daraja posts its queue-timeout notices and C2B validations to URLs of
	// their own, with bodies and answers of their own (docs/gateways.md
	// D13, D21, D32).
	var timeouts, validator http.Handler = h, h
	if c.gateway == "" || mustGateway(c.gateway) == mpesa.GatewayDaraja {
		dopts := append(opts[:len(opts):len(opts)], mpesa.HandlerGateway(mpesa.GatewayDaraja))
		if timeouts, err = mpesa.NewHandler(ran, append(dopts, mpesa.QueueTimeoutNotices())...); err != nil {
			return usageError(e, "listen", strings.Split(err.Error(), "\n")...)
		}
		validator, err = mpesa.NewC2BValidator(func(ctx context.Context, _ *mpesa.Result) (mpesa.C2BDecision, error) {
			_ = ran(ctx, nil)
			return mpesa.AcceptC2B(""), nil
		}, dopts...)
		if err != nil {
			return usageError(e, "listen", strings.Split(err.Error(), "\n")...)
		}
	}

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		fmt.Fprintln(e.stderr, "mpesa listen: --addr:", err)
		return exitUsage
	}
	var outMu sync.Mutex
	mux := http.NewServeMux()
	mux.Handle(c.path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &delivery{}
		rw := &recorder{ResponseWriter: w, status: http.StatusOK}
		serve := h
		switch path := strings.ToLower(r.URL.Path); {
		case strings.Contains(path, "timeout"):
			serve = timeouts
		case strings.Contains(path, "validat"):
			serve = validator
		}
		serve.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), deliveryKey{}, rec)))
		outMu.Lock()
		defer outMu.Unlock()
		printDelivery(e.stdout, c.json, r, rec, rw)
	}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second, WriteTimeout: 30 * time.Second}
	url := "http://" + printable(ln.Addr()) + c.path
	if c.token != "" {
		url = strings.TrimSuffix(url, "/") + "/[token]"
	}
	fmt.Fprintf(e.stderr, "mpesa listen: Response URL %s", url)
	if c.forwardTo != "" {
		fmt.Fprintf(e.stderr, ", forwarding to %s", logURL(c.forwardTo))
	}
	fmt.Fprintln(e.stderr)
	if e.ready != nil {
		e.ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		fmt.Fprintln(e.stderr, "mpesa listen:", err)
		return exitUnavailable
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return exitOK
}

// recorder keeps the status and body of the handler's answer.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.body.Write(p)
	return r.ResponseWriter.Write(p)
}

// forward posts the body on, as the gateway sent it.
func forward(ctx context.Context, hc *http.Client, target string, d *mpesa.Delivery) *forwarded {
	f := &forwarded{URL: logURL(target)}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(d.Body))
	if err != nil {
		f.Error = err.Error()
		return f
	}
	ct := d.ContentType
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	resp, err := hc.Do(req)
	if err != nil {
		f.Error = redact.Text(strings.ReplaceAll(err.Error(), target, f.URL))
		return f
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	f.Status, f.Body = resp.StatusCode, redact.Text(strings.TrimSpace(string(data)))
	if d.Result != nil {
		f.Problems = ackProblems(d.Result, data)
	}
	return f
}

// ackProblems compares a service's answer with the acknowledgement the
// gateway expects (docs/gateways.md O16, M9).
func ackProblems(res *mpesa.Result, body []byte) []string {
	var ack map[string]any
	err := json.Unmarshal(body, &ack)
	if res.Gateway == mpesa.GatewayDaraja {
		return darajaAckProblems(res, ack, err == nil && ack != nil)
	}
	if err != nil || ack == nil {
		return []string{"the answer is not a JSON object"}
	}
	want := map[string]string{
		"output_OriginalConversationID":   res.OriginalConversationID,
		"output_ThirdPartyConversationID": res.ThirdPartyConversationID,
		"output_ResponseCode":             "0",
	}
	if res.API == mpesa.APIDirectDebitQuery {
		want["output_ResponseCode"] = "INS-0"
	}
	var out []string
	for _, k := range []string{"output_OriginalConversationID", "output_ThirdPartyConversationID", "output_ResponseCode"} {
		got, ok := ack[k].(string)
		switch {
		case ack[k] == nil:
			out = append(out, k+" is missing")
		case !ok:
			out = append(out, k+" is not a JSON string")
		case got != want[k]:
			out = append(out, fmt.Sprintf("%s is %q, want %q", k, got, want[k]))
		}
	}
	if d, _ := ack["output_ResponseDesc"].(string); strings.TrimSpace(d) == "" {
		out = append(out, "output_ResponseDesc is missing or empty")
	}
	return out
}

// darajaAckProblems compares a service's answer with the acknowledgement
// Daraja expects (docs/gateways.md D13, D28): any answer of an STK callback,
// a Result or a queue-timeout notice, unless its ResultCode says otherwise;
// {"ResultCode":0,...} with a number for a C2B confirmation; a string code,
// "0" or C2B00011-C2B00016, with a ResultDesc for a validation.
func darajaAckProblems(res *mpesa.Result, ack map[string]any, isObject bool) []string {
	code, present := ack["ResultCode"]
	switch res.Callback {
	case mpesa.CallbackC2BConfirmation:
		if !isObject {
			return []string{"the answer is not a JSON object"}
		}
		if n, ok := code.(float64); !ok || n != 0 {
			return []string{fmt.Sprintf("ResultCode is %s, want the number 0", jsonText(code))}
		}
	case mpesa.CallbackC2BValidation:
		if !isObject {
			return []string{"the answer is not a JSON object: the payment goes the way the registered ResponseType says"}
		}
		str, ok := code.(string)
		if !ok || (str != "0" && !(strings.HasPrefix(str, "C2B0001") && len(str) == 8 && str[7] >= '1' && str[7] <= '6')) {
			return []string{fmt.Sprintf(`ResultCode is %s, want the string "0" or C2B00011-C2B00016`, jsonText(code))}
		}
		if d, _ := ack["ResultDesc"].(string); strings.TrimSpace(d) == "" {
			return []string{"ResultDesc is missing or empty"}
		}
	default:
		if present && jsonText(code) != "0" && jsonText(code) != `"0"` {
			return []string{fmt.Sprintf("ResultCode is %s: Daraja may deliver the result again", jsonText(code))}
		}
	}
	return nil
}

func jsonText(v any) string {
	if v == nil {
		return "missing"
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// mustGateway returns the gateway named by a --gateway already checked.
func mustGateway(name string) mpesa.Gateway {
	d, _ := findGateway(name)
	return d.gw
}

// deliveryLine is one delivery as --json prints it.
type deliveryLine struct {
	Time           time.Time      `json:"time"`
	Path           string         `json:"path"`
	Status         int            `json:"status"`
	Gateway        string         `json:"gateway,omitempty"`
	API            string         `json:"api,omitempty"`
	Callback       string         `json:"callback,omitempty"` // Daraja's kinds: stk, result, queue-timeout, c2b-validation, c2b-confirmation
	ResultCode     string         `json:"result_code,omitempty"`
	ResultDesc     string         `json:"result_desc,omitempty"`
	Meaning        string         `json:"meaning,omitempty"`
	OK             bool           `json:"ok"`
	ConversationID string         `json:"conversation_id,omitempty"`
	TransactionID  string         `json:"transaction_id,omitempty"`
	Reference      string         `json:"reference,omitempty"`
	MSISDN         string         `json:"msisdn,omitempty"`
	Amount         string         `json:"amount,omitempty"`
	Duplicate      bool           `json:"duplicate,omitempty"`
	Error          string         `json:"error,omitempty"`
	Ack            map[string]any `json:"ack,omitempty"`
	Forward        *forwarded     `json:"forward,omitempty"`
}

func printDelivery(w io.Writer, asJSON bool, r *http.Request, rec *delivery, rw *recorder) {
	l := deliveryLine{Time: time.Now(), Path: logURL(r.URL.Path), Status: rw.status, Forward: rec.fwd}
	if token := strings.LastIndex(l.Path, "/"); token >= 0 && len(l.Path)-token > 16 {
		l.Path = l.Path[:token+1] + "[token]" // a RequireToken segment
	}
	_ = json.Unmarshal(rw.body.Bytes(), &l.Ack)
	if res := rec.res; res != nil {
		l.Gateway, l.ResultCode, l.ResultDesc, l.OK = res.Gateway.String(), res.ResultCode, res.ResultDesc, res.OK()
		if res.API != 0 {
			l.API = res.API.String()
		}
		if res.Gateway == mpesa.GatewayDaraja {
			l.Callback = res.Callback.String()
		}
		if info, ok := mpesa.LookupCode(res.Gateway, res.API, res.ResultCode); ok && !res.OK() {
			l.Meaning = info.Description
			if info.Kind != nil && !strings.EqualFold(strings.TrimPrefix(info.Kind.Error(), "mpesa: "), info.Description) {
				l.Meaning += " (" + strings.TrimPrefix(info.Kind.Error(), "mpesa: ") + ")"
			}
		}
		l.ConversationID, l.TransactionID, l.Reference = res.OriginalConversationID, res.TransactionID, res.ThirdPartyConversationID
		if l.TransactionID == "N/A" {
			l.TransactionID = ""
		}
		l.MSISDN, l.Amount = extra(res, "msisdn"), extra(res, "amount")
		if res.PhoneNumber != "" {
			l.MSISDN = redact.MSISDN(res.PhoneNumber) // Daraja's STK callback
		}
		if res.Amount != "" {
			l.Amount = res.Amount
		}
		l.Duplicate = !rec.ran && rw.status == http.StatusOK
	}
	if rec.parseErr != nil {
		l.Error = strings.TrimPrefix(rec.parseErr.Error(), "mpesa: ")
	} else if rw.status != http.StatusOK && l.Error == "" {
		l.Error = "answered " + http.StatusText(rw.status)
	}
	if asJSON {
		data, _ := json.Marshal(l)
		fmt.Fprintln(w, string(data))
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %d", l.Time.Format("15:04:05"), l.Status)
	if rec.res != nil {
		what := l.API
		if l.Callback != "" && l.Callback != "result" {
			what = l.Callback // Daraja's STK, queue-timeout and C2B callbacks
		} else if what == "" {
			what = "result"
		}
		fmt.Fprintf(&b, "  %s %s  %s %s", l.Gateway, what, l.ResultCode, l.ResultDesc)
		if l.Meaning != "" {
			fmt.Fprintf(&b, " [%s]", l.Meaning)
		}
		for _, kv := range [][2]string{{"conversation", l.ConversationID}, {"transaction", l.TransactionID}, {"reference", l.Reference}, {"msisdn", l.MSISDN}, {"amount", l.Amount}} {
			if kv[1] != "" {
				fmt.Fprintf(&b, "  %s %s", kv[0], kv[1])
			}
		}
		if l.Duplicate {
			b.WriteString("  (duplicate: acknowledged again)")
		}
	}
	if l.Error != "" {
		fmt.Fprintf(&b, "  %s", l.Error)
	}
	if code, ok := l.Ack["output_ResponseCode"]; ok {
		fmt.Fprintf(&b, "  ack %v", code)
	} else if code, ok := l.Ack["ResultCode"]; ok {
		fmt.Fprintf(&b, "  ack %v", code)
	}
	if f := l.Forward; f != nil {
		fmt.Fprintf(&b, "\n          -> %s: ", f.URL)
		if f.Error != "" {
			b.WriteString(f.Error)
		} else {
			fmt.Fprintf(&b, "%d %s", f.Status, f.Body)
			if len(f.Problems) == 0 {
				b.WriteString("  (acknowledgement as documented)")
			} else {
				b.WriteString("  (acknowledgement differs: " + strings.Join(f.Problems, "; ") + ")")
			}
		}
	}
	fmt.Fprintln(w, b.String())
}

// extra finds a value of the body by a word in its key ("amount"), masked
// when it is a phone number. The iPG callbacks carry neither; other
// gateways' results may.
func extra(res *mpesa.Result, word string) string {
	keys := make([]string, 0, len(res.Extra))
	for k := range res.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		lk := strings.ToLower(k)
		if strings.Contains(lk, word) && !strings.Contains(lk, "token") {
			if word == "msisdn" {
				return redact.MSISDN(res.Extra[k])
			}
			return res.Extra[k]
		}
	}
	return ""
}

// logURL is a URL without its query, fragment and user information.
func logURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if scheme, rest, ok := strings.Cut(raw, "://"); ok {
		if at := strings.Index(rest, "@"); at >= 0 && at < strings.IndexByte(rest+"/", '/') {
			rest = rest[at+1:]
		}
		return scheme + "://" + rest
	}
	return raw
}
