package mpesatest

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mpesa-go/mpesa"
)

// The STK push (M-Pesa Express) and its query, as the Daraja portal page
// MpesaExpressSimulate describes them (docs/gateways.md D6–D10).

// eat is East Africa Time, UTC+3 without daylight saving, the zone of
// Daraja's timestamps (docs/gateways.md D7).
var eat = time.FixedZone("EAT", 3*60*60)

const timestampLayout = "20060102150405"

// ruleLimitWindow is the STK rule of result 17: the same amount from the
// same customer within two minutes (docs/gateways.md D9, D10).
const ruleLimitWindow = 2 * time.Minute

// djSTK is one STK push.
type djSTK struct {
	t           *tx
	merchantID  string
	checkoutID  string
	shortcode   string
	phone       string
	amount      int64
	callbackURL string
	code        string // the result, decided when the prompt is sent
	desc        string
	open        bool // the prompt is on the customer's phone
}

// stkDescs are the ResultDesc texts of the portal's samples and of the
// error table; other codes take the mpesa package's description.
var stkDescs = map[string]string{
	"0":    "The service request is processed successfully.",
	"1":    "The balance is insufficient for the transaction.",
	"17":   "Rule limited.",
	"1032": "Request cancelled by user",
	"1037": "DS timeout user cannot be reached",
	"2001": "The initiator information is invalid.",
}

func resultDesc(api mpesa.API, code string, descs map[string]string) string {
	if d, ok := descs[code]; ok {
		return d
	}
	if info, ok := mpesa.LookupCode(mpesa.GatewayDaraja, api, code); ok {
		return info.Description
	}
	return "Result " + code
}

