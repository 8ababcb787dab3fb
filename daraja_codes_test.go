package mpesa

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file answers every Daraja product with every code the documents
// list (docs/gateways.md D4, D9, D12, D14, D15, D19, D22–D24), and checks
// the error the caller gets: code, HTTP status, request ID, the sentinels
// it matches, and how many times the request was sent. The tables are
// transcribed from the documents; what each code must mean is written
// separately below, from the documents' words, not read from
// daraja_codes.go.

// darajaEnvelopeCodes are the API gateway's error codes of the portal's
// error tables, with the status they come with and a message they carry.
const darajaEnvelopeCodes = `
400 400.002.02 Bad Request - Invalid Amount
400 400.002.05 Invalid Request Payload
400 400.003.01 Invalid Access Token
400 400.003.02 Bad Request
401 401.002.01 Invalid Access Token - XXX
401 401.003.01 Invalid Access Token - Invalid API call as no apiproduct match found
404 404.001.01 Resource not found
404 404.002.01 Resource not found
404 404.003.01 Resource not found
404 404.001.03 Invalid Access Token
404 404.001.04 Invalid Authentication Header
405 405.001 Method Not Allowed
500 500.001.1001 Server Error
500 500.002.1001 Duplicate OriginatorConversationID.
500 500.003.1001 Internal Server Error
500 500.003.02 Spike Arrest Violation
500 500.003.03 Quota Violation
503 00.002.1001 Service is currently under maintenance. Please try again later
400 400.001 Invalid shortcode
401 401.001 Invalid Access Token`

// darajaEnvelopeByAPI holds the codes a page gives a meaning of its own,
// told apart by their message (docs/gateways.md D9, D12).
var darajaEnvelopeByAPI = map[API]string{
	APIC2B: `
500 500.001.1001 Merchant does not exist
500 500.001.1001 Wrong credentials
500 500.001.1001 Unable to lock subscriber, a transaction is already in process for the current subscriber`,
	APIC2BRegister: `
500 500.003.1001 Urls are already registered
500 500.003.1001 Validation and Confirmation URLs are already registered
500 500.003.1001 Duplicate notification info, SP ID is 107031`,
}

// darajaEnvelopeMeaning is the sentinel a code must match (errNoSentinel:
// none), from the documents' words.
func darajaEnvelopeMeaning(api API, code, msg string) error {
	switch code {
	case "400.002.02", "400.002.05", "400.003.02", "400.001":
		return ErrInvalidRequest // bad field, payload, request, shortcode
	case "400.003.01", "401.002.01", "404.001.03", "401.001", "404.001.04":
		return ErrUnauthorized // invalid token, invalid authentication header
	case "401.003.01":
		return ErrAPINotEnabled // no API product match (docs/gateways.md D4)
	case "500.002.1001":
		return ErrDuplicate
	case "500.003.02", "500.003.03", "00.002.1001":
		return ErrOverloaded // spike arrest, quota, maintenance
	case "500.003.1001":
		if strings.Contains(msg, "registered") || strings.Contains(msg, "Duplicate notification") {
			return ErrAlreadyRegistered
		}
		return ErrInternal
	case "500.001.1001":
		if api != APIC2B {
			return errNoSentinel // documented for the STK APIs only
		}
		// Every meaning on the push is a refusal (docs/gateways.md D9).
		switch {
		case strings.HasPrefix(msg, "Unable to lock subscriber"):
			return ErrCustomerBusy
		case msg == "Wrong credentials":
			return ErrUnauthorized
		case msg == "Merchant does not exist":
			return ErrInvalidRequest
		}
	}
	return errNoSentinel // not found, method not allowed
}

