package main

import (
	"context"
	"strings"

	"github.com/mpesa-go/mpesa"
)

// The Daraja side of the operator commands: the commands only Daraja has
// (balance, register-urls), and what the shared ones print on Daraja, where
// every result is posted to the request's URL and most products take no
// reference of the merchant's (docs/gateways.md D8, D10, D15, D20).

// isCheckout reports whether a reference is an STK push's
// CheckoutRequestID, which the STK query answers at once.
func isCheckout(ref string) bool { return strings.HasPrefix(ref, "ws_CO_") }

// stkMeaning names the kind of failure of an STK result code (1032: the
// customer cancelled), "" for success or a code the SDK does not know.
func stkMeaning(code string) string {
	if code == "" {
		return ""
	}
	if info, ok := mpesa.LookupCode(mpesa.GatewayDaraja, mpesa.APIC2B, code); ok && info.Kind != nil {
		return strings.TrimPrefix(info.Kind.Error(), "mpesa: ")
	}
	return ""
}

// noDarajaWait is the usage problem of --wait where Daraja's answer comes
// by callback only.
func noDarajaWait(what string) string {
	return "--wait: Daraja posts the result of " + what + " to the result URL only, which this command cannot wait on (mpesa listen receives it); only pay c2b and status ws_CO_... can wait"
}

// darajaPaymentProblems are the usage problems of a Daraja payment
// command: a reversal without its amount, a --ref Daraja would never see
// (only B2C v3 takes the merchant's OriginatorConversationID), and a
// --wait for a result that comes by callback only.
func darajaPaymentProblems(cmd string, noAmount, ref, wait bool) []string {
	var out []string
	if noAmount {
		out = append(out, "no amount: --amount (a Daraja reversal names its amount)")
	}
	if ref {
		out = append(out, "--ref: Daraja's "+strings.TrimPrefix(cmd, "pay ")+" takes no reference of yours; the IDs it answers find the payment (only pay b2c sends --ref, as its OriginatorConversationID)")
	}
	if wait {
		out = append(out, noDarajaWait(cmd))
	}
	return out
}

// sendsRef reports whether a Daraja command sends the merchant's
// reference: B2C alone does (docs/gateways.md D15). The others' reference
// is the SDK's own, which no Daraja ID matches, so it is not printed.
func sendsRef(cmd string) bool { return cmd == "pay b2c" }

// darajaPending says what comes after Daraja accepted a payment, and
// returns the reference --wait reconciles: the CheckoutRequestID of an STK
// push; "" for the others, whose result comes by callback only.
func (r *report) darajaPending(res *mpesa.PaymentResponse) string {
	r.MerchantRequestID, r.Originator = res.MerchantRequestID, res.OriginatorConversationID
	if !sendsRef(r.Command) {
		r.Reference = ""
	}
	if r.Originator == r.Reference {
		r.Originator = ""
	}
	if r.Command == "pay c2b" {
		r.Next = "the customer is asked for their PIN; the STK callback comes to the result URL (mpesa listen); mpesa status " + res.CheckoutRequestID + " tells how it ended"
		return res.CheckoutRequestID
	}
	r.Next = "accepted: Daraja posts the result to the result URL (mpesa listen); mpesa status " + r.ConversationID + " asks for it again, answered there too"
	return ""
}

// darajaFailed adapts the advice of a failed Daraja payment.
func (r *report) darajaFailed() {
	if sendsRef(r.Command) {
		return
	}
	r.Reference = ""
	switch r.Outcome {
	case "unavailable":
		if r.Next != "" {
			r.Next = "the gateway did not process it: running the command again is safe"
		}
	case "unknown":
		switch {
		case r.Command == "pay c2b" && isCheckout(r.ConversationID):
			r.Next = "the prompt may have reached the customer: do not push again; ask with: mpesa status " + r.ConversationID
		case r.Command == "pay c2b":
			r.Next = "the prompt may have reached the customer: do not push again; no CheckoutRequestID came back, so only the STK callback to the result URL can tell (mpesa listen)"
		case r.ConversationID != "":
			r.Next = "it may have gone through: do not send it again; mpesa status " + r.ConversationID + " asks, and the Result comes to the result URL (mpesa listen)"
		default:
			r.Next = "it may have gone through: do not send it again; only the Result posted to the result URL can tell (mpesa listen)"
		}
	}
}

