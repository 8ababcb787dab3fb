package mpesa

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// ---- Fuzzing -------------------------------------------------------------
//
// Each target builds requests from fuzzed strings and holds the client to
// three properties: it never panics; when it refuses a request it sends
// nothing; when it sends one, every parameter is exactly the caller's value
// (or the documented default) and every value obeys the documents' rule,
// written here as the documents' own regular expressions. Where the rules
// are simple enough, the converse holds too: what the documents allow is
// sent.

var (
	docAmount    = regexp.MustCompile(`^\d*\.?\d+$`)
	docMSISDN    = regexp.MustCompile(`^[0-9]{12,14}$`)
	docMozMSISDN = regexp.MustCompile(`^258[0-9]{9}$`)
	docShortcode = regexp.MustCompile(`^([0-9A-Za-z]{4,12})$`)
	docTxRef     = regexp.MustCompile(`^[0-9a-zA-Z \w+]{1,20}$`)
	docTxID      = regexp.MustCompile(`^[0-9a-zA-Z]{1,20}$`)
	docQueryRef  = regexp.MustCompile(`^(?:[A-Za-z0-9]{10,20}|[A-Za-z0-9]{1,9}|[A-Za-z0-9]{21,32})$`)
	docMandate   = regexp.MustCompile(`^[0-9a-zA-Z]{1,32}$`)
	docMandateID = regexp.MustCompile(`^[0-9]{1,12}$`)
	docToken     = regexp.MustCompile(`^[0-9a-zA-Z \w=]{1,26}$`)
	// docPaymentRef is the reference of a payment on OpenAPI v2: the
	// QueryReference rule, so that Reconcile can find the payment.
	docPaymentRef = regexp.MustCompile(`^[0-9a-zA-Z]{1,32}$`)
	docDigits8    = regexp.MustCompile(`^[0-9]{8}$`)
	docDay        = regexp.MustCompile(`^[0-9]{2}$`)
)

// docAmountOK is the amount rule: the regular expression and more than
// zero, which for such a string means a non-zero digit.
func docAmountOK(s string) bool {
	return docAmount.MatchString(s) && strings.ContainsAny(s, "123456789")
}

func docMSISDNOK(gw Gateway, s string) bool {
	if gw == GatewayMozambique {
		return docMozMSISDN.MatchString(s)
	}
	return docMSISDN.MatchString(s)
}

// docPlainOK is what the Mozambique documents' plain strings allow: set,
// valid UTF-8, no control characters (docs/gateways.md M7).
func docPlainOK(s string) bool {
	return s != "" && utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// docShortcodeOK, docTxRefOK, docPaymentRefOK, docQueryOwnRefOK,
// docTxIDOK and docQueryRefOK are the rules of a gateway's fields.
func docShortcodeOK(gw Gateway, s string) bool {
	if gw == GatewayMozambique {
		return docPlainOK(s)
	}
	return docShortcode.MatchString(s)
}

func docTxRefOK(gw Gateway, s string) bool {
	if gw == GatewayMozambique {
		return docPlainOK(s) && utf8.RuneCountInString(s) <= 20
	}
	return docTxRef.MatchString(s)
}

func docPaymentRefOK(gw Gateway, s string) bool {
	if gw == GatewayMozambique {
		return docPlainOK(s)
	}
	return docPaymentRef.MatchString(s)
}

func docQueryOwnRefOK(gw Gateway, s string) bool {
	if gw == GatewayMozambique {
		return docPlainOK(s)
	}
	return referenceRule.MatchString(s)
}

func docTxIDOK(gw Gateway, s string) bool {
	if gw == GatewayMozambique {
		return docPlainOK(s)
	}
	return docTxID.MatchString(s)
}

// docDescriptionOK is the description rule as the SDK documents it: the
// regular expression {1,256} without its character class, which would
// refuse the documents' own example "Handbag, Black shoes" (docs/gateways.md
// O9): 1 to 256 characters of valid UTF-8 without control characters.
func docDescriptionOK(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	n := utf8.RuneCountInString(s)
	return n >= 1 && n <= 256 && strings.IndexFunc(s, unicode.IsControl) < 0
}

func docDateOK(s string) bool {
	if !docDigits8.MatchString(s) {
		return false
	}
	_, err := time.Parse("20060102", s)
	return err == nil
}

func docDayOK(s string) bool { return docDay.MatchString(s) && s >= "01" && s <= "31" }

// fuzzClients holds one client per gateway on recording transports.
type fuzzClients struct {
	rec       *mockRecorder
	gwOA, moz *Client
}

func newFuzzClients(f *testing.F, opts ...Option) *fuzzClients {
	rec := &mockRecorder{}
	return &fuzzClients{rec: rec, gwOA: recordingClient(f, gwOA, rec, opts...), moz: recordingClient(f, gwMZ, rec, opts...)}
}

func (fc *fuzzClients) client(moz bool) (*Client, Gateway) {
	if moz {
		return fc.moz, gwMZ
	}
	return fc.gwOA, gwOA
}

// judgeFuzzCall applies the properties every product shares. A refusal is
// a validation error naming its fields, sent nothing, and came only for a
// request the documents refuse (ok false). A request the documents allow
// was sent once, with exactly the parameters of want and, under refKey, the
// caller's reference or a generated one that keeps the rule. It reports
// whether the request was sent.
func judgeFuzzCall(t *testing.T, fc *fuzzClients, err error, ok bool, want map[string]string, refKey, ref string) bool {
	t.Helper()
	reqs := fc.rec.requests()
	if err != nil {
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("not a validation error: %v", err)
		}
		if len(ve.Fields) == 0 || !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("empty or unmatched validation error: %v", err)
		}
		if len(reqs) != 0 {
			t.Fatalf("refused with %v but sent %d requests", err, len(reqs))
		}
		if ok {
			t.Fatalf("refused a request the documents allow: %v", err)
		}
		return false
	}
	if len(reqs) != 1 {
		t.Fatalf("sent %d requests, want 1", len(reqs))
	}
	sent := reqs[0].params(t)
	if !ok {
		t.Fatalf("sent a request the documents refuse: %v", sent)
	}
	expectRef(t, want, sent, refKey, ref)
	assertSentExactly(t, want, sent)
	return true
}

