package mpesa

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDarajaSecretsNeverLeak drives failing Daraja calls of every kind
// with a debug logger, a gateway that echoes what it got, and prints the
// client and every request type: no error string, log line or printed
// value may hold the consumer key or secret, the Basic credential, the
// passkey, the STK Password, the initiator password, the SecurityCredential,
// a token or a full phone number.
func TestDarajaSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	const msisdn = "254712345678"
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	f := newDarajaFake()
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.WriteHeader(status)
			fmt.Fprintf(w, "<html>%s said %s with %s; key %s secret %s passkey %s</html>", r.Header.Get("Authorization"), b,
				r.URL.RawQuery, testConsumerKey, testConsumerSecret, testPasskey)
		}
	}
	c, _ := darajaClient(t, f, WithLogger(logger), WithMaxRetries(1))
	cred := c.d.(*daraja).credential
	var outputs []string
	collect := func(err error) {
		t.Helper()
		require.Error(t, err)
		outputs = append(outputs, err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		var e *Error
		if assert.ErrorAs(t, err, &e) {
			outputs = append(outputs, fmt.Sprintf("%+v", *e), fmt.Sprintf("%#v", *e), e.Excerpt, e.Description)
		}
	}
	ctx := context.Background()
	// A proxy's page echoing the STK push, its Password and its bearer.
	f.answers = []http.HandlerFunc{echo(502)}
	_, err := c.C2B(ctx, C2BRequest{Amount: "1", CustomerMSISDN: msisdn, TransactionReference: "INV1"})
	collect(err)
	// A page that lists the request's fields without quoting them as JSON.
	f.answers = []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(502)
		_, _ = w.Write([]byte("<tr><td>Password</td><td>" + darajaRecord{body: b}.params(t)["Password"] + "</td></tr>"))
	}}
	_, err = c.C2B(ctx, C2BRequest{Amount: "1", CustomerMSISDN: msisdn, TransactionReference: "INV1"})
	collect(err)
	// The same for B2C, with its SecurityCredential.
	_, err = c.B2C(ctx, B2CRequest{Amount: "10", CustomerMSISDN: msisdn, PaymentItemsDesc: "Salary"})
	collect(err)
	// An error envelope quoting the token, the credential and the number.
	f.answers = []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		writeJSON(w, 400, darajaEnvelope("400.002.02", "Bad Request - Invalid PartyB "+msisdn+" for "+r.Header.Get("Authorization")+
			" "+cred+" in "+string(b)))
	}}
	_, err = c.B2C(ctx, B2CRequest{Amount: "10", CustomerMSISDN: msisdn, PaymentItemsDesc: "Salary"})
	collect(err)
	_, err = c.C2B(ctx, C2BRequest{Amount: "1", CustomerMSISDN: msisdn, TransactionReference: "INV1"})
	collect(err)
	// A refused token, twice: the refused token is quoted in the message.
	f.answers = []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, darajaEnvelope("404.001.03", "Invalid Access Token - "+bearerOf(darajaRecord{header: r.Header})))
	}}
	_, err = c.AccountBalance(ctx, AccountBalanceRequest{})
	collect(err)
	// A call cut by its deadline.
	f.answers = []http.HandlerFunc{func(http.ResponseWriter, *http.Request) { time.Sleep(100 * time.Millisecond) }}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	_, err = c.SimulateC2B(tctx, SimulateC2BRequest{Amount: "1", MSISDN: msisdn})
	collect(err)
	// Validation errors.
	_, err = c.C2B(ctx, C2BRequest{Amount: "x", CustomerMSISDN: msisdn + "9", TransactionReference: "INV1"})
	outputs = append(outputs, err.Error())

	// The token endpoint echoing the Basic credential.
	g := newDarajaFake()
	g.tokenAnswer = echo(401)
	gc, _ := darajaClient(t, g, WithLogger(logger), WithMaxRetries(0))
	_, err = gc.PullRegister(ctx, PullRegisterRequest{NominatedNumber: msisdn, CallbackURL: "https://example.com/p"})
	collect(err)

	// Printed values.
	reqs := []any{
		C2BRequest{CustomerMSISDN: msisdn}, B2CRequest{CustomerMSISDN: msisdn}, B2BRequest{Requester: msisdn},
		SimulateC2BRequest{MSISDN: msisdn}, PullRegisterRequest{NominatedNumber: msisdn}, PullTransaction{MSISDN: msisdn, Sender: msisdn, Extra: map[string]string{"Payer": msisdn}},
		ReversalRequest{SecurityCredential: Secret(testInitiatorPassword)},
	}
	for _, v := range append(reqs, c, gc) {
		outputs = append(outputs, fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v), fmt.Sprint(v))
		logger.Info("value", "v", v)
	}
	outputs = append(outputs, logs.String())

	var stkPasswords []string
	for _, r := range f.requests() {
		if p := r.params(t)["Password"]; p != "" {
			stkPasswords = append(stkPasswords, p, p[:40])
		}
	}
	require.NotEmpty(t, stkPasswords)
	tokens := append(f.issued(), g.issued()...)
	require.NotEmpty(t, tokens)
	secrets := []string{testConsumerKey, testConsumerSecret, testPasskey, testInitiatorPassword, cred, cred[:40], cred[100:140],
		base64.StdEncoding.EncodeToString([]byte(testConsumerKey + ":" + testConsumerSecret)),
		msisdn, testTokenPrefix}
	secrets = append(append(secrets, tokens...), stkPasswords...)
	for _, out := range outputs {
		for _, s := range secrets {
			assert.NotContains(t, out, s)
		}
	}
	assert.Contains(t, logs.String(), "not retrying", "the test did log")
	assert.Contains(t, logs.String(), "254******678", "numbers appear masked")
	assert.True(t, strings.Contains(strings.Join(outputs, "\n"), "[REDACTED]"))
}
