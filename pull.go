package mpesa

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/mpesa-go/mpesa/internal/redact"
)

// Daraja's Pull Transactions API: the C2B payments of a shortcode over the
// last 48 hours, for reconciling payments whose confirmation never arrived
// (docs/gateways.md D22). It serves shortcodes live in production with a
// C2B integration; both calls are POSTs with a JSON body, although the
// portal calls the query a GET.

// MaxPullWindow is the longest period a pull query covers: Daraja keeps
// the last 48 hours.
const MaxPullWindow = 48 * time.Hour

// PullRegisterRequest registers a shortcode for the Pull API, once.
type PullRegisterRequest struct {
	// ShortCode defaults to WithServiceProviderCode.
	ShortCode string
	// NominatedNumber is the Safaricom number of the organisation's
	// nominated operator, 254 and nine digits.
	NominatedNumber string
	// CallbackURL receives Daraja's notifications; checked as
	// WithResultURL is. Required.
	CallbackURL string
}

// PullRegisterResponse is the answer to a pull registration.
type PullRegisterResponse struct {
	ResponseRefID string
	// ResponseStatus is "1000" (registered); "1001" (already registered)
	// comes back as an error matching ErrAlreadyRegistered.
	ResponseStatus string
	ShortCode      string
	ResponseDesc   string
}

// Async reports false: the registration is answered at once.
func (r *PullRegisterResponse) Async() bool { return false }

// PullRegister registers the shortcode for pull queries
// (/pulltransactions/v1/register, RequestType "Pull"). A shortcode
// registers once; again, it answers ErrAlreadyRegistered. Other gateways
// answer ErrNotSupported without I/O.
func (c *Client) PullRegister(ctx context.Context, req PullRegisterRequest) (*PullRegisterResponse, error) {
	p, ok := c.d.(puller)
	if !ok {
		return nil, c.newError(APIPullRegister, "", ErrNotSupported, nil)
	}
	return p.pullRegister(ctx, &req)
}

// Format prints the request with the number masked, whatever the verb.
func (r PullRegisterRequest) Format(f fmt.State, verb rune) {
	r.NominatedNumber = redact.MSISDN(r.NominatedNumber)
	type pullRegisterRequest PullRegisterRequest
	fmt.Fprintf(f, fmt.FormatString(f, verb), pullRegisterRequest(r))
}

// LogValue describes the request to log/slog with the number masked.
func (r PullRegisterRequest) LogValue() slog.Value {
	r.NominatedNumber = redact.MSISDN(r.NominatedNumber)
	type pullRegisterRequest PullRegisterRequest
	return slog.AnyValue(pullRegisterRequest(r))
}

// PullQueryRequest asks for the C2B payments of a period.
type PullQueryRequest struct {
	// ShortCode defaults to WithServiceProviderCode.
	ShortCode string
	// StartDate and EndDate bound the period, at most MaxPullWindow
	// long. They are sent in East Africa Time, to the second
	// ("2019-07-31 20:35:21").
	StartDate time.Time
	EndDate   time.Time
	// Offset is the row to start from, 0 for the first: Daraja pages by
	// row offset, not page number.
	Offset int
}

// PullQueryResponse holds the payments of the period.
type PullQueryResponse struct {
	ResponseRefID string
	// ResponseCode is "1000" with transactions, "1001" when the period
	// has none. "500" (none available) comes back as an error matching
	// ErrTransactionNotFound.
	ResponseCode string
	ResponseDesc string
	Transactions []PullTransaction
}

// Async reports false: the transactions come in the answer.
func (r *PullQueryResponse) Async() bool { return false }

// PullTransaction is one payment of a pull query, values as sent. Printing
// it with any fmt verb or logging it masks the number.
type PullTransaction struct {
	TransactionID string
	// TransactionDate is as sent, ISO 8601 ("2020-08-05T10:13:00Z").
	TransactionDate  string
	MSISDN           string
	Sender           string
	TransactionType  string
	BillReference    string
	Amount           string
	OrganizationName string
	// Extra holds any other member, keyed as sent.
	Extra map[string]string `json:",omitempty"`
}

// Format prints the transaction with the number masked, whatever the verb;
// a number in Sender or in Extra is masked too.
func (t PullTransaction) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), t.masked())
}

// LogValue describes the transaction to log/slog, masked as Format does.
func (t PullTransaction) LogValue() slog.Value { return slog.AnyValue(t.masked()) }

type pullTransaction PullTransaction

func (t PullTransaction) masked() pullTransaction {
	t.MSISDN = redact.MSISDN(t.MSISDN)
	t.Sender = redact.Text(t.Sender)
	if t.Extra != nil {
		extra := make(map[string]string, len(t.Extra))
		for k, v := range t.Extra {
			extra[k] = maskExtra(k, v)
		}
		t.Extra = extra
	}
	return pullTransaction(t)
}

// PullQuery fetches the C2B payments of a period
// (/pulltransactions/v1/query). Page with Offset while a page comes back
// full. Other gateways answer ErrNotSupported without I/O.
func (c *Client) PullQuery(ctx context.Context, req PullQueryRequest) (*PullQueryResponse, error) {
	p, ok := c.d.(puller)
	if !ok {
		return nil, c.newError(APIPullQuery, "", ErrNotSupported, nil)
	}
	return p.pullQuery(ctx, &req)
}
