package mpesatest

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/mpesa-go/mpesa"
)

// C2B register URL and simulate, with the validation and confirmation
// callbacks they lead to (portal pages CustomerToBusiness and
// CustomerToBusinessRegisterURL; docs/gateways.md D12–D14), and the Pull
// API (portal page PullTransaction; docs/gateways.md D22).

// djC2BURLs are a shortcode's registered URLs.
type djC2BURLs struct {
	version      int    // of the register path: v1 callbacks hash the MSISDN, v2 mask it
	responseType string // Completed or Cancelled: what applies when validation does not answer
	confirmation string
	validation   string
}

// c2bRegister serves /mpesa/c2b/v{1,2}/registerurl. In production a
// shortcode registers once, then 500.003.1001 "Urls are already
// registered"; in the sandbox a new registration replaces the old one
// (docs/gateways.md D12). The URLs must pass Daraja's URL rules, banned
// words included (docs/gateways.md D26).
func (s *Server) c2bRegister(rq *djRequest) djAnswer {
	p := rq.params
	if a, bad := s.firstBad(
		check{"ShortCode", shortcodeOK(p["ShortCode"])},
		check{"ResponseType", p["ResponseType"] == mpesa.C2BResponseCompleted || p["ResponseType"] == mpesa.C2BResponseCancelled},
		check{"ConfirmationURL", s.urlOK(p["ConfirmationURL"], true)},
		check{"ValidationURL", s.urlOK(p["ValidationURL"], true)},
	); bad {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dj
	if d.cfg.Environment == mpesa.Production && d.c2bURLs[p["ShortCode"]] != nil {
		return s.djError("500.003.1001", msgRegistered)
	}
	d.c2bURLs[p["ShortCode"]] = &djC2BURLs{version: rq.rt.version, responseType: p["ResponseType"],
		confirmation: p["ConfirmationURL"], validation: p["ValidationURL"]}
	return ok(flatObj("OriginatorCoversationID", s.djRequestID(), "ResponseCode", "0", "ResponseDescription", "Success"))
}

// c2bSimulate serves /mpesa/c2b/v{1,2}/simulate, in the sandbox only: a
// customer pays the shortcode. With URLs registered, M-Pesa asks the
// ValidationURL (unless Daraja.SkipValidation) and, if the merchant
// accepts or does not answer in time under ResponseType Completed, sends
// the confirmation; without, the payment completes and nothing is sent
// (docs/gateways.md D13, D14). A scenario's result code fails the payment
// before any callback.
func (s *Server) c2bSimulate(rq *djRequest) djAnswer {
	p := rq.params
	amount, amountOK := wholeAmount(p["Amount"])
	if a, bad := s.firstBad(
		check{"ShortCode", shortcodeOK(p["ShortCode"])},
		check{"CommandID", p["CommandID"] == mpesa.CommandCustomerPayBillOnline || p["CommandID"] == mpesa.CommandCustomerBuyGoodsOnline},
		check{"Amount", amountOK && amount >= 1},
		check{"Msisdn", msisdnOK(p["Msisdn"])},
		check{"BillRefNumber", p["BillRefNumber"] == "" || textOK(p["BillRefNumber"], 1, 20)},
	); bad {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dj
	originator := s.djRequestID()
	body := flatObj("OriginatorCoversationID", originator, "ResponseCode", "0", "ResponseDescription", msgAccepted)
	if rq.rt.version == 1 {
		body = flatObj("ConversationID", s.djConversationID(), "OriginatorCoversationID", originator,
			"ResponseCode", "0", "ResponseDescription", msgAccepted)
	}
	t := &tx{scope: djScope, gw: mpesa.GatewayDaraja, market: mpesa.MarketKenya, api: mpesa.APIC2BSimulate,
		conv: originator, ref: originator, parties: []string{p["ShortCode"]}, msisdn: p["Msisdn"],
		amount: ratOf(amount), status: mpesa.StatusPending}
	s.ledger.add(t)
	pay := &djPayment{t: t, kind: mpesa.APIC2BSimulate, receipt: s.newReceiptLocked(), shortcode: p["ShortCode"],
		msisdn: p["Msisdn"], amount: amount, credit: true, billRef: p["BillRefNumber"]}
	buyGoods := p["CommandID"] == mpesa.CommandCustomerBuyGoodsOnline
	switch reg := d.c2bURLs[p["ShortCode"]]; {
	case rq.force != "":
		t.status, t.code = mpesa.StatusFailed, rq.force
	case reg == nil:
		s.completeC2BLocked(pay)
	default:
		reg := *reg
		return djAnswer{status: http.StatusOK, body: body, after: func() { s.c2bFlow(pay, reg, buyGoods) }}
	}
	return ok(body)
}

// completeC2BLocked completes a C2B payment under its receipt.
func (s *Server) completeC2BLocked(pay *djPayment) {
	pay.t.code = "0"
	if pay.t.status == mpesa.StatusPending {
		pay.t.status = mpesa.StatusCompleted
	}
	s.ledger.setID(pay.t, pay.receipt)
	s.recordPaymentLocked(pay)
}

// c2bFlow sends the validation, honours the merchant's answer, and sends
// the confirmation, in the background.
func (s *Server) c2bFlow(pay *djPayment, reg djC2BURLs, buyGoods bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		d := s.dj.cfg
		if !sleep(s.ctx, d.Delay) {
			return
		}
		accepted, thirdParty, code := true, "", ""
		var v *Callback
		if !d.SkipValidation {
			var answered, yes bool
			v, answered, yes, thirdParty, code = s.validateC2B(pay, reg, buyGoods)
			accepted = yes
			if !answered {
				accepted = reg.responseType == mpesa.C2BResponseCompleted
			}
		}
		s.mu.Lock()
		if accepted {
			s.completeC2BLocked(pay)
		} else if pay.t.status == mpesa.StatusPending {
			pay.t.status, pay.t.code = mpesa.StatusCancelled, code
		}
		if v != nil {
			// Done once the decision is applied, so that WaitCallbacks
			// sees its effect.
			v.Done = true
			s.notifyLocked()
		}
		s.mu.Unlock()
		if !accepted || s.ctx.Err() != nil {
			return
		}
		rec := s.djCallback(s.currentAsync(), mpesa.APIC2BSimulate, KindConfirmation, reg.confirmation, confirmationAck)
		rec.plan.delay = 0
		s.djSend(rec, nil, func() jobj { return s.c2bBody(pay, reg, buyGoods, false, thirdParty) })
	}()
}

// validateC2B posts the validation request once and waits up to
// Daraja.ValidationTimeout. answered is false when the answer did not come
// in time or was not as documented; then the ResponseType applies. The
// caller marks the record Done.
func (s *Server) validateC2B(pay *djPayment, reg djC2BURLs, buyGoods bool) (rec *Callback, answered, accepted bool, thirdParty, code string) {
	rec = s.djCallback(s.currentAsync(), mpesa.APIC2BSimulate, KindValidation, reg.validation, validationAck)
	hc := *rec.plan.client
	hc.Timeout = s.dj.cfg.ValidationTimeout
	s.mu.Lock()
	setBodyLocked(rec, s.c2bBody(pay, reg, buyGoods, true, ""))
	s.callbacks = append(s.callbacks, rec)
	s.mu.Unlock()
	at, reason := s.post(&hc, rec.URL, rec.plan.body, rec)
	s.mu.Lock()
	rec.Attempts = append(rec.Attempts, at)
	rec.Acknowledged = at.Err == ""
	s.mu.Unlock()
	if at.Err != "" {
		if s.ctx.Err() == nil {
			s.logFailedAttempt(rec, at, reason, 1, 1)
		}
		return rec, false, false, "", ""
	}
	code = at.Ack["ResultCode"]
	return rec, true, code == "0", at.Ack["ThirdPartyTransID"], code
}

// c2bBody is the validation or confirmation body, one shape for both
// (docs/gateways.md D13): OrgAccountBalance blank on validation, the
// MSISDN masked (v2) or SHA-256-hashed (v1) (docs/gateways.md D5). s.mu is
// held.
func (s *Server) c2bBody(pay *djPayment, reg djC2BURLs, buyGoods, validation bool, thirdParty string) jobj {
	typ := "Pay Bill"
	if buyGoods {
		typ = "Buy Goods"
	}
	balance := ""
	if !validation {
		working, _ := s.balancesLocked(pay.shortcode)
		balance = string(shillings(working))
	}
	msisdn := pay.msisdn[:4] + " ***** " + pay.msisdn[len(pay.msisdn)-3:]
	if reg.version == 1 {
		sum := sha256.Sum256([]byte(pay.msisdn))
		msisdn = hex.EncodeToString(sum[:])
	}
	c := s.customerLocked(pay.msisdn)
	return flatObj("TransactionType", typ, "TransID", pay.receipt, "TransTime", s.now().In(eat).Format(timestampLayout),
		"TransAmount", string(shillings(pay.amount)), "BusinessShortCode", pay.shortcode, "BillRefNumber", pay.billRef,
		"InvoiceNumber", "", "OrgAccountBalance", balance, "ThirdPartyTransID", thirdParty, "MSISDN", msisdn,
		"FirstName", c.FirstName, "MiddleName", "", "LastName", c.LastName)
}

// pullRegister serves /pulltransactions/v1/register: ResponseStatus 1000
// registered, 1001 already registered (docs/gateways.md D22).
func (s *Server) pullRegister(rq *djRequest) djAnswer {
	p := rq.params
	if a, bad := s.firstBad(
		check{"ShortCode", shortcodeOK(p["ShortCode"])},
		check{"RequestType", p["RequestType"] == "Pull"},
		check{"NominatedNumber", msisdnOK(p["NominatedNumber"])},
		check{"CallBackURL", s.urlOK(p["CallBackURL"], true)},
	); bad {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	status, desc := "1000", "Shortcode Registered Successfully"
	switch {
	case rq.force != "":
		status, desc = rq.force, resultDesc(mpesa.APIPullRegister, rq.force, nil)
	case s.dj.pulls[p["ShortCode"]] != "":
		status, desc = "1001", "ShortCode already Registered"
	default:
		s.dj.pulls[p["ShortCode"]] = p["CallBackURL"]
	}
	return ok(flatObj("ResponseRefID", s.djRequestID(), "ResponseStatus", status, "ShortCode", p["ShortCode"],
		"ResponseDescription", desc))
}

// pullWindow is how far back the Pull API keeps transactions.
const pullWindow = 48 * time.Hour

// pullQuery serves /pulltransactions/v1/query: the payments into a
// registered shortcode between StartDate and EndDate (East Africa Time),
// within the last 48 hours, from row OffSetValue; 1001 and the string
// "[[]]" when there are none (docs/gateways.md D22).
func (s *Server) pullQuery(rq *djRequest) djAnswer {
	p := rq.params
	start, startOK := pullDate(p["StartDate"])
	end, endOK := pullDate(p["EndDate"])
	offset, offsetErr := strconv.Atoi(p["OffSetValue"])
	if a, bad := s.firstBad(
		check{"ShortCode", shortcodeOK(p["ShortCode"])},
		check{"StartDate", startOK},
		check{"EndDate", endOK && end.After(start)},
		check{"OffSetValue", offsetErr == nil && offset >= 0},
	); bad {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rq.force != "" {
		status := http.StatusOK
		if rq.force == "500" {
			status = http.StatusInternalServerError
		}
		return djAnswer{status: status, body: flatObj("ResponseRefID", s.djRequestID(),
			"ResponseCode", rq.force, "ResponseMessage", resultDesc(mpesa.APIPullQuery, rq.force, nil))}
	}
	if s.dj.pulls[p["ShortCode"]] == "" {
		return s.djError("400.001", "Invalid shortcode")
	}
	oldest := s.now().Add(-pullWindow)
	var rows jarr
	var found []*djPayment
	for _, pay := range s.dj.payments {
		if pay.credit && pay.shortcode == p["ShortCode"] && pay.t.status == mpesa.StatusCompleted &&
			!pay.at.Before(start) && !pay.at.After(end) && !pay.at.Before(oldest) {
			found = append(found, pay)
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].at.Before(found[j].at) })
	for i, pay := range found {
		if i < offset {
			continue
		}
		typ := "c2b-pay-bill-debit"
		if pay.kind == mpesa.APIC2B {
			typ = "c2b-lipa-na-mpesa-online-debit"
		}
		rows = append(rows, jobj{{"transactionId", pay.receipt}, {"trxDate", pay.at.UTC().Format("2006-01-02T15:04:05Z")},
			{"msisdn", jnum(pay.msisdn)}, {"sender", "UAT2"}, {"transactiontype", typ}, {"billreference", pay.billRef},
			{"amount", string(shillings(pay.amount))}, {"organizationname", "Daraja Pull API Test"}})
	}
	if len(rows) == 0 {
		return ok(flatObj("ResponseRefID", s.djRequestID(), "ResponseCode", "1001",
			"ResponseMessage", "No transactions available for the selected time period", "Transaction", "[[]]"))
	}
	return ok(jobj{{"ResponseRefID", s.djRequestID()}, {"ResponseCode", "1000"}, {"ResponseMessage", "Success"},
		{"Response", jarr{rows}}})
}

// pullDate reads "2019-07-31 20:35:21" or "2019-07-31 19:00", in East
// Africa Time.
func pullDate(v string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, v, eat); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
