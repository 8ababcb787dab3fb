// Command quickstart runs one whole payment: a C2B payment that the gateway
// answers asynchronously, its result callback received by mpesa.Handler, a
// status query, and the reversal of half the amount.
//
// With no configuration it needs no credentials and no network: it starts
// the simulator of package mpesatest in-process and runs against it.
//
//	go run ./examples/quickstart
//
// Set MPESA_API_KEY to run the same steps against the real sandbox. Then,
// from the environment:
//
//	MPESA_API_KEY                the application's API key
//	MPESA_MARKET                 an OpenAPI v2 market (vodafoneGHA, vodacomTZN,
//	                             vodacomLES, vodacomDRC, vodacomMOZ), or
//	                             mozambique-v1x for the Vodacom Mozambique
//	                             gateway (required)
//	MPESA_SERVICE_PROVIDER_CODE  the business shortcode (required)
//	MPESA_CUSTOMER_MSISDN        the paying customer's number (required on
//	                             mozambique-v1x; OpenAPI defaults to the
//	                             portal's test number 000000000001)
//	MPESA_PUBLIC_KEY             the gateway's public key, base64 DER or PEM
//	                             (required on mozambique-v1x; OpenAPI v2
//	                             defaults to the portal's sandbox key)
//	MPESA_INITIATOR_ID,          the reversal initiator Vodacom issued
//	MPESA_SECURITY_CREDENTIAL    (required on mozambique-v1x)
//	MPESA_CALLBACK_ADDR          optional: listen here (":8080") for the
//	                             result callback at /mpesa/results; the
//	                             Response URL configured on the portal must
//	                             reach it. Without it an asynchronous answer
//	                             is followed up with status queries.
//
// The variables that examples/callback-service also reads mean the same
// there.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Getenv); err != nil {
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

// run does the walk-through, against the simulator unless getenv gives
// MPESA_API_KEY, and writes each step to w.
func run(ctx context.Context, w io.Writer, getenv func(string) string) error {
	if getenv("MPESA_API_KEY") != "" {
		return runSandbox(ctx, w, getenv)
	}
	return runSimulator(ctx, w)
}

// runSimulator starts the callback listener, then the simulator (which must
// know the listener's URL), then the client and the handler.
func runSimulator(ctx context.Context, w io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	callbackURL := "http://" + ln.Addr().String() + resultPath

	sim := mpesatest.NewServer(mpesatest.WithAsync(mpesatest.Async{
		URL:   callbackURL,
		APIs:  []mpesa.API{mpesa.APIC2B}, // the status query and reversal answer at once
		Delay: 200 * time.Millisecond,    // the customer typing the PIN
	}))
	defer sim.Close()

	market := mpesa.MarketTanzania
	client, err := mpesa.NewClient(sim.APIKey(), append(sim.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(market))...)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "mpesa quickstart on the embedded simulator: no credentials, no network")
	fmt.Fprintf(w, "  gateway    OpenAPI v2 sandbox, market %s (%s), at %s\n", market, market.Name(), sim.URL())
	fmt.Fprintf(w, "  callbacks  %s (the application's Response URL)\n", callbackURL)

	hub := mpesa.NewResults(0, 0)
	stopListening, err := serveCallbacks(ln, client, hub)
	if err != nil {
		return err
	}
	defer stopListening()

	return walkThrough(ctx, w, client, mpesatest.MSISDNSuccess, market.Currency(), hub.Await)
}

// serveCallbacks serves the Response URL on ln with mpesa.Handler: each
// result is confirmed with a status query, then handed to hub, and the
// gateway gets its acknowledgement.
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
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// awaitFunc waits for the result of the transaction whose ConversationID or
// reference is key.
type awaitFunc func(ctx context.Context, key string) (*mpesa.Result, error)

