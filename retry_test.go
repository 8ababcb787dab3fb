package mpesa

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mockBase = "https://gw.test/prefix"

// mockClient returns a Mozambique client whose requests go to a fresh
// httpmock transport of its own (never httpmock.Activate: it swaps global
// state and breaks t.Parallel).
func mockClient(t *testing.T, opts ...Option) (*Client, *httpmock.MockTransport) {
	t.Helper()
	_, pub := testKey(t)
	mt := httpmock.NewMockTransport()
	base := []Option{WithGateway(GatewayMozambique), WithPublicKey(pub), WithBaseURL(mockBase),
		WithHTTPClient(&http.Client{Transport: mt}), WithRetryBackoff(time.Millisecond, 2*time.Millisecond)}
	c, err := NewClient(testAPIKey, append(base, opts...)...)
	require.NoError(t, err)
	return c, mt
}

// sequence answers with the given responders in turn and records every body.
type sequence struct {
	mu     sync.Mutex
	steps  []httpmock.Responder
	bodies [][]byte
}

func (s *sequence) responder(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b []byte
	if req.Body != nil {
		b, _ = io.ReadAll(req.Body)
	}
	s.bodies = append(s.bodies, b)
	i := min(len(s.bodies), len(s.steps)) - 1
	return s.steps[i](req)
}

func (s *sequence) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bodies)
}

func jsonResp(status int, code, desc string) httpmock.Responder {
	return httpmock.NewStringResponder(status, `{"output_ResponseCode":"`+code+`","output_ResponseDesc":"`+desc+`","output_ConversationID":"conv1","output_TransactionID":"tx1"}`)
}

var (
	ok201      = jsonResp(201, "INS-0", "Request processed successfully")
	ok200      = jsonResp(200, "INS-0", "Request processed successfully")
	overloaded = jsonResp(503, "INS-16", "Unable to handle the request due to a temporary overloading")
)

func TestQueriesAreRetriedOnTransientFailures(t *testing.T) {
	t.Parallel()
	tests := map[string]httpmock.Responder{
		"500 INS-1":     jsonResp(500, "INS-1", "Internal Error"),
		"503 INS-16":    overloaded,
		"502 HTML":      httpmock.NewStringResponder(502, "<html>bad gateway</html>"),
		"network error": httpmock.NewErrorResponder(errors.New("connection reset by peer")),
		"truncated":     httpmock.NewStringResponder(200, `{"output_ResponseCode":"IN`),
	}
	for name, fail := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, mt := mockClient(t)
			seq := &sequence{steps: []httpmock.Responder{fail, fail, ok200}}
			mt.RegisterResponder("GET", mockBase+"/ipg/v1x/queryTransactionStatus/", seq.responder)
			out, err := c.do(context.Background(), APITransactionStatus, c2bParams[:2], "r")
			require.NoError(t, err)
			assert.Equal(t, "tx1", string(out.TransactionID))
			assert.Equal(t, 3, seq.calls())
		})
	}
}

func TestRetriesAreBounded(t *testing.T) {
	t.Parallel()
	c, mt := mockClient(t, WithMaxRetries(2))
	seq := &sequence{steps: []httpmock.Responder{jsonResp(500, "INS-1", "Internal Error")}}
	mt.RegisterResponder("GET", mockBase+"/ipg/v1x/queryTransactionStatus/", seq.responder)
	_, err := c.do(context.Background(), APITransactionStatus, nil, "r")
	assert.ErrorIs(t, err, ErrInternal)
	assert.Equal(t, 3, seq.calls(), "one attempt and two retries")

	c0, mt0 := mockClient(t, WithMaxRetries(0))
	seq0 := &sequence{steps: []httpmock.Responder{overloaded}}
	mt0.RegisterResponder("GET", mockBase+"/ipg/v1x/queryTransactionStatus/", seq0.responder)
	_, err = c0.do(context.Background(), APITransactionStatus, nil, "r")
	assert.ErrorIs(t, err, ErrOverloaded)
	assert.Equal(t, 1, seq0.calls())
}

func TestPaymentRetriedOnOverloadWithIdenticalBody(t *testing.T) {
	t.Parallel()
	c, mt := mockClient(t)
	seq := &sequence{steps: []httpmock.Responder{overloaded, overloaded, ok201}}
	mt.RegisterResponder("POST", mockBase+"/ipg/v1x/c2bPayment/singleStage/", seq.responder)
	_, err := c.do(context.Background(), APIC2B, c2bParams, "asv02e5958774f7ba228d83d0d689761")
	require.NoError(t, err)
	require.Len(t, seq.bodies, 3)
	assert.Equal(t, seq.bodies[0], seq.bodies[1])
	assert.Equal(t, seq.bodies[0], seq.bodies[2])
	assert.Contains(t, string(seq.bodies[0]), `"input_ThirdPartyConversationID":"asv02e5958774f7ba228d83d0d689761"`)
}

