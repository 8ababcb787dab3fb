package mpesatest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// listener is an application's Response URL. Each delivery gets the next
// answer of answers (the last one repeats); an answer of status 0 closes
// the connection without answering.
type listener struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	bodies  []map[string]string
	answers []ack
}

type ack struct {
	status int
	code   string // output_ResponseCode; "" sends a body that is not JSON
}

func newListener(t *testing.T, answers ...ack) *listener {
	l := &listener{t: t, answers: answers}
	if len(l.answers) == 0 {
		l.answers = []ack{{200, "0"}}
	}
	l.srv = httptest.NewServer(http.HandlerFunc(l.serve))
	t.Cleanup(l.srv.Close)
	return l
}

func (l *listener) serve(w http.ResponseWriter, r *http.Request) {
	assert.Equal(l.t, http.MethodPost, r.Method)
	assert.Equal(l.t, "application/json", r.Header.Get("Content-Type"))
	var body map[string]string
	assert.NoError(l.t, json.NewDecoder(r.Body).Decode(&body))
	l.mu.Lock()
	l.bodies = append(l.bodies, body)
	a := l.answers[0]
	if len(l.answers) > 1 {
		l.answers = l.answers[1:]
	}
	l.mu.Unlock()
	if a.status == 0 {
		conn, _, err := w.(http.Hijacker).Hijack()
		if assert.NoError(l.t, err) {
			conn.Close()
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	if a.code == "" {
		_, _ = w.Write([]byte("OK"))
		return
	}
	ref := body["input_ThirdPartyConversationID"]
	if ref == "" {
		ref = body["input_ThirdPartyReference"]
	}
	_ = json.NewEncoder(w).Encode(map[string]string{
		"output_OriginalConversationID":   body["input_OriginalConversationID"],
		"output_ResponseCode":             a.code,
		"output_ResponseDesc":             "Successfully Accepted Result",
		"output_ThirdPartyConversationID": ref,
	})
}

func (l *listener) received() []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]map[string]string(nil), l.bodies...)
}

func TestAsyncPaymentCallback(t *testing.T) {
	l := newListener(t)
	srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.srv.URL, Client: l.srv.Client(),
		APIs: []mpesa.API{mpesa.APIC2B}}))
	c := openAPI(t, srv, mpesa.MarketTanzania)

	status, out := c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("as1"))
	require.Equal(t, http.StatusCreated, status, out)
	assert.Equal(t, []string{"output_ConversationID", "output_ResponseCode", "output_ResponseDesc",
		"output_ThirdPartyConversationID"}, keys(out), "the asynchronous answer has no TransactionID")

	cbs := waitCallbacks(t, srv, 1)
	require.Len(t, cbs, 1)
	cb := cbs[0]
	assert.Equal(t, mpesa.APIC2B, cb.API)
	assert.Equal(t, l.srv.URL, cb.URL)
	id := cb.Params["input_TransactionID"]
	assert.Regexp(t, `^[0-9a-z]{12}$`, id)
	if diff := cmp.Diff(map[string]string{
		"input_OriginalConversationID":   out["output_ConversationID"],
		"input_TransactionID":            id,
		"input_ResultCode":               "INS-0",
		"input_ResultDesc":               "Request processed successfully",
		"input_ThirdPartyConversationID": "as1",
	}, cb.Params); diff != "" {
		t.Errorf("callback (-want +got):\n%s", diff)
	}
	assert.Equal(t, []map[string]string{cb.Params}, l.received(), "the listener got what the journal says")
	assert.True(t, cb.Acknowledged)
	assert.True(t, cb.Done)
	require.Len(t, cb.Attempts, 1)
	assert.Equal(t, http.StatusOK, cb.Attempts[0].Status)
	assert.Empty(t, cb.Attempts[0].Err)
	assert.Equal(t, map[string]string{
		"output_OriginalConversationID":   out["output_ConversationID"],
		"output_ResponseCode":             "0",
		"output_ResponseDesc":             "Successfully Accepted Result",
		"output_ThirdPartyConversationID": "as1",
	}, cb.Attempts[0].Ack)

	// Delivered means final: the status query finds it by the new ID.
	status, st := c.call(http.MethodGet, oaStatus.path, with(oaStatus.valid("asq"), "input_QueryReference", id))
	require.Equal(t, http.StatusOK, status, st)
	assert.Equal(t, "Completed", st["output_ResponseTransactionStatus"])
}

