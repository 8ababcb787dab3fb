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

// TestQuickstart runs the README's main job as `go run ./examples/quickstart`
// does: no environment, the embedded simulator.
func TestQuickstart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	require.NoError(t, run(ctx, &out, env(nil)))
	got := out.String()
	t.Log("\n" + got)

	for _, step := range []string{
		"(asynchronous: the result comes by callback)",
		"callback   INS-0 Request processed successfully",
		"verified by a status query: true",
		"3. Transaction status\n   status     Completed, reversed: false",
		"4. Reversal of half: 5.00 TZS",
		"5. Transaction status after the reversal\n   status     Completed, reversed: true",
		"done in ",
	} {
		assert.Contains(t, got, step)
	}
	assert.NotContains(t, got, mpesatest.MSISDNSuccess, "the customer's number is masked")
}

// TestQuickstartNamesMissingSettings: with MPESA_API_KEY set, every missing
// setting is named at once, before anything is sent.
func TestQuickstartNamesMissingSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		missing []string
	}{
		{"openapi", map[string]string{"MPESA_API_KEY": "k"},
			[]string{"MPESA_MARKET", "MPESA_SERVICE_PROVIDER_CODE"}},
		{"openapi shortcode", map[string]string{"MPESA_API_KEY": "k", "MPESA_MARKET": "vodacomTZN"},
			[]string{"MPESA_SERVICE_PROVIDER_CODE"}},
		{"mozambique", map[string]string{"MPESA_API_KEY": "k", "MPESA_MARKET": "mozambique-v1x", "MPESA_SERVICE_PROVIDER_CODE": "171717"},
			[]string{"MPESA_CUSTOMER_MSISDN", "MPESA_PUBLIC_KEY", "MPESA_INITIATOR_ID", "MPESA_SECURITY_CREDENTIAL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			err := run(context.Background(), &out, env(tc.env))
			require.Error(t, err)
			for _, m := range tc.missing {
				assert.Contains(t, err.Error(), m)
			}
			assert.Contains(t, err.Error(), "unset MPESA_API_KEY", "says how to run without credentials")
			assert.Empty(t, out.String(), "nothing ran")
		})
	}

	err := run(context.Background(), &strings.Builder{}, env(map[string]string{
		"MPESA_API_KEY": "k", "MPESA_MARKET": "Narnia", "MPESA_SERVICE_PROVIDER_CODE": "000000"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `MPESA_MARKET "Narnia"`)
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}
