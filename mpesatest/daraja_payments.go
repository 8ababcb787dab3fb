package mpesatest

import (
	"strconv"

	"github.com/mpesa-go/mpesa"
)

// The products of the initiator APIs; daraja_results.go has what they
// share.

// djScope is the ledger scope of Daraja's transactions.
var djScope = scopeOf(mpesa.GatewayDaraja, mpesa.MarketKenya)

// newPaymentLocked records a payment accepted by an initiator API: Pending
// until its result is sent.
func (s *Server) newPaymentLocked(api mpesa.API, originator, conv, shortcode string, amount int64) *djPayment {
	t := &tx{scope: djScope, gw: mpesa.GatewayDaraja, market: mpesa.MarketKenya, api: api, conv: conv,
		ref: originator, parties: []string{shortcode}, amount: ratOf(amount), status: mpesa.StatusPending}
	s.ledger.add(t)
	pay := &djPayment{t: t, kind: api, shortcode: shortcode, amount: amount}
	s.recordPaymentLocked(pay)
	s.dj.results[conv], s.dj.results[originator] = pay, pay
	return pay
}

// settlePaymentLocked ends a payment with code: a success gets its
// receipt.
func (s *Server) settlePaymentLocked(pay *djPayment, code string) string {
	pay.t.code = code
	if pay.t.status == mpesa.StatusPending {
		pay.t.status = mpesa.StatusFailed
		if code == "0" {
			pay.t.status = mpesa.StatusCompleted
		}
	}
	pay.at = s.now()
	if code != "0" {
		return failedID()
	}
	pay.receipt = s.newReceiptLocked()
	s.ledger.setID(pay.t, pay.receipt)
	s.dj.receipts[pay.receipt] = pay
	return pay.receipt
}

// completedAt is how the B2C result writes a time: 19.12.2019 11:45:50,
// in East Africa Time.
func (s *Server) completedAt() string { return s.now().In(eat).Format("02.01.2006 15:04:05") }

func (s *Server) eatStamp() jnum { return jnum(s.now().In(eat).Format(timestampLayout)) }

// b2cPay serves B2C v3 (docs/gateways.md D15): the merchant's
// OriginatorConversationID is unique, a reused one answers HTTP 500
// 500.002.1001; the result comes with 2001 for a wrong initiator, 2 or 3
// outside Ksh 10–250,000, 1 when the Utility account lacks the amount.
func (s *Server) b2cPay(rq *djRequest) djAnswer {
	p := rq.params
	amount, amountOK := wholeAmount(p["Amount"])
	occasion := p["Occassion"] + p["Occasion"]
	if a, bad := s.firstBad(append([]check{
		{"OriginatorConversationID", textOK(p["OriginatorConversationID"], 1, 100)},
		{"InitiatorName", p["InitiatorName"] != ""},
		{"SecurityCredential", p["SecurityCredential"] != ""},
		{"CommandID", p["CommandID"] == "BusinessPayment" || p["CommandID"] == "SalaryPayment" || p["CommandID"] == "PromotionPayment"},
		{"Amount", amountOK},
		{"PartyA", shortcodeOK(p["PartyA"])},
		{"PartyB", msisdnOK(p["PartyB"])},
		{"Remarks", textOK(p["Remarks"], 2, 100)},
		{"Occassion", occasion == "" || textOK(occasion, 1, 100)},
	}, s.urlChecks(p)...)...); bad {
		return a
	}
	return s.resultCall(rq, "InitiatorName", p["OriginatorConversationID"], func(originator, conv string, ack jobj, initiator bool) djAnswer {
		s.dj.origins[originator] = true
		pay := s.newPaymentLocked(mpesa.APIB2C, originator, conv, p["PartyA"], amount)
		pay.msisdn = p["PartyB"]
		pay.t.msisdn = pay.msisdn
		_, utility := s.balancesLocked(p["PartyA"])
		code := "0"
		switch {
		case rq.force != "":
			code = rq.force
		case !initiator:
			code = "2001"
		case amount < 10:
			code = "2"
		case amount > 250_000:
			code = "3"
		case amount > utility:
			code = "1"
		}
		r := &djResult{api: mpesa.APIB2C, originator: originator, conv: conv, code: code,
			desc: resultDesc(mpesa.APIB2C, code, resultDescs), numeric: true,
			refs: []jobj{kv("QueueTimeoutURL", internalQueueURL)}}
		return s.sendResult(rq, ack, s.settleInto(r, pay, code), func() *djResult {
			if code == "0" {
				working, utility := s.balancesLocked(pay.shortcode)
				c := s.customerLocked(pay.msisdn)
				r.params = []jobj{
					kv("TransactionAmount", jnum(strconv.FormatInt(amount, 10))),
					kv("TransactionReceipt", pay.receipt),
					kv("B2CRecipientIsRegisteredCustomer", "Y"),
					kv("B2CChargesPaidAccountAvailableFunds", jnum("-4510.00")),
					kv("ReceiverPartyPublicName", pay.msisdn+" - "+c.FirstName+" "+c.LastName),
					kv("TransactionCompletedDateTime", s.completedAt()),
					kv("B2CUtilityAccountAvailableFunds", shillings(utility)),
					kv("B2CWorkingAccountAvailableFunds", shillings(working)),
				}
			}
			return r
		})
	})
}