// darajaProducts are the Daraja calls of the code tests, each valid.
var darajaProducts = map[API]callFunc{
	APIC2B: func(ctx context.Context, c *Client) (any, error) {
		return c.C2B(ctx, C2BRequest{Amount: "1", CustomerMSISDN: testKenyaMSISDN, TransactionReference: "INV1", ThirdPartyConversationID: "REF1"})
	},
	APISTKQuery: func(ctx context.Context, c *Client) (any, error) {
		return c.TransactionStatus(ctx, TransactionStatusRequest{QueryReference: "ws_CO_191220191020363925", ThirdPartyConversationID: "REF1"})
	},
	APIB2C: func(ctx context.Context, c *Client) (any, error) {
		return c.B2C(ctx, B2CRequest{Amount: "10", CustomerMSISDN: testKenyaMSISDN, PaymentItemsDesc: "Salary", ThirdPartyConversationID: "REF1"})
	},
	APIB2B: func(ctx context.Context, c *Client) (any, error) {
		return c.B2B(ctx, B2BRequest{Amount: "10", ReceiverPartyCode: "600000", TransactionReference: "ACC1", PurchasedItemsDesc: "Stock",
			ThirdPartyConversationID: "REF1"})
	},
	APIReversal: func(ctx context.Context, c *Client) (any, error) {
		return c.Reversal(ctx, ReversalRequest{TransactionID: "PDU91HIVIT", ReversalAmount: "10", ThirdPartyConversationID: "REF1"})
	},
	APITransactionStatus: func(ctx context.Context, c *Client) (any, error) {
		return c.TransactionStatus(ctx, TransactionStatusRequest{QueryReference: "PDU91HIVIT", ThirdPartyConversationID: "REF1"})
	},
	APIAccountBalance: func(ctx context.Context, c *Client) (any, error) {
		return c.AccountBalance(ctx, AccountBalanceRequest{ThirdPartyConversationID: "REF1"})
	},
	APIC2BRegister: func(ctx context.Context, c *Client) (any, error) {
		return c.RegisterC2BURLs(ctx, RegisterC2BURLsRequest{ResponseType: C2BResponseCompleted,
			ConfirmationURL: "https://example.com/c", ValidationURL: "https://example.com/v"})
	},
	APIC2BSimulate: func(ctx context.Context, c *Client) (any, error) {
		return c.SimulateC2B(ctx, SimulateC2BRequest{Amount: "10", MSISDN: testKenyaMSISDN, BillRefNumber: "A1"})
	},
	APIPullRegister: func(ctx context.Context, c *Client) (any, error) {
		return c.PullRegister(ctx, PullRegisterRequest{NominatedNumber: "254722000000", CallbackURL: "https://example.com/p"})
	},
	APIPullQuery: func(ctx context.Context, c *Client) (any, error) {
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		return c.PullQuery(ctx, PullQueryRequest{StartDate: start, EndDate: start.Add(time.Hour)})
	},
}

// darajaQueries are the products that change nothing: resending them is
// harmless (docs/gateways.md X3).
var darajaQueries = map[API]bool{APISTKQuery: true, APITransactionStatus: true, APIAccountBalance: true, APIPullQuery: true}

