package mpesa

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/mpesa-go/mpesa/internal/wire"
)

// Daraja's callbacks (docs/gateways.md D8, D13, D20, D21, D28): the STK
// callback posted to a push's CallBackURL, the Result envelope of the
// initiator APIs posted to the ResultURL, the notice posted to the
// QueueTimeOutURL, and the C2B validation and confirmation posted to the
// URLs registered with RegisterC2BURLs.
//
// They are read as the iPG callbacks are (ipg_callbacks.go): in one pass of
// the body in place, keys matched exactly and never without regard to case,
// a documented field named twice refused, and the values kept copied out of
// the body. Daraja's own inconsistencies are read leniently: a code as a
// number or a string, a list of one as a bare object, a parameter without a
// Value.

// darajaCallbacks reads and answers Daraja's callbacks. Daraja defines no
// body for the acknowledgement of a ResultURL or an STK CallBackURL; the
// answer is HTTP 200 with ResultCode 0 (docs/gateways.md D28).
var darajaCallbacks = callbackCodec{
	name:  "daraja",
	parse: func(body []byte) (*Result, error) { return parseDaraja(body, darajaResults) },
	ack:   darajaAck,
}

// ParseDarajaResult decodes a Daraja callback body: an STK callback
// ({"Body":{"stkCallback":…}}), a Result envelope ({"Result":…}), or a C2B
// payment's flat body, read as a confirmation. The body must be a JSON
// object of one of these shapes, with its ID (CheckoutRequestID, a
// ConversationID or OriginatorConversationID, TransID); a body that is not
// one, or that names a documented field twice, gives an error matching
// ErrMalformedResult. A Handler reads queue-timeout notices and a C2B
// validator validation requests, which have no shape of their own.
func ParseDarajaResult(body []byte) (*Result, error) { return parseDaraja(body, darajaResults) }

// darajaMode is what a Daraja URL receives.
type darajaMode int

const (
	darajaResults      darajaMode = iota // STK callbacks, Result envelopes, C2B confirmations
	darajaQueueTimeout                   // QueueTimeOutURL notices
	darajaValidation                     // C2B validation requests
)

var errNotDaraja = fmt.Errorf("%w: no Body.stkCallback, Result or TransID", errNotThisGateway)

// The documented members of a Daraja body's top level: the STK and
// envelope roots, the C2B fields, and the IDs a queue-timeout notice may
// carry at the top level.
const (
	topBody = iota
	topResult
	topTransactionType
	topTransID
	topTransTime
	topTransAmount
	topBusinessShortCode
	topBillRefNumber
	topInvoiceNumber
	topOrgAccountBalance
	topThirdPartyTransID
	topMSISDN
	topFirstName
	topMiddleName
	topLastName
	topConversationID
	topOriginatorConversationID
	topResultCode
	topResultDesc
	topResultType
	topTransactionID
	topCount
)

var topNames = [topCount]string{
	"Body", "Result", "TransactionType", "TransID", "TransTime", "TransAmount", "BusinessShortCode", "BillRefNumber",
	"InvoiceNumber", "OrgAccountBalance", "ThirdPartyTransID", "MSISDN", "FirstName", "MiddleName", "LastName",
	"ConversationID", "OriginatorConversationID", "ResultCode", "ResultDesc", "ResultType", "TransactionID",
}

func topField(key string) int {
	for i, n := range topNames {
		if n == key {
			return i
		}
	}
	return -1
}

// darajaParser reads one body into r. kept lists every string r keeps, all
// substrings of the body until own copies them out in one piece.
type darajaParser struct {
	r     *Result
	kept  []*string
	extra []ResultParameter // unknown members, keyed by their path
	// items are the indexes in r.Parameters of the STK items Amount,
	// MpesaReceiptNumber, TransactionDate and PhoneNumber, or of an
	// envelope's amount (items[0]); -1 when absent.
	items [4]int
}

// keep records that *p is kept and sets it to v.
func (p *darajaParser) keep(dst *string, v string) {
	*dst = v
	if v != "" {
		p.kept = append(p.kept, dst)
	}
}

func (p *darajaParser) unknown(path, key, val string) {
	p.extra = append(p.extra, ResultParameter{Key: path + key, Value: val})
}

// seen marks field i of an object, and refuses a second one.
func seen(mask *uint64, i int, key string) error {
	if *mask&(1<<i) != 0 {
		return malformed(key + " appears twice")
	}
	*mask |= 1 << i
	return nil
}