// resultCall serves what every request answered through the Result
// callback shares once its fields passed: the initiator's credential is
// checked outside the lock (RSA), then, under s.mu, the request gets its
// IDs (a B2C request names its own OriginatorConversationID, which is
// refused as a duplicate when it was seen before), its acknowledgement,
// and a queue timeout's answer when the scenario says so. serve does the
// rest, under s.mu.
func (s *Server) resultCall(rq *djRequest, initiatorField, originator string, serve func(originator, conv string, ack jobj, initiator bool) djAnswer) djAnswer {
	p := rq.params
	initiator := s.initiatorOK(p[initiatorField], p["SecurityCredential"])
	s.mu.Lock()
	defer s.mu.Unlock()
	if originator == "" {
		originator = s.djRequestID()
	} else if s.dj.origins[originator] {
		return s.djError("500.002.1001", msgDuplicate)
	}
	conv := s.djConversationID()
	ack := s.djAck(originator, conv)
	if rq.queueTimeout && !rq.processed {
		return s.sendResult(rq, ack, nil, nil)
	}
	return serve(originator, conv, ack, initiator)
}

// settleInto returns the settle step of a payment answered through the
// Result callback: the payment settles with code, and the result takes its
// transaction ID.
func (s *Server) settleInto(r *djResult, pay *djPayment, code string) func() {
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		r.txID = s.settlePaymentLocked(pay, code)
	}
}

