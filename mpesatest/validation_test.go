package mpesatest_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// product is an API as the raw client calls it, with a valid request built
// from the documents' samples around a reference.
type product struct {
	gw     mpesa.Gateway
	market mpesa.Market
	method string
	path   string
	valid  func(ref string) map[string]string
}

var (
	oaC2B = product{mpesa.GatewayOpenAPI, mpesa.MarketTanzania, http.MethodPost, "c2bPayment/singleStage/", c2bTZ}
	oaB2C = product{mpesa.GatewayOpenAPI, mpesa.MarketTanzania, http.MethodPost, "b2cPayment/", func(ref string) map[string]string {
		return with(c2bTZ(ref), "input_PurchasedItemsDesc", "-", "input_PaymentItemsDesc", "Salary payment")
	}}
	oaB2B = product{mpesa.GatewayOpenAPI, mpesa.MarketTanzania, http.MethodPost, "b2bPayment/", func(ref string) map[string]string {
		return with(c2bTZ(ref), "input_CustomerMSISDN", "-", "input_ServiceProviderCode", "-",
			"input_PrimaryPartyCode", "000000", "input_ReceiverPartyCode", "000001")
	}}
	oaReversal = product{mpesa.GatewayOpenAPI, mpesa.MarketTanzania, http.MethodPut, "reversal/", func(ref string) map[string]string {
		return map[string]string{"input_Country": "TZN", "input_ReversalAmount": "25", "input_ServiceProviderCode": "000000",
			"input_ThirdPartyConversationID": ref, "input_TransactionID": "0000000000001"}
	}}
	oaStatus = product{mpesa.GatewayOpenAPI, mpesa.MarketTanzania, http.MethodGet, "queryTransactionStatus/", func(ref string) map[string]string {
		return map[string]string{"input_QueryReference": "000000000000000000001", "input_ServiceProviderCode": "000000",
			"input_ThirdPartyConversationID": ref, "input_Country": "TZN"}
	}}
	oaDDCreate = product{mpesa.GatewayOpenAPI, mpesa.MarketGhana, http.MethodPost, "directDebitCreation/", func(ref string) map[string]string {
		return map[string]string{"input_AgreedTC": "1", "input_Country": "GHA", "input_CustomerMSISDN": mpesatest.MSISDNSuccess,
			"input_EndRangeOfDays": "22", "input_ExpiryDate": "20991126", "input_FirstPaymentDate": "20240324",
			"input_Frequency": "06", "input_ServiceProviderCode": "000000", "input_StartRangeOfDays": "01",
			"input_ThirdPartyConversationID": ref, "input_ThirdPartyReference": "M" + strings.ReplaceAll(ref, "_", "")}
	}}
	oaDDPayment = product{mpesa.GatewayOpenAPI, mpesa.MarketGhana, http.MethodPost, "directDebitPayment/", func(ref string) map[string]string {
		return map[string]string{"input_Amount": "10", "input_Country": "GHA", "input_Currency": "GHS",
			"input_CustomerMSISDN": mpesatest.MSISDNSuccess, "input_ServiceProviderCode": "000000",
			"input_ThirdPartyConversationID": ref, "input_MandateID": "99999", "input_ThirdPartyReference": "5db410b459bd433ca8e5"}
	}}
	oaDDQuery = product{mpesa.GatewayOpenAPI, mpesa.MarketGhana, http.MethodGet, "queryDirectDebit/", func(ref string) map[string]string {
		return map[string]string{"input_QueryBalanceAmount": "True", "input_BalanceAmount": "100", "input_Country": "GHA",
			"input_CustomerMSISDN": mpesatest.MSISDNSuccess, "input_ServiceProviderCode": "112244",
			"input_ThirdPartyConversationID": ref, "input_ThirdPartyReference": "Test123", "input_Currency": "GHS"}
	}}
	oaDDCancel = product{mpesa.GatewayOpenAPI, mpesa.MarketGhana, http.MethodPut, "directDebitCancel/", func(ref string) map[string]string {
		return map[string]string{"input_Country": "GHA", "input_CustomerMSISDN": mpesatest.MSISDNSuccess,
			"input_ServiceProviderCode": "000000", "input_ThirdPartyConversationID": ref, "input_MandateID": "99999",
			"input_ThirdPartyReference": "00000000000000000001"}
	}}
	oaBeneficiary = product{mpesa.GatewayOpenAPI, mpesa.MarketGhana, http.MethodGet, "queryBeneficiaryName/", func(ref string) map[string]string {
		return map[string]string{"input_CustomerMSISDN": mpesatest.MSISDNSuccess, "input_Country": "GHA",
			"input_ServiceProviderCode": "000000", "input_ThirdPartyConversationID": ref, "input_KycQueryType": "Name"}
	}}

	mzC2B = product{mpesa.GatewayMozambique, mpesa.MarketMozambique, http.MethodPost, "c2bPayment/singleStage/", mozC2B}
	mzB2C = product{mpesa.GatewayMozambique, mpesa.MarketMozambique, http.MethodPost, "b2cPayment/", mozC2B}
	mzB2B = product{mpesa.GatewayMozambique, mpesa.MarketMozambique, http.MethodPost, "b2bPayment/", func(ref string) map[string]string {
		return map[string]string{"input_TransactionReference": "T12344C", "input_Amount": "10", "input_ThirdPartyReference": ref,
			"input_PrimaryPartyCode": "171717", "input_ReceiverPartyCode": "979797"}
	}}
	mzStatus = product{mpesa.GatewayMozambique, mpesa.MarketMozambique, http.MethodGet, "queryTransactionStatus/", func(ref string) map[string]string {
		return map[string]string{"input_ThirdPartyReference": ref, "input_QueryReference": "5C1400CVRO", "input_ServiceProviderCode": "171717"}
	}}
	mzReversal = product{mpesa.GatewayMozambique, mpesa.MarketMozambique, http.MethodPut, "reversal/", func(ref string) map[string]string {
		return map[string]string{"input_TransactionID": "49XCDF6", "input_SecurityCredential": mpesatest.MozambiqueSecurityCredential,
			"input_InitiatorIdentifier": mpesatest.MozambiqueInitiatorIdentifier, "input_ThirdPartyReference": ref,
			"input_ServiceProviderCode": "171717", "input_ReversalAmount": "10"}
	}}
	mzCustomerName = product{mpesa.GatewayMozambique, mpesa.MarketMozambique, http.MethodGet, "queryCustomerName/", func(ref string) map[string]string {
		return map[string]string{"input_CustomerMSISDN": mpesatest.MozambiqueMSISDNSuccess, "input_ThirdPartyReference": ref,
			"input_ServiceProviderCode": "171717"}
	}}
)

