package mpesa

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Handler on Daraja's URLs: the acknowledgements of docs/gateways.md
// D28, deduplication on what Daraja repeats, Await on the IDs the request
// returned, the QueueTimeOutURL and the C2B ValidationURL.

const (
	darajaAccepted = `{"ResultCode":0,"ResultDesc":"Accepted"}`
	darajaSuccess  = `{"ResultCode":0,"ResultDesc":"Success"}`
)

func TestDarajaHandlerAcknowledgesAsDocumented(t *testing.T) {
	t.Parallel()
	for _, opts := range [][]HandlerOption{nil, {HandlerGateway(GatewayDaraja)}} {
		c := &whCounter{}
		h := newTestHandler(t, c.fn, opts...)
		for name, want := range map[string]string{
			"stk_success.json": darajaAccepted, "stk_cancelled.json": darajaAccepted, "b2c_success.json": darajaAccepted,
			"b2c_failure.json": darajaAccepted, "account_balance.json": darajaAccepted, "transaction_status.json": darajaAccepted,
			"c2b_v2_confirmation.json": darajaSuccess, "c2b_v1_confirmation.json": darajaSuccess,
		} {
			rec := whPost(h, darajaFixture(t, name))
			assert.Equal(t, http.StatusOK, rec.Code, name)
			assert.JSONEq(t, want, rec.Body.String(), name)
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		}
		require.Equal(t, 8, c.calls())
		for _, r := range c.results {
			assert.Equal(t, GatewayDaraja, r.Gateway, "inferred from the body without HandlerGateway")
		}
	}
	// A refusal keeps a shape the gateway reads as not accepted.
	h := newTestHandler(t, (&whCounter{err: errors.New("database down")}).fn, HandlerGateway(GatewayDaraja))
	rec := whPost(h, darajaFixture(t, "stk_success.json"))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.JSONEq(t, `{"ResultCode":1,"ResultDesc":"Not accepted, deliver again"}`, rec.Body.String())
	assert.NotContains(t, rec.Body.String(), "database")
	rec = whPost(h, []byte(`{"Result":{"ResultCode":0}}`))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.JSONEq(t, `{"ResultCode":1,"ResultDesc":"Malformed result"}`, rec.Body.String())
	// The validation body at a results URL is read as a confirmation; the
	// notice without QueueTimeoutNotices is not a result.
	rec = whPost(h, darajaFixture(t, "queue_timeout_flat.json"))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
}

// TestDarajaDeduplicatesOnTheRedeliveredKeys: a redelivery repeats the
// CheckoutRequestID, the OriginatorConversationID or the TransID; the
// ResultFunc runs once per result, and a different result of the same
// payment (a success after a failure) still runs.
func TestDarajaDeduplicatesOnTheRedeliveredKeys(t *testing.T) {
	t.Parallel()
	c := &whCounter{}
	h := newTestHandler(t, c.fn, HandlerGateway(GatewayDaraja))
	stk := func(receipt string, code int) []byte {
		return []byte(`{"Body":{"stkCallback":{"MerchantRequestID":"M-1","CheckoutRequestID":"ws_CO_DEDUP","ResultCode":` +
			strconv.Itoa(code) + `,"CallbackMetadata":{"Item":[{"Name":"MpesaReceiptNumber","Value":"` + receipt + `"}]}}}}`)
	}
	env := func(conv, code string) []byte {
		return []byte(`{"Result":{"ResultType":0,"ResultCode":` + code + `,"OriginatorConversationID":"O-DEDUP","ConversationID":"` + conv + `","TransactionID":"LKX1234567"}}`)
	}
	c2b := func(bill string) []byte {
		return []byte(`{"TransID":"RKDEDUP001","TransAmount":"10","BillRefNumber":"` + bill + `","BusinessShortCode":"600000"}`)
	}
	steps := []struct {
		body []byte
		runs bool
	}{
		{stk("LGR0000001", 1037), true},
		{stk("LGR0000001", 1037), false}, // redelivered
		{stk("LGR7OWQX0R", 0), true},     // the success after the failure
		{stk("LGR7OWQX0R", 0), false},
		{stk("LGR9999999", 0), false}, // the same push: the CheckoutRequestID decides
		{env("AG_1", "2001"), true},
		{env("AG_1", "2001"), false},
		{env("AG_2", "2001"), false}, // the OriginatorConversationID decides
		{env("AG_1", `"0"`), true},
		{env("AG_1", "0"), false}, // 0 as a number or a string is one code
		{c2b("INV-1"), true},
		{c2b("INV-2"), false}, // the TransID decides
	}
	for i, s := range steps {
		before := c.calls()
		rec := whPost(h, s.body)
		assert.Equal(t, http.StatusOK, rec.Code, "step %d", i)
		assert.Equal(t, s.runs, c.calls() == before+1, "step %d", i)
	}
	// The queue-timeout notices are deduplicated on their IDs.
	tc := &whCounter{}
	th := newTestHandler(t, tc.fn, QueueTimeoutNotices())
	for i := 0; i < 3; i++ {
		assert.Equal(t, http.StatusOK, whPost(th, darajaFixture(t, "queue_timeout_flat.json")).Code)
	}
	assert.Equal(t, 1, tc.calls())
}

