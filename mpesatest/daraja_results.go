package mpesatest

import (
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa"
)

// The initiator APIs of Daraja: B2C v3, business pay bill and buy goods
// (B2B), reversal, transaction status and account balance. Each answers
// with an acknowledgement and posts its Result to the request's ResultURL
// (docs/gateways.md D15–D21); M-Pesa checks the initiator only then, so a
// wrong SecurityCredential comes back as result 2001 in the callback
// (docs/gateways.md D11, D23).

// djPayment is money the gateway moved for a business.
type djPayment struct {
	t         *tx
	kind      mpesa.API // APIC2B (STK), APIC2BSimulate, APIB2C, APIB2B, APIReversal
	receipt   string
	shortcode string // the business's party
	msisdn    string // the customer, if any
	party     string // the other business, B2B
	amount    int64
	credit    bool // money into the shortcode
	billRef   string
	at        time.Time
	reversed  bool
}

// The balances of a shortcode before any payment, in shillings.
const (
	openingWorking = 500_000
	openingUtility = 1_000_000
)

// internalQueueURL is what ReferenceData's QueueTimeoutURL holds: Safaricom's
// internal URL, not the merchant's (docs/gateways.md D20).
const internalQueueURL = "https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit"

// recordPaymentLocked keeps a payment; one with a receipt can be queried
// and reversed.
func (s *Server) recordPaymentLocked(p *djPayment) {
	p.at = s.now()
	s.dj.payments = append(s.dj.payments, p)
	if p.receipt != "" {
		s.dj.receipts[p.receipt] = p
	}
}

// balancesLocked returns a shortcode's Working and Utility account
// balances: the opening ones, plus what completed payments moved.
func (s *Server) balancesLocked(shortcode string) (working, utility int64) {
	working, utility = openingWorking, openingUtility
	for _, p := range s.dj.payments {
		if p.shortcode != shortcode || p.t.status != mpesa.StatusCompleted {
			continue
		}
		switch {
		case p.credit:
			working += p.amount
		case p.kind == mpesa.APIB2C:
			utility -= p.amount
		default:
			working -= p.amount
		}
	}
	return working, utility
}