// syntaxError turns a scanner error into ErrMalformedResult.
func syntaxError(err error) error {
	switch {
	case errors.Is(err, wire.ErrNotObject):
		return malformed("not a JSON object")
	case errors.Is(err, wire.ErrSyntax):
		return malformed("not valid JSON")
	}
	return err
}

// parseDaraja reads a body of the given mode.
func parseDaraja(body []byte, mode darajaMode) (*Result, error) {
	var vals [topCount]string
	var kinds [topCount]wire.Kind
	var mask uint64
	p := &darajaParser{r: &Result{Gateway: GatewayDaraja}, items: [4]int{-1, -1, -1, -1}}
	// The scan reads the body in place: every value kept is copied out by
	// own before parseDaraja returns.
	err := wire.ObjectKinds(unsafeString(body), func(key, val string, kind wire.Kind) error {
		i := topField(key)
		if i < 0 {
			p.unknown("", key, val)
			return nil
		}
		if err := seen(&mask, i, key); err != nil {
			return err
		}
		vals[i], kinds[i] = val, kind
		return nil
	})
	if err != nil {
		return nil, syntaxError(err)
	}
	has := func(i int) bool { return mask&(1<<i) != 0 }
	// used marks the top-level members the shape consumes; the others are
	// kept in Extra under their names.
	var used uint64
	use := func(is ...int) {
		for _, i := range is {
			used |= 1 << i
		}
	}
	switch mode {
	case darajaResults:
		shapes := 0
		for _, i := range []int{topBody, topResult, topTransID} {
			if has(i) {
				shapes++
			}
		}
		switch {
		case shapes > 1:
			return nil, malformed("more than one of Body, Result and TransID")
		case has(topBody):
			use(topBody)
			err = p.stk(vals[topBody], kinds[topBody])
		case has(topResult):
			use(topResult)
			err = p.envelope(vals[topResult], kinds[topResult], CallbackResult)
		case has(topTransID):
			err = p.c2b(&vals, &used, CallbackC2BConfirmation)
		default:
			return nil, errNotDaraja
		}
	case darajaValidation:
		if !has(topTransID) || has(topBody) || has(topResult) {
			return nil, malformed("not a C2B validation request (TransID and the C2B fields)")
		}
		err = p.c2b(&vals, &used, CallbackC2BValidation)
	case darajaQueueTimeout:
		if has(topResult) {
			use(topResult)
			err = p.envelope(vals[topResult], kinds[topResult], CallbackQueueTimeout)
			break
		}
		// No documented shape: read the IDs at the top level
		// (docs/gateways.md D21).
		use(topConversationID, topOriginatorConversationID, topResultCode, topResultDesc, topResultType, topTransactionID)
		r := p.r
		r.Callback = CallbackQueueTimeout
		p.keep(&r.OriginalConversationID, vals[topConversationID])
		p.keep(&r.OriginatorConversationID, vals[topOriginatorConversationID])
		p.keep(&r.ResultCode, vals[topResultCode])
		p.keep(&r.ResultDesc, vals[topResultDesc])
		p.keep(&r.ResultType, vals[topResultType])
		p.keep(&r.TransactionID, vals[topTransactionID])
		err = p.ids()
	}
	if err != nil {
		return nil, err
	}
	for i := 0; i < topCount; i++ {
		if has(i) && used&(1<<i) == 0 {
			p.unknown("", topNames[i], vals[i])
		}
	}
	return p.finish(), nil
}

// ids checks that an envelope or a notice has an ID.
func (p *darajaParser) ids() error {
	if p.r.OriginalConversationID == "" && p.r.OriginatorConversationID == "" {
		return malformed("no ConversationID or OriginatorConversationID")
	}
	return nil
}

