package mpesa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file answers every product with every response code its documents
// list, with the HTTP status they pair it with, and checks the error the
// caller gets: its code, status and reference, the sentinels it matches, and
// how many times the request was sent.
//
// The tables below are transcribed from the documents, row for row (the
// description is the documents' text); the sentinel each code must match is
// written separately in openAPIMeaning and mozambiqueMeaning, from what the
// documents say the code means. Neither is read from errors.go.

// docCode is one row of a response-code table.
type docCode struct {
	status int
	code   string
	desc   string
}

// parseCodeTable reads "status code description" lines.
func parseCodeTable(s string) []docCode {
	var out []docCode
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.SplitN(strings.TrimSpace(line), " ", 3)
		status, err := strconv.Atoi(f[0])
		if err != nil || len(f) != 3 {
			panic("bad code table line: " + line)
		}
		out = append(out, docCode{status: status, code: f[1], desc: f[2]})
	}
	return out
}

// openAPICodeTables are the "Response Codes" tables of the OpenAPI v2
// portal, one per product page.
var openAPICodeTables = map[API]string{
	APIC2B: `
201 INS-0 Request processed successfully
400 INS-1 Internal Error
401 INS-6 Transaction Failed
408 INS-9 Request timeout
409 INS-10 Duplicate Transaction
400 INS-13 Invalid Shortcode Used
400 INS-15 Invalid Amount Used
400 INS-17 Invalid Transaction Reference. Length Should Be Between 1 and 20.
400 INS-20 Not All Parameters Provided. Please try again.
400 INS-21 Parameter validations failed. Please try again.
400 INS-26 Invalid Currency Used
400 INS-28 Invalid ThirdPartyConversationID Used
400 INS-30 Invalid Purchased Items Description Used
400 INS-990 Customer Transaction Value Limit Breached
400 INS-991 Customer Transaction Count Limit Breached
400 INS-992 Multiple Limits Breached
400 INS-993 Organization Transaction Count Limit Breached
400 INS-994 Organization Transaction Value Limit Breached
400 INS-995 API Single Transaction Limit Breached
400 INS-996 API Being Used Outside Of Usage Time
400 INS-997 API Not Enabled
400 INS-998 Invalid Market
422 INS-2006 Insufficient balance
400 INS-2051 MSISDN invalid.`,
	APIB2C: `
201 INS-0 Request processed successfully
400 INS-1 Internal Error
401 INS-6 Transaction Failed
408 INS-9 Request timeout
409 INS-10 Duplicate Transaction
400 INS-13 Invalid Shortcode Used
400 INS-15 Invalid Amount Used
400 INS-17 Invalid Transaction Reference. Length Should Be Between 1 and 20.
400 INS-20 Not All Parameters Provided. Please try again.
400 INS-21 Parameter validations failed. Please try again.
400 INS-26 Invalid Currency Used
400 INS-28 Invalid ThirdPartyConversationID Used
400 INS-31 Invalid Payment Items Description Used
400 INS-990 Customer Transaction Value Limit Breached
400 INS-991 Customer Transaction Count Limit Breached
400 INS-992 Multiple Limits Breached
400 INS-993 Organization Transaction Count Limit Breached
400 INS-994 Organization Transaction Value Limit Breached
400 INS-995 API Single Transaction Limit Breached
400 INS-996 API Being Used Outside Of Usage Time
400 INS-997 API Not Enabled
400 INS-998 Invalid Market
422 INS-2006 Insufficient balance
400 INS-2051 MSISDN invalid.`,
	APIB2B: `
201 INS-0 Request processed successfully
400 INS-1 Internal Error
401 INS-6 Transaction Failed
408 INS-9 Request timeout
409 INS-10 Duplicate Transaction
400 INS-13 Invalid Shortcode Used
400 INS-15 Invalid Amount Used
400 INS-17 Invalid Transaction Reference. Length Should Be Between 1 and 20.
400 INS-20 Not All Parameters Provided. Please try again.
400 INS-21 Parameter validations failed. Please try again.
400 INS-26 Invalid Currency Used
400 INS-28 Invalid ThirdPartyConversationID Used
400 INS-30 Invalid Purchased Items Description Used
400 INS-990 Customer Transaction Value Limit Breached
400 INS-991 Customer Transaction Count Limit Breached
400 INS-992 Multiple Limits Breached
400 INS-993 Organization Transaction Count Limit Breached
400 INS-994 Organization Transaction Value Limit Breached
400 INS-995 API Single Transaction Limit Breached
400 INS-996 API Being Used Outside Of Usage Time
400 INS-997 API Not Enabled
400 INS-998 Invalid Market
422 INS-2006 Insufficient balance`,
	APITransactionStatus: `
200 INS-0 Request processed successfully
400 INS-1 Internal Error
401 INS-6 Transaction Failed
408 INS-9 Request timeout
400 INS-13 Invalid Shortcode Used
400 INS-20 Not All Parameters Provided. Please try again.
400 INS-21 Parameter validations failed. Please try again.
400 INS-23 Transaction not found. Contact M-Pesa Support
400 INS-28 Invalid ThirdPartyConversationID Used
400 INS-996 API Being Used Outside Of Usage Time
400 INS-997 API Not Enabled
400 INS-998 Invalid Market`,
	APIDirectDebitCreate: `
201 INS-0 Request processed successfully
400 INS-1 Internal Error
401 INS-6 Transaction Failed
408 INS-9 Request timeout
409 INS-10 Duplicate Transaction
400 INS-13 Invalid Shortcode Used
400 INS-15 Invalid Amount Used
400 INS-17 Invalid Transaction Reference. Length Should Be Between 1 and 20.
400 INS-20 Not All Parameters Provided. Please try again.
400 INS-21 Parameter validations failed. Please try again.
400 INS-26 Invalid Currency Used
400 INS-28 Invalid ThirdPartyConversationID Used
400 INS-30 Invalid Purchased Items Description Used
400 INS-36 Invalid Agreed TC Used
400 INS-39 Invalid First Payment Date Used
400 INS-40 Invalid Frequency Used
400 INS-41 Invalid Start Range Days Used
400 INS-42 Invalid End Range Days Used
400 INS-43 Invalid Expiry Date Used
400 INS-990 Customer Transaction Value Limit Breached
400 INS-991 Customer Transaction Count Limit Breached
400 INS-992 Multiple Limits Breached
400 INS-993 Organization Transaction Count Limit Breached
400 INS-994 Organization Transaction Value Limit Breached
400 INS-995 API Single Transaction Limit Breached
400 INS-996 API Being Used Outside Of Usage Time
400 INS-997 API Not Enabled
400 INS-998 Invalid Market
422 INS-2006 Insufficient balance
400 INS-2051 MSISDN invalid.`,
	APIDirectDebitPayment: `
201 INS-0 Request processed successfully
400 INS-1 Internal Error
401 INS-6 Transaction Failed
408 INS-9 Request timeout
409 INS-10 Duplicate Transaction
400 INS-13 Invalid Shortcode Used
400 INS-15 Invalid Amount Used
400 INS-17 Invalid Transaction Reference. Length Should Be Between 1 and 20.
400 INS-20 Not All Parameters Provided. Please try again.
400 INS-21 Parameter validations failed. Please try again.
400 INS-26 Invalid Currency Used
400 INS-28 Invalid ThirdPartyConversationID Used
400 INS-30 Invalid Purchased Items Description Used
400 INS-50 MSISDN Token and MSISDN provided does not Match
400 INS-51 Invalid MandateID Used
400 INS-52 The MandateID used does not correspond to the ThirdPartyReference used.
400 INS-990 Customer Transaction Value Limit Breached
400 INS-991 Customer Transaction Count Limit Breached
400 INS-992 Multiple Limits Breached
400 INS-993 Organization Transaction Count Limit Breached
400 INS-994 Organization Transaction Value Limit Breached
400 INS-995 API Single Transaction Limit Breached
400 INS-996 API Being Used Outside Of Usage Time
400 INS-997 API Not Enabled
400 INS-998 Invalid Market
422 INS-2006 Insufficient balance
400 INS-2051 MSISDN invalid.`,
	APIBeneficiaryName: `
200 INS-0 Request processed successfully
400 INS-1 Internal Error
401 INS-6 Transaction Failed
408 INS-9 Request timeout
400 INS-13 Invalid Shortcode Used
400 INS-20 Not All Parameters Provided. Please try again.
400 INS-2051 2051 MSISDN invalid.
400 INS-21 Parameter validations failed. Please try again.
400 INS-28 Invalid ThirdPartyConversationID Used
400 INS-32 Invalid KYC Query Type Used
400 INS-996 API Being Used Outside Of Usage Time
400 INS-997 API Not Enabled
400 INS-998 Invalid Market`,
	APIDirectDebitQuery: `
200 INS-0 Request processed successfully
400 INS-997 API Not Enabled
400 INS-20 Not All Parameters Provided. Please try again.
400 INS-13 Invalid Shortcode Used
400 INS-998 Invalid Market
400 INS-17 Invalid Transaction Reference. Length Should Be Between 1 and 20.
400 INS-26 Invalid Currency Used
400 INS-21 Parameter validations failed. Please try again.
400 INS-54 Invalid BalanceAmount Used
400 INS-51 Invalid MandateID Used
400 INS-58 No Active Mandate found
400 INS-19 Invalid ThirdPartyReference Used
400 INS-28 Invalid ThirdPartyConversationID Used
400 INS-2051 MSISDN invalid.
400 INS-50 MSISDN Token and MSISDN provided does not Match
401 INS-56 Invalid MSISDNToken Used
401 INS-54 Invalid BalanceAmount Used
401 INS-55 BalanceAmount is Mandatory when QueryBalanceAmount is True
408 INS-9 Request timeout
409 INS-10 Duplicate Transaction
422 INS-2006 Insufficient balance
500 INS-57 Either MSISDN or MSISDNToken required
500 INS-1 Internal Error
500 INS-52 The MandateID used does not correspond to the ThirdPartyReference used.`,
	APIDirectDebitCancel: `
201 INS-0 Request processed successfully
400 INS-1 Internal Error
401 INS-6 Mandate does not exist
408 INS-9 Request timeout
409 INS-10 Duplicate Transaction
400 INS-13 Invalid Shortcode Used
400 INS-19 Invalid ThirdPartyReference Used.
400 INS-20 Not All Parameters Provided. Please try again.
400 INS-21 Parameter validations failed. Please try again.
400 INS-28 Invalid ThirdPartyConversationID Used
400 INS-30 Invalid Purchased Items Description Used
400 INS-50 MSISDN Token and MSISDN provided does not Match
400 INS-51 Invalid MandateID Used
400 INS-52 The MandateID used does not correspond to the ThirdPartyReference used.
400 INS-990 Customer Transaction Value Limit Breached
400 INS-991 Customer Transaction Count Limit Breached
400 INS-992 Multiple Limits Breached
400 INS-993 Organization Transaction Count Limit Breached
400 INS-994 Organization Transaction Value Limit Breached
400 INS-995 API Single Transaction Limit Breached
400 INS-996 API Being Used Outside Of Usage Time
400 INS-997 API Not Enabled
400 INS-998 Invalid Market
422 INS-2006 Insufficient balance
400 INS-2051 MSISDN invalid.`,
	APIReversal: `
201 INS-0 Request processed successfully
400 INS-1 Internal Error
401 INS-6 Transaction Failed
408 INS-9 Request timeout
409 INS-10 Duplicate Transaction
400 INS-13 Invalid Shortcode Used
400 INS-15 Invalid Amount Used
400 INS-18 Invalid TransactionID Used
400 INS-20 Not All Parameters Provided. Please try again.
400 INS-21 Parameter validations failed. Please try again.
400 INS-28 Invalid ThirdPartyConversationID Used
400 INS-35 This transaction do not belong to you
400 INS-996 API Being Used Outside Of Usage Time
400 INS-997 API Not Enabled
400 INS-998 Invalid Market
422 INS-2006 Insufficient balance`,
}

