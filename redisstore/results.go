package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mpesa-go/mpesa"
)

// ResultBus is the mpesa.ResultBus of a Store: Publish keeps a result under
// each of its IDs for the result retention (WithResultRetention) and
// announces it on a channel; Wait subscribes, then reads, so that it finds
// a result published before it was called as well as one published after.
type ResultBus struct{ s *Store }

var _ mpesa.ResultBus = (*ResultBus)(nil)

func (b *ResultBus) key(id string) string { return b.s.cfg.prefix + "result:" + keyPart(id) }

// channel is where results are announced, each as its message.
func (b *ResultBus) channel() string { return b.s.cfg.prefix + "result-published" }

// Publish implements mpesa.ResultBus: the result's keys are set before the
// result is announced, in one pipeline.
func (b *ResultBus) Publish(ctx context.Context, res *mpesa.Result) error {
	if res == nil {
		return nil
	}
	ids := res.IDs()
	if len(ids) == 0 {
		return nil
	}
	payload, err := encodeResult(ids, res)
	if err != nil {
		return err
	}
	return b.s.do(ctx, "publish", b.key(ids[0]), func(ctx context.Context) error {
		_, err := b.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, id := range ids {
				p.Set(ctx, b.key(id), payload, b.s.cfg.resultRetention)
			}
			p.Publish(ctx, b.channel(), payload)
			return nil
		})
		return err
	})
}

// Wait implements mpesa.ResultBus. It returns the result published under
// key within the retention or after the call, and ctx's error when ctx ends
// first. While Redis cannot be reached it keeps trying, every poll
// interval, so that a result published once Redis is back still reaches
// it; it returns another error only when the store is closed.
func (b *ResultBus) Wait(ctx context.Context, key string) (*mpesa.Result, error) {
	if key == "" {
		return nil, errors.New("redisstore: Wait: empty key")
	}
	var (
		w      *waiter
		remove func()
	)
	tick := time.NewTicker(b.s.cfg.poll)
	defer tick.Stop()
	k := b.key(key)
	for {
		if w == nil {
			var err error
			w, remove, err = b.s.notifier.register(ctx, b.channel(), key, decodeResultMessage)
			if errors.Is(err, ErrClosed) {
				return nil, err
			}
			if remove != nil {
				defer remove()
			}
		}
		if w != nil && b.s.notifier.ready(ctx, b.channel()) == nil {
			res, err := b.get(ctx, k)
			if res != nil {
				return res, nil
			}
			if err != nil && ctx.Err() == nil {
				b.s.cfg.logger.Debug("redisstore: reading a result failed; trying again",
					slog.String("key", k), slog.String("error", err.Error()))
			}
		}
		var wake <-chan struct{}
		if w != nil {
			wake = w.wake
		}
		select {
		case <-wake:
			if _, res := b.s.notifier.take(w); res != nil {
				return res, nil
			}
		case <-tick.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-b.s.notifier.done:
			return nil, ErrClosed
		}
	}
}

// get reads the result kept under k; nil without error when there is none.
func (b *ResultBus) get(ctx context.Context, k string) (*mpesa.Result, error) {
	var raw string
	err := b.s.do(ctx, "wait", k, func(ctx context.Context) (err error) {
		raw, err = b.s.rdb.Get(ctx, k).Result()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	_, res, err := decodeResultMessage(raw)
	if err != nil {
		b.s.cfg.logger.Warn("redisstore: a stored result that cannot be read was ignored",
			slog.String("key", k), slog.String("error", err.Error()))
		return nil, nil
	}
	return res, nil
}

// String describes the bus.
func (b ResultBus) String() string {
	if b.s == nil {
		return "redisstore.ResultBus{}"
	}
	return "redisstore.ResultBus{" + b.s.String() + "}"
}

// Format writes String whatever the verb.
func (b ResultBus) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, b.String()) }

// resultMessage is a result as it is kept and announced: version 1, the IDs
// it is kept under, and every exported field of mpesa.Result. It does not
// rely on mpesa.Result's own JSON, which may change; gateways and APIs go by
// their stable names.
type resultMessage struct {
	Version int          `json:"v"`
	IDs     []string     `json:"ids"`
	Result  storedResult `json:"result"`
}