// b2bPay serves business pay bill, buy goods and the B2C top-up
// (docs/gateways.md D16); its page writes ResultCode as a string and
// ReferenceItem as an array.
func (s *Server) b2bPay(rq *djRequest) djAnswer {
	p := rq.params
	amount, amountOK := wholeAmount(p["Amount"])
	cmd := p["CommandID"]
	if a, bad := s.firstBad(append([]check{
		{"Initiator", p["Initiator"] != ""},
		{"SecurityCredential", p["SecurityCredential"] != ""},
		{"CommandID", cmd == "BusinessPayBill" || cmd == "BusinessBuyGoods" || cmd == "BusinessPayToBulk"},
		{"SenderIdentifierType", p["SenderIdentifierType"] == "4"},
		{"RecieverIdentifierType", p["RecieverIdentifierType"] == "4"},
		{"Amount", amountOK && amount >= 1},
		{"PartyA", shortcodeOK(p["PartyA"])},
		{"PartyB", shortcodeOK(p["PartyB"])},
		{"AccountReference", (cmd != "BusinessPayBill" && p["AccountReference"] == "") || textOK(p["AccountReference"], 1, 13)},
		{"Requester", p["Requester"] == "" || msisdnOK(p["Requester"])},
		{"Remarks", textOK(p["Remarks"], 1, 100)},
	}, s.urlChecks(p)...)...); bad {
		return a
	}
	return s.resultCall(rq, "Initiator", "", func(originator, conv string, ack jobj, initiator bool) djAnswer {
		pay := s.newPaymentLocked(mpesa.APIB2B, originator, conv, p["PartyA"], amount)
		pay.party = p["PartyB"]
		pay.t.parties = append(pay.t.parties, pay.party)
		working, _ := s.balancesLocked(p["PartyA"])
		code := "0"
		switch {
		case rq.force != "":
			code = rq.force
		case !initiator:
			code = "2001"
		case amount > working:
			code = "1"
		}
		r := &djResult{api: mpesa.APIB2B, originator: originator, conv: conv, code: code,
			desc: resultDesc(mpesa.APIB2B, code, resultDescs), refArray: true,
			refs: []jobj{kv("BillReferenceNumber", p["AccountReference"]), kv("QueueTimeoutURL", internalQueueURL)}}
		return s.sendResult(rq, ack, s.settleInto(r, pay, code), func() *djResult {
			if code == "0" {
				working, _ := s.balancesLocked(pay.shortcode)
				bal := "{Amount={CurrencyCode=KES, MinimumAmount=" + strconv.FormatInt(working*100, 10) +
					", BasicAmount=" + string(shillings(working)) + "}}"
				r.params = []jobj{
					kv("DebitAccountBalance", bal),
					kv("Amount", shillings(amount)),
					kv("DebitPartyAffectedAccountBalance", "Working Account|KES|"+string(shillings(working))+"|"+string(shillings(working))+"|0.00|0.00"),
					kv("TransCompletedTime", s.eatStamp()),
					kv("DebitPartyCharges", ""),
					kv("ReceiverPartyPublicName", pay.party+" - Test Business"),
					kv("Currency", "KES"),
					kv("InitiatorAccountCurrentBalance", bal),
				}
			}
			return r
		})
	})
}

// djReverse serves the reversal (docs/gateways.md D19): of a payment into
// the ReceiverParty's shortcode, once. Result R000001 when it was reversed
// before, R000002 for a receipt M-Pesa does not know (or of another
// shortcode), 2028 for a B2C payment, which the API cannot reverse
// (docs/gateways.md D15), 25 "Invalid Request Parameters" for more than
// was paid.
func (s *Server) djReverse(rq *djRequest) djAnswer {
	p := rq.params
	amount, amountOK := wholeAmount(p["Amount"])
	if a, bad := s.firstBad(append([]check{
		{"Initiator", p["Initiator"] != ""},
		{"SecurityCredential", p["SecurityCredential"] != ""},
		{"CommandID", p["CommandID"] == "TransactionReversal"},
		{"TransactionID", textOK(p["TransactionID"], 1, 20)},
		{"Amount", amountOK && amount >= 1},
		{"ReceiverParty", shortcodeOK(p["ReceiverParty"])},
		{"RecieverIdentifierType", p["RecieverIdentifierType"] == "11" || p["RecieverIdentifierType"] == "4"},
		{"Remarks", textOK(p["Remarks"], 2, 100)},
	}, s.urlChecks(p)...)...); bad {
		return a
	}
	return s.resultCall(rq, "Initiator", "", func(originator, conv string, ack jobj, initiator bool) djAnswer {
		orig := s.dj.receipts[p["TransactionID"]]
		code := "0"
		switch {
		case rq.force != "":
			code = rq.force
		case !initiator:
			code = "2001"
		case orig == nil || orig.t.status != mpesa.StatusCompleted || orig.kind == mpesa.APIReversal:
			code = "R000002"
		case orig.kind == mpesa.APIB2C:
			code = "2028"
		case orig.shortcode != p["ReceiverParty"]:
			code = "R000002"
		case orig.reversed:
			code = "R000001"
		case amount > orig.amount:
			code = "25"
		}
		r := &djResult{api: mpesa.APIReversal, originator: originator, conv: conv, code: code,
			desc: resultDesc(mpesa.APIReversal, code, resultDescs), numeric: true,
			refs: []jobj{kv("QueueTimeoutURL", internalQueueURL)}}
		if code == "R000002" {
			r.txID = "SKE0000000"
		}
		pay := s.newPaymentLocked(mpesa.APIReversal, originator, conv, p["ReceiverParty"], amount)
		if code == "0" {
			// Reserved at once, so that a second reversal sent while this one
			// is pending is refused too.
			orig.reversed = true
			orig.t.reversed, orig.t.reversedAmount = true, ratOf(amount)
			pay.t.original = orig.t
			pay.msisdn = orig.msisdn
		}
		settle := func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			id := s.settlePaymentLocked(pay, code)
			if r.txID == "" {
				r.txID = id
			}
		}
		return s.sendResult(rq, ack, settle, func() *djResult {
			if code == "0" {
				working, _ := s.balancesLocked(pay.shortcode)
				c := s.customerLocked(orig.msisdn)
				r.params = []jobj{
					kv("DebitAccountBalance", "Working Account|KES|"+string(shillings(working))+"|"+string(shillings(working))+"|0.00|0.00"),
					kv("Amount", shillings(amount)),
					kv("TransCompletedTime", s.eatStamp()),
					kv("OriginalTransactionID", orig.receipt),
					kv("Charge", jnum("0.00")),
					kv("CreditPartyPublicName", orig.msisdn+" - "+c.FirstName+" "+c.LastName),
					kv("DebitPartyPublicName", pay.shortcode+" - Test Business"),
				}
			}
			return r
		})
	})
}

