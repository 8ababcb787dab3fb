package mpesa

import (
	"bytes"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Daraja callbacks of the portal pages and the 2017 summary, and the
// variations Daraja is known to send (docs/gateways.md D8, D13, D20, D21).

// darajaFixtureMode is the URL a fixture is posted to: the queue-timeout
// notices and the C2B validations have no shape of their own.
func darajaFixtureMode(name string) darajaMode {
	switch {
	case strings.HasPrefix(name, "queue_timeout"):
		return darajaQueueTimeout
	case strings.HasSuffix(name, "_validation.json"):
		return darajaValidation
	}
	return darajaResults
}

// darajaFixture reads a fixture of testdata/callbacks/daraja.
func darajaFixture(t testing.TB, name string) []byte { return whFixture(t, "daraja/"+name) }

func rp(kv ...string) ResultParameters {
	out := make(ResultParameters, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, ResultParameter{kv[i], kv[i+1]})
	}
	return out
}

const (
	b2cConv = "AG_20240706_2010364430d9bbdaf872"
	b2cOrig = "53e3-4aa8-9fe0-8fb5e4092cdd3533373"
)

// darajaFixtures maps every Daraja fixture to the Result it decodes into.
var darajaFixtures = map[string]*Result{
	"stk_success.json": {
		Gateway: GatewayDaraja, API: APIC2B, Callback: CallbackSTK,
		OriginalConversationID: "ws_CO_191220191020363925", CheckoutRequestID: "ws_CO_191220191020363925",
		MerchantRequestID: "29115-34620561-1", ResultCode: "0", ResultDesc: "The service request is processed successfully.",
		TransactionID: "NLJ7RT61SV", Amount: "1.00", TransactionDate: "20191219102115", PhoneNumber: "254708374149",
		Parameters: rp("Amount", "1.00", "MpesaReceiptNumber", "NLJ7RT61SV", "TransactionDate", "20191219102115",
			"PhoneNumber", "254708374149"),
	},
	// The 2017 sample: the items come in another order, with a Balance
	// item that has no Value.
	"stk_balance_without_value.json": {
		Gateway: GatewayDaraja, API: APIC2B, Callback: CallbackSTK,
		OriginalConversationID: "ws_CO_27072017154747416", CheckoutRequestID: "ws_CO_27072017154747416",
		MerchantRequestID: "19465-780693-1", ResultCode: "0", ResultDesc: "The service request is processed successfully.",
		TransactionID: "LGR7OWQX0R", Amount: "1", TransactionDate: "20170727154800", PhoneNumber: "254721566839",
		Parameters: rp("Amount", "1", "MpesaReceiptNumber", "LGR7OWQX0R", "Balance", "", "TransactionDate", "20170727154800",
			"PhoneNumber", "254721566839"),
	},
	// A failure has no CallbackMetadata.
	"stk_cancelled.json": {
		Gateway: GatewayDaraja, API: APIC2B, Callback: CallbackSTK,
		OriginalConversationID: "ws_CO_21072024125243250722943992", CheckoutRequestID: "ws_CO_21072024125243250722943992",
		MerchantRequestID: "f1e2-4b95-a71d-b30d3cdbb7a7942864", ResultCode: "1032", ResultDesc: "Request cancelled by user",
	},
	"b2c_success.json": {
		Gateway: GatewayDaraja, API: APIB2C,
		OriginalConversationID: b2cConv, ThirdPartyConversationID: b2cOrig, OriginatorConversationID: b2cOrig,
		TransactionID: "SG632NMUAB", ResultType: "0", ResultCode: "0", ResultDesc: "The service request is processed successfully.",
		Amount: "10",
		Parameters: rp("TransactionAmount", "10", "TransactionReceipt", "SG632NMUAB",
			"ReceiverPartyPublicName", "254705912645 - NICHOLAS JOHN SONGOK", "TransactionCompletedDateTime", "06.07.2024 22:48:52",
			"B2CUtilityAccountAvailableFunds", "8959269.60", "B2CWorkingAccountAvailableFunds", "1199371.00",
			"B2CRecipientIsRegisteredCustomer", "Y", "B2CChargesPaidAccountAvailableFunds", "-1980.00"),
		ReferenceData: rp("QueueTimeoutURL", "https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit"),
	},
	// A failure has no ResultParameters.
	"b2c_failure.json": {
		Gateway:                GatewayDaraja,
		OriginalConversationID: "AG_20240707_201062f6f6f5804f7a33", ThirdPartyConversationID: "53e3-4aa8-9fe0-8fb5e4092cdd3544366",
		OriginatorConversationID: "53e3-4aa8-9fe0-8fb5e4092cdd3544366", TransactionID: "SG722NMVXQ",
		ResultType: "0", ResultCode: "2001", ResultDesc: "The initiator information is invalid.",
		ReferenceData: rp("QueueTimeoutURL", "https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit"),
	},
	// ReferenceItem is a list here, with an item without a Value.
	"b2b_success.json": {
		Gateway:                GatewayDaraja,
		OriginalConversationID: "AG_20170727_00006baee344f4ce0796", ThirdPartyConversationID: "8551-61996-3",
		OriginatorConversationID: "8551-61996-3", TransactionID: "LGR519G2QV",
		ResultType: "0", ResultCode: "0", ResultDesc: "The service request has been accepted successfully.", Amount: "10",
		Parameters: rp("InitiatorAccountCurrentBalance", "{ Amount={BasicAmount=46713.00, MinimumAmount=4671300, CurrencyCode=KES}}",
			"DebitAccountCurrentBalance", "{Amount={BasicAmount=46713.00, MinimumAmount=4671300, CurrencyCode=KES}}",
			"Amount", "10", "DebitPartyAffectedAccountBalance", "Working Account|KES|46713.00|46713.00|0.00|0.00",
			"TransCompletedTime", "20170727102524", "DebitPartyCharges", "Business Pay Bill Charge|KES|77.00",
			"ReceiverPartyPublicName", "603094 - Safaricom3117", "Currency", "KES"),
		ReferenceData: rp("BillReferenceNumber", "aaa",
			"QueueTimeoutURL", "https://internalsandbox.safaricom.co.ke/mpesa/b2bresults/v1/submit", "Occasion", ""),
	},
	"reversal_success.json": {
		Gateway: GatewayDaraja, API: APIReversal,
		OriginalConversationID: "AG_20211114_201018edbbf9f1582eaa", ThirdPartyConversationID: "dad6-4c34-8787-c8cb963a496d1268232",
		OriginatorConversationID: "dad6-4c34-8787-c8cb963a496d1268232", TransactionID: "SKE52PAWR9",
		ResultType: "0", ResultCode: "0", ResultDesc: "The service request is processed successfully.", Amount: "1.00",
		Parameters: rp("DebitAccountBalance", "Utility Account|KES|7722179.62|7722179.62|0.00|0.00", "Amount", "1.00",
			"TransCompletedTime", "20211114132711", "OriginalTransactionID", "SKC82PACB8", "Charge", "0.00",
			"CreditPartyPublicName", "254705912645 - NICHOLAS JOHN SONGOK", "DebitPartyPublicName", "600992 - Safaricom Daraja 992"),
		ReferenceData: rp("QueueTimeoutURL", "https://internalsandbox.safaricom.co.ke/mpesa/reversalresults/v1/submit"),
	},
	// An alphanumeric code, and the placeholder TransactionID.
	"reversal_invalid.json": {
		Gateway: GatewayDaraja, API: APIReversal,
		OriginalConversationID: "AG_20211114_2010573069aefb6b625a", ThirdPartyConversationID: "3124-481d-b706-10bdd6fbc8e21792398",
		OriginatorConversationID: "3124-481d-b706-10bdd6fbc8e21792398", TransactionID: "SKE0000000",
		ResultType: "0", ResultCode: "R000002", ResultDesc: "The OriginalTransactionID is invalid.",
		ReferenceData: rp("QueueTimeoutURL", "https://internalsandbox.safaricom.co.ke/mpesa/reversalresults/v1/submit"),
	},
	// DebitPartyName twice, and TransactionReason without a Value.
	"transaction_status.json": {
		Gateway: GatewayDaraja, API: APITransactionStatus,
		OriginalConversationID: "AG_20180223_0000493344ae97d86f75", ThirdPartyConversationID: "3213-416199-2",
		OriginatorConversationID: "3213-416199-2", TransactionID: "MBN0000000",
		ResultType: "0", ResultCode: "0", ResultDesc: "The service request is processed successfully.", Amount: "300",
		Parameters: rp("DebitPartyName", "600310 - Safaricom333", "DebitPartyName", "254708374149 - John Doe",
			"OriginatorConversationID", "3211-416020-3", "InitiatedTime", "20180223054112", "DebitAccountType", "Utility Account",
			"DebitPartyCharges", "Fee For B2C Payment|KES|22.40", "TransactionReason", "",
			"ReasonType", "Business Payment to Customer via API", "TransactionStatus", "Completed",
			"FinalisedTime", "20180223054112", "Amount", "300", "ConversationID", "AG_20180223_000041b09c22e613d6c9",
			"ReceiptNo", "MBN31H462N"),
		ReferenceData: rp("Occasion", ""),
	},
	// The 2017 sample spells two keys with spaces.
	"transaction_status_2017.json": {
		Gateway: GatewayDaraja, API: APITransactionStatus,
		OriginalConversationID: "AG_20170727_000059c52529a8e080bd", ThirdPartyConversationID: "10816-694520-2",
		OriginatorConversationID: "10816-694520-2", TransactionID: "LGR0000000",
		ResultType: "0", ResultCode: "0", ResultDesc: "The service request has been accepted successfully.", Amount: "10",
		Parameters: rp("ReceiptNo", "LGR919G2AV", "Conversation ID", "AG_20170727_00004492b1b6d0078fbe",
			"FinalizedTime", "20170727101415", "Amount", "10", "TransactionStatus", "Completed", "ReasonType", "Salary Payment via API",
			"TransactionReason", "", "DebitPartyCharges", "Fee For B2C Payment|KES|33.00", "DebitAccountType", "Utility Account",
			"InitiatedTime", "20170727101415", "Originator Conversation ID", "19455-773836-1",
			"CreditPartyName", "254708374149 - John Doe", "DebitPartyName", "600134 - Safaricom157"),
		ReferenceData: rp("Occasion", "aaaa"),
	},
	// ResultType and ResultCode as strings.
	"account_balance.json": {
		Gateway: GatewayDaraja, API: APIAccountBalance,
		OriginalConversationID: "AG_20200206_00005e091a8ec6b9eac5", ThirdPartyConversationID: "16917-22577599-3",
		OriginatorConversationID: "16917-22577599-3", TransactionID: "OA90000000",
		ResultType: "0", ResultCode: "0", ResultDesc: "The service request is processed successfully",
		Parameters: rp("AccountBalance", "Working Account|KES|700000.00|700000.00|0.00|0.00&Float Account|KES|0.00|0.00|0.00|0.00&Utility Account|KES|228037.00|228037.00|0.00|0.00&Charges Paid Account|KES|-1540.00|-1540.00|0.00|0.00&Organization Settlement Account|KES|0.00|0.00|0.00|0.00",
			"BOCompletedTime", "20200109125710"),
		ReferenceData: rp("QueueTimeoutURL", "https://internalsandbox.safaricom.co.ke/mpesa/abresults/v1/submit"),
	},
	// ResultParameter as one object (a production balance callback,
	// newtonmunene99/mpesa-api#12), ResultCode as a string.
	"account_balance_single_parameter.json": {
		Gateway:                GatewayDaraja,
		OriginalConversationID: "AG_20200520_000060a5a0b1b2c3d4e5", ThirdPartyConversationID: "14379-2913957-1",
		OriginatorConversationID: "14379-2913957-1", TransactionID: "OEK0000000",
		ResultType: "0", ResultCode: "0", ResultDesc: "The service request is processed successfully.",
		Parameters:    rp("BOCompletedTime", "20200520182215"),
		ReferenceData: rp("QueueTimeoutURL", "https://internalsandbox.safaricom.co.ke/mpesa/abresults/v1/submit"),
	},
	// No documented shape: an envelope, or the IDs at the top level.
	"queue_timeout_envelope.json": {
		Gateway: GatewayDaraja, Callback: CallbackQueueTimeout,
		OriginalConversationID: b2cConv, ThirdPartyConversationID: b2cOrig, OriginatorConversationID: b2cOrig,
		ResultType: "0", ResultCode: "1", ResultDesc: "The request timed out while waiting in the queue.",
	},
	"queue_timeout_flat.json": {
		Gateway: GatewayDaraja, Callback: CallbackQueueTimeout,
		OriginalConversationID: b2cConv, ThirdPartyConversationID: b2cOrig, OriginatorConversationID: b2cOrig,
	},
	// C2B v2: the MSISDN masked, the names minimised.
	"c2b_v2_validation.json": {
		Gateway: GatewayDaraja, API: APIC2B, Callback: CallbackC2BValidation,
		OriginalConversationID: "RKL51ZDR4F", TransactionID: "RKL51ZDR4F", TransactionType: "Pay Bill",
		TransactionDate: "20231121121325", Amount: "5.00", ServiceProviderCode: "600966", TransactionReference: "Sample Transaction",
		MSISDN: "2547 ***** 126", CustomerFirstName: "NICHOLAS",
	},
	"c2b_v2_confirmation.json": {
		Gateway: GatewayDaraja, API: APIC2B, Callback: CallbackC2BConfirmation, ResultCode: "0",
		OriginalConversationID: "RKL51ZDR4F", TransactionID: "RKL51ZDR4F", ThirdPartyConversationID: "ORDER-7731",
		TransactionType: "Pay Bill", TransactionDate: "20231121121325", Amount: "5.00", ServiceProviderCode: "600966",
		TransactionReference: "Sample Transaction", OrgAccountBalance: "25.00", MSISDN: "2547 ***** 126", CustomerFirstName: "NICHOLAS",
	},
	// C2B v1: the MSISDN hashed.
	"c2b_v1_validation.json": {
		Gateway: GatewayDaraja, API: APIC2B, Callback: CallbackC2BValidation,
		OriginalConversationID: "RKTQDM7W6S", TransactionID: "RKTQDM7W6S", TransactionType: "Pay Bill",
		TransactionDate: "20191122063845", Amount: "10", ServiceProviderCode: "600638", TransactionReference: "invoice008",
		MSISDN: "94c2c311d522da950619227b3361752a42042db7e1e699b26e628305c68a88", CustomerFirstName: "John", CustomerLastName: "Doe",
	},
	"c2b_v1_confirmation.json": {
		Gateway: GatewayDaraja, API: APIC2B, Callback: CallbackC2BConfirmation, ResultCode: "0",
		OriginalConversationID: "RKTQDM7W6S", TransactionID: "RKTQDM7W6S", TransactionType: "Buy Goods",
		TransactionDate: "20191122063845", Amount: "10", ServiceProviderCode: "600638", OrgAccountBalance: "49197.00",
		MSISDN: "94c2c311d522da950619227b3361752a42042db7e1e699b26e628305c68a88", CustomerFirstName: "John", CustomerLastName: "Doe",
	},
}

