package mpesa

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file checks the client's own validation: every documented parameter
// rule refuses a bad value with a *ValidationError that names every bad
// field at once and sends nothing; generated references; and fuzz targets
// that hold the validators to the documents' rules and the encoders to the
// caller's exact values.

// mockGatewayClient returns a client of gw whose requests go to a fresh
// httpmock transport. Without responders every request fails and is
// counted.
func mockGatewayClient(t testing.TB, gw Gateway, opts ...Option) (*Client, *httpmock.MockTransport) {
	t.Helper()
	_, pub := testKey(t)
	mt := httpmock.NewMockTransport()
	base := []Option{WithGateway(gw), WithPublicKey(pub), WithBaseURL(mockBase),
		WithHTTPClient(&http.Client{Transport: mt}), WithRetryBackoff(time.Millisecond, 2*time.Millisecond)}
	if gw == GatewayOpenAPI {
		base = append(base, WithMarket(MarketTanzania))
	}
	c, err := NewClient(testAPIKey, append(base, opts...)...)
	require.NoError(t, err)
	return c, mt
}

// Valid requests, one per product and gateway; the cases below spoil them.
func validC2B(gw Gateway) C2BRequest {
	return C2BRequest{Amount: "10", CustomerMSISDN: msisdnOf(gw), ServiceProviderCode: "171717",
		TransactionReference: "T12344C", ThirdPartyConversationID: "REF1", PurchasedItemsDesc: "Handbag, Black shoes"}
}

func validB2C(gw Gateway) B2CRequest {
	return B2CRequest{Amount: "10", CustomerMSISDN: msisdnOf(gw), ServiceProviderCode: "171717",
		TransactionReference: "T12344C", ThirdPartyConversationID: "REF1", PaymentItemsDesc: "Salary payment"}
}

func validB2B() B2BRequest {
	return B2BRequest{Amount: "10", PrimaryPartyCode: "171717", ReceiverPartyCode: "979797",
		TransactionReference: "T12344C", ThirdPartyConversationID: "REF1", PurchasedItemsDesc: "Shoes"}
}

func validReversal(gw Gateway) ReversalRequest {
	r := ReversalRequest{TransactionID: "49XCDF6", ServiceProviderCode: "171717", ThirdPartyConversationID: "REF1"}
	if gw == GatewayMozambique {
		r.InitiatorIdentifier, r.SecurityCredential = "MPesa2018", "Mpesa2019"
	}
	return r
}

func validStatus() TransactionStatusRequest {
	return TransactionStatusRequest{QueryReference: "5C1400CVRO", ServiceProviderCode: "171717", ThirdPartyConversationID: "REF1"}
}

func validDDCreate() DirectDebitCreateRequest {
	return DirectDebitCreateRequest{CustomerMSISDN: oaMSISDN, ServiceProviderCode: "171717", MandateReference: oaMandate,
		ThirdPartyConversationID: "REF1", AgreedTC: true}
}

func validDDPayment() DirectDebitPaymentRequest {
	return DirectDebitPaymentRequest{CustomerMSISDN: oaMSISDN, MandateReference: oaMandate, Amount: "10",
		ServiceProviderCode: "171717", ThirdPartyConversationID: "REF1"}
}

func validDDQuery() DirectDebitQueryRequest {
	return DirectDebitQueryRequest{CustomerMSISDN: oaMSISDN, MandateReference: oaMandate, ServiceProviderCode: "171717",
		ThirdPartyConversationID: "REF1"}
}

func validDDCancel() DirectDebitCancelRequest {
	return DirectDebitCancelRequest{CustomerMSISDN: oaMSISDN, MandateReference: oaMandate, ServiceProviderCode: "171717",
		ThirdPartyConversationID: "REF1"}
}

func validBeneficiary(gw Gateway) BeneficiaryNameRequest {
	return BeneficiaryNameRequest{CustomerMSISDN: msisdnOf(gw), ServiceProviderCode: "171717", ThirdPartyConversationID: "REF1"}
}

func msisdnOf(gw Gateway) string {
	if gw == GatewayMozambique {
		return mzMSISDN
	}
	return oaMSISDN
}

// callFunc is one product call with its request bound.
type callFunc func(context.Context, *Client) (any, error)

func c2bCall(r C2BRequest) callFunc {
	return func(ctx context.Context, c *Client) (any, error) { return c.C2B(ctx, r) }
}

func b2cCall(r B2CRequest) callFunc {
	return func(ctx context.Context, c *Client) (any, error) { return c.B2C(ctx, r) }
}

func b2bCall(r B2BRequest) callFunc {
	return func(ctx context.Context, c *Client) (any, error) { return c.B2B(ctx, r) }
}

func reversalCall(r ReversalRequest) callFunc {
	return func(ctx context.Context, c *Client) (any, error) { return c.Reversal(ctx, r) }
}

func statusCall(r TransactionStatusRequest) callFunc {
	return func(ctx context.Context, c *Client) (any, error) { return c.TransactionStatus(ctx, r) }
}

func ddCreateCall(r DirectDebitCreateRequest) callFunc {
	return func(ctx context.Context, c *Client) (any, error) { return c.DirectDebitCreate(ctx, r) }
}

func ddPaymentCall(r DirectDebitPaymentRequest) callFunc {
	return func(ctx context.Context, c *Client) (any, error) { return c.DirectDebitPayment(ctx, r) }
}

func ddQueryCall(r DirectDebitQueryRequest) callFunc {
	return func(ctx context.Context, c *Client) (any, error) { return c.DirectDebitQuery(ctx, r) }
}

func ddCancelCall(r DirectDebitCancelRequest) callFunc {
	return func(ctx context.Context, c *Client) (any, error) { return c.DirectDebitCancel(ctx, r) }
}

func beneficiaryCall(r BeneficiaryNameRequest) callFunc {
	return func(ctx context.Context, c *Client) (any, error) { return c.BeneficiaryName(ctx, r) }
}

// with returns v after applying f to it: a spoiled copy of a valid request.
func with[T any](v T, f func(*T)) T {
	f(&v)
	return v
}

// invalidCase is a request the client must refuse before any I/O.
type invalidCase struct {
	name   string
	gw     Gateway
	api    API
	call   callFunc
	fields []string // every field the ValidationError must name
	// msisdn is a customer number that must appear in the error only
	// masked.
	msisdn string
}

var (
	gwOA = GatewayOpenAPI
	gwMZ = GatewayMozambique
)

