// Command quickstart runs whole payments on one gateway, each step printed:
// a payment answered asynchronously, its result callback received by
// mpesa.Handler, status queries, and a reversal.
//
// With no configuration it needs no credentials and no network: it starts
// the simulator of package mpesatest in-process and runs against it.
//
//	go run ./examples/quickstart                      # M-Pesa OpenAPI v2 (Tanzania)
//	go run ./examples/quickstart -gateway mozambique  # Vodacom Mozambique v1x
//	go run ./examples/quickstart -gateway daraja      # Safaricom Daraja (Kenya)
//
// To run the same steps against a real sandbox, set the gateway's
// credentials in the environment; every missing variable is named at once.
//
// OpenAPI v2 and Mozambique (set MPESA_API_KEY to use the sandbox):
//
//	MPESA_API_KEY                the application's API key
//	MPESA_MARKET                 OpenAPI v2 only: vodafoneGHA, vodacomTZN,
//	                             vodacomLES, vodacomDRC or vodacomMOZ (required)
//	MPESA_SERVICE_PROVIDER_CODE  the business shortcode (required)
//	MPESA_CUSTOMER_MSISDN        the paying customer's number (required on
//	                             Mozambique; OpenAPI defaults to the portal's
//	                             test number 000000000001)
//	MPESA_PUBLIC_KEY             the gateway's public key, base64 DER or PEM
//	                             (required on Mozambique; OpenAPI v2
//	                             defaults to the portal's sandbox key)
//	MPESA_INITIATOR_ID,          the reversal initiator Vodacom issued
//	MPESA_SECURITY_CREDENTIAL    (required on Mozambique)
//	MPESA_CALLBACK_ADDR          optional: listen here (":8080") for the
//	                             result callback at /mpesa/results; the
//	                             Response URL configured on the portal must
//	                             reach it. Without it an asynchronous answer
//	                             is followed up with status queries.
//
// Daraja (set MPESA_CONSUMER_KEY to use the sandbox; every result comes by
// callback, so the program must be reachable from the internet):
//
//	MPESA_CONSUMER_KEY, MPESA_CONSUMER_SECRET  the app's keys (Daraja portal)
//	MPESA_SHORTCODE              the shortcode, 174379 on the sandbox
//	MPESA_PASSKEY                the shortcode's STK push passkey
//	MPESA_INITIATOR_NAME,        the API operator, "testapi" and the
//	MPESA_INITIATOR_PASSWORD     password the portal shows on the sandbox
//	MPESA_CUSTOMER_MSISDN        optional: the phone that gets the prompt
//	                             (default 254708374149, the sandbox's own)
//	MPESA_CALLBACK_ADDR          where to listen (":8080")
//	MPESA_CALLBACK_URL           the public https URL that reaches it
//	                             (results go to its /mpesa/results)
//
// The variables that examples/callback-service also reads mean the same
// there.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa"
)

func main() {
	gateway := flag.String("gateway", "openapi", "the gateway to run on: openapi, mozambique or daraja")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *gateway, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// The payment of the walk-through and the half that is reversed. Amounts
// are strings: the gateway's rules are string rules.
const (
	amount     = "10.00"
	halfAmount = "5.00"
	resultPath = "/mpesa/results"
)

// run does the walk-through on gateway, against the simulator unless
// getenv gives the gateway's credentials, and writes each step to w.
func run(ctx context.Context, w io.Writer, gateway string, getenv func(string) string) error {
	switch strings.ToLower(gateway) {
	case "openapi", "openapi-v2":
		if getenv("MPESA_API_KEY") != "" {
			return runIPGSandbox(ctx, w, mpesa.GatewayOpenAPI, getenv)
		}
		return runIPGSimulator(ctx, w, mpesa.GatewayOpenAPI)
	case "mozambique", "mozambique-v1x":
		if getenv("MPESA_API_KEY") != "" {
			return runIPGSandbox(ctx, w, mpesa.GatewayMozambique, getenv)
		}
		return runIPGSimulator(ctx, w, mpesa.GatewayMozambique)
	case "daraja":
		if getenv("MPESA_CONSUMER_KEY") != "" {
			return runDarajaSandbox(ctx, w, getenv)
		}
		return runDarajaSimulator(ctx, w)
	}
	return fmt.Errorf("-gateway %q: want openapi, mozambique or daraja", gateway)
}

// serveCallbacks serves the result URL on ln with mpesa.Handler: each
// success is confirmed with a status query, then handed to hub, and the
// gateway gets the acknowledgement it expects.
func serveCallbacks(ln net.Listener, client *mpesa.Client, hub *mpesa.Results) (stop func(), err error) {
	handler, err := mpesa.NewHandler(func(ctx context.Context, res *mpesa.Result) error {
		// A real service stores the result here and returns an error if
		// that fails: the gateway is then asked to deliver it again.
		return nil
	}, mpesa.FeedResults(hub), mpesa.VerifyWithStatusQuery(client))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(resultPath, handler)
	return serve(ln, mux), nil
}

// serve serves h on ln until stop is called.
func serve(ln net.Listener, h http.Handler) (stop func()) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}

// awaitFunc waits for the result of the transaction whose ID is key.
type awaitFunc func(ctx context.Context, key string) (*mpesa.Result, error)

// mask shows the start and end of a phone number only.
func mask(msisdn string) string {
	if len(msisdn) <= 6 {
		return "****"
	}
	return msisdn[:4] + strings.Repeat("*", len(msisdn)-6) + msisdn[len(msisdn)-2:]
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

func orNone(s string) string {
	if s == "" {
		return "(none yet)"
	}
	return s
}