// TestPaymentsAreNotRetried is the other half of the rule: every answer that
// does not prove the payment unprocessed is final.
func TestPaymentsAreNotRetried(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		resp  httpmock.Responder
		kinds []error
	}{
		"401 INS-5 cancelled":       {jsonResp(401, "INS-5", "Transaction cancelled by customer"), []error{ErrCancelledByCustomer}},
		"401 INS-6 failed":          {jsonResp(401, "INS-6", "Transaction Failed"), []error{ErrTransactionFailed}},
		"408 INS-9 prompt timeout":  {jsonResp(408, "INS-9", "Request timeout"), []error{ErrPromptTimeout}},
		"409 INS-10 duplicate":      {jsonResp(409, "INS-10", "Duplicate Transaction"), []error{ErrDuplicate}},
		"400 INS-13":                {jsonResp(400, "INS-13", "Invalid Shortcode Used"), []error{ErrInvalidRequest}},
		"422 INS-2006":              {jsonResp(422, "INS-2006", "Insufficient balance"), []error{ErrInsufficientBalance}},
		"401 INS-2 (Mozambique)":    {jsonResp(401, "INS-2", "Invalid API Key"), []error{ErrUnauthorized}},
		"500 INS-1":                 {jsonResp(500, "INS-1", "Internal Error"), []error{ErrInternal, ErrOutcomeUnknown}},
		"503 without INS-16":        {httpmock.NewStringResponder(503, "Service Unavailable"), []error{ErrUnexpectedResponse, ErrOutcomeUnknown}},
		"INS-16 with 200":           {jsonResp(200, "INS-16", "overloaded"), []error{ErrOverloaded}},
		"connection reset":          {httpmock.NewErrorResponder(errors.New("read: connection reset by peer")), []error{ErrOutcomeUnknown}},
		"truncated success":         {httpmock.NewStringResponder(201, `{"output_ResponseCode":"INS-0","output_Tr`), []error{ErrOutcomeUnknown}},
		"unexpected EOF":            {httpmock.NewErrorResponder(io.ErrUnexpectedEOF), []error{ErrOutcomeUnknown, io.ErrUnexpectedEOF}},
		"deadline while in flight ": {httpmock.NewErrorResponder(context.DeadlineExceeded), []error{ErrOutcomeUnknown, context.DeadlineExceeded}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			c, mt := mockClient(t, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			seq := &sequence{steps: []httpmock.Responder{tt.resp, ok201}}
			mt.RegisterResponder("POST", mockBase+"/ipg/v1x/c2bPayment/singleStage/", seq.responder)
			_, err := c.do(context.Background(), APIC2B, c2bParams, "REF-1")
			require.Error(t, err)
			for _, k := range tt.kinds {
				assert.ErrorIs(t, err, k)
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "REF-1", e.ThirdPartyConversationID)
			assert.Equal(t, 1, seq.calls(), "a payment must not be sent twice")
			assert.Contains(t, logs.String(), "not retrying", "the reason is logged")
		})
	}
}

// TestPaymentRetriedWhenNeverSent uses a real transport whose first dial
// fails: the trace proves nothing was written, so the payment is retried.
func TestPaymentRetriedWhenNeverSent(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	var hits atomic.Int64
	g.handle("POST", "/ipg/v1x/b2cPayment/", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		writeJSON(w, 201, map[string]string{"output_ResponseCode": "INS-0", "output_TransactionID": "tx"})
	})
	var dials atomic.Int64
	d := &net.Dialer{}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
		}
		return d.DialContext(ctx, network, addr)
	}}
	c := g.mozClient(t, WithHTTPClient(&http.Client{Transport: tr}))
	_, err := c.do(context.Background(), APIB2C, c2bParams, "R")
	require.NoError(t, err)
	assert.EqualValues(t, 1, hits.Load(), "the gateway saw the payment once")
	assert.EqualValues(t, 2, dials.Load())
}

// TestNoSuchHostAndUntrustedCertificateAreFinal: a host name that does not
// exist, or a certificate the client does not trust, will not heal within a
// call; retrying only delays the error (hardening issue, item 13). A DNS
// failure that is not "no such host" (a timeout) is retried.
func TestNoSuchHostAndUntrustedCertificateAreFinal(t *testing.T) {
	t.Parallel()
	for name, cause := range map[string]error{
		"no such host":  &net.DNSError{Err: "no such host", Name: "gw.test", IsNotFound: true},
		"unknown CA":    &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}},
		"wrong host":    x509.HostnameError{Certificate: &x509.Certificate{}, Host: "gw.test"},
		"expired chain": x509.CertificateInvalidError{Reason: x509.Expired},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, api := range []API{APIB2B, APITransactionStatus} {
				c, mt := mockClient(t)
				seq := &sequence{steps: []httpmock.Responder{httpmock.NewErrorResponder(cause), ok201}}
				mt.RegisterResponder(apiMethod(api), mockBase+"/ipg/v1x/"+mozambiqueEndpoints[api].path, seq.responder)
				_, err := c.do(context.Background(), api, c2bParams, "R")
				require.Error(t, err)
				assert.Equal(t, 1, seq.calls(), "%v is final for %s", cause, api)
				assert.NotErrorIs(t, err, ErrOutcomeUnknown, "nothing was sent")
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.False(t, e.Retryable())
			}
		})
	}
	c, mt := mockClient(t)
	seq := &sequence{steps: []httpmock.Responder{
		httpmock.NewErrorResponder(&net.DNSError{Err: "i/o timeout", Name: "gw.test", IsTimeout: true}), ok201}}
	mt.RegisterResponder("POST", mockBase+"/ipg/v1x/b2bPayment/", seq.responder)
	_, err := c.do(context.Background(), APIB2B, c2bParams, "R")
	require.NoError(t, err, "a DNS timeout never sent anything and may heal")
	assert.Equal(t, 2, seq.calls())
}

