package mpesa

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa/internal/redact"
)

// CallbackKind names the kind of callback a Result was read from. The iPG
// gateways post one kind; Daraja posts several, to different URLs, with
// different acknowledgements (docs/gateways.md D8, D13, D20, D21, D28).
type CallbackKind int

const (
	// CallbackResult is a result: every iPG callback, and Daraja's Result
	// envelope of B2C, B2B, reversal, transaction status and account
	// balance (ResultURL).
	CallbackResult CallbackKind = iota
	// CallbackSTK is Daraja's STK push callback (Body.stkCallback, posted
	// to the request's CallBackURL).
	CallbackSTK
	// CallbackQueueTimeout is Daraja's QueueTimeOutURL notice: the request
	// timed out in M-Pesa's queue and its outcome is unknown. A Handler
	// reads one only with QueueTimeoutNotices.
	CallbackQueueTimeout
	// CallbackC2BValidation is Daraja's question, posted to the C2B
	// ValidationURL, whether to complete a customer's payment; only a
	// C2B validator (NewC2BValidator) reads it.
	CallbackC2BValidation
	// CallbackC2BConfirmation is Daraja's notice, posted to the C2B
	// ConfirmationURL, of a customer's completed payment.
	CallbackC2BConfirmation
)

// String returns "result", "stk", "queue-timeout", "c2b-validation" or
// "c2b-confirmation".
func (k CallbackKind) String() string {
	switch k {
	case CallbackResult:
		return "result"
	case CallbackSTK:
		return "stk"
	case CallbackQueueTimeout:
		return "queue-timeout"
	case CallbackC2BValidation:
		return "c2b-validation"
	case CallbackC2BConfirmation:
		return "c2b-confirmation"
	}
	return "callback(" + strconv.Itoa(int(k)) + ")"
}

// ResultParameter is one Key/Value item of a Daraja result: a
// ResultParameter or ReferenceItem of the Result envelope, or an STK
// callback's CallbackMetadata item (Name/Value). Value is as sent: a string
// decoded, a number in its JSON spelling ("8959269.60"), an object or array
// verbatim; missing or null is "". Printing one masks phone numbers and
// names.
type ResultParameter struct {
	Key, Value string
}

// String describes the parameter with phone numbers and names masked.
// Times (keys with Time or Date, 14 digits at most) are not phone numbers
// and print as sent.
func (p ResultParameter) String() string {
	v := p.Value
	if !isTimeParameter(p.Key, v) {
		v = maskExtra(p.Key, v)
	}
	return redact.Text(p.Key) + ": " + v
}

func isTimeParameter(key, v string) bool {
	if !strings.Contains(key, "Time") && !strings.Contains(key, "Date") || len(v) > 14 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// GoString is String.
func (p ResultParameter) GoString() string { return p.String() }

// Format writes String whatever the verb.
func (p ResultParameter) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

// LogValue describes the parameter to log/slog, masked as String is.
func (p ResultParameter) LogValue() slog.Value { return slog.StringValue(p.String()) }

// ResultParameters is a list of result parameters, in the order sent.
// Printing or logging it masks phone numbers and names, as Result does.
type ResultParameters []ResultParameter

// String describes the parameters masked; "" for none.
func (ps ResultParameters) String() string {
	if len(ps) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.String())
	}
	b.WriteByte(']')
	return b.String()
}

// GoString is String.
func (ps ResultParameters) GoString() string { return ps.String() }

// Format writes String whatever the verb.
func (ps ResultParameters) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, ps.String()) }

// LogValue describes the parameters to log/slog, masked.
func (ps ResultParameters) LogValue() slog.Value { return slog.StringValue(ps.String()) }

