// Command callback-service starts one C2B payment with mpesa.Client and
// receives its asynchronous result with mpesa.Handler and an mpesa.Results
// hub. It then keeps serving the Response URL (the gateway may deliver a
// result again) until interrupted.
//
// Configuration, from the environment:
//
//	MPESA_API_KEY                 the application's API key (required)
//	MPESA_MARKET                  an OpenAPI v2 market (vodafoneGHA, vodacomTZN,
//	                              vodacomLES, vodacomDRC, vodacomMOZ), or
//	                              mozambique-v1x for the Vodacom Mozambique
//	                              gateway (required)
//	MPESA_SERVICE_PROVIDER_CODE   the business shortcode (required)
//	MPESA_PUBLIC_KEY              the gateway's public key, base64 DER or PEM
//	                              (required for mozambique-v1x; OpenAPI v2
//	                              defaults to the portal's key)
//	MPESA_BASE_URL                optional: send calls to a proxy or simulator
//	MPESA_CALLBACK_TOKEN          optional: the secret path segment of the
//	                              Response URL; generated when unset
//
// and flags (see -help): the customer's number, the amount, the listen
// address. Configure https://<your host>/mpesa/results/<token> as the Response
// URL of the application on the portal; the products must be set to answer
// asynchronously there, or the payment's answer is already the result.
//
//	MPESA_API_KEY=... MPESA_MARKET=vodacomTZN MPESA_SERVICE_PROVIDER_CODE=000000 \
//		go run ./examples/callback-service -msisdn 255744553111 -amount 10
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mpesa-go/mpesa"
)

type config struct {
	apiKey, publicKey, market, shortcode, baseURL, token string
	tokenGenerated                                       bool

	listen, msisdn, amount, archive string
	wait                            time.Duration
	verify, once                    bool

	// clientOptions are added last to the client's options: the test
	// points the client at the simulator with them.
	clientOptions []mpesa.Option
}

func main() {
	cfg, err := loadConfig(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "callback-service:", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("callback-service failed", "error", err)
		os.Exit(1)
	}
}

// loadConfig reads the environment and the flags, and reports everything
// that is missing at once.
func loadConfig(args []string) (*config, error) {
	cfg := &config{
		apiKey:    os.Getenv("MPESA_API_KEY"),
		publicKey: os.Getenv("MPESA_PUBLIC_KEY"),
		market:    os.Getenv("MPESA_MARKET"),
		shortcode: os.Getenv("MPESA_SERVICE_PROVIDER_CODE"),
		baseURL:   os.Getenv("MPESA_BASE_URL"),
		token:     os.Getenv("MPESA_CALLBACK_TOKEN"),
	}
	fs := flag.NewFlagSet("callback-service", flag.ContinueOnError)
	fs.StringVar(&cfg.listen, "listen", ":8080", "address the Response URL listens on")
	fs.StringVar(&cfg.msisdn, "msisdn", os.Getenv("MPESA_CUSTOMER_MSISDN"), "the paying customer's number with country code (or MPESA_CUSTOMER_MSISDN)")
	fs.StringVar(&cfg.amount, "amount", "10", "amount to charge")
	fs.StringVar(&cfg.archive, "archive", "callbacks.jsonl", "file every raw callback body is appended to before it is processed")
	fs.DurationVar(&cfg.wait, "wait", 3*time.Minute, "how long to wait for the result before asking the transaction status")
	fs.BoolVar(&cfg.verify, "verify", true, "confirm each successful payment result with a transaction status query (needs the status product to answer synchronously)")
	fs.BoolVar(&cfg.once, "once", false, "exit after the payment's outcome is known instead of serving on")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}

	var missing []string
	if cfg.apiKey == "" {
		missing = append(missing, "MPESA_API_KEY (the API key of your application on the portal)")
	}
	switch {
	case cfg.market == "":
		missing = append(missing, fmt.Sprintf("MPESA_MARKET (one of %v, or %s)", mpesa.Markets(), mpesa.GatewayMozambique))
	case cfg.market == mpesa.GatewayMozambique.String():
		if cfg.publicKey == "" {
			missing = append(missing, "MPESA_PUBLIC_KEY (the Mozambique gateway's public key, from its developer portal)")
		}
	case !mpesa.Market(cfg.market).Valid():
		return nil, fmt.Errorf("MPESA_MARKET=%q is not one of %v or %s", cfg.market, mpesa.Markets(), mpesa.GatewayMozambique)
	}
	if cfg.shortcode == "" {
		missing = append(missing, "MPESA_SERVICE_PROVIDER_CODE (the business shortcode credited)")
	}
	if cfg.msisdn == "" {
		missing = append(missing, "-msisdn or MPESA_CUSTOMER_MSISDN (the customer to charge)")
	}
	if len(missing) > 0 {
		return nil, errors.New("missing configuration:\n  " + strings.Join(missing, "\n  "))
	}
	if cfg.token == "" {
		cfg.token, cfg.tokenGenerated = mpesa.NewReference(), true
	}
	return cfg, nil
}