// openAPIOverload is not in any OpenAPI table: the SDK treats INS-16 (503)
// as the iPG platform's overload answer on both gateways, so every OpenAPI
// product is tried with it too.
const openAPIOverload = `503 INS-16 Unable to handle the request due to a temporary overloading`

// mozambiqueCodeTable is the full "Response Codes & Descriptions" table with
// HTTP statuses, identical in the three Mozambique documents, less its
// INS-0 row (200 / 201). It applies to every Mozambique product. The short
// "Common Response Codes" list contradicts it and is ignored (docs/gateways.md
// M10).
const mozambiqueCodeTable = `
500 INS-1 Internal Error
401 INS-2 Invalid API Key
401 INS-4 User is not active
401 INS-5 Transaction cancelled by customer
401 INS-6 Transaction Failed
408 INS-9 Request timeout
409 INS-10 Duplicate Transaction
400 INS-13 Invalid Shortcode Used
400 INS-14 Invalid Reference Used
400 INS-15 Invalid Amount Used
503 INS-16 Unable to handle the request due to a temporary overloading
400 INS-17 Invalid Transaction Reference. Length Should Be Between 1 and 20.
400 INS-18 Invalid TransactionID Used
400 INS-19 Invalid ThirdPartyReference Used
400 INS-20 Not All Parameters Provided. Please try again.
400 INS-21 Parameter validations failed. Please try again.
400 INS-22 Invalid Operation Type
400 INS-23 Unknown Status. Contact M-Pesa Support
400 INS-24 Invalid InitiatorIdentifier Used
400 INS-25 Invalid SecurityCredential Used
400 INS-26 Not authorized
400 INS-993 Direct Debit Missing
400 INS-994 Direct Debit Already Exists
400 INS-995 Customer's Profile Has Problems
400 INS-996 Customer Account Status Not Active
400 INS-997 Linking Transaction Not Found
400 INS-998 Invalid Market
400 INS-2001 Initiator authentication error.
400 INS-2002 Receiver invalid.
422 INS-2006 Insufficient balance
400 INS-2051 MSISDN invalid.
400 INS-2057 Language code invalid.`

