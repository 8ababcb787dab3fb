package mpesa

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// whToken is the token of the tests that use RequireToken; no log line or
// answer may contain it.
// statusGateway answers status queries on a fake gateway with what the
// test sets.
type statusGateway struct {
	*fakeGateway
	mu      sync.Mutex
	status  int
	answer  map[string]string
	queries []string
}

func newStatusGateway(t *testing.T, path string, openAPI bool) *statusGateway {
	s := &statusGateway{fakeGateway: newFakeGateway(t), status: 200}
	s.handle("GET", path, func(w http.ResponseWriter, r *http.Request) {
		if openAPI {
			if _, ok := s.session(w, r); !ok {
				return
			}
		}
		s.mu.Lock()
		s.queries = append(s.queries, r.URL.Query().Get("input_QueryReference"))
		status, answer := s.status, s.answer
		s.mu.Unlock()
		writeJSON(w, status, answer)
	})
	return s
}

func (s *statusGateway) set(status int, answer map[string]string) {
	s.mu.Lock()
	s.status, s.answer = status, answer
	s.mu.Unlock()
}

func (s *statusGateway) queried() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

// statusAnswer is a synchronous status answer about the transaction of
// conversation conv.
func statusAnswer(conv, status, origTx, reversed string) map[string]string {
	m := map[string]string{
		"output_ResponseCode": "INS-0", "output_ResponseDesc": "Request processed successfully",
		"output_ConversationID": conv, "output_ThirdPartyConversationID": "q1ref",
		"output_ResponseTransactionStatus": status,
	}
	if origTx != "" {
		m["output_OriginalTransactionID"] = origTx
	}
	if reversed != "" {
		m["output_Reversed"] = reversed
	}
	return m
}

