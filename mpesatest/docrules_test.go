package mpesatest_test

// Tests of rules the simulator takes from the gateway documents, one test per
// rule, each citing the document and the section it follows.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// TestUnknownMarketIsINS998: every product page of the OpenAPI v2 developer
// portal lists 400 INS-998 "Invalid Market" in its Response Codes table, and
// the market contexts are written exactly as its "Markets" tables write them
// (vodafoneGHA, vodacomTZN, ...).
func TestUnknownMarketIsINS998(t *testing.T) {
	srv := newServer(t)
	c := openAPI(t, srv, mpesa.MarketTanzania)
	for _, market := range []string{"vodacomKEN", "VodafoneGHA", "VODACOMTZN", "vodacomtzn", "ghana"} {
		for _, env := range []string{"sandbox", "openapi"} {
			prefix := "/" + env + "/ipg/v2/" + market + "/"
			status, out := c.send(http.MethodPost, prefix+"c2bPayment/singleStage/", c2bTZ("im1"), nil)
			assert.Equal(t, http.StatusBadRequest, status, "%s: %v", prefix, out)
			assert.Equal(t, "INS-998", out["output_ResponseCode"], prefix)
			assert.Equal(t, "Invalid Market", out["output_ResponseDesc"], prefix)
			assert.Equal(t, "im1", out["output_ThirdPartyConversationID"], prefix)

			status, out = c.send(http.MethodGet, prefix+"queryTransactionStatus/", oaStatus.valid("im2"), nil)
			assert.Equal(t, http.StatusBadRequest, status, prefix)
			assert.Equal(t, "INS-998", out["output_ResponseCode"], prefix)

			key := *c
			key.authz = bearer(t, srv, srv.APIKey())
			status, out = key.send(http.MethodGet, prefix+"getSession/", nil, nil)
			assert.Equal(t, http.StatusBadRequest, status, prefix)
			assert.Equal(t, map[string]string{"output_ResponseCode": "INS-998", "output_ResponseDesc": "Invalid Market"}, out, prefix)
		}
	}
	assert.Empty(t, srv.Transactions(), "nothing is carried out under an unknown market")
	calls := srv.CallsTo(mpesa.APIC2B)
	require.NotEmpty(t, calls)
	assert.Equal(t, mpesa.Market("vodacomKEN"), calls[0].Market, "the journal keeps the path's market")

	// The method is still checked first, and an unknown API stays unknown.
	status, _ := c.send(http.MethodGet, "/sandbox/ipg/v2/vodacomKEN/c2bPayment/singleStage/", nil, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, status)
	status, _ = c.send(http.MethodPost, "/sandbox/ipg/v2/vodacomKEN/c2bPaymentX/", c2bTZ("im3"), nil)
	assert.Equal(t, http.StatusNotFound, status)
}

// TestSessionsBelongToTheirEnvironment: the OpenAPI v2 developer portal's
// Generate SessionKey page has the sandbox and the live environment
// ("/sandbox/ipg/v2/..." and "/openapi/ipg/v2/...") each issue session keys
// with their own getSession; a session of one is refused, 401 INS-2, on the
// paths of the other.
func TestSessionsBelongToTheirEnvironment(t *testing.T) {
	srv := newServer(t)
	session := func(env string) string {
		c := &raw{t: t, srv: srv, authz: bearer(t, srv, srv.APIKey()), origin: "*", market: mpesa.MarketTanzania, gw: mpesa.GatewayOpenAPI}
		status, out := c.send(http.MethodGet, "/"+env+"/ipg/v2/vodacomTZN/getSession/", nil, nil)
		require.Equal(t, http.StatusOK, status, out)
		return bearer(t, srv, out["output_SessionID"])
	}
	sandbox, production := session("sandbox"), session("openapi")
	pay := func(env, authz, ref string) (int, map[string]string) {
		c := &raw{t: t, srv: srv, authz: authz, origin: "*", market: mpesa.MarketTanzania, gw: mpesa.GatewayOpenAPI}
		return c.send(http.MethodPost, "/"+env+"/ipg/v2/vodacomTZN/c2bPayment/singleStage/", c2bTZ(ref), nil)
	}

	status, out := pay("sandbox", sandbox, "env1")
	assert.Equal(t, http.StatusCreated, status, out)
	status, out = pay("openapi", production, "env2")
	assert.Equal(t, http.StatusCreated, status, out)

	status, out = pay("openapi", sandbox, "env3")
	assert.Equal(t, http.StatusUnauthorized, status, "a sandbox session on production: %v", out)
	assert.Equal(t, "INS-2", out["output_ResponseCode"])
	status, out = pay("sandbox", production, "env4")
	assert.Equal(t, http.StatusUnauthorized, status, "a production session in the sandbox: %v", out)
	assert.Equal(t, "INS-2", out["output_ResponseCode"])
	_, ok := srv.Transaction("env3")
	assert.False(t, ok, "a refused call is not carried out")
}