// TestDarajaEnvelopeCodes is the table test of every documented gateway
// error code on every Daraja product.
func TestDarajaEnvelopeCodes(t *testing.T) {
	t.Parallel()
	const retries = 2
	cases := 0
	for api, call := range darajaProducts {
		table := parseCodeTable(darajaEnvelopeCodes + darajaEnvelopeByAPI[api])
		for _, dc := range table {
			cases++
			t.Run(fmt.Sprintf("%v/%s/%s", api, dc.code, dc.desc), func(t *testing.T) {
				t.Parallel()
				f := newDarajaFake()
				f.answers = []http.HandlerFunc{func(w http.ResponseWriter, _ *http.Request) {
					writeJSON(w, dc.status, map[string]string{"requestId": "11728-2929992-1", "errorCode": dc.code, "errorMessage": dc.desc})
				}}
				c, _ := darajaClient(t, f, WithMaxRetries(retries))
				res, err := call(context.Background(), c)
				hits := len(f.requests())
				if api == APISTKQuery && dc.code == "500.001.1001" {
					t.Skip("the STK query's 500.001.1001 'being processed' is TestDarajaSTKQueryPending's")
				}
				require.Error(t, err, "answer %v", res)
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, GatewayDaraja, e.Gateway)
				assert.Equal(t, api, e.API)
				assert.Equal(t, dc.code, e.Code)
				assert.Equal(t, dc.status, e.HTTPStatus)
				assert.Equal(t, dc.desc, e.Description)
				assert.Equal(t, "11728-2929992-1", e.RequestID, "the request ID is kept for support")

				meaning := darajaEnvelopeMeaning(api, dc.code, dc.desc)
				query := darajaQueries[api]
				var want []string
				if meaning != errNoSentinel {
					want = append(want, meaning.Error())
				}
				stkRefusal := api == APIC2B && dc.code == "500.001.1001"
				outcomeUnknown := !query && !stkRefusal && (meaning == ErrInternal || (meaning == errNoSentinel && dc.status >= 500))
				if outcomeUnknown {
					want = append(want, ErrOutcomeUnknown.Error())
				}
				assert.Empty(t, cmp.Diff(want, matchedDarajaSentinels(err), cmpopts.SortSlices(func(a, b string) bool { return a < b }),
					cmpopts.EquateEmpty()), "sentinels of %v", err)

				// Resent: a refused token once, with a new token; spike
				// arrest and quota up to the retry limit but on the STK
				// push (every resend is a prompt); maintenance and server
				// errors on queries only.
				wantHits := 1
				switch {
				case dc.code == "404.001.03" || dc.code == "400.003.01" || dc.code == "401.002.01" || dc.code == "401.001":
					wantHits = 2
					assert.Equal(t, 2, f.tokenCount(), "a new token for the one resend")
				case dc.code == "500.003.02" || dc.code == "500.003.03":
					if api != APIC2B {
						wantHits = 1 + retries
					}
				case query && (meaning == ErrOverloaded || meaning == ErrInternal || (meaning == errNoSentinel && dc.status >= 500)):
					wantHits = 1 + retries
				}
				assert.Equal(t, wantHits, hits, "requests sent for %s", dc.code)
			})
		}
	}
	t.Logf("%d products, %d code cases", len(darajaProducts), cases)
}

// TestDarajaTokenCodes answers the token request with the Authorization
// page's codes and a wrong key's empty 400: the call fails with the
// token's error, matching ErrSessionCreation and ErrUnauthorized, and
// sends nothing to the product.
func TestDarajaTokenCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		body   string
		code   string
		kind   error
		tries  int
	}{
		{400, `{"requestId":"1","errorCode":"400.008.01","errorMessage":"Invalid Authentication passed"}`, "400.008.01", ErrUnauthorized, 1},
		{400, `{"requestId":"1","errorCode":"400.008.02","errorMessage":"Invalid grant type passed"}`, "400.008.02", ErrUnauthorized, 1},
		{400, ``, "", ErrUnauthorized, 1},
		// An HTML page with 200 (osenco/osen-wc-mpesa#10) is no token; the
		// token request is a query and is tried again.
		{200, `<html><title>Apigee SPA Proxy</title></html>`, "", ErrUnexpectedResponse, 3},
		{200, `{"expires_in":"3599"}`, "", ErrUnexpectedResponse, 3},
	} {
		t.Run(fmt.Sprintf("%d %s %q", tc.status, tc.code, tc.body), func(t *testing.T) {
			t.Parallel()
			f := newDarajaFake()
			f.tokenAnswer = answerJSON(tc.status, tc.body)
			c, _ := darajaClient(t, f, WithMaxRetries(2))
			_, err := darajaProducts[APIB2C](context.Background(), c)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrSessionCreation)
			assert.ErrorIs(t, err, tc.kind)
			assert.NotErrorIs(t, err, ErrOutcomeUnknown, "the payment was never sent")
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, APIB2C, e.API)
			assert.Equal(t, "REF1", e.ThirdPartyConversationID)
			assert.Equal(t, tc.code, e.Code)
			assert.Contains(t, err.Error(), "oauthToken")
			assert.Empty(t, f.requests(), "nothing reached the product")
			assert.Equal(t, tc.tries, f.tokenCount())
		})
	}
}

