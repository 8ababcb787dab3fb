package mpesa

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/mpesa-go/mpesa/internal/redact"

	"github.com/mpesa-go/mpesa/internal/validate"
)

// Direct debits are offered by OpenAPI v2 only; on the Mozambique gateway
// every method here returns ErrNotSupported without any I/O.
//
// A mandate is the customer's standing permission for the business to debit
// them. DirectDebitCreate asks for it, DirectDebitPayment collects under it,
// DirectDebitQuery checks it (and optionally the customer's balance) and
// DirectDebitCancel ends it.

// Frequency is how often a mandate may be collected (input_Frequency).
type Frequency string

// The documented frequencies.
const (
	FrequencyOnceOff    Frequency = "01"
	FrequencyDaily      Frequency = "02"
	FrequencyWeekly     Frequency = "03"
	FrequencyMonthly    Frequency = "04"
	FrequencyQuarterly  Frequency = "05"
	FrequencyHalfYearly Frequency = "06"
	FrequencyYearly     Frequency = "07"
	FrequencyOnDemand   Frequency = "08"
)

// Valid reports whether f is one of the documented frequencies.
func (f Frequency) Valid() bool {
	return len(f) == 2 && f >= FrequencyOnceOff && f <= FrequencyOnDemand
}

// allowsDayRange reports whether the mandate may restrict collection to a
// range of days in the month: monthly, quarterly, half-yearly and yearly.
func (f Frequency) allowsDayRange() bool { return f >= FrequencyMonthly && f <= FrequencyYearly }

// DirectDebitCreateRequest asks a customer for a direct debit mandate.
type DirectDebitCreateRequest struct {
	// CustomerMSISDN is the customer to be debited, with country code.
	CustomerMSISDN string
	// ServiceProviderCode is the shortcode credited; default
	// WithServiceProviderCode.
	ServiceProviderCode string
	// MandateReference is your reference of the mandate
	// (input_ThirdPartyReference), 1 to 32 letters and digits.
	MandateReference string
	// ThirdPartyConversationID is the reference of this request; generated
	// when empty.
	ThirdPartyConversationID string
	// AgreedTC records that the customer agreed to the terms and
	// conditions (input_AgreedTC 1 or 0).
	AgreedTC bool
	// Frequency is optional. Without it FirstPaymentDate, StartRangeOfDays
	// and EndRangeOfDays must be empty. With once-off, daily, weekly or on
	// demand, FirstPaymentDate is required and the day range must be empty.
	// With monthly, quarterly, half-yearly or yearly, FirstPaymentDate is
	// required and the day range optional.
	Frequency Frequency
	// FirstPaymentDate and ExpiryDate are YYYYMMDD calendar dates; the
	// mandate may not expire before its first payment.
	FirstPaymentDate string
	ExpiryDate       string
	// StartRangeOfDays and EndRangeOfDays are days of the month, "01" to
	// "31", start not after end.
	StartRangeOfDays string
	EndRangeOfDays   string
	// Country defaults to the client's market.
	Country string
}

// DirectDebitCreateResponse is the answer to DirectDebitCreate.
type DirectDebitCreateResponse struct {
	ConversationID           string
	ThirdPartyConversationID string
	ResponseCode             string
	ResponseDesc             string
	// TransactionReference is the platform's reference of the mandate.
	TransactionReference string
	// MsisdnToken identifies the customer in later direct debit calls
	// without their number. Only on success.
	MsisdnToken string
	// MandateID is the platform's ID of the mandate.
	MandateID string
}

// Async reports whether the answer was the asynchronous one: the mandate's
// reference, token and ID come by callback.
func (r *DirectDebitCreateResponse) Async() bool {
	return r.TransactionReference == "" && r.MsisdnToken == "" && r.MandateID == ""
}

// DirectDebitCreate asks the customer for a mandate (POST
// directDebitCreation/).
func (c *Client) DirectDebitCreate(ctx context.Context, req DirectDebitCreateRequest) (*DirectDebitCreateResponse, error) {
	dd, ok := c.d.(directDebiter)
	if !ok {
		return nil, c.newError(APIDirectDebitCreate, req.ThirdPartyConversationID, ErrNotSupported, nil)
	}
	return dd.directDebitCreate(ctx, &req)
}