// newReceiptLocked returns an M-Pesa receipt, ten capital letters and
// digits (NLJ7RT61SV).
func (s *Server) newReceiptLocked() string {
	for {
		id := randomString("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 3) + randomString(upperAlnum, 7)
		if s.dj.receipts[id] == nil {
			return id
		}
	}
}

func ratOf(n int64) *big.Rat { return new(big.Rat).SetInt64(n) }

func shillings(n int64) jnum { return jnum(big.NewInt(n).String() + ".00") }

// initiatorOK reports whether a request carries the configured initiator
// and its password, encrypted with the simulator's public key using RSA
// with PKCS #1 v1.5 padding and base64-encoded (docs/gateways.md D11). An
// OAEP ciphertext, another key's, or another password fails.
//
// rsa.DecryptPKCS1v15 is deprecated since Go 1.26 as a padding oracle; the
// simulator must decrypt what Daraja decrypts, and answers every failure
// alike (see decryptBearer).
func (s *Server) initiatorOK(name, credential string) bool {
	d := s.dj.cfg
	ct, err := base64.StdEncoding.DecodeString(strings.TrimSpace(credential))
	if err != nil || len(ct) == 0 || name != d.Initiator {
		return false
	}
	pt, err := rsa.DecryptPKCS1v15(nil, s.key, ct)
	return err == nil && string(pt) == string(d.InitiatorPassword)
}

// check is one field rule.
type check struct {
	name string
	ok   bool
}

// firstBad answers the first field that breaks its rule.
func (s *Server) firstBad(checks ...check) (djAnswer, bool) {
	for _, c := range checks {
		if !c.ok {
			return s.bad(c.name), true
		}
	}
	return djAnswer{}, false
}

// urlChecks are the rules of ResultURL and QueueTimeOutURL.
func (s *Server) urlChecks(p map[string]string) []check {
	return []check{{"QueueTimeOutURL", s.urlOK(p["QueueTimeOutURL"], false)}, {"ResultURL", s.urlOK(p["ResultURL"], false)}}
}

// djResult is one Result callback to send.
type djResult struct {
	api              mpesa.API
	originator, conv string
	code, desc       string
	txID             string
	params           []jobj
	refs             []jobj
	// numeric is whether the API's page writes ResultCode as a number
	// (B2C, reversal, status) rather than a string (balance, B2B).
	numeric  bool
	refArray bool // the page writes ReferenceItem as an array (B2B)
}

// kv is a {Key, Value} item; a nil value leaves Value out.
func kv(k string, v any) jobj {
	if v == nil {
		return jobj{{"Key", k}}
	}
	return jobj{{"Key", k}, {"Value", v}}
}

// failedID is the TransactionID of a failed result, SKE0000000-like
// (docs/gateways.md D19).
func failedID() string { return randomString("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 3) + "0000000" }

// resultDescs are the ResultDesc texts of the portal's samples.
var resultDescs = map[string]string{
	"0":       "The service request is processed successfully.",
	"2001":    "The initiator information is invalid.",
	"R000001": "The transaction has already been reversed.",
	"R000002": "The OriginalTransactionID is invalid.",
}

// codeValue writes a result code as the page does (numeric) or as the
// Shapes say; an alphanumeric code is always a string.
func (s *Server) codeValue(code string, numeric bool) any {
	sh := s.dj.cfg.Shapes
	switch {
	case !digits(code, 1, 12):
		return code
	case sh&ShapeResultCodeString != 0:
		return code
	case sh&ShapeResultCodeNumber != 0, numeric:
		return jnum(code)
	}
	return code
}

// resultBody is the Result envelope (docs/gateways.md D20) with the
// shapes of Daraja.Shapes applied.
func (s *Server) resultBody(r *djResult) jobj {
	sh := s.dj.cfg.Shapes
	res := jobj{{"ResultType", s.codeValue("0", r.numeric)}, {"ResultCode", s.codeValue(r.code, r.numeric)},
		{"ResultDesc", r.desc}, {"OriginatorConversationID", r.originator}, {"ConversationID", r.conv},
		{"TransactionID", r.txID}}
	params := append([]jobj(nil), r.params...)
	if len(params) > 0 {
		if sh&ShapeMissingValue != 0 {
			missing := false
			for _, p := range params {
				if _, has := p.get("Value"); !has {
					missing = true
				}
			}
			if !missing {
				params = append(params, kv("TransactionReason", nil))
			}
		}
		if sh&ShapeRepeatedKeys != 0 {
			params = append(params, params[0])
		}
		var rp any = toArr(params)
		if sh&ShapeParameterObject != 0 {
			rp = params[0]
		}
		res = res.with("ResultParameters", jobj{{"ResultParameter", rp}})
	}
	if len(r.refs) > 0 {
		array := r.refArray
		switch {
		case sh&ShapeReferenceItemArray != 0:
			array = true
		case sh&ShapeReferenceItemObject != 0:
			array = false
		}
		var ri any = r.refs[0]
		if array {
			ri = toArr(r.refs)
		}
		res = res.with("ReferenceData", jobj{{"ReferenceItem", ri}})
	}
	return jobj{{"Result", res}}
}

func toArr(items []jobj) jarr {
	out := make(jarr, len(items))
	for i, it := range items {
		out[i] = it
	}
	return out
}

// sendResult answers the acknowledgement and, once it is written, posts
// the Result to ResultURL after settle, or with Scenario.QueueTimeout the
// notice to QueueTimeOutURL instead. build runs after settle, under s.mu.
func (s *Server) sendResult(rq *djRequest, ack jobj, settle func(), build func() *djResult) djAnswer {
	p := rq.params
	if rq.queueTimeout {
		rec := s.djCallback(rq.async, rq.api(), KindQueueTimeout, p["QueueTimeOutURL"], resultAck)
		originator, conv := jtext(mustGet(ack, "OriginatorConversationID")), jtext(mustGet(ack, "ConversationID"))
		return djAnswer{status: 200, body: ack, after: func() {
			s.djSend(rec, settle, func() jobj { return s.queueTimeoutBody(originator, conv) })
		}}
	}
	rec := s.djCallback(rq.async, rq.api(), KindResult, p["ResultURL"], resultAck)
	return djAnswer{status: 200, body: ack, after: func() {
		s.djSend(rec, settle, func() jobj { return s.resultBody(build()) })
	}}
}

func mustGet(o jobj, k string) any { v, _ := o.get(k); return v }

// queueTimeoutBody is the QueueTimeOutURL notice. No Daraja document shows
// one (docs/gateways.md D21); the simulator sends a Result envelope with
// the request's IDs and no ResultCode, since the outcome is unknown, or with
// ShapeFlatQueueTimeout the IDs at the top level, the other shape
// integrators expect.
func (s *Server) queueTimeoutBody(originator, conv string) jobj {
	const desc = "The request timed out while waiting in the queue"
	if s.dj.cfg.Shapes&ShapeFlatQueueTimeout != 0 {
		return flatObj("OriginatorConversationID", originator, "ConversationID", conv, "ResultDesc", desc)
	}
	return jobj{{"Result", jobj{{"ResultType", s.codeValue("0", true)}, {"ResultDesc", desc},
		{"OriginatorConversationID", originator}, {"ConversationID", conv}}}}
}
