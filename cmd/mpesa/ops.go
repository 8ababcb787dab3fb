package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/internal/redact"
)

// The operator commands: token, status, reverse, pay.

// opCommand is the flag set of one operator command and what its help
// says.
type opCommand struct {
	name     string
	fs       *flag.FlagSet
	settings map[string]*string
	json     *bool
}

func newOp(e *env, name, synopsis, does, prints string) *opCommand {
	fs := flag.NewFlagSet("mpesa "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	op := &opCommand{name: name, fs: fs, settings: settingFlags(fs)}
	op.json = fs.Bool("json", false, "print one JSON object instead of text")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: mpesa %s\n\n%s\n\nPrints: %s\n\nFlags:\n", synopsis, does, prints)
		fs.PrintDefaults()
		fmt.Fprint(w, settingsHelp)
		fmt.Fprint(w, exitHelp)
	}
	return op
}

const exitHelp = `
Exit codes: 0 done; 1 refused by the gateway (nothing moved); 2 bad usage
(nothing sent); 3 outcome unknown (the payment may have gone through:
reconcile the printed reference with mpesa status); 4 unavailable (no usable
answer, nothing moved: safe to run again); 5 pending (accepted, the result
comes by callback).
`

// parse parses args, flags and operands in any order, and returns the
// operands. ok is false when the command must end with code.
func (op *opCommand) parse(e *env, args []string) (operands []string, code int, ok bool) {
	for {
		if err := op.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				op.fs.SetOutput(e.stdout)
				op.fs.Usage()
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		if op.fs.NArg() == 0 {
			return operands, 0, true
		}
		operands = append(operands, op.fs.Arg(0))
		args = op.fs.Args()[1:]
	}
}

// setup loads the settings and the client, or reports what is missing:
// the settings n names, more, and what checks find once the gateway is
// known, all at once.
func (op *opCommand) setup(e *env, n need, more []string, checks ...func(*settings) []string) (*settings, *mpesa.Client, int) {
	s, problems := loadSettings(e, op.settings, *op.json)
	if s != nil {
		problems = append(problems, s.need(n)...)
		for _, check := range checks {
			problems = append(problems, check(s)...)
		}
	}
	problems = append(problems, more...)
	if len(problems) > 0 {
		return nil, nil, usageError(e, op.name, problems...)
	}
	client, err := s.client()
	if err != nil {
		return nil, nil, usageError(e, op.name, strings.Split(err.Error(), "\n")...)
	}
	if s.environment == mpesa.Production && op.name != "token" && op.name != "status" {
		fmt.Fprintln(e.stderr, "mpesa "+op.name+": production: this moves real money")
	}
	return s, client, 0
}

