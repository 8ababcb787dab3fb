package mpesatest

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa"
)

// The JSON shapes of the control plane (control.go): the journal, the
// callbacks, the ledger, the prompts and the customers, with the enums
// spelled out ("mozambique-v1x", "c2b", "hang") so that any language can
// read them.

type scenarioView struct {
	API       string `json:"api,omitempty"`
	Code      string `json:"code,omitempty"`
	Fault     string `json:"fault,omitempty"`
	Status    int    `json:"status,omitempty"`
	Processed bool   `json:"processed,omitempty"`
	Count     int    `json:"count,omitempty"`
}

type callView struct {
	Seq      int                 `json:"seq"`
	Time     time.Time           `json:"time"`
	Gateway  string              `json:"gateway,omitempty"`
	API      string              `json:"api,omitempty"`
	Market   string              `json:"market,omitempty"`
	Method   string              `json:"method"`
	Path     string              `json:"path"`
	Query    string              `json:"query,omitempty"`
	Header   map[string][]string `json:"header,omitempty"`
	Params   map[string]string   `json:"params,omitempty"`
	Status   int                 `json:"status"`
	Code     string              `json:"code,omitempty"`
	Response map[string]string   `json:"response,omitempty"`
	Scenario *scenarioView       `json:"scenario,omitempty"`
}

func viewCall(seq int, c Call) callView {
	v := callView{
		Seq: seq, Time: c.Time, Method: c.Method, Path: c.Path, Query: c.Query,
		Header: c.Header, Params: c.Params, Status: c.Status, Response: c.Response,
	}
	if c.API != 0 {
		v.Gateway, v.API, v.Market = c.Gateway.String(), c.API.String(), string(c.Market)
	}
	v.Code = responseCode(c)
	if c.Scenario != nil {
		sv := viewScenario(*c.Scenario)
		v.Scenario = &sv
	}
	return v
}

func viewScenario(sc Scenario) scenarioView {
	v := scenarioView{Code: sc.Code, Status: sc.Status, Processed: sc.Processed}
	if sc.Fault != FaultNone {
		v.Fault, v.Code = faultName(sc.Fault), ""
	}
	return v
}

type attemptView struct {
	Time   time.Time         `json:"time"`
	Status int               `json:"status"`
	Ack    map[string]string `json:"ack,omitempty"`
	Error  string            `json:"error,omitempty"`
}

type callbackView struct {
	Seq          int               `json:"seq"`
	Gateway      string            `json:"gateway"`
	API          string            `json:"api"`
	Kind         string            `json:"kind,omitempty"` // Daraja's: Callback.Kind
	URL          string            `json:"url"`
	Params       map[string]string `json:"params"`
	Attempts     []attemptView     `json:"attempts"`
	Acknowledged bool              `json:"acknowledged"`
	Done         bool              `json:"done"`
}

func viewCallback(seq int, cb Callback) callbackView {
	v := callbackView{
		Seq: seq, Gateway: cb.Gateway.String(), API: cb.API.String(), Kind: cb.Kind, URL: logURL(cb.URL),
		Params: cb.Params, Acknowledged: cb.Acknowledged, Done: cb.Done,
		Attempts: make([]attemptView, len(cb.Attempts)),
	}
	for i, a := range cb.Attempts {
		v.Attempts[i] = attemptView{Time: a.Time, Status: a.Status, Ack: a.Ack, Error: a.Err}
	}
	return v
}

type txView struct {
	Gateway               string `json:"gateway"`
	Market                string `json:"market"`
	API                   string `json:"api"`
	TransactionID         string `json:"transaction_id,omitempty"`
	ConversationID        string `json:"conversation_id"`
	Reference             string `json:"reference,omitempty"`
	Amount                string `json:"amount,omitempty"`
	Status                string `json:"status"`
	ResultCode            string `json:"result_code,omitempty"`
	Reversed              bool   `json:"reversed"`
	ReversedAmount        string `json:"reversed_amount,omitempty"`
	OriginalTransactionID string `json:"original_transaction_id,omitempty"`
}