func TestDarajaDocumentedCallbacks(t *testing.T) {
	t.Parallel()
	for name, want := range darajaFixtures {
		t.Run(name, func(t *testing.T) {
			got, err := parseDaraja(darajaFixture(t, name), darajaFixtureMode(name))
			require.NoError(t, err)
			if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("mismatch (-want +got):\n%s", d)
			}
			if darajaFixtureMode(name) == darajaResults {
				pub, err := ParseDarajaResult(darajaFixture(t, name))
				require.NoError(t, err)
				assert.Equal(t, got, pub)
			}
		})
	}
}

// TestDarajaEveryFixtureIsChecked keeps a new Daraja fixture from going
// untested, and every shape and variation of the issue from going without a
// fixture.
func TestDarajaEveryFixtureIsChecked(t *testing.T) {
	t.Parallel()
	var found []string
	dir := filepath.Join("testdata", "callbacks", "daraja")
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			found = append(found, d.Name())
		}
		return err
	}))
	assert.Len(t, found, len(darajaFixtures))
	for _, f := range found {
		assert.Contains(t, darajaFixtures, f)
	}
	for _, f := range []string{"stk_success.json", "stk_cancelled.json", "stk_balance_without_value.json", "b2c_success.json",
		"b2c_failure.json", "b2b_success.json", "reversal_invalid.json", "transaction_status.json",
		"account_balance_single_parameter.json", "queue_timeout_envelope.json", "queue_timeout_flat.json",
		"c2b_v1_validation.json", "c2b_v1_confirmation.json", "c2b_v2_validation.json", "c2b_v2_confirmation.json"} {
		assert.Contains(t, darajaFixtures, f)
	}
}

