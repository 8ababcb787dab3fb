package mpesatest_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// fastRetries keeps the client's backoffs short; the rules stay the same.
var fastRetries = []mpesa.Option{
	mpesa.WithRetryBackoff(time.Millisecond, 5*time.Millisecond),
	mpesa.WithReconcileBackoff(time.Millisecond, 5*time.Millisecond),
}

func sdkClient(t *testing.T, srv *mpesatest.Server, g mpesa.Gateway, extra ...mpesa.Option) *mpesa.Client {
	t.Helper()
	opts := append(srv.Options(g), fastRetries...)
	if g == mpesa.GatewayOpenAPI {
		opts = append(opts, mpesa.WithMarket(mpesa.MarketTanzania))
	}
	c, err := mpesa.NewClient(srv.APIKey(), append(opts, extra...)...)
	require.NoError(t, err)
	return c
}

func c2bRequest(g mpesa.Gateway, msisdn string) mpesa.C2BRequest {
	if msisdn == "" {
		msisdn = mpesatest.MSISDNSuccess
		if g == mpesa.GatewayMozambique {
			msisdn = mpesatest.MozambiqueMSISDNSuccess
		}
	}
	return mpesa.C2BRequest{Amount: "10", CustomerMSISDN: msisdn, TransactionReference: "T12344C", PurchasedItemsDesc: "Shoes"}
}

func TestSDKProducts(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	for _, g := range []mpesa.Gateway{mpesa.GatewayOpenAPI, mpesa.GatewayMozambique} {
		g := g
		t.Run(g.String(), func(t *testing.T) {
			client := sdkClient(t, srv, g)
			msisdn := mpesatest.MSISDNSuccess
			if g == mpesa.GatewayMozambique {
				msisdn = mpesatest.MozambiqueMSISDNSuccess
			}

			c2b, err := client.C2B(ctx, c2bRequest(g, ""))
			require.NoError(t, err)
			assert.False(t, c2b.Async())
			assert.Equal(t, "INS-0", c2b.ResponseCode)

			b2c, err := client.B2C(ctx, mpesa.B2CRequest{Amount: "5.50", CustomerMSISDN: msisdn, TransactionReference: "Salary", PaymentItemsDesc: "Salary payment"})
			require.NoError(t, err)
			assert.NotEmpty(t, b2c.TransactionID)

			b2b, err := client.B2B(ctx, mpesa.B2BRequest{Amount: "100", ReceiverPartyCode: "979797", TransactionReference: "Stock", PurchasedItemsDesc: "Stock"})
			require.NoError(t, err)
			assert.NotEmpty(t, b2b.TransactionID)

			for _, q := range []string{c2b.TransactionID, c2b.ThirdPartyConversationID, c2b.ConversationID} {
				st, err := client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: q})
				require.NoError(t, err, q)
				assert.Equal(t, mpesa.StatusCompleted, st.TransactionStatus, q)
			}

			rev, err := client.Reversal(ctx, mpesa.ReversalRequest{TransactionID: b2c.TransactionID, ReversalAmount: "2"})
			require.NoError(t, err)
			assert.NotEmpty(t, rev.TransactionID)
			orig, ok := srv.Transaction(b2c.TransactionID)
			require.True(t, ok)
			assert.True(t, orig.Reversed)
			assert.Equal(t, "2", orig.ReversedAmount)
			_, err = client.Reversal(ctx, mpesa.ReversalRequest{TransactionID: b2c.TransactionID})
			assert.ErrorIs(t, err, mpesa.ErrTransactionFailed, "reversed once")

			st, err := client.Reconcile(ctx, mpesa.TransactionStatusRequest{QueryReference: b2b.ThirdPartyConversationID})
			require.NoError(t, err)
			assert.Equal(t, mpesa.StatusCompleted, st.TransactionStatus)
			if g == mpesa.GatewayOpenAPI {
				st, err = client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: b2c.TransactionID})
				require.NoError(t, err)
				assert.True(t, st.Reversed)
				assert.Equal(t, b2c.TransactionID, st.OriginalTransactionID)
			}

			_, err = client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: "UNKNOWN000001"})
			assert.ErrorIs(t, err, mpesa.ErrTransactionNotFound)

			req := c2bRequest(g, "")
			req.ThirdPartyConversationID = c2b.ThirdPartyConversationID
			_, err = client.C2B(ctx, req)
			assert.ErrorIs(t, err, mpesa.ErrDuplicate)
		})
	}
}