// TestDirectDebitPaymentWithoutAnActiveMandateIsINS6: the Response Codes
// table of the OpenAPI v2 developer portal's Direct Debit Payment page lists
// 401 INS-6 "Transaction Failed" and no INS-58 (which only the Query Direct
// Debit page lists): a payment under a cancelled, or no, mandate fails so.
func TestDirectDebitPaymentWithoutAnActiveMandateIsINS6(t *testing.T) {
	srv := newServer(t)
	c := openAPI(t, srv, mpesa.MarketGhana)
	status, created := c.call(http.MethodPost, oaDDCreate.path, with(oaDDCreate.valid("pm1"), "input_ThirdPartyReference", "Rent1"))
	require.Equal(t, http.StatusCreated, status, created)
	status, out := c.call(http.MethodPut, oaDDCancel.path, with(oaDDCancel.valid("pm2"),
		"input_ThirdPartyReference", "Rent1", "input_MandateID", created["output_MandateID"]))
	require.Equal(t, http.StatusCreated, status, out)

	for name, p := range map[string]map[string]string{
		"cancelled mandate":  with(oaDDPayment.valid("pm3"), "input_ThirdPartyReference", "Rent1", "input_MandateID", "-"),
		"cancelled, with ID": with(oaDDPayment.valid("pm4"), "input_ThirdPartyReference", "Rent1", "input_MandateID", created["output_MandateID"]),
		"never created":      with(oaDDPayment.valid("pm5"), "input_ThirdPartyReference", "Nothing1", "input_MandateID", "-"),
	} {
		status, out := c.call(http.MethodPost, oaDDPayment.path, p)
		assert.Equal(t, http.StatusUnauthorized, status, "%s: %v", name, out)
		assert.Equal(t, "INS-6", out["output_ResponseCode"], name)
		assert.Equal(t, "Transaction Failed", out["output_ResponseDesc"], name)
	}

	// The SDK reads it as a failed transaction, not as an unknown outcome.
	client := sdkClient(t, srv, mpesa.GatewayOpenAPI, mpesa.WithMarket(mpesa.MarketGhana))
	_, err := client.DirectDebitPayment(context.Background(), mpesa.DirectDebitPaymentRequest{
		CustomerMSISDN: mpesatest.MSISDNSuccess, MandateReference: "Rent1", Amount: "10"})
	assert.ErrorIs(t, err, mpesa.ErrTransactionFailed)
	assert.NotErrorIs(t, err, mpesa.ErrOutcomeUnknown)
}

