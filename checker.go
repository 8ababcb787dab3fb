package mpesa

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mpesa-go/mpesa/internal/redact"
	"github.com/mpesa-go/mpesa/internal/validate"
	"github.com/mpesa-go/mpesa/internal/wire"
)

// checker collects every invalid field of a request, so that the caller
// learns them all at once and before any I/O.
type checker struct {
	api    API
	rules  *rulebook
	fields []FieldError
}

// A rule is one documented constraint on a field: a test and the words
// that tell a caller what the value must be.
type rule struct {
	ok   func(string) bool
	says string
}

// A rulebook holds a gateway's rules for the kinds of fields the products
// share. Each gateway's rulebook sits with its dialect (openapi.go,
// mozambique.go, daraja.go).
type rulebook struct {
	msisdn         rule // a customer's number; masked in errors
	shortcode      rule // a business shortcode
	transactionRef rule // the customer-facing reference of a payment
	reference      rule // the caller's reference of a query
	paymentRef     rule // the caller's reference of a call that moves money
	queryRef       rule // what a status query looks for
	transactionID  rule // a transaction to reverse
	text           rule // a free string the documents do not constrain further
}

func (k *checker) fail(field, rule, value string) {
	// A phone number typed into the wrong field is still one.
	value = redact.PhoneNumbers(value)
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

// check applies r to a required field.
func (k *checker) check(field, v string, r rule) {
	if k.require(field, v) && !r.ok(v) {
		k.fail(field, r.says, v)
	}
}

// secret applies r to a required field whose value the error must not
// show.
func (k *checker) secret(field, v string, r rule) {
	if k.require(field, v) && !r.ok(v) {
		k.fail(field, r.says, redact.Mask)
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

// msisdn checks a customer number with the gateway's rule; the value is
// masked in the error.
func (k *checker) msisdn(field, v string) {
	if k.require(field, v) && !k.rules.msisdn.ok(v) {
		k.fail(field, k.rules.msisdn.says, redact.MSISDN(v))
	}
}

func (k *checker) shortcode(field, v string) { k.check(field, v, k.rules.shortcode) }

func (k *checker) transactionRef(field, v string) { k.check(field, v, k.rules.transactionRef) }

func (k *checker) reference(field, v string) { k.check(field, v, k.rules.reference) }

func (k *checker) paymentRef(field, v string) { k.check(field, v, k.rules.paymentRef) }

func (k *checker) text(field, v string) { k.check(field, v, k.rules.text) }

func (k *checker) alnum(field, v string, max int) {
	if k.require(field, v) && !validate.Alnum(v, 1, max) {
		k.fail(field, fmt.Sprintf("must be 1 to %d letters or digits", max), v)
	}
}

// description checks a free-text description: 1 to 256 characters. The
// OpenAPI portal gives ^[0-9a-zA-Z \w+]{1,256}$, but its own example is
// "Handbag, Black shoes" (docs/gateways.md O9); refusing commas would refuse
// the documented sample, so only the length and control characters are
// checked.
func (k *checker) description(field, v string) {
	if k.require(field, v) && !validate.Text(v, 1, 256) {
		k.fail(field, "must be 1 to 256 characters without control characters", v)
	}
}

func (k *checker) err() error {
	if len(k.fields) == 0 {
		return nil
	}
	return &ValidationError{API: k.api, Fields: k.fields}
}

// Rules shared by the rulebooks.
var (
	ruleText = rule{func(v string) bool { return validate.Text(v, 1, 1<<20) },
		"must be valid UTF-8 without control characters"}
	ruleAlnum20 = rule{func(v string) bool { return validate.Alnum(v, 1, 20) }, "must be 1 to 20 letters or digits"}
	ruleAlnum32 = rule{func(v string) bool { return validate.Alnum(v, 1, 32) }, "must be 1 to 32 letters or digits"}
)

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
// values.
type params []wire.Param

// maxParams is the most parameters a request of the iPG gateways has (direct
// debit creation), the capacity that lets a request be built without the
// slice growing.
const maxParams = 12

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
