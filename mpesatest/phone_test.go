package mpesatest_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// pay starts a C2B in the background and returns where its outcome
// arrives.
func pay(client *mpesa.Client, req mpesa.C2BRequest) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := client.C2B(context.Background(), req)
		done <- err
	}()
	return done
}

func waitPrompt(t *testing.T, srv *mpesatest.Server) mpesatest.Prompt {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := srv.WaitPrompt(ctx)
	require.NoError(t, err, "no prompt opened")
	return p
}

// A synchronous C2B of an interactive customer stays open until the prompt
// is answered, and ends with the gateway's code for the answer: Mozambique
// INS-5 and OpenAPI INS-6 for a declined prompt, INS-9 for a timeout.
func TestInteractiveSynchronousC2B(t *testing.T) {
	cases := []struct {
		gw      mpesa.Gateway
		outcome mpesatest.Outcome
		code    string
		kind    error
		status  mpesa.TransactionStatus
	}{
		{mpesa.GatewayMozambique, mpesatest.OutcomeCancelled, "INS-5", mpesa.ErrCancelledByCustomer, mpesa.StatusCancelled},
		{mpesa.GatewayOpenAPI, mpesatest.OutcomeCancelled, "INS-6", mpesa.ErrTransactionFailed, mpesa.StatusCancelled},
		{mpesa.GatewayMozambique, mpesatest.OutcomePromptTimeout, "INS-9", mpesa.ErrPromptTimeout, mpesa.StatusExpired},
		{mpesa.GatewayOpenAPI, mpesatest.OutcomeSuccess, "INS-0", nil, mpesa.StatusCompleted},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.gw.String()+"/"+tc.outcome.String(), func(t *testing.T) {
			srv := newServer(t, mpesatest.WithInteractive())
			client := sdkClient(t, srv, tc.gw)
			req := c2bRequest(tc.gw, "")
			req.ThirdPartyConversationID = "REF1"
			done := pay(client, req)

			p := waitPrompt(t, srv)
			assert.Equal(t, tc.gw, p.Gateway)
			assert.Equal(t, "10", p.Amount)
			assert.False(t, p.Async)
			assert.Contains(t, p.Text, "Enter your M-Pesa PIN")
			assert.NotContains(t, p.MSISDN, req.CustomerMSISDN[3:9], "the number is masked")
			select {
			case err := <-done:
				t.Fatalf("the call ended before the prompt was answered: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
			tx, ok := srv.Transaction("REF1")
			require.True(t, ok)
			assert.Equal(t, mpesa.StatusPending, tx.Status, "pending while the prompt is open")

			require.NoError(t, srv.AnswerPrompt(p.ID, tc.outcome))
			err := <-done
			if tc.kind == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.kind)
				var e *mpesa.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, tc.code, e.Code)
			}
			tx, _ = srv.Transaction("REF1")
			assert.Equal(t, tc.status, tx.Status)
			assert.Empty(t, srv.Prompts())
			assert.ErrorIs(t, srv.AnswerPrompt(p.ID, tc.outcome), mpesatest.ErrNoPrompt)
		})
	}
}

func TestInteractiveCustomerAndDeadline(t *testing.T) {
	srv := newServer(t, mpesatest.WithPromptTimeout(150*time.Millisecond))
	const msisdn = "258841112223"
	srv.SetCustomer(msisdn, mpesatest.Customer{Interactive: true, Outcome: mpesatest.OutcomeInsufficientBalance})
	client := sdkClient(t, srv, mpesa.GatewayMozambique)

	// Another customer is not interactive.
	_, err := client.C2B(context.Background(), c2bRequest(mpesa.GatewayMozambique, ""))
	require.NoError(t, err)

	// Nobody answers: INS-9 once the deadline passes.
	start := time.Now()
	err = <-pay(client, c2bRequest(mpesa.GatewayMozambique, msisdn))
	require.ErrorIs(t, err, mpesa.ErrPromptTimeout)
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	// The PIN is entered, but the customer lacks the funds.
	done := pay(client, c2bRequest(mpesa.GatewayMozambique, msisdn))
	require.NoError(t, srv.AnswerPrompt(waitPrompt(t, srv).ID, mpesatest.OutcomeSuccess))
	require.ErrorIs(t, <-done, mpesa.ErrInsufficientBalance)
}

