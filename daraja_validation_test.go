package mpesa

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Validation of every Daraja field before any I/O (docs/gateways.md D6,
// D12–D19, D22, D25, D26): invalid cases name exactly the bad fields and
// send nothing, the token request included; documented edges are accepted
// and sent unchanged.

func validDarajaC2B() C2BRequest {
	return C2BRequest{Amount: "1", CustomerMSISDN: testKenyaMSISDN, TransactionReference: "INV1", ThirdPartyConversationID: "REF1"}
}

func validDarajaB2C() B2CRequest {
	return B2CRequest{Amount: "10", CustomerMSISDN: testKenyaMSISDN, PaymentItemsDesc: "Salary", ThirdPartyConversationID: "REF1"}
}

func validDarajaB2B() B2BRequest {
	return B2BRequest{Amount: "10", ReceiverPartyCode: "600000", TransactionReference: "ACC1", PurchasedItemsDesc: "Stock"}
}

func validDarajaReversal() ReversalRequest {
	return ReversalRequest{TransactionID: "PDU91HIVIT", ReversalAmount: "10"}
}

func validDarajaPullQuery() PullQueryRequest {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return PullQueryRequest{StartDate: start, EndDate: start.Add(time.Hour)}
}

// darajaInvalid is a request the client must refuse before any I/O.
type darajaInvalid struct {
	name   string
	api    API
	opts   []Option
	call   callFunc
	fields []string
	msisdn string // must appear masked only
}

func darajaInvalidCases() []darajaInvalid {
	long := func(n int) string { return strings.Repeat("a", n) }
	var cs []darajaInvalid
	add := func(c ...darajaInvalid) { cs = append(cs, c...) }

	// Amounts: whole shillings, as written, within each product's limits.
	for _, bad := range []string{"", "0", "1.5", "10.00", "010", "-1", "1e3", "1,000", " 10", "１０", "250001", "9999999999"} {
		add(darajaInvalid{name: "c2b amount " + bad, api: APIC2B, fields: []string{"Amount"},
			call: c2bCall(with(validDarajaC2B(), func(r *C2BRequest) { r.Amount = bad }))})
		add(darajaInvalid{name: "b2b amount " + bad, api: APIB2B, fields: []string{"Amount"},
			call: b2bCall(with(validDarajaB2B(), func(r *B2BRequest) { r.Amount = bad }))},
			darajaInvalid{name: "reversal amount " + bad, api: APIReversal, fields: []string{"ReversalAmount"},
				call: reversalCall(with(validDarajaReversal(), func(r *ReversalRequest) { r.ReversalAmount = bad }))},
			darajaInvalid{name: "simulate amount " + bad, api: APIC2BSimulate, fields: []string{"Amount"},
				call: func(ctx context.Context, c *Client) (any, error) {
					return c.SimulateC2B(ctx, SimulateC2BRequest{Amount: bad, MSISDN: testKenyaMSISDN})
				}})
		if bad == "250001" || bad == "9999999999" {
			cs = cs[:len(cs)-3] // no documented maximum for B2B, reversal, simulate
		}
	}
	for _, bad := range []string{"9", "250001", "10.5", ""} {
		add(darajaInvalid{name: "b2c amount " + bad, api: APIB2C, fields: []string{"Amount"},
			call: b2cCall(with(validDarajaB2C(), func(r *B2CRequest) { r.Amount = bad }))})
	}

	// Numbers: 254 and nine digits, masked in the error.
	for _, bad := range []string{"0708374149", "25470837414", "2547083741490", "+254708374149", "255708374149", "254 708374149"} {
		add(darajaInvalid{name: "c2b msisdn " + bad, api: APIC2B, fields: []string{"CustomerMSISDN"}, msisdn: bad,
			call: c2bCall(with(validDarajaC2B(), func(r *C2BRequest) { r.CustomerMSISDN = bad }))},
			darajaInvalid{name: "b2c msisdn " + bad, api: APIB2C, fields: []string{"CustomerMSISDN"}, msisdn: bad,
				call: b2cCall(with(validDarajaB2C(), func(r *B2CRequest) { r.CustomerMSISDN = bad }))},
			darajaInvalid{name: "b2b requester " + bad, api: APIB2B, fields: []string{"Requester"}, msisdn: bad,
				call: b2bCall(with(validDarajaB2B(), func(r *B2BRequest) { r.Requester = bad }))},
			darajaInvalid{name: "simulate msisdn " + bad, api: APIC2BSimulate, fields: []string{"MSISDN"}, msisdn: bad,
				call: func(ctx context.Context, c *Client) (any, error) {
					return c.SimulateC2B(ctx, SimulateC2BRequest{Amount: "1", MSISDN: bad})
				}},
			darajaInvalid{name: "pull nominated number " + bad, api: APIPullRegister, fields: []string{"NominatedNumber"}, msisdn: bad,
				call: func(ctx context.Context, c *Client) (any, error) {
					return c.PullRegister(ctx, PullRegisterRequest{NominatedNumber: bad, CallbackURL: "https://example.com/p"})
				}})
	}

	// Shortcodes: 5 to 7 digits.
	for _, bad := range []string{"1743", "17437912", "ORG001", "174 379"} {
		add(darajaInvalid{name: "c2b shortcode " + bad, api: APIC2B, fields: []string{"ServiceProviderCode"},
			call: c2bCall(with(validDarajaC2B(), func(r *C2BRequest) { r.ServiceProviderCode = bad }))},
			darajaInvalid{name: "c2b till " + bad, api: APIC2B, fields: []string{"TillNumber"},
				call: c2bCall(with(validDarajaC2B(), func(r *C2BRequest) { r.TillNumber = bad }))},
			darajaInvalid{name: "b2c shortcode " + bad, api: APIB2C, fields: []string{"ServiceProviderCode"},
				call: b2cCall(with(validDarajaB2C(), func(r *B2CRequest) { r.ServiceProviderCode = bad }))},
			darajaInvalid{name: "b2b receiver " + bad, api: APIB2B, fields: []string{"ReceiverPartyCode"},
				call: b2bCall(with(validDarajaB2B(), func(r *B2BRequest) { r.ReceiverPartyCode = bad }))},
			darajaInvalid{name: "reversal receiver " + bad, api: APIReversal, fields: []string{"ServiceProviderCode"},
				call: reversalCall(with(validDarajaReversal(), func(r *ReversalRequest) { r.ServiceProviderCode = bad }))},
			darajaInvalid{name: "status party " + bad, api: APITransactionStatus, fields: []string{"ServiceProviderCode"},
				call: statusCall(TransactionStatusRequest{QueryReference: "PDU91HIVIT", ServiceProviderCode: bad})},
			darajaInvalid{name: "stk query shortcode " + bad, api: APISTKQuery, fields: []string{"ServiceProviderCode"},
				call: statusCall(TransactionStatusRequest{QueryReference: "ws_CO_1", ServiceProviderCode: bad})},
			darajaInvalid{name: "balance party " + bad, api: APIAccountBalance, fields: []string{"ServiceProviderCode"},
				call: func(ctx context.Context, c *Client) (any, error) {
					return c.AccountBalance(ctx, AccountBalanceRequest{ServiceProviderCode: bad})
				}},
			darajaInvalid{name: "register shortcode " + bad, api: APIC2BRegister, fields: []string{"ShortCode"},
				call: func(ctx context.Context, c *Client) (any, error) {
					return c.RegisterC2BURLs(ctx, RegisterC2BURLsRequest{ShortCode: bad, ResponseType: "Completed",
						ConfirmationURL: "https://example.com/c", ValidationURL: "https://example.com/v"})
				}},
			darajaInvalid{name: "pull query shortcode " + bad, api: APIPullQuery, fields: []string{"ShortCode"},
				call: func(ctx context.Context, c *Client) (any, error) {
					return c.PullQuery(ctx, with(validDarajaPullQuery(), func(r *PullQueryRequest) { r.ShortCode = bad }))
				}})
	}

	// Lengths of the STK prompt's fields, Remarks and the others.
	add(
		darajaInvalid{name: "c2b account reference empty", api: APIC2B, fields: []string{"TransactionReference"},
			call: c2bCall(with(validDarajaC2B(), func(r *C2BRequest) { r.TransactionReference = "" }))},
		darajaInvalid{name: "c2b account reference 13", api: APIC2B, fields: []string{"TransactionReference"},
			call: c2bCall(with(validDarajaC2B(), func(r *C2BRequest) { r.TransactionReference = long(13) }))},
		darajaInvalid{name: "c2b account reference control", api: APIC2B, fields: []string{"TransactionReference"},
			call: c2bCall(with(validDarajaC2B(), func(r *C2BRequest) { r.TransactionReference = "INV\n1" }))},
		darajaInvalid{name: "c2b transaction desc 14", api: APIC2B, fields: []string{"PurchasedItemsDesc"},
			call: c2bCall(with(validDarajaC2B(), func(r *C2BRequest) { r.PurchasedItemsDesc = long(14) }))},
		darajaInvalid{name: "c2b other market", api: APIC2B, fields: []string{"Country", "Currency"},
			call: c2bCall(with(validDarajaC2B(), func(r *C2BRequest) { r.Country, r.Currency = "TZN", "TZS" }))},
		darajaInvalid{name: "c2b reference control", api: APIC2B, fields: []string{"ThirdPartyConversationID"},
			call: c2bCall(with(validDarajaC2B(), func(r *C2BRequest) { r.ThirdPartyConversationID = "ref\n" }))},
		darajaInvalid{name: "b2c remarks 1", api: APIB2C, fields: []string{"PaymentItemsDesc"},
			call: b2cCall(with(validDarajaB2C(), func(r *B2CRequest) { r.PaymentItemsDesc = "x" }))},
		darajaInvalid{name: "b2c remarks 101", api: APIB2C, fields: []string{"PaymentItemsDesc"},
			call: b2cCall(with(validDarajaB2C(), func(r *B2CRequest) { r.PaymentItemsDesc = long(101) }))},
		darajaInvalid{name: "b2c remarks empty", api: APIB2C, fields: []string{"PaymentItemsDesc"},
			call: b2cCall(with(validDarajaB2C(), func(r *B2CRequest) { r.PaymentItemsDesc = "" }))},
		darajaInvalid{name: "b2c occasion 101", api: APIB2C, fields: []string{"TransactionReference"},
			call: b2cCall(with(validDarajaB2C(), func(r *B2CRequest) { r.TransactionReference = long(101) }))},
		darajaInvalid{name: "b2c command", api: APIB2C, fields: []string{"CommandID"},
			call: b2cCall(with(validDarajaB2C(), func(r *B2CRequest) { r.CommandID = "salarypayment" }))},
		darajaInvalid{name: "b2b command", api: APIB2B, fields: []string{"CommandID"},
			call: b2bCall(with(validDarajaB2B(), func(r *B2BRequest) { r.CommandID = "MerchantToMerchantTransfer" }))},
		darajaInvalid{name: "b2b pay bill without account reference", api: APIB2B, fields: []string{"TransactionReference"},
			call: b2bCall(with(validDarajaB2B(), func(r *B2BRequest) { r.TransactionReference = "" }))},
		darajaInvalid{name: "b2b account reference 14", api: APIB2B, fields: []string{"TransactionReference"},
			call: b2bCall(with(validDarajaB2B(), func(r *B2BRequest) { r.CommandID = "BusinessBuyGoods"; r.TransactionReference = long(14) }))},
		darajaInvalid{name: "b2b remarks 101", api: APIB2B, fields: []string{"PurchasedItemsDesc"},
			call: b2bCall(with(validDarajaB2B(), func(r *B2BRequest) { r.PurchasedItemsDesc = long(101) }))},
		darajaInvalid{name: "reversal remarks 1", api: APIReversal, fields: []string{"Remarks"},
			call: reversalCall(with(validDarajaReversal(), func(r *ReversalRequest) { r.Remarks = "x" }))},
		darajaInvalid{name: "reversal transaction id", api: APIReversal, fields: []string{"TransactionID"},
			call: reversalCall(with(validDarajaReversal(), func(r *ReversalRequest) { r.TransactionID = "PDU-91HIVIT" }))},
		darajaInvalid{name: "reversal with a request initiator", api: APIReversal, fields: []string{"InitiatorIdentifier", "SecurityCredential"},
			call: reversalCall(with(validDarajaReversal(), func(r *ReversalRequest) { r.InitiatorIdentifier, r.SecurityCredential = "x", "y" }))},
		darajaInvalid{name: "status reference with a space", api: APITransactionStatus, fields: []string{"QueryReference"},
			call: statusCall(TransactionStatusRequest{QueryReference: "PDU 91HIVIT"})},
		darajaInvalid{name: "status reference 65", api: APITransactionStatus, fields: []string{"QueryReference"},
			call: statusCall(TransactionStatusRequest{QueryReference: long(65)})},
		darajaInvalid{name: "stk query reference", api: APISTKQuery, fields: []string{"QueryReference"},
			call: statusCall(TransactionStatusRequest{QueryReference: "ws_CO_1 2"})},
		darajaInvalid{name: "balance remarks", api: APIAccountBalance, fields: []string{"Remarks"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.AccountBalance(ctx, AccountBalanceRequest{Remarks: "x"})
			}},
		darajaInvalid{name: "register response type case", api: APIC2BRegister, fields: []string{"ResponseType"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.RegisterC2BURLs(ctx, RegisterC2BURLsRequest{ResponseType: "completed",
					ConfirmationURL: "https://example.com/c", ValidationURL: "https://example.com/v"})
			}},
		darajaInvalid{name: "register empty", api: APIC2BRegister, fields: []string{"ResponseType", "ConfirmationURL", "ValidationURL"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.RegisterC2BURLs(ctx, RegisterC2BURLsRequest{})
			}},
		darajaInvalid{name: "simulate command and bill reference", api: APIC2BSimulate, fields: []string{"CommandID", "BillRefNumber"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.SimulateC2B(ctx, SimulateC2BRequest{Amount: "1", MSISDN: testKenyaMSISDN, CommandID: "CustomerPayBill", BillRefNumber: long(21)})
			}},
		darajaInvalid{name: "pull register callback", api: APIPullRegister, fields: []string{"CallbackURL"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.PullRegister(ctx, PullRegisterRequest{NominatedNumber: "254722000000"})
			}},
		darajaInvalid{name: "pull query without dates, negative offset", api: APIPullQuery, fields: []string{"StartDate", "Offset"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.PullQuery(ctx, PullQueryRequest{Offset: -1})
			}},
		darajaInvalid{name: "pull query end before start", api: APIPullQuery, fields: []string{"EndDate"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.PullQuery(ctx, with(validDarajaPullQuery(), func(r *PullQueryRequest) { r.EndDate = r.StartDate }))
			}},
		darajaInvalid{name: "pull query over 48 hours", api: APIPullQuery, fields: []string{"EndDate"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.PullQuery(ctx, with(validDarajaPullQuery(), func(r *PullQueryRequest) { r.EndDate = r.StartDate.Add(48*time.Hour + time.Second) }))
			}},
	)

	// Callback URLs (docs/gateways.md D26).
	for _, bad := range []string{"ftp://example.com/cb", "https://example.com/mpesa/cb", "https://example.com/M-PESA", "https://safaricom.example.com/cb",
		"https://example.com/cb exe", "https://example.com/a b", "https://example.com/cmd", "https://example.com/sql", "https://example.com/cb?query=1",
		"https://example.com/run.exe", "example.com/cb", "https:///cb", "https://example.com/\tcb"} {
		add(darajaInvalid{name: "c2b callback " + bad, api: APIC2B, fields: []string{"ResultURL"},
			call: c2bCall(with(validDarajaC2B(), func(r *C2BRequest) { r.ResultURL = bad }))},
			darajaInvalid{name: "b2c urls " + bad, api: APIB2C, fields: []string{"ResultURL", "QueueTimeoutURL"},
				call: b2cCall(with(validDarajaB2C(), func(r *B2CRequest) { r.ResultURL, r.QueueTimeoutURL = bad, bad }))},
			darajaInvalid{name: "register urls " + bad, api: APIC2BRegister, fields: []string{"ConfirmationURL", "ValidationURL"},
				call: func(ctx context.Context, c *Client) (any, error) {
					return c.RegisterC2BURLs(ctx, RegisterC2BURLsRequest{ResponseType: "Cancelled", ConfirmationURL: bad, ValidationURL: bad})
				}})
	}
	prod := []Option{WithEnvironment(Production), WithResultURL("https://example.com/r"), WithQueueTimeoutURL("https://example.com/t")}
	for _, bad := range []string{"http://example.com/cb", "https://abc123.ngrok.io/cb", "https://abc.ngrok-free.app/cb", "https://mockbin.org/bin/1", "https://x.requestbin.net/r"} {
		add(darajaInvalid{name: "production callback " + bad, api: APIC2B, opts: prod, fields: []string{"ResultURL"},
			call: c2bCall(with(validDarajaC2B(), func(r *C2BRequest) { r.ResultURL = bad }))})
	}

	// Configuration a product needs.
	add(
		darajaInvalid{name: "c2b without passkey or result URL", api: APIC2B, opts: []Option{withoutDarajaDefaults()},
			fields: []string{"WithPasskey", "ResultURL"}, call: c2bCall(validDarajaC2B())},
		darajaInvalid{name: "b2c without initiator or URLs", api: APIB2C, opts: []Option{withoutDarajaDefaults()},
			fields: []string{"WithInitiator", "ResultURL", "QueueTimeoutURL"}, call: b2cCall(validDarajaB2C())},
		darajaInvalid{name: "status without initiator", api: APITransactionStatus, opts: []Option{withoutDarajaDefaults()},
			fields: []string{"WithInitiator", "ResultURL", "QueueTimeoutURL"}, call: statusCall(TransactionStatusRequest{QueryReference: "PDU91HIVIT"})},
		darajaInvalid{name: "stk query without passkey", api: APISTKQuery, opts: []Option{withoutDarajaDefaults()},
			fields: []string{"WithPasskey"}, call: statusCall(TransactionStatusRequest{QueryReference: "ws_CO_1"})},
	)

	// Empty requests name every required field.
	add(
		darajaInvalid{name: "c2b empty", api: APIC2B, opts: []Option{withoutShortcode()},
			fields: []string{"Amount", "CustomerMSISDN", "ServiceProviderCode", "TransactionReference"}, call: c2bCall(C2BRequest{})},
		darajaInvalid{name: "b2c empty", api: APIB2C, opts: []Option{withoutShortcode()},
			fields: []string{"Amount", "CustomerMSISDN", "ServiceProviderCode", "PaymentItemsDesc"}, call: b2cCall(B2CRequest{})},
		darajaInvalid{name: "b2b empty", api: APIB2B, opts: []Option{withoutShortcode()},
			fields: []string{"Amount", "PrimaryPartyCode", "ReceiverPartyCode", "TransactionReference", "PurchasedItemsDesc"}, call: b2bCall(B2BRequest{})},
		darajaInvalid{name: "reversal empty", api: APIReversal, opts: []Option{withoutShortcode()},
			fields: []string{"TransactionID", "ReversalAmount", "ServiceProviderCode"}, call: reversalCall(ReversalRequest{})},
		darajaInvalid{name: "status empty", api: APITransactionStatus, opts: []Option{withoutShortcode()},
			fields: []string{"QueryReference", "ServiceProviderCode"}, call: statusCall(TransactionStatusRequest{})},
		darajaInvalid{name: "simulate empty", api: APIC2BSimulate, opts: []Option{withoutShortcode()},
			fields: []string{"ShortCode", "Amount", "MSISDN"}, call: func(ctx context.Context, c *Client) (any, error) {
				return c.SimulateC2B(ctx, SimulateC2BRequest{})
			}},
		darajaInvalid{name: "pull register empty", api: APIPullRegister, opts: []Option{withoutShortcode()},
			fields: []string{"ShortCode", "NominatedNumber", "CallbackURL"}, call: func(ctx context.Context, c *Client) (any, error) {
				return c.PullRegister(ctx, PullRegisterRequest{})
			}},
	)
	return cs
}

// withoutDarajaDefaults makes darajaClient's client one without passkey,
// initiator and URLs.
func withoutDarajaDefaults() Option {
	return func(s *settings) error {
		s.passkey, s.initiatorID, s.securityCredential, s.resultURL, s.queueTimeoutURL = "", "", "", "", ""
		return nil
	}
}

func withoutShortcode() Option {
	return func(s *settings) error { s.serviceProviderCode = ""; return nil }
}

// TestDarajaValidationSendsNothing runs every invalid Daraja request.
func TestDarajaValidationSendsNothing(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, tc := range darajaInvalidCases() {
		require.False(t, seen[tc.name], "duplicate case %q", tc.name)
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newDarajaFake()
			c, mt := darajaClient(t, f, tc.opts...)
			res, err := tc.call(context.Background(), c)
			assert.Nil(t, res)
			require.Error(t, err)
			assert.Zero(t, mt.GetTotalCallCount(), "an invalid request sends nothing, not even the token request")
			assert.ErrorIs(t, err, ErrInvalidRequest)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tc.api, ve.API)
			if len(tc.msisdn) > 6 {
				assert.NotContains(t, err.Error(), tc.msisdn, "a number appears unmasked")
			}
			var got []string
			for _, fe := range ve.Fields {
				got = append(got, fe.Field)
			}
			assert.Empty(t, cmp.Diff(tc.fields, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })), "fields named by %v", err)
		})
	}
}