func invalidCases() []invalidCase {
	long := func(n int) string { return strings.Repeat("a", n) }
	var cs []invalidCase
	add := func(c ...invalidCase) { cs = append(cs, c...) }

	// Amount: ^\d*\.?\d+$ and greater than zero, on every product that
	// takes one.
	for _, bad := range []string{"", "0", "0.00", "-5", "1e3", "1,000", "10.", " 10", "10 ", "abc", ".", "1.2.3", "+10", "１０"} {
		add(
			invalidCase{name: "c2b amount " + bad, gw: gwOA, api: APIC2B, fields: []string{"Amount"},
				call: c2bCall(with(validC2B(gwOA), func(r *C2BRequest) { r.Amount = bad }))},
			invalidCase{name: "c2b amount " + bad, gw: gwMZ, api: APIC2B, fields: []string{"Amount"},
				call: c2bCall(with(validC2B(gwMZ), func(r *C2BRequest) { r.Amount = bad }))},
			invalidCase{name: "b2c amount " + bad, gw: gwOA, api: APIB2C, fields: []string{"Amount"},
				call: b2cCall(with(validB2C(gwOA), func(r *B2CRequest) { r.Amount = bad }))},
			invalidCase{name: "b2b amount " + bad, gw: gwMZ, api: APIB2B, fields: []string{"Amount"},
				call: b2bCall(with(validB2B(), func(r *B2BRequest) { r.Amount = bad }))},
			invalidCase{name: "direct debit payment amount " + bad, gw: gwOA, api: APIDirectDebitPayment, fields: []string{"Amount"},
				call: ddPaymentCall(with(validDDPayment(), func(r *DirectDebitPaymentRequest) { r.Amount = bad }))},
		)
		if bad != "" { // optional there
			add(
				invalidCase{name: "reversal amount " + bad, gw: gwOA, api: APIReversal, fields: []string{"ReversalAmount"},
					call: reversalCall(with(validReversal(gwOA), func(r *ReversalRequest) { r.ReversalAmount = bad }))},
				invalidCase{name: "reversal amount " + bad, gw: gwMZ, api: APIReversal, fields: []string{"ReversalAmount"},
					call: reversalCall(with(validReversal(gwMZ), func(r *ReversalRequest) { r.ReversalAmount = bad }))},
				invalidCase{name: "query balance amount " + bad, gw: gwOA, api: APIDirectDebitQuery, fields: []string{"BalanceAmount"},
					call: ddQueryCall(with(validDDQuery(), func(r *DirectDebitQueryRequest) { r.QueryBalanceAmount = true; r.BalanceAmount = bad }))},
			)
		}
	}

	// MSISDN: 12 to 14 digits on OpenAPI, 258 and nine digits on
	// Mozambique; masked in the error.
	for _, bad := range []string{"25574455311", "255744553111222", "+255744553111", "255 744553111", "25574455311a", "0744553111"} {
		add(
			invalidCase{name: "c2b msisdn " + bad, gw: gwOA, api: APIC2B, fields: []string{"CustomerMSISDN"}, msisdn: bad,
				call: c2bCall(with(validC2B(gwOA), func(r *C2BRequest) { r.CustomerMSISDN = bad }))},
			invalidCase{name: "b2c msisdn " + bad, gw: gwOA, api: APIB2C, fields: []string{"CustomerMSISDN"}, msisdn: bad,
				call: b2cCall(with(validB2C(gwOA), func(r *B2CRequest) { r.CustomerMSISDN = bad }))},
			invalidCase{name: "beneficiary msisdn " + bad, gw: gwOA, api: APIBeneficiaryName, fields: []string{"CustomerMSISDN"}, msisdn: bad,
				call: beneficiaryCall(with(validBeneficiary(gwOA), func(r *BeneficiaryNameRequest) { r.CustomerMSISDN = bad }))},
			invalidCase{name: "direct debit create msisdn " + bad, gw: gwOA, api: APIDirectDebitCreate, fields: []string{"CustomerMSISDN"}, msisdn: bad,
				call: ddCreateCall(with(validDDCreate(), func(r *DirectDebitCreateRequest) { r.CustomerMSISDN = bad }))},
			invalidCase{name: "direct debit payment msisdn " + bad, gw: gwOA, api: APIDirectDebitPayment, fields: []string{"CustomerMSISDN"}, msisdn: bad,
				call: ddPaymentCall(with(validDDPayment(), func(r *DirectDebitPaymentRequest) { r.CustomerMSISDN = bad }))},
			invalidCase{name: "direct debit query msisdn " + bad, gw: gwOA, api: APIDirectDebitQuery, fields: []string{"CustomerMSISDN"}, msisdn: bad,
				call: ddQueryCall(with(validDDQuery(), func(r *DirectDebitQueryRequest) { r.CustomerMSISDN = bad }))},
			invalidCase{name: "direct debit cancel msisdn " + bad, gw: gwOA, api: APIDirectDebitCancel, fields: []string{"CustomerMSISDN"}, msisdn: bad,
				call: ddCancelCall(with(validDDCancel(), func(r *DirectDebitCancelRequest) { r.CustomerMSISDN = bad }))},
		)
	}
	for _, bad := range []string{"255744553111", "25884333033", "2588433303333", "843330333", "258-843330333", "2588433303a3"} {
		add(
			invalidCase{name: "c2b msisdn " + bad, gw: gwMZ, api: APIC2B, fields: []string{"CustomerMSISDN"}, msisdn: bad,
				call: c2bCall(with(validC2B(gwMZ), func(r *C2BRequest) { r.CustomerMSISDN = bad }))},
			invalidCase{name: "b2c msisdn " + bad, gw: gwMZ, api: APIB2C, fields: []string{"CustomerMSISDN"}, msisdn: bad,
				call: b2cCall(with(validB2C(gwMZ), func(r *B2CRequest) { r.CustomerMSISDN = bad }))},
			invalidCase{name: "customer name msisdn " + bad, gw: gwMZ, api: APIBeneficiaryName, fields: []string{"CustomerMSISDN"}, msisdn: bad,
				call: beneficiaryCall(with(validBeneficiary(gwMZ), func(r *BeneficiaryNameRequest) { r.CustomerMSISDN = bad }))},
		)
	}

	// Shortcodes: ^([0-9A-Za-z]{4,12})$ on OpenAPI v2; on Mozambique a
	// plain string (docs/gateways.md M7), refused only when empty, with a
	// control character or not UTF-8.
	shortcodes := map[Gateway][]string{
		gwOA: {"171", "1717171717171", "ORG-01", "ORG 01", "ORG_01", "ÖRG001"},
		gwMZ: {"171\t7", "\xff171717"},
	}
	for gw, bads := range shortcodes {
		for _, bad := range bads {
			add(
				invalidCase{name: "c2b shortcode " + bad, gw: gw, api: APIC2B, fields: []string{"ServiceProviderCode"},
					call: c2bCall(with(validC2B(gw), func(r *C2BRequest) { r.ServiceProviderCode = bad }))},
				invalidCase{name: "b2b primary " + bad, gw: gw, api: APIB2B, fields: []string{"PrimaryPartyCode"},
					call: b2bCall(with(validB2B(), func(r *B2BRequest) { r.PrimaryPartyCode = bad }))},
				invalidCase{name: "b2b receiver " + bad, gw: gw, api: APIB2B, fields: []string{"ReceiverPartyCode"},
					call: b2bCall(with(validB2B(), func(r *B2BRequest) { r.ReceiverPartyCode = bad }))},
				invalidCase{name: "reversal shortcode " + bad, gw: gw, api: APIReversal, fields: []string{"ServiceProviderCode"},
					call: reversalCall(with(validReversal(gw), func(r *ReversalRequest) { r.ServiceProviderCode = bad }))},
				invalidCase{name: "status shortcode " + bad, gw: gw, api: APITransactionStatus, fields: []string{"ServiceProviderCode"},
					call: statusCall(with(validStatus(), func(r *TransactionStatusRequest) { r.ServiceProviderCode = bad }))},
				invalidCase{name: "beneficiary shortcode " + bad, gw: gw, api: APIBeneficiaryName, fields: []string{"ServiceProviderCode"},
					call: beneficiaryCall(with(validBeneficiary(gw), func(r *BeneficiaryNameRequest) { r.ServiceProviderCode = bad }))},
			)
		}
	}
	for _, bad := range shortcodes[gwOA] {
		add(invalidCase{name: "direct debit cancel shortcode " + bad, gw: gwOA, api: APIDirectDebitCancel, fields: []string{"ServiceProviderCode"},
			call: ddCancelCall(with(validDDCancel(), func(r *DirectDebitCancelRequest) { r.ServiceProviderCode = bad }))})
	}

	// TransactionReference ^[0-9a-zA-Z \w+]{1,20}$ on OpenAPI v2; on
	// Mozambique 1 to 20 characters (INS-17).
	transactionRefs := map[Gateway][]string{
		gwOA: {"", long(21), "T-1", "T.1", "T/1", "Tö1", "T\t1"},
		gwMZ: {"", long(21), strings.Repeat("é", 21), "T\t1", "T\xff"},
	}
	for gw, bads := range transactionRefs {
		for _, bad := range bads {
			add(
				invalidCase{name: "c2b transaction reference " + bad, gw: gw, api: APIC2B, fields: []string{"TransactionReference"},
					call: c2bCall(with(validC2B(gw), func(r *C2BRequest) { r.TransactionReference = bad }))},
				invalidCase{name: "b2b transaction reference " + bad, gw: gw, api: APIB2B, fields: []string{"TransactionReference"},
					call: b2bCall(with(validB2B(), func(r *B2BRequest) { r.TransactionReference = bad }))},
			)
		}
	}
	// The reference of a payment on OpenAPI v2: 1 to 32 letters and
	// digits, the widest reference Reconcile can query (QueryReference);
	// of a query: ^[0-9a-zA-Z \w+]{1,40}$. On Mozambique, a plain string.
	paymentRefs := map[Gateway][]string{
		gwOA: {long(33), "ref-1", "ref/1", "réf", "ref\n", "ref=1", "order_2231", "order 2231", "order+2231"},
		gwMZ: {"ref\n", "ref\x00", "r\xffef"},
	}
	for gw, bads := range paymentRefs {
		for _, bad := range bads {
			add(
				invalidCase{name: "c2b reference " + bad, gw: gw, api: APIC2B, fields: []string{"ThirdPartyConversationID"},
					call: c2bCall(with(validC2B(gw), func(r *C2BRequest) { r.ThirdPartyConversationID = bad }))},
				invalidCase{name: "b2c reference " + bad, gw: gw, api: APIB2C, fields: []string{"ThirdPartyConversationID"},
					call: b2cCall(with(validB2C(gw), func(r *B2CRequest) { r.ThirdPartyConversationID = bad }))},
				invalidCase{name: "reversal reference " + bad, gw: gw, api: APIReversal, fields: []string{"ThirdPartyConversationID"},
					call: reversalCall(with(validReversal(gw), func(r *ReversalRequest) { r.ThirdPartyConversationID = bad }))},
			)
		}
	}
	add(invalidCase{name: "direct debit payment reference order_2231", gw: gwOA, api: APIDirectDebitPayment, fields: []string{"ThirdPartyConversationID"},
		call: ddPaymentCall(with(validDDPayment(), func(r *DirectDebitPaymentRequest) { r.ThirdPartyConversationID = "order_2231" }))})
	queryRefs := map[Gateway][]string{
		gwOA: {long(41), "ref-1", "ref/1", "réf", "ref\n", "ref=1"},
		gwMZ: {"ref\n", "r\xffef"},
	}
	for gw, bads := range queryRefs {
		for _, bad := range bads {
			add(
				invalidCase{name: "status reference " + bad, gw: gw, api: APITransactionStatus, fields: []string{"ThirdPartyConversationID"},
					call: statusCall(with(validStatus(), func(r *TransactionStatusRequest) { r.ThirdPartyConversationID = bad }))},
				invalidCase{name: "beneficiary reference " + bad, gw: gw, api: APIBeneficiaryName, fields: []string{"ThirdPartyConversationID"},
					call: beneficiaryCall(with(validBeneficiary(gw), func(r *BeneficiaryNameRequest) { r.ThirdPartyConversationID = bad }))},
			)
		}
	}
	for _, bad := range queryRefs[gwOA] {
		add(
			invalidCase{name: "direct debit create reference " + bad, gw: gwOA, api: APIDirectDebitCreate, fields: []string{"ThirdPartyConversationID"},
				call: ddCreateCall(with(validDDCreate(), func(r *DirectDebitCreateRequest) { r.ThirdPartyConversationID = bad }))},
			invalidCase{name: "direct debit query reference " + bad, gw: gwOA, api: APIDirectDebitQuery, fields: []string{"ThirdPartyConversationID"},
				call: ddQueryCall(with(validDDQuery(), func(r *DirectDebitQueryRequest) { r.ThirdPartyConversationID = bad }))},
		)
	}

	// Country and Currency must be the market's (Tanzania: TZN, TZS):
	// anything else fails at the gateway with INS-21 or INS-26. A currency
	// set with WithCurrency is allowed too (TestConfiguredCurrency).
	for _, bad := range []string{"TZSX", "T1", "T S", "Ŧ", "tzs", "T", "KES", "MZN"} {
		add(
			invalidCase{name: "c2b currency " + bad, gw: gwOA, api: APIC2B, fields: []string{"Currency"},
				call: c2bCall(with(validC2B(gwOA), func(r *C2BRequest) { r.Currency = bad }))},
			invalidCase{name: "b2b currency " + bad, gw: gwOA, api: APIB2B, fields: []string{"Currency"},
				call: b2bCall(with(validB2B(), func(r *B2BRequest) { r.Currency = bad }))},
			invalidCase{name: "direct debit payment currency " + bad, gw: gwOA, api: APIDirectDebitPayment, fields: []string{"Currency"},
				call: ddPaymentCall(with(validDDPayment(), func(r *DirectDebitPaymentRequest) { r.Currency = bad }))},
			invalidCase{name: "direct debit query currency " + bad, gw: gwOA, api: APIDirectDebitQuery, fields: []string{"Currency"},
				call: ddQueryCall(with(validDDQuery(), func(r *DirectDebitQueryRequest) { r.Currency = bad }))},
		)
	}
	for _, bad := range []string{"TZ", "TZNA", "T2N", "tzn", "GHA"} {
		add(
			invalidCase{name: "c2b country " + bad, gw: gwOA, api: APIC2B, fields: []string{"Country"},
				call: c2bCall(with(validC2B(gwOA), func(r *C2BRequest) { r.Country = bad }))},
			invalidCase{name: "reversal country " + bad, gw: gwOA, api: APIReversal, fields: []string{"Country"},
				call: reversalCall(with(validReversal(gwOA), func(r *ReversalRequest) { r.Country = bad }))},
			invalidCase{name: "status country " + bad, gw: gwOA, api: APITransactionStatus, fields: []string{"Country"},
				call: statusCall(with(validStatus(), func(r *TransactionStatusRequest) { r.Country = bad }))},
			invalidCase{name: "direct debit create country " + bad, gw: gwOA, api: APIDirectDebitCreate, fields: []string{"Country"},
				call: ddCreateCall(with(validDDCreate(), func(r *DirectDebitCreateRequest) { r.Country = bad }))},
			invalidCase{name: "direct debit cancel country " + bad, gw: gwOA, api: APIDirectDebitCancel, fields: []string{"Country"},
				call: ddCancelCall(with(validDDCancel(), func(r *DirectDebitCancelRequest) { r.Country = bad }))},
			invalidCase{name: "beneficiary country " + bad, gw: gwOA, api: APIBeneficiaryName, fields: []string{"Country"},
				call: beneficiaryCall(with(validBeneficiary(gwOA), func(r *BeneficiaryNameRequest) { r.Country = bad }))},
		)
	}
	// Mozambique takes neither; one of another market is refused.
	add(
		invalidCase{name: "c2b country TZN", gw: gwMZ, api: APIC2B, fields: []string{"Country"},
			call: c2bCall(with(validC2B(gwMZ), func(r *C2BRequest) { r.Country = "TZN" }))},
		invalidCase{name: "c2b currency TZS", gw: gwMZ, api: APIC2B, fields: []string{"Currency"},
			call: c2bCall(with(validC2B(gwMZ), func(r *C2BRequest) { r.Currency = "TZS" }))},
	)

	// Descriptions: 1 to 256 characters (OpenAPI only).
	for _, bad := range []string{"", strings.Repeat("é", 257), "Shoes\n", "Shoes\x00", "Sho\xffes", "Shoes\u0085"} {
		add(
			invalidCase{name: "c2b description " + bad, gw: gwOA, api: APIC2B, fields: []string{"PurchasedItemsDesc"},
				call: c2bCall(with(validC2B(gwOA), func(r *C2BRequest) { r.PurchasedItemsDesc = bad }))},
			invalidCase{name: "b2c description " + bad, gw: gwOA, api: APIB2C, fields: []string{"PaymentItemsDesc"},
				call: b2cCall(with(validB2C(gwOA), func(r *B2CRequest) { r.PaymentItemsDesc = bad }))},
			invalidCase{name: "b2b description " + bad, gw: gwOA, api: APIB2B, fields: []string{"PurchasedItemsDesc"},
				call: b2bCall(with(validB2B(), func(r *B2BRequest) { r.PurchasedItemsDesc = bad }))},
		)
	}

	// Reversal: TransactionID ^[0-9a-zA-Z]{1,20}$ on OpenAPI v2, a plain
	// string on Mozambique, whose initiator fields are required when the
	// client has no WithInitiator and may hold no control character.
	reversalIDs := map[Gateway][]string{
		gwOA: {"", long(21), "49XC-DF6", "49XC DF6", "49XC_DF6"},
		gwMZ: {"", "49XC\tDF6", "49XC\xff"},
	}
	for gw, bads := range reversalIDs {
		for _, bad := range bads {
			add(invalidCase{name: "reversal transaction id " + bad, gw: gw, api: APIReversal, fields: []string{"TransactionID"},
				call: reversalCall(with(validReversal(gw), func(r *ReversalRequest) { r.TransactionID = bad }))})
		}
	}
	add(
		invalidCase{name: "reversal without initiator", gw: gwMZ, api: APIReversal, fields: []string{"InitiatorIdentifier", "SecurityCredential"},
			call: reversalCall(with(validReversal(gwMZ), func(r *ReversalRequest) { r.InitiatorIdentifier, r.SecurityCredential = "", "" }))},
		invalidCase{name: "reversal initiator with a tab", gw: gwMZ, api: APIReversal, fields: []string{"InitiatorIdentifier", "SecurityCredential"},
			call: reversalCall(with(validReversal(gwMZ), func(r *ReversalRequest) { r.InitiatorIdentifier, r.SecurityCredential = "MPesa\t2018", "Mpesa\x002019" }))},
	)

	// QueryReference: 1 to 32 letters and digits on OpenAPI; on Mozambique
	// a plain string (a conversation ID such as
	// AG_20180206_00005e7dccc6da08efa8, a reference with a dash).
	for _, bad := range []string{"", long(33), "AG_20180206_00005e7dccc6da08efa8", "5C14 00CVRO", "5C14-00CVRO"} {
		add(invalidCase{name: "status query reference " + bad, gw: gwOA, api: APITransactionStatus, fields: []string{"QueryReference"},
			call: statusCall(with(validStatus(), func(r *TransactionStatusRequest) { r.QueryReference = bad }))})
	}
	for _, bad := range []string{"", "5C14\x0000CVRO", "5C14\xff"} {
		add(invalidCase{name: "status query reference " + bad, gw: gwMZ, api: APITransactionStatus, fields: []string{"QueryReference"},
			call: statusCall(with(validStatus(), func(r *TransactionStatusRequest) { r.QueryReference = bad }))})
	}

	// Mandate reference ^[0-9a-zA-Z]{1,32}$, MandateID ^[0-9]{1,12}$,
	// MsisdnToken ^[0-9a-zA-Z \w=]{1,26}$.
	for _, bad := range []string{"", long(33), "Test_123", "Test 123", "Test-123"} {
		add(
			invalidCase{name: "create mandate reference " + bad, gw: gwOA, api: APIDirectDebitCreate, fields: []string{"MandateReference"},
				call: ddCreateCall(with(validDDCreate(), func(r *DirectDebitCreateRequest) { r.MandateReference = bad }))},
			invalidCase{name: "payment mandate reference " + bad, gw: gwOA, api: APIDirectDebitPayment, fields: []string{"MandateReference"},
				call: ddPaymentCall(with(validDDPayment(), func(r *DirectDebitPaymentRequest) { r.MandateReference = bad }))},
			invalidCase{name: "query mandate reference " + bad, gw: gwOA, api: APIDirectDebitQuery, fields: []string{"MandateReference"},
				call: ddQueryCall(with(validDDQuery(), func(r *DirectDebitQueryRequest) { r.MandateReference = bad }))},
			invalidCase{name: "cancel mandate reference " + bad, gw: gwOA, api: APIDirectDebitCancel, fields: []string{"MandateReference"},
				call: ddCancelCall(with(validDDCancel(), func(r *DirectDebitCancelRequest) { r.MandateReference = bad }))},
		)
	}
	for _, bad := range []string{"1234567890123", "15045a", "-15045", "15 045"} {
		add(
			invalidCase{name: "payment mandate id " + bad, gw: gwOA, api: APIDirectDebitPayment, fields: []string{"MandateID"},
				call: ddPaymentCall(with(validDDPayment(), func(r *DirectDebitPaymentRequest) { r.MandateID = bad }))},
			invalidCase{name: "query mandate id " + bad, gw: gwOA, api: APIDirectDebitQuery, fields: []string{"MandateID"},
				call: ddQueryCall(with(validDDQuery(), func(r *DirectDebitQueryRequest) { r.MandateID = bad }))},
			invalidCase{name: "cancel mandate id " + bad, gw: gwOA, api: APIDirectDebitCancel, fields: []string{"MandateID"},
				call: ddCancelCall(with(validDDCancel(), func(r *DirectDebitCancelRequest) { r.MandateID = bad }))},
		)
	}
	for _, bad := range []string{long(27), "cvgw+BZ3l/O9ivwhWAFeng==", "cvgw-BZ3", "tök"} {
		add(
			invalidCase{name: "payment token " + bad, gw: gwOA, api: APIDirectDebitPayment, fields: []string{"MsisdnToken"},
				call: ddPaymentCall(with(validDDPayment(), func(r *DirectDebitPaymentRequest) { r.MsisdnToken = bad }))},
			invalidCase{name: "query token " + bad, gw: gwOA, api: APIDirectDebitQuery, fields: []string{"MsisdnToken"},
				call: ddQueryCall(with(validDDQuery(), func(r *DirectDebitQueryRequest) { r.MsisdnToken = bad }))},
			invalidCase{name: "cancel token only " + bad, gw: gwOA, api: APIDirectDebitCancel, fields: []string{"MsisdnToken"},
				call: ddCancelCall(with(validDDCancel(), func(r *DirectDebitCancelRequest) { r.CustomerMSISDN = ""; r.MsisdnToken = bad }))},
		)
	}

	// MSISDN or MsisdnToken: at least one for payment, query and cancel.
	add(
		invalidCase{name: "payment without msisdn or token", gw: gwOA, api: APIDirectDebitPayment, fields: []string{"CustomerMSISDN"},
			call: ddPaymentCall(with(validDDPayment(), func(r *DirectDebitPaymentRequest) { r.CustomerMSISDN = "" }))},
		invalidCase{name: "query without msisdn or token", gw: gwOA, api: APIDirectDebitQuery, fields: []string{"CustomerMSISDN"},
			call: ddQueryCall(with(validDDQuery(), func(r *DirectDebitQueryRequest) { r.CustomerMSISDN = "" }))},
		invalidCase{name: "cancel without msisdn or token", gw: gwOA, api: APIDirectDebitCancel, fields: []string{"CustomerMSISDN"},
			call: ddCancelCall(with(validDDCancel(), func(r *DirectDebitCancelRequest) { r.CustomerMSISDN = "" }))},
		invalidCase{name: "query balance without amount", gw: gwOA, api: APIDirectDebitQuery, fields: []string{"BalanceAmount"},
			call: ddQueryCall(with(validDDQuery(), func(r *DirectDebitQueryRequest) { r.QueryBalanceAmount = true }))},
		invalidCase{name: "balance amount set but bad without the query", gw: gwOA, api: APIDirectDebitQuery, fields: []string{"BalanceAmount"},
			call: ddQueryCall(with(validDDQuery(), func(r *DirectDebitQueryRequest) { r.BalanceAmount = "abc" }))},
	)

	// Direct debit creation: the frequency rules, real dates, days of the
	// month, expiry not before the first payment.
	dd := func(name string, fields []string, f func(*DirectDebitCreateRequest)) {
		add(invalidCase{name: "create " + name, gw: gwOA, api: APIDirectDebitCreate, fields: fields,
			call: ddCreateCall(with(validDDCreate(), f))})
	}
	for _, bad := range []string{"00", "09", "1", "001", "AB", "0A"} {
		dd("frequency "+bad, []string{"Frequency"}, func(r *DirectDebitCreateRequest) { r.Frequency = Frequency(bad); r.FirstPaymentDate = "20240101" })
	}
	dd("first payment date without frequency", []string{"FirstPaymentDate"}, func(r *DirectDebitCreateRequest) { r.FirstPaymentDate = "20240101" })
	dd("day range without frequency", []string{"StartRangeOfDays", "EndRangeOfDays"}, func(r *DirectDebitCreateRequest) {
		r.StartRangeOfDays, r.EndRangeOfDays = "01", "22"
	})
	dd("end day without frequency", []string{"EndRangeOfDays"}, func(r *DirectDebitCreateRequest) { r.EndRangeOfDays = "22" })
	dd("start day without frequency", []string{"StartRangeOfDays"}, func(r *DirectDebitCreateRequest) { r.StartRangeOfDays = "01" })
	for _, f := range []Frequency{FrequencyOnceOff, FrequencyDaily, FrequencyWeekly, FrequencyOnDemand} {
		dd("frequency "+string(f)+" without first payment date", []string{"FirstPaymentDate"}, func(r *DirectDebitCreateRequest) { r.Frequency = f })
		dd("frequency "+string(f)+" with start day", []string{"StartRangeOfDays"}, func(r *DirectDebitCreateRequest) {
			r.Frequency, r.FirstPaymentDate, r.StartRangeOfDays = f, "20240101", "01"
		})
		dd("frequency "+string(f)+" with end day", []string{"EndRangeOfDays"}, func(r *DirectDebitCreateRequest) {
			r.Frequency, r.FirstPaymentDate, r.EndRangeOfDays = f, "20240101", "22"
		})
	}
	for _, f := range []Frequency{FrequencyMonthly, FrequencyQuarterly, FrequencyHalfYearly, FrequencyYearly} {
		dd("frequency "+string(f)+" without first payment date", []string{"FirstPaymentDate"}, func(r *DirectDebitCreateRequest) {
			r.Frequency, r.StartRangeOfDays, r.EndRangeOfDays = f, "01", "22"
		})
	}
	for _, bad := range []string{"20230230", "20231301", "20230100", "2023-01-01", "2023011", "202301011", "20230a01"} {
		dd("first payment date "+bad, []string{"FirstPaymentDate"}, func(r *DirectDebitCreateRequest) {
			r.Frequency, r.FirstPaymentDate = FrequencyMonthly, bad
		})
		dd("expiry date "+bad, []string{"ExpiryDate"}, func(r *DirectDebitCreateRequest) { r.ExpiryDate = bad })
	}
	dd("expiry before first payment", []string{"ExpiryDate"}, func(r *DirectDebitCreateRequest) {
		r.Frequency, r.FirstPaymentDate, r.ExpiryDate = FrequencyMonthly, "20240301", "20240229"
	})
	for _, bad := range []string{"00", "32", "1", "001", "AB"} {
		dd("start day "+bad, []string{"StartRangeOfDays"}, func(r *DirectDebitCreateRequest) {
			r.Frequency, r.FirstPaymentDate, r.StartRangeOfDays = FrequencyMonthly, "20240101", bad
		})
		dd("end day "+bad, []string{"EndRangeOfDays"}, func(r *DirectDebitCreateRequest) {
			r.Frequency, r.FirstPaymentDate, r.EndRangeOfDays = FrequencyMonthly, "20240101", bad
		})
	}
	dd("start day after end day", []string{"EndRangeOfDays"}, func(r *DirectDebitCreateRequest) {
		r.Frequency, r.FirstPaymentDate, r.StartRangeOfDays, r.EndRangeOfDays = FrequencyMonthly, "20240101", "22", "01"
	})

	// Every bad field at once.
	add(
		invalidCase{name: "c2b empty request", gw: gwOA, api: APIC2B,
			fields: []string{"Amount", "CustomerMSISDN", "ServiceProviderCode", "TransactionReference", "PurchasedItemsDesc"},
			call:   c2bCall(C2BRequest{})},
		invalidCase{name: "c2b empty request", gw: gwMZ, api: APIC2B,
			fields: []string{"Amount", "CustomerMSISDN", "ServiceProviderCode", "TransactionReference"},
			call:   c2bCall(C2BRequest{})},
		invalidCase{name: "c2b everything wrong", gw: gwOA, api: APIC2B, msisdn: "2557445531x",
			fields: []string{"Amount", "CustomerMSISDN", "ServiceProviderCode", "TransactionReference", "ThirdPartyConversationID",
				"PurchasedItemsDesc", "Country", "Currency"},
			call: c2bCall(C2BRequest{Amount: "0", CustomerMSISDN: "2557445531x", ServiceProviderCode: "ab", TransactionReference: "T-1",
				ThirdPartyConversationID: "r/1", PurchasedItemsDesc: "\x00", Country: "T", Currency: "TZSX"})},
		invalidCase{name: "c2b everything wrong", gw: gwMZ, api: APIC2B, msisdn: "2588433303",
			fields: []string{"Amount", "CustomerMSISDN", "ServiceProviderCode", "TransactionReference", "ThirdPartyConversationID"},
			call: c2bCall(C2BRequest{Amount: "0", CustomerMSISDN: "2588433303", ServiceProviderCode: "1\n", TransactionReference: long(21),
				ThirdPartyConversationID: "r\x00"})},
		invalidCase{name: "b2c empty request", gw: gwOA, api: APIB2C,
			fields: []string{"Amount", "CustomerMSISDN", "ServiceProviderCode", "TransactionReference", "PaymentItemsDesc"},
			call:   b2cCall(B2CRequest{})},
		invalidCase{name: "b2b empty request", gw: gwOA, api: APIB2B,
			fields: []string{"Amount", "PrimaryPartyCode", "ReceiverPartyCode", "TransactionReference", "PurchasedItemsDesc"},
			call:   b2bCall(B2BRequest{})},
		invalidCase{name: "b2b empty request", gw: gwMZ, api: APIB2B,
			fields: []string{"Amount", "PrimaryPartyCode", "ReceiverPartyCode", "TransactionReference"},
			call:   b2bCall(B2BRequest{})},
		invalidCase{name: "reversal empty request", gw: gwOA, api: APIReversal, fields: []string{"TransactionID", "ServiceProviderCode"},
			call: reversalCall(ReversalRequest{})},
		invalidCase{name: "reversal empty request", gw: gwMZ, api: APIReversal,
			fields: []string{"TransactionID", "ServiceProviderCode", "InitiatorIdentifier", "SecurityCredential"},
			call:   reversalCall(ReversalRequest{})},
		invalidCase{name: "status empty request", gw: gwOA, api: APITransactionStatus, fields: []string{"QueryReference", "ServiceProviderCode"},
			call: statusCall(TransactionStatusRequest{})},
		invalidCase{name: "status empty request", gw: gwMZ, api: APITransactionStatus, fields: []string{"QueryReference", "ServiceProviderCode"},
			call: statusCall(TransactionStatusRequest{})},
		invalidCase{name: "create empty request", gw: gwOA, api: APIDirectDebitCreate,
			fields: []string{"CustomerMSISDN", "ServiceProviderCode", "MandateReference"},
			call:   ddCreateCall(DirectDebitCreateRequest{})},
		invalidCase{name: "create everything wrong", gw: gwOA, api: APIDirectDebitCreate, msisdn: "25574455311",
			fields: []string{"CustomerMSISDN", "MandateReference", "Frequency", "ExpiryDate", "StartRangeOfDays"},
			call: ddCreateCall(with(validDDCreate(), func(r *DirectDebitCreateRequest) {
				r.CustomerMSISDN, r.MandateReference, r.Frequency, r.FirstPaymentDate = "25574455311", "Test_1", "09", "20240101"
				r.ExpiryDate, r.StartRangeOfDays = "20240230", "32"
			}))},
		invalidCase{name: "payment empty request", gw: gwOA, api: APIDirectDebitPayment,
			fields: []string{"CustomerMSISDN", "MandateReference", "Amount", "ServiceProviderCode"},
			call:   ddPaymentCall(DirectDebitPaymentRequest{})},
		invalidCase{name: "query empty request", gw: gwOA, api: APIDirectDebitQuery,
			fields: []string{"CustomerMSISDN", "MandateReference", "ServiceProviderCode"},
			call:   ddQueryCall(DirectDebitQueryRequest{})},
		invalidCase{name: "cancel empty request", gw: gwOA, api: APIDirectDebitCancel,
			fields: []string{"CustomerMSISDN", "MandateReference", "ServiceProviderCode"},
			call:   ddCancelCall(DirectDebitCancelRequest{})},
		invalidCase{name: "beneficiary empty request", gw: gwOA, api: APIBeneficiaryName, fields: []string{"CustomerMSISDN", "ServiceProviderCode"},
			call: beneficiaryCall(BeneficiaryNameRequest{})},
		invalidCase{name: "customer name empty request", gw: gwMZ, api: APIBeneficiaryName, fields: []string{"CustomerMSISDN", "ServiceProviderCode"},
			call: beneficiaryCall(BeneficiaryNameRequest{})},
	)
	return cs
}