// errNoSentinel marks a code no sentinel of the package describes: the error
// must then match none of them.
var errNoSentinel = errors.New("no sentinel")

// openAPIMeaning is the sentinel each OpenAPI v2 code must match, from the
// code's documented description.
var openAPIMeaning = map[string]error{
	"INS-1":  ErrInternal,
	"INS-6":  ErrTransactionFailed,
	"INS-9":  ErrPromptTimeout, // 408: the customer did not answer in time (docs/gateways.md O19)
	"INS-10": ErrDuplicate,
	"INS-13": ErrInvalidRequest, // shortcode
	"INS-15": ErrInvalidRequest, // amount
	"INS-16": ErrOverloaded,
	"INS-17": ErrInvalidRequest, // transaction reference
	"INS-18": ErrInvalidRequest, // TransactionID
	"INS-19": ErrInvalidRequest, // ThirdPartyReference
	"INS-20": ErrInvalidRequest, // missing parameters
	"INS-21": ErrInvalidRequest, // parameter validation
	"INS-23": ErrTransactionNotFound,
	"INS-26": ErrInvalidRequest, // "Invalid Currency Used"
	"INS-28": ErrInvalidRequest, // ThirdPartyConversationID
	"INS-30": ErrInvalidRequest, // purchased items description
	"INS-31": ErrInvalidRequest, // payment items description
	"INS-32": ErrInvalidRequest, // KYC query type
	// "This transaction do not belong to you": a TransactionID that is
	// not the caller's to reverse, a bad parameter rather than bad
	// credentials (the session was accepted).
	"INS-35":   ErrInvalidRequest,
	"INS-36":   ErrInvalidRequest, // AgreedTC
	"INS-39":   ErrInvalidRequest, // FirstPaymentDate
	"INS-40":   ErrInvalidRequest, // Frequency
	"INS-41":   ErrInvalidRequest, // StartRangeOfDays
	"INS-42":   ErrInvalidRequest, // EndRangeOfDays
	"INS-43":   ErrInvalidRequest, // ExpiryDate
	"INS-50":   ErrInvalidRequest, // token and MSISDN do not match
	"INS-51":   ErrInvalidRequest, // MandateID
	"INS-52":   ErrInvalidRequest, // MandateID vs ThirdPartyReference
	"INS-54":   ErrInvalidRequest, // BalanceAmount
	"INS-55":   ErrInvalidRequest, // BalanceAmount missing
	"INS-56":   ErrInvalidRequest, // MSISDNToken
	"INS-57":   ErrInvalidRequest, // neither MSISDN nor token
	"INS-58":   ErrMandateNotFound,
	"INS-990":  ErrLimitBreached,
	"INS-991":  ErrLimitBreached,
	"INS-992":  ErrLimitBreached,
	"INS-993":  ErrLimitBreached, // organisation count limit, not Mozambique's "Direct Debit Missing"
	"INS-994":  ErrLimitBreached,
	"INS-995":  ErrLimitBreached,
	"INS-996":  ErrLimitBreached, // usage time
	"INS-997":  ErrAPINotEnabled,
	"INS-998":  ErrInvalidMarket,
	"INS-2006": ErrInsufficientBalance,
	"INS-2051": ErrInvalidMSISDN,
}