// darajaOnly is the usage problem of a Daraja-only command on another
// gateway.
func darajaOnly(cmd string) func(*settings) []string {
	return func(s *settings) []string {
		if s.def.gw != mpesa.GatewayDaraja {
			return []string{cmd + " is Daraja's: --gateway daraja (or MPESA_GATEWAY=daraja)"}
		}
		return nil
	}
}

func runBalance(ctx context.Context, e *env, args []string) int {
	op := newOp(e, "balance", "balance [flags]",
		"Daraja only. Asks for the balances of the shortcode's accounts (Account\n"+
			"Balance). It needs the initiator (MPESA_INITIATOR_NAME,\n"+
			"MPESA_INITIATOR_PASSWORD) and the result URL: Daraja answers with an\n"+
			"acknowledgement and posts the balances there (mpesa listen prints them).",
		"the acknowledgement: its ConversationID and OriginatorConversationID; the\n"+
			"balances come to the result URL (exit 5).")
	remarks := op.fs.String("remarks", "", "the query's Remarks, 2 to 100 characters (default \"Account balance\")")
	operands, code, ok := op.parse(e, args)
	if !ok {
		return code
	}
	var more []string
	if len(operands) > 0 {
		more = append(more, "unexpected arguments: "+strings.Join(operands, " "))
	}
	s, client, code := op.setup(e, needShortcode|needInitiator|needResultURL, more, darajaOnly("balance"))
	if s == nil {
		return code
	}
	r := &report{Command: "balance", Gateway: s.def.names[0], Shortcode: s.shortcode}
	res, err := client.AccountBalance(ctx, mpesa.AccountBalanceRequest{Remarks: *remarks})
	if err != nil {
		r.failed(err, false)
		r.Reference = ""
		return r.print(e.stdout, *op.json)
	}
	r.Outcome, r.exit = "pending", exitPending
	r.Code, r.Description = res.ResponseCode, res.ResponseDesc
	r.ConversationID, r.Originator = res.ConversationID, res.OriginatorConversationID
	r.Next = "accepted: Daraja posts the balances to the result URL (mpesa listen)"
	return r.print(e.stdout, *op.json)
}

func runRegisterURLs(ctx context.Context, e *env, args []string) int {
	op := newOp(e, "register-urls", "register-urls [flags]",
		"Daraja only. Registers the shortcode's C2B URLs: M-Pesa asks the\n"+
			"validation URL before a customer's payment to the shortcode completes\n"+
			"(once Safaricom enabled external validation) and posts every completed\n"+
			"payment to the confirmation URL. In production a shortcode registers once\n"+
			"(delete the URLs on the Daraja portal to change them); in the sandbox a new\n"+
			"registration replaces the old one.",
		"the outcome and Daraja's OriginatorConversationID; a second registration in\n"+
			"production is refused as already registered (exit 1).")
	confirmation := op.fs.String("confirmation-url", "", "where M-Pesa posts each completed payment (required)")
	validation := op.fs.String("validation-url", "", "what M-Pesa asks before a payment completes (required)")
	responseType := op.fs.String("response-type", "", "Completed or Cancelled: what M-Pesa does with a payment when the validation URL is unreachable or late (required)")
	operands, code, ok := op.parse(e, args)
	if !ok {
		return code
	}
	var more []string
	if len(operands) > 0 {
		more = append(more, "unexpected arguments: "+strings.Join(operands, " "))
	}
	if *confirmation == "" {
		more = append(more, "no confirmation URL: --confirmation-url")
	}
	if *validation == "" {
		more = append(more, "no validation URL: --validation-url")
	}
	if *responseType == "" {
		more = append(more, "no response type: --response-type Completed or Cancelled (what M-Pesa does when the validation URL does not answer)")
	}
	s, client, code := op.setup(e, needShortcode, more, darajaOnly("register-urls"))
	if s == nil {
		return code
	}
	r := &report{Command: "register-urls", Gateway: s.def.names[0], Shortcode: s.shortcode}
	res, err := client.RegisterC2BURLs(ctx, mpesa.RegisterC2BURLsRequest{
		ResponseType: *responseType, ConfirmationURL: *confirmation, ValidationURL: *validation,
	})
	if err != nil {
		r.failed(err, false)
		r.Reference = ""
		if r.Outcome == "unknown" {
			r.Next = "the registration may have been made: in production a second one is refused as already registered; the sandbox takes it again"
		}
		return r.print(e.stdout, *op.json)
	}
	r.Outcome, r.exit = "completed", exitOK
	r.Code, r.Description, r.Originator = res.ResponseCode, res.ResponseDesc, res.OriginatorConversationID
	return r.print(e.stdout, *op.json)
}