// TestValidationSendsNothing runs every invalid request: each must fail
// with a *ValidationError naming exactly the bad fields, match
// ErrInvalidRequest, show customer numbers only masked, and send nothing,
// getSession included.
func TestValidationSendsNothing(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, tc := range invalidCases() {
		name := tc.gw.String() + "/" + tc.name
		require.False(t, seen[name], "duplicate case %q", name)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, mt := mockGatewayClient(t, tc.gw)
			res, err := tc.call(context.Background(), c)
			assert.Nil(t, res)
			require.Error(t, err)
			assert.Zero(t, mt.GetTotalCallCount(), "an invalid request sends nothing")
			assert.ErrorIs(t, err, ErrInvalidRequest)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			var e *Error
			assert.False(t, errors.As(err, &e), "a validation failure is not a gateway *Error")
			assert.Equal(t, tc.api, ve.API)

			for _, n := range []string{tc.msisdn, oaMSISDN, mzMSISDN} {
				if len(n) > 6 {
					assert.NotContains(t, err.Error(), n, "a customer number appears unmasked")
				}
			}
			for _, f := range ve.Fields {
				if f.Field == "CustomerMSISDN" && tc.msisdn != "" {
					assert.Contains(t, f.Value, "*", "the MSISDN value is masked")
				}
			}

			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Field)
			}
			diff := cmp.Diff(tc.fields, got, cmpopts.SortSlices(func(a, b string) bool { return a < b }))
			assert.Empty(t, diff, "fields named by %v", err)
		})
	}
}