func TestSDKEveryOpenAPIMarket(t *testing.T) {
	srv := newServer(t)
	for _, m := range mpesa.Markets() {
		client, err := mpesa.NewClient(srv.APIKey(), append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(m))...)
		require.NoError(t, err)
		res, err := client.C2B(context.Background(), c2bRequest(mpesa.GatewayOpenAPI, ""))
		require.NoError(t, err, m)
		txn, ok := srv.Transaction(res.TransactionID)
		require.True(t, ok)
		assert.Equal(t, m, txn.Market)
	}
	assert.Equal(t, len(mpesa.Markets()), srv.SessionRequests(), "one session per client")
}

func TestSDKCustomerOutcomes(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	cases := []struct {
		g      mpesa.Gateway
		msisdn string
		kind   error
	}{
		{mpesa.GatewayOpenAPI, mpesatest.MSISDNRejected, mpesa.ErrTransactionFailed},
		{mpesa.GatewayOpenAPI, mpesatest.MSISDNPromptTimeout, mpesa.ErrPromptTimeout},
		{mpesa.GatewayOpenAPI, mpesatest.MSISDNInsufficientBalance, mpesa.ErrInsufficientBalance},
		{mpesa.GatewayMozambique, mpesatest.MozambiqueMSISDNCancelled, mpesa.ErrCancelledByCustomer},
		{mpesa.GatewayMozambique, mpesatest.MozambiqueMSISDNRejected, mpesa.ErrTransactionFailed},
		{mpesa.GatewayMozambique, mpesatest.MozambiqueMSISDNPromptTimeout, mpesa.ErrPromptTimeout},
		{mpesa.GatewayMozambique, mpesatest.MozambiqueMSISDNInsufficientBalance, mpesa.ErrInsufficientBalance},
	}
	for _, tc := range cases {
		client := sdkClient(t, srv, tc.g)
		before := len(srv.CallsTo(mpesa.APIC2B))
		_, err := client.C2B(ctx, c2bRequest(tc.g, tc.msisdn))
		assert.ErrorIs(t, err, tc.kind, "%s %s", tc.g, tc.msisdn)
		assert.Len(t, srv.CallsTo(mpesa.APIC2B), before+1, "a business outcome is never sent again")
	}
}

// outcomeUnknown asserts err says the payment's fate is unknown, and returns
// its reference.
func outcomeUnknown(t *testing.T, err error) string {
	t.Helper()
	require.ErrorIs(t, err, mpesa.ErrOutcomeUnknown)
	var e *mpesa.Error
	require.True(t, errors.As(err, &e))
	require.NotEmpty(t, e.ThirdPartyConversationID)
	return e.ThirdPartyConversationID
}