// TestMozambiqueStatusQueryIsAlwaysSynchronous: the Mozambique document
// 'Query Transaction Status' (and its section of 'C2B, B2C, B2B, Query
// Transaction Status, Reversal') gives the status query a synchronous answer
// and no callback, so it answers synchronously even when Async.APIs lists
// it; the OpenAPI v2 status query, whose page has an asynchronous answer,
// still follows the list.
func TestMozambiqueStatusQueryIsAlwaysSynchronous(t *testing.T) {
	l := newListener(t)
	srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.srv.URL,
		APIs: []mpesa.API{mpesa.APIC2B, mpesa.APITransactionStatus}}))
	mz := mozambique(t, srv)
	status, paid := mz.call(http.MethodPost, mzC2B.path, mozC2B("sy1"))
	require.Equal(t, http.StatusCreated, status, paid)
	waitCallbacks(t, srv, 1)

	status, out := mz.call(http.MethodGet, mzStatus.path, with(mzStatus.valid("sy2"), "input_QueryReference", "sy1"))
	require.Equal(t, http.StatusOK, status, out)
	assert.Equal(t, "Completed", out["output_ResponseTransactionStatus"], "the answer carries the status")
	assert.Equal(t, paid["output_ConversationID"], out["output_ConversationID"])
	time.Sleep(50 * time.Millisecond)
	assert.Len(t, srv.Callbacks(), 1, "no callback for the Mozambique status query")

	oa := openAPI(t, srv, mpesa.MarketTanzania)
	status, out = oa.call(http.MethodGet, oaStatus.path, with(oaStatus.valid("sy3"), "input_QueryReference", "nothing000001"))
	require.Equal(t, http.StatusBadRequest, status, out)
	status, _ = oa.call(http.MethodPost, oaC2B.path, c2bTZ("sy4"))
	require.Equal(t, http.StatusCreated, status)
	waitCallbacks(t, srv, 2)
	status, out = oa.call(http.MethodGet, oaStatus.path, with(oaStatus.valid("sy5"), "input_QueryReference", "sy4"))
	require.Equal(t, http.StatusOK, status, out)
	assert.NotContains(t, out, "output_ResponseTransactionStatus", "OpenAPI v2 answers it asynchronously when listed")
	cbs := waitCallbacks(t, srv, 3)
	assert.Equal(t, mpesa.APITransactionStatus, cbs[2].API)
	assert.Equal(t, mpesa.GatewayOpenAPI, cbs[2].Gateway)
}