type storedResult struct {
	Gateway                  string            `json:"gateway"`
	API                      string            `json:"api,omitempty"`
	OriginalConversationID   string            `json:"original_conversation_id"`
	TransactionID            string            `json:"transaction_id,omitempty"`
	ThirdPartyConversationID string            `json:"third_party_conversation_id,omitempty"`
	ResultCode               string            `json:"result_code,omitempty"`
	ResultDesc               string            `json:"result_desc,omitempty"`
	TransactionReference     string            `json:"transaction_reference,omitempty"`
	MsisdnToken              string            `json:"msisdn_token,omitempty"`
	MandateID                string            `json:"mandate_id,omitempty"`
	CustomerFirstName        string            `json:"customer_first_name,omitempty"`
	CustomerMiddleName       string            `json:"customer_middle_name,omitempty"`
	CustomerLastName         string            `json:"customer_last_name,omitempty"`
	OriginalTransactionID    string            `json:"original_transaction_id,omitempty"`
	Reversed                 bool              `json:"reversed,omitempty"`
	MandateStatus            string            `json:"mandate_status,omitempty"`
	AccountStatus            string            `json:"account_status,omitempty"`
	FirstPaymentDate         string            `json:"first_payment_date,omitempty"`
	Frequency                string            `json:"frequency,omitempty"`
	PaymentDayFrom           string            `json:"payment_day_from,omitempty"`
	PaymentDayTo             string            `json:"payment_day_to,omitempty"`
	ExpiryDate               string            `json:"expiry_date,omitempty"`
	SufficientBalance        *bool             `json:"sufficient_balance,omitempty"`
	Extra                    map[string]string `json:"extra,omitempty"`
	Verified                 bool              `json:"verified,omitempty"`

	// Daraja's fields.
	Callback                 string            `json:"callback,omitempty"`
	MerchantRequestID        string            `json:"merchant_request_id,omitempty"`
	CheckoutRequestID        string            `json:"checkout_request_id,omitempty"`
	OriginatorConversationID string            `json:"originator_conversation_id,omitempty"`
	ResultType               string            `json:"result_type,omitempty"`
	Amount                   string            `json:"amount,omitempty"`
	PhoneNumber              string            `json:"phone_number,omitempty"`
	MSISDN                   string            `json:"msisdn,omitempty"`
	TransactionDate          string            `json:"transaction_date,omitempty"`
	TransactionType          string            `json:"transaction_type,omitempty"`
	ServiceProviderCode      string            `json:"service_provider_code,omitempty"`
	InvoiceNumber            string            `json:"invoice_number,omitempty"`
	OrgAccountBalance        string            `json:"org_account_balance,omitempty"`
	Parameters               []storedParameter `json:"parameters,omitempty"`
	ReferenceData            []storedParameter `json:"reference_data,omitempty"`
}

// storedParameter is one of a Daraja result's ResultParameters, kept in
// order and with its key as sent.
type storedParameter struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

func storeParameters(ps mpesa.ResultParameters) []storedParameter {
	if ps == nil {
		return nil
	}
	out := make([]storedParameter, len(ps))
	for i, p := range ps {
		out[i] = storedParameter{p.Key, p.Value}
	}
	return out
}

func loadParameters(ps []storedParameter) mpesa.ResultParameters {
	if ps == nil {
		return nil
	}
	out := make(mpesa.ResultParameters, len(ps))
	for i, p := range ps {
		out[i] = mpesa.ResultParameter{Key: p.Key, Value: p.Value}
	}
	return out
}

func encodeResult(ids []string, r *mpesa.Result) (string, error) {
	m := resultMessage{Version: 1, IDs: ids, Result: storedResult{
		Gateway:                  r.Gateway.String(),
		OriginalConversationID:   r.OriginalConversationID,
		TransactionID:            r.TransactionID,
		ThirdPartyConversationID: r.ThirdPartyConversationID,
		ResultCode:               r.ResultCode,
		ResultDesc:               r.ResultDesc,
		TransactionReference:     r.TransactionReference,
		MsisdnToken:              r.MsisdnToken,
		MandateID:                r.MandateID,
		CustomerFirstName:        r.CustomerFirstName,
		CustomerMiddleName:       r.CustomerMiddleName,
		CustomerLastName:         r.CustomerLastName,
		OriginalTransactionID:    r.OriginalTransactionID,
		Reversed:                 r.Reversed,
		MandateStatus:            r.MandateStatus,
		AccountStatus:            r.AccountStatus,
		FirstPaymentDate:         r.FirstPaymentDate,
		Frequency:                r.Frequency,
		PaymentDayFrom:           r.PaymentDayFrom,
		PaymentDayTo:             r.PaymentDayTo,
		ExpiryDate:               r.ExpiryDate,
		SufficientBalance:        r.SufficientBalance,
		Extra:                    r.Extra,
		Verified:                 r.Verified,
		MerchantRequestID:        r.MerchantRequestID,
		CheckoutRequestID:        r.CheckoutRequestID,
		OriginatorConversationID: r.OriginatorConversationID,
		ResultType:               r.ResultType,
		Amount:                   r.Amount,
		PhoneNumber:              r.PhoneNumber,
		MSISDN:                   r.MSISDN,
		TransactionDate:          r.TransactionDate,
		TransactionType:          r.TransactionType,
		ServiceProviderCode:      r.ServiceProviderCode,
		InvoiceNumber:            r.InvoiceNumber,
		OrgAccountBalance:        r.OrgAccountBalance,
		Parameters:               storeParameters(r.Parameters),
		ReferenceData:            storeParameters(r.ReferenceData),
	}}
	if r.API != 0 {
		m.Result.API = r.API.String()
	}
	if r.Callback != mpesa.CallbackResult {
		m.Result.Callback = r.Callback.String()
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("redisstore: encoding a result: %w", err)
	}
	return string(b), nil
}

