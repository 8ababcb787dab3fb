package mpesa

import (
	"container/list"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/mpesa-go/mpesa/internal/redact"
	"github.com/mpesa-go/mpesa/internal/wire"
)

// This file receives the gateways' asynchronous results: when a product is
// configured for asynchronous answers on the portal, the call returns at once
// with a ConversationID and the gateway later POSTs the result to the
// application's Response URL (SPEC-NOTES §3.10–3.11). Handler is the
// http.Handler for that URL.
//
// The gateways sign nothing. Anybody who learns the URL can post a result,
// so a result that moves money should be confirmed with a status query
// before goods leave: see VerifyWithStatusQuery. RequireToken and
// AllowSources make forging harder; they do not make it impossible.

// Defaults of the Handler, the MemoryDedup store and the Results hub.
const (
	// DefaultMaxCallbackBytes caps a callback body. The documented
	// callbacks are a few hundred bytes.
	DefaultMaxCallbackBytes = 64 << 10
	// DefaultDedupSize and DefaultDedupTTL bound the MemoryDedup store a
	// Handler uses when no Deduplicate option is given: how many completed
	// results it remembers, and for how long.
	DefaultDedupSize = 10000
	DefaultDedupTTL  = 24 * time.Hour
	// DefaultResultsSize and DefaultResultsTTL bound a Results hub: how
	// many results it keeps for Await, and for how long.
	DefaultResultsSize = 4096
	DefaultResultsTTL  = 15 * time.Minute
	// minTokenLength is the shortest token RequireToken accepts.
	minTokenLength = 16
)

// ErrMalformedResult: a callback body is not a JSON object or lacks
// input_OriginalConversationID. ParseResult returns an error matching it.
var ErrMalformedResult = errors.New("mpesa: malformed result callback")

// Result is one asynchronous result as a gateway posts it to the Response URL.
// Every documented callback of both gateways decodes into it: the payments
// (C2B, B2C, B2B, reversal), the transaction status query, the direct debit
// products and the beneficiary name query. Values sent as JSON numbers or
// booleans are kept in their JSON spelling ("15045", "true"); null is empty.
//
// Printing a Result with any fmt verb or logging it with log/slog masks
// phone numbers, customer names and free text; its fields hold the values as
// sent.
type Result struct {
	// Gateway is the gateway that sent the result. ParseResult infers it
	// from the reference field: input_ThirdPartyReference without
	// input_ThirdPartyConversationID is the Mozambique gateway. A Handler
	// sets it from HandlerGateway or VerifyWithStatusQuery when given.
	Gateway Gateway
	// API is the product the result belongs to, as far as the body shows
	// it: the status query (OriginalTransactionID or Reversed), the
	// beneficiary name query (customer names), the direct debit query
	// (input_ResponseCode or mandate fields), direct debit creation
	// (MandateID) and payment (TransactionID with MsisdnToken). Results of
	// C2B, B2C, B2B, reversal and direct debit cancellation look alike and
	// leave it 0.
	API API

	// OriginalConversationID is the ConversationID the call that started
	// the transaction returned. It is never empty.
	OriginalConversationID string
	// TransactionID is the Mobile Money transaction ID.
	TransactionID string
	// ThirdPartyConversationID is the caller's reference of the request
	// (input_ThirdPartyConversationID, on Mozambique
	// input_ThirdPartyReference).
	ThirdPartyConversationID string
	// ResultCode and ResultDesc say how the transaction ended
	// (input_ResultCode and input_ResultDesc; the direct debit query sends
	// input_ResponseCode and input_ResponseDesc instead). Success is
	// "INS-0" or "0".
	ResultCode string
	ResultDesc string

	// TransactionReference, MsisdnToken and MandateID are the direct debit
	// fields. MsisdnToken is the gateway's encrypted stand-in for the
	// customer's number.
	TransactionReference string
	MsisdnToken          string
	MandateID            string

	// CustomerFirstName and CustomerLastName answer the beneficiary name
	// query.
	CustomerFirstName string
	CustomerLastName  string

	// OriginalTransactionID and Reversed answer the transaction status
	// query.
	OriginalTransactionID string
	Reversed              bool

	// The mandate fields answer the direct debit query. Dates are
	// YYYYMMDD; Frequency is "01" (once off) to "08" (on demand).
	MandateStatus    string
	AccountStatus    string
	FirstPaymentDate string
	Frequency        string
	PaymentDayFrom   string
	PaymentDayTo     string
	ExpiryDate       string
	// SufficientBalance is nil unless the query asked about the balance.
	SufficientBalance *bool

	// Extra holds every other field of the body, keyed as sent. Nothing
	// the gateway sends is dropped: a known field whose value could not be
	// read (Reversed "maybe") is kept here too, as is the second of two
	// spellings (input_ResponseCode when input_ResultCode is present).
	Extra map[string]string

	// Verified is set by a Handler with VerifyWithStatusQuery when a status
	// query confirmed the result.
	Verified bool
}

// OK reports whether the result is a success (code "INS-0" or "0").
func (r *Result) OK() bool { return isSuccessCode(r.ResultCode) }

// Err returns nil for a success and otherwise an *Error that matches the
// same sentinels as the error of a synchronous call with that code:
//
//	if errors.Is(res.Err(), mpesa.ErrInsufficientBalance) { ... }
//
// Codes are looked up for the result's Gateway and API (LookupCode). A
// result without a code matches ErrUnexpectedResponse.
func (r *Result) Err() error {
	if r.OK() {
		return nil
	}
	e := &Error{
		Gateway:                  r.Gateway,
		API:                      r.API,
		Code:                     strings.TrimSpace(r.ResultCode),
		Description:              redact.Text(r.ResultDesc),
		ConversationID:           r.OriginalConversationID,
		ThirdPartyConversationID: r.ThirdPartyConversationID,
		TransactionID:            r.TransactionID,
	}
	if e.Code == "" {
		e.add(ErrUnexpectedResponse)
		if e.Description == "" {
			e.Description = "result without a result code"
		}
		return e
	}
	info, known := LookupCode(r.Gateway, r.API, e.Code)
	e.add(info.Kind)
	if e.Description == "" && known {
		e.Description = info.Description
	}
	return e
}

// movesMoney reports whether the result is of a product that moves money:
// a payment or reversal (API 0 with a TransactionID) or a direct debit
// payment.
func (r *Result) movesMoney() bool {
	return r.API == APIDirectDebitPayment || (r.API == 0 && r.TransactionID != "")
}

// String describes the result with phone numbers, names and free text
// masked.
func (r Result) String() string {
	var b strings.Builder
	b.WriteString("mpesa.Result{")
	sep := ""
	field := func(k, v string) {
		if v == "" {
			return
		}
		b.WriteString(sep)
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(v)
		sep = ", "
	}
	r.fields(field)
	b.WriteByte('}')
	return b.String()
}

