package mpesa

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMarkets(t *testing.T) {
	t.Parallel()
	want := map[Market][4]string{
		MarketGhana:      {"GHA", "GHS", "233", "vodafoneGHA"},
		MarketTanzania:   {"TZN", "TZS", "255", "vodacomTZN"},
		MarketLesotho:    {"LES", "LSL", "266", "vodacomLES"},
		MarketDRC:        {"DRC", "USD", "243", "vodacomDRC"},
		MarketMozambique: {"MOZ", "MZN", "258", "vodacomMOZ"},
	}
	assert.Len(t, Markets(), len(want))
	for _, m := range Markets() {
		w := want[m]
		assert.True(t, m.Valid(), m)
		assert.Equal(t, w[0], m.Country(), m)
		assert.Equal(t, w[1], m.Currency(), m)
		assert.Equal(t, w[2], m.CallingCode(), m)
		assert.Equal(t, w[3], string(m))
		assert.NotEmpty(t, m.Name())
	}
	assert.False(t, Market("airtelKEN").Valid())
	assert.Equal(t, "", Market("x").Country())
}

func TestEndpointURLs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		g    Gateway
		env  Environment
		m    Market
		base string
		api  API
		want string
	}{
		{GatewayOpenAPI, Sandbox, MarketGhana, "", APIGetSession, "https://openapi.m-pesa.com/sandbox/ipg/v2/vodafoneGHA/getSession/"},
		{GatewayOpenAPI, Production, MarketTanzania, "", APIC2B, "https://openapi.m-pesa.com/openapi/ipg/v2/vodacomTZN/c2bPayment/singleStage/"},
		{GatewayOpenAPI, Sandbox, MarketLesotho, "", APIB2C, "https://openapi.m-pesa.com/sandbox/ipg/v2/vodacomLES/b2cPayment/"},
		{GatewayOpenAPI, Sandbox, MarketDRC, "", APIB2B, "https://openapi.m-pesa.com/sandbox/ipg/v2/vodacomDRC/b2bPayment/"},
		{GatewayOpenAPI, Sandbox, MarketMozambique, "", APIReversal, "https://openapi.m-pesa.com/sandbox/ipg/v2/vodacomMOZ/reversal/"},
		{GatewayOpenAPI, Sandbox, MarketGhana, "", APITransactionStatus, "https://openapi.m-pesa.com/sandbox/ipg/v2/vodafoneGHA/queryTransactionStatus/"},
		{GatewayOpenAPI, Sandbox, MarketGhana, "", APIDirectDebitCreate, "https://openapi.m-pesa.com/sandbox/ipg/v2/vodafoneGHA/directDebitCreation/"},
		{GatewayOpenAPI, Sandbox, MarketGhana, "", APIDirectDebitPayment, "https://openapi.m-pesa.com/sandbox/ipg/v2/vodafoneGHA/directDebitPayment/"},
		{GatewayOpenAPI, Sandbox, MarketGhana, "", APIDirectDebitQuery, "https://openapi.m-pesa.com/sandbox/ipg/v2/vodafoneGHA/queryDirectDebit/"},
		{GatewayOpenAPI, Sandbox, MarketGhana, "", APIDirectDebitCancel, "https://openapi.m-pesa.com/sandbox/ipg/v2/vodafoneGHA/directDebitCancel/"},
		{GatewayOpenAPI, Sandbox, MarketGhana, "", APIBeneficiaryName, "https://openapi.m-pesa.com/sandbox/ipg/v2/vodafoneGHA/queryBeneficiaryName/"},
		{GatewayOpenAPI, Sandbox, MarketGhana, "http://127.0.0.1:8080/proxy", APIC2B, "http://127.0.0.1:8080/proxy/sandbox/ipg/v2/vodafoneGHA/c2bPayment/singleStage/"},

		{GatewayMozambique, Sandbox, MarketMozambique, "", APIC2B, "https://api.sandbox.vm.co.mz:18352/ipg/v1x/c2bPayment/singleStage/"},
		{GatewayMozambique, Sandbox, MarketMozambique, "", APIB2C, "https://api.sandbox.vm.co.mz:18345/ipg/v1x/b2cPayment/"},
		{GatewayMozambique, Sandbox, MarketMozambique, "", APIB2B, "https://api.sandbox.vm.co.mz:18349/ipg/v1x/b2bPayment/"},
		{GatewayMozambique, Sandbox, MarketMozambique, "", APITransactionStatus, "https://api.sandbox.vm.co.mz:18353/ipg/v1x/queryTransactionStatus/"},
		{GatewayMozambique, Sandbox, MarketMozambique, "", APIReversal, "https://api.sandbox.vm.co.mz:18354/ipg/v1x/reversal/"},
		{GatewayMozambique, Sandbox, MarketMozambique, "", APIBeneficiaryName, "https://api.sandbox.vm.co.mz:19323/ipg/v1x/queryCustomerName/"},
		{GatewayMozambique, Production, MarketMozambique, "", APIC2B, "https://api.vm.co.mz:18352/ipg/v1x/c2bPayment/singleStage/"},
		{GatewayMozambique, Production, MarketMozambique, "https://mz-proxy.internal", APIReversal, "https://mz-proxy.internal/ipg/v1x/reversal/"},
	}
	_, pub := testKey(t)
	for _, tt := range tests {
		opts := []Option{WithGateway(tt.g), WithEnvironment(tt.env), WithMarket(tt.m), WithPublicKey(pub)}
		if tt.base != "" {
			opts = append(opts, WithBaseURL(tt.base))
		}
		c, err := NewClient(testAPIKey, opts...)
		require.NoError(t, err)
		assert.Equal(t, tt.want, c.endpointURL(tt.api))
	}
}