func TestVerifyWithStatusQueryOpenAPI(t *testing.T) {
	t.Parallel()
	g := newStatusGateway(t, openAPIPath("queryTransactionStatus/"), true)
	client := g.openAPIClient(t, WithServiceProviderCode("000000"), WithMaxRetries(0))
	c := &whCounter{}
	var logs bytes.Buffer
	h := newTestHandler(t, c.fn, VerifyWithStatusQuery(client), HandlerLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	body := whFixture(t, "openapi/c2b.json")

	steps := []struct {
		name   string
		status int
		answer map[string]string
		want   int
		calls  int
	}{
		{"still pending: come back later", 200, statusAnswer(docOCID, "Pending", "", ""), 503, 0},
		{"N/A: come back later", 200, statusAnswer(docOCID, "N/A", "", ""), 503, 0},
		{"not found yet: come back later", 400, map[string]string{"output_ResponseCode": "INS-23", "output_ResponseDesc": "Transaction not found"}, 503, 0},
		{"gateway error: come back later", 500, map[string]string{"output_ResponseCode": "INS-1", "output_ResponseDesc": "Internal Error"}, 503, 0},
		{"asynchronous status answer cannot verify", 200, map[string]string{"output_ResponseCode": "INS-0", "output_ConversationID": "q"}, 503, 0},
		{"failed: contradiction", 200, statusAnswer(docOCID, "Failed", "", ""), 422, 0},
		{"cancelled: contradiction", 200, statusAnswer(docOCID, "Cancelled", "", ""), 422, 0},
		{"undocumented state: contradiction", 200, statusAnswer(docOCID, "Weird", "", ""), 422, 0},
		{"completed but reversed: contradiction", 200, statusAnswer(docOCID, "Completed", "hv9ahxcg4ccv", "True"), 422, 0},
		{"completed, other transaction: contradiction", 200, statusAnswer(docOCID, "Completed", "OTHER123", "False"), 422, 0},
		{"completed, other conversation: contradiction", 200, statusAnswer("another-conversation", "Completed", "hv9ahxcg4ccv", "False"), 422, 0},
		{"completed: confirmed", 200, statusAnswer(docOCID, "Completed", "hv9ahxcg4ccv", "False"), 200, 1},
		{"confirmed once, then deduplicated without a query", 200, statusAnswer(docOCID, "Failed", "", ""), 200, 1},
	}
	queries := 0
	for _, st := range steps {
		g.set(st.status, st.answer)
		rec := whPost(h, body)
		assert.Equal(t, st.want, rec.Code, st.name)
		assert.Equal(t, st.calls, c.calls(), st.name)
		if st.want == 503 {
			assert.NotEmpty(t, rec.Header().Get("Retry-After"), st.name)
		}
		if st.want != 200 {
			assert.Contains(t, rec.Body.String(), `"output_ResponseCode":"1"`, st.name)
			assert.NotContains(t, rec.Body.String(), "Internal Error", st.name)
		}
		if !strings.Contains(st.name, "deduplicated") {
			queries++
		}
		assert.Len(t, g.queried(), queries, st.name)
	}
	for _, q := range g.queried() {
		// What the merchant knows, not what the body claims: a forged
		// success carrying another payment's TransactionID is asked about
		// by its own reference (hardening issue, item 2).
		assert.Equal(t, docRef, q, "the query asks for the result's reference")
	}
	require.Equal(t, 1, c.calls())
	assert.True(t, c.results[0].Verified)
	assert.Contains(t, logs.String(), "contradicted")

	// A failed result moves no money: it is not queried.
	before := len(g.queried())
	c2 := &whCounter{}
	// The OpenAPI fixtures share one conversation ID: no deduplication.
	h2 := newTestHandler(t, c2.fn, VerifyWithStatusQuery(client), Deduplicate(noDedup{}))
	require.Equal(t, 200, whPost(h2, whFixture(t, "variants/openapi_insufficient_balance.json")).Code)
	// Nor is a query's result.
	require.Equal(t, 200, whPost(h2, whFixture(t, "openapi/query_beneficiary_name.json")).Code)
	require.Equal(t, 200, whPost(h2, whFixture(t, "openapi/direct_debit_creation.json")).Code)
	assert.Len(t, g.queried(), before)
	require.Equal(t, 3, c2.calls())
	for _, r := range c2.results {
		assert.False(t, r.Verified)
	}
	assert.ErrorIs(t, c2.results[0].Err(), ErrInsufficientBalance)

	// A direct debit payment moves money and is queried.
	g.set(200, statusAnswer(docOCID, "Completed", "hv9ahxcg4ccv", "False"))
	require.Equal(t, 200, whPost(h2, whFixture(t, "openapi/direct_debit_payment.json")).Code)
	assert.Len(t, g.queried(), before+1)
	assert.True(t, c2.results[3].Verified)
}

func TestVerifyWithStatusQueryMozambique(t *testing.T) {
	t.Parallel()
	g := newStatusGateway(t, "/ipg/v1x/queryTransactionStatus/", false)
	client := g.mozClient(t, WithServiceProviderCode("171717"), WithMaxRetries(0))
	c := &whCounter{}
	h := newTestHandler(t, c.fn, VerifyWithStatusQuery(client))
	body := whFixture(t, "mozambique/c2b.json")

	g.set(200, statusAnswer("241fasif1f1n92fn129nfasnf91nf1", "Expired", "", ""))
	assert.Equal(t, 422, whPost(h, body).Code)
	g.set(200, statusAnswer("241fasif1f1n92fn129nfasnf91nf1", "Completed", "", ""))
	assert.Equal(t, 200, whPost(h, body).Code)
	require.Equal(t, 1, c.calls())
	assert.True(t, c.results[0].Verified)
	assert.Equal(t, GatewayMozambique, c.results[0].Gateway)
	assert.Equal(t, []string{"11114", "11114"}, g.queried())

	// Without a TransactionID the query asks for the conversation.
	noTx := []byte(`{"input_OriginalConversationID":"AG_20180206_00005e7dccc6da08efa8","input_ThirdPartyReference":"r9","input_ResultCode":"0"}`)
	res, err := ParseResult(noTx)
	require.NoError(t, err)
	require.False(t, res.namesTransaction(), "nothing to verify without a TransactionID")
	assert.Equal(t, 200, whPost(h, noTx).Code)
	assert.Len(t, g.queried(), 2)
}

// TestVerifyWithStatusQueryTransportFailure uses an httpmock transport,
// injected into this test's client only, for failures a server cannot
// easily produce.
func TestVerifyWithStatusQueryTransportFailure(t *testing.T) {
	t.Parallel()
	_, pub := testKey(t)
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder("GET", "=~/ipg/v1x/queryTransactionStatus/",
		httpmock.NewErrorResponder(errors.New("read tcp: connection reset by peer")))
	client, err := NewClient(testAPIKey, WithGateway(GatewayMozambique), WithPublicKey(pub),
		WithHTTPClient(&http.Client{Transport: mt}), WithServiceProviderCode("171717"), WithMaxRetries(0))
	require.NoError(t, err)
	c := &whCounter{}
	h := newTestHandler(t, c.fn, VerifyWithStatusQuery(client))
	body := whFixture(t, "mozambique/c2b.json")

	rec := whPost(h, body)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.NotContains(t, rec.Body.String(), "reset")
	assert.Zero(t, c.calls())
	assert.Equal(t, 1, mt.GetTotalCallCount())

	// The claim was released: the redelivery is verified again.
	mt.RegisterResponder("GET", "=~/ipg/v1x/queryTransactionStatus/",
		httpmock.NewStringResponder(200, `{"output_ResponseCode":"INS-0","output_ResponseTransactionStatus":"Completed","output_ConversationID":"241fasif1f1n92fn129nfasnf91nf1","output_ThirdPartyReference":"q"}`))
	assert.Equal(t, http.StatusOK, whPost(h, body).Code)
	assert.Equal(t, 1, c.calls())
	assert.Equal(t, 2, mt.GetTotalCallCount())
}