// checkMandateSchedule applies the frequency rules of the portal's "Direct
// Debit Create" page (docs/gateways.md O12).
func checkMandateSchedule(k *checker, req DirectDebitCreateRequest) {
	first, firstOK := checkDate(k, "FirstPaymentDate", req.FirstPaymentDate)
	expiry, expiryOK := checkDate(k, "ExpiryDate", req.ExpiryDate)
	if firstOK && expiryOK && expiry.Before(first) {
		k.fail("ExpiryDate", "must not be before FirstPaymentDate", req.ExpiryDate)
	}
	startOK := checkDay(k, "StartRangeOfDays", req.StartRangeOfDays)
	endOK := checkDay(k, "EndRangeOfDays", req.EndRangeOfDays)
	if startOK && endOK && req.StartRangeOfDays != "" && req.EndRangeOfDays != "" && req.StartRangeOfDays > req.EndRangeOfDays {
		k.fail("EndRangeOfDays", "must not be before StartRangeOfDays", req.EndRangeOfDays)
	}
	hasRange := req.StartRangeOfDays != "" || req.EndRangeOfDays != ""
	switch f := req.Frequency; {
	case f == "":
		if req.FirstPaymentDate != "" {
			k.fail("FirstPaymentDate", "must be empty when Frequency is not set", req.FirstPaymentDate)
		}
		if hasRange {
			failRange(k, req, "must be empty when Frequency is not set")
		}
	case !f.Valid():
		k.fail("Frequency", "must be 01 (once off) to 08 (on demand)", string(f))
	default:
		k.require("FirstPaymentDate", req.FirstPaymentDate)
		if hasRange && !f.allowsDayRange() {
			failRange(k, req, "must be empty for once-off, daily, weekly and on-demand mandates")
		}
	}
}

// failRange names each day-range field that is set where no range is
// allowed.
func failRange(k *checker, req DirectDebitCreateRequest, rule string) {
	if req.StartRangeOfDays != "" {
		k.fail("StartRangeOfDays", rule, req.StartRangeOfDays)
	}
	if req.EndRangeOfDays != "" {
		k.fail("EndRangeOfDays", rule, req.EndRangeOfDays)
	}
}

func checkDate(k *checker, field, v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	d, ok := validate.Date(v)
	if !ok {
		k.fail(field, "must be a calendar date YYYYMMDD", v)
	}
	return d, ok
}

func checkDay(k *checker, field, v string) bool {
	if v != "" && !validate.Day(v) {
		k.fail(field, "must be a day of the month, 01 to 31", v)
		return false
	}
	return true
}

// mandateParty holds the fields that identify the customer and mandate in
// payment, query and cancel: the MSISDN or its token (at least one; both
// allowed if they match), the mandate reference, and optionally the ID.
type mandateParty struct {
	CustomerMSISDN   string
	MsisdnToken      string
	MandateReference string
	MandateID        string
}

func (m mandateParty) check(k *checker) {
	if m.CustomerMSISDN == "" && m.MsisdnToken == "" {
		k.fail("CustomerMSISDN", "or MsisdnToken is required", "")
	}
	if m.CustomerMSISDN != "" {
		k.msisdn("CustomerMSISDN", m.CustomerMSISDN)
	}
	if m.MsisdnToken != "" && !validate.Token(m.MsisdnToken) {
		k.fail("MsisdnToken", "must be 1 to 26 letters, digits, '_', ' ' or '='", m.MsisdnToken)
	}
	k.alnum("MandateReference", m.MandateReference, 32)
	if m.MandateID != "" && !validate.Digits(m.MandateID, 1, 12) {
		k.fail("MandateID", "must be 1 to 12 digits", m.MandateID)
	}
}

func (m mandateParty) add(p *params) {
	p.addOptional("input_CustomerMSISDN", m.CustomerMSISDN)
	p.addOptional("input_MandateID", m.MandateID)
	p.addOptional("input_MsisdnToken", m.MsisdnToken)
	p.add("input_ThirdPartyReference", m.MandateReference)
}