func TestAPIsOfferedPerGateway(t *testing.T) {
	t.Parallel()
	darajaOnly := map[API]bool{APIToken: true, APISTKQuery: true, APIAccountBalance: true, APIC2BRegister: true,
		APIC2BSimulate: true, APIPullRegister: true, APIPullQuery: true}
	for a := API(1); a < apiCount; a++ {
		if darajaOnly[a] {
			assert.False(t, offeredBy(a, GatewayOpenAPI), a)
			assert.True(t, offeredBy(a, GatewayDaraja), a)
			continue
		}
		assert.True(t, offeredBy(a, GatewayOpenAPI), a)
		assert.NotEmpty(t, apiMethod(a), a)
	}
	for _, a := range []API{APIGetSession, APIDirectDebitCreate, APIDirectDebitPayment, APIDirectDebitQuery, APIDirectDebitCancel} {
		assert.False(t, offeredBy(a, GatewayMozambique), a)
	}
	for _, a := range []API{APIC2B, APIB2C, APIB2B, APIReversal, APITransactionStatus, APIBeneficiaryName} {
		assert.True(t, offeredBy(a, GatewayMozambique), a)
	}
	assert.Equal(t, "PUT", apiMethod(APIReversal))
	assert.Equal(t, "PUT", apiMethod(APIDirectDebitCancel))
	assert.Equal(t, "GET", apiMethod(APIDirectDebitQuery))
	assert.Equal(t, "api(99)", API(99).String())
	assert.Equal(t, "openapi-v2", GatewayOpenAPI.String())
	assert.Equal(t, "mozambique-v1x", GatewayMozambique.String())
	assert.Equal(t, "production", Production.String())
}

func TestNormalizeMSISDN(t *testing.T) {
	t.Parallel()
	good := []struct {
		m    Market
		in   string
		want string
	}{
		{MarketTanzania, "+255 74 455 3111", "255744553111"},
		{MarketTanzania, "00255744553111", "255744553111"},
		{MarketTanzania, "0744553111", "255744553111"},
		{MarketTanzania, "744553111", "255744553111"},
		{MarketTanzania, "255-744-553-111", "255744553111"},
		{MarketTanzania, "(0744) 553.111", "255744553111"},
		{MarketMozambique, "84 333 0333", "258843330333"},
		{MarketMozambique, "+258843330333", "258843330333"},
		{MarketMozambique, "258843330333", "258843330333"},
		{MarketGhana, "024 123 4567", "233241234567"},
		{MarketGhana, "+233 50 123 4567", "233501234567"},
		{MarketLesotho, "5012 3456", "26650123456"},
		{MarketLesotho, "+266 6212 3456", "26662123456"},
		{MarketDRC, "081 234 5678", "243812345678"},
		{MarketDRC, "+243 99 123 4567", "243991234567"},
	}
	for _, tt := range good {
		got, err := NormalizeMSISDN(tt.m, tt.in)
		if assert.NoError(t, err, "%s %q", tt.m, tt.in) {
			assert.Equal(t, tt.want, got, "%s %q", tt.m, tt.in)
		}
	}
	bad := []struct {
		m  Market
		in string
	}{
		{MarketTanzania, "+258843330333"}, // a Mozambican number
		{MarketTanzania, "+255 24 455 3111"},
		{MarketTanzania, "74455311"},
		{MarketTanzania, "07445531111"},
		{MarketTanzania, "0744-553-11x"},
		{MarketTanzania, ""},
		{MarketTanzania, "+"},
		{MarketMozambique, "21 333 033"},
		{MarketMozambique, "94 333 0333"},
		{MarketLesotho, "744553111"},
		{Market("airtelKEN"), "0712345678"},
		{MarketGhana, "2+33241234567"},
	}
	for _, tt := range bad {
		_, err := NormalizeMSISDN(tt.m, tt.in)
		if assert.Error(t, err, "%s %q", tt.m, tt.in) {
			assert.ErrorIs(t, err, ErrInvalidMSISDN)
			if len(tt.in) > 8 {
				assert.NotContains(t, err.Error(), tt.in, "the number is masked")
			}
		}
	}
}

func FuzzNormalizeMSISDN(f *testing.F) {
	for _, s := range []string{"+255 74 455 3111", "0744553111", "84 333 0333", "", "+", "00", "0", "++255", "255\u00a0744553111"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, m := range Markets() {
			got, err := NormalizeMSISDN(m, in)
			if err != nil {
				continue
			}
			// Whatever is accepted is in gateway form and stable.
			if len(got) != len(m.CallingCode())+m.NationalNumberLength() || got[:len(m.CallingCode())] != m.CallingCode() {
				t.Fatalf("%s %q -> %q", m, in, got)
			}
			again, err := NormalizeMSISDN(m, got)
			if err != nil || again != got {
				t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, got, again, err)
			}
		}
	})
}