func TestAsyncFailureAndMozambiqueCallbacks(t *testing.T) {
	l := newListener(t)
	srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.srv.URL}))
	oa := openAPI(t, srv, mpesa.MarketTanzania)
	mz := mozambique(t, srv)

	status, _ := oa.call(http.MethodPost, "c2bPayment/singleStage/", with(c2bTZ("af1"), "input_CustomerMSISDN", mpesatest.MSISDNRejected))
	require.Equal(t, http.StatusCreated, status, "the outcome comes later")
	cbs := waitCallbacks(t, srv, 1)
	assert.Equal(t, "INS-6", cbs[0].Params["input_ResultCode"])
	assert.Equal(t, "Transaction Failed", cbs[0].Params["input_ResultDesc"])
	assert.Equal(t, "N/A", cbs[0].Params["input_TransactionID"])
	txn, _ := srv.Transaction("af1")
	assert.Equal(t, mpesa.StatusFailed, txn.Status)

	status, out := mz.call(http.MethodPost, "c2bPayment/singleStage/", mozC2B("maf1"))
	require.Equal(t, http.StatusCreated, status)
	assert.Regexp(t, `^[0-9a-f]{32}$`, out["output_ConversationID"], "the document's asynchronous ConversationID")
	assert.NotContains(t, out, "output_TransactionID")
	cbs = waitCallbacks(t, srv, 2)
	assert.Equal(t, []string{"input_OriginalConversationID", "input_ResultCode", "input_ResultDesc",
		"input_ThirdPartyReference", "input_TransactionID"}, keys(cbs[1].Params))
	assert.Equal(t, "0", cbs[1].Params["input_ResultCode"], "Mozambique writes success as 0")
	assert.Equal(t, "maf1", cbs[1].Params["input_ThirdPartyReference"])
	assert.Regexp(t, `^[0-9A-Z]{10}$`, cbs[1].Params["input_TransactionID"])
}

func TestAsyncProductCallbacks(t *testing.T) {
	l := newListener(t, ack{200, "INS-0"}, ack{200, "0"})
	srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.srv.URL,
		APIs: []mpesa.API{mpesa.APIDirectDebitQuery, mpesa.APITransactionStatus, mpesa.APIBeneficiaryName}}))
	c := openAPI(t, srv, mpesa.MarketGhana)

	// Products not listed answer synchronously.
	status, created := c.call(http.MethodPost, oaDDCreate.path, with(oaDDCreate.valid("ap1"), "input_ThirdPartyReference", "Gym1"))
	require.Equal(t, http.StatusCreated, status)
	require.NotEmpty(t, created["output_MandateID"])
	status, paid := c.call(http.MethodPost, "c2bPayment/singleStage/", with(c2bTZ("ap2"), "input_Country", "GHA", "input_Currency", "GHS"))
	require.Equal(t, http.StatusCreated, status)
	require.NotEmpty(t, paid["output_TransactionID"])

	// Query direct debit: input_ResponseCode, and an INS-0 acknowledgement
	// is accepted as the document's example has it.
	status, out := c.call(http.MethodGet, oaDDQuery.path, with(oaDDQuery.valid("ap3"), "input_ThirdPartyReference", "Gym1", "input_ServiceProviderCode", "000000"))
	require.Equal(t, http.StatusOK, status, out)
	cbs := waitCallbacks(t, srv, 1)
	p := cbs[0].Params
	assert.Equal(t, "INS-0", p["input_ResponseCode"])
	assert.NotContains(t, p, "input_ResultCode")
	assert.Equal(t, created["output_MandateID"], p["input_MandateID"])
	assert.Equal(t, "True", p["input_SufficientBalance"])
	assert.Equal(t, "Active", p["input_MandateStatus"])
	assert.True(t, cbs[0].Acknowledged)

	status, _ = c.call(http.MethodGet, oaStatus.path, with(oaStatus.valid("ap4"), "input_Country", "GHA", "input_QueryReference", "ap2"))
	require.Equal(t, http.StatusOK, status)
	cbs = waitCallbacks(t, srv, 2)
	assert.Equal(t, paid["output_TransactionID"], cbs[1].Params["input_OriginalTransactionID"])
	assert.Equal(t, "False", cbs[1].Params["input_Reversed"])

	status, _ = c.call(http.MethodGet, oaBeneficiary.path, oaBeneficiary.valid("ap5"))
	require.Equal(t, http.StatusOK, status)
	cbs = waitCallbacks(t, srv, 3)
	assert.Equal(t, "Jiazhen", cbs[2].Params["input_CustomerFirstName"])
	assert.Equal(t, "Wuu", cbs[2].Params["input_CustomerLastName"])
	assert.NotContains(t, cbs[2].Params, "input_TransactionID")
}

