package mpesatest_test

// Tests of the rules that needed new options: per-API Mozambique ports, the
// delivery logger, the initiator credential as a Secret, the output_error
// scenario.

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// onPort returns a raw Mozambique client whose calls go to base instead of
// the simulator's main URL.
func onPort(t *testing.T, srv *mpesatest.Server, base string) *raw {
	c := mozambique(t, srv)
	c.base = base
	return c
}

// TestMozambiquePortsServeOnlyTheirAPI: on the live gateway each Mozambique
// API has a port of its own ("Endpoint Information" of each API in the
// Mozambique document 'C2B, B2C, B2B, Query Transaction Status, Reversal':
// C2B 18352, B2C 18345, B2B 18349, status 18353, reversal 18354; the
// customer-name query's 19323 from docs/gateways.md M14). WithMozambiquePorts
// serves one listener per API that answers that API alone; another API's
// path there is not found.
func TestMozambiquePortsServeOnlyTheirAPI(t *testing.T) {
	srv := newServer(t, mpesatest.WithMozambiquePorts(nil))
	ports, urls := srv.MozambiquePorts(), srv.MozambiqueURLs()
	require.Len(t, ports, 6)
	require.Len(t, urls, 6)
	seen := map[int]bool{}
	for api, port := range ports {
		assert.NotZero(t, port, api)
		assert.Equal(t, "https://127.0.0.1:"+strconv.Itoa(port), urls[api], api)
		seen[port] = true
	}
	assert.Len(t, seen, 6, "six different ports")

	products := map[mpesa.API]product{
		mpesa.APIC2B: mzC2B, mpesa.APIB2C: mzB2C, mpesa.APIB2B: mzB2B,
		mpesa.APITransactionStatus: mzStatus, mpesa.APIReversal: mzReversal, mpesa.APIBeneficiaryName: mzCustomerName,
	}
	for api, p := range products {
		c := onPort(t, srv, urls[api])
		status, out := c.call(p.method, p.path, p.valid("pt"+api.String()))
		assert.NotEqual(t, http.StatusNotFound, status, "%v on its own port: %v", api, out)
		assert.NotEmpty(t, out["output_ResponseCode"], "%v on its own port is answered by the gateway", api)
		for other, q := range products {
			if other == api {
				continue
			}
			status, out := c.call(q.method, q.path, q.valid("px"))
			assert.Equal(t, http.StatusNotFound, status, "%v on the port of %v", other, api)
			assert.Equal(t, map[string]string{"output_error": "Resource not found"}, out)
		}
	}
	c := onPort(t, srv, urls[mpesa.APIC2B])
	status, _ := c.send(http.MethodPost, "/sandbox/ipg/v2/vodacomTZN/c2bPayment/singleStage/", c2bTZ("po1"), nil)
	assert.Equal(t, http.StatusNotFound, status, "no OpenAPI v2 on a Mozambique port")

	// The main URL still serves every API by path.
	status, out := mozambique(t, srv).call(http.MethodPost, mzB2C.path, mozC2B("pm1"))
	assert.Equal(t, http.StatusCreated, status, out)

	// The SDK, without WithBaseURL, addresses the documented ports of the
	// gateway's host; a dialer that takes them to the simulator's ports
	// makes it pay through its own port layout.
	documented := mpesatest.MozambiqueDocumentedPorts()
	hc := srv.Client()
	tr := hc.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.ServerName = "example.com" // a name of the test certificate
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		for api, p := range documented {
			if strconv.Itoa(p) == port {
				return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+strconv.Itoa(ports[api]))
			}
		}
		return nil, &net.AddrError{Err: "not a Mozambique port", Addr: addr}
	}
	client, err := mpesa.NewClient(srv.APIKey(), mpesa.WithGateway(mpesa.GatewayMozambique),
		mpesa.WithHTTPClient(&http.Client{Transport: tr}), mpesa.WithPublicKey(srv.PublicKey()),
		mpesa.WithServiceProviderCode(mpesatest.MozambiqueServiceProviderCode))
	require.NoError(t, err)
	res, err := client.C2B(context.Background(), c2bRequest(mpesa.GatewayMozambique, ""))
	require.NoError(t, err)
	st, err := client.TransactionStatus(context.Background(), mpesa.TransactionStatusRequest{QueryReference: res.TransactionID})
	require.NoError(t, err)
	assert.Equal(t, mpesa.StatusCompleted, st.TransactionStatus)

	srv.Close()
	for api, u := range urls {
		_, err := srv.Client().Get(u + "/ipg/v1x/")
		assert.Error(t, err, "%v: Close stops the per-API listeners", api)
	}
}