// TestDarajaAwaitOnEveryID: Await finds a result by the IDs the request
// returned: an STK push's CheckoutRequestID and MerchantRequestID, a B2C
// payment's ConversationID and OriginatorConversationID, also when the
// queue timed out, and a C2B payment by its TransID and the
// ThirdPartyTransID the validation answered.
func TestDarajaAwaitOnEveryID(t *testing.T) {
	t.Parallel()
	f := newDarajaFake()
	client, _ := darajaClient(t, f)
	stk, err := client.C2B(context.Background(), C2BRequest{Amount: "1", CustomerMSISDN: testKenyaMSISDN, TransactionReference: "INV1"})
	require.NoError(t, err)
	b2c, err := client.B2C(context.Background(), B2CRequest{Amount: "10", CustomerMSISDN: testKenyaMSISDN, PaymentItemsDesc: "Salary",
		ThirdPartyConversationID: "16740-34861180-1"})
	require.NoError(t, err)

	hub := NewResults(0, 0)
	h := newTestHandler(t, (&whCounter{}).fn, HandlerGateway(GatewayDaraja), FeedResults(hub))
	th := newTestHandler(t, (&whCounter{}).fn, QueueTimeoutNotices(), FeedResults(hub))
	require.Equal(t, http.StatusOK, whPost(h, darajaFixture(t, "stk_success.json")).Code)
	require.Equal(t, http.StatusOK, whPost(h, darajaFixture(t, "c2b_v2_confirmation.json")).Code)
	require.Equal(t, http.StatusOK, whPost(th, []byte(`{"ConversationID":"`+b2c.ConversationID+`","OriginatorConversationID":"`+b2c.OriginatorConversationID+`"}`)).Code)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, id := range []string{stk.ConversationID, stk.CheckoutRequestID, stk.MerchantRequestID} {
		r, err := hub.Await(ctx, id)
		require.NoError(t, err, id)
		assert.Equal(t, CallbackSTK, r.Callback)
		assert.True(t, r.OK())
	}
	for _, id := range []string{b2c.ConversationID, b2c.OriginatorConversationID, b2c.ThirdPartyConversationID} {
		r, err := hub.Await(ctx, id)
		require.NoError(t, err, id)
		assert.ErrorIs(t, r.Err(), ErrOutcomeUnknown, "the queue timed out: reconcile")
	}
	for _, id := range []string{"RKL51ZDR4F", "ORDER-7731"} {
		r, err := hub.Await(ctx, id)
		require.NoError(t, err, id)
		assert.Equal(t, CallbackC2BConfirmation, r.Callback)
	}
	// The result of the B2C payment replaces its timeout notice.
	body := `{"Result":{"ResultType":0,"ResultCode":0,"OriginatorConversationID":"` + b2c.OriginatorConversationID +
		`","ConversationID":"` + b2c.ConversationID + `","TransactionID":"SG632NMUAB"}}`
	require.Equal(t, http.StatusOK, whPost(h, []byte(body)).Code)
	r, err := hub.Await(ctx, b2c.ConversationID)
	require.NoError(t, err)
	assert.True(t, r.OK())
}