// TestFieldValuesStayValidUTF8: a refused value is shortened for the error;
// the cut must not split a character, or FieldError.Value is no longer
// valid UTF-8 (and a JSON log line would show U+FFFD).
func TestFieldValuesStayValidUTF8(t *testing.T) {
	t.Parallel()
	c, mt := mockGatewayClient(t, gwOA)
	long := strings.Repeat("€", 257) // 771 bytes, one character too many
	_, err := c.C2B(context.Background(), with(validC2B(gwOA), func(r *C2BRequest) { r.PurchasedItemsDesc = long }))
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Fields, 1)
	assert.Zero(t, mt.GetTotalCallCount())
	v := ve.Fields[0].Value
	assert.Less(t, len(v), len(long), "a long value is shortened")
	assert.True(t, utf8.ValidString(v), "the cut splits a character: %q", v)
	assert.True(t, strings.HasPrefix(long, strings.TrimSuffix(v, "…")), "the value is a prefix of the input")
}

// TestRefusedValuesMaskPhoneNumbers: a phone number typed into a field that
// is not a phone number's is masked in the error all the same, on every
// gateway.
func TestRefusedValuesMaskPhoneNumbers(t *testing.T) {
	t.Parallel()
	const phone = "254712345678"
	f := newDarajaFake()
	dj, _ := darajaClient(t, f)
	oa, _ := mockGatewayClient(t, gwOA)
	for name, call := range map[string]func() error{
		"daraja": func() error {
			_, err := dj.C2B(context.Background(), C2BRequest{Amount: "1", CustomerMSISDN: testKenyaMSISDN,
				TransactionReference: "INV1", TillNumber: phone, PurchasedItemsDesc: "Pay " + phone})
			return err
		},
		"openapi": func() error {
			_, err := oa.C2B(context.Background(), with(validC2B(gwOA), func(r *C2BRequest) { r.TransactionReference = "#" + phone }))
			return err
		},
	} {
		err := call()
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, name)
		for _, out := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			assert.NotContains(t, out, phone, name)
			assert.Contains(t, out, "254******678", name)
		}
	}
}