func newClient(cfg *config, logger *slog.Logger) (*mpesa.Client, error) {
	opts := []mpesa.Option{
		mpesa.WithServiceProviderCode(cfg.shortcode),
		mpesa.WithLogger(logger),
	}
	if cfg.market == mpesa.GatewayMozambique.String() {
		opts = append(opts, mpesa.WithGateway(mpesa.GatewayMozambique))
	} else {
		opts = append(opts, mpesa.WithMarket(mpesa.Market(cfg.market)))
	}
	if cfg.publicKey != "" {
		opts = append(opts, mpesa.WithPublicKey(cfg.publicKey))
	}
	if cfg.baseURL != "" {
		opts = append(opts, mpesa.WithBaseURL(cfg.baseURL))
	}
	return mpesa.NewClient(cfg.apiKey, append(opts, cfg.clientOptions...)...)
}

// archive appends every delivery, parsed or not, to a JSON Lines file and
// syncs it before the handler processes the result: nothing the gateway
// sends is lost, even a body the SDK cannot read.
type archive struct {
	mu sync.Mutex
	f  *os.File
}

func (a *archive) store(_ context.Context, d *mpesa.Delivery) error {
	line, err := json.Marshal(struct {
		ReceivedAt  time.Time `json:"received_at"`
		Source      string    `json:"source"`
		ContentType string    `json:"content_type"`
		Body        string    `json:"body"`
	}{d.ReceivedAt, d.Source.String(), d.ContentType, string(d.Body)})
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.f.Write(append(line, '\n')); err != nil {
		return err
	}
	return a.f.Sync()
}