// openAPIMeaningPerAPI holds the codes a product page gives a meaning of
// its own.
var openAPIMeaningPerAPI = map[API]map[string]error{
	APIDirectDebitCancel: {"INS-6": ErrMandateNotFound}, // "Mandate does not exist"
}

// mozambiqueMeaning is the sentinel each Mozambique code must match, from
// the full table's descriptions.
var mozambiqueMeaning = map[string]error{
	"INS-1":  ErrInternal,
	"INS-2":  ErrUnauthorized, // invalid API key
	"INS-4":  ErrUnauthorized, // user not active
	"INS-5":  ErrCancelledByCustomer,
	"INS-6":  ErrTransactionFailed,
	"INS-9":  ErrPromptTimeout,
	"INS-10": ErrDuplicate,
	"INS-13": ErrInvalidRequest, // shortcode
	"INS-14": ErrInvalidRequest, // reference
	"INS-15": ErrInvalidRequest, // amount
	"INS-16": ErrOverloaded,
	"INS-17": ErrInvalidRequest, // transaction reference
	"INS-18": ErrInvalidRequest, // TransactionID
	"INS-19": ErrInvalidRequest, // ThirdPartyReference
	"INS-20": ErrInvalidRequest, // missing parameters
	"INS-21": ErrInvalidRequest, // parameter validation
	"INS-22": ErrInvalidRequest, // operation type
	// "Unknown Status. Contact M-Pesa Support": the platform could not
	// tell; that is not "not found" (which would let Reconcile conclude
	// the payment was never processed) nor any other sentinel.
	"INS-23":  errNoSentinel,
	"INS-24":  ErrInvalidRequest,  // "Invalid InitiatorIdentifier Used"
	"INS-25":  ErrInvalidRequest,  // "Invalid SecurityCredential Used"
	"INS-26":  ErrUnauthorized,    // "Not authorized", not OpenAPI's currency error
	"INS-993": ErrMandateNotFound, // "Direct Debit Missing"
	// "Direct Debit Already Exists", "Customer's Profile Has Problems",
	// "Customer Account Status Not Active": customer/mandate states no
	// sentinel names.
	"INS-994":  errNoSentinel,
	"INS-995":  errNoSentinel,
	"INS-996":  errNoSentinel,
	"INS-997":  ErrTransactionNotFound, // "Linking Transaction Not Found"
	"INS-998":  ErrInvalidMarket,
	"INS-2001": ErrUnauthorized,   // "Initiator authentication error."
	"INS-2002": ErrInvalidRequest, // "Receiver invalid."
	"INS-2006": ErrInsufficientBalance,
	"INS-2051": ErrInvalidMSISDN,
	"INS-2057": ErrInvalidRequest, // "Language code invalid."
}