func runToken(ctx context.Context, e *env, args []string) int {
	op := newOp(e, "token", "token [flags]",
		"Fetches the bearer the configured gateway accepts, for a call made by hand:\n"+
			"  curl -H \"Authorization: Bearer $(mpesa token)\" ...\n"+
			"OpenAPI v2: the encrypted ID of a new session (getSession); the gateway may\n"+
			"take up to 30 seconds to accept a new session, and it lasts the application's\n"+
			"session lifetime. Mozambique v1x: the encrypted API key, which has no session.\n"+
			"Daraja: a new OAuth access token (about an hour), which may end the app's\n"+
			"previous token.",
		"the bearer token alone on standard output (with --json, an object with\n"+
			"\"token\" and \"authorization\"). This is the one command that prints a secret:\n"+
			"whoever holds the token can make calls until it expires.")
	if _, code, ok := op.parse(e, args); !ok {
		return code
	}
	s, client, code := op.setup(e, 0, nil)
	if s == nil {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	bearer, err := client.Bearer(ctx)
	if err != nil {
		r := &report{Command: "token", Gateway: s.def.names[0]}
		r.failed(err, false)
		if *op.json {
			return r.print(e.stdout, true)
		}
		// Never on standard output: $(mpesa token) must not take an error
		// for a token.
		return r.print(e.stderr, false)
	}
	if *op.json {
		data, _ := json.MarshalIndent(map[string]string{
			"command": "token", "gateway": s.def.names[0],
			"token": string(bearer), "authorization": "Bearer " + string(bearer),
		}, "", "  ")
		fmt.Fprintln(e.stdout, string(data))
		return exitOK
	}
	fmt.Fprintln(e.stdout, string(bearer))
	switch s.def.gw {
	case mpesa.GatewayOpenAPI:
		fmt.Fprintln(e.stderr, "mpesa token: a session bearer; a new session may take up to 30 s to become live")
	case mpesa.GatewayDaraja:
		fmt.Fprintln(e.stderr, "mpesa token: a new OAuth access token of the app, for about an hour; Daraja may end the app's previous token, which its services then fetch again")
	}
	return exitOK
}

func runStatus(ctx context.Context, e *env, args []string) int {
	op := newOp(e, "status", "status [flags] REFERENCE",
		"Queries the status of a transaction by its TransactionID, its reference\n"+
			"(ThirdPartyConversationID; Mozambique: ThirdPartyReference) or its\n"+
			"ConversationID. With --wait it asks again, with backoff, until the state is\n"+
			"final (Completed, Cancelled, Expired, Failed) or the time is up.\n"+
			"Daraja: a CheckoutRequestID (ws_CO_...) is answered by the STK query at once;\n"+
			"any other reference (a receipt, a ConversationID) by the transaction status\n"+
			"API, whose answer Daraja posts to the result URL (exit 5; no --wait).",
		"the transaction's status, whether it was reversed (OpenAPI v2), the STK\n"+
			"result code (Daraja), and its IDs.")
	wait := op.fs.Duration("wait", 0, "ask until the state is final, for at most this long (reconcile)")
	operands, code, ok := op.parse(e, args)
	if !ok {
		return code
	}
	var more []string
	if len(operands) != 1 {
		more = append(more, "give one REFERENCE to query")
		operands = append(operands, "")
	}
	n := needShortcode | needInitiator | needResultURL
	if isCheckout(operands[0]) {
		n = needShortcode | needPasskey
	}
	s, client, code := op.setup(e, n, more, func(s *settings) []string {
		if s.def.gw == mpesa.GatewayDaraja && *wait > 0 && !isCheckout(operands[0]) {
			return []string{noDarajaWait("the transaction status API")}
		}
		return nil
	})
	if s == nil {
		return code
	}
	r := &report{Command: "status", Gateway: s.def.names[0], Reference: operands[0]}
	req := mpesa.TransactionStatusRequest{QueryReference: operands[0]}
	var st *mpesa.TransactionStatusResponse
	var err error
	if *wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, *wait)
		defer cancel()
		st, err = client.Reconcile(wctx, req)
		if err != nil && st != nil && errors.Is(err, context.DeadlineExceeded) {
			err = nil // the last answer, still not final
		}
	} else {
		st, err = client.TransactionStatus(ctx, req)
	}
	if err != nil {
		r.failed(err, false)
		r.Reference = operands[0]
		return r.print(e.stdout, *op.json)
	}
	r.Outcome, r.Code, r.Description, r.ConversationID = "answered", st.ResponseCode, st.ResponseDesc, st.ConversationID
	r.Status, r.OriginalTxID = string(st.TransactionStatus), st.OriginalTransactionID
	r.ResultCode, r.ResultDesc = st.ResultCode, st.ResultDesc
	if s.def.gw == mpesa.GatewayDaraja {
		r.Meaning = stkMeaning(r.ResultCode)
	}
	if s.def.gw == mpesa.GatewayOpenAPI && !st.Async() {
		rev := st.Reversed
		r.Reversed = &rev
	}
	if st.Async() {
		r.Outcome, r.exit, r.Next = "pending", exitPending, "the status query answers asynchronously on this application: the state comes by callback (mpesa listen)"
		if s.def.gw == mpesa.GatewayDaraja {
			r.Next = "accepted: Daraja posts the transaction's status to the result URL (mpesa listen)"
		}
	}
	return r.print(e.stdout, *op.json)
}

func runReverse(ctx context.Context, e *env, args []string) int {
	op := newOp(e, "reverse", "reverse [flags] TRANSACTION_ID",
		"Reverses a transaction: all of it, or --amount of it. On Mozambique v1x the\n"+
			"initiator (--initiator or MPESA_INITIATOR_ID) and MPESA_SECURITY_CREDENTIAL\n"+
			"are required. On Daraja --amount is required, and the initiator\n"+
			"(MPESA_INITIATOR_NAME, MPESA_INITIATOR_PASSWORD) and the result URL; the\n"+
			"result is posted there (exit 5; no --wait).",
		"the outcome, the reversal's reference and IDs; never the security credential.")
	amount := op.fs.String("amount", "", "reverse only this much (default: the whole amount)")
	ref := op.fs.String("ref", "", "the reversal's own reference and idempotency key (default: generated and printed)")
	wait := op.fs.Duration("wait", 0, "when the answer is asynchronous, ask the status until it is final, for at most this long")
	operands, code, ok := op.parse(e, args)
	if !ok {
		return code
	}
	var more []string
	if len(operands) != 1 {
		more = append(more, "give the TRANSACTION_ID to reverse")
		operands = append(operands, "")
	}
	s, client, code := op.setup(e, needShortcode|needInitiator|needResultURL, more, func(s *settings) []string {
		if s.def.gw == mpesa.GatewayDaraja {
			return darajaPaymentProblems("reverse", *amount == "", *ref != "", *wait > 0)
		}
		return nil
	})
	if s == nil {
		return code
	}
	if s.def.gw == mpesa.GatewayMozambique && (s.initiator == "" || s.credential == "") {
		var missing []string
		if s.initiator == "" {
			missing = append(missing, "no initiator: --initiator or MPESA_INITIATOR_ID (issued by Vodacom)")
		}
		if s.credential == "" {
			missing = append(missing, "MPESA_SECURITY_CREDENTIAL is not set (environment or --env-file)")
		}
		return usageError(e, op.name, missing...)
	}
	r := &report{Command: "reverse", Gateway: s.def.names[0], Amount: *amount}
	res, err := client.Reversal(ctx, mpesa.ReversalRequest{TransactionID: operands[0], ReversalAmount: *amount, ThirdPartyConversationID: *ref})
	return finishPayment(ctx, e, client, r, res, err, *wait, *op.json)
}