func decodeResultMessage(payload string) ([]string, *mpesa.Result, error) {
	var m resultMessage
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		return nil, nil, errors.New("not a result message")
	}
	if m.Version != 1 {
		return nil, nil, fmt.Errorf("result message version %d is not known", m.Version)
	}
	s := m.Result
	g, ok := gatewayByName(s.Gateway)
	if !ok {
		return nil, nil, fmt.Errorf("unknown gateway %q", s.Gateway)
	}
	var api mpesa.API
	if s.API != "" {
		if api, ok = apiByName(s.API); !ok {
			return nil, nil, fmt.Errorf("unknown API %q", s.API)
		}
	}
	var kind mpesa.CallbackKind
	if s.Callback != "" {
		if kind, ok = callbackByName(s.Callback); !ok {
			return nil, nil, fmt.Errorf("unknown callback kind %q", s.Callback)
		}
	}
	var sb *bool
	if s.SufficientBalance != nil {
		v := *s.SufficientBalance
		sb = &v
	}
	return m.IDs, &mpesa.Result{
		Gateway:                  g,
		API:                      api,
		Callback:                 kind,
		OriginalConversationID:   s.OriginalConversationID,
		TransactionID:            s.TransactionID,
		ThirdPartyConversationID: s.ThirdPartyConversationID,
		ResultCode:               s.ResultCode,
		ResultDesc:               s.ResultDesc,
		TransactionReference:     s.TransactionReference,
		MsisdnToken:              s.MsisdnToken,
		MandateID:                s.MandateID,
		CustomerFirstName:        s.CustomerFirstName,
		CustomerMiddleName:       s.CustomerMiddleName,
		CustomerLastName:         s.CustomerLastName,
		OriginalTransactionID:    s.OriginalTransactionID,
		Reversed:                 s.Reversed,
		MandateStatus:            s.MandateStatus,
		AccountStatus:            s.AccountStatus,
		FirstPaymentDate:         s.FirstPaymentDate,
		Frequency:                s.Frequency,
		PaymentDayFrom:           s.PaymentDayFrom,
		PaymentDayTo:             s.PaymentDayTo,
		ExpiryDate:               s.ExpiryDate,
		SufficientBalance:        sb,
		Extra:                    s.Extra,
		Verified:                 s.Verified,
		MerchantRequestID:        s.MerchantRequestID,
		CheckoutRequestID:        s.CheckoutRequestID,
		OriginatorConversationID: s.OriginatorConversationID,
		ResultType:               s.ResultType,
		Amount:                   s.Amount,
		PhoneNumber:              s.PhoneNumber,
		MSISDN:                   s.MSISDN,
		TransactionDate:          s.TransactionDate,
		TransactionType:          s.TransactionType,
		ServiceProviderCode:      s.ServiceProviderCode,
		InvoiceNumber:            s.InvoiceNumber,
		OrgAccountBalance:        s.OrgAccountBalance,
		Parameters:               loadParameters(s.Parameters),
		ReferenceData:            loadParameters(s.ReferenceData),
	}, nil
}

// Gateways and APIs travel by name, which the mpesa package keeps stable;
// a value this build does not name travels as its String form
// ("gateway(7)"), which is read back too.
var (
	gatewayNames  = map[string]mpesa.Gateway{}
	apiNames      = map[string]mpesa.API{}
	callbackNames = map[string]mpesa.CallbackKind{}
)

func init() {
	for g := mpesa.Gateway(0); g < 64; g++ {
		if n := g.String(); !strings.HasPrefix(n, "gateway(") {
			gatewayNames[n] = g
		}
	}
	for a := mpesa.API(1); a < 256; a++ {
		if n := a.String(); !strings.HasPrefix(n, "api(") {
			apiNames[n] = a
		}
	}
	for k := mpesa.CallbackKind(0); k < 64; k++ {
		if n := k.String(); !strings.HasPrefix(n, "callback(") {
			callbackNames[n] = k
		}
	}
}

func gatewayByName(n string) (mpesa.Gateway, bool) {
	if g, ok := gatewayNames[n]; ok {
		return g, true
	}
	i, ok := numbered(n, "gateway(")
	return mpesa.Gateway(i), ok
}

func apiByName(n string) (mpesa.API, bool) {
	if a, ok := apiNames[n]; ok {
		return a, true
	}
	i, ok := numbered(n, "api(")
	return mpesa.API(i), ok
}

func callbackByName(n string) (mpesa.CallbackKind, bool) {
	if k, ok := callbackNames[n]; ok {
		return k, true
	}
	i, ok := numbered(n, "callback(")
	return mpesa.CallbackKind(i), ok
}

// numbered reads "prefixN)".
func numbered(s, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, false
	}
	rest, ok = strings.CutSuffix(rest, ")")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	return i, err == nil
}