func TestSDKAgainstFaults(t *testing.T) {
	for _, g := range []mpesa.Gateway{mpesa.GatewayOpenAPI, mpesa.GatewayMozambique} {
		g := g
		t.Run(g.String(), func(t *testing.T) {
			srv := newServer(t)
			// Long enough that a normal query never times out on a busy machine,
			// which would add calls to the counts below.
			client := sdkClient(t, srv, g, mpesa.WithQueryTimeout(time.Second))
			bg := context.Background()
			c2bCalls := func() int { return len(srv.CallsTo(mpesa.APIC2B)) }

			t.Run("INS-16 is retried with the same body", func(t *testing.T) {
				n := c2bCalls()
				srv.Next(mpesa.APIC2B, mpesatest.Scenario{Code: "INS-16"}, mpesatest.Scenario{Code: "INS-16"})
				res, err := client.C2B(bg, c2bRequest(g, ""))
				require.NoError(t, err)
				calls := srv.CallsTo(mpesa.APIC2B)[n:]
				require.Len(t, calls, 3)
				assert.Equal(t, http.StatusServiceUnavailable, calls[0].Status)
				assert.Equal(t, calls[0].Params, calls[2].Params, "the same reference every time")
				assert.Equal(t, res.ThirdPartyConversationID, calls[2].Params[refKeyOf(g)])
			})
			t.Run("INS-16 beyond the retry limit", func(t *testing.T) {
				n := c2bCalls()
				srv.Next(mpesa.APIC2B, mpesatest.Scenario{Code: "INS-16"}, mpesatest.Scenario{Code: "INS-16"}, mpesatest.Scenario{Code: "INS-16"})
				_, err := client.C2B(bg, c2bRequest(g, ""))
				assert.ErrorIs(t, err, mpesa.ErrOverloaded)
				assert.NotErrorIs(t, err, mpesa.ErrOutcomeUnknown)
				assert.Equal(t, n+3, c2bCalls())
			})
			t.Run("a payment that hangs is not sent again; not processed, reconcile says not found", func(t *testing.T) {
				n := c2bCalls()
				srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.FaultHang})
				ctx, cancel := context.WithTimeout(bg, 500*time.Millisecond)
				_, err := client.C2B(ctx, c2bRequest(g, ""))
				cancel()
				ref := outcomeUnknown(t, err)
				assert.Equal(t, n+1, c2bCalls())
				// Reconcile believes "not found" only once the payment
				// timeout has passed since the payment was sent; here
				// the payment is dated back by that much.
				_, err = client.Reconcile(bg, mpesa.TransactionStatusRequest{QueryReference: ref,
					SentAt: time.Now().Add(-mpesa.DefaultPaymentTimeout)})
				assert.ErrorIs(t, err, mpesa.ErrTransactionNotFound)
			})
			t.Run("a payment that hangs after processing reconciles to Completed", func(t *testing.T) {
				srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.FaultHang, Processed: true})
				ctx, cancel := context.WithTimeout(bg, 500*time.Millisecond)
				_, err := client.C2B(ctx, c2bRequest(g, ""))
				cancel()
				ref := outcomeUnknown(t, err)
				st, err := client.Reconcile(bg, mpesa.TransactionStatusRequest{QueryReference: ref})
				require.NoError(t, err)
				assert.Equal(t, mpesa.StatusCompleted, st.TransactionStatus)
				req := c2bRequest(g, "")
				req.ThirdPartyConversationID = ref
				_, err = client.C2B(bg, req)
				assert.ErrorIs(t, err, mpesa.ErrDuplicate, "resending with the same reference cannot pay twice")
			})
			t.Run("a reset payment is not sent again", func(t *testing.T) {
				n := c2bCalls()
				srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.FaultReset, Processed: true})
				_, err := client.C2B(bg, c2bRequest(g, ""))
				ref := outcomeUnknown(t, err)
				assert.Equal(t, n+1, c2bCalls())
				txn, ok := srv.Transaction(ref)
				require.True(t, ok)
				assert.Equal(t, mpesa.StatusCompleted, txn.Status)
			})
			for _, f := range []mpesatest.Scenario{
				{Fault: mpesatest.FaultTruncatedBody},
				{Fault: mpesatest.FaultEmptyBody},
				{Fault: mpesatest.FaultHTML},
				{Fault: mpesatest.FaultHTML, Status: http.StatusBadGateway},
			} {
				f := f
				t.Run("a payment answered with "+f.Fault.String()+" "+http.StatusText(statusOf(f)), func(t *testing.T) {
					n := c2bCalls()
					srv.Next(mpesa.APIC2B, f)
					_, err := client.C2B(bg, c2bRequest(g, ""))
					outcomeUnknown(t, err)
					assert.Equal(t, n+1, c2bCalls())
				})
			}
			t.Run("a firewall's 403 page is refused, not unknown", func(t *testing.T) {
				srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.FaultHTML, Status: http.StatusForbidden})
				_, err := client.C2B(bg, c2bRequest(g, ""))
				assert.ErrorIs(t, err, mpesa.ErrUnexpectedResponse)
				assert.NotErrorIs(t, err, mpesa.ErrOutcomeUnknown)
				var e *mpesa.Error
				require.True(t, errors.As(err, &e))
				assert.Contains(t, e.Excerpt, "Request Rejected")
			})
			t.Run("queries are retried after a hang, a reset and a bad body", func(t *testing.T) {
				res, err := client.C2B(bg, c2bRequest(g, ""))
				require.NoError(t, err)
				n := len(srv.CallsTo(mpesa.APITransactionStatus))
				srv.Next(mpesa.APITransactionStatus, mpesatest.Scenario{Fault: mpesatest.FaultHang}, mpesatest.Scenario{Fault: mpesatest.FaultReset})
				st, err := client.TransactionStatus(bg, mpesa.TransactionStatusRequest{QueryReference: res.TransactionID})
				require.NoError(t, err)
				assert.Equal(t, mpesa.StatusCompleted, st.TransactionStatus)
				assert.Len(t, srv.CallsTo(mpesa.APITransactionStatus), n+3)

				srv.Next(mpesa.APITransactionStatus, mpesatest.Scenario{Fault: mpesatest.FaultTruncatedBody}, mpesatest.Scenario{Code: "INS-16"})
				_, err = client.TransactionStatus(bg, mpesa.TransactionStatusRequest{QueryReference: res.TransactionID})
				require.NoError(t, err)
				assert.Len(t, srv.CallsTo(mpesa.APITransactionStatus), n+6)
			})
		})
	}
}

