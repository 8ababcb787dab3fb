package mpesa

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// darajaLedger plays the Daraja that verification asks: the STK query
// answers from the pushes it knows, and the transaction status API
// acknowledges, then posts the status result of the transactions it knows to
// the Handler, on a request of its own, as Daraja posts it to the ResultURL
// (docs/gateways.md D8, D18).
type darajaLedger struct {
	mu sync.Mutex
	// stk maps a CheckoutRequestID to its STK result code; "" is "being
	// processed"; an unknown ID is refused as Daraja refuses it.
	stk map[string]string
	// stkAnswerID, when set, is the CheckoutRequestID every STK query
	// answer names.
	stkAnswerID string
	txs         []darajaTx
	// delay is how long the status result takes; silent sends none.
	delay  time.Duration
	silent bool

	handler atomic.Pointer[Handler]
	queries atomic.Int32 // transaction status queries
	n       int
}

// darajaTx is one transaction of the ledger, as the status result reports
// it.
type darajaTx struct {
	receipt, originator, conversation, amount, status string
	debit, credit                                     string
}

func newDarajaLedger() *darajaLedger { return &darajaLedger{stk: map[string]string{}} }

func (l *darajaLedger) add(tx darajaTx) {
	l.mu.Lock()
	l.txs = append(l.txs, tx)
	l.mu.Unlock()
}

// client returns a Daraja client on the ledger, with a hub.
func (l *darajaLedger) client(t testing.TB, opts ...Option) (*Client, *Results) {
	t.Helper()
	f := newDarajaFake()
	f.answers = []http.HandlerFunc{l.serve}
	hub := NewResults(0, 0)
	c, _ := darajaClient(t, f, append([]Option{WithResults(hub)}, opts...)...)
	return c, hub
}

func (l *darajaLedger) serve(w http.ResponseWriter, r *http.Request) {
	var p map[string]string
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		writeJSON(w, 400, darajaEnvelope("400.002.05", "Invalid Request Payload"))
		return
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/stkpushquery/v1/query"):
		l.mu.Lock()
		code, known := l.stk[p["CheckoutRequestID"]]
		id := orDefault(l.stkAnswerID, p["CheckoutRequestID"])
		l.mu.Unlock()
		switch {
		case !known:
			writeJSON(w, 400, darajaEnvelope("400.002.02", "Bad Request - Invalid CheckoutRequestID"))
		case code == "":
			writeJSON(w, 500, darajaEnvelope("500.001.1001", "The transaction is being processed"))
		default:
			writeJSON(w, 200, map[string]string{"ResponseCode": "0", "ResponseDescription": "accepted",
				"MerchantRequestID": "M-1", "CheckoutRequestID": id, "ResultCode": code, "ResultDesc": "d"})
		}
	case strings.HasSuffix(r.URL.Path, "/transactionstatus/v1/query"):
		l.queries.Add(1)
		l.mu.Lock()
		l.n++
		conv, orig := fmt.Sprintf("AG_20260101_%020d", l.n), fmt.Sprintf("9%03d-%06d-1", l.n, l.n)
		var tx *darajaTx
		for i := range l.txs {
			if (p["TransactionID"] != "" && l.txs[i].receipt == p["TransactionID"]) ||
				(p["OriginalConversationID"] != "" && l.txs[i].originator == p["OriginalConversationID"]) {
				tx = &l.txs[i]
			}
		}
		delay, silent := l.delay, l.silent
		l.mu.Unlock()
		writeJSON(w, 200, map[string]string{"ConversationID": conv, "OriginatorConversationID": orig,
			"ResponseCode": "0", "ResponseDescription": "Accept the service request successfully."})
		if !silent {
			body := statusResultBody(conv, orig, tx)
			go func() {
				time.Sleep(delay)
				if h := l.handler.Load(); h != nil {
					whPost(h, body)
				}
			}()
		}
	default:
		writeJSON(w, 200, darajaAnswerFor(r.URL.Path))
	}
}

