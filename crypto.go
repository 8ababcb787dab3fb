package mpesa

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
)

// OpenAPISandboxPublicKey is the platform public key published on the M-Pesa
// OpenAPI developer portal ("Platform Public Key"): base64 DER
// SubjectPublicKeyInfo, RSA 4096. It is the default key of GatewayOpenAPI.
// Production applications should pass the key their portal application shows
// with WithPublicKey.
const OpenAPISandboxPublicKey = "MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEArv9yxA69XQKBo24BaF/D+fvlqmGdYjqLQ5WtNBb5tquqGvAvG3WMFETVUSow/LizQalxj2ElMVrUmzu5mGGkxK08bWEXF7a1DEvtVJs6nppIlFJc2SnrU14AOrIrB28ogm58JjAl5BOQawOXD5dfSk7MaAA82pVHoIqEu0FxA8BOKU+RGTihRU+ptw1j4bsAJYiPbSX6i71gfPvwHPYamM0bfI4CmlsUUR3KvCG24rB6FNPcRBhM3jDuv8ae2kC33w9hEq8qNB55uw51vK7hyXoAa+U7IqP1y6nBdlN25gkxEA8yrsl1678cspeXr+3ciRyqoRgj9RD/ONbJhhxFvt1cLBh+qwK2eqISfBb06eRnNeC71oBokDm3zyCnkOtMDGl7IvnMfZfEPFCfg5QgJVk1msPpRvQxmEsrX9MQRyFVzgy2CWNIb7c+jPapyrNwoUbANlN8adU1m6yOuoX7F49x+OjiG2se0EJ6nafeKUXw/+hiJZvELUYgzKUtMAZVTNZfT8jjb58j8GVtuS+6TM2AutbejaCV84ZK58E2CRJqhmjQibEUO6KPdD7oTlEkFy52Y1uOOBXgYpqMzufNPmfdqqqSM4dU70PO8ogyKGiLAIxCetMjjm6FCMEA3Kc8K0Ig7/XtFm9By6VxTJK1Mg36TlHaZKP6VzVLXMtesJECAwEAAQ=="

// MinKeyBits is the smallest RSA modulus ParsePublicKey accepts. The gateways
// publish 4096-bit keys; anything under 2048 bits is refused as weak.
const MinKeyBits = 2048

// ErrInvalidPublicKey is matched (errors.Is) by every error of
// ParsePublicKey.
var ErrInvalidPublicKey = errors.New("mpesa: invalid public key")

// ErrFIPSOnly: the program runs with GODEBUG=fips140=only, under which Go
// refuses RSA PKCS #1 v1.5 encryption. Every M-Pesa gateway requires it for
// its bearer tokens and credentials, so no client can be made; run without
// fips140=only (fips140=on allows it).
var ErrFIPSOnly = errors.New("mpesa: FIPS 140-only mode forbids the RSA PKCS #1 v1.5 encryption the gateways require")

// ParsePublicKey parses a gateway public key: base64 DER SubjectPublicKeyInfo
// as the portals show it (line breaks and spaces are ignored), or the same in
// a PEM "PUBLIC KEY" block. A PEM "RSA PUBLIC KEY" (PKCS #1) block is also
// accepted. It refuses keys that are not RSA or are shorter than MinKeyBits.
func ParsePublicKey(s string) (*rsa.PublicKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidPublicKey)
	}
	var der []byte
	pkcs1 := false
	if strings.HasPrefix(s, "-----BEGIN") {
		block, rest := pem.Decode([]byte(s))
		if block == nil {
			return nil, fmt.Errorf("%w: malformed PEM", ErrInvalidPublicKey)
		}
		if strings.TrimSpace(string(rest)) != "" {
			return nil, fmt.Errorf("%w: unexpected data after the PEM block", ErrInvalidPublicKey)
		}
		switch block.Type {
		case "PUBLIC KEY":
		case "RSA PUBLIC KEY":
			pkcs1 = true
		default:
			return nil, fmt.Errorf("%w: PEM block is %q, want \"PUBLIC KEY\"", ErrInvalidPublicKey, block.Type)
		}
		der = block.Bytes
	} else {
		compact := strings.Map(func(r rune) rune {
			switch r {
			case ' ', '\t', '\r', '\n':
				return -1
			}
			return r
		}, s)
		var err error
		der, err = base64.StdEncoding.DecodeString(compact)
		if err != nil {
			// Tolerate keys pasted without their '=' padding.
			if der, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(compact, "=")); err != nil {
				return nil, fmt.Errorf("%w: not base64: %w", ErrInvalidPublicKey, err)
			}
		}
	}
	var pub *rsa.PublicKey
	if pkcs1 {
		k, err := x509.ParsePKCS1PublicKey(der)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidPublicKey, err)
		}
		pub = k
	} else {
		k, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return nil, fmt.Errorf("%w: not a DER SubjectPublicKeyInfo: %w", ErrInvalidPublicKey, err)
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: %T is not an RSA key", ErrInvalidPublicKey, k)
		}
		pub = rk
	}
	if bits := pub.N.BitLen(); bits < MinKeyBits {
		return nil, fmt.Errorf("%w: RSA key has %d bits, want at least %d", ErrInvalidPublicKey, bits, MinKeyBits)
	}
	return pub, nil
}

// rsaEncryptions counts encryptBearer calls; tests use it to prove that a
// steady-state call does no RSA work.
var rsaEncryptions atomic.Int64

// encryptBearer returns base64(RSA-PKCS#1-v1.5-encrypt(pub, secret)), the
// bearer token both gateways expect: of the API key for getSession and for
// every Mozambique call, of the session ID for the other OpenAPI calls.
//
// This is the package's only RSA operation. Go 1.26 deprecates
// rsa.EncryptPKCS1v15 in favour of OAEP, but the gateways decrypt with
// PKCS #1 v1.5 padding and accept nothing else; the padding-oracle concern
// behind the deprecation is about decryption, which we never do.
func encryptBearer(pub *rsa.PublicKey, secret string) (string, error) {
	rsaEncryptions.Add(1)
	// Deprecated since Go 1.26, on purpose: see above. (staticcheck reports
	// SA1019 here once go.mod targets Go 1.26.)
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte(secret))
	if err != nil {
		if fipsOnly() {
			return "", fmt.Errorf("%w: %w", ErrFIPSOnly, err)
		}
		// The only other failure for a valid key is a secret longer than
		// the modulus allows; never include the secret itself.
		return "", fmt.Errorf("mpesa: encrypting a %d-byte secret with a %d-bit key: %w", len(secret), pub.N.BitLen(), err)
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}