// The reference of a payment whose prompt is open is taken; and a client
// that gives up leaves the prompt open, whose answer decides the payment.
func TestInteractiveDuplicateAndAbandonedCall(t *testing.T) {
	srv := newServer(t, mpesatest.WithInteractive())
	client := sdkClient(t, srv, mpesa.GatewayMozambique)
	req := c2bRequest(mpesa.GatewayMozambique, "")
	req.ThirdPartyConversationID = "REF2"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := client.C2B(ctx, req)
		done <- err
	}()
	p := waitPrompt(t, srv)

	_, err := client.C2B(context.Background(), req)
	require.ErrorIs(t, err, mpesa.ErrDuplicate)

	cancel()
	require.Error(t, <-done)
	require.Len(t, srv.Prompts(), 1, "the prompt stays on the phone")
	require.NoError(t, srv.AnswerPrompt(p.ID, mpesatest.OutcomeSuccess))
	tx, ok := srv.Transaction("REF2")
	require.True(t, ok)
	assert.Equal(t, mpesa.StatusCompleted, tx.Status)
	assert.NotEmpty(t, tx.TransactionID)
}

// Asynchronously the call is answered at once, and the result callback,
// with the decline's code, follows the answer to the prompt.
func TestInteractiveAsynchronousC2B(t *testing.T) {
	results := make(chan *mpesa.Result, 1)
	h, err := mpesa.NewHandler(func(_ context.Context, res *mpesa.Result) error {
		results <- res
		return nil
	})
	require.NoError(t, err)
	listener := httptest.NewServer(h)
	t.Cleanup(listener.Close)

	srv := newServer(t, mpesatest.WithInteractive(), mpesatest.WithAsync(mpesatest.Async{URL: listener.URL}))
	client := sdkClient(t, srv, mpesa.GatewayMozambique)
	res, err := client.C2B(context.Background(), c2bRequest(mpesa.GatewayMozambique, ""))
	require.NoError(t, err)
	require.True(t, res.Async())

	p := waitPrompt(t, srv)
	assert.True(t, p.Async)
	assert.Equal(t, res.ConversationID, p.ConversationID)
	select {
	case r := <-results:
		t.Fatalf("a result arrived before the prompt was answered: %v", r)
	case <-time.After(50 * time.Millisecond):
	}
	require.NoError(t, srv.AnswerPrompt(p.ID, mpesatest.OutcomeCancelled))
	select {
	case r := <-results:
		assert.Equal(t, "INS-5", r.ResultCode)
		assert.ErrorIs(t, r.Err(), mpesa.ErrCancelledByCustomer)
		assert.Equal(t, res.ConversationID, r.OriginalConversationID)
	case <-time.After(5 * time.Second):
		t.Fatal("no result callback")
	}
	cbs := waitCallbacks(t, srv, 1)
	assert.True(t, cbs[0].Acknowledged)
}

// Reset and Close abandon open prompts: the waiting call is cut.
func TestResetAbandonsPrompts(t *testing.T) {
	srv := newServer(t, mpesatest.WithInteractive())
	// Reset forgets the session: without an activation window the client
	// fetches a new one at once instead of waiting for its session to
	// become live.
	client := sdkClient(t, srv, mpesa.GatewayOpenAPI, mpesa.WithMaxRetries(0), mpesa.WithSessionActivation(0))
	done := pay(client, c2bRequest(mpesa.GatewayOpenAPI, ""))
	waitPrompt(t, srv)
	srv.Reset()
	err := <-done
	require.ErrorIs(t, err, mpesa.ErrOutcomeUnknown, "the call got no answer")
	assert.Empty(t, srv.Prompts())
	assert.Empty(t, srv.Calls())
	assert.Empty(t, srv.Transactions())
	assert.Zero(t, srv.SessionRequests())

	srv.SetInteractive(false)
	_, err = client.C2B(context.Background(), c2bRequest(mpesa.GatewayOpenAPI, ""))
	require.NoError(t, err)

	srv.SetInteractive(true)
	done = pay(client, c2bRequest(mpesa.GatewayOpenAPI, ""))
	waitPrompt(t, srv)
	srv.Close()
	var e *mpesa.Error
	require.ErrorAs(t, <-done, &e)
	assert.NotEqual(t, http.StatusOK, e.HTTPStatus)
}

func TestAnswerPromptRefusesAnUnknownOutcome(t *testing.T) {
	srv := newServer(t)
	err := srv.AnswerPrompt("P1", mpesatest.Outcome(42))
	require.Error(t, err)
	assert.False(t, errors.Is(err, mpesatest.ErrNoPrompt))
}