func TestUnreachableGatewayIsNotOutcomeUnknown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, pub := testKey(t)
	c, err := NewClient(testAPIKey, WithGateway(GatewayMozambique), WithPublicKey(pub), WithBaseURL("http://"+addr),
		WithRetryBackoff(time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	_, err = c.do(context.Background(), APIC2B, c2bParams, "R")
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrOutcomeUnknown, "nothing was sent: the caller may simply try again")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "R", e.ThirdPartyConversationID)
}

// TestConnectionResetAfterRequest: the request was written, the answer never
// came. A payment is outcome-unknown; a query is retried.
func TestConnectionResetAfterRequest(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	var payHits, queryHits atomic.Int64
	reset := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if assert.NoError(t, err) {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			conn.Close()
		}
	}
	g.handle("POST", "/ipg/v1x/c2bPayment/singleStage/", func(w http.ResponseWriter, r *http.Request) {
		payHits.Add(1)
		reset(w, r)
	})
	g.handle("GET", "/ipg/v1x/queryTransactionStatus/", func(w http.ResponseWriter, r *http.Request) {
		if queryHits.Add(1) == 1 {
			reset(w, r)
			return
		}
		writeJSON(w, 200, map[string]string{"output_ResponseCode": "INS-0"})
	})
	c := g.mozClient(t)
	_, err := c.do(context.Background(), APIC2B, c2bParams, "REF-RESET")
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrOutcomeUnknown)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "REF-RESET", e.ThirdPartyConversationID)
	assert.EqualValues(t, 1, payHits.Load())

	_, err = c.do(context.Background(), APITransactionStatus, nil, "q")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, queryHits.Load(), int64(2))
}

func TestPaymentTimeoutIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var hits atomic.Int64
	g.handle("POST", "/ipg/v1x/c2bPayment/singleStage/", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	c := g.mozClient(t)
	// Per-attempt timeout of the client.
	c.paymentTimeout = 50 * time.Millisecond
	_, err := c.do(context.Background(), APIC2B, c2bParams, "REF-SLOW")
	assert.ErrorIs(t, err, ErrOutcomeUnknown)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "REF-SLOW")
	assert.EqualValues(t, 1, hits.Load())

	// The caller's own deadline.
	c.paymentTimeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.do(ctx, APIC2B, c2bParams, "REF-SLOW2")
	assert.ErrorIs(t, err, ErrOutcomeUnknown)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.EqualValues(t, 2, hits.Load())
}

func TestBackoffHonoursTheContext(t *testing.T) {
	t.Parallel()
	c, mt := mockClient(t, WithMaxRetries(5), WithRetryBackoff(time.Minute, time.Hour))
	seq := &sequence{steps: []httpmock.Responder{jsonResp(500, "INS-1", "Internal Error")}}
	mt.RegisterResponder("GET", mockBase+"/ipg/v1x/queryTransactionStatus/", seq.responder)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for seq.calls() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	_, err := c.do(ctx, APITransactionStatus, nil, "r")
	assert.ErrorIs(t, err, ErrInternal)
	assert.Less(t, time.Since(start), 30*time.Second, "the backoff sleep returns when the context ends")
	assert.Equal(t, 1, seq.calls())
}

func TestBackoffIsFullJitterWithinTheCap(t *testing.T) {
	t.Parallel()
	c, _ := mockClient(t, WithRetryBackoff(100*time.Millisecond, time.Second))
	for n := 1; n <= 40; n++ {
		want := min(time.Second, 100*time.Millisecond<<min(n-1, 20))
		for i := 0; i < 50; i++ {
			d := c.backoff(n)
			assert.GreaterOrEqual(t, d, time.Duration(0))
			assert.LessOrEqual(t, d, want)
		}
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	var other atomic.Int64
	g.handle("POST", "/ipg/v1x/c2bPayment/singleStage/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, basePath+"/elsewhere", http.StatusTemporaryRedirect)
	})
	g.handle("POST", "/elsewhere", func(w http.ResponseWriter, r *http.Request) { other.Add(1) })
	c := g.mozClient(t)
	_, err := c.do(context.Background(), APIC2B, c2bParams, "R")
	assert.ErrorIs(t, err, ErrUnexpectedResponse)
	assert.True(t, strings.Contains(err.Error(), "HTTP=307"), err.Error())
	assert.Zero(t, other.Load(), "a payment is never re-posted to a redirect target")
}
