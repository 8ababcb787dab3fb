package mpesa

import (
	"strconv"
	"strings"

	"github.com/mpesa-go/mpesa/internal/wire"
)

// The nested shapes of Daraja's callbacks: the STK callback's
// Body.stkCallback and its CallbackMetadata items, and the Result envelope
// with its ResultParameters and ReferenceData (docs/gateways.md D8, D20).

// The members of an STK callback (docs/gateways.md D8).
const (
	stkMerchantRequestID = iota
	stkCheckoutRequestID
	stkResultCode
	stkResultDesc
	stkCallbackMetadata
	stkCount
)

var stkNames = [stkCount]string{"MerchantRequestID", "CheckoutRequestID", "ResultCode", "ResultDesc", "CallbackMetadata"}

// The STK items looked up by Name; a second item of one of these names is
// refused, any other name may repeat.
var stkItems = [...]string{"Amount", "MpesaReceiptNumber", "TransactionDate", "PhoneNumber"}

// stk reads {"Body":{"stkCallback":{…}}}.
func (p *darajaParser) stk(body string, kind wire.Kind) error {
	if err := needObject("Body", kind); err != nil {
		return err
	}
	var cb string
	var cbMask uint64
	err := wire.MembersKinds(body, func(key, val string, kind wire.Kind) error {
		if key != "stkCallback" {
			p.unknown("Body.", key, val)
			return nil
		}
		if err := seen(&cbMask, 0, key); err != nil {
			return err
		}
		if err := needObject("Body.stkCallback", kind); err != nil {
			return err
		}
		cb = val
		return nil
	})
	if err != nil {
		return syntaxError(err)
	}
	if cb == "" {
		return malformed("Body without stkCallback")
	}
	r := p.r
	r.Callback, r.API = CallbackSTK, APIC2B
	var vals [stkCount]string
	var mask uint64
	var meta string
	var metaKind wire.Kind
	err = wire.MembersKinds(cb, func(key, val string, kind wire.Kind) error {
		i := -1
		for j, n := range stkNames {
			if n == key {
				i = j
				break
			}
		}
		if i < 0 {
			p.unknown("Body.stkCallback.", key, val)
			return nil
		}
		if err := seen(&mask, i, key); err != nil {
			return err
		}
		vals[i] = val
		if i == stkCallbackMetadata {
			meta, metaKind = val, kind
		}
		return nil
	})
	if err != nil {
		return syntaxError(err)
	}
	if vals[stkCheckoutRequestID] == "" {
		return malformed("stkCallback without CheckoutRequestID")
	}
	p.keep(&r.MerchantRequestID, vals[stkMerchantRequestID])
	p.keep(&r.CheckoutRequestID, vals[stkCheckoutRequestID])
	p.keep(&r.ResultCode, vals[stkResultCode])
	p.keep(&r.ResultDesc, vals[stkResultDesc])
	if mask&(1<<stkCallbackMetadata) == 0 || metaKind == wire.KindNull {
		return nil // a failure has no metadata (docs/gateways.md D8)
	}
	if err := needObject("Body.stkCallback.CallbackMetadata", metaKind); err != nil {
		return err
	}
	var itemMask uint64
	var items string
	var itemsKind wire.Kind
	err = wire.MembersKinds(meta, func(key, val string, kind wire.Kind) error {
		if key != "Item" {
			p.unknown("Body.stkCallback.CallbackMetadata.", key, val)
			return nil
		}
		items, itemsKind = val, kind
		return seen(&itemMask, 0, key)
	})
	if err != nil {
		return syntaxError(err)
	}
	if itemMask != 0 {
		if r.Parameters, err = p.list("Body.stkCallback.CallbackMetadata.Item", items, itemsKind, "Name"); err != nil {
			return err
		}
	}
	// Items are looked up by Name, never by position (docs/gateways.md D8).
	var found uint64
	for i, it := range r.Parameters {
		for j, name := range stkItems {
			if it.Key == name {
				if err := seen(&found, j, "the item "+name); err != nil {
					return err
				}
				p.items[j] = i
			}
		}
	}
	return nil
}

// list reads a list of Key/Value items (Name/Value for STK items), given as
// an array, a single object (a list of one, docs/gateways.md D20), or null.
func (p *darajaParser) list(path, val string, kind wire.Kind, keyName string) (ResultParameters, error) {
	var out ResultParameters
	item := func(v string, kind wire.Kind) error {
		if kind != wire.KindObject {
			return malformed(path + " holds something other than an object")
		}
		var it ResultParameter
		var mask uint64
		n := len(out)
		err := wire.MembersKinds(v, func(key, val string, _ wire.Kind) error {
			switch key {
			case keyName:
				if err := seen(&mask, 0, key); err != nil {
					return err
				}
				it.Key = val
			case "Value":
				if err := seen(&mask, 1, key); err != nil {
					return err
				}
				it.Value = val
			default:
				p.unknown(path+"["+strconv.Itoa(n)+"].", key, val)
			}
			return nil
		})
		out = append(out, it)
		return err
	}
	switch kind {
	case wire.KindNull:
		return nil, nil
	case wire.KindObject:
		err := item(val, kind) // appends to out: read out after it
		return out, err
	case wire.KindArray:
		out = make(ResultParameters, 0, min(strings.Count(val, "{"), 32))
		err := wire.ElementsKinds(val, item)
		return out, err
	}
	return nil, malformed(path + " is neither a list nor an object")
}