func viewTx(t Transaction) txView {
	return txView{
		Gateway: t.Gateway.String(), Market: string(t.Market), API: t.API.String(),
		TransactionID: t.TransactionID, ConversationID: t.ConversationID, Reference: t.Reference,
		Amount: t.Amount, Status: string(t.Status), ResultCode: t.ResultCode, Reversed: t.Reversed,
		ReversedAmount: t.ReversedAmount, OriginalTransactionID: t.OriginalTransactionID,
	}
}

type promptView struct {
	ID                   string    `json:"id"`
	Gateway              string    `json:"gateway"`
	Market               string    `json:"market"`
	API                  string    `json:"api"`
	MSISDN               string    `json:"msisdn"`
	Amount               string    `json:"amount"`
	Currency             string    `json:"currency"`
	ServiceProviderCode  string    `json:"service_provider_code"`
	TransactionReference string    `json:"transaction_reference"`
	Reference            string    `json:"reference"`
	ConversationID       string    `json:"conversation_id"`
	Async                bool      `json:"async"`
	Text                 string    `json:"text"`
	Opened               time.Time `json:"opened"`
	Deadline             time.Time `json:"deadline"`
}

func viewPrompt(p Prompt) promptView {
	return promptView{
		ID: p.ID, Gateway: p.Gateway.String(), Market: string(p.Market), API: p.API.String(),
		MSISDN: p.MSISDN, Amount: p.Amount, Currency: p.Currency, ServiceProviderCode: p.ServiceProviderCode,
		TransactionReference: p.TransactionReference, Reference: p.Reference, ConversationID: p.ConversationID,
		Async: p.Async, Text: p.Text, Opened: p.Opened, Deadline: p.Deadline,
	}
}

// darajaInfo is the Daraja gateway's part of GET /_sim/.
func (s *Server) darajaInfo(base string) gatewayInfo {
	d := s.dj.cfg
	env := "sandbox"
	if d.Environment == mpesa.Production {
		env = "production"
	}
	return gatewayInfo{
		BaseURL: base, Paths: "/oauth/v1/generate, /mpesa/{api}/v{n}/..., /pulltransactions/v1/...",
		Environment: env, ServiceProviderCode: d.Shortcode,
		ConsumerSecret: string(d.ConsumerSecret), Passkey: string(d.Passkey),
		InitiatorName: d.Initiator, InitiatorPassword: string(d.InitiatorPassword),
		Certificate: s.Certificate(), ResultURL: d.ResultURL, QueueTimeoutURL: d.QueueTimeoutURL,
	}
}

type customerView struct {
	MSISDN      string `json:"msisdn"`
	Outcome     string `json:"outcome"`
	FirstName   string `json:"first_name,omitempty"`
	LastName    string `json:"last_name,omitempty"`
	Interactive bool   `json:"interactive"`
	// Does says what a C2B of the customer does.
	Does string `json:"does"`
}

// responseCode is the code of a call's answer: output_ResponseCode on the
// INS gateways; on Daraja the ResponseCode of an answer, else the
// errorCode of the error envelope (docs/gateways.md D23).
func responseCode(c Call) string {
	for _, k := range []string{"output_ResponseCode", "ResponseCode", "errorCode"} {
		if code, ok := c.Response[k]; ok {
			return code
		}
	}
	return ""
}

// Customers returns the registered test customers by MSISDN: the
// documents' pre-built cases, the Daraja test customers (DarajaMSISDN…),
// and those of SetCustomer, which replace them.
func (s *Server) Customers() map[string]Customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Customer, len(s.customers)+len(darajaCustomers))
	for k, o := range darajaCustomers {
		out[k] = Customer{Outcome: o}
	}
	for k, c := range s.customers {
		out[k] = c
	}
	return out
}

