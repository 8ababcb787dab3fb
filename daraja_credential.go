package mpesa

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mpesa-go/mpesa/internal/darajacert"
)

// Daraja's two computed credentials: the SecurityCredential of the
// initiator APIs (docs/gateways.md D11) and the Password and Timestamp of
// the STK push and query (docs/gateways.md D7).

// eat is East Africa Time, UTC+3 without daylight saving: the zone of
// Daraja's timestamps. A fixed zone needs no tzdata on the host, and does
// not depend on the host's own zone, the bug of every peer that formats the
// host's local time (docs/gateways.md D7).
var eat = time.FixedZone("EAT", 3*60*60)

// darajaTimestampLayout is YYYYMMDDHHmmss.
const darajaTimestampLayout = "20060102150405"

// darajaTimestamp formats t as Daraja's Timestamp, in EAT.
func darajaTimestamp(t time.Time) string { return t.In(eat).Format(darajaTimestampLayout) }

// stkPassword is base64(shortcode + passkey + timestamp), without
// separators. The caller passes the same timestamp it sends as Timestamp:
// a Password of another second answers 500.001.1001 "Wrong credentials".
func stkPassword(shortcode string, passkey Secret, timestamp string) string {
	b := make([]byte, 0, len(shortcode)+len(passkey)+len(timestamp))
	b = append(b, shortcode...)
	b = append(b, passkey...)
	b = append(b, timestamp...)
	return base64.StdEncoding.EncodeToString(b)
}

// securityCredential encrypts the initiator's password into Daraja's
// SecurityCredential: RSA with PKCS #1 v1.5 padding (not OAEP) over the
// password's bytes as typed (not base64 of them, which one FAQ sentence
// contradicting its own steps suggests; docs/gateways.md D11), then base64.
// It is the same operation as the iPG bearer, and counted with it.
func securityCredential(pub *rsa.PublicKey, password Secret) (string, error) {
	return encryptBearer(pub, string(password))
}

// darajaKeys holds the public keys of the embedded certificates, parsed
// once.
var darajaKeys = sync.OnceValues(func() ([2]*rsa.PublicKey, error) {
	var keys [2]*rsa.PublicKey
	for i, pemData := range [2][]byte{darajacert.Sandbox, darajacert.Production} {
		k, err := parseCertificateKey(pemData)
		if err != nil {
			return keys, err
		}
		keys[i] = k
	}
	return keys, nil
})

// darajaCertificateKey returns the key of the certificate Safaricom
// publishes for env.
func darajaCertificateKey(env Environment) *rsa.PublicKey {
	keys, err := darajaKeys()
	if err != nil {
		panic("mpesa: embedded Daraja certificate: " + err.Error())
	}
	if env == Production {
		return keys[1]
	}
	return keys[0]
}

// parseCertificateKey returns the RSA public key of an X.509 certificate in
// PEM ("CERTIFICATE") or as base64 or raw DER. It checks neither dates nor
// chain: Daraja's published certificates expired years ago and are still
// the right keys. A key shorter than MinKeyBits is refused.
func parseCertificateKey(data []byte) (*rsa.PublicKey, error) {
	s := strings.TrimSpace(string(data))
	if s == "" {
		return nil, errors.New("empty certificate")
	}
	var der []byte
	switch {
	case strings.HasPrefix(s, "-----BEGIN"):
		block, _ := pem.Decode([]byte(s))
		if block == nil {
			return nil, errors.New("malformed PEM")
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block is %q, want \"CERTIFICATE\"", block.Type)
		}
		der = block.Bytes
	case s[0] == 0x30: // an ASN.1 SEQUENCE: DER as is
		der = data
	default:
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			return nil, errors.New("neither PEM, base64 nor DER")
		}
		der = b
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("not an X.509 certificate: %w", err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the certificate's key is %T, not RSA", cert.PublicKey)
	}
	if bits := pub.N.BitLen(); bits < MinKeyBits {
		return nil, fmt.Errorf("RSA key has %d bits, want at least %d", bits, MinKeyBits)
	}
	return pub, nil
}