// GoString is String, so that %#v masks too.
func (r Result) GoString() string { return r.String() }

// Format writes String whatever the verb, so that no verb prints a raw
// field.
func (r Result) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, r.String()) }

// LogValue describes the result to log/slog, masked as String is.
func (r Result) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, 8)
	r.fields(func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	})
	return slog.GroupValue(attrs...)
}

// fields calls f with every field of the result in its printable, masked
// form.
func (r *Result) fields(f func(k, v string)) {
	f("gateway", r.Gateway.String())
	if r.API != 0 {
		f("api", r.API.String())
	}
	f("OriginalConversationID", r.OriginalConversationID)
	f("TransactionID", r.TransactionID)
	f("ThirdPartyConversationID", r.ThirdPartyConversationID)
	f("ResultCode", r.ResultCode)
	f("ResultDesc", redact.Text(r.ResultDesc))
	f("TransactionReference", r.TransactionReference)
	f("MsisdnToken", r.MsisdnToken)
	f("MandateID", r.MandateID)
	f("CustomerFirstName", maskName(r.CustomerFirstName))
	f("CustomerLastName", maskName(r.CustomerLastName))
	f("OriginalTransactionID", r.OriginalTransactionID)
	if r.Reversed {
		f("Reversed", "true")
	}
	f("MandateStatus", r.MandateStatus)
	f("AccountStatus", r.AccountStatus)
	f("FirstPaymentDate", r.FirstPaymentDate)
	f("Frequency", r.Frequency)
	f("PaymentDayFrom", r.PaymentDayFrom)
	f("PaymentDayTo", r.PaymentDayTo)
	f("ExpiryDate", r.ExpiryDate)
	if r.SufficientBalance != nil {
		f("SufficientBalance", strconv.FormatBool(*r.SufficientBalance))
	}
	if r.Verified {
		f("Verified", "true")
	}
	if len(r.Extra) > 0 {
		keys := make([]string, 0, len(r.Extra))
		for k := range r.Extra {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(redact.Text(k))
			b.WriteString(": ")
			b.WriteString(maskExtra(k, r.Extra[k]))
		}
		b.WriteByte('}')
		f("Extra", b.String())
	}
}

// maskName keeps the first letter of a customer's name.
func maskName(s string) string {
	if s == "" {
		return ""
	}
	_, n := utf8.DecodeRuneInString(s)
	return redact.Text(s[:n]) + "***"
}

// maskExtra masks an unknown field: a field named like an MSISDN is masked
// whole, anything else as free text (digit runs that could be a phone
// number).
func maskExtra(key, v string) string {
	k := strings.ToLower(key)
	if strings.Contains(k, "msisdn") && !strings.Contains(k, "token") {
		return redact.MSISDN(v)
	}
	if strings.Contains(k, "name") {
		return maskName(v)
	}
	return redact.Text(v)
}

// The fields of a callback body.
type resultField int

const (
	fieldNone resultField = iota
	fieldOriginalConversationID
	fieldTransactionID
	fieldResultCode
	fieldResultDesc
	fieldResponseCode
	fieldResponseDesc
	fieldThirdPartyConversationID
	fieldThirdPartyReference
	fieldTransactionReference
	fieldMsisdnToken
	fieldMandateID
	fieldCustomerFirstName
	fieldCustomerLastName
	fieldOriginalTransactionID
	fieldReversed
	fieldMandateStatus
	fieldAccountStatus
	fieldFirstPaymentDate
	fieldFrequency
	fieldPaymentDayFrom
	fieldPaymentDayTo
	fieldExpiryDate
	fieldSufficientBalance
	fieldCount
)

// resultFieldNames are the documented names of the callback fields.
var resultFieldNames = [fieldCount]string{
	fieldOriginalConversationID:   "input_OriginalConversationID",
	fieldTransactionID:            "input_TransactionID",
	fieldResultCode:               "input_ResultCode",
	fieldResultDesc:               "input_ResultDesc",
	fieldResponseCode:             "input_ResponseCode",
	fieldResponseDesc:             "input_ResponseDesc",
	fieldThirdPartyConversationID: "input_ThirdPartyConversationID",
	fieldThirdPartyReference:      "input_ThirdPartyReference",
	fieldTransactionReference:     "input_TransactionReference",
	fieldMsisdnToken:              "input_MsisdnToken",
	fieldMandateID:                "input_MandateID",
	fieldCustomerFirstName:        "input_CustomerFirstName",
	fieldCustomerLastName:         "input_CustomerLastName",
	fieldOriginalTransactionID:    "input_OriginalTransactionID",
	fieldReversed:                 "input_Reversed",
	fieldMandateStatus:            "input_MandateStatus",
	fieldAccountStatus:            "input_AccountStatus",
	fieldFirstPaymentDate:         "input_FirstPaymentDate",
	fieldFrequency:                "input_Frequency",
	fieldPaymentDayFrom:           "input_PaymentDayFrom",
	fieldPaymentDayTo:             "input_PaymentDayTo",
	fieldExpiryDate:               "input_ExpiryDate",
	fieldSufficientBalance:        "input_SufficientBalance",
}

// resultFieldExact and resultFieldFolded map field names, as documented and
// lower-cased, to fields. The documents spell one name two ways in places
// (input_KycQueryType and input_KYCQueryType), so a name is matched without
// regard to case, as encoding/json matches struct fields.
var resultFieldExact, resultFieldFolded = func() (map[string]resultField, map[string]resultField) {
	exact := make(map[string]resultField, fieldCount)
	folded := make(map[string]resultField, fieldCount)
	for f := fieldNone + 1; f < fieldCount; f++ {
		exact[resultFieldNames[f]] = f
		folded[strings.ToLower(resultFieldNames[f])] = f
	}
	return exact, folded
}()

