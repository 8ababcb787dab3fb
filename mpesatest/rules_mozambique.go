package mpesatest

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mpesa-go/mpesa"
)

// The Mozambique rules. The Mozambique documents ('C2B, B2C, B2B, Query
// Transaction Status, Reversal', 'Query Transaction Status', 'Async
// Response, Callbacks and Response Codes') give every field as a plain
// "String" with an example and no regular expression, so the simulator does
// not borrow OpenAPI v2's: it refuses only what these documents or their
// Response Codes & Descriptions table support, and what no gateway could
// take as text:
//
//   - a required field that is missing or empty: INS-20 "Not All
//     Parameters Provided";
//   - input_TransactionReference of more than 20 characters: INS-17
//     "Invalid Transaction Reference. Length Should Be Between 1 and 20.";
//   - input_CustomerMSISDN that is not 258 and nine digits: INS-2051
//     "MSISDN invalid." (the documents' 258843330333; Mozambique numbers
//     are its country code 258 and a nine-digit national number);
//   - an amount that is not a decimal number above zero: INS-15 "Invalid
//     Amount Used" (the documents' "10");
//   - any value that is blank, holds a control character or is not valid
//     UTF-8, with the code of its field (INS-19 ThirdPartyReference, INS-14
//     QueryReference "Invalid Reference Used", INS-13 shortcodes, INS-18
//     TransactionID, INS-24 InitiatorIdentifier, INS-25
//     SecurityCredential).
//
// So a 41-character ThirdPartyReference, "INV-2026-01", an accented letter, a
// TransactionReference or a QueryReference with a dash all pass.

var (
	reMozambiqueMSISDN = regexp.MustCompile(`^258[0-9]{9}$`)
	// reMozambiqueAmount: digits with at most one decimal point.
	reMozambiqueAmount = regexp.MustCompile(`^(?:[0-9]+\.?[0-9]*|\.[0-9]+)$`)
)

// plainText is the rule of a field the documents type "String": some text,
// not blank, without control characters, valid UTF-8.
func plainText(_ *request, v string) bool {
	if !utf8.ValidString(v) || strings.TrimSpace(v) == "" {
		return false
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// transactionReference is INS-17's rule: plain text of 1 to 20 characters.
func transactionReference(rq *request, v string) bool {
	return utf8.RuneCountInString(v) <= 20 && plainText(rq, v)
}

// mozambiqueAmount is a decimal number above zero.
func mozambiqueAmount(_ *request, v string) bool {
	if !reMozambiqueAmount.MatchString(v) {
		return false
	}
	r, ok := parseAmount(v)
	return ok && r.Sign() > 0
}

// text is a field whose only rule is plainText.
func text(key, code string, required bool) field {
	return field{key: key, required: required, check: plainText, code: code}
}

var (
	mTxRef     = field{key: "input_TransactionReference", required: true, check: transactionReference, code: "INS-17"}
	mMSISDN    = field{key: "input_CustomerMSISDN", required: true, re: reMozambiqueMSISDN, code: "INS-2051"}
	mAmount    = field{key: "input_Amount", required: true, check: mozambiqueAmount, code: "INS-15"}
	mReference = text("input_ThirdPartyReference", "INS-19", true)
	mSPC       = text("input_ServiceProviderCode", "INS-13", true)
)

// mozambiqueRules are the parameters of each Mozambique API, in the order of
// the documents' Request Parameters tables. The customer-name query, which
// no document describes, takes the MSISDN, reference and shortcode that
// published integrations send (docs/gateways.md M14).
var mozambiqueRules = map[route][]field{
	{mpesa.GatewayMozambique, mpesa.APIC2B, "POST"}: {mTxRef, mMSISDN, mAmount, mReference, mSPC},
	{mpesa.GatewayMozambique, mpesa.APIB2C, "POST"}: {mTxRef, mMSISDN, mAmount, mReference, mSPC},
	{mpesa.GatewayMozambique, mpesa.APIB2B, "POST"}: {
		mTxRef, mAmount, mReference,
		text("input_PrimaryPartyCode", "INS-13", true),
		text("input_ReceiverPartyCode", "INS-13", true),
	},
	{mpesa.GatewayMozambique, mpesa.APITransactionStatus, "GET"}: {
		mReference,
		// "Populate this with one of the following 3 parameters": a
		// TransactionID, ThirdPartyReference or ConversationID such as
		// AG_20180206_00005e7dccc6da08efa8. INS-14 "Invalid Reference
		// Used".
		text("input_QueryReference", "INS-14", true),
		mSPC,
	},
	{mpesa.GatewayMozambique, mpesa.APIReversal, "PUT"}: {
		text("input_TransactionID", "INS-18", true),
		text("input_SecurityCredential", "INS-25", true),
		text("input_InitiatorIdentifier", "INS-24", true),
		mReference, mSPC,
		// "Amount to reverse (optional for partial reversal)".
		{key: "input_ReversalAmount", check: mozambiqueAmount, code: "INS-15"},
	},
	{mpesa.GatewayMozambique, mpesa.APIBeneficiaryName, "GET"}: {mMSISDN, mReference, mSPC},
}

func init() {
	for rt, fields := range mozambiqueRules {
		rules[rt] = fields
	}
}