// TestDarajaAnswerCodes: acknowledgements that carry a code other than
// success. The Pull API's 1001 means "already registered" on the
// registration and "none in the period" on the query; its 500 means none
// available (docs/gateways.md D22). An undocumented code in a 200 answer
// to a payment contradicts itself: the outcome is unknown.
func TestDarajaAnswerCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		api    API
		status int
		body   string
		kinds  []error // nil: success
	}{
		{APIPullRegister, 200, `{"ResponseRefID":"1","Response Status":"1001","ShortCode":"600000","Response Description":"ShortCode already Registered"}`,
			[]error{ErrAlreadyRegistered}},
		{APIPullRegister, 200, `{"ResponseRefID":"1","ResponseStatus":"1000","ShortCode":"600000","ResponseDescription":"Shortcode Registered Successfully"}`, nil},
		{APIPullQuery, 200, `{"ResponseRefID":"1","ResponseCode":"1001","ResponseMessage":"Null","Transaction":"[[]]"}`, nil},
		{APIPullQuery, 500, `{"ResponseRefID":"1","ResponseCode":"500","ResponseMessage":"Failed to retrieve transactions"}`, []error{ErrTransactionNotFound}},
		{APIB2C, 200, `{"ConversationID":"AG_1","OriginatorConversationID":"REF1","ResponseCode":"1","ResponseDescription":"Rejected"}`,
			[]error{ErrInsufficientBalance}},
		{APIB2C, 200, `{"ConversationID":"AG_1","OriginatorConversationID":"REF1","ResponseCode":"77","ResponseDescription":"?"}`,
			[]error{ErrOutcomeUnknown}},
		// M-Pesa's internal failure says nothing of what it did with a
		// payment; a query's is only an error.
		{APIB2C, 200, `{"ConversationID":"AG_1","OriginatorConversationID":"REF1","ResponseCode":"100000004","ResponseDescription":"Internal Server Error"}`,
			[]error{ErrInternal, ErrOutcomeUnknown}},
		{APIB2B, 200, `{"ConversationID":"AG_1","OriginatorConversationID":"REF1","ResponseCode":"17","ResponseDescription":"Internal Failure"}`,
			[]error{ErrInternal, ErrOutcomeUnknown}},
		{APIAccountBalance, 200, `{"ConversationID":"AG_1","OriginatorConversationID":"REF1","ResponseCode":"17","ResponseDescription":"Internal Failure"}`,
			[]error{ErrInternal}},
		{APIB2C, 200, `{"ConversationID":"AG_1","OriginatorConversationID":"REF1","ResponseDescription":"no code"}`,
			[]error{ErrUnexpectedResponse, ErrOutcomeUnknown}},
		{APIC2B, 201, `{"MerchantRequestID":"1","CheckoutRequestID":"ws_CO_1","ResponseCode":"0","ResponseDescription":"ok"}`, nil},
		{APIC2B, 502, `<html>Bad gateway</html>`, []error{ErrUnexpectedResponse, ErrOutcomeUnknown}},
	} {
		t.Run(fmt.Sprintf("%v %d %s", tc.api, tc.status, tc.body), func(t *testing.T) {
			t.Parallel()
			f := newDarajaFake()
			f.answers = []http.HandlerFunc{answerJSON(tc.status, tc.body)}
			c, _ := darajaClient(t, f, WithMaxRetries(0))
			_, err := darajaProducts[tc.api](context.Background(), c)
			if tc.kinds == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var want []string
			for _, k := range tc.kinds {
				want = append(want, k.Error())
			}
			assert.Empty(t, cmp.Diff(want, matchedDarajaSentinels(err), cmpopts.SortSlices(func(a, b string) bool { return a < b })),
				"sentinels of %v", err)
		})
	}
}