// lookupResultField returns the field a body key names, fieldNone for an
// unknown key.
func lookupResultField(key string) resultField {
	if f, ok := resultFieldExact[key]; ok {
		return f
	}
	var buf [40]byte
	if len(key) > len(buf) {
		return fieldNone
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return resultFieldFolded[string(buf[:len(key)])]
}

// ParseResult decodes a callback body of either gateway. The body must be a
// JSON object with a non-empty input_OriginalConversationID; values may be
// strings, numbers, booleans or null. A body that is not one gives an error
// matching ErrMalformedResult.
func ParseResult(body []byte) (*Result, error) {
	r := new(Result)
	if err := r.parse(body); err != nil {
		return nil, err
	}
	return r, nil
}

func malformed(why string) error { return fmt.Errorf("%w: %s", ErrMalformedResult, why) }

// parse fills r from body in one pass, without reflection: it checks the
// syntax as strictly as encoding/json does (json.Valid accepts exactly the
// bodies it accepts) while it takes the values as substrings of one copy of
// the body.
func (r *Result) parse(body []byte) error {
	s := string(body)
	i := wire.SkipSpace(s, 0)
	if i == len(s) || s[i] != '{' {
		if i < len(s) {
			if end, ok := wire.SkipValue(s, i, 0); ok && wire.SkipSpace(s, end) == len(s) {
				return malformed("not a JSON object")
			}
		}
		return errInvalidJSON
	}
	var vals [fieldCount]string
	var keys [fieldCount]string
	i = wire.SkipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		i++
	} else {
		for {
			if i == len(s) || s[i] != '"' {
				return errInvalidJSON
			}
			key, j, ok := wire.String(s, i)
			if !ok {
				return errInvalidJSON
			}
			if i = wire.SkipSpace(s, j); i == len(s) || s[i] != ':' {
				return errInvalidJSON
			}
			val, j, ok := wire.Value(s, wire.SkipSpace(s, i+1), 1)
			if !ok {
				return errInvalidJSON
			}
			if f := lookupResultField(key); f == fieldNone {
				r.keep(key, val)
			} else {
				if keys[f] != "" && vals[f] != "" && keys[f] != key {
					// The same field twice under two spellings: the
					// last wins, as in encoding/json, and the earlier
					// value is kept.
					r.keep(keys[f], vals[f])
				}
				keys[f], vals[f] = key, val
			}
			if i = wire.SkipSpace(s, j); i == len(s) {
				return errInvalidJSON
			}
			if s[i] == ',' {
				i = wire.SkipSpace(s, i+1)
				continue
			}
			if s[i] != '}' {
				return errInvalidJSON
			}
			i++
			break
		}
	}
	if wire.SkipSpace(s, i) != len(s) {
		return errInvalidJSON
	}
	if vals[fieldOriginalConversationID] == "" {
		return malformed("no input_OriginalConversationID")
	}
	r.OriginalConversationID = vals[fieldOriginalConversationID]
	r.TransactionID = vals[fieldTransactionID]
	r.ResultCode = r.either(&keys, &vals, fieldResultCode, fieldResponseCode)
	r.ResultDesc = r.either(&keys, &vals, fieldResultDesc, fieldResponseDesc)
	r.ThirdPartyConversationID = r.either(&keys, &vals, fieldThirdPartyConversationID, fieldThirdPartyReference)
	if vals[fieldThirdPartyConversationID] == "" && vals[fieldThirdPartyReference] != "" {
		r.Gateway = GatewayMozambique
	}
	r.TransactionReference = vals[fieldTransactionReference]
	r.MsisdnToken = vals[fieldMsisdnToken]
	r.MandateID = vals[fieldMandateID]
	r.CustomerFirstName = vals[fieldCustomerFirstName]
	r.CustomerLastName = vals[fieldCustomerLastName]
	r.OriginalTransactionID = vals[fieldOriginalTransactionID]
	if b, ok := parseBool(vals[fieldReversed]); ok {
		r.Reversed = b
	} else {
		r.keep(keys[fieldReversed], vals[fieldReversed])
	}
	r.MandateStatus = vals[fieldMandateStatus]
	r.AccountStatus = vals[fieldAccountStatus]
	r.FirstPaymentDate = vals[fieldFirstPaymentDate]
	r.Frequency = vals[fieldFrequency]
	r.PaymentDayFrom = vals[fieldPaymentDayFrom]
	r.PaymentDayTo = vals[fieldPaymentDayTo]
	r.ExpiryDate = vals[fieldExpiryDate]
	if b, ok := parseBool(vals[fieldSufficientBalance]); ok {
		if vals[fieldSufficientBalance] != "" {
			r.SufficientBalance = &b
		}
	} else {
		r.keep(keys[fieldSufficientBalance], vals[fieldSufficientBalance])
	}
	r.API = inferAPI(&vals)
	return nil
}

// either returns the value of field a, or of b when a is empty; when both are
// set, b's value is kept in Extra.
func (r *Result) either(keys, vals *[fieldCount]string, a, b resultField) string {
	if vals[a] == "" {
		return vals[b]
	}
	if vals[b] != "" {
		r.keep(keys[b], vals[b])
	}
	return vals[a]
}

// keep stores an unknown or unreadable field in Extra. The empty key is a
// key like any other.
func (r *Result) keep(key, val string) {
	if r.Extra == nil {
		r.Extra = make(map[string]string, 2)
	}
	r.Extra[key] = val
}

// inferAPI names the product a body belongs to, where its fields tell.
func inferAPI(v *[fieldCount]string) API {
	switch {
	case v[fieldResponseCode] != "" && v[fieldResultCode] == "",
		v[fieldMandateStatus] != "", v[fieldAccountStatus] != "", v[fieldSufficientBalance] != "",
		v[fieldFirstPaymentDate] != "", v[fieldFrequency] != "", v[fieldExpiryDate] != "",
		v[fieldPaymentDayFrom] != "", v[fieldPaymentDayTo] != "":
		return APIDirectDebitQuery
	case v[fieldCustomerFirstName] != "", v[fieldCustomerLastName] != "":
		return APIBeneficiaryName
	case v[fieldOriginalTransactionID] != "", v[fieldReversed] != "":
		return APITransactionStatus
	case v[fieldMandateID] != "":
		return APIDirectDebitCreate
	case v[fieldTransactionID] != "" && v[fieldMsisdnToken] != "":
		return APIDirectDebitPayment
	}
	return 0
}

var errInvalidJSON = malformed("not valid JSON")

// ResultFunc processes one result. It runs once per result: a duplicate
// delivery is acknowledged without running it again. Returning nil makes the
// Handler acknowledge the result; returning an error makes it answer with a
// 5xx so that the gateway may deliver the result again. Store what matters
// before returning nil.
type ResultFunc func(ctx context.Context, res *Result) error

// Delivery is one request to the Response URL, as OnDelivery receives it.
type Delivery struct {
	// Body is the raw body as received. It belongs to the callee.
	Body []byte
	// ContentType is the request's Content-Type header.
	ContentType string
	// Source is the address that sent the request: the peer, or the
	// client named by X-Forwarded-For when the peer is a trusted proxy.
	// It is invalid when the peer address could not be read.
	Source netip.Addr
	// ReceivedAt is when the handler read the body.
	ReceivedAt time.Time
	// Result is the parsed body, nil when Err is set.
	Result *Result
	// Err says why the body was not parsed (a wrong Content-Type or an
	// error matching ErrMalformedResult).
	Err error
}