// finish copies the kept values out of the body, files the IDs and values
// that repeat another field (docs/gateways.md X1), and returns the result:
//   - an envelope's or a notice's OriginalConversationID is its
//     ConversationID, or its OriginatorConversationID when it has none, and
//     ThirdPartyConversationID repeats the OriginatorConversationID;
//   - an STK push's OriginalConversationID is its CheckoutRequestID, and
//     its items fill Amount, TransactionID, TransactionDate, PhoneNumber;
//   - a C2B payment's OriginalConversationID is its TransID.
func (p *darajaParser) finish() *Result {
	r := p.r
	for i := range r.Parameters {
		p.kept = append(p.kept, &r.Parameters[i].Key, &r.Parameters[i].Value)
	}
	for i := range r.ReferenceData {
		p.kept = append(p.kept, &r.ReferenceData[i].Key, &r.ReferenceData[i].Value)
	}
	ownAll(p.kept)
	if len(p.extra) > 0 {
		// Apart, so that a result whose Extra is dropped keeps nothing of
		// a large unknown member.
		kept := make([]*string, 0, 2*len(p.extra))
		for i := range p.extra {
			kept = append(kept, &p.extra[i].Key, &p.extra[i].Value)
		}
		ownAll(kept)
		r.Extra = make(map[string]string, len(p.extra))
		for _, kv := range p.extra {
			r.Extra[kv.Key] = kv.Value
		}
	}
	switch r.Callback {
	case CallbackResult, CallbackQueueTimeout:
		if r.OriginalConversationID == "" {
			r.OriginalConversationID = r.OriginatorConversationID
		}
		r.ThirdPartyConversationID = r.OriginatorConversationID
		if i := p.items[0]; i >= 0 {
			r.Amount = r.Parameters[i].Value
		}
	case CallbackSTK:
		r.OriginalConversationID = r.CheckoutRequestID
		for j, dst := range [...]*string{&r.Amount, &r.TransactionID, &r.TransactionDate, &r.PhoneNumber} {
			if i := p.items[j]; i >= 0 {
				*dst = r.Parameters[i].Value
			}
		}
	case CallbackC2BConfirmation, CallbackC2BValidation:
		r.OriginalConversationID = r.TransactionID
	}
	return r
}

// ownAll replaces the strings, substrings of a body (or new strings),
// with substrings of one new string that holds them all.
func ownAll(ps []*string) {
	n := 0
	for _, s := range ps {
		n += len(*s)
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range ps {
		b.WriteString(*s)
	}
	all := b.String()
	at := 0
	for _, s := range ps {
		l := len(*s)
		*s = all[at : at+l]
		at += l
	}
}

// needObject refuses a value meant to be an object that is not one.
func needObject(name string, kind wire.Kind) error {
	if kind != wire.KindObject {
		return malformed(name + " is not an object")
	}
	return nil
}

// darajaAck is {"ResultCode":0,"ResultDesc":"Accepted"}, a C2B
// confirmation's {"ResultCode":0,"ResultDesc":"Success"}
// (docs/gateways.md D13, D28), or with code 1 a refusal that asks for the
// result again.
func darajaAck(res *Result, accepted bool, desc string) []byte {
	code := "1"
	if accepted {
		code, desc = "0", "Accepted"
		if res != nil && res.Callback == CallbackC2BConfirmation {
			desc = "Success"
		}
	}
	buf := append(make([]byte, 0, 48+len(desc)), `{"ResultCode":`...)
	buf = append(buf, code...)
	buf = append(buf, `,"ResultDesc":`...)
	buf = wire.AppendString(buf, desc)
	return append(buf, '}')
}

// darajaCallbackAddresses are the addresses public integrations collected
// as Daraja's callback sources; no Safaricom document lists any
// (docs/gateways.md D27).
var darajaCallbackAddresses = [...]string{
	"196.201.214.200", "196.201.214.206", "196.201.213.114", "196.201.214.207", "196.201.214.208",
	"196.201.213.44", "196.201.212.127", "196.201.212.138", "196.201.212.129", "196.201.212.136",
	"196.201.212.74", "196.201.212.69", "196.201.212.128", "196.201.212.132",
}

// DarajaCallbackSources returns the 14 addresses from which Daraja is said
// to post its callbacks, for AllowSources:
//
//	mpesa.AllowSources(mpesa.DarajaCallbackSources()...)
//
// The list is community-sourced: no Safaricom document lists callback
// addresses, and these come from public integrations (RafaelJohn9/mpesakit,
// okothkongo/daraja, pesafy; docs/gateways.md D27). It may be incomplete or
// change without notice, and sandbox callbacks do not necessarily come from
// these addresses. Nothing uses it unless you pass it: add to it, or
// replace it with the addresses Safaricom gives you. Each call returns a
// new slice.
func DarajaCallbackSources() []netip.Prefix {
	out := make([]netip.Prefix, len(darajaCallbackAddresses))
	for i, a := range darajaCallbackAddresses {
		out[i] = netip.PrefixFrom(netip.MustParseAddr(a), 32)
	}
	return out
}