// The result codes of each product, as the portal pages list them
// (docs/gateways.md D9, D15, D19, D23, D24; the core table of the 2017
// summary, D29), with the sentinel each must map to.
var darajaResultCodes = map[API]map[string]error{
	APIC2B: {
		"0": nil, "1": ErrInsufficientBalance, "2": ErrLimitBreached, "3": ErrLimitBreached, "4": ErrLimitBreached,
		"8": ErrLimitBreached, "17": ErrLimitBreached, // rule limited, not the core's internal failure
		"1019": ErrPromptTimeout, "1025": ErrInvalidRequest, "1032": ErrCancelledByCustomer, "1037": ErrPromptTimeout,
		"2001": ErrUnauthorized, "2028": ErrInvalidRequest, "8006": ErrUnauthorized, "SFC_IC0003": ErrInvalidMSISDN,
	},
	APIB2C: {
		"0": nil, "1": ErrInsufficientBalance, "2": ErrLimitBreached, "3": ErrLimitBreached, "4": ErrLimitBreached,
		"8": ErrLimitBreached, "11": ErrTransactionFailed, "21": ErrUnauthorized, "2001": ErrUnauthorized,
		"2006": ErrTransactionFailed, "2028": ErrInvalidRequest, "2040": ErrInvalidMSISDN, "8006": ErrUnauthorized,
		"SFC_IC0003": ErrInvalidMSISDN,
	},
	APIReversal: {
		"0": nil, "R000001": ErrDuplicate, "R000002": ErrTransactionNotFound, "11": ErrTransactionFailed, "21": ErrUnauthorized,
		"2001": ErrUnauthorized, "2006": ErrTransactionFailed, "2028": ErrInvalidRequest, "8006": ErrUnauthorized,
		"1": ErrInsufficientBalance,
	},
	APITransactionStatus: {"0": nil, "SFC_IC0003": ErrInvalidRequest},
	// The core codes, for every API.
	0: {
		"0": nil, "1": ErrInsufficientBalance, "2": ErrLimitBreached, "3": ErrLimitBreached, "4": ErrLimitBreached,
		"5": ErrInsufficientBalance, "6": ErrInvalidRequest, "7": ErrInvalidRequest, "8": ErrLimitBreached,
		"11": ErrTransactionFailed, "12": ErrTransactionFailed, "13": ErrInvalidRequest, "14": ErrInvalidRequest,
		"15": ErrDuplicate, "17": ErrInternal, "18": ErrUnauthorized, "19": ErrInternal, "20": ErrUnauthorized,
		"21": ErrUnauthorized, "22": ErrUnauthorized, "24": ErrInvalidRequest, "25": ErrInvalidRequest, "26": ErrOverloaded,
		"29": ErrInvalidRequest, "100000000": nil, "100000001": ErrOverloaded, "100000002": ErrOverloaded,
		"100000004": ErrInternal, "100000005": ErrInvalidRequest, "100000007": nil, "100000009": nil,
		"100000010": ErrUnauthorized, "100000011": ErrOverloaded, "SFC_IC0003": ErrInvalidRequest,
		// The initiator's codes, on every initiator API (D11).
		"2001": ErrUnauthorized, "8006": ErrUnauthorized,
	},
	APIPullRegister: {"1000": nil, "1001": ErrAlreadyRegistered},
	APIPullQuery:    {"1000": nil, "1001": nil, "500": ErrTransactionNotFound},
}

// TestDarajaLookupCode checks LookupCode for every documented result code
// with the API in hand: the same number means different things per API.
func TestDarajaLookupCode(t *testing.T) {
	t.Parallel()
	for api, codes := range darajaResultCodes {
		for code, want := range codes {
			info, ok := LookupCode(GatewayDaraja, api, code)
			if assert.True(t, ok, "%v %s", api, code) {
				assert.Equal(t, want, info.Kind, "%v %s", api, code)
				assert.Equal(t, GatewayDaraja, info.Gateway)
				assert.NotEmpty(t, info.Description)
			}
		}
	}
	// The STK query repeats the STK push's codes.
	for code, want := range darajaResultCodes[APIC2B] {
		info, _ := LookupCode(GatewayDaraja, APISTKQuery, code)
		assert.Equal(t, want, info.Kind, "stkQuery %s", code)
	}
	// 17 and 1 differ per API (docs/gateways.md D24).
	stk17, _ := LookupCode(GatewayDaraja, APIC2B, "17")
	core17, _ := LookupCode(GatewayDaraja, APIB2C, "17")
	assert.Contains(t, stk17.Description, "Rule limited")
	assert.Equal(t, "Internal Failure", core17.Description)
	stk1, _ := LookupCode(GatewayDaraja, APIC2B, "1")
	b2c1, _ := LookupCode(GatewayDaraja, APIB2C, "1")
	assert.NotEqual(t, stk1.Description, b2c1.Description)
	assert.Contains(t, b2c1.Description, "Utility")
	// The envelope codes, with their statuses.
	for _, dc := range parseCodeTable(darajaEnvelopeCodes) {
		info, ok := LookupCode(GatewayDaraja, APIB2C, dc.code)
		if assert.True(t, ok, dc.code) && dc.status != 503 {
			assert.Equal(t, dc.status, info.HTTPStatus, dc.code)
		}
	}
	// A Daraja code is not an iPG code, nor the other way round.
	_, ok := LookupCode(GatewayOpenAPI, APIB2C, "500.002.1001")
	assert.False(t, ok)
	_, ok = LookupCode(GatewayDaraja, APIB2C, "INS-10")
	assert.False(t, ok)
	info, ok := LookupCode(GatewayOpenAPI, APIC2B, "0")
	assert.True(t, ok, "0 is still INS-0 on the iPG gateways")
	assert.Equal(t, "INS-0", info.Code)
}

