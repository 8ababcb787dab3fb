package mpesa

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mpesa-go/mpesa/internal/redact"
	"github.com/mpesa-go/mpesa/internal/validate"
	"github.com/mpesa-go/mpesa/internal/wire"
)

// referenceAlphabet and referenceLength shape NewReference: 20 characters
// of 36 give about 103 random bits, and fit every reference rule of both
// gateways (ThirdPartyConversationID 1–40, QueryReference 1–32 letters and
// digits, TransactionReference 1–20).
const (
	referenceAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	referenceLength   = 20
)

// NewReference returns a new random reference from crypto/rand that fits the
// ThirdPartyConversationID (OpenAPI v2) and ThirdPartyReference (Mozambique)
// rules. A request without a reference gets one; generate and store it
// yourself before the call when you want to find the payment again after a
// crash.
func NewReference() string {
	var b [referenceLength]byte
	// 252 is the largest multiple of 36 below 256: rejecting larger bytes
	// keeps every character equally likely.
	var buf [referenceLength * 2]byte
	n := 0
	for n < referenceLength {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("mpesa: crypto/rand failed: " + err.Error())
		}
		for _, x := range buf {
			if x < 252 && n < referenceLength {
				b[n] = referenceAlphabet[x%36]
				n++
			}
		}
	}
	return string(b[:])
}

// Secret is a credential, such as the security credential of a Mozambique
// reversal. It prints as [REDACTED] with every fmt verb, in log/slog and in
// JSON; convert it with string() where the value itself is needed.
type Secret string

// String returns "[REDACTED]".
func (Secret) String() string { return redact.Mask }

// GoString returns "[REDACTED]".
func (Secret) GoString() string { return redact.Mask }

// Format writes "[REDACTED]" whatever the verb.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redact.Mask)) }

// LogValue returns "[REDACTED]".
func (Secret) LogValue() slog.Value { return slog.StringValue(redact.Mask) }

// MarshalJSON encodes "[REDACTED]", so that a request logged or stored as
// JSON does not carry the credential either.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redact.Mask + `"`), nil }

// PaymentResponse is the answer to a call that moves money: C2B, B2C, B2B and
// reversal. When the product is configured for asynchronous answers on the
// portal, TransactionID is empty and the result arrives later at the
// application's Response URL (see Handler).
type PaymentResponse struct {
	// ConversationID is the gateway's reference of the transaction.
	ConversationID string
	// TransactionID is the Mobile Money transaction ID; empty when the
	// answer is asynchronous.
	TransactionID string
	// ThirdPartyConversationID is the caller's reference, given or
	// generated (Mozambique: ThirdPartyReference).
	ThirdPartyConversationID string
	ResponseCode             string
	ResponseDesc             string
}

// Async reports whether the answer was the asynchronous one: the request was
// accepted and its result will come by callback.
func (r *PaymentResponse) Async() bool { return r.TransactionID == "" }

func paymentResponse(out *wireOutput, ref string) *PaymentResponse {
	r := &PaymentResponse{
		ConversationID:           string(out.ConversationID),
		TransactionID:            string(out.TransactionID),
		ThirdPartyConversationID: out.reference(),
		ResponseCode:             string(out.ResponseCode),
		ResponseDesc:             string(out.ResponseDesc),
	}
	if r.ThirdPartyConversationID == "" {
		r.ThirdPartyConversationID = ref
	}
	return r
}

// checker collects every invalid field of a request.
type checker struct {
	api    API
	fields []FieldError
}

func (k *checker) fail(field, rule, value string) {
	if len(value) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(value[cut]) {
			cut--
		}
		value = value[:cut] + "…"
	}
	k.fields = append(k.fields, FieldError{Field: field, Rule: rule, Value: value})
}

// require reports whether v is set, recording the field otherwise.
func (k *checker) require(field, v string) bool {
	if v == "" {
		k.fail(field, "is required", "")
		return false
	}
	return true
}

// utf8Text checks a required free string that the documents do not
// constrain further; shown is what the error may display of it.
func (k *checker) utf8Text(field, v, shown string) {
	if k.require(field, v) && !utf8.ValidString(v) {
		k.fail(field, "must be valid UTF-8", shown)
	}
}

func (k *checker) amount(field, v string) {
	if k.require(field, v) && !validate.Amount(v) {
		k.fail(field, `must match ^\d*\.?\d+$ and be greater than zero`, v)
	}
}

// optionalAmount checks v only when it is set.
func (k *checker) optionalAmount(field, v string) {
	if v != "" {
		k.amount(field, v)
	}
}

// msisdn checks a customer number in the gateway's form: 12 to 14 digits on
// OpenAPI v2, 258 and nine digits on Mozambique. The value is masked in the
// error.
func (k *checker) msisdn(g Gateway, field, v string) {
	if !k.require(field, v) {
		return
	}
	if g == GatewayMozambique {
		if !validate.Digits(v, 12, 12) || !strings.HasPrefix(v, "258") {
			k.fail(field, "must be 258 followed by 9 digits (see NormalizeMSISDN)", redact.MSISDN(v))
		}
		return
	}
	if !validate.Digits(v, 12, 14) {
		k.fail(field, "must be 12 to 14 digits with the country code (see NormalizeMSISDN)", redact.MSISDN(v))
	}
}

