package mpesatest

import (
	"math/big"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mpesa-go/mpesa"
)

// The parameter rules of the OpenAPI v2 developer portal, copied from the
// "Parameter Regex Validation" columns of its products' "API Requests"
// tables. They apply to OpenAPI v2 alone; the Mozambique rules are in
// rules_mozambique.go. The simulator deliberately does not
// share the client's validation code: it is the independent judge of what
// the client sends.
var (
	reAmount        = regexp.MustCompile(`^\d*\.?\d+$`)
	reMSISDN        = regexp.MustCompile(`^[0-9]{12,14}$`)
	reCurrency      = regexp.MustCompile(`^[a-zA-Z]{1,3}$`)
	reShortcode     = regexp.MustCompile(`^([0-9A-Za-z]{4,12})$`)
	reTxReference   = regexp.MustCompile(`^[0-9a-zA-Z \w+]{1,20}$`)
	reConversation  = regexp.MustCompile(`^[0-9a-zA-Z \w+]{1,40}$`)
	reQueryRef      = regexp.MustCompile(`^(?:[A-Za-z0-9]{10,20}|[A-Za-z0-9]{1,9}|[A-Za-z0-9]{21,32})$`)
	reTransactionID = regexp.MustCompile(`^[0-9a-zA-Z]{1,20}$`)
	reMandateRef    = regexp.MustCompile(`^[0-9a-zA-Z]{1,32}$`)
	reAgreedTC      = regexp.MustCompile(`^[0-1]{1}$`)
	reDate          = regexp.MustCompile(`^[0-9]{8}$`)
	reTwoDigits     = regexp.MustCompile(`^[0-9]{2}$`)
	reMsisdnToken   = regexp.MustCompile(`^[0-9a-zA-Z \w=]{1,26}$`)
	reMandateID     = regexp.MustCompile(`^[0-9]{1,12}$`)
	reKYCQueryType  = regexp.MustCompile(`^(Name)$`)
	// The query-direct-debit table writes the BalanceAmount rule with an
	// unescaped dot, ^\d*.?\d+$, where every other amount has \.; taken
	// literally it accepts "1,5". The simulator applies it literally and
	// then requires a number, as the gateway must before it can compare
	// the amount with a balance.
	reBalanceAmount = regexp.MustCompile(`^\d*.?\d+$`)
)

// field is the rule of one parameter.
type field struct {
	key      string
	required bool
	re       *regexp.Regexp
	// check, when set, is a further condition on a value the regular
	// expression accepted (an amount above zero, a real date).
	check func(rq *request, v string) bool
	// code is the answer to a value that breaks the rule.
	code string
}

// Checks beyond the regular expressions.
func positive(_ *request, v string) bool {
	r, ok := parseAmount(v)
	return ok && r.Sign() > 0
}

func number(_ *request, v string) bool {
	_, ok := parseAmount(v)
	return ok
}

func calendarDate(_ *request, v string) bool {
	_, err := time.Parse("20060102", v)
	return err == nil
}

func frequency(_ *request, v string) bool { return v >= "01" && v <= "08" }

func dayOfMonth(_ *request, v string) bool { return v >= "01" && v <= "31" }

// marketCountry: input_Country must be the country of the market in the URL.
// The rule column says N/A; a country of another market is "Invalid Market".
func marketCountry(rq *request, v string) bool { return v == rq.market.Country() }

// marketCurrency: input_Currency must be the market's currency. The DR Congo
// also keeps wallets in Congolese francs, which the client supports with
// WithCurrency("CDF"); the simulator accepts both there.
func marketCurrency(rq *request, v string) bool {
	if strings.EqualFold(v, rq.market.Currency()) {
		return true
	}
	return rq.market == mpesa.MarketDRC && strings.EqualFold(v, "CDF")
}