// DirectDebitPaymentRequest collects a payment under a mandate.
type DirectDebitPaymentRequest struct {
	// CustomerMSISDN or MsisdnToken (from DirectDebitCreate) identifies the
	// customer; at least one, both if they match.
	CustomerMSISDN string
	MsisdnToken    string
	// MandateReference is the mandate's reference as created, MandateID
	// optionally its platform ID.
	MandateReference string
	MandateID        string
	// Amount is a decimal string greater than zero.
	Amount string
	// ServiceProviderCode defaults to WithServiceProviderCode.
	ServiceProviderCode string
	// ThirdPartyConversationID is this payment's reference and idempotency
	// key; generated when empty.
	ThirdPartyConversationID string
	// Country and Currency default to the client's market and currency.
	Country  string
	Currency string
}

// DirectDebitPaymentResponse is the answer to DirectDebitPayment.
type DirectDebitPaymentResponse struct {
	ConversationID           string
	TransactionID            string
	ThirdPartyConversationID string
	ResponseCode             string
	ResponseDesc             string
	MsisdnToken              string
}

// Async reports whether the answer was the asynchronous one.
func (r *DirectDebitPaymentResponse) Async() bool { return r.TransactionID == "" }

// DirectDebitPayment collects a payment under a mandate, without customer
// interaction (POST directDebitPayment/). It moves money: the retry rules of
// payments apply.
func (c *Client) DirectDebitPayment(ctx context.Context, req DirectDebitPaymentRequest) (*DirectDebitPaymentResponse, error) {
	dd, ok := c.d.(directDebiter)
	if !ok {
		return nil, c.newError(APIDirectDebitPayment, req.ThirdPartyConversationID, ErrNotSupported, nil)
	}
	return dd.directDebitPayment(ctx, &req)
}

// DirectDebitQueryRequest checks a mandate and, optionally, whether the
// customer's balance covers an amount.
type DirectDebitQueryRequest struct {
	CustomerMSISDN   string
	MsisdnToken      string
	MandateReference string
	MandateID        string
	// QueryBalanceAmount asks whether the customer's balance covers
	// BalanceAmount, which is then required.
	QueryBalanceAmount bool
	BalanceAmount      string
	// ServiceProviderCode defaults to WithServiceProviderCode.
	ServiceProviderCode string
	// ThirdPartyConversationID is this query's reference; generated when
	// empty.
	ThirdPartyConversationID string
	// Country and Currency default to the client's market and currency.
	Country  string
	Currency string
}

// DirectDebitQueryResponse is the answer to DirectDebitQuery.
type DirectDebitQueryResponse struct {
	ConversationID           string
	ThirdPartyConversationID string
	ResponseCode             string
	ResponseDesc             string
	TransactionReference     string
	MsisdnToken              string
	MandateID                string
	// MandateStatus and AccountStatus are as the platform states them
	// ("Active").
	MandateStatus string
	AccountStatus string
	// SufficientBalance answers QueryBalanceAmount. It means something only
	// when QueryBalanceAmount was set and the answer is not Async.
	SufficientBalance bool
	FirstPaymentDate  string
	Frequency         Frequency
	PaymentDayFrom    string
	PaymentDayTo      string
	ExpiryDate        string
}

// Async reports whether the answer was the asynchronous one: the mandate's
// fields, SufficientBalance included, come by callback, and the zero values
// here mean nothing.
func (r *DirectDebitQueryResponse) Async() bool {
	return r.MandateStatus == "" && r.AccountStatus == "" && r.MandateID == "" && r.TransactionReference == ""
}

// DirectDebitQuery reads a mandate (GET queryDirectDebit/).
func (c *Client) DirectDebitQuery(ctx context.Context, req DirectDebitQueryRequest) (*DirectDebitQueryResponse, error) {
	dd, ok := c.d.(directDebiter)
	if !ok {
		return nil, c.newError(APIDirectDebitQuery, req.ThirdPartyConversationID, ErrNotSupported, nil)
	}
	return dd.directDebitQuery(ctx, &req)
}