func runPay(ctx context.Context, e *env, args []string) int {
	kind := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		kind, args = args[0], args[1:]
	}
	op := newOp(e, "pay "+orWord(kind, "KIND"), "pay c2b|b2c|b2b [flags]",
		"Makes a payment. c2b: the customer (--msisdn) pays the shortcode, after a\n"+
			"PIN prompt on their phone (the call may stay open while it shows). b2c: the\n"+
			"shortcode pays the customer. b2b: the shortcode pays --receiver.\n"+
			"Daraja: c2b is an STK push (--transaction-reference is its AccountReference,\n"+
			"12 characters at most; --till pays a till), answered at once: its callback\n"+
			"comes to the result URL, and mpesa status CHECKOUT_ID (or --wait) tells how\n"+
			"it ended. b2c and b2b need the initiator, and post their result to the\n"+
			"result URL (exit 5; no --wait).",
		"the outcome, the payment's reference (keep it: it finds the payment again),\n"+
			"its ConversationID and TransactionID, the masked customer number. After an\n"+
			"unknown outcome (exit 3) it says how to reconcile.")
	amount := op.fs.String("amount", "", "the amount, a decimal string (required)")
	msisdn := op.fs.String("msisdn", "", "c2b, b2c: the customer's number with country code (env MPESA_CUSTOMER_MSISDN)")
	receiver := op.fs.String("receiver", "", "b2b: the shortcode credited")
	txRef := op.fs.String("transaction-reference", "", "the customer-facing TransactionReference, 1 to 20 characters (default: generated)")
	ref := op.fs.String("ref", "", "the payment's own reference and idempotency key, ThirdPartyConversationID (default: generated and printed); give the printed one to send a payment again safely")
	desc := op.fs.String("desc", "", "OpenAPI v2: the description of what is paid (default \"mpesa CLI payment\"); Daraja: the STK TransactionDesc (default \"CLI payment\") or the Remarks")
	till := op.fs.String("till", "", "Daraja c2b: pay this till number (buy goods) instead of the shortcode's pay bill")
	wait := op.fs.Duration("wait", 0, "when the answer is asynchronous, ask the status until it is final, for at most this long")
	if kind != "c2b" && kind != "b2c" && kind != "b2b" {
		if kind == "-h" || kind == "-help" || kind == "--help" || (kind == "" && len(args) > 0 && strings.Contains(args[0], "help")) {
			op.fs.SetOutput(e.stdout)
			op.fs.Usage()
			return exitOK
		}
		return usageError(e, "pay", "say which payment: mpesa pay c2b|b2c|b2b [flags]")
	}
	if _, code, ok := op.parse(e, args); !ok {
		return code
	}
	var more []string
	if *amount == "" {
		more = append(more, "no amount: --amount")
	}
	s, _ := loadSettings(e, op.settings, *op.json)
	customer := *msisdn
	if customer == "" && s != nil {
		customer = s.msisdn
	}
	switch {
	case kind != "b2b" && customer == "":
		more = append(more, "no customer: --msisdn or MPESA_CUSTOMER_MSISDN")
	case kind == "b2b" && *receiver == "":
		more = append(more, "no receiver: --receiver (the shortcode credited)")
	}
	n := needShortcode | needInitiator | needResultURL
	if kind == "c2b" {
		n = needShortcode | needPasskey | needResultURL
	}
	s, client, code := op.setup(e, n, more, func(s *settings) []string {
		if s.def.gw != mpesa.GatewayDaraja {
			if *till != "" {
				return []string{"--till: Daraja only"}
			}
			return nil
		}
		return darajaPaymentProblems("pay "+kind, false, *ref != "" && kind != "b2c", *wait > 0 && kind != "c2b")
	})
	if s == nil {
		return code
	}
	if *txRef == "" {
		*txRef = mpesa.NewReference()[:12]
	}
	if *desc == "" {
		*desc = "mpesa CLI payment"
		if s.def.gw == mpesa.GatewayDaraja && kind == "c2b" {
			*desc = "CLI payment" // TransactionDesc: 13 characters at most
		}
	}
	r := &report{Command: "pay " + kind, Gateway: s.def.names[0], Amount: *amount}
	if kind != "b2b" {
		r.MSISDN = redact.MSISDN(customer)
	}
	if s.def.gw == mpesa.GatewayMozambique {
		*desc = "" // not a Mozambique field
	}
	var res *mpesa.PaymentResponse
	var err error
	switch kind {
	case "c2b":
		res, err = client.C2B(ctx, mpesa.C2BRequest{Amount: *amount, CustomerMSISDN: customer, TransactionReference: *txRef, ThirdPartyConversationID: *ref, PurchasedItemsDesc: *desc, TillNumber: *till})
	case "b2c":
		res, err = client.B2C(ctx, mpesa.B2CRequest{Amount: *amount, CustomerMSISDN: customer, TransactionReference: *txRef, ThirdPartyConversationID: *ref, PaymentItemsDesc: *desc})
	case "b2b":
		res, err = client.B2B(ctx, mpesa.B2BRequest{Amount: *amount, ReceiverPartyCode: *receiver, TransactionReference: *txRef, ThirdPartyConversationID: *ref, PurchasedItemsDesc: *desc})
	}
	return finishPayment(ctx, e, client, r, res, err, *wait, *op.json)
}