// expectRef puts the reference the caller gave, or the generated one that
// was sent, into want.
func expectRef(t *testing.T, want, sent map[string]string, key, ref string) {
	t.Helper()
	if ref == "" {
		if !referenceRule.MatchString(sent[key]) {
			t.Fatalf("generated reference %q breaks the rule", sent[key])
		}
		ref = sent[key]
	}
	want[key] = ref
}

func refKey(gw Gateway) string {
	if gw == GatewayMozambique {
		return "input_ThirdPartyReference"
	}
	return "input_ThirdPartyConversationID"
}

func assertSentExactly(t *testing.T, want, sent map[string]string) {
	t.Helper()
	if d := cmp.Diff(want, sent); d != "" {
		t.Fatalf("sent parameters differ from the caller's values (-want +sent):\n%s", d)
	}
}

// FuzzPaymentRequests covers C2B, B2C and B2B on both gateways.
func FuzzPaymentRequests(f *testing.F) {
	f.Add(false, uint8(0), "10", oaMSISDN, "ORG001", "T12344C", oaRef, "Handbag, Black shoes", "")
	f.Add(true, uint8(1), "10.50", mzMSISDN, "171717", "T 1_2+3", "", "", "")
	f.Add(false, uint8(2), ".5", "979797", "", "T", "r", "x", "tzs")
	f.Add(false, uint8(0), "0", "2557445531", "ORG-1", "T-1", "r/1", "\x00", "TZSX")
	f.Add(true, uint8(0), "1e3", "255744553111", "17", strings.Repeat("T", 21), strings.Repeat("R", 41), "\xff", "1")
	f.Add(false, uint8(1), "007", "25574455311122", "ORG001ORG001", "T", "a b+c_d", strings.Repeat("é", 256), "T")
	fc := newFuzzClients(f, WithServiceProviderCode("DEF001"))
	f.Fuzz(func(t *testing.T, moz bool, kind uint8, amount, party, spc, txRef, ref, desc, currency string) {
		fc.rec.reset()
		c, gw := fc.client(moz)
		want := map[string]string{"input_Amount": amount, "input_TransactionReference": txRef}
		ok := docAmountOK(amount) && docTxRefOK(gw, txRef) && (ref == "" || docPaymentRefOK(gw, ref))
		spcSent := spc
		if spc == "" {
			spcSent = "DEF001"
		}
		ok = ok && docShortcodeOK(gw, spcSent)
		var err error
		descKey := "input_PurchasedItemsDesc"
		switch kind % 3 {
		case 0:
			_, err = c.C2B(context.Background(), C2BRequest{Amount: amount, CustomerMSISDN: party, ServiceProviderCode: spc,
				TransactionReference: txRef, ThirdPartyConversationID: ref, PurchasedItemsDesc: desc, Currency: currency})
			want["input_CustomerMSISDN"], want["input_ServiceProviderCode"] = party, spcSent
			ok = ok && docMSISDNOK(gw, party)
		case 1:
			_, err = c.B2C(context.Background(), B2CRequest{Amount: amount, CustomerMSISDN: party, ServiceProviderCode: spc,
				TransactionReference: txRef, ThirdPartyConversationID: ref, PaymentItemsDesc: desc, Currency: currency})
			want["input_CustomerMSISDN"], want["input_ServiceProviderCode"] = party, spcSent
			ok = ok && docMSISDNOK(gw, party)
			descKey = "input_PaymentItemsDesc"
		case 2:
			_, err = c.B2B(context.Background(), B2BRequest{Amount: amount, PrimaryPartyCode: spc, ReceiverPartyCode: party,
				TransactionReference: txRef, ThirdPartyConversationID: ref, PurchasedItemsDesc: desc, Currency: currency})
			want["input_PrimaryPartyCode"], want["input_ReceiverPartyCode"] = spcSent, party
			ok = ok && docShortcodeOK(gw, party)
		}
		if gw == GatewayOpenAPI {
			cur := currency
			if cur == "" {
				cur = "TZS"
			}
			want["input_Country"], want["input_Currency"], want[descKey] = "TZN", cur, desc
			// The market's currency, or the one set with WithCurrency.
			ok = ok && cur == "TZS" && docDescriptionOK(desc)
		} else {
			ok = ok && (currency == "" || currency == "MZN")
		}
		judgeFuzzCall(t, fc, err, ok, want, refKey(gw), ref)
	})
}