func (k *checker) shortcode(field, v string) {
	if k.require(field, v) && !validate.Alnum(v, 4, 12) {
		k.fail(field, "must be 4 to 12 letters or digits", v)
	}
}

// reference checks a ^[0-9a-zA-Z \w+]{1,max}$ reference.
func (k *checker) reference(field, v string, max int) {
	if k.require(field, v) && !validate.Reference(v, 1, max) {
		k.fail(field, fmt.Sprintf("must be 1 to %d letters, digits, '_', ' ' or '+'", max), v)
	}
}

func (k *checker) alnum(field, v string, max int) {
	if k.require(field, v) && !validate.Alnum(v, 1, max) {
		k.fail(field, fmt.Sprintf("must be 1 to %d letters or digits", max), v)
	}
}

func (k *checker) currency(field, v string) {
	if k.require(field, v) && !validate.Letters(v, 1, 3) {
		k.fail(field, "must be 1 to 3 letters", v)
	}
}

func (k *checker) country(field, v string) {
	if k.require(field, v) && !validate.Letters(v, 3, 3) {
		k.fail(field, "must be a 3-letter country such as TZN", v)
	}
}

// description checks a free-text description: 1 to 256 characters. The
// documents give ^[0-9a-zA-Z \w+]{1,256}$, but their own example is
// "Handbag, Black shoes" (SPEC-NOTES §3.7); refusing commas would refuse
// the documented sample, so only the length and control characters are
// checked.
func (k *checker) description(field, v string) {
	if k.require(field, v) && !validate.Text(v, 1, 256) {
		k.fail(field, "must be 1 to 256 characters without control characters", v)
	}
}

// addMarketFields checks and adds what only OpenAPI v2 takes in a payment:
// Country and Currency, defaulted from the client, and the description
// descKey ("input_PurchasedItemsDesc"). Mozambique takes none of them.
func (c *Client) addMarketFields(k *checker, p *params, country, currency, descKey, desc string) {
	if c.gateway != GatewayOpenAPI {
		return
	}
	country, currency = c.marketFields(k, country, currency)
	k.description(strings.TrimPrefix(descKey, "input_"), desc)
	p.add("input_Country", country)
	p.add("input_Currency", currency)
	p.add(descKey, desc)
}

// pay sends a payment whose fields k checked and p holds, unless k found
// an invalid one.
func (c *Client) pay(ctx context.Context, k *checker, p *params, ref string) (*PaymentResponse, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	out, err := c.do(ctx, k.api, p.sorted(), ref)
	if err != nil {
		return nil, err
	}
	return paymentResponse(out, ref), nil
}

// marketFields returns the Country and Currency of an OpenAPI request,
// defaulted from the client, and checks them.
func (c *Client) marketFields(k *checker, country, currency string) (string, string) {
	country = orDefault(country, c.market.Country())
	currency = orDefault(currency, c.currency)
	k.country("Country", country)
	k.currency("Currency", currency)
	return country, currency
}

func (k *checker) err() error {
	if len(k.fields) == 0 {
		return nil
	}
	return &ValidationError{API: k.api, Fields: k.fields}
}

// referenceOrNew returns v, or a new reference when v is empty.
func referenceOrNew(v string) string {
	if v == "" {
		return NewReference()
	}
	return v
}

// orDefault returns v, or def when v is empty.
func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// params builds the wire parameters of a request, skipping empty optional
// values, in the order given (the products list them sorted by key).
type params []wire.Param

func (p *params) add(key, value string) { *p = append(*p, wire.Param{Key: key, Value: value}) }

func (p *params) addOptional(key, value string) {
	if value != "" {
		p.add(key, value)
	}
}

// sorted returns the parameters ordered by key, so that a body or query is
// the same whatever order a product added them in.
func (p params) sorted() []wire.Param {
	slices.SortFunc(p, func(a, b wire.Param) int { return strings.Compare(a.Key, b.Key) })
	return p
}

// referenceKey is the wire name of the caller's per-request reference.
func (c *Client) referenceKey() string {
	if c.gateway == GatewayMozambique {
		return "input_ThirdPartyReference"
	}
	return "input_ThirdPartyConversationID"
}

// isTrue reports whether s is a true boolean as parseBool reads it.
func isTrue(s string) bool {
	b, _ := parseBool(s)
	return b
}

// parseBool reads a boolean as the documents write it ("True", "False") or
// as JSON does. An empty value is false and ok.
func parseBool(s string) (value, ok bool) {
	switch t := strings.TrimSpace(s); {
	case t == "":
		return false, true
	case strings.EqualFold(t, "true"):
		return true, true
	case strings.EqualFold(t, "false"):
		return false, true
	}
	return false, false
}