// walkThrough pays, waits for the result, queries the status, reverses half
// and queries again. await is nil when no callback can arrive.
func walkThrough(ctx context.Context, w io.Writer, client *mpesa.Client, msisdn, currency string, await awaitFunc) error {
	start := time.Now()

	fmt.Fprintf(w, "\n1. C2B payment: the customer %s is asked for their PIN\n", mask(msisdn))
	req := mpesa.C2BRequest{
		Amount:               amount,
		CustomerMSISDN:       msisdn,
		TransactionReference: "QUICKSTART1",
		PurchasedItemsDesc:   "Quickstart",
		// ThirdPartyConversationID is left empty: the client generates
		// the payment's reference and returns it, in the answer and in
		// every error.
	}
	fmt.Fprintf(w, "   sent       %s %s, TransactionReference %s\n", amount, currency, req.TransactionReference)
	t := time.Now()
	pay, err := client.C2B(ctx, req)
	if err != nil {
		var e *mpesa.Error
		if errors.Is(err, mpesa.ErrOutcomeUnknown) && errors.As(err, &e) {
			// Never send the payment again blindly: ask how it ended.
			fmt.Fprintf(w, "   no answer; reconciling reference %s\n", e.ThirdPartyConversationID)
			st, rerr := client.Reconcile(ctx, mpesa.TransactionStatusRequest{QueryReference: e.ThirdPartyConversationID})
			if rerr != nil {
				return fmt.Errorf("payment %s: %w", e.ThirdPartyConversationID, errors.Join(err, rerr))
			}
			return fmt.Errorf("payment %s ended %s; the quickstart stops here", e.ThirdPartyConversationID, st.TransactionStatus)
		}
		return fmt.Errorf("payment: %w", err)
	}
	kind := "synchronous: the answer is the result"
	if pay.Async() {
		kind = "asynchronous: the result comes by callback"
	}
	fmt.Fprintf(w, "   answer     %s %s (%s) in %s\n", pay.ResponseCode, pay.ResponseDesc, kind, since(t))
	fmt.Fprintf(w, "   reference  %s (ThirdPartyConversationID)\n", pay.ThirdPartyConversationID)
	fmt.Fprintf(w, "   IDs        ConversationID %s, TransactionID %s\n", pay.ConversationID, orNone(pay.TransactionID))

	txID := pay.TransactionID
	if pay.Async() {
		fmt.Fprintln(w, "\n2. The result")
		t = time.Now()
		txID, err = result(ctx, w, client, pay, await)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "   result     TransactionID %s, %s after the answer\n", txID, since(t))
	}

	fmt.Fprintln(w, "\n3. Transaction status")
	if err := status(ctx, w, client, txID); err != nil {
		return err
	}

	fmt.Fprintf(w, "\n4. Reversal of half: %s %s back to the customer\n", halfAmount, currency)
	t = time.Now()
	rev, err := client.Reversal(ctx, mpesa.ReversalRequest{TransactionID: txID, ReversalAmount: halfAmount})
	if err != nil {
		return fmt.Errorf("reversal: %w", err)
	}
	fmt.Fprintf(w, "   answer     %s %s in %s\n", rev.ResponseCode, rev.ResponseDesc, since(t))
	fmt.Fprintf(w, "   IDs        ConversationID %s, TransactionID %s, reference %s\n",
		rev.ConversationID, orNone(rev.TransactionID), rev.ThirdPartyConversationID)

	fmt.Fprintln(w, "\n5. Transaction status after the reversal")
	if err := status(ctx, w, client, txID); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ndone in %s\n", since(start))
	return nil
}

// result waits for the payment's result, through the callback when await
// is set, with status queries otherwise, and returns its TransactionID.
func result(ctx context.Context, w io.Writer, client *mpesa.Client, pay *mpesa.PaymentResponse, await awaitFunc) (string, error) {
	// Give the customer time to type the PIN, and no more: a result that
	// never comes must not hang the program.
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if await == nil {
		fmt.Fprintln(w, "   no callback listener (MPESA_CALLBACK_ADDR): asking the status until it is final")
		st, err := client.Reconcile(ctx, mpesa.TransactionStatusRequest{QueryReference: pay.ThirdPartyConversationID})
		if err != nil {
			return "", fmt.Errorf("reconcile %s: %w", pay.ThirdPartyConversationID, err)
		}
		if st.TransactionStatus != mpesa.StatusCompleted {
			return "", fmt.Errorf("payment %s ended %s", pay.ThirdPartyConversationID, st.TransactionStatus)
		}
		return st.OriginalTransactionID, nil
	}
	res, err := await(ctx, pay.ConversationID)
	if err != nil {
		return "", fmt.Errorf("waiting for the result of %s: %w (ask with client.Reconcile)", pay.ThirdPartyConversationID, err)
	}
	fmt.Fprintf(w, "   callback   %s %s for %s, verified by a status query: %t\n",
		res.ResultCode, res.ResultDesc, res.OriginalConversationID, res.Verified)
	if !res.OK() {
		return "", fmt.Errorf("payment %s failed: %w", pay.ThirdPartyConversationID, res.Err())
	}
	if !res.Verified {
		// Only a success a status query confirmed proves the payment.
		return "", fmt.Errorf("payment %s: the success was not verified; reconcile before shipping", pay.ThirdPartyConversationID)
	}
	return res.TransactionID, nil
}