// Parameter returns the value of the first of the result's Parameters
// whose Key is key, exactly as spelt, and whether there is one.
func (r *Result) Parameter(key string) (string, bool) {
	for _, p := range r.Parameters {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// ParameterValues returns the values of every parameter named key, in
// order: Daraja repeats some keys (a status result's DebitPartyName).
func (r *Result) ParameterValues(key string) []string {
	var out []string
	for _, p := range r.Parameters {
		if p.Key == key {
			out = append(out, p.Value)
		}
	}
	return out
}

// param returns the trimmed value of the first of keys that is present.
func (r *Result) param(keys ...string) string {
	for _, k := range keys {
		if v, ok := r.Parameter(k); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Receipt returns the M-Pesa receipt the result reports: a status result's
// ReceiptNo (the queried transaction's), a B2C result's TransactionReceipt,
// or else the TransactionID when it is a receipt rather than a placeholder
// (an STK push's MpesaReceiptNumber, a C2B TransID, the envelope's
// TransactionID).
func (r *Result) Receipt() string {
	if v := r.param("ReceiptNo", "TransactionReceipt"); v != "" {
		return v
	}
	if r.Gateway == GatewayDaraja && !isReceiptID(r.TransactionID) {
		return ""
	}
	return strings.TrimSpace(r.TransactionID)
}

// TransactionStatus returns the state a Daraja status result reports, its
// TransactionStatus parameter mapped as Reconcile maps it (Completed,
// Cancelled, Expired; Declined is StatusFailed; Initiated and (Pending)
// Authorized are StatusPending; an undocumented value kept as sent), or ""
// when the result has no such parameter (docs/gateways.md D18).
func (r *Result) TransactionStatus() TransactionStatus {
	v, ok := r.Parameter("TransactionStatus")
	if !ok {
		return ""
	}
	return darajaStatus(strings.TrimSpace(v))
}

// The layouts of Daraja's completion times: the 14 digits of most results
// and callbacks, and B2C's TransactionCompletedDateTime.
const (
	darajaTimeLayout    = "20060102150405"
	darajaB2CTimeLayout = "02.01.2006 15:04:05"
)

// CompletedAt returns when M-Pesa completed the transaction, read in East
// Africa Time from the first of: the B2C TransactionCompletedDateTime
// ("06.07.2024 22:48:52"), TransCompletedTime (B2B, reversal),
// TransactionCompletedTime, FinalisedTime or FinalizedTime (status),
// BOCompletedTime (balance), or TransactionDate (STK TransactionDate, C2B
// TransTime). ok is false when none is there or it cannot be read.
func (r *Result) CompletedAt() (t time.Time, ok bool) {
	v := r.param("TransactionCompletedDateTime", "TransCompletedTime", "TransactionCompletedTime",
		"FinalisedTime", "FinalizedTime", "BOCompletedTime")
	if v == "" {
		v = strings.TrimSpace(r.TransactionDate)
	}
	for _, layout := range []string{darajaTimeLayout, darajaB2CTimeLayout} {
		if t, err := time.ParseInLocation(layout, v, eat); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// PublicName returns the counterparty as M-Pesa names it: B2C and B2B's
// ReceiverPartyPublicName ("254705912645 - NICHOLAS JOHN SONGOK",
// "600000 - saf test org"), or a reversal's CreditPartyPublicName. It is
// personal data; printing the Result masks it.
func (r *Result) PublicName() string {
	return r.param("ReceiverPartyPublicName", "CreditPartyPublicName")
}

// BalanceAccount is one account of a Daraja balance result.
type BalanceAccount struct {
	// Name ("Working Account", "Utility Account", …) and Currency
	// ("KES").
	Name, Currency string
	// Available is the first amount, read as the available balance;
	// Amounts are the four amounts as sent (the portal's labels for them
	// are garbled; docs/gateways.md D17).
	Available string
	Amounts   []string
	// Raw is the account's text as sent. An account of another layout has
	// Raw only.
	Raw string
}

// Balances returns the accounts of a balance result's AccountBalance
// parameter, "Name|KES|a|b|c|d" accounts joined by '&' (docs/gateways.md
// D17), or nil when there is none.
func (r *Result) Balances() []BalanceAccount {
	v := r.param("AccountBalance")
	if v == "" {
		return nil
	}
	var out []BalanceAccount
	for _, acc := range strings.Split(v, "&") {
		if acc = strings.TrimSpace(acc); acc == "" {
			continue
		}
		b := BalanceAccount{Raw: acc}
		if f := strings.Split(acc, "|"); len(f) == 6 {
			b.Name, b.Currency = strings.TrimSpace(f[0]), strings.TrimSpace(f[1])
			b.Amounts = f[2:]
			for i := range b.Amounts {
				b.Amounts[i] = strings.TrimSpace(b.Amounts[i])
			}
			b.Available = b.Amounts[0]
		}
		out = append(out, b)
	}
	return out
}
