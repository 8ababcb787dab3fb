package mpesa

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa/internal/darajacert"
)

// The SecurityCredential and the STK Password (docs/gateways.md D7, D11).

// TestDarajaEmbeddedCertificates pins the keys of Safaricom's two
// certificates by the SHA-256 of their SubjectPublicKeyInfo, and shows
// that they are used although long expired.
func TestDarajaEmbeddedCertificates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  Environment
		pem  []byte
		hash string
	}{
		{Sandbox, darajacert.Sandbox, "bc1aba1eb634213496663c5e5b69dcda742acc8d5c2bd25eccb16e1caf66e8dc"},
		{Production, darajacert.Production, "085bf508c873dd7d69361796925d10f87b59d3f0147d148f46103c1df6464c45"},
	} {
		key := darajaCertificateKey(tc.env)
		der, err := x509.MarshalPKIXPublicKey(key)
		require.NoError(t, err)
		sum := sha256.Sum256(der)
		assert.Equal(t, tc.hash, hex.EncodeToString(sum[:]), tc.env)
		assert.Equal(t, 2048, key.N.BitLen())
		block, _ := pem.Decode(tc.pem)
		cert, err := x509.ParseCertificate(block.Bytes)
		require.NoError(t, err)
		assert.True(t, cert.NotAfter.Before(time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)), "expired, and used all the same")

		c, err := NewClient(testConsumerKey, WithGateway(GatewayDaraja), WithEnvironment(tc.env), WithConsumerSecret(testConsumerSecret),
			WithInitiator(testInitiator, testInitiatorPassword))
		require.NoError(t, err)
		d := c.d.(*daraja)
		assert.True(t, d.pub.Equal(key), "the %v client encrypts with the %v certificate", tc.env, tc.env)
		ct, err := base64.StdEncoding.DecodeString(d.credential)
		require.NoError(t, err)
		assert.Len(t, ct, 256, "one RSA-2048 block")
	}
	assert.False(t, darajaCertificateKey(Sandbox).Equal(darajaCertificateKey(Production)))
}

// TestDarajaSecurityCredentialComputedOnce: NewClient encrypts the
// initiator password once; no call encrypts anything at steady state. It
// counts the package's RSA operations, so it does not run in parallel.
func TestDarajaSecurityCredentialComputedOnce(t *testing.T) {
	priv, _ := testCertificate(t)
	f := newDarajaFake()
	before := rsaEncryptions.Load()
	c, _ := darajaClient(t, f)
	assert.EqualValues(t, 1, rsaEncryptions.Load()-before, "NewClient encrypts the initiator password once")
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		for _, api := range []API{APIB2C, APIB2B, APIReversal, APITransactionStatus, APIAccountBalance, APIC2B} {
			_, err := darajaProducts[api](ctx, c)
			require.NoError(t, err, api)
		}
	}
	assert.EqualValues(t, 1, rsaEncryptions.Load()-before, "0 RSA operations per call at steady state")
	var creds []string
	for _, r := range f.requests() {
		if cred, ok := r.params(t)["SecurityCredential"]; ok {
			creds = append(creds, cred)
		}
	}
	require.Len(t, creds, 50)
	for _, cred := range creds {
		assert.Equal(t, creds[0], cred, "the same credential on every call")
	}
	pw, ok := decryptCredential(priv, creds[0])
	require.True(t, ok, "PKCS #1 v1.5, not OAEP")
	assert.Equal(t, testInitiatorPassword, pw, "the password as typed: not base64 of it, no timestamp")

	// A client without an initiator encrypts nothing.
	before = rsaEncryptions.Load()
	_, err := NewClient(testConsumerKey, WithGateway(GatewayDaraja), WithConsumerSecret(testConsumerSecret))
	require.NoError(t, err)
	assert.EqualValues(t, 0, rsaEncryptions.Load()-before)
}

// TestDarajaCertificateOptions: another certificate (PEM, base64 or DER)
// or a public key replaces the embedded one; both at once, or a bad one,
// are refused by name.
func TestDarajaCertificateOptions(t *testing.T) {
	t.Parallel()
	priv, certPEM := testCertificate(t)
	block, _ := pem.Decode([]byte(certPEM))
	_, pubB64 := testKey(t)
	for name, opt := range map[string]Option{
		"PEM":        WithCertificate(certPEM),
		"base64 DER": WithCertificate(base64.StdEncoding.EncodeToString(block.Bytes)),
		"raw DER":    WithCertificate(string(block.Bytes)),
		"public key": WithPublicKey(pubB64),
	} {
		c, err := NewClient(testConsumerKey, WithGateway(GatewayDaraja), WithConsumerSecret(testConsumerSecret),
			WithInitiator(testInitiator, testInitiatorPassword), opt)
		require.NoError(t, err, name)
		pw, ok := decryptCredential(priv, c.d.(*daraja).credential)
		assert.True(t, ok, name)
		assert.Equal(t, testInitiatorPassword, pw, name)
	}
	_, err := NewClient(testConsumerKey, WithGateway(GatewayDaraja), WithConsumerSecret(testConsumerSecret),
		WithCertificate(certPEM), WithPublicKey(pubB64))
	assert.ErrorContains(t, err, "WithCertificate")
	for _, bad := range []string{"", "junk", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", base64.StdEncoding.EncodeToString([]byte("0 not a cert"))} {
		_, err := NewClient(testConsumerKey, WithGateway(GatewayDaraja), WithConsumerSecret(testConsumerSecret), WithCertificate(bad))
		assert.ErrorContains(t, err, "WithCertificate", "%q", bad)
	}
	// A password longer than the key can carry is refused by name, unseen.
	long := Secret(strings.Repeat("p", 300))
	_, err = NewClient(testConsumerKey, WithGateway(GatewayDaraja), WithConsumerSecret(testConsumerSecret),
		WithInitiator(testInitiator, long))
	require.ErrorContains(t, err, "WithInitiator")
	assert.NotContains(t, err.Error(), string(long[:20]))
}

// TestDarajaTimestampIsEAT: a clock at 23:30 UTC is already the next day in
// Nairobi, whatever zone the clock's value is in; the Password is built
// from the very Timestamp the request carries.
func TestDarajaTimestampIsEAT(t *testing.T) {
	t.Parallel()
	pst := time.FixedZone("PST", -8*60*60)
	for _, now := range []time.Time{
		time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 15, 30, 0, 0, pst), // the same instant
	} {
		f := newDarajaFake()
		c, _ := darajaClient(t, f)
		c.now = func() time.Time { return now }
		for _, api := range []API{APIC2B, APISTKQuery} {
			_, err := darajaProducts[api](context.Background(), c)
			require.NoError(t, err)
		}
		for _, r := range f.requests() {
			p := r.params(t)
			assert.Equal(t, "20270101023000", p["Timestamp"], "the next day, 02:30 in EAT")
			pw, err := base64.StdEncoding.DecodeString(p["Password"])
			require.NoError(t, err)
			assert.Equal(t, testShortcode+testPasskey+p["Timestamp"], string(pw), "base64(shortcode + passkey + timestamp)")
		}
	}
	assert.Equal(t, "20260101000000", darajaTimestamp(time.Date(2025, 12, 31, 21, 0, 0, 0, time.UTC)))
	assert.Equal(t, "20260301025959", darajaTimestamp(time.Date(2026, 2, 28, 23, 59, 59, 999, time.UTC)))
}