// TestAsyncByDefaultOnlyProductsWithCallbacks: with Async.APIs empty the
// payments (C2B, B2C, B2B), the reversal and the mandate changes (direct
// debit creation, payment, cancellation) answer asynchronously; the queries
// (transaction status, direct debit query, beneficiary name) answer
// synchronously, as each product page of the OpenAPI v2 developer portal
// allows ("can either be synchronous or asynchronous"). So a listener that
// verifies each result with a status query can verify it.
func TestAsyncByDefaultOnlyProductsWithCallbacks(t *testing.T) {
	// The simulator must know the listener's URL before the listener,
	// which needs the client, exists.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: "http://" + ln.Addr().String() + "/results", MaxAttempts: 1}))
	client := sdkClient(t, srv, mpesa.GatewayOpenAPI)
	verifying, err := mpesa.NewHandler(func(context.Context, *mpesa.Result) error { return nil },
		mpesa.VerifyWithStatusQuery(client))
	require.NoError(t, err)
	ts := httptest.NewUnstartedServer(verifying)
	_ = ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	t.Cleanup(ts.Close)

	ctx := context.Background()
	res, err := client.C2B(ctx, c2bRequest(mpesa.GatewayOpenAPI, ""))
	require.NoError(t, err)
	assert.True(t, res.Async(), "C2B answers asynchronously by default")
	cb := waitCallbacks(t, srv, 1)[0]
	assert.True(t, cb.Acknowledged, "the listener verified the result with a synchronous status query: %+v", cb.Attempts)

	st, err := client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: res.ConversationID})
	require.NoError(t, err)
	assert.Equal(t, mpesa.StatusCompleted, st.TransactionStatus, "the status query answers at once")

	gh := openAPI(t, srv, mpesa.MarketGhana)
	for _, p := range []product{oaB2C, oaB2B} {
		c := p.client(t, srv)
		status, out := c.call(p.method, p.path, p.valid("ad"+p.path[:3]))
		require.Equal(t, http.StatusCreated, status, out)
		assert.NotContains(t, out, "output_TransactionID", "%s answers asynchronously", p.path)
	}
	status, out := gh.call(http.MethodPost, oaDDCreate.path, with(oaDDCreate.valid("ad1"), "input_ThirdPartyReference", "Club1"))
	require.Equal(t, http.StatusCreated, status, out)
	assert.NotContains(t, out, "output_MandateID", "direct debit creation answers asynchronously")
	cbs := waitCallbacks(t, srv, 4)
	mandateID := cbs[3].Params["input_MandateID"]
	require.NotEmpty(t, mandateID)

	status, out = gh.call(http.MethodGet, oaDDQuery.path, with(oaDDQuery.valid("ad2"), "input_ThirdPartyReference", "Club1", "input_ServiceProviderCode", "000000"))
	require.Equal(t, http.StatusOK, status, out)
	assert.Equal(t, mandateID, out["output_MandateID"], "the direct debit query answers at once")
	status, out = gh.call(http.MethodGet, oaBeneficiary.path, oaBeneficiary.valid("ad3"))
	require.Equal(t, http.StatusOK, status, out)
	assert.Equal(t, "Jiazhen", out["output_CustomerFirstName"], "the beneficiary query answers at once")

	status, out = gh.call(http.MethodPost, oaDDPayment.path, with(oaDDPayment.valid("ad4"), "input_ThirdPartyReference", "Club1", "input_MandateID", mandateID))
	require.Equal(t, http.StatusCreated, status, out)
	assert.NotContains(t, out, "output_TransactionID", "direct debit payment answers asynchronously")
	status, out = gh.call(http.MethodPut, oaDDCancel.path, with(oaDDCancel.valid("ad5"), "input_ThirdPartyReference", "Club1", "input_MandateID", mandateID))
	require.Equal(t, http.StatusCreated, status, out)
	assert.NotContains(t, out, "output_TransactionReference", "direct debit cancellation answers asynchronously")

	tz := openAPI(t, srv, mpesa.MarketTanzania)
	status, out = tz.call(http.MethodPut, oaReversal.path, with(oaReversal.valid("ad6"), "input_TransactionID", cbs[0].Params["input_TransactionID"], "input_ReversalAmount", "-"))
	require.Equal(t, http.StatusCreated, status, out)
	assert.NotContains(t, out, "output_TransactionID", "the reversal answers asynchronously")
	cbs = waitCallbacks(t, srv, 7)
	var apis []mpesa.API
	for _, cb := range cbs {
		apis = append(apis, cb.API)
	}
	assert.ElementsMatch(t, []mpesa.API{mpesa.APIC2B, mpesa.APIB2C, mpesa.APIB2B, mpesa.APIDirectDebitCreate,
		mpesa.APIDirectDebitPayment, mpesa.APIDirectDebitCancel, mpesa.APIReversal}, apis, "one callback per asynchronous product, none for the queries")
}

// ackListener answers each callback with what answer returns: a status and
// a JSON body.
func ackListener(t *testing.T, answer func(n int, cb map[string]string) (int, any)) *httptest.Server {
	var mu sync.Mutex
	n := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cb map[string]string
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&cb))
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		status, body := answer(i, cb)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// documentedAck is the acknowledgement each product page shows, for the
// callback cb.
func documentedAck(cb map[string]string, code string) map[string]any {
	ref := cb["input_ThirdPartyConversationID"]
	if ref == "" {
		ref = cb["input_ThirdPartyReference"]
	}
	return map[string]any{
		"output_OriginalConversationID":   cb["input_OriginalConversationID"],
		"output_ResponseCode":             code,
		"output_ResponseDesc":             "Successfully Accepted Result",
		"output_ThirdPartyConversationID": ref,
	}
}