// String describes the delivery without its body.
func (d Delivery) String() string {
	var b strings.Builder
	b.WriteString("mpesa.Delivery{bytes: ")
	b.WriteString(strconv.Itoa(len(d.Body)))
	if d.Source.IsValid() {
		b.WriteString(", source: ")
		b.WriteString(d.Source.String())
	}
	if d.Result != nil {
		b.WriteString(", result: ")
		b.WriteString(d.Result.String())
	}
	if d.Err != nil {
		b.WriteString(", error: ")
		b.WriteString(redact.Text(d.Err.Error()))
	}
	b.WriteByte('}')
	return b.String()
}

// GoString is String.
func (d Delivery) GoString() string { return d.String() }

// Format writes String whatever the verb, so that the body is never
// printed.
func (d Delivery) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, d.String()) }

// ClaimState is the answer of a DedupStore to a claim.
type ClaimState int

const (
	// ClaimAcquired: the caller holds the key and processes the result.
	ClaimAcquired ClaimState = iota + 1
	// ClaimInProgress: another delivery of the same result holds the key
	// and is being processed.
	ClaimInProgress
	// ClaimDone: the result was processed already.
	ClaimDone
)

// String returns "acquired", "in progress" or "done".
func (s ClaimState) String() string {
	switch s {
	case ClaimAcquired:
		return "acquired"
	case ClaimInProgress:
		return "in progress"
	case ClaimDone:
		return "done"
	}
	return "ClaimState(" + strconv.Itoa(int(s)) + ")"
}

// DedupStore remembers which results were processed, so that a result the
// gateway delivers more than once, or twice at the same time, is processed
// once. Keys are OriginalConversationIDs; owner is unique per delivery. A
// Handler calls Claim before it processes a result, then Complete when the
// ResultFunc returned nil, or Release when it failed, so that a later
// delivery processes the result again.
//
// The interface is shaped for a store shared by replicas. With Redis:
//
//   - Claim: SET key owner NX PX <lease>; when the key exists, GET it:
//     "done" is ClaimDone, anything else ClaimInProgress.
//   - Complete: if GET key == owner (or the key is gone), SET key "done" PX
//     <retention>; compare and set in one Lua script.
//   - Release: if GET key == owner, DEL key; in one Lua script.
//
// A shared store must let a claim expire (the lease) so that a replica that
// dies mid-processing does not block the result forever; the lease must
// outlast the slowest ResultFunc. Implementations must be safe for concurrent
// use.
type DedupStore interface {
	// Claim takes key for owner, or reports that it is taken or done.
	Claim(ctx context.Context, key, owner string) (ClaimState, error)
	// Complete marks key done, if owner still holds it or nobody does.
	Complete(ctx context.Context, key, owner string) error
	// Release frees key, if owner holds it and it is not done.
	Release(ctx context.Context, key, owner string) error
}

// MemoryDedup is the in-memory DedupStore of one process, bounded in size and
// time: it remembers at most size completed keys, each for ttl, forgetting
// the oldest first. Claims in progress do not expire (the Handler releases
// them when the ResultFunc returns or panics) and do not count against size.
// Behind several replicas use a shared store instead.
type MemoryDedup struct {
	mu      sync.Mutex
	entries map[string]*dedupEntry
	done    list.List // of *dedupEntry, oldest completion first
	size    int
	ttl     time.Duration
	now     func() time.Time
}

type dedupEntry struct {
	key, owner string
	done       bool
	expires    time.Time
	elem       *list.Element
}

// NewMemoryDedup returns a MemoryDedup that remembers up to size completed
// results for ttl each. Zero or negative values take DefaultDedupSize and
// DefaultDedupTTL.
func NewMemoryDedup(size int, ttl time.Duration) *MemoryDedup {
	if size <= 0 {
		size = DefaultDedupSize
	}
	if ttl <= 0 {
		ttl = DefaultDedupTTL
	}
	return &MemoryDedup{entries: make(map[string]*dedupEntry), size: size, ttl: ttl, now: time.Now}
}

// Claim implements DedupStore.
func (m *MemoryDedup) Claim(_ context.Context, key, owner string) (ClaimState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire()
	if e := m.entries[key]; e != nil {
		if e.done {
			return ClaimDone, nil
		}
		return ClaimInProgress, nil
	}
	m.entries[key] = &dedupEntry{key: key, owner: owner}
	return ClaimAcquired, nil
}

// Complete implements DedupStore.
func (m *MemoryDedup) Complete(_ context.Context, key, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[key]
	switch {
	case e == nil:
		e = &dedupEntry{key: key, owner: owner}
		m.entries[key] = e
	case e.done || e.owner != owner:
		return nil
	}
	e.done = true
	e.expires = m.now().Add(m.ttl)
	e.elem = m.done.PushBack(e)
	for m.done.Len() > m.size {
		m.remove(m.done.Front().Value.(*dedupEntry))
	}
	m.expire()
	return nil
}

// Release implements DedupStore.
func (m *MemoryDedup) Release(_ context.Context, key, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.entries[key]; e != nil && !e.done && e.owner == owner {
		delete(m.entries, key)
	}
	return nil
}

// Len returns how many keys the store holds, in progress or done.
func (m *MemoryDedup) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire()
	return len(m.entries)
}

// expire forgets the completed keys whose time is up. Keys complete in
// order and share one ttl, so they expire from the front of the list.
func (m *MemoryDedup) expire() {
	now := m.now()
	for f := m.done.Front(); f != nil; f = m.done.Front() {
		e := f.Value.(*dedupEntry)
		if now.Before(e.expires) {
			return
		}
		m.remove(e)
	}
}

func (m *MemoryDedup) remove(e *dedupEntry) {
	m.done.Remove(e.elem)
	if m.entries[e.key] == e {
		delete(m.entries, e.key)
	}
}

// Results lets the code that started a transaction wait for its result:
//
//	hub := mpesa.NewResults(0, 0)
//	h, _ := mpesa.NewHandler(store, mpesa.FeedResults(hub))
//	...
//	res, err := client.C2B(ctx, req)         // answers at once when asynchronous
//	if err == nil && res.Async() {
//		ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
//		defer cancel()
//		result, err := hub.Await(ctx, res.ConversationID)
//		...
//	}
//
// A result is found by its OriginalConversationID or its
// ThirdPartyConversationID (the reference of the request). It is kept for
// the hub's ttl whether or not anybody waits, so Await also finds a result
// that arrived before it was called, as a callback may overtake the answer
// of the call that caused it. At most size results are kept, the oldest
// forgotten first. The hub starts no goroutine; a waiter is removed as soon
// as its context ends. It is safe for concurrent use.
//
// A hub lives in one process: behind several replicas, the callback may
// reach another replica than the one waiting. Feed it there with Deliver
// from a shared channel of your own, or reconcile with a status query.
type Results struct {
	mu      sync.Mutex
	size    int
	ttl     time.Duration
	now     func() time.Time
	kept    map[string]*keptResult
	order   list.List // of *keptResult, oldest first
	waiters map[string][]*resultWaiter
}