// allSentinels lists every sentinel of the package, to check that an error
// matches exactly the expected ones and no other.
var allSentinels = []error{
	ErrUnauthorized, ErrInvalidRequest, ErrInvalidMSISDN, ErrDuplicate, ErrInsufficientBalance,
	ErrPromptTimeout, ErrCancelledByCustomer, ErrTransactionFailed, ErrOverloaded, ErrLimitBreached,
	ErrAPINotEnabled, ErrInvalidMarket, ErrInternal, ErrSessionCreation, ErrTransactionNotFound,
	ErrMandateNotFound, ErrUnexpectedResponse, ErrOutcomeUnknown, ErrNotSupported,
}

// matchedSentinels returns the messages of the sentinels err matches.
func matchedSentinels(err error) []string {
	var out []string
	for _, s := range allSentinels {
		if errors.Is(err, s) {
			out = append(out, s.Error())
		}
	}
	return out
}

// expectedSentinels derives the full set an error must match from the
// code's meaning: a narrow sentinel brings its class (an invalid MSISDN is
// an invalid request), and an internal error on a call that moves money
// leaves its outcome unknown (the doc comment of ErrInternal).
//
// Mozambique's INS-23 "Unknown Status" says nothing of how a payment ended,
// so on a payment it is outcome-unknown too (hardening issue, item 9).
func expectedSentinels(meaning error, code string, payment bool, gw Gateway) []string {
	var out []string
	if meaning != errNoSentinel {
		out = append(out, meaning.Error())
	}
	if meaning == ErrInvalidMSISDN {
		out = append(out, ErrInvalidRequest.Error())
	}
	if payment && (code == "INS-1" || (gw == GatewayMozambique && code == "INS-23")) {
		out = append(out, ErrOutcomeUnknown.Error())
	}
	return out
}

// productCall makes a valid request of api on gateway gw with reference
// ref; the client must come from codesClient.
func productCall(gw Gateway, api API) func(context.Context, *Client, string) (any, error) {
	msisdn := oaMSISDN
	if gw == GatewayMozambique {
		msisdn = mzMSISDN
	}
	switch api {
	case APIC2B:
		return func(ctx context.Context, c *Client, ref string) (any, error) {
			return c.C2B(ctx, C2BRequest{Amount: "10", CustomerMSISDN: msisdn, TransactionReference: "T12344C",
				ThirdPartyConversationID: ref, PurchasedItemsDesc: "Shoes"})
		}
	case APIB2C:
		return func(ctx context.Context, c *Client, ref string) (any, error) {
			return c.B2C(ctx, B2CRequest{Amount: "10", CustomerMSISDN: msisdn, TransactionReference: "T12344C",
				ThirdPartyConversationID: ref, PaymentItemsDesc: "Salary payment"})
		}
	case APIB2B:
		return func(ctx context.Context, c *Client, ref string) (any, error) {
			return c.B2B(ctx, B2BRequest{Amount: "10", ReceiverPartyCode: "979797", TransactionReference: "T12344C",
				ThirdPartyConversationID: ref, PurchasedItemsDesc: "Shoes"})
		}
	case APIReversal:
		return func(ctx context.Context, c *Client, ref string) (any, error) {
			return c.Reversal(ctx, ReversalRequest{TransactionID: "49XCDF6", ThirdPartyConversationID: ref})
		}
	case APITransactionStatus:
		return func(ctx context.Context, c *Client, ref string) (any, error) {
			return c.TransactionStatus(ctx, TransactionStatusRequest{QueryReference: "5C1400CVRO", ThirdPartyConversationID: ref})
		}
	case APIDirectDebitCreate:
		return func(ctx context.Context, c *Client, ref string) (any, error) {
			return c.DirectDebitCreate(ctx, DirectDebitCreateRequest{CustomerMSISDN: msisdn, MandateReference: oaMandate,
				ThirdPartyConversationID: ref, AgreedTC: true})
		}
	case APIDirectDebitPayment:
		return func(ctx context.Context, c *Client, ref string) (any, error) {
			return c.DirectDebitPayment(ctx, DirectDebitPaymentRequest{MsisdnToken: oaToken, MandateReference: oaMandate,
				Amount: "10", ThirdPartyConversationID: ref})
		}
	case APIDirectDebitQuery:
		return func(ctx context.Context, c *Client, ref string) (any, error) {
			return c.DirectDebitQuery(ctx, DirectDebitQueryRequest{MsisdnToken: oaToken, MandateReference: oaMandate,
				ThirdPartyConversationID: ref})
		}
	case APIDirectDebitCancel:
		return func(ctx context.Context, c *Client, ref string) (any, error) {
			return c.DirectDebitCancel(ctx, DirectDebitCancelRequest{CustomerMSISDN: msisdn, MandateReference: oaMandate,
				ThirdPartyConversationID: ref})
		}
	case APIBeneficiaryName:
		return func(ctx context.Context, c *Client, ref string) (any, error) {
			return c.BeneficiaryName(ctx, BeneficiaryNameRequest{CustomerMSISDN: msisdn, ThirdPartyConversationID: ref})
		}
	}
	panic("no call for " + api.String())
}

