package mpesatest

import (
	"crypto/rand"
	"math/big"
	"strconv"

	"github.com/mpesa-go/mpesa"
)

// Outcome is how a customer answers the gateway: the sandbox's pre-built
// cases.
type Outcome int

const (
	// OutcomeSuccess: the customer confirms; the transaction completes.
	OutcomeSuccess Outcome = iota
	// OutcomeRejected: the platform fails the transaction, 401 INS-6
	// "Transaction Failed" (status Failed). It applies to C2B, B2C and
	// direct debit creation and payment.
	OutcomeRejected
	// OutcomeCancelled: the customer declines the PIN prompt. Mozambique
	// answers 401 INS-5 "Transaction cancelled by customer"; OpenAPI,
	// whose documents have no INS-5, answers 401 INS-6. Status Cancelled.
	// It applies to C2B and direct debit creation (the mandate prompt).
	OutcomeCancelled
	// OutcomePromptTimeout: the customer does not answer the prompt, 408
	// INS-9 (status Expired). It applies to C2B and direct debit creation.
	OutcomePromptTimeout
	// OutcomeInsufficientBalance: the customer's wallet lacks funds, 422
	// INS-2006 (status Failed). It applies to C2B and direct debit
	// payment, and makes a direct-debit balance query answer
	// SufficientBalance "False".
	OutcomeInsufficientBalance
)