// TestAcknowledgementMustBeAsDocumented: the listener "confirms receipt of
// the result by responding the below content" (every product page of the
// OpenAPI v2 developer portal; "API Async Result Response" of the Mozambique
// document 'Async response, callback and response codes'):
// output_OriginalConversationID and output_ThirdPartyConversationID echoed
// (on Mozambique the latter carries the callback's input_ThirdPartyReference),
// an output_ResponseDesc, and output_ResponseCode "0", except Query Direct
// Debit, whose page shows "INS-0". An acknowledgement that falls short is no
// acknowledgement: the delivery is tried again and the attempt says why.
func TestAcknowledgementMustBeAsDocumented(t *testing.T) {
	bad := []struct {
		name   string
		change func(ack map[string]any)
		reason string
	}{
		{"conversation ID not echoed", func(a map[string]any) { delete(a, "output_OriginalConversationID") }, "output_OriginalConversationID is missing"},
		{"wrong conversation ID", func(a map[string]any) { a["output_OriginalConversationID"] = "someoneelse" }, `output_OriginalConversationID is "someoneelse"`},
		{"reference not echoed", func(a map[string]any) { delete(a, "output_ThirdPartyConversationID") }, "output_ThirdPartyConversationID is missing"},
		{"wrong reference", func(a map[string]any) { a["output_ThirdPartyConversationID"] = "x" }, `output_ThirdPartyConversationID is "x"`},
		{"no description", func(a map[string]any) { delete(a, "output_ResponseDesc") }, "output_ResponseDesc is missing"},
		{"blank description", func(a map[string]any) { a["output_ResponseDesc"] = " " }, "output_ResponseDesc is empty"},
		{"INS-0 outside query direct debit", func(a map[string]any) { a["output_ResponseCode"] = "INS-0" }, `output_ResponseCode is "INS-0", want "0"`},
		{"a number, not a string", func(a map[string]any) { a["output_ResponseCode"] = 0 }, "output_ResponseCode is not a JSON string"},
	}
	for _, tc := range bad {
		tc := tc
		t.Run("OpenAPI C2B: "+tc.name, func(t *testing.T) {
			l := ackListener(t, func(n int, cb map[string]string) (int, any) {
				ack := documentedAck(cb, "0")
				if n == 1 {
					tc.change(ack)
				}
				return http.StatusOK, ack
			})
			srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.URL, MaxAttempts: 2, Backoff: time.Millisecond}))
			c := openAPI(t, srv, mpesa.MarketTanzania)
			status, _ := c.call(http.MethodPost, oaC2B.path, c2bTZ("ak1"))
			require.Equal(t, http.StatusCreated, status)
			cb := waitCallbacks(t, srv, 1)[0]
			require.Len(t, cb.Attempts, 2, "the first acknowledgement does not count")
			assert.Contains(t, cb.Attempts[0].Err, tc.reason)
			assert.Empty(t, cb.Attempts[1].Err, "the documented acknowledgement counts")
			assert.True(t, cb.Acknowledged)
		})
	}

	t.Run("Mozambique: the reference comes back as output_ThirdPartyConversationID", func(t *testing.T) {
		l := ackListener(t, func(n int, cb map[string]string) (int, any) {
			ack := documentedAck(cb, "0")
			if n == 1 { // named after the callback's field, not as the document shows
				ack["output_ThirdPartyReference"] = ack["output_ThirdPartyConversationID"]
				delete(ack, "output_ThirdPartyConversationID")
			}
			return http.StatusOK, ack
		})
		srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.URL, MaxAttempts: 2, Backoff: time.Millisecond}))
		status, _ := mozambique(t, srv).call(http.MethodPost, mzC2B.path, mozC2B("ak2"))
		require.Equal(t, http.StatusCreated, status)
		cb := waitCallbacks(t, srv, 1)[0]
		require.Len(t, cb.Attempts, 2)
		assert.Contains(t, cb.Attempts[0].Err, "output_ThirdPartyConversationID is missing")
		assert.Empty(t, cb.Attempts[1].Err)
		assert.Equal(t, "ak2", cb.Attempts[1].Ack["output_ThirdPartyConversationID"])
	})

	t.Run("query direct debit takes INS-0 and only INS-0", func(t *testing.T) {
		l := ackListener(t, func(n int, cb map[string]string) (int, any) {
			if n == 1 {
				return http.StatusOK, documentedAck(cb, "0")
			}
			return http.StatusOK, documentedAck(cb, "INS-0")
		})
		srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.URL, MaxAttempts: 2, Backoff: time.Millisecond,
			APIs: []mpesa.API{mpesa.APIDirectDebitQuery}}))
		c := openAPI(t, srv, mpesa.MarketGhana)
		status, _ := c.call(http.MethodPost, oaDDCreate.path, with(oaDDCreate.valid("ak3"), "input_ThirdPartyReference", "Gym9"))
		require.Equal(t, http.StatusCreated, status)
		status, _ = c.call(http.MethodGet, oaDDQuery.path, with(oaDDQuery.valid("ak4"), "input_ThirdPartyReference", "Gym9", "input_ServiceProviderCode", "000000"))
		require.Equal(t, http.StatusOK, status)
		cb := waitCallbacks(t, srv, 1)[0]
		require.Len(t, cb.Attempts, 2)
		assert.Contains(t, cb.Attempts[0].Err, `output_ResponseCode is "0", want "INS-0"`)
		assert.Empty(t, cb.Attempts[1].Err)
		assert.True(t, cb.Acknowledged)
	})
}