// TestDarajaCodeTableIsDocumented keeps darajaCodes to what the documents
// list: every row's code is in one of the transcribed tables.
func TestDarajaCodeTableIsDocumented(t *testing.T) {
	t.Parallel()
	listed := map[string]bool{}
	for _, dc := range parseCodeTable(darajaEnvelopeCodes) {
		listed[dc.code] = true
	}
	for _, codes := range darajaResultCodes {
		for code := range codes {
			listed[code] = true
		}
	}
	listed["400.008.01"], listed["400.008.02"] = true, true // TestDarajaTokenCodes
	for _, e := range darajaCodes {
		assert.True(t, listed[e.info.Code], "darajaCodes has %s, which no transcribed table lists", e.info.Code)
	}
}

// TestDarajaSTKQueryStates maps the STK query's result codes to states
// (docs/gateways.md D8, D9) and the "being processed" answer to Pending.
func TestDarajaSTKQueryStates(t *testing.T) {
	t.Parallel()
	for code := range darajaResultCodes[APIC2B] {
		want := StatusFailed
		switch code {
		case "0":
			want = StatusCompleted
		case "1032":
			want = StatusCancelled
		case "1019", "1037":
			want = StatusExpired
		}
		f := newDarajaFake()
		f.answers = []http.HandlerFunc{answerJSON(200, `{"ResponseCode":"0","ResponseDescription":"accepted","MerchantRequestID":"1","CheckoutRequestID":"ws_CO_191220191020363925","ResultCode":"`+code+`","ResultDesc":"d"}`)}
		c, _ := darajaClient(t, f)
		res, err := darajaProducts[APISTKQuery](context.Background(), c)
		require.NoError(t, err, code)
		st := res.(*TransactionStatusResponse)
		assert.Equal(t, want, st.TransactionStatus, code)
		assert.Equal(t, code, st.ResultCode)
		assert.False(t, st.Async())
	}
}

// TestDarajaSTKQueryPending: 500.001.1001 "The transaction is being
// processed" is a pending payment, not a failure, and it is not resent.
func TestDarajaSTKQueryPending(t *testing.T) {
	t.Parallel()
	f := newDarajaFake()
	f.answers = []http.HandlerFunc{answerJSON(500, `{"requestId":"8773-65037085-1","errorCode":"500.001.1001","errorMessage":"The transaction is being processed"}`)}
	c, _ := darajaClient(t, f)
	res, err := darajaProducts[APISTKQuery](context.Background(), c)
	require.NoError(t, err)
	st := res.(*TransactionStatusResponse)
	assert.Equal(t, StatusPending, st.TransactionStatus)
	assert.False(t, st.TransactionStatus.Final())
	assert.Len(t, f.requests(), 1)
	// The same answer to a push is a refusal: "being processed" is a
	// state on the query only.
	_, err = darajaProducts[APIC2B](context.Background(), c)
	assert.Error(t, err)
	assert.False(t, errors.Is(err, ErrOutcomeUnknown), "500.001.1001 on the push is a refusal (docs/gateways.md D9)")
	assert.Len(t, f.requests(), 2, "and the push is not resent")
}