func status(ctx context.Context, w io.Writer, client *mpesa.Client, txID string) error {
	t := time.Now()
	st, err := client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: txID})
	if err != nil {
		return fmt.Errorf("status of %s: %w", txID, err)
	}
	if st.Async() {
		fmt.Fprintf(w, "   answer     asynchronous (ConversationID %s): the status comes by callback\n", st.ConversationID)
		return nil
	}
	fmt.Fprintf(w, "   status     %s, reversed: %t, in %s\n", st.TransactionStatus, st.Reversed, since(t))
	return nil
}

// runSandbox runs the walk-through against a real gateway configured from
// the environment. Every missing setting is named at once.
func runSandbox(ctx context.Context, w io.Writer, getenv func(string) string) error {
	var missing []string
	need := func(name string) string {
		v := getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	opts := []mpesa.Option{mpesa.WithEnvironment(mpesa.Sandbox)}
	gateway := mpesa.GatewayOpenAPI
	marketName := need("MPESA_MARKET")
	shortcode := need("MPESA_SERVICE_PROVIDER_CODE")
	msisdn := getenv("MPESA_CUSTOMER_MSISDN")
	currency := ""
	switch {
	case marketName == "":
	case strings.EqualFold(marketName, "mozambique-v1x"):
		gateway = mpesa.GatewayMozambique
		msisdn = need("MPESA_CUSTOMER_MSISDN")
		need("MPESA_PUBLIC_KEY")
		id, cred := need("MPESA_INITIATOR_ID"), need("MPESA_SECURITY_CREDENTIAL")
		if id != "" && cred != "" {
			opts = append(opts, mpesa.WithInitiator(id, mpesa.Secret(cred)))
		}
		opts = append(opts, mpesa.WithGateway(mpesa.GatewayMozambique))
		currency = "MZN"
	default:
		m := mpesa.Market(marketName)
		if !m.Valid() {
			return fmt.Errorf("MPESA_MARKET %q is not one of %v or mozambique-v1x", marketName, mpesa.Markets())
		}
		opts = append(opts, mpesa.WithMarket(m))
		currency = m.Currency()
		if msisdn == "" {
			msisdn = mpesatest.MSISDNSuccess // the portal's own test customer
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("MPESA_API_KEY is set, so the quickstart talks to the real sandbox, which also needs %s "+
			"(unset MPESA_API_KEY to run on the embedded simulator)", strings.Join(missing, ", "))
	}
	if key := getenv("MPESA_PUBLIC_KEY"); key != "" {
		opts = append(opts, mpesa.WithPublicKey(key))
	}
	opts = append(opts, mpesa.WithServiceProviderCode(shortcode))
	client, err := mpesa.NewClient(getenv("MPESA_API_KEY"), opts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "mpesa quickstart on the real %s sandbox (%s)\n", gateway, marketName)

	var await awaitFunc
	if addr := getenv("MPESA_CALLBACK_ADDR"); addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("MPESA_CALLBACK_ADDR: %w", err)
		}
		hub := mpesa.NewResults(0, 0)
		stopListening, err := serveCallbacks(ln, client, hub)
		if err != nil {
			return err
		}
		defer stopListening()
		fmt.Fprintf(w, "  callbacks  listening on %s%s\n", ln.Addr(), resultPath)
		await = hub.Await
	}
	return walkThrough(ctx, w, client, msisdn, currency, await)
}

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