func TestDarajaQueueTimeoutHandler(t *testing.T) {
	t.Parallel()
	c := &whCounter{}
	h := newTestHandler(t, c.fn, QueueTimeoutNotices())
	for _, name := range []string{"queue_timeout_flat.json", "queue_timeout_envelope.json"} {
		rec := whPost(h, darajaFixture(t, name))
		assert.Equal(t, http.StatusOK, rec.Code, name)
		assert.JSONEq(t, darajaAccepted, rec.Body.String())
	}
	require.Equal(t, 1, c.calls(), "both notices name the same request: one notice")
	require.Equal(t, http.StatusOK, whPost(h, []byte(`{"Result":{"ConversationID":"AG_2","OriginatorConversationID":"O-2","ResultCode":0}}`)).Code)
	require.Equal(t, 2, c.calls())
	for _, r := range c.results {
		assert.Equal(t, CallbackQueueTimeout, r.Callback)
		assert.False(t, r.OK())
		assert.ErrorIs(t, r.Err(), ErrOutcomeUnknown)
	}
	// Any JSON object with an ID is a notice; one without is refused.
	assert.Equal(t, http.StatusOK, whPost(h, []byte(`{"OriginatorConversationID":"O-9","Note":"timeout"}`)).Code)
	assert.Equal(t, http.StatusBadRequest, whPost(h, []byte(`{"Note":"timeout"}`)).Code)
	assert.Equal(t, http.StatusBadRequest, whPost(h, darajaFixture(t, "stk_success.json")).Code)

	_, err := NewHandler(c.fn, QueueTimeoutNotices(), HandlerGateway(GatewayOpenAPI))
	assert.ErrorContains(t, err, "QueueTimeoutNotices")
	_, err = NewHandler(c.fn, HandlerGateway(GatewayMozambique), QueueTimeoutNotices())
	assert.ErrorContains(t, err, "QueueTimeoutNotices")
}

func TestDarajaCallbackSourcesAllowList(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, (&whCounter{}).fn, HandlerGateway(GatewayDaraja), AllowSources(DarajaCallbackSources()...))
	from := func(addr string) func(*http.Request) { return func(r *http.Request) { r.RemoteAddr = addr } }
	assert.Equal(t, http.StatusOK, whPost(h, darajaFixture(t, "stk_success.json"), from("196.201.214.200:443")).Code)
	assert.Equal(t, http.StatusOK, whPost(h, darajaFixture(t, "stk_cancelled.json"), from("196.201.212.132:443")).Code)
	rec := whPost(h, darajaFixture(t, "b2c_success.json"), from("192.0.2.10:443"))
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.JSONEq(t, `{"ResultCode":1,"ResultDesc":"Forbidden"}`, rec.Body.String())
	// Overridable: the list is a plain slice.
	own := append(DarajaCallbackSources(), netip.MustParsePrefix("192.0.2.0/24"))
	h = newTestHandler(t, (&whCounter{}).fn, AllowSources(own...))
	assert.Equal(t, http.StatusOK, whPost(h, darajaFixture(t, "b2c_success.json"), from("192.0.2.10:443")).Code)
}

// validation posts a validation body to v and returns the status and body.
func validation(t *testing.T, v http.Handler, name string) (int, string) {
	t.Helper()
	rec := whPost(v, darajaFixture(t, name))
	return rec.Code, rec.Body.String()
}

