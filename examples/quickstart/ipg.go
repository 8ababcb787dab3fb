package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// runIPGSimulator runs the walk-through of OpenAPI v2 or Mozambique on the
// simulator: it starts the callback listener, then the simulator (which
// must know the listener's URL), then the client and the handler.
func runIPGSimulator(ctx context.Context, w io.Writer, gateway mpesa.Gateway) error {
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

	market, msisdn, opts := mpesa.MarketTanzania, mpesatest.MSISDNSuccess, sim.Options(gateway)
	where := fmt.Sprintf("OpenAPI v2 sandbox, market %s (%s)", market, market.Name())
	if gateway == mpesa.GatewayMozambique {
		market, msisdn = mpesa.MarketMozambique, mpesatest.MozambiqueMSISDNSuccess
		where = "Vodacom Mozambique v1x sandbox"
	} else {
		opts = append(opts, mpesa.WithMarket(market))
	}
	client, err := mpesa.NewClient(sim.APIKey(), opts...)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "mpesa quickstart on the embedded simulator: no credentials, no network")
	fmt.Fprintf(w, "  gateway    %s, at %s\n", where, sim.URL())
	fmt.Fprintf(w, "  callbacks  %s (the application's Response URL)\n", callbackURL)

	hub := mpesa.NewResults(0, 0)
	stopListening, err := serveCallbacks(ln, client, hub)
	if err != nil {
		return err
	}
	defer stopListening()

	return walkThrough(ctx, w, client, msisdn, market.Currency(), hub.Await)
}

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
	if client.Gateway() == mpesa.GatewayMozambique {
		// The Mozambique answer has no Reversed field (docs/gateways.md).
		fmt.Fprintf(w, "   status     %s, in %s\n", st.TransactionStatus, since(t))
		return nil
	}
	fmt.Fprintf(w, "   status     %s, reversed: %t, in %s\n", st.TransactionStatus, st.Reversed, since(t))
	return nil
}

// runIPGSandbox runs the walk-through against a real OpenAPI v2 or
// Mozambique sandbox configured from the environment. Every missing setting
// is named at once.
func runIPGSandbox(ctx context.Context, w io.Writer, gateway mpesa.Gateway, getenv func(string) string) error {
	var missing []string
	need := func(name string) string {
		v := getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	opts := []mpesa.Option{mpesa.WithEnvironment(mpesa.Sandbox), mpesa.WithGateway(gateway)}
	where := "Vodacom Mozambique v1x"
	shortcode := need("MPESA_SERVICE_PROVIDER_CODE")
	msisdn := getenv("MPESA_CUSTOMER_MSISDN")
	currency := "MZN"
	if gateway == mpesa.GatewayMozambique {
		msisdn = need("MPESA_CUSTOMER_MSISDN")
		need("MPESA_PUBLIC_KEY")
		id, cred := need("MPESA_INITIATOR_ID"), need("MPESA_SECURITY_CREDENTIAL")
		if id != "" && cred != "" {
			opts = append(opts, mpesa.WithInitiator(id, mpesa.Secret(cred)))
		}
	} else {
		marketName := need("MPESA_MARKET")
		m := mpesa.Market(marketName)
		if marketName != "" && !m.Valid() {
			return fmt.Errorf("MPESA_MARKET %q is not one of %v", marketName, mpesa.Markets())
		}
		opts = append(opts, mpesa.WithMarket(m))
		currency, where = m.Currency(), "OpenAPI v2, market "+marketName
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
	fmt.Fprintf(w, "mpesa quickstart on the real %s sandbox\n", where)

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