// codesMaxRetries is the retry budget of the code tests: a retried request
// is seen 1+codesMaxRetries times.
const codesMaxRetries = 2

// codeServer plays a gateway that answers each request with the code its
// reference names, and counts the requests per reference.
type codeServer struct {
	t     *testing.T
	mu    sync.Mutex
	cases map[string]docCode // by reference
	hits  map[string]int
}

func (s *codeServer) handler(w http.ResponseWriter, r *http.Request) {
	params := map[string]string{}
	if r.Method == http.MethodGet {
		for k, v := range r.URL.Query() {
			params[k] = v[0]
		}
	} else {
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &params); err != nil {
			assert.NoError(s.t, err, "body %q", b)
		}
	}
	ref := params["input_ThirdPartyConversationID"]
	if ref == "" {
		ref = params["input_ThirdPartyReference"]
	}
	s.mu.Lock()
	dc, ok := s.cases[ref]
	s.hits[ref]++
	s.mu.Unlock()
	if !assert.True(s.t, ok, "request with unknown reference %q", ref) {
		w.WriteHeader(599)
		return
	}
	// The answer does not echo the reference: the error must carry the
	// caller's own.
	writeJSON(w, dc.status, map[string]string{
		"output_ResponseCode": dc.code, "output_ResponseDesc": dc.desc, "output_ConversationID": "AG_20180206_00005e7dccc6da08efa8",
	})
}

func (s *codeServer) hitsOf(ref string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[ref]
}

// codeRef is the reference of the case answering code with status; it
// fits every reference rule.
func codeRef(dc docCode) string {
	return strings.ReplaceAll(dc.code, "-", "") + "x" + strconv.Itoa(dc.status)
}