// TestMozambiquePortsCanBeFixed: WithMozambiquePorts takes the ports to
// serve, as a command serving the documented ones (MozambiqueDocumentedPorts)
// needs; 0 or a missing API is a port the system chooses.
func TestMozambiquePortsCanBeFixed(t *testing.T) {
	free := func() int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	}
	c2b, status := free(), free()
	srv := newServer(t, mpesatest.WithMozambiquePorts(map[mpesa.API]int{mpesa.APIC2B: c2b, mpesa.APITransactionStatus: status, mpesa.APIB2C: 0}))
	ports := srv.MozambiquePorts()
	assert.Equal(t, c2b, ports[mpesa.APIC2B])
	assert.Equal(t, status, ports[mpesa.APITransactionStatus])
	assert.NotZero(t, ports[mpesa.APIB2C])
	assert.NotZero(t, ports[mpesa.APIReversal])
	st, out := onPort(t, srv, "https://127.0.0.1:"+strconv.Itoa(c2b)).call(http.MethodPost, mzC2B.path, mozC2B("fx1"))
	assert.Equal(t, http.StatusCreated, st, out)

	assert.Equal(t, map[mpesa.API]int{mpesa.APIC2B: 18352, mpesa.APIB2C: 18345, mpesa.APIB2B: 18349,
		mpesa.APITransactionStatus: 18353, mpesa.APIReversal: 18354, mpesa.APIBeneficiaryName: 19323},
		mpesatest.MozambiqueDocumentedPorts())
	assert.Nil(t, newServer(t).MozambiquePorts(), "off by default")
	assert.Nil(t, newServer(t).MozambiqueURLs())

	assert.Panics(t, func() {
		mpesatest.NewServer(mpesatest.WithMozambiquePorts(map[mpesa.API]int{mpesa.APIDirectDebitCreate: 0}))
	})
	assert.Panics(t, func() { mpesatest.NewServer(mpesatest.WithMozambiquePorts(map[mpesa.API]int{mpesa.APIC2B: 70000})) })
	assert.Panics(t, func() {
		mpesatest.NewServer(mpesatest.WithMozambiquePorts(map[mpesa.API]int{mpesa.APIC2B: c2b + 1, mpesa.APIB2C: c2b + 1}))
	})
	assert.Panics(t, func() { mpesatest.NewServer(mpesatest.WithMozambiquePorts(map[mpesa.API]int{mpesa.APIB2B: c2b})) }, "a port in use")
}