// FuzzReversalRequests covers reversals on both gateways.
func FuzzReversalRequests(f *testing.F) {
	f.Add(false, "49XCD123F6", "", "ORG001", oaRef, "", "")
	f.Add(true, "49XCDF6", "10", "171717", mzRef, "MPesa2018", "Mpesa2019")
	f.Add(true, "49XC-DF6", "0", "1", "r/1", "", "")
	f.Add(false, strings.Repeat("9", 21), "1.", "", "", "x", "y")
	f.Add(true, "49XCDF6", "", "171717", "", "Init\x00iator", "Cred\"ential\\")
	f.Add(true, "49XCDF6", "", "171717", "", "MPesa\xff2018", "Mpesa2019") // invalid UTF-8: refused
	fc := newFuzzClients(f)
	f.Fuzz(func(t *testing.T, moz bool, txID, amount, spc, ref, initiator, credential string) {
		fc.rec.reset()
		c, gw := fc.client(moz)
		_, err := c.Reversal(context.Background(), ReversalRequest{TransactionID: txID, ReversalAmount: amount, ServiceProviderCode: spc,
			ThirdPartyConversationID: ref, InitiatorIdentifier: initiator, SecurityCredential: Secret(credential)})
		ok := docTxIDOK(gw, txID) && (amount == "" || docAmountOK(amount)) && docShortcodeOK(gw, spc) &&
			(ref == "" || docPaymentRefOK(gw, ref))
		want := map[string]string{"input_TransactionID": txID, "input_ServiceProviderCode": spc}
		if amount != "" {
			want["input_ReversalAmount"] = amount
		}
		if gw == GatewayMozambique {
			// The documents only say both are required strings; a JSON
			// body cannot carry invalid UTF-8, and a control character is
			// no part of an identifier or a credential, so such a value
			// must be refused.
			ok = ok && docPlainOK(initiator) && docPlainOK(credential)
			want["input_InitiatorIdentifier"], want["input_SecurityCredential"] = initiator, credential
		} else {
			// Mozambique's fields are refused rather than dropped, so that
			// a caller does not believe them sent.
			ok = ok && initiator == "" && credential == ""
			want["input_Country"] = "TZN"
		}
		judgeFuzzCall(t, fc, err, ok, want, refKey(gw), ref)
	})
}

// FuzzStatusRequests covers the transaction status query on both gateways.
func FuzzStatusRequests(f *testing.F) {
	f.Add(false, "5C1400CVRO", "ORG001", oaRef, "")
	f.Add(true, mzConvSync, "171717", "11114 x+y", "")
	f.Add(false, mzConvSync, "ORG001", "", "GHA")
	f.Add(false, strings.Repeat("Z", 33), "ORG 01", "r&b=1", "TZ")
	f.Add(true, "a%20b&c=d", "171717", "", "")
	fc := newFuzzClients(f)
	f.Fuzz(func(t *testing.T, moz bool, queryRef, spc, ref, country string) {
		fc.rec.reset()
		c, gw := fc.client(moz)
		_, err := c.TransactionStatus(context.Background(), TransactionStatusRequest{QueryReference: queryRef, ServiceProviderCode: spc,
			ThirdPartyConversationID: ref, Country: country})
		ok := docShortcodeOK(gw, spc) && (ref == "" || docQueryOwnRefOK(gw, ref))
		want := map[string]string{"input_QueryReference": queryRef, "input_ServiceProviderCode": spc}
		if gw == GatewayMozambique {
			// A plain string in the documents (docs/gateways.md M7).
			ok = ok && docPlainOK(queryRef) && (country == "" || country == "MOZ")
		} else {
			cty := country
			if cty == "" {
				cty = "TZN"
			}
			want["input_Country"] = cty
			ok = ok && docQueryRef.MatchString(queryRef) && cty == "TZN"
		}
		judgeFuzzCall(t, fc, err, ok, want, refKey(gw), ref)
	})
}