// TestFailedDeliveryLogsToSlogDefault: a delivery the listener refuses is
// visible without any option: one Warn line per failed attempt on
// slog.Default().
func TestFailedDeliveryLogsToSlogDefault(t *testing.T) {
	logs := captureDefaultLogger(t)
	l := newListener(t, ack{503, "0"}, ack{200, "0"})
	srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.srv.URL + "/results?token=hush", MaxAttempts: 3, Backoff: time.Millisecond}))
	status, _ := openAPI(t, srv, mpesa.MarketTanzania).call(http.MethodPost, oaC2B.path, c2bTZ("lg1"))
	require.Equal(t, http.StatusCreated, status)
	cb := waitCallbacks(t, srv, 1)[0]
	require.True(t, cb.Acknowledged)

	lines := logs.lines()
	require.Len(t, lines, 1, "one line for the one failed attempt: %v", lines)
	assert.Equal(t, "WARN", lines[0]["level"])
	assert.Equal(t, "c2b", lines[0]["api"])
	assert.Equal(t, l.srv.URL+"/results", lines[0]["url"], "the URL without its query string")
	assert.EqualValues(t, 503, lines[0]["status"])
	assert.Contains(t, lines[0]["reason"], "503")
	assert.NotContains(t, logs.String(), "hush")
}

// captureDefaultLogger makes slog.Default() write JSON lines to a buffer until
// the test ends.
func captureDefaultLogger(t *testing.T) *logBuffer {
	t.Helper()
	buf := &logBuffer{}
	setDefaultLogger(t, buf)
	return buf
}

// setDefaultLogger makes slog.Default() a JSON logger writing to w until the
// test ends, then puts back the default logger and the log package's output,
// which slog.SetDefault redirects.
func setDefaultLogger(t *testing.T, w io.Writer) {
	t.Helper()
	old, oldOut, oldFlags := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(slog.New(slog.NewJSONHandler(w, nil)))
	t.Cleanup(func() {
		slog.SetDefault(old)
		log.SetOutput(oldOut)
		log.SetFlags(oldFlags)
	})
}

// logBuffer is a goroutine-safe buffer of JSON log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) lines() []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			panic(fmt.Sprintf("log line %q: %v", line, err))
		}
		out = append(out, m)
	}
	return out
}

