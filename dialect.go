package mpesa

import (
	"context"
	"net/http"
	"time"

	"github.com/mpesa-go/mpesa/internal/wire"
)

// A dialect is everything the client knows of one gateway: where each API
// lives, how calls are authorised, how requests are encoded and how answers
// and errors are decoded. The Client's core (transport, retries, errors) and
// the product files speak only to this interface and to the optional product
// interfaces below; each gateway implements them in files of its own
// (ipg.go for what OpenAPI v2 and Mozambique share, openapi.go,
// mozambique.go, daraja*.go). A fourth gateway is a fourth implementation.
type dialect interface {
	// endpoint returns the HTTP method and URL of api; ok is false when
	// the gateway does not offer it.
	endpoint(api API) (method, url string, ok bool)
	// auth returns the authenticator that authorises calls of api.
	auth(api API) authenticator
	// interpret decodes an answer into rq.out, or returns why the call
	// failed. It is not called for transport failures.
	interpret(rq *request, status int, body []byte) *Error
	// secrets returns the values no error, excerpt or log line may show.
	secrets() []string
}

// request is one encoded call, ready for the transport.
type request struct {
	api API
	// ref is the caller's reference of the call, put into every error.
	ref string
	// query holds a GET's parameters, body a POST's or PUT's JSON.
	query []wire.Param
	body  []byte
	// header holds extra headers of the call, set once per request.
	header http.Header
	// out is the dialect's own type that interpret decodes the answer
	// into.
	out any
	// holdOnOverload keeps a payment from being resent even after the
	// gateway said it did not process it (a Daraja STK push: every resend
	// is a new prompt on the customer's phone).
	holdOnOverload bool
	// secret is a value of this call that is a secret of its own (a
	// Daraja STK Password: base64 of the shortcode, the passkey and the
	// timestamp), masked wherever the answer might echo it.
	secret string
}

// payment reports whether the call may move money or change something (a
// payment, a mandate): resending it is only allowed when the gateway
// provably did not process it.
func (rq *request) payment() bool { return !rq.api.isQuery() }

// An authenticator provides the Authorization header of calls, and decides
// what to do when the gateway refuses it.
type authenticator interface {
	// get returns the credential for the next attempt of a call.
	get(ctx context.Context) (*credential, error)
	// refused is called when the gateway refused cred; t holds what the
	// call tried so far. It says whether to send again, after how long,
	// and why (for the debug log).
	refused(cred *credential, t *authTries) (wait time.Duration, retry bool, why string)
}

// authTries is what one call has tried after refused credentials.
type authTries struct {
	warmups   int  // retries while a new credential warmed up
	refreshed bool // a new credential was fetched
}

// staticAuth is an authenticator whose credential never changes: the
// encrypted API key of a Mozambique call or of OpenAPI's getSession. A
// refused static credential cannot be fixed by sending again.
type staticAuth struct{ cred *credential }

func (s staticAuth) get(context.Context) (*credential, error) { return s.cred, nil }

func (staticAuth) refused(*credential, *authTries) (time.Duration, bool, string) {
	return 0, false, "the gateway refused the API key"
}

// The optional product interfaces. A dialect that implements one offers the
// product; a Client whose dialect does not answers ErrNotSupported without
// any I/O.
type (
	c2bPayer interface {
		c2b(ctx context.Context, req *C2BRequest) (*PaymentResponse, error)
	}
	b2cPayer interface {
		b2c(ctx context.Context, req *B2CRequest) (*PaymentResponse, error)
	}
	b2bPayer interface {
		b2b(ctx context.Context, req *B2BRequest) (*PaymentResponse, error)
	}
	reverser interface {
		reversal(ctx context.Context, req *ReversalRequest) (*PaymentResponse, error)
	}
	statusQuerier interface {
		transactionStatus(ctx context.Context, req *TransactionStatusRequest) (*TransactionStatusResponse, error)
	}
	beneficiaryNamer interface {
		beneficiaryName(ctx context.Context, req *BeneficiaryNameRequest) (*BeneficiaryNameResponse, error)
	}
	directDebiter interface {
		directDebitCreate(ctx context.Context, req *DirectDebitCreateRequest) (*DirectDebitCreateResponse, error)
		directDebitPayment(ctx context.Context, req *DirectDebitPaymentRequest) (*DirectDebitPaymentResponse, error)
		directDebitQuery(ctx context.Context, req *DirectDebitQueryRequest) (*DirectDebitQueryResponse, error)
		directDebitCancel(ctx context.Context, req *DirectDebitCancelRequest) (*DirectDebitCancelResponse, error)
	}
	// The Daraja-only products.
	balanceQuerier interface {
		accountBalance(ctx context.Context, req *AccountBalanceRequest) (*AccountBalanceResponse, error)
	}
	c2bRegistrar interface {
		registerC2BURLs(ctx context.Context, req *RegisterC2BURLsRequest) (*RegisterC2BURLsResponse, error)
	}
	c2bSimulator interface {
		simulateC2B(ctx context.Context, req *SimulateC2BRequest) (*SimulateC2BResponse, error)
	}
	puller interface {
		pullRegister(ctx context.Context, req *PullRegisterRequest) (*PullRegisterResponse, error)
		pullQuery(ctx context.Context, req *PullQueryRequest) (*PullQueryResponse, error)
	}
	// asyncStatusAwaiter is a dialect whose status query answers
	// asynchronously and that can wait for the status result on the hub of
	// WithResults (Daraja). Reconcile uses it: waited is false without a
	// hub; earlier holds the ConversationIDs of the call's previous
	// acknowledgements, whose results may come late.
	asyncStatusAwaiter interface {
		awaitStatus(ctx context.Context, ack *TransactionStatusResponse, earlier []string) (res *TransactionStatusResponse, waited bool, err error)
	}
)