func statusOf(sc mpesatest.Scenario) int {
	if sc.Status != 0 {
		return sc.Status
	}
	return http.StatusOK
}

func refKeyOf(g mpesa.Gateway) string {
	if g == mpesa.GatewayMozambique {
		return "input_ThirdPartyReference"
	}
	return "input_ThirdPartyConversationID"
}

func TestSDKSessions(t *testing.T) {
	ctx := context.Background()
	t.Run("one session, refreshed once when the gateway ends it", func(t *testing.T) {
		srv := newServer(t)
		client := sdkClient(t, srv, mpesa.GatewayOpenAPI)
		_, err := client.C2B(ctx, c2bRequest(mpesa.GatewayOpenAPI, ""))
		require.NoError(t, err)
		_, err = client.C2B(ctx, c2bRequest(mpesa.GatewayOpenAPI, ""))
		require.NoError(t, err)
		assert.Equal(t, 1, srv.SessionRequests())
		decryptions := srv.Decryptions()

		srv.ExpireSessions()
		_, err = client.C2B(ctx, c2bRequest(mpesa.GatewayOpenAPI, ""))
		require.NoError(t, err)
		assert.Equal(t, 2, srv.SessionRequests())
		calls := srv.CallsTo(mpesa.APIC2B)
		require.Len(t, calls, 4)
		assert.Equal(t, http.StatusUnauthorized, calls[2].Status)
		assert.Equal(t, calls[2].Params, calls[3].Params)
		assert.Equal(t, decryptions+3, srv.Decryptions(), "refused call, getSession, resent call")
	})
	t.Run("a session that is still warming up", func(t *testing.T) {
		srv := newServer(t, mpesatest.WithSessionWarmup(300*time.Millisecond))
		client := sdkClient(t, srv, mpesa.GatewayOpenAPI, mpesa.WithRetryBackoff(20*time.Millisecond, 100*time.Millisecond))
		_, err := client.C2B(ctx, c2bRequest(mpesa.GatewayOpenAPI, ""))
		require.NoError(t, err)
		assert.Equal(t, 1, srv.SessionRequests(), "the client waits for its session to go live")
		calls := srv.CallsTo(mpesa.APIC2B)
		require.GreaterOrEqual(t, len(calls), 2)
		assert.Equal(t, "INS-2", calls[0].Response["output_ResponseCode"])
		assert.Equal(t, http.StatusCreated, calls[len(calls)-1].Status)
	})
	t.Run("wrong API key", func(t *testing.T) {
		// OpenAPI v2: getSession fails, 400 INS-989 (the portal's Generate
		// SessionKey page). Mozambique: 401 INS-2 "Invalid API Key" (the
		// Mozambique documents' Response Codes & Descriptions table).
		srv := newServer(t)
		for g, kind := range map[mpesa.Gateway]error{
			mpesa.GatewayOpenAPI:    mpesa.ErrSessionCreation,
			mpesa.GatewayMozambique: mpesa.ErrUnauthorized,
		} {
			opts := append(srv.Options(g), fastRetries...)
			if g == mpesa.GatewayOpenAPI {
				opts = append(opts, mpesa.WithMarket(mpesa.MarketLesotho))
			}
			client, err := mpesa.NewClient("wrong-key", opts...)
			require.NoError(t, err)
			_, err = client.C2B(ctx, c2bRequest(g, ""))
			assert.ErrorIs(t, err, kind, g)
		}
		for _, call := range srv.CallsTo(mpesa.APIC2B) {
			assert.Equal(t, mpesa.GatewayMozambique, call.Gateway, "no OpenAPI payment is sent without a session")
		}
	})
	t.Run("a session creation failure", func(t *testing.T) {
		srv := newServer(t)
		srv.Next(mpesa.APIGetSession, mpesatest.Scenario{Code: "INS-989"})
		client := sdkClient(t, srv, mpesa.GatewayOpenAPI)
		_, err := client.C2B(ctx, c2bRequest(mpesa.GatewayOpenAPI, ""))
		assert.ErrorIs(t, err, mpesa.ErrSessionCreation)
		assert.Empty(t, srv.CallsTo(mpesa.APIC2B))
	})
}

