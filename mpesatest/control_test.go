package mpesatest_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// control calls the control plane and decodes its JSON answer into out.
func control(t *testing.T, srv *mpesatest.Server, method, path, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL()+path, rd)
	require.NoError(t, err)
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(data, out), string(data))
	}
	return resp.StatusCode
}

func TestControlPlaneScenariosCustomersJournal(t *testing.T) {
	srv := newServer(t, mpesatest.WithControlPlane())
	client := sdkClient(t, srv, mpesa.GatewayMozambique)
	ctx := context.Background()

	var pending map[string]int
	require.Equal(t, http.StatusCreated, control(t, srv, "POST", "/_sim/scenarios", `{"api":"c2b","code":"INS-16"}`, &pending))
	assert.Equal(t, map[string]int{"c2b": 1}, pending)
	require.Equal(t, http.StatusCreated, control(t, srv, "POST", "/_sim/scenarios",
		`[{"api":"reversal","fault":"empty_body"},{"api":"transactionStatus","code":"INS-1","count":2}]`, &pending))
	assert.Equal(t, map[string]int{"c2b": 1, "reversal": 1, "transactionStatus": 2}, pending)

	var e map[string]string
	assert.Equal(t, http.StatusBadRequest, control(t, srv, "POST", "/_sim/scenarios", `{"api":"c2b","code":"INS-4242"}`, &e))
	assert.Contains(t, e["error"], "not a documented response code")
	assert.Equal(t, http.StatusBadRequest, control(t, srv, "POST", "/_sim/scenarios", `{"api":"c3b","code":"INS-1"}`, &e))
	assert.Contains(t, e["error"], "unknown api")
	assert.Equal(t, http.StatusBadRequest, control(t, srv, "POST", "/_sim/scenarios", `{"api":"c2b","fault":"explode"}`, &e))
	assert.Contains(t, e["error"], "hang, reset, html, empty_body, truncated_body, output_error")

	// The queued overload is answered and the client resends.
	_, err := client.C2B(ctx, c2bRequest(mpesa.GatewayMozambique, ""))
	require.NoError(t, err)
	var calls []map[string]any
	require.Equal(t, http.StatusOK, control(t, srv, "GET", "/_sim/calls?api=c2b", "", &calls))
	require.Len(t, calls, 2)
	assert.Equal(t, "INS-16", calls[0]["code"])
	assert.Equal(t, map[string]any{"code": "INS-16"}, calls[0]["scenario"])
	assert.Equal(t, "INS-0", calls[1]["code"])
	params := calls[1]["params"].(map[string]any)
	assert.Equal(t, "258******333", params["input_CustomerMSISDN"], "the journal masks numbers")

	// A customer registered over HTTP.
	var cust map[string]any
	require.Equal(t, http.StatusOK, control(t, srv, "PUT", "/_sim/customers/258841234567", `{"outcome":"insufficient_balance"}`, &cust))
	assert.Equal(t, "lacks the funds: 422 INS-2006", cust["does"])
	_, err = client.C2B(ctx, c2bRequest(mpesa.GatewayMozambique, "258841234567"))
	require.ErrorIs(t, err, mpesa.ErrInsufficientBalance)
	assert.Equal(t, http.StatusBadRequest, control(t, srv, "PUT", "/_sim/customers/258841234567", `{"outcome":"rich"}`, &e))

	var txs []map[string]any
	require.Equal(t, http.StatusOK, control(t, srv, "GET", "/_sim/transactions", "", &txs))
	require.Len(t, txs, 2)
	ref := txs[0]["reference"].(string)
	var tx map[string]any
	require.Equal(t, http.StatusOK, control(t, srv, "PUT", "/_sim/transactions/"+ref, `{"status":"Pending"}`, &tx))
	assert.Equal(t, "Pending", tx["status"])
	// The two queued INS-1 answers are retried (a query may be), and the
	// third attempt reports the status set above.
	st, err := client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: ref})
	require.NoError(t, err)
	assert.Equal(t, mpesa.StatusPending, st.TransactionStatus)
	assert.Len(t, srv.CallsTo(mpesa.APITransactionStatus), 3)
	assert.Equal(t, http.StatusNotFound, control(t, srv, "GET", "/_sim/transactions/NOPE", "", &e))

	var stats map[string]int
	require.Equal(t, http.StatusOK, control(t, srv, "GET", "/_sim/stats", "", &stats))
	assert.Positive(t, stats["decryptions"])

	var info map[string]any
	require.Equal(t, http.StatusOK, control(t, srv, "GET", "/_sim/", "", &info))
	assert.Equal(t, srv.APIKey(), info["api_key"])
	assert.Equal(t, srv.PublicKey(), info["public_key"])
	gws := info["gateways"].(map[string]any)
	assert.Equal(t, srv.URL(), gws["mozambique-v1x"].(map[string]any)["base_url"])

	var reset map[string]bool
	require.Equal(t, http.StatusOK, control(t, srv, "POST", "/_sim/reset", `{}`, &reset))
	assert.Empty(t, srv.Calls())
	assert.Empty(t, srv.Transactions())
	assert.Zero(t, srv.PendingScenarios(mpesa.APIReversal))
	assert.Contains(t, srv.Customers(), "258841234567", "customers stay")
	require.Equal(t, http.StatusOK, control(t, srv, "POST", "/_sim/reset", `{"customers":true}`, &reset))
	assert.NotContains(t, srv.Customers(), "258841234567")
}

