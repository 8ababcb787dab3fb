package mpesa

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The rules of the validation issue (§1), each against the document it comes
// from. The invalid and edge cases of products_validation_test.go cover the
// same rules field by field.

// sentOrRefused runs call on a recording client and returns what was sent,
// or the *ValidationError.
func sentOrRefused(t *testing.T, gw Gateway, call callFunc, opts ...Option) (map[string]string, *ValidationError) {
	t.Helper()
	rec := &mockRecorder{}
	c := recordingClient(t, gw, rec, opts...)
	_, err := call(context.Background(), c)
	var ve *ValidationError
	if errors.As(err, &ve) {
		assert.Empty(t, rec.requests(), "a refused request sends nothing")
		return nil, ve
	}
	require.NoError(t, err)
	reqs := rec.requests()
	require.Len(t, reqs, 1)
	return reqs[0].params(t), nil
}

// TestMozambiqueFieldsArePlainStrings: the "Request Parameters" tables of
// the Mozambique document 'C2B, B2C, B2B, Query Transaction Status,
// Reversal' give ThirdPartyReference, TransactionReference, QueryReference
// and the shortcodes as strings, with no format; only INS-17 bounds the
// TransactionReference to 1–20 characters (docs/gateways.md M7). OpenAPI
// v2's regular expressions do not apply there.
func TestMozambiqueFieldsArePlainStrings(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 41)
	sent, ve := sentOrRefused(t, gwMZ, c2bCall(C2BRequest{Amount: "10", CustomerMSISDN: mzMSISDN, ServiceProviderCode: "171717",
		TransactionReference: "INV-2026-01", ThirdPartyConversationID: long}))
	require.Nil(t, ve)
	assert.Equal(t, "INV-2026-01", sent["input_TransactionReference"])
	assert.Equal(t, long, sent["input_ThirdPartyReference"])

	sent, ve = sentOrRefused(t, gwMZ, statusCall(TransactionStatusRequest{QueryReference: "INV-2026-01", ServiceProviderCode: "171717"}))
	require.Nil(t, ve)
	assert.Equal(t, "INV-2026-01", sent["input_QueryReference"])

	// What is physically impossible is still refused.
	_, ve = sentOrRefused(t, gwMZ, c2bCall(C2BRequest{Amount: "10", CustomerMSISDN: mzMSISDN, ServiceProviderCode: "171717",
		TransactionReference: strings.Repeat("x", 21), ThirdPartyConversationID: "ref\tone"}))
	require.NotNil(t, ve)
	assert.Len(t, ve.Fields, 2)
}

// TestOpenAPICountryAndCurrencyMustBeTheMarkets: the portal's "Markets"
// table fixes input_Country and input_Currency per market; anything else is
// refused by the gateway (INS-21 "Parameter validations failed", INS-26
// "Invalid Currency Used"), so it is refused before any I/O, naming the
// market's value. A currency configured with WithCurrency is allowed.
func TestOpenAPICountryAndCurrencyMustBeTheMarkets(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ country, currency, field string }{
		{"tzn", "", "Country"}, {"GHA", "", "Country"}, {"", "tzs", "Currency"}, {"", "GHS", "Currency"},
	} {
		_, ve := sentOrRefused(t, gwOA, c2bCall(with(validC2B(gwOA), func(r *C2BRequest) { r.Country, r.Currency = tt.country, tt.currency })))
		require.NotNil(t, ve, "%+v", tt)
		require.Len(t, ve.Fields, 1)
		assert.Equal(t, tt.field, ve.Fields[0].Field)
		assert.Contains(t, ve.Fields[0].Rule, map[string]string{"Country": "TZN", "Currency": "TZS"}[tt.field], "the error names the market's value")
	}
	drc, _ := mockGatewayClient(t, gwOA, WithMarket(MarketDRC), WithCurrency("CDF"))
	for _, cur := range []string{"CDF", "USD", ""} {
		_, err := drc.C2B(context.Background(), with(validC2B(gwOA), func(r *C2BRequest) { r.Currency = cur }))
		var ve *ValidationError
		assert.False(t, errors.As(err, &ve), "%q: the configured and the market's currency are allowed: %v", cur, err)
	}
}

// TestMozambiqueReversalInitiatorRefusesControlCharacters: the Mozambique
// reversal requires input_InitiatorIdentifier and input_SecurityCredential
// as strings ('C2B, B2C, B2B, Query Transaction Status, Reversal',
// Reversal, Request Parameters); a tab or another control character is no
// part of either, and was sent.
func TestMozambiqueReversalInitiatorRefusesControlCharacters(t *testing.T) {
	t.Parallel()
	_, ve := sentOrRefused(t, gwMZ, reversalCall(with(validReversal(gwMZ), func(r *ReversalRequest) {
		r.InitiatorIdentifier, r.SecurityCredential = "MPesa\t2018", "Mpesa\x1b2019"
	})))
	require.NotNil(t, ve)
	assert.Len(t, ve.Fields, 2)
	assert.NotContains(t, ve.Error(), "Mpesa\x1b2019", "the credential is not shown")
	_, err := NewClient(testAPIKey, WithGateway(GatewayMozambique), WithPublicKey(testPubB64), WithInitiator("MPesa\t2018", "Mpesa2019"))
	assert.ErrorContains(t, err, "WithInitiator")
}

// TestQueryDirectDebitIsAcknowledgedWithINS0: the Query Direct Debit page
// shows its acknowledgement with output_ResponseCode "INS-0", where every
// other product's page shows "0"; each is answered as its own page shows
// (docs/gateways.md O16).
func TestQueryDirectDebitIsAcknowledgedWithINS0(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, (&whCounter{}).fn)
	rec := whPost(h, whFixture(t, "openapi/query_direct_debit.json"))
	assert.Contains(t, rec.Body.String(), `"output_ResponseCode":"INS-0"`)
	rec = whPost(h, whFixture(t, "openapi/b2c.json"))
	assert.Contains(t, rec.Body.String(), `"output_ResponseCode":"0"`)
}