// TestDarajaValidationAcceptsDocumentedEdges sends the values at the edges
// of each rule: accepted, and sent as given.
func TestDarajaValidationAcceptsDocumentedEdges(t *testing.T) {
	t.Parallel()
	ref64 := strings.Repeat("a-_Z", 16)
	tests := []struct {
		name string
		opts []Option
		call callFunc
		want map[string]string
	}{
		{"stk minimum, 2541 number, 12-character reference, 13-character desc, http in the sandbox", nil,
			c2bCall(C2BRequest{Amount: "1", CustomerMSISDN: "254110123456", ServiceProviderCode: "12345", TransactionReference: "Acc 12-34_56",
				PurchasedItemsDesc: "Thirteen char", ResultURL: "http://203.0.113.7:8080/stk/cb"}),
			map[string]string{"Amount": "1", "PartyA": "254110123456", "PhoneNumber": "254110123456", "BusinessShortCode": "12345",
				"PartyB": "12345", "AccountReference": "Acc 12-34_56", "TransactionDesc": "Thirteen char",
				"CallBackURL": "http://203.0.113.7:8080/stk/cb", "TransactionType": "CustomerPayBillOnline"}},
		{"stk maximum to a 7-digit till", nil,
			c2bCall(C2BRequest{Amount: "250000", CustomerMSISDN: "254799999999", TransactionReference: "é€Ω", TillNumber: "1234567"}),
			map[string]string{"Amount": "250000", "PartyB": "1234567", "BusinessShortCode": testShortcode, "AccountReference": "é€Ω",
				"TransactionType": "CustomerBuyGoodsOnline"}},
		{"b2c edges", nil,
			b2cCall(B2CRequest{Amount: "250000", CustomerMSISDN: testKenyaMSISDN, ServiceProviderCode: "6009961", PaymentItemsDesc: "ok",
				TransactionReference: strings.Repeat("o", 100), ThirdPartyConversationID: ref64, CommandID: "PromotionPayment"}),
			map[string]string{"Amount": "250000", "PartyA": "6009961", "Remarks": "ok", "Occassion": strings.Repeat("o", 100),
				"OriginatorConversationID": ref64, "CommandID": "PromotionPayment"}},
		{"b2c minimum and long remarks", nil,
			b2cCall(B2CRequest{Amount: "10", CustomerMSISDN: testKenyaMSISDN, PaymentItemsDesc: strings.Repeat("r", 100), ThirdPartyConversationID: "1"}),
			map[string]string{"Amount": "10", "Remarks": strings.Repeat("r", 100), "OriginatorConversationID": "1", "CommandID": "BusinessPayment"}},
		{"b2b 13-character account, 1-character remarks, top-up", nil,
			b2bCall(B2BRequest{Amount: "1", ReceiverPartyCode: "600000", TransactionReference: strings.Repeat("A", 13), PurchasedItemsDesc: "x",
				CommandID: "BusinessPayToBulk", Requester: "254110000000"}),
			map[string]string{"AccountReference": strings.Repeat("A", 13), "Remarks": "x", "CommandID": "BusinessPayToBulk",
				"Requester": "254110000000", "SenderIdentifierType": "4", "RecieverIdentifierType": "4"}},
		{"reversal 2-character remarks", nil,
			reversalCall(ReversalRequest{TransactionID: "PDU91HIVIT", ReversalAmount: "1", Remarks: "ok"}),
			map[string]string{"Remarks": "ok", "Amount": "1", "ReceiverParty": testShortcode, "RecieverIdentifierType": "11"}},
		{"status by a 64-character reference", nil,
			statusCall(TransactionStatusRequest{QueryReference: ref64}),
			map[string]string{"OriginalConversationID": ref64, "IdentifierType": "4", "CommandID": "TransactionStatusQuery"}},
		{"pull query of exactly 48 hours, offset 100", nil,
			func(ctx context.Context, c *Client) (any, error) {
				start := time.Date(2026, 3, 1, 21, 0, 0, 0, time.UTC)
				return c.PullQuery(ctx, PullQueryRequest{StartDate: start, EndDate: start.Add(48 * time.Hour), Offset: 100})
			},
			map[string]string{"StartDate": "2026-03-02 00:00:00", "EndDate": "2026-03-04 00:00:00", "OffSetValue": "100"}},
		{"register in production", []Option{WithEnvironment(Production)},
			func(ctx context.Context, c *Client) (any, error) {
				return c.RegisterC2BURLs(ctx, RegisterC2BURLsRequest{ResponseType: "Cancelled",
					ConfirmationURL: "https://pay.example.co.ke:8443/c2b/confirm?token=1f2e", ValidationURL: "https://pay.example.co.ke/c2b/validate"})
			},
			map[string]string{"ConfirmationURL": "https://pay.example.co.ke:8443/c2b/confirm?token=1f2e", "ResponseType": "Cancelled"}},
		{"a tunnel is fine in the sandbox", nil,
			c2bCall(with(validDarajaC2B(), func(r *C2BRequest) { r.ResultURL = "https://abc123.ngrok.io/cb" })),
			map[string]string{"CallBackURL": "https://abc123.ngrok.io/cb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newDarajaFake()
			opts := append([]Option{WithResultURL("https://example.com/r"), WithQueueTimeoutURL("https://example.com/t")}, tt.opts...)
			c, _ := darajaClient(t, f, opts...)
			_, err := tt.call(context.Background(), c)
			require.NoError(t, err)
			reqs := f.requests()
			require.Len(t, reqs, 1)
			sent := reqs[0].params(t)
			for k, v := range tt.want {
				assert.Equal(t, v, sent[k], "%s sent unchanged", k)
			}
		})
	}
}

