package mpesa

import "crypto/rand"

// referenceAlphabet and referenceLength shape NewReference: 20 characters
// of 36 give about 103 random bits, and fit every reference rule of both
// gateways (ThirdPartyConversationID 1–40, QueryReference 1–32 letters and
// digits, TransactionReference 1–20).
const (
	referenceAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	referenceLength   = 20
)

// NewReference returns a new random reference from crypto/rand that fits the
// ThirdPartyConversationID (OpenAPI v2) and ThirdPartyReference (Mozambique)
// rules. A request without a reference gets one; generate and store it
// yourself before the call when you want to find the payment again after a
// crash.
func NewReference() string {
	var b [referenceLength]byte
	// 252 is the largest multiple of 36 below 256: rejecting larger bytes
	// keeps every character equally likely.
	var buf [referenceLength * 2]byte
	n := 0
	for n < referenceLength {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("mpesa: crypto/rand failed: " + err.Error())
		}
		for _, x := range buf {
			if x < 252 && n < referenceLength {
				b[n] = referenceAlphabet[x%36]
				n++
			}
		}
	}
	return string(b[:])
}
