package mpesa

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewClientDefaults(t *testing.T) {
	t.Parallel()
	c, err := NewClient(testAPIKey, WithMarket(MarketTanzania))
	require.NoError(t, err)
	assert.Equal(t, GatewayOpenAPI, c.Gateway())
	assert.Equal(t, Sandbox, c.Environment())
	assert.Equal(t, MarketTanzania, c.Market())
	assert.Equal(t, "TZS", c.Currency())
	assert.Equal(t, []string{"*"}, c.header["Origin"])
	assert.Equal(t, []string{"mpesa-go/" + Version}, c.header["User-Agent"])
	assert.GreaterOrEqual(t, c.paymentTimeout, 120*time.Second, "payments must outlast a PIN prompt")
	assert.Equal(t, DefaultQueryTimeout, c.queryTimeout)
	assert.Equal(t, DefaultMaxRetries, c.maxRetries)
	assert.NotNil(t, c.http.Jar, "the default client keeps cookies")
	assert.NotNil(t, c.sessionCache())
	assert.Equal(t, "https://openapi.m-pesa.com/sandbox/ipg/v2/vodacomTZN/c2bPayment/singleStage/", c.endpointURL(APIC2B))

	_, pub := testKey(t)
	m, err := NewClient(testAPIKey, WithGateway(GatewayMozambique), WithPublicKey(pub), WithEnvironment(Production))
	require.NoError(t, err)
	assert.Equal(t, MarketMozambique, m.Market())
	assert.Equal(t, "MZN", m.Currency())
	assert.Equal(t, []string{"developer.mpesa.vm.co.mz"}, m.header["Origin"])
	assert.IsType(t, staticAuth{}, m.d.auth(APIC2B), "Mozambique has no session")
	assert.Equal(t, "https://api.vm.co.mz:18354/ipg/v1x/reversal/", m.endpointURL(APIReversal))
	assert.Empty(t, m.endpointURL(APIDirectDebitCreate))

	drc, err := NewClient(testAPIKey, WithMarket(MarketDRC), WithCurrency("CDF"))
	require.NoError(t, err)
	assert.Equal(t, "CDF", drc.Currency())
}

func TestNewClientNamesEveryBadOption(t *testing.T) {
	t.Parallel()
	_, err := NewClient("",
		WithMarket("safaricomKEN"),
		WithGateway(Gateway(7)),
		WithEnvironment(Environment(9)),
		WithCurrency("DOLLARS"),
		WithBaseURL("ftp://example.com"),
		WithPublicKey("not a key"),
		WithOrigin("a\r\nX-Evil: 1"),
		WithHTTPClient(nil),
		WithLogger(nil),
		WithPaymentTimeout(30*time.Second),
		WithQueryTimeout(0),
		WithMaxRetries(-1),
		WithRetryBackoff(time.Second, time.Millisecond),
		WithUserAgent(""),
		WithSessionLifetime(time.Millisecond),
		WithSessionActivation(-time.Second),
		nil,
	)
	require.Error(t, err)
	for _, name := range []string{"apiKey", "WithMarket", "WithGateway", "WithEnvironment", "WithCurrency", "WithBaseURL",
		"WithPublicKey", "WithOrigin", "WithHTTPClient", "WithLogger", "WithPaymentTimeout", "WithQueryTimeout",
		"WithMaxRetries", "WithRetryBackoff", "WithUserAgent", "WithSessionLifetime", "WithSessionActivation", "nil Option"} {
		assert.Contains(t, err.Error(), name)
	}
	assert.Contains(t, err.Error(), "shorter than a customer needs", "the payment timeout error says why")
}

func TestNewClientCombinations(t *testing.T) {
	t.Parallel()
	_, err := NewClient(testAPIKey)
	assert.ErrorContains(t, err, "WithMarket: a market is required")
	_, err = NewClient(testAPIKey, WithGateway(GatewayMozambique))
	assert.ErrorContains(t, err, "WithPublicKey: the Mozambique gateway needs its public key")
	_, pub := testKey(t)
	_, err = NewClient(testAPIKey, WithGateway(GatewayMozambique), WithPublicKey(pub), WithMarket(MarketGhana))
	assert.ErrorContains(t, err, "WithMarket: the Mozambique gateway serves vodacomMOZ only")
	_, err = NewClient(testAPIKey, WithBaseURL("https://user:pw@example.com"), WithMarket(MarketGhana))
	assert.ErrorContains(t, err, "WithBaseURL")
	_, err = NewClient(testAPIKey, WithBaseURL("https://example.com/x?y=1"), WithMarket(MarketGhana))
	assert.ErrorContains(t, err, "WithBaseURL")
	_, err = NewClient("key\n", WithMarket(MarketGhana))
	assert.ErrorContains(t, err, "apiKey: contains control characters")
	// A key too long for the RSA modulus is reported without the key.
	long := strings.Repeat("K", 600)
	_, err = NewClient(long, WithMarket(MarketGhana))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), long[:30])
}

func TestWithHTTPClientIsCopiedNotMutated(t *testing.T) {
	t.Parallel()
	hc := &http.Client{Timeout: 3 * time.Minute}
	before := *hc
	c, err := NewClient(testAPIKey, WithMarket(MarketGhana), WithHTTPClient(hc))
	require.NoError(t, err)
	assert.NotSame(t, hc, c.http)
	assert.Nil(t, hc.CheckRedirect, "the caller's client keeps its redirect policy")
	assert.Equal(t, before.Timeout, hc.Timeout)
	assert.Nil(t, hc.Jar)
	assert.NotNil(t, c.http.CheckRedirect, "the copy refuses redirects")
	assert.Equal(t, 3*time.Minute, c.http.Timeout)
}

func TestShortHTTPClientTimeoutIsWarned(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	_, err := NewClient(testAPIKey, WithMarket(MarketGhana), WithLogger(logger), WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	require.NoError(t, err)
	assert.Contains(t, buf.String(), "shorter than the payment timeout")
}

func TestClientFormattingHidesSecrets(t *testing.T) {
	t.Parallel()
	c, err := NewClient(testAPIKey, WithMarket(MarketGhana))
	require.NoError(t, err)
	for _, s := range []string{
		fmt.Sprint(c), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s", c), //lint:ignore S1025 the %s verb is what is tested
		fmt.Sprintf("%v", *c), fmt.Sprintf("%+v", *c), fmt.Sprintf("%#v", *c),
		fmt.Sprintf("%+v", c.d), fmt.Sprintf("%#v", c.d),
	} {
		assert.NotContains(t, s, testAPIKey)
		assert.NotContains(t, s, c.d.(*openAPI).key.cred.authz[0][len("Bearer "):len("Bearer ")+40])
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("client", "c", c)
	assert.Contains(t, buf.String(), "vodafoneGHA")
	assert.NotContains(t, buf.String(), testAPIKey)
}