// TestDarajaNotSupported: direct debit and the name query are not Daraja's;
// the Daraja-only products are not the other gateways'; C2B simulation is
// the sandbox's only. Each answers ErrNotSupported before validation and
// without any I/O.
func TestDarajaNotSupported(t *testing.T) {
	t.Parallel()
	onDaraja := map[API]callFunc{
		APIDirectDebitCreate:  ddCreateCall(DirectDebitCreateRequest{ThirdPartyConversationID: "REF1"}),
		APIDirectDebitPayment: ddPaymentCall(DirectDebitPaymentRequest{ThirdPartyConversationID: "REF1"}),
		APIDirectDebitQuery:   ddQueryCall(DirectDebitQueryRequest{ThirdPartyConversationID: "REF1"}),
		APIDirectDebitCancel:  ddCancelCall(DirectDebitCancelRequest{ThirdPartyConversationID: "REF1"}),
		APIBeneficiaryName:    beneficiaryCall(BeneficiaryNameRequest{CustomerMSISDN: testKenyaMSISDN, ThirdPartyConversationID: "REF1"}),
	}
	for api, call := range onDaraja {
		f := newDarajaFake()
		c, mt := darajaClient(t, f)
		_, err := call(context.Background(), c)
		checkNotSupported(t, err, mt, GatewayDaraja, api)
	}
	darajaOnly := map[API]callFunc{
		APIAccountBalance: func(ctx context.Context, c *Client) (any, error) {
			return c.AccountBalance(ctx, AccountBalanceRequest{})
		},
		APIC2BRegister: func(ctx context.Context, c *Client) (any, error) {
			return c.RegisterC2BURLs(ctx, RegisterC2BURLsRequest{})
		},
		APIC2BSimulate:  func(ctx context.Context, c *Client) (any, error) { return c.SimulateC2B(ctx, SimulateC2BRequest{}) },
		APIPullRegister: func(ctx context.Context, c *Client) (any, error) { return c.PullRegister(ctx, PullRegisterRequest{}) },
		APIPullQuery:    func(ctx context.Context, c *Client) (any, error) { return c.PullQuery(ctx, PullQueryRequest{}) },
	}
	for _, gw := range []Gateway{GatewayOpenAPI, GatewayMozambique} {
		for api, call := range darajaOnly {
			c, mt := mockGatewayClient(t, gw, WithServiceProviderCode("171717"))
			_, err := call(context.Background(), c)
			checkNotSupported(t, err, mt, gw, api)
		}
	}
	f := newDarajaFake()
	c, mt := darajaClient(t, f, WithEnvironment(Production), WithResultURL("https://example.com/r"), WithQueueTimeoutURL("https://example.com/t"))
	_, err := c.SimulateC2B(context.Background(), SimulateC2BRequest{Amount: "1", MSISDN: testKenyaMSISDN})
	checkNotSupported(t, err, mt, GatewayDaraja, APIC2BSimulate)
	assert.Equal(t, "", c.endpointURL(APIC2BSimulate), "no simulate endpoint in production")
}

