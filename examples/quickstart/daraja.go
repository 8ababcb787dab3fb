package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// Daraja amounts are whole shillings. Daraja refuses callback URLs that
// contain "mpesa", hence paths of their own.
const (
	darajaAmount  = "10"
	darajaHalf    = "5"
	darajaResults = "/daraja/results"
	darajaTimeout = "/daraja/timeout"
)

// runDarajaSimulator runs the Daraja walk-through on the simulator. Daraja
// posts every result to the URL its request names: the client's result URL
// is the listener's.
func runDarajaSimulator(ctx context.Context, w io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	sim := mpesatest.NewServer(mpesatest.WithDaraja(mpesatest.Daraja{
		ResultURL:       base + darajaResults,
		QueueTimeoutURL: base + darajaTimeout,
		Delay:           200 * time.Millisecond, // the customer typing the PIN
	}))
	defer sim.Close()

	hub := mpesa.NewResults(0, 0)
	client, err := mpesa.NewClient(sim.APIKey(), append(sim.Options(mpesa.GatewayDaraja),
		mpesa.WithResults(hub))...) // Reconcile waits there for the status results
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "mpesa quickstart on the embedded simulator: no credentials, no network")
	fmt.Fprintf(w, "  gateway    Safaricom Daraja sandbox, shortcode %s, at %s\n", sim.Daraja().Shortcode, sim.URL())
	fmt.Fprintf(w, "  callbacks  %s (the requests' CallBackURL and ResultURL)\n", base+darajaResults)

	stopListening, err := serveDarajaCallbacks(ln, client, hub)
	if err != nil {
		return err
	}
	defer stopListening()
	return darajaWalkThrough(ctx, w, client, mpesatest.DarajaMSISDNSuccess, hub.Await)
}

// darajaWalkThrough pushes an STK prompt, waits for its callback, asks the
// STK query, pays a B2C, waits for its result, reconciles its status through
// the hub, and reverses half of the customer's payment.
func darajaWalkThrough(ctx context.Context, w io.Writer, client *mpesa.Client, msisdn string, await awaitFunc) error {
	start := time.Now()
	// Give each result time to come, and no more: a callback that never
	// comes must not hang the program.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()

	fmt.Fprintf(w, "\n1. STK push: the customer %s is asked for their PIN\n", mask(msisdn))
	t := time.Now()
	pay, err := client.C2B(ctx, mpesa.C2BRequest{
		Amount:               darajaAmount,
		CustomerMSISDN:       msisdn,
		TransactionReference: "QUICKSTART1", // the account reference on the prompt
		PurchasedItemsDesc:   "Quickstart",
	})
	if err != nil {
		return darajaPaymentError("STK push", err)
	}
	fmt.Fprintf(w, "   answer     %s %s in %s\n", pay.ResponseCode, pay.CustomerMessage, since(t))
	fmt.Fprintf(w, "   IDs        CheckoutRequestID %s, MerchantRequestID %s\n", pay.CheckoutRequestID, pay.MerchantRequestID)

	fmt.Fprintln(w, "\n2. The STK callback")
	t = time.Now()
	stk, err := awaitPaid(ctx, w, await, "STK push", pay.CheckoutRequestID)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   paid       %s KES, M-Pesa receipt %s, %s after the answer\n", stk.Amount, stk.TransactionID, since(t))

	fmt.Fprintln(w, "\n3. STK query")
	t = time.Now()
	q, err := client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: pay.CheckoutRequestID})
	if err != nil {
		return fmt.Errorf("STK query of %s: %w", pay.CheckoutRequestID, err)
	}
	fmt.Fprintf(w, "   status     %s (%s %s) in %s\n", q.TransactionStatus, q.ResultCode, q.ResultDesc, since(t))

	fmt.Fprintf(w, "\n4. B2C payment: %s KES to the customer\n", darajaAmount)
	t = time.Now()
	b2c, err := client.B2C(ctx, mpesa.B2CRequest{
		Amount:           darajaAmount,
		CustomerMSISDN:   msisdn,
		PaymentItemsDesc: "Quickstart payout",
	})
	if err != nil {
		return darajaPaymentError("B2C", err)
	}
	fmt.Fprintf(w, "   answer     %s %s in %s: the result comes by callback\n", b2c.ResponseCode, b2c.ResponseDesc, since(t))
	fmt.Fprintf(w, "   IDs        ConversationID %s, OriginatorConversationID %s\n", b2c.ConversationID, b2c.OriginatorConversationID)
	t = time.Now()
	paid, err := awaitPaid(ctx, w, await, "B2C", b2c.ConversationID)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   paid       receipt %s, %s after the answer\n", paid.TransactionID, since(t))

	fmt.Fprintln(w, "\n5. Transaction status of the B2C, reconciled through the results hub")
	t = time.Now()
	st, err := client.Reconcile(ctx, mpesa.TransactionStatusRequest{QueryReference: paid.TransactionID})
	if err != nil {
		return fmt.Errorf("status of %s: %w", paid.TransactionID, err)
	}
	fmt.Fprintf(w, "   status     %s (the status result came by callback) in %s\n", st.TransactionStatus, since(t))

	fmt.Fprintf(w, "\n6. Reversal of half the customer's payment: %s KES of receipt %s\n", darajaHalf, stk.TransactionID)
	t = time.Now()
	rev, err := client.Reversal(ctx, mpesa.ReversalRequest{TransactionID: stk.TransactionID, ReversalAmount: darajaHalf,
		Remarks: "Quickstart refund"})
	if err != nil {
		return darajaPaymentError("reversal", err)
	}
	fmt.Fprintf(w, "   answer     %s %s in %s\n", rev.ResponseCode, rev.ResponseDesc, since(t))
	t = time.Now()
	if _, err := awaitPaid(ctx, w, await, "reversal", rev.ConversationID); err != nil {
		return err
	}
	fmt.Fprintf(w, "   reversed   %s after the answer\n", since(t))

	fmt.Fprintf(w, "\ndone in %s\n", since(start))
	return nil
}