// TestResponseCodes is the table test of every documented code of every
// product on both gateways.
func TestResponseCodes(t *testing.T) {
	t.Parallel()
	type product struct {
		gw      Gateway
		api     API
		table   []docCode
		meaning func(code string) (error, bool)
	}
	var products []product
	for api, table := range openAPICodeTables {
		codes := parseCodeTable(table + "\n" + openAPIOverload)
		products = append(products, product{GatewayOpenAPI, api, codes, func(code string) (error, bool) {
			if m, ok := openAPIMeaningPerAPI[api][code]; ok {
				return m, true
			}
			m, ok := openAPIMeaning[code]
			return m, ok
		}})
	}
	for api := APIC2B; api < apiCount; api++ {
		if offeredBy(api, GatewayMozambique) {
			products = append(products, product{GatewayMozambique, api, parseCodeTable(mozambiqueCodeTable), func(code string) (error, bool) {
				m, ok := mozambiqueMeaning[code]
				return m, ok
			}})
		}
	}
	cases := 0
	for _, p := range products {
		t.Run(p.gw.String()+"/"+p.api.String(), func(t *testing.T) {
			t.Parallel()
			srv := &codeServer{t: t, cases: map[string]docCode{}, hits: map[string]int{}}
			for _, dc := range p.table {
				ref := codeRef(dc)
				require.NotContains(t, srv.cases, ref, "a table lists %s with %d twice", dc.code, dc.status)
				srv.cases[ref] = dc
			}
			g := newFakeGateway(t)
			g.mux.HandleFunc(basePath+"/", srv.handler)
			c := wireClient(t, g, p.gw, WithMaxRetries(codesMaxRetries), WithServiceProviderCode("171717"),
				WithInitiator("MPesa2018", "Mpesa2019"))
			call := productCall(p.gw, p.api)
			query := apiMethod(p.api) == http.MethodGet

			for _, dc := range p.table {
				t.Run(fmt.Sprintf("%d_%s", dc.status, dc.code), func(t *testing.T) {
					t.Parallel()
					ref := codeRef(dc)
					res, err := call(context.Background(), c, ref)
					if dc.code == "INS-0" {
						require.NoError(t, err)
						assert.NotNil(t, res)
						assert.Equal(t, 1, srv.hitsOf(ref))
						return
					}
					require.Error(t, err)
					var e *Error
					require.ErrorAs(t, err, &e)
					assert.Equal(t, p.gw, e.Gateway)
					assert.Equal(t, p.api, e.API)
					assert.Equal(t, dc.code, e.Code)
					assert.Equal(t, dc.status, e.HTTPStatus)
					assert.Equal(t, dc.desc, e.Description)
					assert.Equal(t, ref, e.ThirdPartyConversationID, "the caller's reference is in the error")
					assert.Equal(t, "AG_20180206_00005e7dccc6da08efa8", e.ConversationID)

					meaning, ok := p.meaning(dc.code)
					require.True(t, ok, "the test gives no meaning to %s", dc.code)
					want := expectedSentinels(meaning, dc.code, !query, p.gw)
					assert.Empty(t, cmp.Diff(want, matchedSentinels(err), cmpopts.SortSlices(func(a, b string) bool { return a < b }),
						cmpopts.EquateEmpty()), "sentinels matched by %v", err)

					// Only an overloaded gateway (503 INS-16) proves a
					// payment unprocessed; a query may also be repeated
					// after a server error, but not after a 500 whose code
					// names a parameter problem (INS-52, INS-57): the
					// answer would be the same.
					retried := (dc.code == "INS-16" && dc.status == http.StatusServiceUnavailable) ||
						(query && (dc.code == "INS-16" || (dc.status >= 500 && meaning != ErrInvalidRequest)))
					wantHits := 1
					if retried {
						wantHits = 1 + codesMaxRetries
					}
					assert.Equal(t, wantHits, srv.hitsOf(ref), "requests sent for %d %s", dc.status, dc.code)
					assert.Equal(t, retried, e.Retryable(), "Retryable() for %d %s", dc.status, dc.code)
				})
			}
		})
		cases += len(p.table)
	}
	t.Logf("%d products, %d code cases", len(products), cases)
}

// TestCodeMeaningsAreUsed keeps the meaning maps honest: every code they
// give a meaning is listed by some table, and every table's code has one.
func TestCodeMeaningsAreUsed(t *testing.T) {
	t.Parallel()
	listed := map[string]bool{}
	for _, table := range openAPICodeTables {
		for _, dc := range parseCodeTable(table + "\n" + openAPIOverload) {
			listed[dc.code] = true
		}
	}
	for code := range openAPIMeaning {
		assert.True(t, listed[code], "OpenAPI meaning for unlisted %s", code)
	}
	moz := map[string]bool{}
	for _, dc := range parseCodeTable(mozambiqueCodeTable) {
		moz[dc.code] = true
		_, ok := mozambiqueMeaning[dc.code]
		assert.True(t, ok, "no Mozambique meaning for %s", dc.code)
	}
	for code := range mozambiqueMeaning {
		assert.True(t, moz[code], "Mozambique meaning for unlisted %s", code)
	}
}

// TestSessionCreationFailure answers getSession with the portal's 400
// INS-989: the product call fails with ErrSessionCreation, carries its
// reference, and nothing reaches the product endpoint.
func TestSessionCreationFailure(t *testing.T) {
	t.Parallel()
	for _, api := range []API{APIC2B, APITransactionStatus} {
		t.Run(api.String(), func(t *testing.T) {
			t.Parallel()
			g := newFakeGateway(t)
			g.sessionHandler = func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 400, map[string]string{"output_ResponseCode": "INS-989", "output_ResponseDesc": "Session Creation Failed"})
			}
			var productHits sync.Map
			g.mux.HandleFunc(basePath+"/", func(w http.ResponseWriter, r *http.Request) {
				productHits.Store(r.URL.Path, true)
				w.WriteHeader(599)
			})
			c := g.openAPIClient(t, WithMaxRetries(codesMaxRetries), WithServiceProviderCode("ORG001"))
			_, err := productCall(GatewayOpenAPI, api)(context.Background(), c, "SESSION989")
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrSessionCreation)
			assert.NotErrorIs(t, err, ErrOutcomeUnknown, "nothing was sent")
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, api, e.API, "the outer error names the product called")
			assert.Equal(t, "SESSION989", e.ThirdPartyConversationID, "and carries its reference")
			// The gateway's answer to getSession is on the same error.
			assert.Equal(t, "INS-989", e.Code)
			assert.Equal(t, 400, e.HTTPStatus)
			assert.Equal(t, "Session Creation Failed", e.Description)
			assert.Equal(t, 1, strings.Count(err.Error(), "INS-989"), "the code is said once: %v", err)
			assert.Contains(t, err.Error(), "getSession")
			assert.EqualValues(t, 1, g.sessionCalls.Load(), "a 400 from getSession is not retried")
			productHits.Range(func(k, _ any) bool {
				t.Errorf("the product endpoint was called: %v", k)
				return true
			})
		})
	}
}