func TestControlPlaneGuards(t *testing.T) {
	srv := newServer(t, mpesatest.WithControlPlane())
	// A change without a JSON content type is refused: another origin's
	// page cannot send one without a preflight.
	resp, err := srv.Client().Post(srv.URL()+"/_sim/reset", "text/plain", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)

	var e map[string]string
	assert.Equal(t, http.StatusNotFound, control(t, srv, "GET", "/_sim/nothing", "", &e))
	assert.Contains(t, e["error"], "lists them")
	assert.Empty(t, srv.Calls(), "the control plane is not in the journal")

	// Without WithControlPlane the paths are gateway paths that do not exist.
	plain := newServer(t)
	resp, err = plain.Client().Get(plain.URL() + "/_sim/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Len(t, plain.Calls(), 1)
}

func TestControlPlaneAsyncAndCallbacks(t *testing.T) {
	h, err := mpesa.NewHandler(func(context.Context, *mpesa.Result) error { return nil },
		mpesa.HandlerLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	listener := httptest.NewServer(h)
	t.Cleanup(listener.Close)
	srv := newServer(t, mpesatest.WithControlPlane())
	client := sdkClient(t, srv, mpesa.GatewayMozambique)
	ctx := context.Background()

	var v map[string]any
	assert.Equal(t, http.StatusBadRequest, control(t, srv, "PUT", "/_sim/async", `{"apis":{"c2b":true}}`, &v), "the URL is needed")
	// The URL alone switches the default products to asynchronous answers.
	require.Equal(t, http.StatusOK, control(t, srv, "PUT", "/_sim/async", `{"url":"`+listener.URL+`"}`, &v))
	assert.Equal(t, true, v["enabled"])
	apis := v["apis"].(map[string]any)
	assert.Equal(t, true, apis["c2b"])
	assert.Equal(t, true, apis["b2c"])
	assert.Equal(t, false, apis["transactionStatus"])

	res, err := client.C2B(ctx, c2bRequest(mpesa.GatewayMozambique, ""))
	require.NoError(t, err)
	assert.True(t, res.Async())
	var cbs []map[string]any
	require.Equal(t, http.StatusOK, control(t, srv, "GET", "/_sim/callbacks?wait=1&timeout_ms=5000", "", &cbs))
	require.Len(t, cbs, 1)
	assert.Equal(t, true, cbs[0]["acknowledged"])
	attempt := cbs[0]["attempts"].([]any)[0].(map[string]any)
	assert.Equal(t, "0", attempt["ack"].(map[string]any)["output_ResponseCode"])

	// C2B alone switched back to synchronous answers.
	require.Equal(t, http.StatusOK, control(t, srv, "PUT", "/_sim/async", `{"apis":{"c2b":false}}`, &v))
	apis = v["apis"].(map[string]any)
	assert.Equal(t, false, apis["c2b"])
	assert.Equal(t, true, apis["b2c"])
	res, err = client.C2B(ctx, c2bRequest(mpesa.GatewayMozambique, ""))
	require.NoError(t, err)
	assert.False(t, res.Async())

	// Every product off keeps the URL for later.
	require.Equal(t, http.StatusOK, control(t, srv, "PUT", "/_sim/async", `{"apis":{"b2c":false,"b2b":false,"reversal":false,"directDebitCreate":false,"directDebitPayment":false,"directDebitCancel":false}}`, &v))
	assert.Equal(t, listener.URL, v["url"])
	for k, on := range v["apis"].(map[string]any) {
		assert.Equal(t, false, on, k)
	}
	require.Equal(t, http.StatusOK, control(t, srv, "PUT", "/_sim/async", `{"enabled":false}`, &v))
	assert.Equal(t, false, v["enabled"])
	_, on := srv.AsyncSettings()
	assert.False(t, on)
	assert.Equal(t, http.StatusGatewayTimeout, control(t, srv, "GET", "/_sim/callbacks?wait=2&timeout_ms=50", "", &v))
}

func TestControlPlanePromptsAndPage(t *testing.T) {
	srv := newServer(t, mpesatest.WithControlPlane(), mpesatest.WithInteractive())
	client := sdkClient(t, srv, mpesa.GatewayMozambique)

	resp, err := srv.Client().Get(srv.URL() + "/")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, string(page), mpesatest.MozambiqueMSISDNCancelled)
	assert.Contains(t, string(page), "declines the PIN prompt: 401 INS-5")

	done := pay(client, c2bRequest(mpesa.GatewayMozambique, ""))
	var prompts []map[string]any
	require.Equal(t, http.StatusOK, control(t, srv, "GET", "/_sim/prompts?wait_ms=5000", "", &prompts))
	require.Len(t, prompts, 1)
	id := prompts[0]["id"].(string)

	var st map[string]any
	require.Equal(t, http.StatusOK, control(t, srv, "GET", "/_sim/state", "", &st))
	assert.Len(t, st["prompts"], 1)
	version := st["version"].(float64)

	var e map[string]string
	assert.Equal(t, http.StatusBadRequest, control(t, srv, "POST", "/_sim/prompts/"+id, `{"answer":"maybe"}`, &e))
	var a map[string]string
	require.Equal(t, http.StatusOK, control(t, srv, "POST", "/_sim/prompts/"+id, `{"answer":"decline"}`, &a))
	assert.Equal(t, "cancelled", a["answer"])
	require.ErrorIs(t, <-done, mpesa.ErrCancelledByCustomer)
	assert.Equal(t, http.StatusNotFound, control(t, srv, "POST", "/_sim/prompts/"+id, `{"answer":"pin"}`, &e))

	// The long poll answers once something changed.
	start := time.Now()
	require.Equal(t, http.StatusOK, control(t, srv, "GET", "/_sim/state?after="+jsonNumber(version), "", &st))
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Greater(t, st["version"].(float64), version)
	assert.Empty(t, st["prompts"])

	var all map[string]bool
	require.Equal(t, http.StatusOK, control(t, srv, "PUT", "/_sim/interactive", `{"all":false}`, &all))
	_, err = client.C2B(context.Background(), c2bRequest(mpesa.GatewayMozambique, ""))
	require.NoError(t, err)
}

func jsonNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// A simulator on listeners its caller opened: plain HTTP, or TLS with the
// caller's certificate; the Mozambique APIs on ports of their own.
func TestListenersAndTLS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	moz, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := newServer(t, mpesatest.WithListener(ln), mpesatest.WithPlainHTTP(),
		mpesatest.WithMozambiqueListeners(map[mpesa.API]net.Listener{mpesa.APIC2B: moz}))
	assert.Equal(t, "http://"+ln.Addr().String(), srv.URL())
	assert.Equal(t, "http://"+moz.Addr().String(), srv.MozambiqueURLs()[mpesa.APIC2B])
	assert.NotZero(t, srv.MozambiquePorts()[mpesa.APIB2C], "the others get ports of their own")
	client := sdkClient(t, srv, mpesa.GatewayMozambique, mpesa.WithBaseURL(srv.MozambiqueURLs()[mpesa.APIC2B]))
	_, err = client.C2B(context.Background(), c2bRequest(mpesa.GatewayMozambique, ""))
	require.NoError(t, err)

	// httptest's own certificate, loaded as a caller's certificate would be.
	cert := httptest.NewTLSServer(http.NotFoundHandler())
	leaf := cert.Certificate()
	tlsCert := cert.TLS.Certificates[0]
	cert.Close()
	tsrv := newServer(t, mpesatest.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{tlsCert}, MinVersion: tls.VersionTLS12}))
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get(tsrv.URL() + "/ipg/v1x/nothing/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// Shutdown lets a delivery that has started end before it closes.
func TestShutdownFinishesDeliveries(t *testing.T) {
	results := make(chan string, 1)
	h, err := mpesa.NewHandler(func(_ context.Context, res *mpesa.Result) error {
		results <- res.OriginalConversationID
		return nil
	})
	require.NoError(t, err)
	listener := httptest.NewServer(h)
	t.Cleanup(listener.Close)
	srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: listener.URL, Delay: 200 * time.Millisecond}))
	client := sdkClient(t, srv, mpesa.GatewayOpenAPI)
	res, err := client.C2B(context.Background(), c2bRequest(mpesa.GatewayOpenAPI, ""))
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	assert.Equal(t, res.ConversationID, <-results)
	_, err = client.C2B(context.Background(), c2bRequest(mpesa.GatewayOpenAPI, ""))
	require.Error(t, err, "the listener is closed")
}