func checkNotSupported(t *testing.T, err error, mt *httpmock.MockTransport, gw Gateway, api API) {
	t.Helper()
	require.ErrorIs(t, err, ErrNotSupported, "%v %v", gw, api)
	assert.NotErrorIs(t, err, ErrInvalidRequest, "not supported comes before validation")
	var e *Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, gw, e.Gateway)
	assert.Equal(t, api, e.API)
	assert.Zero(t, mt.GetTotalCallCount(), "%v %v sends nothing", gw, api)
}

// TestDarajaNewClientReportsEverySetting: every missing or invalid Daraja
// setting is named, all at once, without a secret.
func TestDarajaNewClientReportsEverySetting(t *testing.T) {
	t.Parallel()
	_, err := NewClient("", WithGateway(GatewayDaraja), WithEnvironment(Production), WithMarket(MarketGhana), WithCurrency("TZS"),
		WithServiceProviderCode("12"), WithResultURL("http://example.com/r"), WithQueueTimeoutURL("https://example.com/mpesa"),
		WithC2BVersion(3), WithCertificate("junk"), WithPasskey(""), WithInitiator("", ""))
	require.Error(t, err)
	for _, name := range []string{"consumerKey", "WithConsumerSecret", "WithMarket", "WithCurrency", "WithServiceProviderCode",
		"WithResultURL", "WithQueueTimeoutURL", "WithC2BVersion", "WithCertificate", "WithPasskey", "WithInitiator"} {
		assert.Contains(t, err.Error(), name)
	}
	_, err = NewClient("key:with:colons", WithGateway(GatewayDaraja), WithConsumerSecret(testConsumerSecret))
	assert.ErrorContains(t, err, "consumerKey")

	c, err := NewClient(testConsumerKey, WithGateway(GatewayDaraja), WithConsumerSecret(testConsumerSecret), WithMarket(MarketKenya),
		WithCurrency("KES"))
	require.NoError(t, err)
	assert.Equal(t, MarketKenya, c.Market())
	assert.Equal(t, "KES", c.Currency())
	assert.Equal(t, GatewayDaraja, c.Gateway())
	assert.Equal(t, "daraja", c.Gateway().String())
	assert.Equal(t, "https://sandbox.safaricom.co.ke/mpesa/c2b/v2/registerurl", c.endpointURL(APIC2BRegister))
	assert.Equal(t, "https://sandbox.safaricom.co.ke/oauth/v1/generate", c.endpointURL(APIToken))
	p, err := NewClient(testConsumerKey, WithGateway(GatewayDaraja), WithConsumerSecret(testConsumerSecret), WithEnvironment(Production),
		WithC2BVersion(1))
	require.NoError(t, err)
	assert.Equal(t, "https://api.safaricom.co.ke/mpesa/c2b/v1/registerurl", p.endpointURL(APIC2BRegister))
	assert.Equal(t, "https://api.safaricom.co.ke/mpesa/b2c/v3/paymentrequest", p.endpointURL(APIB2C))

	// Kenya is not an OpenAPI market, and stays out of Markets.
	_, pub := testKey(t)
	_, err = NewClient(testAPIKey, WithMarket(MarketKenya), WithPublicKey(pub))
	assert.ErrorContains(t, err, "GatewayDaraja")
	assert.NotContains(t, Markets(), MarketKenya)
	assert.True(t, MarketKenya.Valid())
	assert.Equal(t, "254", MarketKenya.CallingCode())
	assert.Equal(t, "KES", MarketKenya.Currency())
	assert.Equal(t, 9, MarketKenya.NationalNumberLength())
}

// TestNormalizeMSISDNKenya: 07…, 01…, +254…, 254… become 254 and nine
// digits starting with 7 or 1 (docs/gateways.md X9).
func TestNormalizeMSISDNKenya(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"0712 345 678": "254712345678", "0110 123 456": "254110123456", "+254712345678": "254712345678",
		"254712345678": "254712345678", "00254 112 345 678": "254112345678", "712345678": "254712345678",
		"(0708) 374-149": "254708374149",
	} {
		got, err := NormalizeMSISDN(MarketKenya, in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	for _, bad := range []string{"0812345678", "+255712345678", "071234567", "07123456789", "254812345678", "", "2547123456789"} {
		_, err := NormalizeMSISDN(MarketKenya, bad)
		if assert.ErrorIs(t, err, ErrInvalidMSISDN, bad) && len(bad) > 8 {
			assert.NotContains(t, err.Error(), bad)
		}
	}
}
