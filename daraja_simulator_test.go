package mpesa_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// darajaApp is an application's callback side on the simulated Daraja
// gateway: the result Handler (verifying), the queue-timeout Handler and
// the C2B validator, each at a URL of its own, feeding one hub.
type darajaApp struct {
	srv    *mpesatest.Server
	client *mpesa.Client
	hub    *mpesa.Results
	url    string
}

func newDarajaApp(t *testing.T, cfg mpesatest.Daraja, timeoutAtResultURL bool) *darajaApp {
	t.Helper()
	mux := http.NewServeMux()
	app := httptest.NewServer(mux)
	t.Cleanup(app.Close)
	cfg.ResultURL, cfg.QueueTimeoutURL = app.URL+"/daraja/result", app.URL+"/daraja/timeout"
	if timeoutAtResultURL {
		cfg.QueueTimeoutURL = cfg.ResultURL
	}
	srv := mpesatest.NewServer(mpesatest.WithDaraja(cfg), mpesatest.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	hub := mpesa.NewResults(0, 0)
	client, err := mpesa.NewClient(srv.APIKey(), append(srv.Options(mpesa.GatewayDaraja), mpesa.WithResults(hub))...)
	require.NoError(t, err)
	keep := func(context.Context, *mpesa.Result) error { return nil }
	results, err := mpesa.NewHandler(keep, mpesa.VerifyWithStatusQuery(client))
	require.NoError(t, err)
	timeouts, err := mpesa.NewHandler(keep, mpesa.QueueTimeoutNotices(), mpesa.FeedResults(hub))
	require.NoError(t, err)
	validator, err := mpesa.NewC2BValidator(func(context.Context, *mpesa.Result) (mpesa.C2BDecision, error) {
		return mpesa.AcceptC2B("ORDER-1"), nil
	})
	require.NoError(t, err)
	mux.Handle("/daraja/result", results)
	mux.Handle("/daraja/confirm", results)
	mux.Handle("/daraja/timeout", timeouts)
	mux.Handle("/daraja/validate", validator)
	return &darajaApp{srv: srv, client: client, hub: hub, url: app.URL}
}

// TestDarajaAgainstTheSimulator: the client, the callback handlers and the
// simulator agree on every Daraja product, in each callback shape the
// simulator can send: every success arrives, is verified and is found on
// the hub by the IDs its request returned.
func TestDarajaAgainstTheSimulator(t *testing.T) {
	t.Parallel()
	for _, shape := range append([]mpesatest.Shape{0}, mpesatest.Shapes()...) {
		t.Run(shape.String(), func(t *testing.T) {
			t.Parallel()
			a := newDarajaApp(t, mpesatest.Daraja{Shapes: shape}, false)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			stk, err := a.client.C2B(ctx, mpesa.C2BRequest{Amount: "1", CustomerMSISDN: mpesatest.DarajaMSISDNSuccess,
				TransactionReference: "INV1", PurchasedItemsDesc: "Shoes"})
			require.NoError(t, err)
			r, err := a.hub.Await(ctx, stk.CheckoutRequestID)
			require.NoError(t, err)
			assert.True(t, r.OK() && r.Verified, "STK success verified: %v", r)

			cancelled, err := a.client.C2B(ctx, mpesa.C2BRequest{Amount: "1", CustomerMSISDN: mpesatest.DarajaMSISDNCancelled,
				TransactionReference: "INV2", PurchasedItemsDesc: "Shoes"})
			require.NoError(t, err)
			r, err = a.hub.Await(ctx, cancelled.MerchantRequestID)
			require.NoError(t, err)
			assert.ErrorIs(t, r.Err(), mpesa.ErrCancelledByCustomer)

			if shape == mpesatest.ShapeParameterObject {
				// A status result reduced to its first parameter cannot
				// confirm a payment: the handler answers 503, as it should.
				return
			}
			b2c, err := a.client.B2C(ctx, mpesa.B2CRequest{Amount: "100", CustomerMSISDN: mpesatest.DarajaMSISDNSuccess,
				PaymentItemsDesc: "Salary"})
			require.NoError(t, err)
			r, err = a.hub.Await(ctx, b2c.ConversationID)
			require.NoError(t, err)
			assert.True(t, r.OK() && r.Verified, "B2C success verified: %v", r)

			_, err = a.client.RegisterC2BURLs(ctx, mpesa.RegisterC2BURLsRequest{ResponseType: mpesa.C2BResponseCompleted,
				ConfirmationURL: a.url + "/daraja/confirm", ValidationURL: a.url + "/daraja/validate"})
			require.NoError(t, err)
			_, err = a.client.SimulateC2B(ctx, mpesa.SimulateC2BRequest{Amount: "10", MSISDN: mpesatest.DarajaMSISDNSuccess,
				BillRefNumber: "ACC1"})
			require.NoError(t, err)
			r, err = a.hub.Await(ctx, "ORDER-1") // the ThirdPartyTransID the validator answered
			require.NoError(t, err)
			assert.True(t, r.OK(), "%v", r)
			assert.Equal(t, mpesa.CallbackC2BConfirmation, r.Callback)

			st, err := a.client.Reconcile(ctx, mpesa.TransactionStatusRequest{QueryReference: b2c.OriginatorConversationID})
			require.NoError(t, err)
			assert.Equal(t, mpesa.StatusCompleted, st.TransactionStatus)

			bal, err := a.client.AccountBalance(ctx, mpesa.AccountBalanceRequest{})
			require.NoError(t, err)
			r, err = a.hub.Await(ctx, bal.ConversationID)
			require.NoError(t, err)
			assert.True(t, r.OK(), "%v", r)
			assert.NotEmpty(t, r.Balances())
		})
	}
}

// TestDarajaQueueTimeoutAgainstTheSimulator: a queue-timeout notice, in
// either shape, reaches the hub as an unknown outcome when the
// QueueTimeOutURL has its own Handler; a flat notice posted to the result
// Handler is refused, not taken for a result.
func TestDarajaQueueTimeoutAgainstTheSimulator(t *testing.T) {
	t.Parallel()
	for _, shape := range []mpesatest.Shape{0, mpesatest.ShapeFlatQueueTimeout} {
		for _, sameURL := range []bool{false, true} {
			name := shape.String()
			if sameURL {
				name += "/at-the-ResultURL"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				a := newDarajaApp(t, mpesatest.Daraja{Shapes: shape}, sameURL)
				a.srv.Next(mpesa.APIB2C, mpesatest.Scenario{QueueTimeout: true})
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				b2c, err := a.client.B2C(ctx, mpesa.B2CRequest{Amount: "100", CustomerMSISDN: mpesatest.DarajaMSISDNSuccess,
					PaymentItemsDesc: "Salary"})
				require.NoError(t, err)
				if sameURL && shape == mpesatest.ShapeFlatQueueTimeout {
					short, cancelShort := context.WithTimeout(ctx, time.Second)
					defer cancelShort()
					r, err := a.hub.Await(short, b2c.OriginatorConversationID)
					assert.ErrorIs(t, err, context.DeadlineExceeded, "a flat notice at the result Handler is no result: %v", r)
					return
				}
				r, err := a.hub.Await(ctx, b2c.OriginatorConversationID)
				require.NoError(t, err)
				assert.ErrorIs(t, r.Err(), mpesa.ErrOutcomeUnknown)
			})
		}
	}
}