func TestCallbackRedelivery(t *testing.T) {
	t.Run("until acknowledged", func(t *testing.T) {
		l := newListener(t, ack{500, "0"}, ack{0, ""}, ack{200, ""}, ack{200, "1"}, ack{200, "0"})
		srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.srv.URL, MaxAttempts: 5, Backoff: time.Millisecond}))
		c := mozambique(t, srv)
		status, _ := c.call(http.MethodPost, "b2cPayment/", mozC2B("rd1"))
		require.Equal(t, http.StatusCreated, status)

		cb := waitCallbacks(t, srv, 1)[0]
		require.Len(t, cb.Attempts, 5)
		assert.True(t, cb.Acknowledged)
		assert.Equal(t, 500, cb.Attempts[0].Status)
		assert.Contains(t, cb.Attempts[0].Err, "500")
		assert.Zero(t, cb.Attempts[1].Status, "no answer at all")
		assert.NotEmpty(t, cb.Attempts[1].Err)
		assert.Nil(t, cb.Attempts[2].Ack)
		assert.Contains(t, cb.Attempts[2].Err, "not a JSON object")
		assert.Equal(t, "1", cb.Attempts[3].Ack["output_ResponseCode"])
		assert.Contains(t, cb.Attempts[3].Err, `"1"`)
		assert.Empty(t, cb.Attempts[4].Err)
		bodies := l.received()
		require.Len(t, bodies, 5)
		for _, b := range bodies {
			assert.Equal(t, cb.Params, b, "every delivery sends the same result")
		}
	})
	t.Run("bounded", func(t *testing.T) {
		l := newListener(t, ack{503, "0"})
		srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.srv.URL, MaxAttempts: 3, Backoff: time.Millisecond}))
		c := openAPI(t, srv, mpesa.MarketTanzania)
		status, _ := c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("rd2"))
		require.Equal(t, http.StatusCreated, status)
		cb := waitCallbacks(t, srv, 1)[0]
		assert.Len(t, cb.Attempts, 3)
		assert.False(t, cb.Acknowledged)
		assert.True(t, cb.Done)
		assert.Len(t, l.received(), 3)
	})
	t.Run("an INS-0 acknowledgement is refused outside query direct debit", func(t *testing.T) {
		l := newListener(t, ack{200, "INS-0"})
		srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.srv.URL, MaxAttempts: 2, Backoff: time.Millisecond}))
		c := openAPI(t, srv, mpesa.MarketTanzania)
		status, _ := c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("rd3"))
		require.Equal(t, http.StatusCreated, status)
		cb := waitCallbacks(t, srv, 1)[0]
		assert.False(t, cb.Acknowledged)
		assert.Len(t, cb.Attempts, 2)
	})
}

func TestAsyncPendingUntilDeliveredAndCloseAbandons(t *testing.T) {
	l := newListener(t)
	srv := mpesatest.NewServer(mpesatest.WithAsync(mpesatest.Async{URL: l.srv.URL, Delay: time.Hour, APIs: []mpesa.API{mpesa.APIC2B}}))
	defer srv.Close()
	c := openAPI(t, srv, mpesa.MarketTanzania)
	status, out := c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("pd1"))
	require.Equal(t, http.StatusCreated, status)

	status, st := c.call(http.MethodGet, oaStatus.path, with(oaStatus.valid("pdq"), "input_QueryReference", out["output_ConversationID"]))
	require.Equal(t, http.StatusOK, status, st)
	assert.Equal(t, "Pending", st["output_ResponseTransactionStatus"])
	status, rv := c.call(http.MethodPut, oaReversal.path, with(oaReversal.valid("pdr"), "input_TransactionID", "nothing1", "input_ReversalAmount", "-"))
	assert.Equal(t, http.StatusBadRequest, status, "no TransactionID exists before the result: %v", rv)

	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return while a delivery waited out its delay")
	}
	cbs := srv.Callbacks()
	require.Len(t, cbs, 1)
	assert.True(t, cbs[0].Done)
	assert.Empty(t, cbs[0].Attempts, "abandoned before the first attempt")
	assert.Empty(t, l.received())
}