func TestDarajaCallbackVariations(t *testing.T) {
	t.Parallel()
	env := func(inner string) string {
		return `{"Result":{"ConversationID":"AG_1","OriginatorConversationID":"O-1","TransactionID":"LKX1234567",` + inner + `}}`
	}
	tests := []struct {
		name string
		body string
		mode darajaMode
		want func(r *Result)
	}{
		{name: "ResultCode as a number", body: env(`"ResultCode":0`), want: func(r *Result) { r.ResultCode = "0" }},
		{name: "ResultCode as a string", body: env(`"ResultCode":"0"`), want: func(r *Result) { r.ResultCode = "0" }},
		{name: "ResultCode alphanumeric", body: env(`"ResultCode":"SFC_IC0003"`), want: func(r *Result) { r.ResultCode = "SFC_IC0003" }},
		{name: "ResultType as a string", body: env(`"ResultType":"1"`), want: func(r *Result) { r.ResultType = "1" }},
		{name: "ResultParameter as one object", body: env(`"ResultParameters":{"ResultParameter":{"Key":"Amount","Value":5}}`),
			want: func(r *Result) { r.Parameters, r.Amount = rp("Amount", "5"), "5" }},
		{name: "ResultParameters as a bare list", body: env(`"ResultParameters":[{"Key":"A","Value":"1"}]`),
			want: func(r *Result) { r.Parameters = rp("A", "1") }},
		{name: "null lists", body: env(`"ResultParameters":null,"ReferenceData":{"ReferenceItem":null}`), want: func(*Result) {}},
		{name: "an empty list", body: env(`"ResultParameters":{"ResultParameter":[]}`), want: func(*Result) {}},
		{name: "ReferenceItem as a list", body: env(`"ReferenceData":{"ReferenceItem":[{"Key":"A","Value":"1"},{"Key":"B"}]}`),
			want: func(r *Result) { r.ReferenceData = rp("A", "1", "B", "") }},
		{name: "Value missing, null, a boolean, an object", body: env(`"ResultParameters":{"ResultParameter":[{"Key":"A"},{"Key":"B","Value":null},{"Key":"C","Value":true},{"Key":"D","Value":{"x":[1]}}]}`),
			want: func(r *Result) { r.Parameters = rp("A", "", "B", "", "C", "true", "D", `{"x":[1]}`) }},
		{name: "a Value that repeats a documented name", body: env(`"ResultParameters":{"ResultParameter":[{"Key":"Amount","Value":"1"},{"Key":"Amount","Value":"2"}]}`),
			want: func(r *Result) { r.Parameters, r.Amount = rp("Amount", "1", "Amount", "2"), "1" }},
		{name: "TransactionAmount before Amount", body: env(`"ResultParameters":{"ResultParameter":[{"Key":"Amount","Value":"1"},{"Key":"TransactionAmount","Value":"2"}]}`),
			want: func(r *Result) { r.Parameters, r.Amount = rp("Amount", "1", "TransactionAmount", "2"), "2" }},
		{name: "unknown members keep their path", body: `{"Result":{"ConversationID":"AG_1","OriginatorConversationID":"O-1","TransactionID":"LKX1234567","Extra":"e","ResultParameters":{"ResultParameter":[{"Key":"A","Value":"1","Unit":"KES"}],"More":1}},"Top":null}`,
			want: func(r *Result) {
				r.Parameters = rp("A", "1")
				r.Extra = map[string]string{"Result.Extra": "e", "Result.ResultParameters.ResultParameter[0].Unit": "KES",
					"Result.ResultParameters.More": "1", "Top": ""}
			}},
		{name: "keys match exactly", body: `{"Result":{"ConversationID":"AG_1","OriginatorConversationID":"O-1","TransactionID":"LKX1234567","ResultCode":"2001","resultcode":"0","RESULTCODE":"0"}}`,
			want: func(r *Result) {
				r.ResultCode = "2001"
				r.Extra = map[string]string{"Result.resultcode": "0", "Result.RESULTCODE": "0"}
			}},
		{name: "the C2B fields beside an envelope are kept as unknown", body: `{"Result":{"ConversationID":"AG_1","OriginatorConversationID":"O-1","TransactionID":"LKX1234567"},"MSISDN":"254708374149"}`,
			want: func(r *Result) { r.Extra = map[string]string{"MSISDN": "254708374149"} }},
		{name: "only an OriginatorConversationID", body: `{"Result":{"OriginatorConversationID":"O-1","TransactionID":"LKX1234567"}}`,
			want: func(r *Result) { r.OriginalConversationID = "O-1" }},
		{name: "escapes and non-ASCII", body: env(`"ResultDesc":"Imeshindwa \"kabisa\" \u00e9"`),
			want: func(r *Result) { r.ResultDesc = `Imeshindwa "kabisa" é` }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := &Result{Gateway: GatewayDaraja, OriginalConversationID: "AG_1", ThirdPartyConversationID: "O-1",
				OriginatorConversationID: "O-1", TransactionID: "LKX1234567"}
			tt.want(want)
			got, err := parseDaraja([]byte(tt.body), tt.mode)
			require.NoError(t, err)
			if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestDarajaSTKVariations(t *testing.T) {
	t.Parallel()
	stk := func(inner string) []byte {
		return []byte(`{"Body":{"stkCallback":{"MerchantRequestID":"M-1","CheckoutRequestID":"ws_CO_1","ResultCode":0,` + inner + `}}}`)
	}
	// One item as a bare object, CallbackMetadata null, unknown items kept.
	r, err := ParseDarajaResult(stk(`"CallbackMetadata":{"Item":{"Name":"MpesaReceiptNumber","Value":"LGR7OWQX0R"}}`))
	require.NoError(t, err)
	assert.Equal(t, "LGR7OWQX0R", r.TransactionID)
	r, err = ParseDarajaResult(stk(`"CallbackMetadata":null`))
	require.NoError(t, err)
	assert.Empty(t, r.Parameters)
	r, err = ParseDarajaResult(stk(`"CallbackMetadata":{"Item":[{"Name":"Balance"},{"Name":"Balance","Value":"1"},{"Name":"Foo","Value":"x","Extra":1}]}`))
	require.NoError(t, err)
	assert.Equal(t, rp("Balance", "", "Balance", "1", "Foo", "x"), r.Parameters)
	assert.Equal(t, map[string]string{"Body.stkCallback.CallbackMetadata.Item[2].Extra": "1"}, r.Extra)
	assert.Empty(t, r.TransactionID, "no receipt item, no receipt")
	// ResultCode as a string.
	r, err = ParseDarajaResult([]byte(`{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":"1037"}}}`))
	require.NoError(t, err)
	assert.ErrorIs(t, r.Err(), ErrPromptTimeout)
}

func TestDarajaMalformedCallbacks(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"not JSON":                      `Result=1`,
		"truncated":                     `{"Result":{"ConversationID":"AG_1"}`,
		"an array":                      `[{"Result":{}}]`,
		"Result twice":                  `{"Result":{"ConversationID":"AG_1"},"Result":{"ConversationID":"AG_2"}}`,
		"ResultCode twice":              `{"Result":{"ConversationID":"AG_1","ResultCode":"2001","ResultCode":"0"}}`,
		"a parameter's Key twice":       `{"Result":{"ConversationID":"AG_1","ResultParameters":{"ResultParameter":[{"Key":"A","Key":"B"}]}}}`,
		"a parameter's Value twice":     `{"Result":{"ConversationID":"AG_1","ResultParameters":{"ResultParameter":[{"Key":"A","Value":"1","Value":"2"}]}}}`,
		"ResultParameter twice":         `{"Result":{"ConversationID":"AG_1","ResultParameters":{"ResultParameter":[],"ResultParameter":[]}}}`,
		"Result is a string":            `{"Result":"{\"ConversationID\":\"AG_1\"}"}`,
		"Result is null":                `{"Result":null}`,
		"a parameter is a string":       `{"Result":{"ConversationID":"AG_1","ResultParameters":{"ResultParameter":["A"]}}}`,
		"ResultParameters is a string":  `{"Result":{"ConversationID":"AG_1","ResultParameters":"[]"}}`,
		"no IDs":                        `{"Result":{"ResultCode":0,"TransactionID":"LKX1234567"}}`,
		"two shapes":                    `{"Result":{"ConversationID":"AG_1"},"TransID":"LKX1234567"}`,
		"STK without CheckoutRequestID": `{"Body":{"stkCallback":{"MerchantRequestID":"M-1","ResultCode":0}}}`,
		"Body without stkCallback":      `{"Body":{"other":{}}}`,
		"stkCallback twice":             `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1"},"stkCallback":{"CheckoutRequestID":"ws_CO_2"}}}`,
		"two receipts":                  `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":0,"CallbackMetadata":{"Item":[{"Name":"MpesaReceiptNumber","Value":"A"},{"Name":"MpesaReceiptNumber","Value":"B"}]}}}}`,
		"two amounts":                   `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":0,"CallbackMetadata":{"Item":[{"Name":"Amount","Value":1},{"Name":"Amount","Value":1000}]}}}}`,
		"CallbackMetadata is a list":    `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","CallbackMetadata":[]}}}`,
		"C2B without TransID":           `{"TransID":"","TransAmount":"10"}`,
		"TransID twice":                 `{"TransID":"A","TransID":"B"}`,
		"TransAmount twice":             `{"TransID":"A","TransAmount":"1","TransAmount":"1000"}`,
	} {
		t.Run(name, func(t *testing.T) {
			res, err := ParseDarajaResult([]byte(body))
			assert.Nil(t, res)
			assert.ErrorIs(t, err, ErrMalformedResult)
		})
	}
	// A body of another shape is not Daraja's: a Handler without
	// HandlerGateway tries the next gateway.
	_, err := ParseDarajaResult([]byte(`{"input_OriginalConversationID":"x"}`))
	assert.ErrorIs(t, err, errNotThisGateway)
	// The queue-timeout notice needs an ID, the validation a TransID.
	_, err = parseDaraja([]byte(`{"Foo":"bar"}`), darajaQueueTimeout)
	assert.ErrorIs(t, err, ErrMalformedResult)
	_, err = parseDaraja(darajaFixture(t, "b2c_success.json"), darajaValidation)
	assert.ErrorIs(t, err, ErrMalformedResult)
}

func TestDarajaResultAccessors(t *testing.T) {
	t.Parallel()
	parse := func(name string) *Result {
		r, err := parseDaraja(darajaFixture(t, name), darajaFixtureMode(name))
		require.NoError(t, err)
		return r
	}
	b2c := parse("b2c_success.json")
	assert.Equal(t, "SG632NMUAB", b2c.Receipt())
	assert.Equal(t, "254705912645 - NICHOLAS JOHN SONGOK", b2c.PublicName())
	at, ok := b2c.CompletedAt()
	require.True(t, ok)
	assert.Equal(t, time.Date(2024, 7, 6, 19, 48, 52, 0, time.UTC), at.UTC(), "read in EAT")
	assert.Equal(t, TransactionStatus(""), b2c.TransactionStatus())
	v, ok := b2c.Parameter("B2CUtilityAccountAvailableFunds")
	assert.True(t, ok)
	assert.Equal(t, "8959269.60", v, "the JSON spelling, not a float")
	_, ok = b2c.Parameter("b2cutilityaccountavailablefunds")
	assert.False(t, ok, "keys match exactly")

	st := parse("transaction_status.json")
	assert.Equal(t, StatusCompleted, st.TransactionStatus())
	assert.Equal(t, "MBN31H462N", st.Receipt(), "the queried transaction's receipt, not the placeholder")
	assert.Equal(t, []string{"600310 - Safaricom333", "254708374149 - John Doe"}, st.ParameterValues("DebitPartyName"))
	at, ok = st.CompletedAt()
	require.True(t, ok)
	assert.Equal(t, "2018-02-23 05:41:12 +0300 EAT", at.String())

	rev := parse("reversal_success.json")
	assert.Equal(t, "254705912645 - NICHOLAS JOHN SONGOK", rev.PublicName())
	at, _ = rev.CompletedAt()
	assert.Equal(t, "2021-11-14 13:27:11 +0300 EAT", at.String())
	assert.Empty(t, parse("reversal_invalid.json").Receipt(), "SKE0000000 is a placeholder")

	bal := parse("account_balance.json")
	accounts := bal.Balances()
	require.Len(t, accounts, 5)
	assert.Equal(t, BalanceAccount{Name: "Utility Account", Currency: "KES", Available: "228037.00",
		Amounts: []string{"228037.00", "228037.00", "0.00", "0.00"}, Raw: "Utility Account|KES|228037.00|228037.00|0.00|0.00"}, accounts[2])
	assert.Equal(t, "-1540.00", accounts[3].Available)
	assert.Empty(t, parse("account_balance_single_parameter.json").Balances())
	odd := &Result{Parameters: rp("AccountBalance", "Working Account|KES|1.00&garbled")}
	assert.Equal(t, []BalanceAccount{{Raw: "Working Account|KES|1.00"}, {Raw: "garbled"}}, odd.Balances(), "unknown layouts are kept raw")

	stk := parse("stk_success.json")
	assert.Equal(t, "NLJ7RT61SV", stk.Receipt())
	at, _ = stk.CompletedAt()
	assert.Equal(t, "2019-12-19 10:21:15 +0300 EAT", at.String())
	c2b := parse("c2b_v2_confirmation.json")
	assert.Equal(t, "RKL51ZDR4F", c2b.Receipt())
	_, ok = (&Result{TransactionDate: "yesterday"}).CompletedAt()
	assert.False(t, ok)
}

func TestDarajaResultErr(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]error{
		"stk_success.json":            nil,
		"stk_cancelled.json":          ErrCancelledByCustomer,
		"b2c_success.json":            nil,
		"b2c_failure.json":            ErrUnauthorized,
		"reversal_invalid.json":       ErrTransactionNotFound,
		"queue_timeout_envelope.json": ErrOutcomeUnknown,
		"queue_timeout_flat.json":     ErrOutcomeUnknown,
		"c2b_v2_confirmation.json":    nil,
		"c2b_v2_validation.json":      ErrUnexpectedResponse,
	} {
		r, err := parseDaraja(darajaFixture(t, name), darajaFixtureMode(name))
		require.NoError(t, err)
		if want == nil {
			assert.True(t, r.OK(), name)
			assert.NoError(t, r.Err(), name)
			continue
		}
		assert.False(t, r.OK(), name)
		assert.ErrorIs(t, r.Err(), want, name)
		var e *Error
		require.ErrorAs(t, r.Err(), &e)
		assert.Equal(t, GatewayDaraja, e.Gateway)
		assert.Equal(t, r.OriginalConversationID, e.ConversationID)
	}
	// An envelope without a code says nothing of the outcome: a
	// queue-timeout notice posted to the ResultURL looks so.
	r0, err := ParseDarajaResult([]byte(`{"Result":{"ResultType":0,"ResultDesc":"The request timed out while waiting in the queue","OriginatorConversationID":"O-1","ConversationID":"AG_1"}}`))
	require.NoError(t, err)
	assert.ErrorIs(t, r0.Err(), ErrOutcomeUnknown)
	assert.ErrorIs(t, r0.Err(), ErrUnexpectedResponse)
	// A queue timeout that claims success is still an unknown outcome.
	r, err := parseDaraja([]byte(`{"Result":{"ConversationID":"AG_1","ResultCode":0}}`), darajaQueueTimeout)
	require.NoError(t, err)
	assert.False(t, r.OK())
	assert.ErrorIs(t, r.Err(), ErrOutcomeUnknown)
}

// TestDarajaIDs: Await finds a result by the IDs the request returned.
func TestDarajaIDs(t *testing.T) {
	t.Parallel()
	ids := func(name string) []string {
		r, err := parseDaraja(darajaFixture(t, name), darajaFixtureMode(name))
		require.NoError(t, err)
		return r.IDs()
	}
	assert.ElementsMatch(t, []string{"ws_CO_191220191020363925", "29115-34620561-1"}, ids("stk_success.json"))
	assert.ElementsMatch(t, []string{b2cConv, b2cOrig}, ids("b2c_success.json"))
	assert.ElementsMatch(t, []string{b2cConv, b2cOrig}, ids("queue_timeout_flat.json"))
	assert.ElementsMatch(t, []string{"RKL51ZDR4F", "ORDER-7731"}, ids("c2b_v2_confirmation.json"))
}

func TestDarajaResultPrintsNoPersonalData(t *testing.T) {
	t.Parallel()
	secrets := []string{"254708374149", "254705912645", "NICHOLAS", "SONGOK", "John Doe", "2547 ***** 126",
		"94c2c311d522da950619227b3361752a42042db7e1e699b26e628305c68a88"}
	for _, name := range []string{"stk_success.json", "b2c_success.json", "reversal_success.json", "transaction_status.json",
		"c2b_v2_confirmation.json", "c2b_v1_validation.json"} {
		r, err := parseDaraja(darajaFixture(t, name), darajaFixtureMode(name))
		require.NoError(t, err)
		var logs bytes.Buffer
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("got", "result", r, "value", *r, "params", r.Parameters)
		outputs := []string{logs.String()}
		if err := r.Err(); err != nil {
			outputs = append(outputs, err.Error())
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			outputs = append(outputs, fmt.Sprintf(verb, r), fmt.Sprintf(verb, *r), fmt.Sprintf(verb, r.Parameters))
			for _, p := range r.Parameters {
				outputs = append(outputs, fmt.Sprintf(verb, p))
			}
		}
		for _, out := range outputs {
			for _, s := range secrets {
				assert.NotContains(t, out, s, name)
			}
		}
		assert.Contains(t, fmt.Sprint(r), "OriginalConversationID: "+r.OriginalConversationID)
	}
}

// TestDarajaResultsOwnTheirValues: nothing a Result keeps is a view of the
// body, which the server reuses.
func TestDarajaResultsOwnTheirValues(t *testing.T) {
	t.Parallel()
	for name := range darajaFixtures {
		body := darajaFixture(t, name)
		r, err := parseDaraja(body, darajaFixtureMode(name))
		require.NoError(t, err)
		want := fmt.Sprintf("%#v", *r)
		params := fmt.Sprint(r.Parameters, r.ReferenceData, r.Extra)
		for i := range body {
			body[i] = 'X'
		}
		assert.Equal(t, want, fmt.Sprintf("%#v", *r), name)
		assert.Equal(t, params, fmt.Sprint(r.Parameters, r.ReferenceData, r.Extra), name)
	}
}

// TestDarajaKeptResultsOwnSmallCopies: as TestKeptResultsOwnSmallCopies,
// a thousand kept results of 60 KiB bodies must not hold 60 MiB.
func TestDarajaKeptResultsOwnSmallCopies(t *testing.T) {
	pad := strings.Repeat("x", 60<<10)
	kept := make([]*Result, 0, 1000)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 1000; i++ {
		body := []byte(fmt.Sprintf(`{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_%08d","ResultCode":0,"Pad":%q}}}`, i, pad))
		r, err := ParseDarajaResult(body)
		require.NoError(t, err)
		r.Extra = nil // the padding is an unknown member, which Extra keeps on purpose
		kept = append(kept, r)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	assert.Less(t, grown, int64(8<<20), "1,000 kept results hold %d KiB", grown>>10)
	runtime.KeepAlive(kept)
}

func TestDarajaCallbackSources(t *testing.T) {
	t.Parallel()
	src := DarajaCallbackSources()
	require.Len(t, src, 14, "the 14 addresses of docs/gateways.md D27")
	for _, p := range src {
		assert.Equal(t, 32, p.Bits())
		assert.True(t, strings.HasPrefix(p.Addr().String(), "196.201.21"), p)
	}
	src[0] = src[1]
	assert.NotEqual(t, src[0], DarajaCallbackSources()[0], "each call returns a new slice")
}