func TestC2BValidatorDecides(t *testing.T) {
	t.Parallel()
	var got []*Result
	decide := C2BDecision{}
	v, err := NewC2BValidator(func(_ context.Context, p *Result) (C2BDecision, error) {
		got = append(got, p)
		return decide, nil
	})
	require.NoError(t, err)

	decide = AcceptC2B("")
	code, body := validation(t, v, "c2b_v2_validation.json")
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"ResultCode":"0","ResultDesc":"Accepted"}`, body)
	decide = AcceptC2B("ORDER-7731")
	_, body = validation(t, v, "c2b_v1_validation.json")
	assert.JSONEq(t, `{"ResultCode":"0","ResultDesc":"Accepted","ThirdPartyTransID":"ORDER-7731"}`, body)
	for _, c := range []C2BResultCode{C2BInvalidMSISDN, C2BInvalidAccountNumber, C2BInvalidAmount, C2BInvalidKYCDetails,
		C2BInvalidShortcode, C2BOtherError} {
		decide = RejectC2B(c)
		code, body = validation(t, v, "c2b_v2_validation.json")
		assert.Equal(t, http.StatusOK, code)
		assert.JSONEq(t, `{"ResultCode":"`+string(c)+`","ResultDesc":"Rejected"}`, body)
	}
	require.Len(t, got, 8, "a validation is a question: asked each time, never deduplicated")
	assert.Equal(t, CallbackC2BValidation, got[0].Callback)
	assert.Equal(t, "2547 ***** 126", got[0].MSISDN, "the number as it arrives, masked")
	assert.Equal(t, "94c2c311d522da950619227b3361752a42042db7e1e699b26e628305c68a88", got[1].MSISDN, "or hashed")
	assert.Equal(t, "Sample Transaction", got[0].TransactionReference)
	assert.Equal(t, "5.00", got[0].Amount)
	assert.False(t, got[0].OK(), "a question is not a paid result")

	// What M-Pesa sends back with the confirmation.
	h := newTestHandler(t, (&whCounter{}).fn, FeedResults(NewResults(0, 0)))
	assert.Equal(t, http.StatusOK, whPost(h, darajaFixture(t, "c2b_v2_confirmation.json")).Code)
}

func TestC2BValidatorFallsBack(t *testing.T) {
	t.Parallel()
	reject := RejectC2B(C2BOtherError)
	var cancelled atomic.Bool
	tests := []struct {
		name string
		fn   C2BValidateFunc
	}{
		{"too slow", func(ctx context.Context, _ *Result) (C2BDecision, error) {
			<-ctx.Done()
			cancelled.Store(true)
			return AcceptC2B(""), nil
		}},
		{"an error", func(context.Context, *Result) (C2BDecision, error) {
			return AcceptC2B(""), errors.New("orders database down")
		}},
		{"a panic", func(context.Context, *Result) (C2BDecision, error) { panic("boom") }},
		{"an undocumented code", func(context.Context, *Result) (C2BDecision, error) { return RejectC2B("C2B00099"), nil }},
		{"no decision", func(context.Context, *Result) (C2BDecision, error) { return C2BDecision{}, nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewC2BValidator(tt.fn, C2BFallback(reject, 50*time.Millisecond), HandlerLogger(discardLogger()))
			require.NoError(t, err)
			start := time.Now()
			code, body := validation(t, v, "c2b_v2_validation.json")
			assert.Less(t, time.Since(start), 2*time.Second)
			assert.Equal(t, http.StatusOK, code)
			assert.JSONEq(t, `{"ResultCode":"C2B00016","ResultDesc":"Rejected"}`, body)
			assert.NotContains(t, body, "database")
		})
	}
	assert.Eventually(t, cancelled.Load, time.Second, time.Millisecond, "the late function's context ends")

	// An unreadable question gets the fallback, with 400; a refused
	// request a rejection.
	v, err := NewC2BValidator(func(context.Context, *Result) (C2BDecision, error) { return RejectC2B(C2BInvalidAmount), nil },
		C2BFallback(AcceptC2B(""), time.Second), RequireToken(whToken), HandlerLogger(discardLogger()))
	require.NoError(t, err)
	rec := whPost(v, []byte(`{"Result":{"ConversationID":"AG_1"}}`))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.JSONEq(t, `{"ResultCode":"0","ResultDesc":"Accepted"}`, rec.Body.String())
	rec = whPost(v, darajaFixture(t, "c2b_v2_validation.json"), func(r *http.Request) { r.URL.Path = "/mpesa/validate/wrong" })
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.JSONEq(t, `{"ResultCode":"C2B00016","ResultDesc":"Rejected"}`, rec.Body.String())
	code, body := validation(t, v, "c2b_v2_validation.json")
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"ResultCode":"C2B00013","ResultDesc":"Rejected"}`, body)

	// The default: accept after DefaultC2BValidationDeadline.
	v, err = NewC2BValidator(func(context.Context, *Result) (C2BDecision, error) { return AcceptC2B(""), nil })
	require.NoError(t, err)
	assert.Equal(t, DefaultC2BValidationDeadline, v.fallbackAfter)
	assert.Equal(t, AcceptC2B(""), v.fallback)
	assert.Less(t, DefaultC2BValidationDeadline, 8*time.Second, "well inside M-Pesa's ~8 s")
}