// description stands in for the documented ^[0-9a-zA-Z \w+]{1,256}$ of the
// item descriptions: the same table's own example is "Handbag, Black
// shoes", which that expression refuses (the portal's C2B Single Stage and
// B2B Single Stage pages, input_PurchasedItemsDesc). A gateway that
// refused its own example would be unusable, so the simulator takes 1 to
// 256 characters without control characters.
func description(_ *request, v string) bool {
	if n := utf8.RuneCountInString(v); n < 1 || n > 256 || !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// boolWord: QueryBalanceAmount is "True" or "False" (rule column N/A); the
// case is not significant.
func boolWord(_ *request, v string) bool {
	return strings.EqualFold(v, "true") || strings.EqualFold(v, "false")
}

// parseAmount reads an amount that passed its gateway's rule: OpenAPI's
// ^\d*\.?\d+$, or Mozambique's decimal number, which may also end in a
// point ("10.").
func parseAmount(v string) (*big.Rat, bool) {
	if !reAmount.MatchString(v) {
		if !reMozambiqueAmount.MatchString(v) {
			return nil, false
		}
		v = strings.TrimSuffix(v, ".")
	}
	return new(big.Rat).SetString(v)
}

// Field rules shared by several OpenAPI v2 products. The code of each is the
// one the products' Response Codes tables give for that field: INS-15
// amounts, INS-2051 MSISDNs, INS-13 shortcodes, INS-17 transaction
// references, INS-28 ThirdPartyConversationID, INS-26 currency, INS-998 a
// country of another market.
var (
	fAmount      = field{key: "input_Amount", required: true, re: reAmount, check: positive, code: "INS-15"}
	fMSISDN      = field{key: "input_CustomerMSISDN", required: true, re: reMSISDN, code: "INS-2051"}
	fCountry     = field{key: "input_Country", required: true, check: marketCountry, code: "INS-998"}
	fCurrency    = field{key: "input_Currency", required: true, re: reCurrency, check: marketCurrency, code: "INS-26"}
	fSPC         = field{key: "input_ServiceProviderCode", required: true, re: reShortcode, code: "INS-13"}
	fTxRef       = field{key: "input_TransactionReference", required: true, re: reTxReference, code: "INS-17"}
	fTPCID       = field{key: "input_ThirdPartyConversationID", required: true, re: reConversation, code: "INS-28"}
	fPurchased   = field{key: "input_PurchasedItemsDesc", required: true, check: description, code: "INS-30"}
	fPayment     = field{key: "input_PaymentItemsDesc", required: true, check: description, code: "INS-31"}
	fMandateRef  = field{key: "input_ThirdPartyReference", required: true, re: reMandateRef, code: "INS-19"}
	fMandateID   = field{key: "input_MandateID", re: reMandateID, code: "INS-51"}
	fOptMSISDN   = field{key: "input_CustomerMSISDN", re: reMSISDN, code: "INS-2051"}
	fMsisdnToken = field{key: "input_MsisdnToken", re: reMsisdnToken, code: "INS-56"}
)

// rules lists the parameters of every product, in the order of the
// documents' tables: those of OpenAPI v2 here, and mozambiqueRules, which
// init adds. Direct debit uses the code each field has in the product
// family even where one product's table omits it: those tables are
// visibly copied from one another (the cancel table lists INS-30 for a
// purchased-items description that cancel does not take), so an omission
// there says nothing.
var rules = map[route][]field{
	{mpesa.GatewayOpenAPI, mpesa.APIC2B, "POST"}: {fAmount, fMSISDN, fCountry, fCurrency, fSPC, fTxRef, fTPCID, fPurchased},
	{mpesa.GatewayOpenAPI, mpesa.APIB2C, "POST"}: {fAmount, fMSISDN, fCountry, fCurrency, fSPC, fTxRef, fTPCID, fPayment},
	{mpesa.GatewayOpenAPI, mpesa.APIB2B, "POST"}: {
		fAmount,
		{key: "input_ReceiverPartyCode", required: true, re: reShortcode, code: "INS-13"},
		fCountry, fCurrency,
		{key: "input_PrimaryPartyCode", required: true, re: reShortcode, code: "INS-13"},
		fTxRef, fTPCID, fPurchased,
	},
	{mpesa.GatewayOpenAPI, mpesa.APIReversal, "PUT"}: {
		{key: "input_ReversalAmount", re: reAmount, check: positive, code: "INS-15"},
		fCountry,
		{key: "input_TransactionID", required: true, re: reTransactionID, code: "INS-18"},
		fSPC, fTPCID,
	},
	{mpesa.GatewayOpenAPI, mpesa.APITransactionStatus, "GET"}: {
		// No code of its own: INS-21, "Parameter validations failed".
		{key: "input_QueryReference", required: true, re: reQueryRef, code: "INS-21"},
		fCountry, fSPC, fTPCID,
	},
	{mpesa.GatewayOpenAPI, mpesa.APIDirectDebitCreate, "POST"}: {
		fMSISDN, fCountry, fSPC, fMandateRef, fTPCID,
		{key: "input_AgreedTC", required: true, re: reAgreedTC, code: "INS-36"},
		{key: "input_FirstPaymentDate", re: reDate, check: calendarDate, code: "INS-39"},
		{key: "input_Frequency", re: reTwoDigits, check: frequency, code: "INS-40"},
		{key: "input_StartRangeOfDays", re: reTwoDigits, check: dayOfMonth, code: "INS-41"},
		{key: "input_EndRangeOfDays", re: reTwoDigits, check: dayOfMonth, code: "INS-42"},
		{key: "input_ExpiryDate", re: reDate, check: calendarDate, code: "INS-43"},
	},
	{mpesa.GatewayOpenAPI, mpesa.APIDirectDebitPayment, "POST"}: {
		fMsisdnToken, fOptMSISDN, fCountry, fSPC, fMandateRef, fTPCID, fAmount, fCurrency, fMandateID,
	},
	{mpesa.GatewayOpenAPI, mpesa.APIDirectDebitQuery, "GET"}: {
		{key: "input_QueryBalanceAmount", required: true, check: boolWord, code: "INS-21"},
		{key: "input_BalanceAmount", re: reBalanceAmount, check: number, code: "INS-54"},
		fCountry, fOptMSISDN, fMsisdnToken, fSPC, fTPCID, fMandateRef, fMandateID, fCurrency,
	},
	{mpesa.GatewayOpenAPI, mpesa.APIDirectDebitCancel, "PUT"}: {
		fMsisdnToken, fOptMSISDN, fCountry, fSPC, fMandateRef, fTPCID, fMandateID,
	},
	{mpesa.GatewayOpenAPI, mpesa.APIBeneficiaryName, "GET"}: {
		fMSISDN, fCountry, fSPC, fTPCID,
		// Written input_KycQueryType in the table and the code snippets,
		// input_KYCQueryType in the sample query (the portal's Query
		// Beneficiary Name page): beneficiary folds the second into the
		// first.
		{key: "input_KycQueryType", required: true, re: reKYCQueryType, code: "INS-32"},
	},
}

// validate returns the code that refuses the request's parameters, or "".
// Missing parameters come first (INS-20), then each field in table order;
// a body that is not a JSON object of strings is INS-21.
func validate(rq *request) string {
	if rq.paramErr != nil {
		return "INS-21"
	}
	fields := rules[rq.route]
	p := rq.params
	for _, f := range fields {
		if f.required && p[f.key] == "" {
			return "INS-20"
		}
	}
	for _, f := range fields {
		v, ok := p[f.key]
		if !ok || v == "" {
			continue
		}
		if (f.re != nil && !f.re.MatchString(v)) || (f.check != nil && !f.check(rq, v)) {
			return f.code
		}
	}
	return crossCheck(rq)
}

// crossCheck applies the rules that tie parameters together.
func crossCheck(rq *request) string {
	p := rq.params
	switch rq.api {
	case mpesa.APIDirectDebitCreate:
		return mandateScheduleCheck(p)
	case mpesa.APIDirectDebitPayment, mpesa.APIDirectDebitCancel:
		// "Either the input_MsisdnToken or input_CustomerMSISDN must be
		// supplied." These two tables list INS-20 for a missing
		// parameter; INS-57 is listed by the query only, with HTTP 500,
		// which would tell a client that a payment's outcome is unknown
		// when the gateway refused it before doing anything.
		if p["input_MsisdnToken"] == "" && p["input_CustomerMSISDN"] == "" {
			return "INS-20"
		}
	case mpesa.APIDirectDebitQuery:
		if strings.EqualFold(p["input_QueryBalanceAmount"], "true") && p["input_BalanceAmount"] == "" {
			return "INS-55"
		}
		if p["input_MsisdnToken"] == "" && p["input_CustomerMSISDN"] == "" {
			return "INS-57"
		}
	}
	return ""
}

// mandateScheduleCheck applies the frequency rules of direct debit creation
// (the portal's Direct Debit Create page, below its API Requests table):
//   - without a frequency, FirstPaymentDate, StartRangeOfDays and
//     EndRangeOfDays must be empty;
//   - once-off, daily, weekly and on-demand mandates take no day range;
//   - monthly to yearly mandates may take one, start before end.
//
// "FirstPaymentDate (default value: current day) must be set" contradicts
// itself; the simulator applies the stated default when it is left out.
// An expiry date before the first payment is an invalid expiry date.
func mandateScheduleCheck(p map[string]string) string {
	freq, first := p["input_Frequency"], p["input_FirstPaymentDate"]
	start, end := p["input_StartRangeOfDays"], p["input_EndRangeOfDays"]
	switch freq {
	case "":
		switch {
		case first != "":
			return "INS-39"
		case start != "":
			return "INS-41"
		case end != "":
			return "INS-42"
		}
	case "01", "02", "03", "08":
		switch {
		case start != "":
			return "INS-41"
		case end != "":
			return "INS-42"
		}
	default: // 04 to 07
		if start != "" && end != "" && end < start {
			return "INS-42"
		}
	}
	if exp := p["input_ExpiryDate"]; exp != "" && first != "" && exp < first {
		return "INS-43"
	}
	return ""
}