// client returns a raw client of the product's gateway and market.
func (p product) client(t *testing.T, srv *mpesatest.Server) *raw {
	if p.gw == mpesa.GatewayMozambique {
		return mozambique(t, srv)
	}
	return openAPI(t, srv, p.market)
}

func TestValidation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name    string
		p       product
		changes []string // key, value pairs; "-" removes the key
		status  int
		code    string
	}{
		// OpenAPI C2B: every field of its table.
		{"c2b ok: description with a comma, as the document's example", oaC2B, nil, 201, "INS-0"},
		{"c2b ok: amount .5", oaC2B, []string{"input_Amount", ".5"}, 201, "INS-0"},
		{"c2b ok: 14-digit MSISDN", oaC2B, []string{"input_CustomerMSISDN", "25574455311122"}, 201, "INS-0"},
		{"c2b ok: reference with _ + and space", oaC2B, []string{"input_TransactionReference", "T_1 2+3"}, 201, "INS-0"},
		{"c2b missing amount", oaC2B, []string{"input_Amount", "-"}, 400, "INS-20"},
		{"c2b empty amount", oaC2B, []string{"input_Amount", ""}, 400, "INS-20"},
		{"c2b missing description", oaC2B, []string{"input_PurchasedItemsDesc", "-"}, 400, "INS-20"},
		{"c2b amount letters", oaC2B, []string{"input_Amount", "ten"}, 400, "INS-15"},
		{"c2b amount zero", oaC2B, []string{"input_Amount", "0.00"}, 400, "INS-15"},
		{"c2b amount negative", oaC2B, []string{"input_Amount", "-5"}, 400, "INS-15"},
		{"c2b amount trailing dot", oaC2B, []string{"input_Amount", "10."}, 400, "INS-15"},
		{"c2b MSISDN 11 digits", oaC2B, []string{"input_CustomerMSISDN", "25574455311"}, 400, "INS-2051"},
		{"c2b MSISDN with plus", oaC2B, []string{"input_CustomerMSISDN", "+255744553111"}, 400, "INS-2051"},
		{"c2b country of another market", oaC2B, []string{"input_Country", "GHA"}, 400, "INS-998"},
		{"c2b currency of another market", oaC2B, []string{"input_Currency", "GHS"}, 400, "INS-26"},
		{"c2b currency four letters", oaC2B, []string{"input_Currency", "TZSX"}, 400, "INS-26"},
		{"c2b shortcode too short", oaC2B, []string{"input_ServiceProviderCode", "123"}, 400, "INS-13"},
		{"c2b shortcode with dash", oaC2B, []string{"input_ServiceProviderCode", "ORG-01"}, 400, "INS-13"},
		{"c2b transaction reference 21", oaC2B, []string{"input_TransactionReference", long(21)}, 400, "INS-17"},
		{"c2b transaction reference dash", oaC2B, []string{"input_TransactionReference", "T-1"}, 400, "INS-17"},
		{"c2b conversation ID 41", oaC2B, []string{"input_ThirdPartyConversationID", long(41)}, 400, "INS-28"},
		{"c2b conversation ID slash", oaC2B, []string{"input_ThirdPartyConversationID", "a/b"}, 400, "INS-28"},
		{"c2b description 257", oaC2B, []string{"input_PurchasedItemsDesc", long(257)}, 400, "INS-30"},
		{"c2b description newline", oaC2B, []string{"input_PurchasedItemsDesc", "a\nb"}, 400, "INS-30"},

		{"b2c ok", oaB2C, nil, 201, "INS-0"},
		{"b2c missing description", oaB2C, []string{"input_PaymentItemsDesc", "-"}, 400, "INS-20"},
		{"b2c description 257", oaB2C, []string{"input_PaymentItemsDesc", long(257)}, 400, "INS-31"},
		{"b2c MSISDN letters", oaB2C, []string{"input_CustomerMSISDN", "25574455311a"}, 400, "INS-2051"},

		{"b2b ok", oaB2B, nil, 201, "INS-0"},
		{"b2b DRC pays in CDF too", product{oaB2B.gw, mpesa.MarketDRC, oaB2B.method, oaB2B.path, oaB2B.valid},
			[]string{"input_Country", "DRC", "input_Currency", "CDF"}, 201, "INS-0"},
		{"b2b receiver bad", oaB2B, []string{"input_ReceiverPartyCode", "12"}, 400, "INS-13"},
		{"b2b primary missing", oaB2B, []string{"input_PrimaryPartyCode", "-"}, 400, "INS-20"},
		{"b2b description 257", oaB2B, []string{"input_PurchasedItemsDesc", long(257)}, 400, "INS-30"},

		{"reversal TransactionID with dash", oaReversal, []string{"input_TransactionID", "49XCD-123"}, 400, "INS-18"},
		{"reversal TransactionID 21", oaReversal, []string{"input_TransactionID", long(21)}, 400, "INS-18"},
		{"reversal amount bad", oaReversal, []string{"input_ReversalAmount", "x"}, 400, "INS-15"},
		{"reversal country", oaReversal, []string{"input_Country", "MOZ"}, 400, "INS-998"},
		{"reversal conversation ID", oaReversal, []string{"input_ThirdPartyConversationID", "a.b"}, 400, "INS-28"},
		{"reversal missing country", oaReversal, []string{"input_Country", "-"}, 400, "INS-20"},

		{"status query reference 33", oaStatus, []string{"input_QueryReference", long(33)}, 400, "INS-21"},
		{"status query reference underscore", oaStatus, []string{"input_QueryReference", "abc_def"}, 400, "INS-21"},
		{"status shortcode", oaStatus, []string{"input_ServiceProviderCode", "0"}, 400, "INS-13"},
		{"status missing country", oaStatus, []string{"input_Country", "-"}, 400, "INS-20"},
		{"status unknown transaction", oaStatus, nil, 400, "INS-23"},

		{"dd create ok", oaDDCreate, nil, 201, "INS-0"},
		{"dd create ok: no frequency, no dates", oaDDCreate, []string{"input_Frequency", "-", "input_FirstPaymentDate", "-",
			"input_StartRangeOfDays", "-", "input_EndRangeOfDays", "-"}, 201, "INS-0"},
		{"dd create ok: daily without first date (defaults to today)", oaDDCreate, []string{"input_Frequency", "02",
			"input_FirstPaymentDate", "-", "input_StartRangeOfDays", "-", "input_EndRangeOfDays", "-"}, 201, "INS-0"},
		{"dd create agreed 2", oaDDCreate, []string{"input_AgreedTC", "2"}, 400, "INS-36"},
		{"dd create agreed missing", oaDDCreate, []string{"input_AgreedTC", "-"}, 400, "INS-20"},
		{"dd create first date 7 digits", oaDDCreate, []string{"input_FirstPaymentDate", "2016032"}, 400, "INS-39"},
		{"dd create first date 30 February", oaDDCreate, []string{"input_FirstPaymentDate", "20240230"}, 400, "INS-39"},
		{"dd create frequency 09", oaDDCreate, []string{"input_Frequency", "09"}, 400, "INS-40"},
		{"dd create frequency one digit", oaDDCreate, []string{"input_Frequency", "6"}, 400, "INS-40"},
		{"dd create start 32", oaDDCreate, []string{"input_StartRangeOfDays", "32"}, 400, "INS-41"},
		{"dd create end one digit", oaDDCreate, []string{"input_EndRangeOfDays", "1"}, 400, "INS-42"},
		{"dd create expiry 7 digits", oaDDCreate, []string{"input_ExpiryDate", "2016112"}, 400, "INS-43"},
		{"dd create no frequency but a first date", oaDDCreate, []string{"input_Frequency", "-",
			"input_StartRangeOfDays", "-", "input_EndRangeOfDays", "-"}, 400, "INS-39"},
		{"dd create no frequency but a day range", oaDDCreate, []string{"input_Frequency", "-", "input_FirstPaymentDate", "-"}, 400, "INS-41"},
		{"dd create daily with a start day", oaDDCreate, []string{"input_Frequency", "02", "input_EndRangeOfDays", "-"}, 400, "INS-41"},
		{"dd create weekly with an end day", oaDDCreate, []string{"input_Frequency", "03", "input_StartRangeOfDays", "-"}, 400, "INS-42"},
		{"dd create quarterly, end before start", oaDDCreate, []string{"input_Frequency", "05", "input_StartRangeOfDays", "20",
			"input_EndRangeOfDays", "10"}, 400, "INS-42"},
		{"dd create expiry before first payment", oaDDCreate, []string{"input_ExpiryDate", "20240301"}, 400, "INS-43"},
		{"dd create mandate reference with underscore", oaDDCreate, []string{"input_ThirdPartyReference", "Test_123"}, 400, "INS-19"},
		{"dd create mandate reference 33", oaDDCreate, []string{"input_ThirdPartyReference", long(33)}, 400, "INS-19"},
		{"dd create MSISDN", oaDDCreate, []string{"input_CustomerMSISDN", "123"}, 400, "INS-2051"},

		{"dd payment neither MSISDN nor token", oaDDPayment, []string{"input_CustomerMSISDN", "-"}, 400, "INS-20"},
		{"dd payment token with slash", oaDDPayment, []string{"input_MsisdnToken", "cvgw/BZ3lAO9ivwhWAFeng=="}, 401, "INS-56"},
		{"dd payment token 27", oaDDPayment, []string{"input_MsisdnToken", long(27)}, 401, "INS-56"},
		{"dd payment mandate ID letters", oaDDPayment, []string{"input_MandateID", "15a"}, 400, "INS-51"},
		{"dd payment mandate ID 13 digits", oaDDPayment, []string{"input_MandateID", "1234567890123"}, 400, "INS-51"},
		{"dd payment currency", oaDDPayment, []string{"input_Currency", "TZS"}, 400, "INS-26"},
		{"dd payment amount", oaDDPayment, []string{"input_Amount", "0"}, 400, "INS-15"},
		{"dd payment no mandate", oaDDPayment, []string{"input_MandateID", "-"}, 401, "INS-6"},

		{"dd query balance flag bad", oaDDQuery, []string{"input_QueryBalanceAmount", "Maybe"}, 400, "INS-21"},
		{"dd query balance flag missing", oaDDQuery, []string{"input_QueryBalanceAmount", "-"}, 400, "INS-20"},
		{"dd query true without amount", oaDDQuery, []string{"input_BalanceAmount", "-"}, 401, "INS-55"},
		{"dd query amount letters", oaDDQuery, []string{"input_BalanceAmount", "abc"}, 400, "INS-54"},
		{"dd query amount with comma (matches the unescaped dot, is no number)", oaDDQuery, []string{"input_BalanceAmount", "1,5"}, 400, "INS-54"},
		{"dd query neither MSISDN nor token", oaDDQuery, []string{"input_CustomerMSISDN", "-"}, 500, "INS-57"},
		{"dd query mandate reference", oaDDQuery, []string{"input_ThirdPartyReference", "a-b"}, 400, "INS-19"},
		{"dd query no mandate", oaDDQuery, nil, 400, "INS-58"},
		{"dd query false without amount, no mandate", oaDDQuery, []string{"input_QueryBalanceAmount", "false", "input_BalanceAmount", "-"}, 400, "INS-58"},

		{"dd cancel neither MSISDN nor token", oaDDCancel, []string{"input_CustomerMSISDN", "-"}, 400, "INS-20"},
		{"dd cancel mandate reference", oaDDCancel, []string{"input_ThirdPartyReference", "a b"}, 400, "INS-19"},
		{"dd cancel mandate reference missing", oaDDCancel, []string{"input_ThirdPartyReference", "-"}, 400, "INS-20"},
		{"dd cancel unknown mandate ID", oaDDCancel, nil, 400, "INS-51"},
		{"dd cancel no mandate", oaDDCancel, []string{"input_MandateID", "-"}, 401, "INS-6"},

		{"beneficiary ok", oaBeneficiary, nil, 200, "INS-0"},
		{"beneficiary ok: the sample's KYC spelling", oaBeneficiary, []string{"input_KycQueryType", "-", "input_KYCQueryType", "Name"}, 200, "INS-0"},
		{"beneficiary type Address", oaBeneficiary, []string{"input_KycQueryType", "Address"}, 400, "INS-32"},
		{"beneficiary type lower case", oaBeneficiary, []string{"input_KycQueryType", "name"}, 400, "INS-32"},
		{"beneficiary type missing", oaBeneficiary, []string{"input_KycQueryType", "-"}, 400, "INS-20"},
		{"beneficiary outside Ghana", product{oaBeneficiary.gw, mpesa.MarketTanzania, oaBeneficiary.method, oaBeneficiary.path, oaBeneficiary.valid},
			[]string{"input_Country", "TZN"}, 400, "INS-998"},

		// Mozambique: no Country or Currency; 258 and nine digits.
		{"moz c2b ok", mzC2B, nil, 201, "INS-0"},
		{"moz c2b ok: OpenAPI fields are ignored", mzC2B, []string{"input_Country", "MOZ", "input_Currency", "MZN"}, 201, "INS-0"},
		{"moz c2b MSISDN of Tanzania", mzC2B, []string{"input_CustomerMSISDN", "255744553111"}, 400, "INS-2051"},
		{"moz c2b MSISDN 11 digits", mzC2B, []string{"input_CustomerMSISDN", "25884333033"}, 400, "INS-2051"},
		{"moz c2b MSISDN national", mzC2B, []string{"input_CustomerMSISDN", "843330333"}, 400, "INS-2051"},
		{"moz c2b reference with a control character", mzC2B, []string{"input_ThirdPartyReference", "a\x01b"}, 400, "INS-19"},
		{"moz c2b amount", mzC2B, []string{"input_Amount", "1e3"}, 400, "INS-15"},
		{"moz c2b shortcode blank", mzC2B, []string{"input_ServiceProviderCode", "  "}, 400, "INS-13"},
		{"moz c2b transaction reference", mzC2B, []string{"input_TransactionReference", long(21)}, 400, "INS-17"},
		{"moz c2b missing reference", mzC2B, []string{"input_ThirdPartyReference", "-"}, 400, "INS-20"},
		{"moz b2c ok", mzB2C, nil, 201, "INS-0"},
		{"moz b2c MSISDN", mzB2C, []string{"input_CustomerMSISDN", "2588433303333"}, 400, "INS-2051"},
		{"moz b2b ok", mzB2B, nil, 201, "INS-0"},
		{"moz b2b receiver with a tab", mzB2B, []string{"input_ReceiverPartyCode", "97\t97"}, 400, "INS-13"},
		{"moz b2b primary missing", mzB2B, []string{"input_PrimaryPartyCode", "-"}, 400, "INS-20"},
		{"moz status query reference with a newline", mzStatus, []string{"input_QueryReference", "a\nb"}, 400, "INS-14"},
		{"moz status unknown transaction", mzStatus, nil, 400, "INS-997"},
		{"moz reversal initiator missing", mzReversal, []string{"input_InitiatorIdentifier", "-"}, 400, "INS-20"},
		{"moz reversal credential missing", mzReversal, []string{"input_SecurityCredential", "-"}, 400, "INS-20"},
		{"moz reversal unknown initiator", mzReversal, []string{"input_InitiatorIdentifier", "Someone"}, 400, "INS-24"},
		{"moz reversal wrong credential", mzReversal, []string{"input_SecurityCredential", "guess"}, 400, "INS-2001"},
		{"moz reversal TransactionID with a control character", mzReversal, []string{"input_TransactionID", "49X\x7fCDF6"}, 400, "INS-18"},
		{"moz reversal amount", mzReversal, []string{"input_ReversalAmount", "0"}, 400, "INS-15"},
		{"moz reversal unknown transaction", mzReversal, nil, 400, "INS-997"},
		{"moz customer name ok", mzCustomerName, nil, 200, "INS-0"},
		{"moz customer name MSISDN", mzCustomerName, []string{"input_CustomerMSISDN", "000000000001"}, 400, "INS-2051"},
	}
	srv := newServer(t)
	for i, tc := range cases {
		tc := tc
		ref := "v" + strconv.Itoa(i)
		t.Run(tc.name, func(t *testing.T) {
			c := tc.p.client(t, srv)
			params := with(tc.p.valid(ref), tc.changes...)
			status, out := c.call(tc.p.method, tc.p.path, params)
			assert.Equal(t, tc.status, status, "answer %v", out)
			assert.Equal(t, tc.code, out["output_ResponseCode"], "answer %v", out)
			assert.NotEmpty(t, out["output_ResponseDesc"])
			refKey, outRef := "input_ThirdPartyConversationID", "output_ThirdPartyConversationID"
			if tc.p.gw == mpesa.GatewayMozambique {
				refKey, outRef = "input_ThirdPartyReference", "output_ThirdPartyReference"
			}
			if params[refKey] != "" {
				assert.Equal(t, params[refKey], out[outRef], "the answer echoes the reference")
			}
			assert.NotEmpty(t, out["output_ConversationID"])
		})
	}
}