func run(ctx context.Context, cfg *config, logger *slog.Logger) error {
	client, err := newClient(cfg, logger)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(cfg.archive, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	arch := &archive{f: f}

	hub := mpesa.NewResults(0, 0)
	opts := []mpesa.HandlerOption{
		mpesa.RequireToken(mpesa.Secret(cfg.token)),
		mpesa.OnDelivery(arch.store),
		mpesa.FeedResults(hub),
		mpesa.HandlerLogger(logger),
	}
	if cfg.verify {
		opts = append(opts, mpesa.VerifyWithStatusQuery(client))
	}
	handler, err := mpesa.NewHandler(func(ctx context.Context, res *mpesa.Result) error {
		// A real service records the outcome in its database here, and
		// returns an error if it cannot: the gateway then delivers the
		// result again.
		logger.Info("payment result", "result", res, "ok", res.OK())
		return nil
	}, opts...)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/mpesa/results/", handler)
	srv := &http.Server{
		Addr:              cfg.listen,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// A status query for VerifyWithStatusQuery runs inside the request.
		WriteTimeout: 2 * time.Minute,
		IdleTimeout:  time.Minute,
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if cfg.tokenGenerated {
		// Printed once, to the operator's console, because the portal
		// needs it; set MPESA_CALLBACK_TOKEN to keep it out of output.
		fmt.Fprintf(os.Stderr, "Response URL: https://<your host>/mpesa/results/%s (listening on %s)\n", cfg.token, ln.Addr())
	} else {
		fmt.Fprintf(os.Stderr, "Response URL: https://<your host>/mpesa/results/<MPESA_CALLBACK_TOKEN> (listening on %s)\n", ln.Addr())
	}

	payErr := pay(ctx, cfg, client, hub, logger)

	if !cfg.once && payErr == nil && ctx.Err() == nil {
		logger.Info("serving the Response URL until interrupted")
		select {
		case <-ctx.Done():
		case err := <-served:
			return err
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return payErr
}

// pay starts the C2B payment and finds out how it ended: from the
// synchronous answer, from the callback, or, when neither tells, from the
// transaction status.
func pay(ctx context.Context, cfg *config, client *mpesa.Client, hub *mpesa.Results, logger *slog.Logger) error {
	// The reference is chosen before the call: it finds the payment again
	// whatever happens, and the callback carries it back.
	ref := mpesa.NewReference()
	logger.Info("starting C2B payment", "reference", ref, "amount", cfg.amount)
	res, err := client.C2B(ctx, mpesa.C2BRequest{
		Amount:                   cfg.amount,
		CustomerMSISDN:           cfg.msisdn,
		TransactionReference:     "callbackdemo",
		ThirdPartyConversationID: ref,
		PurchasedItemsDesc:       "callback-service demo",
	})
	switch {
	case errors.Is(err, mpesa.ErrOutcomeUnknown):
		logger.Warn("the payment's outcome is unknown; asking its status", "error", err)
		return reconcile(ctx, client, ref, logger)
	case err != nil:
		return fmt.Errorf("the payment was refused: %w", err)
	case !res.Async():
		logger.Info("the gateway answered synchronously: this is the result",
			"transaction_id", res.TransactionID, "conversation_id", res.ConversationID)
		return nil
	}

	logger.Info("payment accepted; waiting for its result", "conversation_id", res.ConversationID, "wait", cfg.wait)
	waitCtx, cancel := context.WithTimeout(ctx, cfg.wait)
	defer cancel()
	result, err := hub.Await(waitCtx, ref)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		logger.Warn("no result arrived in time; asking the transaction status", "reference", ref)
		return reconcile(ctx, client, ref, logger)
	}
	if err := result.Err(); err != nil {
		var e *mpesa.Error
		switch {
		case errors.Is(err, mpesa.ErrCancelledByCustomer), errors.Is(err, mpesa.ErrPromptTimeout):
			logger.Info("the customer did not confirm the payment", "error", err)
		case errors.Is(err, mpesa.ErrInsufficientBalance):
			logger.Info("the customer's balance is too low", "error", err)
		case errors.As(err, &e):
			logger.Info("the payment failed", "code", e.Code, "description", e.Description)
		}
		return nil
	}
	if !result.Verified {
		// The gateways sign nothing: a success no status query confirmed
		// proves nothing. Ask the gateway before the order ships.
		logger.Warn("a success arrived unverified; asking the transaction status before marking the order paid", "reference", ref)
		return reconcile(ctx, client, ref, logger)
	}
	logger.Info("paid", "transaction_id", result.TransactionID, "verified", result.Verified)
	return nil
}

func reconcile(ctx context.Context, client *mpesa.Client, ref string, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	st, err := client.Reconcile(ctx, mpesa.TransactionStatusRequest{QueryReference: ref})
	if err != nil {
		return fmt.Errorf("the transaction status of %s is unknown: %w", ref, err)
	}
	if st.Async() {
		logger.Info("the status will arrive by callback; it is logged as a payment result when it does", "reference", ref)
		return nil
	}
	logger.Info("transaction status", "reference", ref, "status", st.TransactionStatus, "reversed", st.Reversed)
	return nil
}