// DirectDebitCancelRequest ends a mandate.
type DirectDebitCancelRequest struct {
	CustomerMSISDN   string
	MsisdnToken      string
	MandateReference string
	MandateID        string
	// ServiceProviderCode defaults to WithServiceProviderCode.
	ServiceProviderCode string
	// ThirdPartyConversationID is this request's reference; generated when
	// empty.
	ThirdPartyConversationID string
	// Country defaults to the client's market.
	Country string
}

// DirectDebitCancelResponse is the answer to DirectDebitCancel.
type DirectDebitCancelResponse struct {
	ConversationID           string
	ThirdPartyConversationID string
	ResponseCode             string
	ResponseDesc             string
	TransactionReference     string
	MsisdnToken              string
}

// Async reports whether the answer was the asynchronous one: the result
// comes by callback.
func (r *DirectDebitCancelResponse) Async() bool {
	return r.TransactionReference == "" && r.MsisdnToken == ""
}

// DirectDebitCancel ends a mandate (PUT directDebitCancel/). A mandate that
// does not exist gives ErrMandateNotFound.
func (c *Client) DirectDebitCancel(ctx context.Context, req DirectDebitCancelRequest) (*DirectDebitCancelResponse, error) {
	dd, ok := c.d.(directDebiter)
	if !ok {
		return nil, c.newError(APIDirectDebitCancel, req.ThirdPartyConversationID, ErrNotSupported, nil)
	}
	return dd.directDebitCancel(ctx, &req)
}

// Format prints the request with the customer's number masked, whatever the
// verb.
func (r DirectDebitCreateRequest) Format(f fmt.State, verb rune) {
	r.CustomerMSISDN = redact.MSISDN(r.CustomerMSISDN)
	type plain DirectDebitCreateRequest
	fmt.Fprintf(f, fmt.FormatString(f, verb), plain(r))
}

// LogValue describes the request to log/slog with the number masked.
func (r DirectDebitCreateRequest) LogValue() slog.Value {
	r.CustomerMSISDN = redact.MSISDN(r.CustomerMSISDN)
	type plain DirectDebitCreateRequest
	return slog.AnyValue(plain(r))
}

// Format prints the request with the customer's number masked, whatever the
// verb.
func (r DirectDebitPaymentRequest) Format(f fmt.State, verb rune) {
	r.CustomerMSISDN = redact.MSISDN(r.CustomerMSISDN)
	type plain DirectDebitPaymentRequest
	fmt.Fprintf(f, fmt.FormatString(f, verb), plain(r))
}

// LogValue describes the request to log/slog with the number masked.
func (r DirectDebitPaymentRequest) LogValue() slog.Value {
	r.CustomerMSISDN = redact.MSISDN(r.CustomerMSISDN)
	type plain DirectDebitPaymentRequest
	return slog.AnyValue(plain(r))
}

// Format prints the request with the customer's number masked, whatever the
// verb.
func (r DirectDebitQueryRequest) Format(f fmt.State, verb rune) {
	r.CustomerMSISDN = redact.MSISDN(r.CustomerMSISDN)
	type plain DirectDebitQueryRequest
	fmt.Fprintf(f, fmt.FormatString(f, verb), plain(r))
}

// LogValue describes the request to log/slog with the number masked.
func (r DirectDebitQueryRequest) LogValue() slog.Value {
	r.CustomerMSISDN = redact.MSISDN(r.CustomerMSISDN)
	type plain DirectDebitQueryRequest
	return slog.AnyValue(plain(r))
}

// Format prints the request with the customer's number masked, whatever the
// verb.
func (r DirectDebitCancelRequest) Format(f fmt.State, verb rune) {
	r.CustomerMSISDN = redact.MSISDN(r.CustomerMSISDN)
	type plain DirectDebitCancelRequest
	fmt.Fprintf(f, fmt.FormatString(f, verb), plain(r))
}

// LogValue describes the request to log/slog with the number masked.
func (r DirectDebitCancelRequest) LogValue() slog.Value {
	r.CustomerMSISDN = redact.MSISDN(r.CustomerMSISDN)
	type plain DirectDebitCancelRequest
	return slog.AnyValue(plain(r))
}