// djStatus serves the transaction status query (docs/gateways.md D18):
// by receipt (TransactionID) or by OriginalConversationID (the
// OriginatorConversationID or ConversationID of a B2C, B2B or reversal),
// for the PartyA whose transaction it is. Its answer comes in the Result;
// SFC_IC0003 when nothing matches.
func (s *Server) djStatus(rq *djRequest) djAnswer {
	p := rq.params
	q := p["TransactionID"]
	if q == "" {
		q = p["OriginalConversationID"]
	}
	if a, bad := s.firstBad(append([]check{
		{"Initiator", p["Initiator"] != ""},
		{"SecurityCredential", p["SecurityCredential"] != ""},
		{"CommandID", p["CommandID"] == "TransactionStatusQuery"},
		{"TransactionID", textOK(q, 1, 100)},
		{"PartyA", shortcodeOK(p["PartyA"]) || msisdnOK(p["PartyA"])},
		{"IdentifierType", p["IdentifierType"] == "1" || p["IdentifierType"] == "2" || p["IdentifierType"] == "4"},
		{"Remarks", textOK(p["Remarks"], 2, 100)},
	}, s.urlChecks(p)...)...); bad {
		return a
	}
	return s.resultCall(rq, "Initiator", "", func(originator, conv string, ack jobj, initiator bool) djAnswer {
		found := s.dj.receipts[q]
		if found == nil {
			found = s.dj.results[q]
		}
		code := "0"
		switch {
		case rq.force != "":
			code = rq.force
		case !initiator:
			code = "2001"
		case found == nil || found.shortcode != p["PartyA"]:
			code = "SFC_IC0003"
		}
		r := &djResult{api: mpesa.APITransactionStatus, originator: originator, conv: conv, code: code,
			desc: resultDesc(mpesa.APITransactionStatus, code, resultDescs), numeric: true, txID: failedID(),
			refs: []jobj{kv("Occasion", nilIfEmpty(p["Occasion"]))}}
		return s.sendResult(rq, ack, nil, func() *djResult {
			if code != "0" {
				return r
			}
			r.txID = found.receipt
			if r.txID == "" {
				r.txID = failedID()
			}
			debit, credit := found.shortcode+" - Test Business", found.msisdn
			if found.party != "" {
				credit = found.party + " - Test Business"
			}
			if found.credit {
				debit, credit = credit, debit
			}
			r.params = []jobj{
				kv("DebitPartyName", debit),
				kv("CreditPartyName", credit),
				kv("OriginatorConversationID", found.t.ref),
				kv("InitiatedTime", jnum(found.at.In(eat).Format(timestampLayout))),
				kv("DebitAccountType", accountType(found.kind)),
				kv("DebitPartyCharges", ""),
				kv("TransactionReason", nil),
				kv("ReasonType", reasonType(found.kind)),
				kv("TransactionStatus", statusWord(found.t.status)),
				kv("FinalisedTime", jnum(found.at.In(eat).Format(timestampLayout))),
				kv("Amount", shillings(found.amount)),
				kv("ConversationID", found.t.conv),
				kv("ReceiptNo", found.receipt),
			}
			return r
		})
	})
}