// serveDarajaCallbacks serves, on ln, the URL of the requests' results
// (STK callbacks and Result envelopes) with a Handler that verifies each
// success with a status query, and the QueueTimeOutURL with one that reads
// the queue-timeout notice. Both feed hub, where the walk-through waits.
func serveDarajaCallbacks(ln net.Listener, client *mpesa.Client, hub *mpesa.Results) (stop func(), err error) {
	keep := func(ctx context.Context, res *mpesa.Result) error {
		// A real service stores the result here and returns an error if
		// that fails: Daraja is then asked to deliver it again.
		return nil
	}
	results, err := mpesa.NewHandler(keep, mpesa.FeedResults(hub), mpesa.VerifyWithStatusQuery(client))
	if err != nil {
		return nil, err
	}
	timeouts, err := mpesa.NewHandler(keep, mpesa.QueueTimeoutNotices(), mpesa.FeedResults(hub))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(darajaResults, results)
	mux.Handle(darajaTimeout, timeouts)
	return serve(ln, mux), nil
}

// awaitPaid waits on the hub for the result of what was sent as key and
// returns it if it is a verified success.
func awaitPaid(ctx context.Context, w io.Writer, await awaitFunc, what, key string) (*mpesa.Result, error) {
	res, err := await(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("waiting for the result of the %s %s: %w (ask with client.Reconcile)", what, key, err)
	}
	fmt.Fprintf(w, "   callback   %s %s, verified by a status query: %t\n", res.ResultCode, res.ResultDesc, res.Verified)
	if !res.OK() {
		return nil, fmt.Errorf("%s %s failed: %w", what, key, res.Err())
	}
	if !res.Verified {
		// Only a success a status query confirmed proves the payment.
		return nil, fmt.Errorf("%s %s: the success was not verified; reconcile before shipping", what, key)
	}
	return res, nil
}

// darajaPaymentError says what to do after a payment call failed.
func darajaPaymentError(what string, err error) error {
	var e *mpesa.Error
	if errors.Is(err, mpesa.ErrOutcomeUnknown) && errors.As(err, &e) {
		// Never send the payment again blindly: ask how it ended.
		return fmt.Errorf("%s: no usable answer; reconcile reference %s before anything else: %w", what, e.ThirdPartyConversationID, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// runDarajaSandbox runs the walk-through against the real Daraja sandbox
// configured from the environment. Every missing setting is named at once.
func runDarajaSandbox(ctx context.Context, w io.Writer, getenv func(string) string) error {
	var missing []string
	need := func(name string) string {
		v := getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	secret := need("MPESA_CONSUMER_SECRET")
	shortcode := need("MPESA_SHORTCODE")
	passkey := need("MPESA_PASSKEY")
	initiator, password := need("MPESA_INITIATOR_NAME"), need("MPESA_INITIATOR_PASSWORD")
	addr, public := need("MPESA_CALLBACK_ADDR"), need("MPESA_CALLBACK_URL")
	if len(missing) > 0 {
		return fmt.Errorf("MPESA_CONSUMER_KEY is set, so the quickstart talks to the real Daraja sandbox, which also needs %s "+
			"(unset MPESA_CONSUMER_KEY to run on the embedded simulator)", strings.Join(missing, ", "))
	}
	msisdn := getenv("MPESA_CUSTOMER_MSISDN")
	if msisdn == "" {
		msisdn = mpesatest.DarajaMSISDNSuccess // the sandbox's own test number
	}
	public = strings.TrimSuffix(public, "/")
	hub := mpesa.NewResults(0, 0)
	client, err := mpesa.NewClient(getenv("MPESA_CONSUMER_KEY"),
		mpesa.WithGateway(mpesa.GatewayDaraja), mpesa.WithEnvironment(mpesa.Sandbox),
		mpesa.WithConsumerSecret(mpesa.Secret(secret)), mpesa.WithServiceProviderCode(shortcode),
		mpesa.WithPasskey(mpesa.Secret(passkey)), mpesa.WithInitiator(initiator, mpesa.Secret(password)),
		mpesa.WithResultURL(public+darajaResults), mpesa.WithQueueTimeoutURL(public+darajaTimeout), mpesa.WithResults(hub))
	if err != nil {
		return err // every bad setting, each by name
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("MPESA_CALLBACK_ADDR: %w", err)
	}
	stopListening, err := serveDarajaCallbacks(ln, client, hub)
	if err != nil {
		return err
	}
	defer stopListening()
	fmt.Fprintf(w, "mpesa quickstart on the real Daraja sandbox, shortcode %s\n", shortcode)
	fmt.Fprintf(w, "  callbacks  listening on %s, reached as %s\n", ln.Addr(), public+darajaResults)
	return darajaWalkThrough(ctx, w, client, msisdn, hub.Await)
}
