// Package darajacert holds the two certificates Safaricom's developer
// portal publishes for encrypting the Daraja SecurityCredential, in PEM, as
// published (docs/gateways.md D11):
//
//	sandbox.cer     CN=apicrypt.safaricom.co.ke          2014-11-12 – 2016-11-11
//	production.cer  CN=apigee.apicaller.safaricom.co.ke  2017-04-25 – 2018-03-21
//
// Both expired long ago and are still the keys Daraja decrypts with, so the
// client takes the RSA-2048 public key out of them and never checks dates or
// the chain. The SHA-256 of each DER SubjectPublicKeyInfo is pinned by a
// test of package mpesa:
//
//	sandbox     bc1aba1eb634213496663c5e5b69dcda742acc8d5c2bd25eccb16e1caf66e8dc
//	production  085bf508c873dd7d69361796925d10f87b59d3f0147d148f46103c1df6464c45
package darajacert

import _ "embed"

// Sandbox is the certificate of sandbox.safaricom.co.ke.
//
//go:embed sandbox.cer
var Sandbox []byte

// Production is the certificate of api.safaricom.co.ke.
//
//go:embed production.cer
var Production []byte