// FuzzBeneficiaryRequests covers queryBeneficiaryName and Mozambique's
// queryCustomerName.
func FuzzBeneficiaryRequests(f *testing.F) {
	f.Add(false, oaMSISDN, "ORG001", oaRef, "")
	f.Add(true, mzMSISDN, "171717", "", "")
	f.Add(true, oaMSISDN, "171717", "", "")
	f.Add(false, "0744553111", "ORG", "r-1", "GH")
	fc := newFuzzClients(f)
	f.Fuzz(func(t *testing.T, moz bool, msisdn, spc, ref, country string) {
		fc.rec.reset()
		c, gw := fc.client(moz)
		_, err := c.BeneficiaryName(context.Background(), BeneficiaryNameRequest{CustomerMSISDN: msisdn, ServiceProviderCode: spc,
			ThirdPartyConversationID: ref, Country: country})
		ok := docMSISDNOK(gw, msisdn) && docShortcodeOK(gw, spc) && (ref == "" || docQueryOwnRefOK(gw, ref))
		want := map[string]string{"input_CustomerMSISDN": msisdn, "input_ServiceProviderCode": spc}
		if gw == GatewayOpenAPI {
			cty := country
			if cty == "" {
				cty = "TZN"
			}
			want["input_Country"], want["input_KycQueryType"] = cty, "Name"
			ok = ok && cty == "TZN"
		} else {
			ok = ok && (country == "" || country == "MOZ")
		}
		if !judgeFuzzCall(t, fc, err, ok, want, refKey(gw), ref) {
			checkMSISDNMasked(t, err, msisdn)
		}
	})
}