// String returns the name of the outcome ("rejected").
func (o Outcome) String() string {
	switch o {
	case OutcomeSuccess:
		return "success"
	case OutcomeRejected:
		return "rejected"
	case OutcomeCancelled:
		return "cancelled"
	case OutcomePromptTimeout:
		return "prompt timeout"
	case OutcomeInsufficientBalance:
		return "insufficient balance"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Test customers. Each number carries its response code: ...1 pays (the
// portal samples' own 000000000001, the Mozambique document's 258843330333),
// ...6 fails (INS-6), ...5 cancels (INS-5), ...9 times out (INS-9), ...2006
// lacks funds (INS-2006). The OpenAPI numbers are 12 digits as the portal's
// samples; any market accepts them.
const (
	MSISDNSuccess             = "000000000001"
	MSISDNRejected            = "000000000006"
	MSISDNCancelled           = "000000000005"
	MSISDNPromptTimeout       = "000000000009"
	MSISDNInsufficientBalance = "000000002006"

	MozambiqueMSISDNSuccess             = "258843330333"
	MozambiqueMSISDNRejected            = "258840000006"
	MozambiqueMSISDNCancelled           = "258840000005"
	MozambiqueMSISDNPromptTimeout       = "258840000009"
	MozambiqueMSISDNInsufficientBalance = "258840002006"
)

// Customer is a registered test customer.
type Customer struct {
	// Outcome is how the customer answers.
	Outcome Outcome
	// FirstName and LastName answer the beneficiary-name query (OpenAPI)
	// and, masked, the customer-name query (Mozambique). Empty names are
	// answered as "Test" and "Customer".
	FirstName, LastName string
	// Interactive makes a C2B payment of the customer wait for an answer
	// to its PIN prompt (AnswerPrompt, or the phone page of the control
	// plane) instead of ending at once as Outcome says; see Prompt.
	Interactive bool
}

func defaultCustomers() map[string]Customer {
	return map[string]Customer{
		MSISDNSuccess:                       {Outcome: OutcomeSuccess, FirstName: "Jiazhen", LastName: "Wuu"},
		MSISDNRejected:                      {Outcome: OutcomeRejected},
		MSISDNCancelled:                     {Outcome: OutcomeCancelled},
		MSISDNPromptTimeout:                 {Outcome: OutcomePromptTimeout},
		MSISDNInsufficientBalance:           {Outcome: OutcomeInsufficientBalance},
		MozambiqueMSISDNSuccess:             {Outcome: OutcomeSuccess},
		MozambiqueMSISDNRejected:            {Outcome: OutcomeRejected},
		MozambiqueMSISDNCancelled:           {Outcome: OutcomeCancelled},
		MozambiqueMSISDNPromptTimeout:       {Outcome: OutcomePromptTimeout},
		MozambiqueMSISDNInsufficientBalance: {Outcome: OutcomeInsufficientBalance},
	}
}

// SetCustomer registers or replaces a test customer. A number that was never
// registered behaves as OutcomeSuccess.
func (s *Server) SetCustomer(msisdn string, c Customer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.customers[msisdn] = c
}

func (s *Server) customerLocked(msisdn string) Customer {
	c := s.customers[msisdn]
	if c.FirstName == "" {
		c.FirstName = "Test"
	}
	if c.LastName == "" {
		c.LastName = "Customer"
	}
	return c
}

// failure returns the code and transaction status of an outcome on a
// gateway, or ok=false for success.
func failure(g mpesa.Gateway, o Outcome) (code string, st mpesa.TransactionStatus, ok bool) {
	switch o {
	case OutcomeRejected:
		return "INS-6", mpesa.StatusFailed, true
	case OutcomeCancelled:
		if g == mpesa.GatewayMozambique {
			return "INS-5", mpesa.StatusCancelled, true
		}
		return "INS-6", mpesa.StatusCancelled, true
	case OutcomePromptTimeout:
		return "INS-9", mpesa.StatusExpired, true
	case OutcomeInsufficientBalance:
		return "INS-2006", mpesa.StatusFailed, true
	}
	return "", "", false
}

// outcomeStatus is the transaction status a business result code leaves.
func outcomeStatus(code string) (mpesa.TransactionStatus, bool) {
	switch code {
	case "INS-5":
		return mpesa.StatusCancelled, true
	case "INS-6", "INS-2006":
		return mpesa.StatusFailed, true
	case "INS-9":
		return mpesa.StatusExpired, true
	}
	return "", false
}

// tx is one transaction the gateway carried out or failed.
type tx struct {
	scope    string // gateway and market: references are unique within it
	gw       mpesa.Gateway
	market   mpesa.Market
	api      mpesa.API
	id       string // TransactionID; "" when the transaction failed
	conv     string // ConversationID
	ref      string // ThirdPartyConversationID / ThirdPartyReference
	parties  []string
	amount   *big.Rat
	msisdn   string
	status   mpesa.TransactionStatus
	code     string // result code
	reversed bool
	// reversedAmount is what a reversal took back.
	reversedAmount *big.Rat
	original       *tx // of a reversal
}

// Transaction is what the simulator knows of one transaction.
type Transaction struct {
	Gateway mpesa.Gateway
	Market  mpesa.Market
	API     mpesa.API
	// TransactionID is empty for a transaction that failed.
	TransactionID  string
	ConversationID string
	// Reference is the caller's ThirdPartyConversationID (Mozambique:
	// ThirdPartyReference).
	Reference string
	Amount    string
	Status    mpesa.TransactionStatus
	// ResultCode is the code the transaction ended with ("INS-0").
	ResultCode string
	Reversed   bool
	// ReversedAmount is the amount a reversal took back, "" if none.
	ReversedAmount string
	// OriginalTransactionID is the TransactionID a reversal reversed.
	OriginalTransactionID string
}

func (t *tx) snapshot() Transaction {
	out := Transaction{
		Gateway: t.gw, Market: t.market, API: t.api,
		TransactionID: t.id, ConversationID: t.conv, Reference: t.ref,
		Status: t.status, ResultCode: t.code, Reversed: t.reversed,
	}
	if t.amount != nil {
		out.Amount = formatAmount(t.amount)
	}
	if t.reversedAmount != nil {
		out.ReversedAmount = formatAmount(t.reversedAmount)
	}
	if t.original != nil {
		out.OriginalTransactionID = t.original.id
	}
	return out
}

func formatAmount(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(2)
}

// mandate is a direct debit mandate.
type mandate struct {
	scope     string
	id        string // MandateID
	spc       string
	ref       string // ThirdPartyReference, the mandate reference
	msisdn    string
	txRef     string // output_TransactionReference
	firstDate string
	frequency string
	dayFrom   string
	dayTo     string
	expiry    string
	active    bool // false while an asynchronous creation is pending, and once cancelled
	cancelled bool
}

// ledger is the gateway's memory. It is guarded by Server.mu.
type ledger struct {
	txs        []*tx
	byID       map[string]*tx      // scope + TransactionID
	byRef      map[string]*tx      // scope + reference, the latest transaction
	byConv     map[string]*tx      // scope + ConversationID
	mandates   map[string]*mandate // scope + MandateID
	byMandate  map[string]*mandate // scope + shortcode + mandate reference, the latest
	tokens     map[string]string   // MsisdnToken -> MSISDN
	tokenOf    map[string]string   // MSISDN -> MsisdnToken
	mandateSeq int
}

func newLedger() ledger {
	return ledger{
		byID:       make(map[string]*tx),
		byRef:      make(map[string]*tx),
		byConv:     make(map[string]*tx),
		mandates:   make(map[string]*mandate),
		byMandate:  make(map[string]*mandate),
		tokens:     make(map[string]string),
		tokenOf:    make(map[string]string),
		mandateSeq: 15044, // the document's sample MandateID is 15045
	}
}

func scopeOf(g mpesa.Gateway, m mpesa.Market) string { return g.String() + "/" + string(m) + "/" }

// add records a transaction and indexes it.
func (l *ledger) add(t *tx) {
	l.txs = append(l.txs, t)
	if t.id != "" {
		l.byID[t.scope+t.id] = t
	}
	if t.ref != "" {
		l.byRef[t.scope+t.ref] = t
	}
	l.byConv[t.scope+t.conv] = t
}

// setID gives a transaction its TransactionID once it completes.
func (l *ledger) setID(t *tx, id string) {
	t.id = id
	l.byID[t.scope+id] = t
}

// find looks a transaction up by TransactionID, reference or ConversationID,
// the three values a status query takes.
func (l *ledger) find(scope, q string) *tx {
	if t := l.byID[scope+q]; t != nil {
		return t
	}
	if t := l.byRef[scope+q]; t != nil {
		return t
	}
	return l.byConv[scope+q]
}

func (l *ledger) findAny(q string) *tx {
	for i := len(l.txs) - 1; i >= 0; i-- {
		t := l.txs[i]
		if t.id == q || t.ref == q || t.conv == q {
			return t
		}
	}
	return nil
}

// token returns the MsisdnToken of a customer, making one the first time.
// Tokens look like the document's cvgwUBZ3lAO9ivwhWAFeng== but draw only
// from letters and digits: the documented rule ^[0-9a-zA-Z \w=]{1,26}$
// refuses base64's '+' and '/'.
func (l *ledger) token(msisdn string) string {
	if t, ok := l.tokenOf[msisdn]; ok {
		return t
	}
	t := randomString(alnum, 22) + "=="
	for l.tokens[t] != "" {
		t = randomString(alnum, 22) + "=="
	}
	l.tokens[t] = msisdn
	l.tokenOf[msisdn] = t
	return t
}

// Transactions returns every transaction the simulator has recorded, oldest
// first.
func (s *Server) Transactions() []Transaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Transaction, len(s.ledger.txs))
	for i, t := range s.ledger.txs {
		out[i] = t.snapshot()
	}
	return out
}

// Transaction returns the latest transaction whose TransactionID, reference
// or ConversationID is q, on either gateway.
func (s *Server) Transaction(q string) (Transaction, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.ledger.findAny(q); t != nil {
		return t.snapshot(), true
	}
	return Transaction{}, false
}

// SetTransactionStatus overrides the status that queries report for the
// transaction found as Transaction finds it: to make a payment Pending for a
// while, say, and then Completed. It reports whether the transaction exists.
func (s *Server) SetTransactionStatus(q string, st mpesa.TransactionStatus) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ledger.findAny(q)
	if t == nil {
		return false
	}
	t.status = st
	return true
}

