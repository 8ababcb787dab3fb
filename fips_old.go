//go:build !go1.24

package mpesa

// fipsOnly reports whether the Go cryptography runs in FIPS 140-3 mode,
// which Go releases before 1.24 do not have.
func fipsOnly() bool { return false }