func (s *Server) customerViews() []customerView {
	cs := s.Customers()
	out := make([]customerView, 0, len(cs))
	for msisdn, c := range cs {
		out = append(out, customerView{
			MSISDN: msisdn, Outcome: outcomeName(c.Outcome), FirstName: c.FirstName, LastName: c.LastName,
			Interactive: c.Interactive, Does: OutcomeDoes(c.Outcome, gatewayOfMSISDN(msisdn)),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MSISDN < out[j].MSISDN })
	return out
}

// gatewayOfMSISDN guesses the gateway a test number is for: Mozambique
// numbers start with 258, Kenyan (Daraja) ones with 254.
func gatewayOfMSISDN(msisdn string) mpesa.Gateway {
	switch {
	case strings.HasPrefix(msisdn, "258"):
		return mpesa.GatewayMozambique
	case strings.HasPrefix(msisdn, "254"):
		return mpesa.GatewayDaraja
	}
	return mpesa.GatewayOpenAPI
}

// OutcomeDoes says in a few words what a C2B payment of a customer with
// outcome o does on gateway g ("declines the PIN prompt: 401 INS-5"), for
// a list of test customers. On Daraja, where the C2B is an STK push, it
// gives the STK callback's ResultCode ("cancels the prompt: 1032").
func OutcomeDoes(o Outcome, g mpesa.Gateway) string {
	if g == mpesa.GatewayDaraja {
		return darajaDoes(o)
	}
	code, _, failed := failure(g, o)
	if !failed {
		return "pays: 201 INS-0"
	}
	status := ""
	if info, ok := mpesa.LookupCode(g, mpesa.APIC2B, code); ok {
		status = strconv.Itoa(info.HTTPStatus) + " "
	}
	switch o {
	case OutcomeRejected:
		return "the platform fails the payment: " + status + code
	case OutcomeCancelled:
		return "declines the PIN prompt: " + status + code
	case OutcomePromptTimeout:
		return "lets the PIN prompt time out: " + status + code
	case OutcomeInsufficientBalance:
		return "lacks the funds: " + status + code
	}
	return code
}

// darajaDoes is OutcomeDoes on Daraja.
func darajaDoes(o Outcome) string {
	code := stkCustomerCode(o)
	switch o {
	case OutcomeCancelled:
		return "cancels the prompt: " + code
	case OutcomePromptTimeout:
		return "cannot be reached: " + code
	case OutcomeInsufficientBalance:
		return "lacks the funds: " + code
	case OutcomeRejected:
		return "enters a wrong PIN: " + code
	}
	return "pays: " + code
}

// Names of the enums as the control plane spells them: the String of each
// value, with spaces turned into underscores ("prompt_timeout").

func faultName(f Fault) string     { return strings.ReplaceAll(f.String(), " ", "_") }
func outcomeName(o Outcome) string { return strings.ReplaceAll(o.String(), " ", "_") }

// normName folds a name as a user may write it: case, '-', '_' and ' '
// do not matter.
func normName(s string) string {
	return strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.ToLower(strings.TrimSpace(s)))
}

// parseAPI finds an API by its String ("c2b", "transactionStatus"). It
// walks the API values until their String is the fallback "api(N)", so
// that APIs added to package mpesa are found without a list here.
func parseAPI(name string) (mpesa.API, bool) {
	n := normName(name)
	for a := mpesa.API(1); a < 1000; a++ {
		s := a.String()
		if strings.HasPrefix(s, "api(") {
			break
		}
		if normName(s) == n {
			return a, true
		}
	}
	return 0, false
}

// allAPIs lists the APIs of package mpesa, as parseAPI finds them.
func allAPIs() []mpesa.API {
	var out []mpesa.API
	for a := mpesa.API(1); a < 1000 && !strings.HasPrefix(a.String(), "api("); a++ {
		out = append(out, a)
	}
	return out
}

func parseFault(name string) (Fault, bool) {
	n := normName(name)
	for f := FaultNone; f <= lastFault; f++ {
		if normName(f.String()) == n {
			return f, true
		}
	}
	return 0, false
}

// parseOutcome reads an outcome, or an answer to a prompt: "pin" (the
// customer enters the PIN), "decline", "timeout".
func parseOutcome(name string) (Outcome, bool) {
	switch n := normName(name); n {
	case "pin", "enterpin", "accept", "confirm":
		return OutcomeSuccess, true
	case "decline", "declined", "cancel":
		return OutcomeCancelled, true
	case "timeout", "timedout", "expire":
		return OutcomePromptTimeout, true
	default:
		for o := OutcomeSuccess; o <= OutcomeInsufficientBalance; o++ {
			if normName(o.String()) == n {
				return o, true
			}
		}
	}
	return 0, false
}