// TestFailedDeliveryIsLoggedAtWarn: every refused or failed delivery attempt
// is one Warn line on the logger of WithLogger, with the API, the URL without
// its query string, the status and the reason, never a secret or a full
// MSISDN; a discarding logger silences it.
func TestFailedDeliveryIsLoggedAtWarn(t *testing.T) {
	defaults := captureDefaultLogger(t)
	var logs logBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l := newListener(t, ack{500, "0"}, ack{200, "1"}, ack{200, "0"})
	srv := newServer(t, mpesatest.WithLogger(logger),
		mpesatest.WithAsync(mpesatest.Async{URL: l.srv.URL + "/cb?token=s3cret", MaxAttempts: 3, Backoff: time.Millisecond}))
	mz := mozambique(t, srv)
	status, _ := mz.call(http.MethodPost, mzC2B.path, mozC2B("lw1"))
	require.Equal(t, http.StatusCreated, status)
	cb := waitCallbacks(t, srv, 1)[0]
	require.True(t, cb.Acknowledged)

	lines := logs.lines()
	require.Len(t, lines, 2, "one line per failed attempt: %s", logs.String())
	for i, want := range []struct {
		status float64
		reason string
	}{{500, "listener answered HTTP 500"}, {200, `output_ResponseCode is "1", want "0"`}} {
		assert.Equal(t, "WARN", lines[i]["level"])
		assert.Equal(t, "c2b", lines[i]["api"])
		assert.Equal(t, "mozambique-v1x", lines[i]["gateway"])
		assert.Equal(t, l.srv.URL+"/cb", lines[i]["url"])
		assert.Equal(t, want.status, lines[i]["status"])
		assert.Contains(t, lines[i]["reason"], want.reason)
	}
	for _, secret := range []string{"s3cret", mpesatest.MozambiqueMSISDNSuccess, srv.APIKey()} {
		assert.NotContains(t, logs.String(), secret)
	}
	assert.Empty(t, defaults.String(), "WithLogger replaces slog.Default()")

	t.Run("a listener that is not there", func(t *testing.T) {
		var logs logBuffer
		dead := "http://127.0.0.1:" + strconv.Itoa(closedPort(t)) + "/cb?token=s3cret"
		srv := newServer(t, mpesatest.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))),
			mpesatest.WithAsync(mpesatest.Async{URL: dead, MaxAttempts: 2, Backoff: time.Millisecond}))
		status, _ := openAPI(t, srv, mpesa.MarketTanzania).call(http.MethodPost, oaC2B.path, c2bTZ("lw2"))
		require.Equal(t, http.StatusCreated, status)
		waitCallbacks(t, srv, 1)
		lines := logs.lines()
		require.Len(t, lines, 2)
		assert.EqualValues(t, 0, lines[0]["status"])
		assert.Contains(t, lines[0]["reason"], "connect")
		assert.NotContains(t, logs.String(), "s3cret", "the transport error is logged without the URL")
	})
	t.Run("a discarding logger silences it", func(t *testing.T) {
		l := newListener(t, ack{503, "0"})
		srv := newServer(t, mpesatest.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
			mpesatest.WithAsync(mpesatest.Async{URL: l.srv.URL, MaxAttempts: 2, Backoff: time.Millisecond}))
		status, _ := openAPI(t, srv, mpesa.MarketTanzania).call(http.MethodPost, oaC2B.path, c2bTZ("lw3"))
		require.Equal(t, http.StatusCreated, status)
		require.False(t, waitCallbacks(t, srv, 1)[0].Acknowledged)
		assert.Empty(t, defaults.String())
	})
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// TestWithInitiatorTakesASecret: the reversal credentials are given as
// mpesa.WithInitiator takes them, the credential an mpesa.Secret, and a
// Mozambique reversal must carry them (Reversal, Request Parameters, in the
// Mozambique document 'C2B, B2C, B2B, Query Transaction Status, Reversal').
func TestWithInitiatorTakesASecret(t *testing.T) {
	credential := mpesa.Secret("Ops-2026")
	srv := newServer(t, mpesatest.WithInitiator("Ops1", credential))
	client := sdkClient(t, srv, mpesa.GatewayMozambique)
	ctx := context.Background()
	paid, err := client.C2B(ctx, c2bRequest(mpesa.GatewayMozambique, ""))
	require.NoError(t, err)
	_, err = client.Reversal(ctx, mpesa.ReversalRequest{TransactionID: paid.TransactionID})
	require.NoError(t, err, "Options passes the same initiator to the client")

	other := sdkClient(t, srv, mpesa.GatewayMozambique, mpesa.WithInitiator("Ops1", mpesa.Secret("guess")))
	paid, err = other.C2B(ctx, c2bRequest(mpesa.GatewayMozambique, ""))
	require.NoError(t, err)
	_, err = other.Reversal(ctx, mpesa.ReversalRequest{TransactionID: paid.TransactionID})
	assert.ErrorIs(t, err, mpesa.ErrUnauthorized, "INS-2001 Initiator authentication error")
	for _, call := range srv.CallsTo(mpesa.APIReversal) {
		assert.Equal(t, mpesatest.Redacted, call.Params["input_SecurityCredential"])
	}
}

// TestScenarioFaultOutputError: the Mozambique documents answer a bad API key
// 401 INS-2 (the default); the {"output_error": ...} body the live gateway
// has been seen to send instead (docs/gateways.md M13) is a scenario.
func TestScenarioFaultOutputError(t *testing.T) {
	srv := newServer(t)
	mz := mozambique(t, srv)
	srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.FaultOutputError}, mpesatest.Scenario{Fault: mpesatest.FaultOutputError, Status: http.StatusForbidden})
	status, out := mz.call(http.MethodPost, mzC2B.path, mozC2B("oe1"))
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, map[string]string{"output_error": "Invalid API Key"}, out)
	status, _ = mz.call(http.MethodPost, mzC2B.path, mozC2B("oe2"))
	assert.Equal(t, http.StatusForbidden, status)
	_, ok := srv.Transaction("oe1")
	assert.False(t, ok, "not processed")
	assert.Equal(t, "output error", mpesatest.FaultOutputError.String())

	srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.FaultOutputError})
	client := sdkClient(t, srv, mpesa.GatewayMozambique)
	_, err := client.C2B(context.Background(), c2bRequest(mpesa.GatewayMozambique, ""))
	assert.ErrorIs(t, err, mpesa.ErrUnauthorized)
	assert.NotErrorIs(t, err, mpesa.ErrOutcomeUnknown)
}