// The members of a Result envelope (docs/gateways.md D20).
const (
	envResultType = iota
	envResultCode
	envResultDesc
	envOriginatorConversationID
	envConversationID
	envTransactionID
	envResultParameters
	envReferenceData
	envCount
)

var envNames = [envCount]string{"ResultType", "ResultCode", "ResultDesc", "OriginatorConversationID",
	"ConversationID", "TransactionID", "ResultParameters", "ReferenceData"}

// envelope reads {"Result":{…}}, as a result or a queue-timeout notice.
func (p *darajaParser) envelope(res string, kind wire.Kind, cb CallbackKind) error {
	if err := needObject("Result", kind); err != nil {
		return err
	}
	r := p.r
	r.Callback = cb
	var vals [envCount]string
	var kinds [envCount]wire.Kind
	var mask uint64
	err := wire.MembersKinds(res, func(key, val string, kind wire.Kind) error {
		i := -1
		for j, n := range envNames {
			if n == key {
				i = j
				break
			}
		}
		if i < 0 {
			p.unknown("Result.", key, val)
			return nil
		}
		if err := seen(&mask, i, key); err != nil {
			return err
		}
		vals[i], kinds[i] = val, kind
		return nil
	})
	if err != nil {
		return syntaxError(err)
	}
	p.keep(&r.ResultType, vals[envResultType])
	p.keep(&r.ResultCode, vals[envResultCode])
	p.keep(&r.ResultDesc, vals[envResultDesc])
	p.keep(&r.OriginatorConversationID, vals[envOriginatorConversationID])
	p.keep(&r.OriginalConversationID, vals[envConversationID])
	p.keep(&r.TransactionID, vals[envTransactionID])
	if err := p.ids(); err != nil {
		return err
	}
	if mask&(1<<envResultParameters) != 0 {
		ps, err := p.wrapped("Result.ResultParameters", "ResultParameter", vals[envResultParameters], kinds[envResultParameters])
		if err != nil {
			return err
		}
		r.Parameters = ps
	}
	if mask&(1<<envReferenceData) != 0 {
		ps, err := p.wrapped("Result.ReferenceData", "ReferenceItem", vals[envReferenceData], kinds[envReferenceData])
		if err != nil {
			return err
		}
		r.ReferenceData = ps
	}
	// The amount is B2C's TransactionAmount, or the others' Amount.
	for _, key := range [...]string{"TransactionAmount", "Amount"} {
		if p.items[0] >= 0 {
			break
		}
		for i, it := range r.Parameters {
			if it.Key == key {
				p.items[0] = i
				break
			}
		}
	}
	r.API = darajaResultAPI(r)
	return nil
}

// wrapped reads {"ResultParameter": list} (or ReferenceItem); the list
// itself, without its wrapper, is read too.
func (p *darajaParser) wrapped(path, inner, val string, kind wire.Kind) (ResultParameters, error) {
	switch kind {
	case wire.KindNull:
		return nil, nil
	case wire.KindArray:
		return p.list(path, val, kind, "Key")
	case wire.KindObject:
	default:
		return nil, malformed(path + " is not an object")
	}
	var list string
	var listKind wire.Kind
	var mask uint64
	err := wire.MembersKinds(val, func(key, v string, kind wire.Kind) error {
		if key != inner {
			p.unknown(path+".", key, v)
			return nil
		}
		list, listKind = v, kind
		return seen(&mask, 0, key)
	})
	if err != nil || mask == 0 {
		return nil, syntaxError(err)
	}
	return p.list(path+"."+inner, list, listKind, "Key")
}

// darajaResultAPI names the product of an envelope where its contents
// tell: a hint for Result.Err's code table, never a reason to trust it.
// The reversal's codes are its own (R000001, R000002).
func darajaResultAPI(r *Result) API {
	has := func(k string) bool { _, ok := r.Parameter(k); return ok }
	switch code := strings.TrimSpace(r.ResultCode); {
	case strings.HasPrefix(code, "R0000"), has("OriginalTransactionID"):
		return APIReversal
	case has("AccountBalance"):
		return APIAccountBalance
	case has("TransactionStatus") && has("ReceiptNo"):
		return APITransactionStatus
	case has("TransactionReceipt"), has("B2CRecipientIsRegisteredCustomer"):
		return APIB2C
	}
	return 0
}
