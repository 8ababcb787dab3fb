package mpesa

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePublicKeyPortalKey(t *testing.T) {
	t.Parallel()
	pub, err := ParsePublicKey(OpenAPISandboxPublicKey)
	require.NoError(t, err)
	assert.Equal(t, 4096, pub.N.BitLen())
	assert.Equal(t, 65537, pub.E)
}

func TestParsePublicKeyForms(t *testing.T) {
	t.Parallel()
	priv, b64 := testKey(t)
	der, _ := base64.StdEncoding.DecodeString(b64)
	pemSPKI := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	pemPKCS1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&priv.PublicKey)}))
	wrapped := ""
	for i := 0; i < len(b64); i += 64 {
		wrapped += b64[i:min(i+64, len(b64))] + "\r\n"
	}
	for name, in := range map[string]string{
		"base64":         b64,
		"padded spaces":  "  " + b64 + "\n",
		"wrapped lines":  wrapped,
		"no padding":     strings.TrimRight(b64, "="),
		"PEM SPKI":       pemSPKI,
		"PEM PKCS1":      pemPKCS1,
		"PEM with space": "\n" + pemSPKI + "\n\n",
	} {
		pub, err := ParsePublicKey(in)
		if assert.NoError(t, err, name) {
			assert.True(t, pub.Equal(&priv.PublicKey), name)
		}
	}
}

func TestParsePublicKeyRejects(t *testing.T) {
	t.Parallel()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	require.NoError(t, err)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	smallDER, err := x509.MarshalPKIXPublicKey(&small.PublicKey)
	require.NoError(t, err)

	tests := map[string]struct{ in, want string }{
		"empty":       {"", "empty"},
		"not base64":  {"%%%not-base64%%%", "not base64"},
		"not DER":     {base64.StdEncoding.EncodeToString([]byte("hello world")), "not a DER"},
		"ECDSA":       {base64.StdEncoding.EncodeToString(ecDER), "is not an RSA key"},
		"1024 bits":   {base64.StdEncoding.EncodeToString(smallDER), "1024 bits, want at least 2048"},
		"PEM cert":    {string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})), `"CERTIFICATE"`},
		"broken PEM":  {"-----BEGIN PUBLIC KEY-----\nabc", "malformed PEM"},
		"PEM + trail": {string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})) + "junk", "after the PEM block"},
	}
	for name, tt := range tests {
		_, err := ParsePublicKey(tt.in)
		if assert.Error(t, err, name) {
			assert.ErrorIs(t, err, ErrInvalidPublicKey, name)
			assert.Contains(t, err.Error(), tt.want, name)
		}
	}
}

func TestEncryptBearerRoundTrip(t *testing.T) {
	t.Parallel()
	priv, _ := testKey(t)
	b1, err := encryptBearer(&priv.PublicKey, testAPIKey)
	require.NoError(t, err)
	b2, err := encryptBearer(&priv.PublicKey, testAPIKey)
	require.NoError(t, err)
	assert.NotEqual(t, b1, b2, "PKCS #1 v1.5 padding is random")
	for _, b := range []string{b1, b2} {
		got, ok := decryptBearer(priv, "Bearer "+b)
		require.True(t, ok)
		assert.Equal(t, testAPIKey, got)
	}
	// A secret too long for the key fails without showing the secret.
	long := strings.Repeat("S", 300)
	_, err = encryptBearer(&priv.PublicKey, long)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), long[:20])
}

// FuzzParsePublicKey checks that no input panics and that whatever is
// accepted is an RSA key of at least MinKeyBits.
func FuzzParsePublicKey(f *testing.F) {
	_, b64 := testKey(f)
	der, _ := base64.StdEncoding.DecodeString(b64)
	f.Add(OpenAPISandboxPublicKey)
	f.Add(b64)
	f.Add(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	f.Add(string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: der})))
	f.Add("-----BEGIN PUBLIC KEY-----\n\n-----END PUBLIC KEY-----")
	f.Add(OpenAPISandboxPublicKey[:100])
	f.Add("MIIB")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		pub, err := ParsePublicKey(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidPublicKey) {
				t.Fatalf("error %v does not match ErrInvalidPublicKey", err)
			}
			return
		}
		if pub == nil || pub.N.BitLen() < MinKeyBits {
			t.Fatalf("accepted a key of %d bits", pub.N.BitLen())
		}
	})
}