// TestLookupCodeMatchesTheDocuments compares the public code table
// (LookupCode) with every row of the documents' tables: the status the
// documents pair with the code, its description, and the sentinel its
// meaning calls for.
func TestLookupCodeMatchesTheDocuments(t *testing.T) {
	t.Parallel()
	type row struct {
		gw    Gateway
		api   API
		dc    docCode
		meant error
	}
	var rows []row
	for api, table := range openAPICodeTables {
		for _, dc := range parseCodeTable(table) {
			m, ok := openAPIMeaningPerAPI[api][dc.code]
			if !ok {
				m = openAPIMeaning[dc.code]
			}
			rows = append(rows, row{GatewayOpenAPI, api, dc, m})
		}
	}
	rows = append(rows, row{GatewayOpenAPI, APIGetSession, docCode{400, "INS-989", "Session Creation Failed"}, ErrSessionCreation})
	for api := APIC2B; api < apiCount; api++ {
		if offeredBy(api, GatewayMozambique) {
			for _, dc := range parseCodeTable(mozambiqueCodeTable) {
				rows = append(rows, row{GatewayMozambique, api, dc, mozambiqueMeaning[dc.code]})
			}
		}
	}
	// statuses holds every status a product's table pairs with a code:
	// queryDirectDebit lists INS-54 twice, with 400 and with 401.
	statuses := map[string][]int{}
	for _, r := range rows {
		k := fmt.Sprint(r.gw, r.api, r.dc.code)
		statuses[k] = append(statuses[k], r.dc.status)
	}
	// The documents' own slips: one row's description differs from the
	// same code's text everywhere else. LookupCode keeps the common text.
	slips := map[string]string{
		fmt.Sprint(GatewayOpenAPI, APIDirectDebitCancel, "INS-19"): "Invalid ThirdPartyReference Used", // "Used." with a period
		fmt.Sprint(GatewayOpenAPI, APIBeneficiaryName, "INS-2051"): "MSISDN invalid.",                  // "2051 MSISDN invalid."
	}
	for _, r := range rows {
		name := fmt.Sprintf("%v/%v/%d_%s", r.gw, r.api, r.dc.status, r.dc.code)
		k := fmt.Sprint(r.gw, r.api, r.dc.code)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			info, ok := LookupCode(r.gw, r.api, r.dc.code)
			require.True(t, ok, "LookupCode does not know %s", r.dc.code)
			desc := r.dc.desc
			if s, ok := slips[k]; ok {
				desc = s
			}
			assert.Equal(t, desc, info.Description, "documented description")
			if r.dc.code == "INS-0" && r.dc.status == http.StatusCreated {
				return // TestLookupCodeSuccessStatus
			}
			assert.Contains(t, statuses[k], info.HTTPStatus, "a documented HTTP status")
			if r.dc.code == "INS-0" {
				assert.Nil(t, info.Kind)
				return
			}
			want := r.meant
			if want == errNoSentinel {
				want = nil
			}
			assert.Equal(t, want, info.Kind, "sentinel for %s", r.dc.code)
		})
	}
}

// TestLookupCodeSuccessStatus: the portal pairs INS-0 with 201 on every
// POST and PUT product and with 200 on the GETs. The client accepts any 2xx
// with INS-0 (TestResponseCodes), but LookupCode's HTTPStatus, documented as
// "the status the documents pair with the code", should say so too.
func TestLookupCodeSuccessStatus(t *testing.T) {
	t.Parallel()
	var wrong []string
	for api := APIC2B; api < apiCount; api++ {
		if !offeredBy(api, GatewayOpenAPI) {
			continue
		}
		want := http.StatusOK
		if apiMethod(api) != http.MethodGet {
			want = http.StatusCreated
		}
		info, ok := LookupCode(GatewayOpenAPI, api, "INS-0")
		require.True(t, ok)
		if info.HTTPStatus != want {
			wrong = append(wrong, fmt.Sprintf("%v: %d, documented %d", api, info.HTTPStatus, want))
		}
	}
	assert.Empty(t, wrong, "LookupCode(GatewayOpenAPI, api, \"INS-0\").HTTPStatus differs from the portal")
}