// TestJournalMasksMSISDNs: the journal masks every MSISDN as the SDK's logs
// do, first three and last three digits kept, in call parameters, query
// strings, answers, callbacks and acknowledgements, while the simulator
// still decides outcomes on the real number.
func TestJournalMasksMSISDNs(t *testing.T) {
	l := ackListener(t, func(_ int, cb map[string]string) (int, any) {
		ack := documentedAck(cb, "0")
		ack["input_CustomerMSISDN"] = "255744553111" // a listener that says too much
		return http.StatusOK, ack
	})
	srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.URL, APIs: []mpesa.API{mpesa.APIB2C}}))
	tz := openAPI(t, srv, mpesa.MarketTanzania)
	status, _ := tz.call(http.MethodPost, oaC2B.path, with(c2bTZ("mk1"), "input_CustomerMSISDN", "255744553111"))
	require.Equal(t, http.StatusCreated, status)
	status, out := tz.call(http.MethodPost, oaC2B.path, with(c2bTZ("mk2"), "input_CustomerMSISDN", mpesatest.MSISDNRejected))
	require.Equal(t, http.StatusUnauthorized, status, "the outcome is decided on the real number")
	assert.Equal(t, "INS-6", out["output_ResponseCode"])
	status, _ = tz.call(http.MethodPost, oaB2C.path, with(oaB2C.valid("mk3"), "input_CustomerMSISDN", "255744553111"))
	require.Equal(t, http.StatusCreated, status)
	gh := openAPI(t, srv, mpesa.MarketGhana)
	status, _ = gh.call(http.MethodGet, oaBeneficiary.path, with(oaBeneficiary.valid("mk4"), "input_CustomerMSISDN", "233508729395"))
	require.Equal(t, http.StatusOK, status)
	mz := mozambique(t, srv)
	status, _ = mz.call(http.MethodPost, mzC2B.path, mozC2B("mk5"))
	require.Equal(t, http.StatusCreated, status)
	status, _ = mz.call(http.MethodGet, mzCustomerName.path, mzCustomerName.valid("mk6"))
	require.Equal(t, http.StatusOK, status)
	waitCallbacks(t, srv, 1)

	data, err := json.Marshal(struct {
		Calls        []mpesatest.Call
		Callbacks    []mpesatest.Callback
		Transactions []mpesatest.Transaction
	}{srv.Calls(), srv.Callbacks(), srv.Transactions()})
	require.NoError(t, err)
	dump := string(data) + fmt.Sprintf("%#v %#v %#v", srv.Calls(), srv.Callbacks(), srv.Transactions())
	for _, full := range []string{"255744553111", mpesatest.MSISDNRejected, "233508729395", mpesatest.MozambiqueMSISDNSuccess} {
		assert.NotContains(t, dump, full)
	}

	byRef := map[string]mpesatest.Call{}
	for _, call := range srv.Calls() {
		ref := call.Params["input_ThirdPartyConversationID"] + call.Params["input_ThirdPartyReference"]
		byRef[ref] = call
	}
	assert.Equal(t, "255******111", byRef["mk1"].Params["input_CustomerMSISDN"])
	assert.Equal(t, "000******006", byRef["mk2"].Params["input_CustomerMSISDN"])
	assert.Equal(t, "233******395", byRef["mk4"].Params["input_CustomerMSISDN"])
	assert.Contains(t, byRef["mk4"].Query, "input_CustomerMSISDN=233******395")
	assert.Contains(t, byRef["mk4"].Query, "input_ThirdPartyConversationID=mk4", "the rest of the query is kept")
	assert.Equal(t, "258******333", byRef["mk5"].Params["input_CustomerMSISDN"])
	assert.Contains(t, byRef["mk6"].Query, "input_CustomerMSISDN=258******333")
	cb := srv.Callbacks()[0]
	require.Len(t, cb.Attempts, 1)
	assert.Equal(t, "255******111", cb.Attempts[0].Ack["input_CustomerMSISDN"])
}