// TestValidationAcceptsDocumentedEdges sends the values at the edges of
// each documented rule: the client must not refuse what the documents
// allow, and must send it unchanged.
func TestValidationAcceptsDocumentedEdges(t *testing.T) {
	t.Parallel()
	ref32 := strings.Repeat("R", 32)
	ref40 := strings.Repeat("R", 38) + "_+"
	tests := []struct {
		name string
		gw   Gateway
		call callFunc
		want map[string]string // parameters that must be sent as given
	}{
		{"c2b edges", gwOA, c2bCall(C2BRequest{Amount: ".5", CustomerMSISDN: "25574455311122", ServiceProviderCode: "ORG1",
			TransactionReference: "T 1_2+3 abcdefghijkl", ThirdPartyConversationID: ref32, PurchasedItemsDesc: strings.Repeat("é", 256),
			Country: "TZN", Currency: "TZS"}),
			map[string]string{"input_Amount": ".5", "input_CustomerMSISDN": "25574455311122", "input_ServiceProviderCode": "ORG1",
				"input_TransactionReference": "T 1_2+3 abcdefghijkl", "input_ThirdPartyConversationID": ref32,
				"input_PurchasedItemsDesc": strings.Repeat("é", 256), "input_Country": "TZN", "input_Currency": "TZS"}},
		{"status query's own reference: 40 characters with '_' and '+'", gwOA, statusCall(TransactionStatusRequest{QueryReference: "5C1400CVRO",
			ServiceProviderCode: "ORG001", ThirdPartyConversationID: ref40}),
			map[string]string{"input_ThirdPartyConversationID": ref40}},
		// The Mozambique documents give these fields as plain strings
		// (docs/gateways.md M7): OpenAPI's formats do not apply.
		{"mozambique c2b plain-string references", gwMZ, c2bCall(C2BRequest{Amount: "10", CustomerMSISDN: mzMSISDN, ServiceProviderCode: "MZ-171_717",
			TransactionReference: "INV-2026-01", ThirdPartyConversationID: strings.Repeat("é", 41)}),
			map[string]string{"input_TransactionReference": "INV-2026-01", "input_ThirdPartyReference": strings.Repeat("é", 41),
				"input_ServiceProviderCode": "MZ-171_717"}},
		{"mozambique status by reference with a dash", gwMZ, statusCall(TransactionStatusRequest{QueryReference: "INV-2026-01",
			ServiceProviderCode: "171717", ThirdPartyConversationID: "Q-1"}),
			map[string]string{"input_QueryReference": "INV-2026-01", "input_ThirdPartyReference": "Q-1"}},
		{"mozambique reversal of an id with a dash", gwMZ, reversalCall(ReversalRequest{TransactionID: "49XC-DF6", ServiceProviderCode: "171717",
			ThirdPartyConversationID: "REV-1", InitiatorIdentifier: "MPesa2018", SecurityCredential: "Mpesa2019"}),
			map[string]string{"input_TransactionID": "49XC-DF6"}},
		{"b2c twelve digits, one-character description", gwOA, b2cCall(B2CRequest{Amount: "0.01", CustomerMSISDN: "000000000001",
			ServiceProviderCode: "ORG001ORG001", TransactionReference: "T", ThirdPartyConversationID: "r", PaymentItemsDesc: "x"}),
			map[string]string{"input_Amount": "0.01", "input_CustomerMSISDN": "000000000001", "input_ServiceProviderCode": "ORG001ORG001",
				"input_TransactionReference": "T", "input_ThirdPartyConversationID": "r", "input_PaymentItemsDesc": "x", "input_Currency": "TZS"}},
		{"mozambique c2b ignores descriptions", gwMZ, c2bCall(C2BRequest{Amount: "10", CustomerMSISDN: mzMSISDN, ServiceProviderCode: "171717",
			TransactionReference: "T12344C", ThirdPartyConversationID: "PFW5PS"}),
			map[string]string{"input_ThirdPartyReference": "PFW5PS"}},
		{"reversal 20-character id", gwOA, reversalCall(ReversalRequest{TransactionID: strings.Repeat("9", 20), ReversalAmount: "007.50",
			ServiceProviderCode: "ORG001", ThirdPartyConversationID: "REF1"}),
			map[string]string{"input_TransactionID": strings.Repeat("9", 20), "input_ReversalAmount": "007.50"}},
		{"status 32-character reference", gwOA, statusCall(TransactionStatusRequest{QueryReference: strings.Repeat("Z", 32),
			ServiceProviderCode: "ORG001", ThirdPartyConversationID: "REF1"}),
			map[string]string{"input_QueryReference": strings.Repeat("Z", 32)}},
		{"mozambique status by conversation id", gwMZ, statusCall(TransactionStatusRequest{QueryReference: mzConvSync,
			ServiceProviderCode: "171717", ThirdPartyConversationID: "11114 x+y"}),
			map[string]string{"input_QueryReference": mzConvSync, "input_ThirdPartyReference": "11114 x+y"}},
		{"create monthly with day range and expiry on first payment", gwOA, ddCreateCall(DirectDebitCreateRequest{CustomerMSISDN: oaMSISDN,
			ServiceProviderCode: "ORG001", MandateReference: strings.Repeat("M", 32), ThirdPartyConversationID: "REF1", AgreedTC: true,
			Frequency: FrequencyMonthly, FirstPaymentDate: "20240229", ExpiryDate: "20240229", StartRangeOfDays: "31", EndRangeOfDays: "31"}),
			map[string]string{"input_FirstPaymentDate": "20240229", "input_ExpiryDate": "20240229", "input_StartRangeOfDays": "31",
				"input_EndRangeOfDays": "31", "input_Frequency": "04", "input_ThirdPartyReference": strings.Repeat("M", 32)}},
		{"create on demand without expiry", gwOA, ddCreateCall(DirectDebitCreateRequest{CustomerMSISDN: oaMSISDN, ServiceProviderCode: "ORG001",
			MandateReference: "3333", ThirdPartyConversationID: "REF1", Frequency: FrequencyOnDemand, FirstPaymentDate: "20240101"}),
			map[string]string{"input_Frequency": "08", "input_FirstPaymentDate": "20240101", "input_AgreedTC": "0"}},
		{"create without frequency but with expiry", gwOA, ddCreateCall(DirectDebitCreateRequest{CustomerMSISDN: oaMSISDN,
			ServiceProviderCode: "ORG001", MandateReference: "3333", ThirdPartyConversationID: "REF1", ExpiryDate: "20190410"}),
			map[string]string{"input_ExpiryDate": "20190410"}},
		{"payment by token only, 26 characters", gwOA, ddPaymentCall(DirectDebitPaymentRequest{MsisdnToken: strings.Repeat("a", 22) + "_ ==",
			MandateReference: "Test123", MandateID: "123456789012", Amount: "1", ServiceProviderCode: "ORG001", ThirdPartyConversationID: "REF1"}),
			map[string]string{"input_MsisdnToken": strings.Repeat("a", 22) + "_ ==", "input_MandateID": "123456789012"}},
		{"query by token with balance", gwOA, ddQueryCall(DirectDebitQueryRequest{MsisdnToken: oaToken, MandateReference: "Test123",
			QueryBalanceAmount: true, BalanceAmount: "200", ServiceProviderCode: "ORG001", ThirdPartyConversationID: "REF1"}),
			map[string]string{"input_MsisdnToken": oaToken, "input_QueryBalanceAmount": "True", "input_BalanceAmount": "200"}},
		{"cancel with msisdn and token", gwOA, ddCancelCall(DirectDebitCancelRequest{CustomerMSISDN: oaMSISDN, MsisdnToken: oaToken,
			MandateReference: "Test123", MandateID: "1", ServiceProviderCode: "ORG001", ThirdPartyConversationID: "REF1"}),
			map[string]string{"input_CustomerMSISDN": oaMSISDN, "input_MsisdnToken": oaToken, "input_MandateID": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.gw.String()+"/"+tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &mockRecorder{}
			c := recordingClient(t, tt.gw, rec)
			_, err := tt.call(context.Background(), c)
			require.NoError(t, err)
			reqs := rec.requests()
			require.Len(t, reqs, 1)
			sent := reqs[0].params(t)
			for k, v := range tt.want {
				assert.Equal(t, v, sent[k], "%s sent unchanged", k)
			}
		})
	}
}

