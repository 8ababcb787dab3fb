package mpesa

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Verifying Daraja results (docs/gateways.md X6, D32). Daraja signs
// nothing, so a Handler with VerifyWithStatusQuery confirms every success
// that names a transaction before the application sees it:
//
//   - an STK result with the STK query, which answers at once: the answer
//     must name the same CheckoutRequestID and say ResultCode 0;
//   - a Result envelope (B2C, B2B, reversal) with the transaction status
//     API, asked by the result's OriginatorConversationID, and a C2B
//     confirmation asked by its receipt (TransID). That API only
//     acknowledges: the status comes later as a result of its own, posted to
//     the client's ResultURL, which the same Handler receives and delivers
//     to the hub. The verification waits for it on the hub, for
//     StatusResultWait at most; when it has not come, the result is answered
//     503, and a later delivery first looks for the status that came
//     meanwhile. The status must say Completed and agree with the result on
//     its receipt, its conversation and its amount; for a C2B payment the
//     money must have reached the client's shortcode.
//
// The status result is known to the Handler by the IDs of the query's
// acknowledgement, which the client records on the hub
// (Results.statusAcknowledged): it is processed on its own request, never
// verified as a payment, and not passed to the ResultFunc. A callback may overtake the answer of its query,
// so a result that arrives while a status query awaits its acknowledgement
// waits for it (2 s at most) before it is told apart. Its authenticity rests
// on the query's ConversationID, which only the client learnt.

// verifierProblems says why a Daraja client cannot verify for h.
func (d *daraja) verifierProblems(h *Handler) []error {
	var errs []error
	if d.passkey == "" && d.initiator == "" {
		errs = append(errs, optionError("VerifyWithStatusQuery",
			"the Daraja client needs WithPasskey (the STK query) or WithInitiator (the transaction status) to verify results"))
	}
	if d.initiator != "" {
		if d.results == nil {
			errs = append(errs, optionError("VerifyWithStatusQuery",
				"Daraja's transaction status answers by callback: give the client WithResults(hub), the hub the handler feeds"))
		}
		if d.resultURL == "" || d.queueTimeoutURL == "" {
			errs = append(errs, optionError("VerifyWithStatusQuery",
				"the Daraja client needs WithResultURL and WithQueueTimeoutURL: the status queries' results are posted there, to this handler"))
		}
	}
	if d.results != nil && h.hub != nil && h.hub != d.results {
		errs = append(errs, optionError("VerifyWithStatusQuery",
			"FeedResults and the client's WithResults must be the same hub: verification awaits the status results there"))
	}
	return errs
}

// verifyResult implements resultVerifier.
func (d *daraja) verifyResult(ctx context.Context, res *Result, wait time.Duration) verdict {
	switch res.Callback {
	case CallbackSTK:
		return d.verifySTK(ctx, res)
	case CallbackC2BConfirmation:
		return d.verifyByStatus(ctx, res, wait, true)
	case CallbackResult:
		return d.verifyByStatus(ctx, res, wait, false)
	}
	return unverified("a " + res.Callback.String() + " callback is not a result to verify")
}

// verifySTK asks the STK query about an STK result.
func (d *daraja) verifySTK(ctx context.Context, res *Result) verdict {
	if d.passkey == "" {
		return unverified("the client has no WithPasskey: the STK query cannot confirm an STK result")
	}
	st, out, err := d.stkQueryAnswer(ctx, &TransactionStatusRequest{QueryReference: res.CheckoutRequestID})
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		return contradicted("the STK query cannot ask for CheckoutRequestID " + strconv.Quote(res.CheckoutRequestID))
	case err != nil:
		return unverified("STK query failed: " + err.Error())
	case st.TransactionStatus == StatusPending:
		return unverified("the STK query says the payment is being processed")
	case out.CheckoutRequestID == "":
		return unverified("the STK query's answer names no CheckoutRequestID")
	case out.CheckoutRequestID != res.CheckoutRequestID:
		return contradicted("the STK query names CheckoutRequestID " + strconv.Quote(out.CheckoutRequestID))
	case out.MerchantRequestID != "" && res.MerchantRequestID != "" && out.MerchantRequestID != res.MerchantRequestID:
		return contradicted("the STK query names MerchantRequestID " + strconv.Quote(out.MerchantRequestID))
	case st.ResultCode != "0":
		return contradicted("the STK query says result " + strconv.Quote(st.ResultCode))
	}
	return verified
}

