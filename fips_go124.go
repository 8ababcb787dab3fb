//go:build go1.24

package mpesa

import "crypto/fips140"

// fipsOnly reports whether the Go cryptography runs in FIPS 140-3 mode;
// under GODEBUG=fips140=only it refuses PKCS #1 v1.5 encryption.
func fipsOnly() bool { return fips140.Enabled() }