func TestCloseCutsADeliveryInFlight(t *testing.T) {
	entered, finished := make(chan struct{}), make(chan struct{})
	blocking := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: only then does net/http watch for the
		// caller hanging up.
		_, _ = io.Copy(io.Discard, r.Body)
		close(entered)
		select { // answer nothing until the caller gives up
		case <-r.Context().Done():
		case <-finished:
		}
	}))
	defer blocking.Close()
	defer close(finished)
	srv := mpesatest.NewServer(mpesatest.WithAsync(mpesatest.Async{URL: blocking.URL, MaxAttempts: 5}))
	c := openAPI(t, srv, mpesa.MarketTanzania)
	status, _ := c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("cl1"))
	require.Equal(t, http.StatusCreated, status)
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the callback never arrived")
	}

	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not cut the delivery in flight")
	}
	cb := srv.Callbacks()[0]
	assert.True(t, cb.Done)
	assert.False(t, cb.Acknowledged)
	require.Len(t, cb.Attempts, 1, "no attempt after Close")
	assert.Contains(t, cb.Attempts[0].Err, "context canceled")
}

func TestAsyncMandateIsActiveOnceItsResultIsSent(t *testing.T) {
	l := newListener(t)
	srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.srv.URL, APIs: []mpesa.API{mpesa.APIDirectDebitCreate}}))
	c := openAPI(t, srv, mpesa.MarketGhana)
	status, out := c.call(http.MethodPost, oaDDCreate.path, with(oaDDCreate.valid("am1"), "input_ThirdPartyReference", "Flat9"))
	require.Equal(t, http.StatusCreated, status, out)
	assert.NotContains(t, out, "output_MandateID", "the mandate comes with the result")

	cb := waitCallbacks(t, srv, 1)[0]
	assert.Equal(t, []string{"input_MandateID", "input_MsisdnToken", "input_OriginalConversationID", "input_ResultCode",
		"input_ResultDesc", "input_ThirdPartyConversationID", "input_TransactionReference"}, keys(cb.Params))
	status, q := c.call(http.MethodGet, oaDDQuery.path, with(oaDDQuery.valid("am2"), "input_ThirdPartyReference", "Flat9",
		"input_ServiceProviderCode", "000000", "input_CustomerMSISDN", "-", "input_MsisdnToken", cb.Params["input_MsisdnToken"]))
	require.Equal(t, http.StatusOK, status, q)
	assert.Equal(t, cb.Params["input_MandateID"], q["output_MandateID"])
}

func TestAsyncMandateIsPendingUntilThen(t *testing.T) {
	l := newListener(t)
	srv := newServer(t, mpesatest.WithAsync(mpesatest.Async{URL: l.srv.URL, Delay: time.Hour, APIs: []mpesa.API{mpesa.APIDirectDebitCreate}}))
	c := openAPI(t, srv, mpesa.MarketGhana)
	status, _ := c.call(http.MethodPost, oaDDCreate.path, with(oaDDCreate.valid("ap1"), "input_ThirdPartyReference", "Flat10"))
	require.Equal(t, http.StatusCreated, status)
	status, q := c.call(http.MethodGet, oaDDQuery.path, with(oaDDQuery.valid("ap2"), "input_ThirdPartyReference", "Flat10", "input_ServiceProviderCode", "000000"))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "INS-58", q["output_ResponseCode"], "no active mandate before the result")
	status, _ = c.call(http.MethodPost, oaDDCreate.path, with(oaDDCreate.valid("ap3"), "input_ThirdPartyReference", "Flat10"))
	assert.Equal(t, http.StatusConflict, status, "the reference is taken while the creation is pending")
}