// Identifiers. They have the shapes of the documents' samples.
const (
	hexLower   = "0123456789abcdef"
	alnum      = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	lowerAlnum = "0123456789abcdefghijklmnopqrstuvwxyz"
	upperAlnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

// randomString returns n characters of alphabet from crypto/rand.
func randomString(alphabet string, n int) string {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		panic("mpesatest: crypto/rand: " + err.Error())
	}
	for i, b := range buf {
		// The alphabets have at most 62 characters; the modulo bias does
		// not matter for test identifiers.
		buf[i] = alphabet[int(b)%len(alphabet)]
	}
	return string(buf)
}

// newConversationIDLocked returns a ConversationID unique in its scope:
// 32 hex digits (fd1e9143d22544459f7c66e1860ef276) on OpenAPI and in
// asynchronous Mozambique answers, AG_20180206_00005e7dccc6da08efa8 in
// synchronous Mozambique answers, as the documents show them.
func (s *Server) newConversationIDLocked(g mpesa.Gateway, scope string, async bool) string {
	for {
		var id string
		if g == mpesa.GatewayMozambique && !async {
			id = "AG_" + s.now().Format("20060102") + "_" + randomString(hexLower, 20)
		} else {
			id = randomString(hexLower, 32)
		}
		if s.ledger.byConv[scope+id] == nil {
			return id
		}
	}
}

// newTransactionIDLocked returns a TransactionID unique in its scope: twelve
// lower-case letters and digits on OpenAPI (hv9ahxcg4ccv), ten upper-case on
// Mozambique (5C1400CVRO).
func (s *Server) newTransactionIDLocked(g mpesa.Gateway, scope string) string {
	for {
		var id string
		if g == mpesa.GatewayMozambique {
			id = randomString(upperAlnum, 10)
		} else {
			id = randomString(lowerAlnum, 12)
		}
		if s.ledger.byID[scope+id] == nil {
			return id
		}
	}
}

// today is the current date as direct debit writes dates.
func (s *Server) today() string { return s.now().Format("20060102") }