// TestDirectDebitOnMozambiqueIsNotSupported: the Mozambique gateway has no
// direct debit; every such call fails with ErrNotSupported before any I/O
// and before validation.
func TestDirectDebitOnMozambiqueIsNotSupported(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		api  API
		call callFunc
	}{
		"create":          {APIDirectDebitCreate, ddCreateCall(with(validDDCreate(), func(r *DirectDebitCreateRequest) { r.CustomerMSISDN = mzMSISDN }))},
		"create invalid":  {APIDirectDebitCreate, ddCreateCall(DirectDebitCreateRequest{ThirdPartyConversationID: "REF1"})},
		"payment":         {APIDirectDebitPayment, ddPaymentCall(with(validDDPayment(), func(r *DirectDebitPaymentRequest) { r.CustomerMSISDN = mzMSISDN }))},
		"payment invalid": {APIDirectDebitPayment, ddPaymentCall(DirectDebitPaymentRequest{ThirdPartyConversationID: "REF1"})},
		"query":           {APIDirectDebitQuery, ddQueryCall(with(validDDQuery(), func(r *DirectDebitQueryRequest) { r.CustomerMSISDN = mzMSISDN }))},
		"query invalid":   {APIDirectDebitQuery, ddQueryCall(DirectDebitQueryRequest{ThirdPartyConversationID: "REF1"})},
		"cancel":          {APIDirectDebitCancel, ddCancelCall(with(validDDCancel(), func(r *DirectDebitCancelRequest) { r.CustomerMSISDN = mzMSISDN }))},
		"cancel invalid":  {APIDirectDebitCancel, ddCancelCall(DirectDebitCancelRequest{ThirdPartyConversationID: "REF1"})},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, mt := mockGatewayClient(t, gwMZ, WithServiceProviderCode("171717"))
			res, err := tt.call(context.Background(), c)
			assert.Nil(t, res)
			require.ErrorIs(t, err, ErrNotSupported)
			assert.NotErrorIs(t, err, ErrInvalidRequest, "not supported comes before validation")
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.api, e.API)
			assert.Equal(t, GatewayMozambique, e.Gateway)
			assert.Equal(t, "REF1", e.ThirdPartyConversationID)
			assert.Zero(t, mt.GetTotalCallCount())
		})
	}
}