func TestSDKAsync(t *testing.T) {
	l := newListener(t)
	srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.srv.URL, APIs: []mpesa.API{mpesa.APIC2B, mpesa.APIB2C}}))
	client := sdkClient(t, srv, mpesa.GatewayMozambique)
	res, err := client.C2B(context.Background(), c2bRequest(mpesa.GatewayMozambique, ""))
	require.NoError(t, err)
	assert.True(t, res.Async())
	cb := waitCallbacks(t, srv, 1)[0]
	assert.Equal(t, res.ConversationID, cb.Params["input_OriginalConversationID"])
	assert.Equal(t, res.ThirdPartyConversationID, cb.Params["input_ThirdPartyReference"])
	st, err := client.Reconcile(context.Background(), mpesa.TransactionStatusRequest{QueryReference: res.ConversationID})
	require.NoError(t, err)
	assert.Equal(t, mpesa.StatusCompleted, st.TransactionStatus)
}

func TestSDKConcurrentClients(t *testing.T) {
	srv := newServer(t)
	oa := sdkClient(t, srv, mpesa.GatewayOpenAPI)
	mz := sdkClient(t, srv, mpesa.GatewayMozambique)
	var wg sync.WaitGroup
	ids := make(chan string, 40)
	for i := 0; i < 20; i++ {
		for _, c := range []*mpesa.Client{oa, mz} {
			wg.Add(1)
			go func(c *mpesa.Client) {
				defer wg.Done()
				res, err := c.C2B(context.Background(), c2bRequest(c.Gateway(), ""))
				if assert.NoError(t, err) {
					ids <- res.TransactionID
				}
			}(c)
		}
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		assert.False(t, seen[id], "TransactionID %s twice", id)
		seen[id] = true
	}
	assert.Len(t, seen, 40)
	assert.Len(t, srv.Transactions(), 40)
	assert.Equal(t, 1, srv.SessionRequests(), "concurrent callers share one getSession")
}