type keptResult struct {
	res     *Result
	keys    [2]string
	expires time.Time
	elem    *list.Element
}

type resultWaiter struct{ ch chan *Result }

// NewResults returns a hub that keeps up to size results for ttl each. Zero
// or negative values take DefaultResultsSize and DefaultResultsTTL.
func NewResults(size int, ttl time.Duration) *Results {
	if size <= 0 {
		size = DefaultResultsSize
	}
	if ttl <= 0 {
		ttl = DefaultResultsTTL
	}
	return &Results{
		size: size, ttl: ttl, now: time.Now,
		kept:    make(map[string]*keptResult),
		waiters: make(map[string][]*resultWaiter),
	}
}

// Deliver hands res to the waiters on its OriginalConversationID or
// ThirdPartyConversationID and keeps it for later Await calls. A later
// result with the same key replaces an earlier one. A Handler with
// FeedResults calls it once per processed result.
func (h *Results) Deliver(res *Result) {
	if res == nil {
		return
	}
	keys := [2]string{res.OriginalConversationID, res.ThirdPartyConversationID}
	if keys[1] == keys[0] {
		keys[1] = ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expire()
	for _, k := range keys {
		if k == "" {
			continue
		}
		for _, w := range h.waiters[k] {
			w.ch <- res // buffered, and each waiter is listed once
		}
		delete(h.waiters, k)
		if old := h.kept[k]; old != nil {
			h.forget(old)
		}
	}
	kr := &keptResult{res: res, keys: keys, expires: h.now().Add(h.ttl)}
	kr.elem = h.order.PushBack(kr)
	for _, k := range keys {
		if k != "" {
			h.kept[k] = kr
		}
	}
	for h.order.Len() > h.size {
		h.forget(h.order.Front().Value.(*keptResult))
	}
}

// Await returns the result whose OriginalConversationID or
// ThirdPartyConversationID is key: at once when it arrived within the hub's
// ttl, or when it arrives. It returns ctx's error when ctx ends first; give
// ctx a deadline, since a result may never come (ask the status then, with
// Client.Reconcile).
func (h *Results) Await(ctx context.Context, key string) (*Result, error) {
	if key == "" {
		return nil, errors.New("mpesa: Await: empty key")
	}
	h.mu.Lock()
	h.expire()
	if kr := h.kept[key]; kr != nil {
		h.mu.Unlock()
		return kr.res, nil
	}
	if err := ctx.Err(); err != nil {
		h.mu.Unlock()
		return nil, err
	}
	w := &resultWaiter{ch: make(chan *Result, 1)}
	h.waiters[key] = append(h.waiters[key], w)
	h.mu.Unlock()

	select {
	case res := <-w.ch:
		return res, nil
	case <-ctx.Done():
	}
	h.mu.Lock()
	ws := h.waiters[key]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			if len(ws) == 0 {
				delete(h.waiters, key)
			} else {
				h.waiters[key] = ws
			}
			h.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	h.mu.Unlock()
	// Deliver took the waiter off the list: its result is in the channel.
	return <-w.ch, nil
}

// Len returns how many results the hub keeps and how many Await calls are
// waiting.
func (h *Results) Len() (kept, waiting int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expire()
	for _, ws := range h.waiters {
		waiting += len(ws)
	}
	return h.order.Len(), waiting
}

func (h *Results) expire() {
	now := h.now()
	for f := h.order.Front(); f != nil; f = h.order.Front() {
		kr := f.Value.(*keptResult)
		if now.Before(kr.expires) {
			return
		}
		h.forget(kr)
	}
}

func (h *Results) forget(kr *keptResult) {
	h.order.Remove(kr.elem)
	for _, k := range kr.keys {
		if k != "" && h.kept[k] == kr {
			delete(h.kept, k)
		}
	}
}

// Handler is the http.Handler of the Response URL. It answers POST requests
// only, with a JSON body of at most MaxCallbackBytes. For each result it
//
//  1. checks the source address (AllowSources) and the token (RequireToken);
//  2. reads and parses the body, and hands the raw body to OnDelivery, so
//     that even a body it cannot parse is kept;
//  3. claims the result's OriginalConversationID in the DedupStore: a result
//     processed before is acknowledged without running the ResultFunc
//     again, and one being processed by a concurrent delivery is answered
//     503 so that the gateway delivers it again later;
//  4. confirms it with a status query (VerifyWithStatusQuery);
//  5. runs the ResultFunc, feeds the Results hub (FeedResults) and
//     acknowledges with HTTP 200.
//
// The acknowledgement is
//
//	{"output_OriginalConversationID":"…","output_ResponseCode":"0","output_ResponseDesc":"Successfully Accepted Result","output_ThirdPartyConversationID":"…"}
//
// echoing the result's IDs. It acknowledges only after the ResultFunc
// returned nil. A ResultFunc error or panic, or a failing store, is
// answered with 500 or 503 and output_ResponseCode "1", so that the gateway
// may deliver again; the answer never holds the error's text. Requests it
// refuses get a short generic JSON answer: 403 (address or token), 405 with
// Allow: POST, 413, 415, 400 (not a JSON object, or no
// input_OriginalConversationID), and 422 for a result its status query
// contradicts (VerifyWithStatusQuery).
//
// The Query Direct Debit document shows its acknowledgement with
// output_ResponseCode "INS-0"; every other product's shows "0", which the
// Handler sends for all (SPEC-NOTES §3.11).
type Handler struct {
	fn         ResultFunc
	logger     *slog.Logger
	maxBody    int64
	token      *[sha256.Size]byte
	allow      []netip.Prefix
	trusted    []netip.Prefix
	dedup      DedupStore
	hub        *Results
	onDelivery func(context.Context, *Delivery) error
	verifier   *Client
	gateway    Gateway
	gatewaySet bool

	ownerPrefix string
	ownerSeq    atomic.Uint64
	now         func() time.Time
}

// A HandlerOption configures a Handler.
type HandlerOption func(*Handler) error

// NewHandler returns the handler of the Response URL, which runs fn once per
// result. Every invalid option is reported, each by name.
func NewHandler(fn ResultFunc, opts ...HandlerOption) (*Handler, error) {
	h := &Handler{fn: fn, maxBody: DefaultMaxCallbackBytes, now: time.Now, ownerPrefix: NewReference() + "-"}
	var errs []error
	if fn == nil {
		errs = append(errs, errors.New("mpesa: NewHandler: nil ResultFunc"))
	}
	for _, o := range opts {
		if o == nil {
			errs = append(errs, errors.New("mpesa: nil HandlerOption"))
			continue
		}
		if err := o(h); err != nil {
			errs = append(errs, err)
		}
	}
	if h.verifier != nil && h.gatewaySet && h.gateway != h.verifier.Gateway() {
		errs = append(errs, fmt.Errorf("mpesa: HandlerGateway: %s, but the VerifyWithStatusQuery client speaks to %s", h.gateway, h.verifier.Gateway()))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if h.logger == nil {
		h.logger = slog.New(discardHandler{})
	}
	if h.dedup == nil {
		h.dedup = NewMemoryDedup(0, 0)
	}
	if h.verifier != nil && !h.gatewaySet {
		h.gateway, h.gatewaySet = h.verifier.Gateway(), true
	}
	return h, nil
}

// HandlerLogger makes the handler log each request: accepted results and
// duplicates at info level, refused requests at warn, failures at error. It
// never logs a body, a token, a full MSISDN or the request URL (which may
// hold the token). By default nothing is logged.
func HandlerLogger(l *slog.Logger) HandlerOption {
	return func(h *Handler) error {
		if l == nil {
			return optionError("HandlerLogger", "nil *slog.Logger")
		}
		h.logger = l
		return nil
	}
}

// HandlerGateway fixes the gateway results come from, instead of inferring
// it from each body. It decides how Result.Err maps codes (INS-5 means
// "cancelled by customer" on Mozambique only). VerifyWithStatusQuery implies
// the client's gateway.
func HandlerGateway(g Gateway) HandlerOption {
	return func(h *Handler) error {
		if !g.valid() {
			return optionError("HandlerGateway", "unknown gateway %d", int(g))
		}
		h.gateway, h.gatewaySet = g, true
		return nil
	}
}

// MaxCallbackBytes caps the body; a larger one is answered 413 without being
// read. Default DefaultMaxCallbackBytes.
func MaxCallbackBytes(n int64) HandlerOption {
	return func(h *Handler) error {
		if n < 512 || n > 16<<20 {
			return optionError("MaxCallbackBytes", "%d is outside 512..16 MiB", n)
		}
		h.maxBody = n
		return nil
	}
}

// RequireToken makes the handler accept only requests that carry token as
// the last segment of the URL path (https://example.com/mpesa/results/TOKEN)
// or as the "token" query parameter (…/results?token=TOKEN). Put that URL
// into the Response URL on the portal. Others are answered 403. The token
// is compared in constant time and never logged; it must be at least 16
// letters, digits, '-', '_', '.' or '~' (NewReference gives one).
//
// The gateways sign nothing: a token keeps out those who do not know the
// URL. It travels in every callback, so use HTTPS, and keep it out of access
// logs.
func RequireToken(token Secret) HandlerOption {
	return func(h *Handler) error {
		t := string(token)
		if len(t) < minTokenLength {
			return optionError("RequireToken", "the token must be at least %d characters", minTokenLength)
		}
		for i := 0; i < len(t); i++ {
			c := t[i]
			if !isAlnumByte(c) && c != '-' && c != '_' && c != '.' && c != '~' {
				return optionError("RequireToken", "the token may hold letters, digits, '-', '_', '.' and '~' only")
			}
		}
		sum := sha256.Sum256([]byte(t))
		h.token = &sum
		return nil
	}
}

func isAlnumByte(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// AllowSources makes the handler accept only requests from the given address
// ranges (the gateway's egress addresses, as your operator gives them);
// others are answered 403. The source is the peer address, unless the peer is
// a TrustProxies proxy: then it is the rightmost X-Forwarded-For address that
// is not a trusted proxy. X-Forwarded-For from any other peer is ignored, so
// it cannot be spoofed.
func AllowSources(prefixes ...netip.Prefix) HandlerOption {
	return func(h *Handler) error {
		if len(prefixes) == 0 {
			return optionError("AllowSources", "no address ranges")
		}
		ps, err := maskedPrefixes("AllowSources", prefixes)
		if err != nil {
			return err
		}
		h.allow = append(h.allow, ps...)
		return nil
	}
}

// TrustProxies names the reverse proxies (load balancers, ingress) in front
// of the handler whose X-Forwarded-For header tells the real source address.
func TrustProxies(prefixes ...netip.Prefix) HandlerOption {
	return func(h *Handler) error {
		ps, err := maskedPrefixes("TrustProxies", prefixes)
		if err != nil {
			return err
		}
		h.trusted = append(h.trusted, ps...)
		return nil
	}
}

func maskedPrefixes(name string, prefixes []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if !p.IsValid() {
			return nil, optionError(name, "invalid address range %v", p)
		}
		// An IPv4 range given in IPv6 form (::ffff:10.0.0.0/104) matches
		// the unmapped addresses the handler compares.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Deduplicate replaces the handler's DedupStore, by default a MemoryDedup
// with DefaultDedupSize and DefaultDedupTTL. Behind several replicas, use a
// store they share.
func Deduplicate(store DedupStore) HandlerOption {
	return func(h *Handler) error {
		if store == nil {
			return optionError("Deduplicate", "nil DedupStore")
		}
		h.dedup = store
		return nil
	}
}

// OnDelivery makes the handler call fn with every request body it reads, as
// received, before it acts on it: also a body it cannot parse, or whose
// Content-Type is wrong, and every duplicate. Store it there and nothing the
// gateway sends is lost. When fn returns an error the handler answers 503,
// so that the gateway delivers again. Bodies refused before reading (403,
// 405, 413) do not reach fn.
func OnDelivery(fn func(ctx context.Context, d *Delivery) error) HandlerOption {
	return func(h *Handler) error {
		if fn == nil {
			return optionError("OnDelivery", "nil function")
		}
		h.onDelivery = fn
		return nil
	}
}

// FeedResults makes the handler hand every processed result to hub, after
// the ResultFunc returned nil, so that code waiting in hub.Await gets it.
func FeedResults(hub *Results) HandlerOption {
	return func(h *Handler) error {
		if hub == nil {
			return optionError("FeedResults", "nil *Results")
		}
		h.hub = hub
		return nil
	}
}

// VerifyWithStatusQuery makes the handler confirm each successful result of
// a product that moves money (C2B, B2C, B2B, reversal, direct debit payment)
// with a transaction status query through client before it runs the
// ResultFunc. The gateways sign nothing, so this is what stops a forged
// "paid" result. The query asks for the result's TransactionID (its
// OriginalConversationID when it has none) with the client's
// WithServiceProviderCode, which is required.
//
// What happens:
//   - The status is Completed, not reversed, and names the same
//     transaction: Result.Verified is set and the ResultFunc runs.
//   - The query fails, the transaction is not found yet, is Pending or N/A,
//     or the status product answers asynchronously (a portal setting under
//     which this option cannot work): the ResultFunc does not run and the
//     handler answers 503, so that the gateway delivers again later.
//   - The status contradicts the result (Failed, Cancelled, Expired, an
//     undocumented state, reversed, another transaction): the ResultFunc
//     does not run, the handler answers 422 and logs at error level. A
//     forged result ends there; a genuine one is kept by OnDelivery.
//
// Failed results and results of queries are not verified and reach the
// ResultFunc with Verified false. The query runs within the callback
// request, whose time the gateway may limit; a result it cuts short is
// delivered again.
func VerifyWithStatusQuery(client *Client) HandlerOption {
	return func(h *Handler) error {
		if client == nil {
			return optionError("VerifyWithStatusQuery", "nil *Client")
		}
		if client.serviceProviderCode == "" {
			return optionError("VerifyWithStatusQuery", "the client needs WithServiceProviderCode for the status query")
		}
		h.verifier = client
		return nil
	}
}

// Answers of the handler.
const (
	ackCode        = "0"
	ackDesc        = "Successfully Accepted Result"
	refuseCode     = "1"
	descRetry      = "Not accepted, deliver again"
	descForbidden  = "Forbidden"
	descMethod     = "Method not allowed"
	descTooLarge   = "Body too large"
	descMediaType  = "Content-Type must be application/json"
	descMalformed  = "Malformed result"
	descUnverified = "Result not confirmed by the transaction status"
	retryAfterSecs = "10"
)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	src, srcOK := h.source(r)
	if h.allow != nil && (!srcOK || !containsAddr(h.allow, src)) {
		h.refuse(ctx, w, http.StatusForbidden, descForbidden, nil, src, "source address not allowed")
		return
	}
	if h.token != nil && !h.tokenMatches(r) {
		h.refuse(ctx, w, http.StatusForbidden, descForbidden, nil, src, "missing or wrong token")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(ctx, w, http.StatusMethodNotAllowed, descMethod, nil, src, "method "+strconv.Quote(r.Method))
		return
	}
	if r.ContentLength > h.maxBody {
		h.refuse(ctx, w, http.StatusRequestEntityTooLarge, descTooLarge, nil, src, "declared body too large")
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.refuse(ctx, w, http.StatusRequestEntityTooLarge, descTooLarge, nil, src, "body too large")
			return
		}
		h.refuse(ctx, w, http.StatusBadRequest, descMalformed, nil, src, "reading the body failed")
		return
	}

	ct := r.Header.Get("Content-Type")
	var res *Result
	var perr error
	if !isJSONMediaType(ct) {
		perr = errors.New("mpesa: Content-Type is not application/json")
	} else {
		res = new(Result)
		if perr = res.parse(body); perr != nil {
			res = nil
		} else if h.gatewaySet {
			res.Gateway = h.gateway
		}
	}
	if h.onDelivery != nil {
		d := &Delivery{Body: body, ContentType: ct, Source: src, ReceivedAt: h.now(), Result: res, Err: perr}
		if err := h.onDelivery(ctx, d); err != nil {
			h.fail(ctx, w, http.StatusServiceUnavailable, res, src, "OnDelivery failed", err)
			return
		}
	}
	if res == nil {
		if errors.Is(perr, ErrMalformedResult) {
			h.refuse(ctx, w, http.StatusBadRequest, descMalformed, nil, src, perr.Error())
		} else {
			h.refuse(ctx, w, http.StatusUnsupportedMediaType, descMediaType, nil, src, "Content-Type "+strconv.Quote(ct))
		}
		return
	}
	h.process(ctx, w, res, src)
}

// process runs the result through the store, the verification and the
// ResultFunc, and answers.
func (h *Handler) process(ctx context.Context, w http.ResponseWriter, res *Result, src netip.Addr) {
	key := res.OriginalConversationID
	owner := h.ownerPrefix + strconv.FormatUint(h.ownerSeq.Add(1), 10)
	state, err := h.dedup.Claim(ctx, key, owner)
	if err != nil {
		h.fail(ctx, w, http.StatusServiceUnavailable, res, src, "dedup store claim failed", err)
		return
	}
	switch state {
	case ClaimDone:
		h.log(ctx, slog.LevelInfo, "mpesa: duplicate result acknowledged", res, src, http.StatusOK, "")
		h.answer(w, http.StatusOK, res, ackCode, ackDesc)
		return
	case ClaimInProgress:
		w.Header().Set("Retry-After", retryAfterSecs)
		h.log(ctx, slog.LevelInfo, "mpesa: duplicate result in progress elsewhere", res, src, http.StatusServiceUnavailable, "")
		h.answer(w, http.StatusServiceUnavailable, res, refuseCode, descRetry)
		return
	case ClaimAcquired:
	default:
		h.fail(ctx, w, http.StatusServiceUnavailable, res, src, "dedup store claim failed", fmt.Errorf("unknown claim state %d", int(state)))
		return
	}

	released := false
	release := func() {
		if released {
			return
		}
		released = true
		// The request may be ending; the release must still happen.
		if err := h.dedup.Release(context.WithoutCancel(ctx), key, owner); err != nil {
			h.log(ctx, slog.LevelError, "mpesa: dedup store release failed", res, src, 0, err.Error())
		}
	}
	defer func() {
		if p := recover(); p != nil {
			release()
			panic(p)
		}
	}()

	if h.verifier != nil && res.OK() && res.movesMoney() {
		switch status, why := h.verify(ctx, res); status {
		case http.StatusOK:
			res.Verified = true
		case http.StatusUnprocessableEntity:
			release()
			h.log(ctx, slog.LevelError, "mpesa: result contradicted by the transaction status; not processed", res, src, status, why)
			h.answer(w, status, res, refuseCode, descUnverified)
			return
		default:
			release()
			w.Header().Set("Retry-After", retryAfterSecs)
			h.log(ctx, slog.LevelWarn, "mpesa: result not verified yet; asking for redelivery", res, src, status, why)
			h.answer(w, status, res, refuseCode, descRetry)
			return
		}
	}

	if err := h.run(ctx, res); err != nil {
		release()
		h.fail(ctx, w, http.StatusInternalServerError, res, src, "result function failed", err)
		return
	}
	released = true
	if err := h.dedup.Complete(context.WithoutCancel(ctx), key, owner); err != nil {
		// The result was processed: acknowledge it. A redelivery could
		// now run the function again; say so.
		h.log(ctx, slog.LevelError, "mpesa: dedup store complete failed; a redelivery may be processed again", res, src, 0, err.Error())
	}
	if h.hub != nil {
		h.hub.Deliver(res)
	}
	h.log(ctx, slog.LevelInfo, "mpesa: result accepted", res, src, http.StatusOK, "")
	h.answer(w, http.StatusOK, res, ackCode, ackDesc)
}

// run calls the ResultFunc, turning a panic into an error. A panic with
// http.ErrAbortHandler is passed on, as net/http expects.
func (h *Handler) run(ctx context.Context, res *Result) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = fmt.Errorf("mpesa: result function panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return h.fn(ctx, res)
}

// verify asks the transaction status of a result and says what to answer:
// 200 when it confirms the result, 422 when it contradicts it, 503 when it
// cannot tell yet. why explains a refusal for the log.
func (h *Handler) verify(ctx context.Context, res *Result) (status int, why string) {
	ref := res.TransactionID
	if ref == "" {
		ref = res.OriginalConversationID
	}
	st, err := h.verifier.TransactionStatus(ctx, TransactionStatusRequest{QueryReference: ref})
	switch {
	case err != nil:
		return http.StatusServiceUnavailable, "status query failed: " + err.Error()
	case st.Async():
		return http.StatusServiceUnavailable, "the status query answered asynchronously; verification needs its synchronous answer"
	case st.TransactionStatus == StatusPending || st.TransactionStatus == StatusNotAvailable:
		return http.StatusServiceUnavailable, "transaction status " + string(st.TransactionStatus)
	case st.TransactionStatus != StatusCompleted:
		return http.StatusUnprocessableEntity, "transaction status " + strconv.Quote(string(st.TransactionStatus))
	case st.Reversed:
		return http.StatusUnprocessableEntity, "the transaction was reversed"
	case st.OriginalTransactionID != "" && res.TransactionID != "" && st.OriginalTransactionID != res.TransactionID:
		return http.StatusUnprocessableEntity, "the status names transaction " + strconv.Quote(st.OriginalTransactionID)
	}
	return http.StatusOK, ""
}

// readBody reads the whole body, at most maxBody bytes. With a declared
// length it reads into a buffer of exactly that size plus the one byte that
// meets EOF (bytes.Buffer.ReadFrom would grow it to make room for 512).
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	rd := http.MaxBytesReader(w, r.Body, h.maxBody)
	size := 512
	if r.ContentLength >= 0 {
		size = int(r.ContentLength) + 1
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// isJSONMediaType reports whether a Content-Type is application/json, with
// or without parameters.
func isJSONMediaType(ct string) bool {
	if ct == "application/json" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// source returns the address a request came from: the peer, or, when the
// peer is a trusted proxy, the rightmost X-Forwarded-For address that is
// not a trusted proxy. ok is false when an address cannot be read.
func (h *Handler) source(r *http.Request) (addr netip.Addr, ok bool) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err == nil {
		addr = peer.Addr()
	} else if addr, err = netip.ParseAddr(r.RemoteAddr); err != nil {
		return netip.Addr{}, false
	}
	addr = addr.Unmap().WithZone("")
	if len(h.trusted) == 0 || !containsAddr(h.trusted, addr) {
		return addr, true
	}
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for line != "" {
			var item string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				item, line = line[j+1:], line[:j]
			} else {
				item, line = line, ""
			}
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			a, err := netip.ParseAddr(item)
			if err != nil {
				ap, err2 := netip.ParseAddrPort(item)
				if err2 != nil {
					// A trusted proxy wrote something unreadable:
					// refuse rather than guess.
					return netip.Addr{}, false
				}
				a = ap.Addr()
			}
			addr = a.Unmap().WithZone("")
			if !containsAddr(h.trusted, addr) {
				return addr, true
			}
		}
	}
	// Every hop is a trusted proxy: the leftmost is the origin.
	return addr, true
}

func containsAddr(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// tokenMatches reports whether the last path segment or the "token" query
// parameter is the token. Both candidates are hashed and compared in
// constant time, so neither the token nor its length leaks through timing.
func (h *Handler) tokenMatches(r *http.Request) bool {
	p := strings.TrimRight(r.URL.Path, "/")
	seg := p[strings.LastIndexByte(p, '/')+1:]
	a := sha256.Sum256([]byte(seg))
	match := subtle.ConstantTimeCompare(a[:], h.token[:])
	if r.URL.RawQuery != "" {
		b := sha256.Sum256([]byte(r.URL.Query().Get("token")))
		match |= subtle.ConstantTimeCompare(b[:], h.token[:])
	}
	return match == 1
}

// answer writes the acknowledgement, or a refusal in the same shape. The
// IDs are echoed when the result is known.
func (h *Handler) answer(w http.ResponseWriter, status int, res *Result, code, desc string) {
	var params [4]wire.Param
	n := 0
	if res != nil {
		params[n] = wire.Param{Key: "output_OriginalConversationID", Value: res.OriginalConversationID}
		n++
	}
	params[n] = wire.Param{Key: "output_ResponseCode", Value: code}
	params[n+1] = wire.Param{Key: "output_ResponseDesc", Value: desc}
	n += 2
	if res != nil {
		params[n] = wire.Param{Key: "output_ThirdPartyConversationID", Value: res.ThirdPartyConversationID}
		n++
	}
	buf := wire.AppendJSON(make([]byte, 0, 192+len(params[0].Value)+len(params[n-1].Value)), params[:n])
	w.Header()["Content-Type"] = jsonHdr
	w.WriteHeader(status)
	_, _ = w.Write(buf)
}

// refuse answers a request the handler will not process.
func (h *Handler) refuse(ctx context.Context, w http.ResponseWriter, status int, desc string, res *Result, src netip.Addr, why string) {
	h.log(ctx, slog.LevelWarn, "mpesa: callback refused", res, src, status, why)
	h.answer(w, status, res, refuseCode, desc)
}

// fail answers a result that could not be processed now, so that the
// gateway delivers it again. err is logged, never sent.
func (h *Handler) fail(ctx context.Context, w http.ResponseWriter, status int, res *Result, src netip.Addr, msg string, err error) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfterSecs)
	}
	h.log(ctx, slog.LevelError, "mpesa: "+msg, res, src, status, err.Error())
	h.answer(w, status, res, refuseCode, descRetry)
}

func (h *Handler) log(ctx context.Context, level slog.Level, msg string, res *Result, src netip.Addr, status int, why string) {
	if !h.logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 7)
	if src.IsValid() {
		attrs = append(attrs, slog.String("source", src.String()))
	}
	if status != 0 {
		attrs = append(attrs, slog.Int("status", status))
	}
	if res != nil {
		attrs = append(attrs,
			slog.String("conversation_id", res.OriginalConversationID),
			slog.String("reference", res.ThirdPartyConversationID),
			slog.String("code", res.ResultCode))
		if res.Verified {
			attrs = append(attrs, slog.Bool("verified", true))
		}
	}
	if why != "" {
		attrs = append(attrs, slog.String("reason", redact.Text(why)))
	}
	h.logger.LogAttrs(ctx, level, msg, attrs...)
}
