package mpesa

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa/internal/wire"
)

// TestSecretsNeverLeak drives failing calls of every kind with a debug
// logger and checks that no log line, error string or formatted value holds
// the API key, a session ID, a bearer or a full MSISDN.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	const msisdn = "255744553111"
	g := newFakeGateway(t)
	var lastAuthz []string
	var mu = make(chan struct{}, 1)
	record := func(r *http.Request) {
		mu <- struct{}{}
		lastAuthz = append(lastAuthz, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		<-mu
	}
	var sessionIDs []string
	g.sessionHandler = func(w http.ResponseWriter, r *http.Request) {
		record(r)
		id := g.newSessionID()
		sessionIDs = append(sessionIDs, id)
		writeJSON(w, 200, map[string]string{"output_ResponseCode": "INS-0", "output_SessionID": id})
	}
	// The gateway echoes what it got, the worst case for an excerpt.
	g.handle("POST", openAPIPath("c2bPayment/singleStage/"), func(w http.ResponseWriter, r *http.Request) {
		record(r)
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(502)
		fmt.Fprintf(w, "<html>upstream said no to %s for %s key %s session %s</html>", r.Header.Get("Authorization"), b, testAPIKey, sessionIDs[0])
	})
	g.handle("POST", openAPIPath("b2cPayment/"), func(w http.ResponseWriter, r *http.Request) {
		record(r)
		writeJSON(w, 400, map[string]string{"output_ResponseCode": "INS-2051", "output_ResponseDesc": "MSISDN " + msisdn + " invalid."})
	})
	g.handle("GET", openAPIPath("queryBeneficiaryName/"), func(w http.ResponseWriter, r *http.Request) {
		record(r)
		time.Sleep(200 * time.Millisecond) // outlasts the caller's deadline
	})
	g.handle("POST", openAPIPath("b2bPayment/"), func(w http.ResponseWriter, r *http.Request) {
		record(r)
		writeJSON(w, 401, map[string]string{"output_ResponseCode": "INS-2", "output_ResponseDesc": "Invalid API Key"})
	})

	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := g.openAPIClient(t, WithLogger(logger), WithMaxRetries(1), WithSessionActivation(10*time.Millisecond))
	params := append([]wire.Param(nil), c2bParams...)

	var outputs []string
	collect := func(err error) {
		require.Error(t, err)
		outputs = append(outputs, err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		var e *Error
		if assert.ErrorAs(t, err, &e) {
			outputs = append(outputs, fmt.Sprintf("%+v", *e), fmt.Sprintf("%#v", *e))
		}
	}
	_, err := c.do(context.Background(), APIC2B, params, "ref-1")
	collect(err)
	_, err = c.do(context.Background(), APIB2C, params, "ref-2")
	collect(err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.do(ctx, APIBeneficiaryName, []wire.Param{{Key: "input_CustomerMSISDN", Value: msisdn}}, "ref-3")
	collect(err)
	_, err = c.do(context.Background(), APIB2B, params, "ref-4")
	collect(err)
	outputs = append(outputs, logs.String(), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c))

	require.NotEmpty(t, sessionIDs)
	require.NotEmpty(t, lastAuthz)
	secrets := append([]string{testAPIKey, msisdn}, sessionIDs...)
	for _, a := range lastAuthz {
		secrets = append(secrets, a[:40]) // any recognisable part of a bearer
	}
	for _, out := range outputs {
		for _, s := range secrets {
			assert.NotContains(t, out, s)
		}
	}
	assert.Contains(t, logs.String(), "not retrying", "the test did log")
	assert.Contains(t, logs.String(), "ref-1")
}