// statusResultBody is the status result Daraja posts for a query: the
// transaction's state, or SFC_IC0003 for one it does not know.
func statusResultBody(conv, orig string, tx *darajaTx) []byte {
	if tx == nil {
		return []byte(fmt.Sprintf(`{"Result":{"ResultType":0,"ResultCode":"SFC_IC0003","ResultDesc":"The operator does not exist.",`+
			`"OriginatorConversationID":%q,"ConversationID":%q,"TransactionID":"MBN0000000"}}`, orig, conv))
	}
	ps := [][2]string{{"DebitPartyName", tx.debit}, {"CreditPartyName", tx.credit},
		{"OriginatorConversationID", tx.originator}, {"TransactionStatus", tx.status}, {"Amount", tx.amount},
		{"ConversationID", tx.conversation}, {"ReceiptNo", tx.receipt}}
	var items []string
	for _, kv := range ps {
		if kv[1] != "" {
			items = append(items, fmt.Sprintf(`{"Key":%q,"Value":%q}`, kv[0], kv[1]))
		}
	}
	return []byte(fmt.Sprintf(`{"Result":{"ResultType":0,"ResultCode":0,"ResultDesc":"The service request is processed successfully.",`+
		`"OriginatorConversationID":%q,"ConversationID":%q,"TransactionID":"MBN0000000",`+
		`"ResultParameters":{"ResultParameter":[%s]}}}`, orig, conv, strings.Join(items, ",")))
}

// darajaMerchant is a merchant's verifying Handler on the ledger, and what
// its ResultFunc saw.
type darajaMerchant struct {
	ledger  *darajaLedger
	client  *Client
	hub     *Results
	handler *Handler
	mu      sync.Mutex
	seen    []*Result
}

func newDarajaMerchant(t testing.TB, l *darajaLedger, opts ...HandlerOption) *darajaMerchant {
	t.Helper()
	m := &darajaMerchant{ledger: l}
	m.client, m.hub = l.client(t)
	h, err := NewHandler(func(_ context.Context, res *Result) error {
		m.mu.Lock()
		m.seen = append(m.seen, res)
		m.mu.Unlock()
		return nil
	}, append([]HandlerOption{VerifyWithStatusQuery(m.client), StatusResultWait(2 * time.Second),
		HandlerLogger(discardLogger())}, opts...)...)
	require.NoError(t, err)
	m.handler = h
	l.handler.Store(h)
	return m
}

func (m *darajaMerchant) post(body string) int { return whPost(m.handler, []byte(body)).Code }

// results returns what the ResultFunc saw.
func (m *darajaMerchant) results() []*Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Result(nil), m.seen...)
}

// verified returns the verified successes the ResultFunc saw.
func (m *darajaMerchant) verified() []*Result {
	var out []*Result
	for _, r := range m.results() {
		if r.OK() && r.Verified {
			out = append(out, r)
		}
	}
	return out
}

// stkBody is an STK callback.
func stkBody(checkout, receipt string, code int) string {
	return fmt.Sprintf(`{"Body":{"stkCallback":{"MerchantRequestID":"M-1","CheckoutRequestID":%q,"ResultCode":%d,"ResultDesc":"d",`+
		`"CallbackMetadata":{"Item":[{"Name":"Amount","Value":10},{"Name":"MpesaReceiptNumber","Value":%q}]}}}}`, checkout, code, receipt)
}

// envelopeBody is a Result envelope; extra is added to its members.
func envelopeBody(orig, conv, receipt, amount string, code int, extra string) string {
	return fmt.Sprintf(`{"Result":{"ResultType":0,"ResultCode":%d,"ResultDesc":"d","OriginatorConversationID":%q,"ConversationID":%q,`+
		`"TransactionID":%q,"ResultParameters":{"ResultParameter":[{"Key":"TransactionAmount","Value":%s},{"Key":"TransactionReceipt","Value":%q}%s]}}}`,
		code, orig, conv, receipt, amount, receipt, extra)
}

// c2bBody is a C2B confirmation.
func c2bBody(receipt, amount, bill string) string {
	return fmt.Sprintf(`{"TransactionType":"Pay Bill","TransID":%q,"TransTime":"20231121121325","TransAmount":%q,`+
		`"BusinessShortCode":%q,"BillRefNumber":%q,"MSISDN":"2547 ***** 126"}`, receipt, amount, testShortcode, bill)
}