// mockRecorder answers product requests on an httpmock transport, in turn
// with steps (the last repeating; by default the documented success) and
// records them.
type mockRecorder struct {
	mu    sync.Mutex
	reqs  []mockRequest
	steps []httpmock.Responder
}

type mockRequest struct {
	method, path, rawQuery string
	body                   []byte
}

// params returns the parameters of a request, from its query (GET) or its
// JSON body.
func (r mockRequest) params(t testing.TB) map[string]string {
	t.Helper()
	if r.method == http.MethodGet {
		q, err := url.ParseQuery(r.rawQuery)
		require.NoError(t, err)
		m := map[string]string{}
		for k, v := range q {
			require.Len(t, v, 1, "parameter %s sent once", k)
			m[k] = v[0]
		}
		return m
	}
	m, err := decodeFlatJSON(r.body)
	require.NoError(t, err, "body %q", r.body)
	return m
}

func (rec *mockRecorder) responder(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, mockRequest{method: req.Method, path: req.URL.Path, rawQuery: req.URL.RawQuery, body: body})
	n := len(rec.reqs)
	var step httpmock.Responder
	if len(rec.steps) > 0 {
		step = rec.steps[min(n, len(rec.steps))-1]
	}
	rec.mu.Unlock()
	if step != nil {
		return step(req)
	}
	status := 201
	if req.Method == http.MethodGet {
		status = 200
	}
	return httpmock.NewStringResponse(status, `{"output_ResponseCode":"INS-0","output_ResponseDesc":"Request processed successfully","output_ConversationID":"conv1","output_TransactionID":"tx1"}`), nil
}