// TestMozambiqueValidationFollowsItsDocuments: the Mozambique documents
// ('C2B, B2C, B2B, Query Transaction Status, Reversal', Request Parameters
// tables) type every field as a plain String; the simulator refuses only what
// their Response Codes & Descriptions table supports (INS-17's 1–20
// characters of a TransactionReference, INS-2051 for an MSISDN that is not
// 258 and nine digits, INS-20 for a missing field) and text no gateway can
// take (blank, control characters, invalid UTF-8). OpenAPI v2 keeps its
// portal's regular expressions.
func TestMozambiqueValidationFollowsItsDocuments(t *testing.T) {
	srv := newServer(t)
	mz := mozambique(t, srv)
	long41 := strings.Repeat("r", 41)
	for name, p := range map[string]map[string]string{
		"ThirdPartyReference of 41":               mozC2B(long41),
		"ThirdPartyReference with dashes":         mozC2B("INV-2026-01"),
		"ThirdPartyReference with accents":        mozC2B("Fatura-Maputo-ção"),
		"TransactionReference with a dash":        with(mozC2B("mv4"), "input_TransactionReference", "T-1234-C"),
		"TransactionReference of 20 with accents": with(mozC2B("mv5"), "input_TransactionReference", "Pagamento nº 12 ação"),
	} {
		status, out := mz.call(http.MethodPost, mzC2B.path, p)
		assert.Equal(t, http.StatusCreated, status, "%s: %v", name, out)
	}
	status, out := mz.call(http.MethodGet, mzStatus.path, with(mzStatus.valid("mv6"), "input_QueryReference", "INV-2026-01"))
	require.Equal(t, http.StatusOK, status, "a QueryReference with a dash: %v", out)
	assert.Equal(t, "Completed", out["output_ResponseTransactionStatus"])
	status, out = mz.call(http.MethodPost, mzB2B.path, with(mzB2B.valid("mv7"), "input_ReceiverPartyCode", "97"))
	assert.Equal(t, http.StatusCreated, status, "a shortcode is a plain string: %v", out)

	for name, tc := range map[string]struct {
		p    map[string]string
		code string
	}{
		"TransactionReference of 21": {with(mozC2B("mx1"), "input_TransactionReference", strings.Repeat("t", 21)), "INS-17"},
		"blank reference":            {mozC2B("   "), "INS-19"},
		"reference with a newline":   {mozC2B("a\nb"), "INS-19"},
		"MSISDN of Tanzania":         {with(mozC2B("mx2"), "input_CustomerMSISDN", "255744553111"), "INS-2051"},
		"missing reference":          {with(mozC2B("mx3"), "input_ThirdPartyReference", "-"), "INS-20"},
		"amount zero":                {with(mozC2B("mx4"), "input_Amount", "0"), "INS-15"},
	} {
		status, out := mz.call(http.MethodPost, mzC2B.path, tc.p)
		assert.Equal(t, http.StatusBadRequest, status, "%s: %v", name, out)
		assert.Equal(t, tc.code, out["output_ResponseCode"], name)
	}
	status, out = mz.send(http.MethodGet, mz.path(mzStatus.path)+"?input_ThirdPartyReference=mx5&input_ServiceProviderCode=171717&input_QueryReference=%FF", nil, nil)
	assert.Equal(t, http.StatusBadRequest, status, "invalid UTF-8 in the query: %v", out)
	assert.Equal(t, "INS-14", out["output_ResponseCode"])
	body := `{"input_TransactionReference":"T1","input_CustomerMSISDN":"258843330333","input_Amount":"10","input_ThirdPartyReference":"mx6` + "\xff" + `","input_ServiceProviderCode":"171717"}`
	status, out = mz.send(http.MethodPost, mz.path(mzC2B.path), nil, func(r *http.Request) {
		r.Body, r.ContentLength = readCloser(body), int64(len(body))
	})
	assert.Equal(t, http.StatusBadRequest, status, "invalid UTF-8 in the body: %v", out)
	assert.Equal(t, "INS-19", out["output_ResponseCode"])

	oa := openAPI(t, srv, mpesa.MarketTanzania)
	status, out = oa.call(http.MethodPost, oaC2B.path, c2bTZ("INV-2026-01"))
	assert.Equal(t, http.StatusBadRequest, status, "OpenAPI v2 keeps ^[0-9a-zA-Z \\w+]{1,40}$")
	assert.Equal(t, "INS-28", out["output_ResponseCode"])
	status, out = oa.call(http.MethodPost, oaC2B.path, with(c2bTZ("ov1"), "input_TransactionReference", "T-1"))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "INS-17", out["output_ResponseCode"])
}