// accountType and reasonType are the status result's words for a payment's
// account and kind.
func accountType(kind mpesa.API) string {
	if kind == mpesa.APIB2C {
		return "Utility Account"
	}
	return "Working Account"
}

func reasonType(kind mpesa.API) string {
	switch kind {
	case mpesa.APIC2B:
		return "Pay Bill Online"
	case mpesa.APIC2BSimulate:
		return "Pay Bill"
	case mpesa.APIB2C:
		return "Business Payment to Customer via API"
	case mpesa.APIB2B:
		return "Business Pay Bill"
	}
	return "Reversal"
}

func nilIfEmpty(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// statusWord is how the status result writes a state: Completed,
// Cancelled, Declined, Expired, or Initiated while pending
// (docs/gateways.md D18).
func statusWord(st mpesa.TransactionStatus) string {
	switch st {
	case mpesa.StatusCompleted, mpesa.StatusCancelled, mpesa.StatusExpired:
		return string(st)
	case mpesa.StatusFailed:
		return "Declined"
	}
	return "Initiated"
}

// djBalance serves the account balance (docs/gateways.md D17): the
// accounts as Name|KES|… fields joined by '&', and BOCompletedTime; its
// page writes ResultType and ResultCode as strings.
func (s *Server) djBalance(rq *djRequest) djAnswer {
	p := rq.params
	if a, bad := s.firstBad(append([]check{
		{"Initiator", p["Initiator"] != ""},
		{"SecurityCredential", p["SecurityCredential"] != ""},
		{"CommandID", p["CommandID"] == "AccountBalance"},
		{"PartyA", shortcodeOK(p["PartyA"])},
		{"IdentifierType", p["IdentifierType"] == "4"},
		{"Remarks", textOK(p["Remarks"], 2, 100)},
	}, s.urlChecks(p)...)...); bad {
		return a
	}
	return s.resultCall(rq, "Initiator", "", func(originator, conv string, ack jobj, initiator bool) djAnswer {
		code := "0"
		switch {
		case rq.force != "":
			code = rq.force
		case !initiator:
			code = "2001"
		}
		r := &djResult{api: mpesa.APIAccountBalance, originator: originator, conv: conv, code: code,
			desc: resultDesc(mpesa.APIAccountBalance, code, resultDescs), txID: failedID(),
			refs: []jobj{kv("QueueTimeoutURL", internalQueueURL)}}
		return s.sendResult(rq, ack, nil, func() *djResult {
			if code == "0" {
				working, utility := s.balancesLocked(p["PartyA"])
				acct := func(name string, n int64) string {
					v := string(shillings(n))
					return name + "|KES|" + v + "|" + v + "|0.00|0.00"
				}
				r.params = []jobj{
					kv("AccountBalance", acct("Working Account", working)+"&"+acct("Float Account", 0)+"&"+
						acct("Utility Account", utility)+"&"+acct("Charges Paid Account", 0)+"&"+acct("Organization Settlement Account", 0)),
					kv("BOCompletedTime", s.eatStamp()),
				}
			}
			return r
		})
	})
}
