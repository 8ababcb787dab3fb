package mpesatest

import (
	"strconv"
	"strings"
)

// Shape is a set of variations of Daraja's callback and token bodies,
// each one Daraja is seen to send (docs/gateways.md D3, D8, D20, D21).
// Without any, the simulator sends what each portal page's sample shows:
// ResultCode and ResultType numbers on B2C, reversal and status and
// strings on balance and B2B, the STK callback's ResultCode a number,
// ResultParameter an array, ReferenceItem an object but on B2B (an
// array), every parameter with a Value but the status result's
// TransactionReason, no key twice, expires_in a string. Combine shapes with
// |, so that the code under test meets all of them:
//
//	mpesatest.WithDaraja(mpesatest.Daraja{Shapes: mpesatest.ShapeResultCodeString | mpesatest.ShapeParameterObject})
type Shape uint

const (
	// ShapeResultCodeString sends every numeric ResultCode and ResultType
	// as a JSON string ("0"), as the AccountBalance and BusinessPayBill
	// samples do, the STK callback's too.
	ShapeResultCodeString Shape = 1 << iota
	// ShapeResultCodeNumber sends every numeric ResultCode and ResultType
	// as a JSON number (0), as the B2C and status samples do. Alphanumeric
	// codes (R000002, SFC_IC0003) are strings whatever the shape.
	ShapeResultCodeNumber
	// ShapeParameterObject sends ResultParameter as one object instead of
	// an array: the result's first parameter alone, as a production
	// balance callback and the BusinessPayBill failure sample did.
	ShapeParameterObject
	// ShapeReferenceItemObject sends ReferenceItem as one object, the
	// first item, on every API (B2B's page has an array).
	ShapeReferenceItemObject
	// ShapeReferenceItemArray sends ReferenceItem as an array on every API
	// (B2C, balance and reversal have an object).
	ShapeReferenceItemArray
	// ShapeMissingValue adds a parameter without Value to every callback
	// that has parameters: {"Name":"Balance"} among the STK callback's
	// items, as the 2017 summary's sample has it, and
	// {"Key":"TransactionReason"}, as in the status sample, to each
	// Result's ResultParameter list that has none such.
	ShapeMissingValue
	// ShapeRepeatedKeys repeats the first parameter at the end of each
	// Result's list, as the status sample lists DebitPartyName twice: a
	// parser that keeps parameters in a map loses one.
	ShapeRepeatedKeys
	// ShapeFlatQueueTimeout sends the QueueTimeOutURL notice as top-level
	// OriginatorConversationID, ConversationID and ResultDesc instead of a
	// Result envelope; no document shows either (docs/gateways.md D21).
	ShapeFlatQueueTimeout
	// ShapeExpiresInNumber sends the token's expires_in as a JSON number,
	// as the Authorization page's sample does; by default it is the
	// string live answers carry.
	ShapeExpiresInNumber

	shapeAll = ShapeExpiresInNumber<<1 - 1
)

var shapeNames = []string{"ResultCodeString", "ResultCodeNumber", "ParameterObject", "ReferenceItemObject",
	"ReferenceItemArray", "MissingValue", "RepeatedKeys", "FlatQueueTimeout", "ExpiresInNumber"}

// String names the shapes of the set ("ResultCodeString|ParameterObject");
// the empty set is "documented".
func (sh Shape) String() string {
	if sh == 0 {
		return "documented"
	}
	var parts []string
	for i, name := range shapeNames {
		if sh&(1<<i) != 0 {
			parts = append(parts, name)
		}
	}
	if rest := sh &^ shapeAll; rest != 0 {
		parts = append(parts, "Shape(0x"+strconv.FormatUint(uint64(rest), 16)+")")
	}
	return strings.Join(parts, "|")
}

// Shapes returns every shape, one by one, for a test that runs its
// listener against each.
func Shapes() []Shape {
	out := make([]Shape, len(shapeNames))
	for i := range shapeNames {
		out[i] = 1 << i
	}
	return out
}