// The access log has a line per call and per delivery attempt, without a
// secret or a full number.
func TestAccessLog(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&syncWriter{w: &buf}, nil))
	srv := newServer(t, mpesatest.WithAccessLog(logger), mpesatest.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		mpesatest.WithAsync(mpesatest.Async{URL: "http://127.0.0.1:1/unreachable?token=SECRETTOKEN", MaxAttempts: 1}))
	client := sdkClient(t, srv, mpesa.GatewayMozambique)
	req := mpesa.ReversalRequest{TransactionID: "NOPE"}
	_, _ = client.Reversal(context.Background(), req)
	_, err := client.C2B(context.Background(), c2bRequest(mpesa.GatewayMozambique, ""))
	require.NoError(t, err)
	waitCallbacks(t, srv, 1)
	srv.Close()

	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	var call map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &call))
	assert.Equal(t, "call", call["msg"])
	assert.Equal(t, "c2b", call["api"])
	assert.Equal(t, float64(201), call["status"])
	assert.Equal(t, "INS-0", call["code"])
	assert.Equal(t, "258******333", call["params"].(map[string]any)["input_CustomerMSISDN"])
	var cb map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[2]), &cb))
	assert.Equal(t, "callback", cb["msg"])
	assert.Equal(t, "WARN", cb["level"])
	assert.Equal(t, false, cb["acknowledged"])
	for _, secret := range []string{srv.APIKey(), mpesatest.MozambiqueSecurityCredential, mpesatest.MozambiqueMSISDNSuccess, "SECRETTOKEN"} {
		assert.NotContains(t, out, secret)
	}
}

// syncWriter serialises the writes of concurrent log calls.
type syncWriter struct {
	mu chan struct{}
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	if s.mu == nil {
		s.mu = make(chan struct{}, 1)
	}
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.w.Write(p)
}