// finishPayment reports the answer to a call that moves money, waiting
// for an asynchronous result with status queries when wait is set.
func finishPayment(ctx context.Context, e *env, client *mpesa.Client, r *report, res *mpesa.PaymentResponse, err error, wait time.Duration, asJSON bool) int {
	daraja := r.Gateway == mpesa.GatewayDaraja.String()
	if err != nil {
		r.failed(err, true)
		if daraja {
			r.darajaFailed()
		}
		return r.print(e.stdout, asJSON)
	}
	r.Code, r.Description = res.ResponseCode, res.ResponseDesc
	r.Reference, r.ConversationID, r.TransactionID = res.ThirdPartyConversationID, res.ConversationID, res.TransactionID
	if !res.Async() {
		r.Outcome, r.exit = "completed", exitOK
		return r.print(e.stdout, asJSON)
	}
	r.Outcome, r.exit = "pending", exitPending
	r.Next = "accepted: the result comes by callback (mpesa listen); mpesa status " + r.Reference + " tells how it ended"
	query := r.Reference
	if daraja {
		query = r.darajaPending(res)
	}
	if wait <= 0 || query == "" {
		return r.print(e.stdout, asJSON)
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	st, serr := client.Reconcile(wctx, mpesa.TransactionStatusRequest{QueryReference: query, SentAt: time.Now()})
	if st != nil {
		r.ResultCode, r.ResultDesc = st.ResultCode, st.ResultDesc
		r.Status = string(st.TransactionStatus)
		if st.OriginalTransactionID != "" && st.OriginalTransactionID != "N/A" {
			r.TransactionID = st.OriginalTransactionID
		}
	}
	switch {
	case st != nil && st.TransactionStatus == mpesa.StatusCompleted:
		r.Outcome, r.exit, r.Next = "completed", exitOK, ""
		r.Description = "accepted, then completed (status query)"
	case st != nil && st.TransactionStatus.Final() && st.TransactionStatus.Known():
		r.Outcome, r.exit, r.Next = "refused", exitRefused, ""
		r.Code, r.Description = "", "accepted, then ended "+string(st.TransactionStatus)+" (status query)"
		if daraja {
			r.Meaning = stkMeaning(r.ResultCode)
		}
	case serr != nil && !errors.Is(serr, context.DeadlineExceeded):
		r.Next = "the status query failed (" + meaning(serr) + "); " + r.Next
	}
	return r.print(e.stdout, asJSON)
}

func orWord(s, word string) string {
	if s == "" || strings.HasPrefix(s, "-") {
		return word
	}
	return s
}

func runVersion(_ context.Context, e *env, _ []string) int {
	fmt.Fprintf(e.stdout, "mpesa (github.com/mpesa-go/mpesa %s) %s %s/%s\n", mpesa.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}