// FuzzDirectDebitRequests covers the four direct debit calls on OpenAPI,
// and checks that Mozambique refuses them all without I/O.
func FuzzDirectDebitRequests(f *testing.F) {
	f.Add(false, uint8(0), oaMSISDN, "", oaMandate, "", "", "06", "20160324", "20161126", "01", "22", "", false, true)
	f.Add(false, uint8(0), oaMSISDN, "", "3333", "", "", "", "", "", "", "22", "", false, false)
	f.Add(false, uint8(0), oaMSISDN, "", "3333", "", "", "01", "20240101", "", "", "", "", false, false)
	f.Add(false, uint8(0), oaMSISDN, "", "3333", "", "", "04", "20230230", "20230101", "32", "00", "", false, true)
	f.Add(false, uint8(1), oaMSISDN, oaToken, oaMandate, "15045", "10", "", "", "", "", "", "", false, false)
	f.Add(false, uint8(1), "", "cvgw+BZ3/O9i==", oaMandate, "1234567890123", "0", "", "", "", "", "", "", false, false)
	f.Add(false, uint8(2), "", oaToken, oaMandate, "", "", "", "", "", "", "", "200", true, false)
	f.Add(false, uint8(2), oaMSISDN, "", oaMandate, "", "", "", "", "", "", "", "", true, false)
	f.Add(false, uint8(3), oaMSISDN, oaToken, oaMandate, "15045", "", "", "", "", "", "", "", false, false)
	f.Add(false, uint8(3), "", "", "Test_1", "", "", "", "", "", "", "", "", false, false)
	f.Add(true, uint8(1), mzMSISDN, "", oaMandate, "", "10", "", "", "", "", "", "", false, false)
	fc := newFuzzClients(f, WithServiceProviderCode("ORG001"))
	f.Fuzz(func(t *testing.T, moz bool, kind uint8, msisdn, token, mandate, mandateID, amount, freq, first, expiry, start, end, balance string,
		queryBalance, agreed bool) {
		fc.rec.reset()
		c, _ := fc.client(moz)
		ctx := context.Background()
		var err error
		want := map[string]string{"input_Country": "TZN", "input_ServiceProviderCode": "ORG001", "input_ThirdPartyReference": mandate}
		party := (msisdn != "" || token != "") && (msisdn == "" || docMSISDN.MatchString(msisdn)) &&
			(token == "" || docToken.MatchString(token)) && docMandate.MatchString(mandate) &&
			(mandateID == "" || docMandateID.MatchString(mandateID))
		optional := func(key, v string) {
			if v != "" {
				want[key] = v
			}
		}
		addParty := func() {
			optional("input_CustomerMSISDN", msisdn)
			optional("input_MsisdnToken", token)
			optional("input_MandateID", mandateID)
		}
		var ok bool
		switch kind % 4 {
		case 0:
			_, err = c.DirectDebitCreate(ctx, DirectDebitCreateRequest{CustomerMSISDN: msisdn, MandateReference: mandate, AgreedTC: agreed,
				Frequency: Frequency(freq), FirstPaymentDate: first, ExpiryDate: expiry, StartRangeOfDays: start, EndRangeOfDays: end})
			ok = docMSISDN.MatchString(msisdn) && docMandate.MatchString(mandate) && docScheduleOK(freq, first, expiry, start, end)
			want["input_CustomerMSISDN"] = msisdn
			want["input_AgreedTC"] = map[bool]string{true: "1", false: "0"}[agreed]
			optional("input_Frequency", freq)
			optional("input_FirstPaymentDate", first)
			optional("input_ExpiryDate", expiry)
			optional("input_StartRangeOfDays", start)
			optional("input_EndRangeOfDays", end)
		case 1:
			_, err = c.DirectDebitPayment(ctx, DirectDebitPaymentRequest{CustomerMSISDN: msisdn, MsisdnToken: token, MandateReference: mandate,
				MandateID: mandateID, Amount: amount})
			ok = party && docAmountOK(amount)
			addParty()
			want["input_Amount"], want["input_Currency"] = amount, "TZS"
		case 2:
			_, err = c.DirectDebitQuery(ctx, DirectDebitQueryRequest{CustomerMSISDN: msisdn, MsisdnToken: token, MandateReference: mandate,
				MandateID: mandateID, QueryBalanceAmount: queryBalance, BalanceAmount: balance})
			ok = party && (docAmountOK(balance) || (!queryBalance && balance == ""))
			addParty()
			optional("input_BalanceAmount", balance)
			want["input_Currency"] = "TZS"
			want["input_QueryBalanceAmount"] = map[bool]string{true: "True", false: "False"}[queryBalance]
		case 3:
			_, err = c.DirectDebitCancel(ctx, DirectDebitCancelRequest{CustomerMSISDN: msisdn, MsisdnToken: token, MandateReference: mandate,
				MandateID: mandateID})
			ok = party
			addParty()
		}
		if moz {
			if !errors.Is(err, ErrNotSupported) {
				t.Fatalf("direct debit on Mozambique: %v", err)
			}
			if n := len(fc.rec.requests()); n != 0 {
				t.Fatalf("direct debit on Mozambique sent %d requests", n)
			}
			return
		}
		if !judgeFuzzCall(t, fc, err, ok, want, "input_ThirdPartyConversationID", "") {
			checkMSISDNMasked(t, err, msisdn)
		}
	})
}

// checkMSISDNMasked fails when the CustomerMSISDN field of a validation
// error shows the customer number it refused.
func checkMSISDNMasked(t *testing.T, err error, msisdn string) {
	t.Helper()
	var ve *ValidationError
	if len(msisdn) <= 6 || strings.Contains(msisdn, "*") || !errors.As(err, &ve) {
		return
	}
	for _, f := range ve.Fields {
		if f.Field == "CustomerMSISDN" && strings.Contains(f.Value, msisdn) {
			t.Fatalf("the error shows the MSISDN: %v", err)
		}
	}
}

// docScheduleOK is the portal's frequency rule for direct debit creation,
// with real dates, days of the month, an expiry not before the first payment
// and a day range in order.
func docScheduleOK(freq, first, expiry, start, end string) bool {
	if (first != "" && !docDateOK(first)) || (expiry != "" && !docDateOK(expiry)) ||
		(start != "" && !docDayOK(start)) || (end != "" && !docDayOK(end)) {
		return false
	}
	if first != "" && expiry != "" && expiry < first {
		return false
	}
	if start != "" && end != "" && start > end {
		return false
	}
	switch freq {
	case "":
		return first == "" && start == "" && end == ""
	case "01", "02", "03", "08":
		return first != "" && start == "" && end == ""
	case "04", "05", "06", "07":
		return first != ""
	}
	return false
}