// Field rules of the portal pages (docs/gateways.md D6, D12–D19, D25).
func digits(v string, min, max int) bool {
	if len(v) < min || len(v) > max {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// msisdnOK: 254 and nine digits, 2547… and 2541… alike (docs/gateways.md D25).
func msisdnOK(v string) bool { return digits(v, 12, 12) && strings.HasPrefix(v, "254") }

func shortcodeOK(v string) bool { return digits(v, 5, 7) }

// textOK: min to max characters, no control characters.
func textOK(v string, min, max int) bool {
	if !utf8.ValidString(v) {
		return false
	}
	n := utf8.RuneCountInString(v)
	if n < min || n > max {
		return false
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// wholeAmount reads a whole number of shillings ("10", or 10 as a JSON
// number); ok is false for anything else ("10.00", "-1", "ten").
func wholeAmount(v string) (int64, bool) {
	if !digits(v, 1, 12) {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// bannedWords are the words Daraja refuses in registered URLs, in any case
// (docs/gateways.md D26).
var bannedWords = []string{"m-pesa", "mpesa", "safaricom", "exe", "exec", "cmd", "sql", "query"}

// urlOK reports whether Daraja takes a callback URL: no spaces, http or
// https with a host, https in production; strict (the C2B registered URLs,
// whose pages state it) also refuses the banned words.
func (s *Server) urlOK(raw string, strict bool) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] == 0x7f {
			return false
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return false
	}
	if u.Scheme == "http" && s.dj.cfg.Environment == mpesa.Production {
		return false
	}
	if strict {
		lower := strings.ToLower(raw)
		for _, w := range bannedWords {
			if strings.Contains(lower, w) {
				return false
			}
		}
	}
	return true
}

// stkCredentials checks the BusinessShortCode, Timestamp and Password of an
// STK push or query, in this order: a shortcode the simulator does not know
// is 500.001.1001 "Merchant does not exist"; a Timestamp that is not
// YYYYMMDDHHmmss, or that read in East Africa Time is further than
// Daraja.TimestampWindow from the clock (a timestamp of another zone),
// 400.002.02 "Bad Request - Invalid Timestamp"; a Password that is not
// base64(shortcode + passkey + timestamp) of that very Timestamp (another
// second, another passkey) 500.001.1001 "Wrong credentials"
// (docs/gateways.md D7, D9).
func (s *Server) stkCredentials(rq *djRequest) (djAnswer, bool) {
	p, d := rq.params, s.dj.cfg
	code, ts := p["BusinessShortCode"], p["Timestamp"]
	if code != d.Shortcode {
		return s.djError("500.001.1001", msgNoMerchant), false
	}
	at, err := time.ParseInLocation(timestampLayout, ts, eat)
	if err != nil || len(ts) != len(timestampLayout) {
		return s.bad("Timestamp"), false
	}
	if w := d.TimestampWindow; w >= 0 {
		if off := at.Sub(s.now()); off > w || off < -w {
			return s.bad("Timestamp"), false
		}
	}
	want := base64.StdEncoding.EncodeToString([]byte(d.Shortcode + string(d.Passkey) + ts))
	if p["Password"] != want {
		return s.djError("500.001.1001", msgWrongCreds), false
	}
	return djAnswer{}, true
}

// stkPush serves /mpesa/stkpush/v1/processrequest.
func (s *Server) stkPush(rq *djRequest) djAnswer {
	p := rq.params
	amount, amountOK := wholeAmount(p["Amount"])
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"BusinessShortCode", digits(p["BusinessShortCode"], 5, 6)},
		{"Password", p["Password"] != ""},
		{"Timestamp", p["Timestamp"] != ""},
		{"TransactionType", p["TransactionType"] == "CustomerPayBillOnline" || p["TransactionType"] == "CustomerBuyGoodsOnline"},
		{"Amount", amountOK},
		{"PartyA", msisdnOK(p["PartyA"])},
		{"PartyB", shortcodeOK(p["PartyB"])},
		{"PhoneNumber", msisdnOK(p["PhoneNumber"])},
		{"CallBackURL", s.urlOK(p["CallBackURL"], false)},
		{"AccountReference", textOK(p["AccountReference"], 1, 12)},
		{"TransactionDesc", p["TransactionDesc"] == "" || textOK(p["TransactionDesc"], 1, 13)},
	} {
		if !f.ok {
			return s.bad(f.name)
		}
	}
	if a, ok := s.stkCredentials(rq); !ok {
		return a
	}
	phone := p["PhoneNumber"]
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dj
	if open := d.prompts[phone]; open != nil && open.open {
		return s.djError("500.001.1001", msgLocked)
	}
	st := &djSTK{merchantID: s.djRequestID(), checkoutID: s.newCheckoutIDLocked(), shortcode: p["BusinessShortCode"],
		phone: phone, amount: amount, callbackURL: p["CallBackURL"], open: true}
	// The customer is asked on the phone page when the gateway has not
	// decided the push first (docs/gateways.md D9) and the customer is
	// interactive (Customer.Interactive, WithInteractive).
	ask := s.stkGatewayOutcomeLocked(rq, st) == "" && (s.ext.interactive || s.customers[phone].Interactive)
	if !ask {
		st.code = s.stkOutcomeLocked(rq, st)
		st.desc = resultDesc(mpesa.APIC2B, st.code, stkDescs)
	}
	scope := scopeOf(mpesa.GatewayDaraja, mpesa.MarketKenya)
	st.t = &tx{scope: scope, gw: mpesa.GatewayDaraja, market: mpesa.MarketKenya, api: mpesa.APIC2B,
		conv: st.checkoutID, ref: st.merchantID, parties: []string{st.shortcode, p["PartyB"]},
		msisdn: phone, amount: ratOf(amount), status: mpesa.StatusPending}
	s.ledger.add(st.t)
	d.stks[st.checkoutID] = st
	d.prompts[phone] = st

	rec := s.djCallback(rq.async, mpesa.APIC2B, KindSTK, st.callbackURL, resultAck)
	settle := func() { s.settleSTK(st, p["PartyB"], p["AccountReference"]) }
	build := func() jobj { return s.stkCallbackBody(st) }
	after := func() { s.djSend(rec, settle, build) }
	if ask {
		// The answer is written at once, as Daraja's is; the prompt opens
		// after it and the callback follows the customer's answer
		// (daraja_phone.go).
		after = func() { s.openSTKPrompt(rq, st, rec, settle, build) }
	}
	return djAnswer{
		status: http.StatusOK,
		body: flatObj("MerchantRequestID", st.merchantID, "CheckoutRequestID", st.checkoutID,
			"ResponseCode", "0", "ResponseDescription", msgSTKAccepted, "CustomerMessage", msgSTKAccepted),
		after: after,
	}
}

// stkOutcomeLocked decides how a push ends, in the order M-Pesa would find
// out: a scenario's code; the amount limits (2 below Ksh 1, 3 above Ksh
// 250,000); a pay bill push whose PartyB is not the shortcode (2028); the
// rule of 17; then the customer's answer (docs/gateways.md D9, D10, D25).
func (s *Server) stkOutcomeLocked(rq *djRequest, st *djSTK) string {
	if code := s.stkGatewayOutcomeLocked(rq, st); code != "" {
		return code
	}
	return stkCustomerCode(s.darajaOutcomeLocked(st.phone))
}

// stkGatewayOutcomeLocked is the part of stkOutcomeLocked that comes before
// the customer is asked: the code that ends the push whatever the customer
// would answer, or "" when the customer's answer decides.
func (s *Server) stkGatewayOutcomeLocked(rq *djRequest, st *djSTK) string {
	p := rq.params
	switch {
	case rq.force != "":
		return rq.force
	case st.amount < 1:
		return "2"
	case st.amount > 250_000:
		return "3"
	case p["TransactionType"] == "CustomerPayBillOnline" && p["PartyB"] != p["BusinessShortCode"]:
		return "2028"
	}
	now := s.now()
	for _, pay := range s.dj.payments {
		if pay.kind == mpesa.APIC2B && pay.msisdn == st.phone && pay.amount == st.amount && now.Sub(pay.at) < ruleLimitWindow {
			return "17"
		}
	}
	return ""
}

// stkCustomerCode is the STK result code of a customer's answer to the
// prompt (docs/gateways.md D9): 1032 cancelled, 1037 unreachable (the
// prompt times out), 1 insufficient balance, 2001 wrong PIN, else 0.
func stkCustomerCode(o Outcome) string {
	switch o {
	case OutcomeCancelled:
		return "1032"
	case OutcomePromptTimeout:
		return "1037"
	case OutcomeInsufficientBalance:
		return "1"
	case OutcomeRejected:
		return "2001"
	}
	return "0"
}

// settleSTK ends a push once the customer has answered: the prompt closes,
// the transaction takes its final status, and a success gets its receipt.
func (s *Server) settleSTK(st *djSTK, partyB, accountRef string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st.open = false
	st.t.code = st.code
	if st.t.status == mpesa.StatusPending {
		st.t.status = stkStatus(st.code)
	}
	if st.code != "0" {
		return
	}
	receipt := s.newReceiptLocked()
	s.ledger.setID(st.t, receipt)
	s.recordPaymentLocked(&djPayment{t: st.t, kind: mpesa.APIC2B, receipt: receipt, shortcode: partyB,
		msisdn: st.phone, amount: st.amount, credit: true, billRef: accountRef})
}

// stkStatus is the state an STK result code leaves.
func stkStatus(code string) mpesa.TransactionStatus {
	switch code {
	case "0":
		return mpesa.StatusCompleted
	case "1032":
		return mpesa.StatusCancelled
	case "1019", "1037":
		return mpesa.StatusExpired
	}
	return mpesa.StatusFailed
}

// stkCallbackBody is the STK callback (docs/gateways.md D8): ResultCode a
// number, CallbackMetadata.Item only on success, items by Name. s.mu is
// held.
func (s *Server) stkCallbackBody(st *djSTK) jobj {
	cb := jobj{{"MerchantRequestID", st.merchantID}, {"CheckoutRequestID", st.checkoutID},
		{"ResultCode", s.codeValue(st.code, true)}, {"ResultDesc", st.desc}}
	if st.code == "0" {
		items := jarr{
			jobj{{"Name", "Amount"}, {"Value", jnum(strconv.FormatInt(st.amount, 10) + ".00")}},
			jobj{{"Name", "MpesaReceiptNumber"}, {"Value", st.t.id}},
		}
		if s.dj.cfg.Shapes&ShapeMissingValue != 0 {
			items = append(items, jobj{{"Name", "Balance"}})
		}
		items = append(items,
			jobj{{"Name", "TransactionDate"}, {"Value", jnum(s.now().In(eat).Format(timestampLayout))}},
			jobj{{"Name", "PhoneNumber"}, {"Value", jnum(st.phone)}})
		cb = cb.with("CallbackMetadata", jobj{{"Item", items}})
	}
	return jobj{{"Body", jobj{{"stkCallback", cb}}}}
}

// stkQuery serves /mpesa/stkpushquery/v1/query: 500.001.1001 "The
// transaction is being processed" while the prompt is open, then the
// result, its codes as strings (docs/gateways.md D8). An unknown
// CheckoutRequestID, or one of another shortcode, is 400.002.02.
func (s *Server) stkQuery(rq *djRequest) djAnswer {
	p := rq.params
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"BusinessShortCode", digits(p["BusinessShortCode"], 5, 6)},
		{"Password", p["Password"] != ""},
		{"Timestamp", p["Timestamp"] != ""},
		{"CheckoutRequestID", p["CheckoutRequestID"] != ""},
	} {
		if !f.ok {
			return s.bad(f.name)
		}
	}
	if a, ok := s.stkCredentials(rq); !ok {
		return a
	}
	s.mu.Lock()
	st := s.dj.stks[p["CheckoutRequestID"]]
	var pending bool
	var merchant, code, desc string
	if st != nil {
		pending = st.t.status == mpesa.StatusPending
		merchant, code, desc = st.merchantID, st.code, st.desc
	}
	s.mu.Unlock()
	switch {
	case rq.force != "":
		if merchant == "" {
			merchant = s.djRequestID()
		}
		code, desc = rq.force, resultDesc(mpesa.APIC2B, rq.force, stkDescs)
	case st == nil || st.shortcode != p["BusinessShortCode"]:
		return s.bad("CheckoutRequestID")
	case pending:
		return s.djError("500.001.1001", msgProcessing)
	}
	return ok(flatObj("ResponseCode", "0", "ResponseDescription", "The service request has been accepted successsfully",
		"MerchantRequestID", merchant, "CheckoutRequestID", p["CheckoutRequestID"], "ResultCode", code, "ResultDesc", desc))
}

// newCheckoutIDLocked returns a CheckoutRequestID of the samples' shape,
// ws_CO_13012021093521236557: ws_CO_, the date and time, six digits.
func (s *Server) newCheckoutIDLocked() string {
	for {
		id := "ws_CO_" + s.now().In(eat).Format("02012006150405") + randomString(hexDigits, 6)
		if s.dj.stks[id] == nil {
			return id
		}
	}
}
