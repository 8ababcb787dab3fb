package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa/mpesatest"
)

// TestQuickstart runs the README's main job as `go run ./examples/quickstart
// -gateway …` does, on each gateway: no environment, the embedded simulator.
func TestQuickstart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		gateway string
		steps   []string
		msisdn  string
	}{
		{"openapi", []string{
			"OpenAPI v2 sandbox, market vodacomTZN",
			"(asynchronous: the result comes by callback)",
			"callback   INS-0 Request processed successfully",
			"verified by a status query: true",
			"3. Transaction status\n   status     Completed, reversed: false",
			"4. Reversal of half: 5.00 TZS",
			"5. Transaction status after the reversal\n   status     Completed, reversed: true",
			"done in ",
		}, mpesatest.MSISDNSuccess},
		{"mozambique", []string{
			"Vodacom Mozambique v1x sandbox",
			"(asynchronous: the result comes by callback)",
			"callback   0 Request Processed Successfully",
			"verified by a status query: true",
			"3. Transaction status\n   status     Completed, in",
			"4. Reversal of half: 5.00 MZN",
			"done in ",
		}, mpesatest.MozambiqueMSISDNSuccess},
		{"daraja", []string{
			"Safaricom Daraja sandbox, shortcode 174379",
			"1. STK push",
			"2. The STK callback\n   callback   0 The service request is processed successfully., verified by a status query: true",
			"   paid       10.00 KES, M-Pesa receipt ",
			"3. STK query\n   status     Completed (0 ",
			"4. B2C payment: 10 KES",
			"5. Transaction status of the B2C, reconciled through the results hub\n   status     Completed",
			"6. Reversal of half the customer's payment: 5 KES",
			"   reversed   ",
			"done in ",
		}, mpesatest.DarajaMSISDNSuccess},
	}
	for _, tc := range tests {
		t.Run(tc.gateway, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var out strings.Builder
			require.NoError(t, run(ctx, &out, tc.gateway, env(nil)), out.String())
			got := out.String()
			t.Log("\n" + got)
			for _, step := range tc.steps {
				assert.Contains(t, got, step)
			}
			assert.NotContains(t, got, tc.msisdn, "the customer's number is masked")
		})
	}
	require.ErrorContains(t, run(context.Background(), &strings.Builder{}, "narnia", env(nil)), `-gateway "narnia"`)
}

// TestQuickstartNamesMissingSettings: with the gateway's key set, every
// missing setting is named at once, before anything is sent.
func TestQuickstartNamesMissingSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, gateway string
		env           map[string]string
		missing       []string
		unset         string
	}{
		{"openapi", "openapi", map[string]string{"MPESA_API_KEY": "k"},
			[]string{"MPESA_MARKET", "MPESA_SERVICE_PROVIDER_CODE"}, "MPESA_API_KEY"},
		{"openapi shortcode", "openapi", map[string]string{"MPESA_API_KEY": "k", "MPESA_MARKET": "vodacomTZN"},
			[]string{"MPESA_SERVICE_PROVIDER_CODE"}, "MPESA_API_KEY"},
		{"mozambique", "mozambique", map[string]string{"MPESA_API_KEY": "k", "MPESA_SERVICE_PROVIDER_CODE": "171717"},
			[]string{"MPESA_CUSTOMER_MSISDN", "MPESA_PUBLIC_KEY", "MPESA_INITIATOR_ID", "MPESA_SECURITY_CREDENTIAL"}, "MPESA_API_KEY"},
		{"daraja", "daraja", map[string]string{"MPESA_CONSUMER_KEY": "k"},
			[]string{"MPESA_CONSUMER_SECRET", "MPESA_SHORTCODE", "MPESA_PASSKEY", "MPESA_INITIATOR_NAME",
				"MPESA_INITIATOR_PASSWORD", "MPESA_CALLBACK_ADDR", "MPESA_CALLBACK_URL"}, "MPESA_CONSUMER_KEY"},
		{"daraja callbacks", "daraja", map[string]string{"MPESA_CONSUMER_KEY": "k", "MPESA_CONSUMER_SECRET": "s",
			"MPESA_SHORTCODE": "174379", "MPESA_PASSKEY": "p", "MPESA_INITIATOR_NAME": "testapi", "MPESA_INITIATOR_PASSWORD": "pw"},
			[]string{"MPESA_CALLBACK_ADDR", "MPESA_CALLBACK_URL"}, "MPESA_CONSUMER_KEY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			err := run(context.Background(), &out, tc.gateway, env(tc.env))
			require.Error(t, err)
			for _, m := range tc.missing {
				assert.Contains(t, err.Error(), m)
			}
			assert.Contains(t, err.Error(), "unset "+tc.unset, "says how to run without credentials")
			assert.Empty(t, out.String(), "nothing ran")
		})
	}

	err := run(context.Background(), &strings.Builder{}, "openapi", env(map[string]string{
		"MPESA_API_KEY": "k", "MPESA_MARKET": "Narnia", "MPESA_SERVICE_PROVIDER_CODE": "000000"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `MPESA_MARKET "Narnia"`)
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}