// verifyByStatus asks the transaction status API about an envelope (by
// its OriginatorConversationID, what the merchant's request knows) or a C2B
// confirmation (by its receipt: a customer's payment has nothing else), and
// waits for the status result on the hub.
func (d *daraja) verifyByStatus(ctx context.Context, res *Result, wait time.Duration, c2b bool) verdict {
	if d.initiator == "" || d.results == nil {
		return unverified("the client has no WithInitiator and WithResults: the transaction status cannot confirm this result")
	}
	ref, memo := res.OriginatorConversationID, "o/"+res.OriginatorConversationID
	if c2b {
		ref, memo = res.TransactionID, "r/"+res.TransactionID
	}
	if ref == "" {
		return unverified("the result has no OriginatorConversationID to ask the transaction status by")
	}
	// The status of an earlier delivery's query may have come since.
	for _, conv := range d.pendingQueries(memo) {
		if st := d.results.peek(conv); st != nil {
			d.forgetQueries(memo)
			return d.judge(res, st, c2b)
		}
	}
	ack, err := d.asyncStatus(ctx, &TransactionStatusRequest{QueryReference: ref}, c2b, true)
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		return contradicted("the transaction status cannot be asked by " + strconv.Quote(ref))
	case err != nil:
		return unverified("transaction status query failed: " + err.Error())
	case ack.ConversationID == "":
		return unverified("the transaction status acknowledgement has no ConversationID to wait on")
	}
	d.rememberQuery(memo, ack.ConversationID)
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	st, err := d.results.Await(wctx, ack.ConversationID)
	if err != nil {
		return unverified(fmt.Sprintf("no transaction status result within %v; asking for redelivery", wait))
	}
	d.forgetQueries(memo)
	return d.judge(res, st, c2b)
}

// judge compares a result with the status result of its query.
func (d *daraja) judge(res, st *Result, c2b bool) verdict {
	switch {
	case st.Callback == CallbackQueueTimeout:
		return unverified("the transaction status query timed out in M-Pesa's queue")
	case !st.OK():
		return unverified("the transaction status query failed: " + strings.TrimSpace(st.ResultCode) + " " + st.ResultDesc)
	}
	switch status := st.TransactionStatus(); {
	case status == "":
		return unverified("the status result has no TransactionStatus")
	case status == StatusPending || status == StatusNotAvailable:
		return unverified("transaction status " + string(status))
	case status != StatusCompleted:
		return contradicted("transaction status " + strconv.Quote(string(status)))
	}
	if v := st.param("ReceiptNo"); v != "" && v != strings.TrimSpace(res.TransactionID) {
		return contradicted("the status names receipt " + strconv.Quote(v))
	}
	if v, amount := st.param("Amount"), strings.TrimSpace(res.Amount); v != "" && amount != "" && !sameAmount(v, amount) {
		return contradicted("the status names amount " + strconv.Quote(v))
	}
	if !c2b {
		if v := st.param("OriginatorConversationID", "Originator Conversation ID"); v != "" && v != res.OriginatorConversationID {
			return contradicted("the status names OriginatorConversationID " + strconv.Quote(v))
		}
		// A result without a ConversationID has its OriginatorConversationID
		// in OriginalConversationID: nothing to compare then.
		conv := res.OriginalConversationID
		if v := st.param("ConversationID", "Conversation ID"); v != "" && conv != res.OriginatorConversationID && v != conv {
			return contradicted("the status names ConversationID " + strconv.Quote(v))
		}
		return verified
	}
	// A customer's payment credits the shortcode. A receipt of a payment
	// the shortcode made (B2C, B2B) debits it, and is not one.
	code := d.c.serviceProviderCode
	for _, v := range st.ParameterValues("DebitPartyName") {
		if namesParty(v, code) {
			return contradicted("the status says the money left the shortcode (DebitPartyName)")
		}
	}
	credits := st.ParameterValues("CreditPartyName")
	for _, v := range credits {
		if namesParty(v, code) {
			return verified
		}
	}
	if len(credits) > 0 {
		return contradicted("the status credits another party than the shortcode")
	}
	return unverified("the status names no CreditPartyName to tell where the money went")
}

// namesParty reports whether a party name ("600310 - Safaricom333") is the
// shortcode's.
func namesParty(v, shortcode string) bool {
	v = strings.TrimSpace(v)
	return shortcode != "" && (v == shortcode || strings.HasPrefix(v, shortcode+" ") || strings.HasPrefix(v, shortcode+"-"))
}

// sameAmount compares two decimal amounts as written ("10", 10.00,
// "10.0"), without a floating-point number.
func sameAmount(a, b string) bool { return canonicalAmount(a) == canonicalAmount(b) }

func canonicalAmount(s string) string {
	s = strings.TrimSpace(s)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if t := strings.TrimLeft(s, "0"); t == "" || t[0] == '.' {
		s = "0" + t
	} else {
		s = t
	}
	return s
}

// The queries sent for results whose status has not come yet, bounded.
const maxPendingVerifications = 1024

func (d *daraja) rememberQuery(memo, conv string) {
	d.vmu.Lock()
	defer d.vmu.Unlock()
	if d.pending == nil || len(d.pending) >= maxPendingVerifications {
		d.pending = make(map[string][]string)
	}
	qs := append(d.pending[memo], conv)
	if len(qs) > 4 {
		qs = qs[len(qs)-4:]
	}
	d.pending[memo] = qs
}

func (d *daraja) pendingQueries(memo string) []string {
	d.vmu.Lock()
	defer d.vmu.Unlock()
	return append([]string(nil), d.pending[memo]...)
}

func (d *daraja) forgetQueries(memo string) {
	d.vmu.Lock()
	defer d.vmu.Unlock()
	delete(d.pending, memo)
}