func (rec *mockRecorder) requests() []mockRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.reqs)
}

func (rec *mockRecorder) reset() {
	rec.mu.Lock()
	rec.reqs = nil
	rec.mu.Unlock()
}

// recordingClient returns a client of gw whose product requests rec
// answers; on OpenAPI getSession hands out a session.
func recordingClient(t testing.TB, gw Gateway, rec *mockRecorder, opts ...Option) *Client {
	t.Helper()
	c, mt := mockGatewayClient(t, gw, opts...)
	if gw == GatewayOpenAPI {
		mt.RegisterResponder(http.MethodGet, mockBase+openAPIPrefix+"getSession/", httpmock.NewStringResponder(200,
			`{"output_ResponseCode":"INS-0","output_ResponseDesc":"Request processed successfully","output_SessionID":"`+wireSessionID+`"}`))
	}
	mt.RegisterNoResponder(rec.responder)
	return c
}

// referenceRule is the documents' ThirdPartyConversationID rule.
var referenceRule = regexp.MustCompile(`^[0-9a-zA-Z \w+]{1,40}$`)

// responseReference returns the ThirdPartyConversationID of any product's
// answer.
func responseReference(t *testing.T, res any) string {
	t.Helper()
	switch r := res.(type) {
	case *PaymentResponse:
		return r.ThirdPartyConversationID
	case *TransactionStatusResponse:
		return r.ThirdPartyConversationID
	case *DirectDebitCreateResponse:
		return r.ThirdPartyConversationID
	case *DirectDebitPaymentResponse:
		return r.ThirdPartyConversationID
	case *DirectDebitQueryResponse:
		return r.ThirdPartyConversationID
	case *DirectDebitCancelResponse:
		return r.ThirdPartyConversationID
	case *BeneficiaryNameResponse:
		return r.ThirdPartyConversationID
	}
	t.Fatalf("unknown response type %T", res)
	return ""
}

// sentReference returns the per-request reference a request carried.
func sentReference(t *testing.T, gw Gateway, r mockRequest) string {
	t.Helper()
	p := r.params(t)
	if gw == GatewayMozambique {
		return p["input_ThirdPartyReference"]
	}
	return p["input_ThirdPartyConversationID"]
}

// TestGeneratedReferences: a request without a reference gets one that
// fits the documents' rule, different for each call, returned in the
// answer and in every error, and identical in a resent request.
func TestGeneratedReferences(t *testing.T) {
	t.Parallel()
	for _, gw := range []Gateway{gwOA, gwMZ} {
		for api := APIC2B; api < apiCount; api++ {
			if !offeredBy(api, gw) {
				continue
			}
			call := productCall(gw, api)
			query := apiMethod(api) == http.MethodGet
			t.Run(gw.String()+"/"+api.String(), func(t *testing.T) {
				t.Parallel()
				opts := []Option{WithServiceProviderCode("171717"), WithInitiator("MPesa2018", "Mpesa2019"), WithMaxRetries(2)}

				// Success, twice: each call a reference of its own, and
				// the answer, which does not echo it, reports it.
				rec := &mockRecorder{}
				c := recordingClient(t, gw, rec, opts...)
				var refs []string
				for i := 0; i < 2; i++ {
					res, err := call(context.Background(), c, "")
					require.NoError(t, err)
					reqs := rec.requests()
					require.Len(t, reqs, i+1)
					ref := sentReference(t, gw, reqs[i])
					assert.Regexp(t, referenceRule, ref)
					assert.Equal(t, ref, responseReference(t, res), "the answer reports the generated reference")
					refs = append(refs, ref)
				}
				assert.NotEqual(t, refs[0], refs[1], "every call has a reference of its own")

				// A refusal: the error carries the generated reference.
				recErr := &mockRecorder{steps: []httpmock.Responder{httpmock.NewStringResponder(409,
					`{"output_ResponseCode":"INS-10","output_ResponseDesc":"Duplicate Transaction","output_TransactionID":"N/A"}`)}}
				cErr := recordingClient(t, gw, recErr, opts...)
				_, err := call(context.Background(), cErr, "")
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.ErrorIs(t, err, ErrDuplicate)
				reqs := recErr.requests()
				require.Len(t, reqs, 1)
				assert.Equal(t, sentReference(t, gw, reqs[0]), e.ThirdPartyConversationID, "the error carries the generated reference")

				// Overloaded, then accepted: the resend is byte-identical.
				status := 201
				if query {
					status = 200
				}
				recRetry := &mockRecorder{steps: []httpmock.Responder{
					httpmock.NewStringResponder(503, `{"output_ResponseCode":"INS-16","output_ResponseDesc":"Unable to handle the request due to a temporary overloading"}`),
					httpmock.NewStringResponder(status, `{"output_ResponseCode":"INS-0","output_ResponseDesc":"Request processed successfully","output_ConversationID":"c"}`),
				}}
				cRetry := recordingClient(t, gw, recRetry, opts...)
				res, err := call(context.Background(), cRetry, "")
				require.NoError(t, err)
				reqs = recRetry.requests()
				require.Len(t, reqs, 2, "503 INS-16 is sent again once")
				assert.Equal(t, reqs[0].body, reqs[1].body, "byte-identical body")
				assert.Equal(t, reqs[0].rawQuery, reqs[1].rawQuery, "identical query")
				assert.Equal(t, sentReference(t, gw, reqs[0]), responseReference(t, res))
			})
		}
	}
}