func TestC2BValidatorOptions(t *testing.T) {
	t.Parallel()
	fn := func(context.Context, *Result) (C2BDecision, error) { return AcceptC2B(""), nil }
	c, _ := darajaClient(t, newDarajaFake())
	for _, o := range []struct {
		name string
		opt  HandlerOption
	}{
		{"Deduplicate", Deduplicate(NewMemoryDedup(0, 0))}, {"FeedResults", FeedResults(NewResults(0, 0))},
		{"VerifyWithStatusQuery", VerifyWithStatusQuery(c)}, {"QueueTimeoutNotices", QueueTimeoutNotices()},
		{"StatusResultWait", StatusResultWait(time.Second)}, {"HandlerGateway", HandlerGateway(GatewayOpenAPI)},
	} {
		_, err := NewC2BValidator(fn, o.opt)
		assert.ErrorContains(t, err, o.name, o.name)
	}
	_, err := NewC2BValidator(nil)
	assert.ErrorContains(t, err, "nil C2BValidateFunc")
	for _, opt := range []HandlerOption{C2BFallback(RejectC2B("C2B00099"), time.Second), C2BFallback(AcceptC2B(""), 8*time.Second),
		C2BFallback(AcceptC2B(""), 0)} {
		_, err := NewC2BValidator(fn, opt)
		assert.ErrorContains(t, err, "C2BFallback")
	}
	_, err = NewHandler((&whCounter{}).fn, C2BFallback(AcceptC2B(""), time.Second))
	assert.ErrorContains(t, err, "only a C2B validator")
	_, err = NewC2BValidator(fn, HandlerGateway(GatewayDaraja), RequireToken(whToken), AllowSources(DarajaCallbackSources()...),
		OnDelivery(func(context.Context, *Delivery) error { return nil }), MaxCallbackBytes(4096), CallbackReadTimeout(time.Second))
	assert.NoError(t, err, "the options that concern the request")

	// OnDelivery sees the question; when it fails, the fallback is
	// answered with 503.
	var seen []*Delivery
	v, err := NewC2BValidator(fn, HandlerLogger(discardLogger()), C2BFallback(RejectC2B(C2BOtherError), time.Second),
		OnDelivery(func(_ context.Context, d *Delivery) error {
			seen = append(seen, d)
			if len(seen) > 1 {
				return errors.New("archive down")
			}
			return nil
		}))
	require.NoError(t, err)
	code, _ := validation(t, v, "c2b_v2_validation.json")
	assert.Equal(t, http.StatusOK, code)
	code, body := validation(t, v, "c2b_v2_validation.json")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.JSONEq(t, `{"ResultCode":"C2B00016","ResultDesc":"Rejected"}`, body)
	require.Len(t, seen, 2)
	assert.Equal(t, CallbackC2BValidation, seen[0].Result.Callback)
}
