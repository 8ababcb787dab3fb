//go:build go1.24

package mpesa

import (
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFIPSOnlyModeIsATypedError: under GODEBUG=fips140=only, Go refuses the
// RSA PKCS #1 v1.5 encryption every gateway requires. NewClient must say so
// with an error a caller can match (hardening issue, item 19), not an
// untyped wrapped one. GODEBUG=fips140 is read at start-up, so the test runs
// itself in a child process.
func TestFIPSOnlyModeIsATypedError(t *testing.T) {
	t.Parallel()
	if os.Getenv("MPESA_FIPS_CHILD") == "1" {
		_, pub := testKey(t)
		for _, opts := range [][]Option{
			{WithMarket(MarketTanzania)},
			{WithGateway(GatewayMozambique), WithPublicKey(pub)},
		} {
			_, err := NewClient(testAPIKey, opts...)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrFIPSOnly), "%v", err)
			assert.NotContains(t, err.Error(), testAPIKey)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFIPSOnlyModeIsATypedError$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MPESA_FIPS_CHILD=1", "GODEBUG=fips140=only")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "PASS")
}
