package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// The scanner below reads the flat JSON objects the gateways POST as result
// callbacks in one pass, without reflection, taking values as substrings of
// the body. It accepts exactly what encoding/json accepts (the tests and the
// fuzz target of the callback parser compare it with json.Valid).
//
// Why not encoding/json: a struct would be matched without regard to case
// ({"output_ResponseCode":"INS-6","OUTPUT_RESPONSECODE":"INS-0"} reads as
// the last), and the two exact-key readings it offers were measured in
// place of this scanner (2-core VM, benchstat, n=6) and miss the targets:
// json.Decoder tokens took an OpenAPI callback through the Handler from
// 6.6 to 19.3 µs (13 to 87 allocs; the hand-written encoding/json handler
// it is held to: 7.6 µs, 15 allocs), a Daraja STK callback from 11 to 78
// µs, and a client call from 13.9 to 31.9 µs (42 to 158 allocs, against
// 16 µs and 39 for plain net/http); a map[string]json.RawMessage, which
// also loses order and duplicate keys, 17 µs and 50 allocs per callback.

// SkipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func SkipSpace(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// MaxDepth is encoding/json's limit of nested objects and arrays, the
// body's own object included.
const MaxDepth = 10000

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHexDigit(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// String decodes the JSON string that starts at s[i] and returns it with
// the index after its closing quote; ok is false when it is not a valid
// JSON string.
func String(s string, i int) (v string, end int, ok bool) {
	end, plain, ok := scanString(s, i)
	if !ok {
		return "", 0, false
	}
	raw := s[i+1 : end-1]
	if plain || (!strings.Contains(raw, `\`) && utf8.ValidString(raw)) {
		return raw, end, true
	}
	// Escapes, or invalid UTF-8 that encoding/json replaces with U+FFFD.
	var out string
	if err := json.Unmarshal([]byte(s[i:end]), &out); err != nil {
		return "", 0, false
	}
	return out, end, true
}

// scanString checks the string that starts at s[i] and returns the index
// after its closing quote, and whether it holds only ASCII without escapes.
// Control characters and unknown escapes make it invalid; invalid UTF-8
// does not, as in encoding/json.
func scanString(s string, i int) (end int, plain, ok bool) {
	plain = true
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return j + 1, plain, true
		case c == '\\':
			plain = false
			if j++; j == len(s) {
				return 0, false, false
			}
			switch s[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s) {
					return 0, false, false
				}
				for k := j + 1; k <= j+4; k++ {
					if !isHexDigit(s[k]) {
						return 0, false, false
					}
				}
				j += 4
			default:
				return 0, false, false
			}
		case c < 0x20:
			return 0, false, false
		case c >= utf8.RuneSelf:
			plain = false
		}
	}
	return 0, false, false
}

// Value returns the value that starts at s[i] as a string: a string
// decoded, a number as written, true and false spelled so, null as "", and
// an object or array verbatim. depth is the nesting depth of the value's
// container.
func Value(s string, i, depth int) (v string, end int, ok bool) {
	if i == len(s) {
		return "", 0, false
	}
	switch s[i] {
	case '"':
		return String(s, i)
	case 'n':
		end, ok = SkipValue(s, i, depth)
		return "", end, ok
	}
	end, ok = SkipValue(s, i, depth)
	if !ok {
		return "", 0, false
	}
	return s[i:end], end, true
}

// SkipValue checks the value that starts at s[i] and returns the index after
// it.
func SkipValue(s string, i, depth int) (end int, ok bool) {
	if i == len(s) {
		return 0, false
	}
	switch c := s[i]; {
	case c == '"':
		end, _, ok = scanString(s, i)
		return end, ok
	case c == '{' || c == '[':
		return skipComposite(s, i, depth+1)
	case c == 't':
		return literal(s, i, "true")
	case c == 'f':
		return literal(s, i, "false")
	case c == 'n':
		return literal(s, i, "null")
	case c == '-' || isDigit(c):
		return scanNumber(s, i)
	}
	return 0, false
}

func literal(s string, i int, lit string) (int, bool) {
	if strings.HasPrefix(s[i:], lit) {
		return i + len(lit), true
	}
	return 0, false
}

// scanNumber checks the number that starts at s[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(s string, i int) (int, bool) {
	if s[i] == '-' {
		i++
	}
	switch {
	case i == len(s):
		return 0, false
	case s[i] == '0':
		i++
	case isDigit(s[i]):
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return 0, false
	}
	if i < len(s) && s[i] == '.' {
		if i++; i == len(s) || !isDigit(s[i]) {
			return 0, false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		if i++; i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == len(s) || !isDigit(s[i]) {
			return 0, false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i, true
}

// skipComposite checks the object or array that starts at s[i], at nesting
// depth depth, and returns the index after it.
func skipComposite(s string, i, depth int) (int, bool) {
	if depth > MaxDepth {
		return 0, false
	}
	obj := s[i] == '{'
	closing := byte(']')
	if obj {
		closing = '}'
	}
	i = SkipSpace(s, i+1)
	if i < len(s) && s[i] == closing {
		return i + 1, true
	}
	for {
		if obj {
			if i == len(s) || s[i] != '"' {
				return 0, false
			}
			end, _, ok := scanString(s, i)
			if !ok {
				return 0, false
			}
			if i = SkipSpace(s, end); i == len(s) || s[i] != ':' {
				return 0, false
			}
			i = SkipSpace(s, i+1)
		}
		end, ok := SkipValue(s, i, depth)
		if !ok {
			return 0, false
		}
		if i = SkipSpace(s, end); i == len(s) {
			return 0, false
		}
		switch s[i] {
		case ',':
			i = SkipSpace(s, i+1)
		case closing:
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// ErrSyntax reports a body that is not valid JSON, ErrNotObject one that is
// valid JSON but not an object.
var (
	ErrSyntax    = errors.New("not valid JSON")
	ErrNotObject = errors.New("not a JSON object")
)

// Object reads the JSON object s and calls fn with each member's key,
// decoded, and value as Value returns it, in the order written. Keys are
// passed exactly as sent: nothing is matched without regard to case. It
// accepts exactly the documents encoding/json accepts (leading and
// trailing white space included) and stops at the first error fn returns.
func Object(s string, fn func(key, value string) error) error {
	return ObjectKinds(s, func(key, value string, _ Kind) error { return fn(key, value) })
}

// Kind is the JSON type of a value as written, told by its first byte: '"'
// a string, '{' an object, '[' an array, 't' or 'f' a boolean, 'n' null,
// '-' or a digit a number. Value returns a string's decoded content, which
// may itself start with '{': only the kind tells them apart.
type Kind byte

// Kinds of values.
const (
	KindString Kind = '"'
	KindObject Kind = '{'
	KindArray  Kind = '['
	KindNull   Kind = 'n'
)

// ObjectKinds is Object, passing fn the kind of each value too.
func ObjectKinds(s string, fn func(key, value string, kind Kind) error) error {
	i := SkipSpace(s, 0)
	if i == len(s) || s[i] != '{' {
		if i < len(s) {
			if end, ok := SkipValue(s, i, 0); ok && SkipSpace(s, end) == len(s) {
				return ErrNotObject
			}
		}
		return ErrSyntax
	}
	end, err := members(s, i, 1, fn)
	if err != nil {
		return err
	}
	if SkipSpace(s, end) != len(s) {
		return ErrSyntax
	}
	return nil
}

// Members reads the object that starts at s[i], as Object does, for a
// value Object or Value returned (a nested object). It returns ErrNotObject
// when s is not an object.
func Members(s string, fn func(key, value string) error) error {
	return MembersKinds(s, func(key, value string, _ Kind) error { return fn(key, value) })
}

// MembersKinds is Members, passing fn the kind of each value too.
func MembersKinds(s string, fn func(key, value string, kind Kind) error) error {
	if s == "" || s[0] != '{' {
		return ErrNotObject
	}
	_, err := members(s, 0, 1, fn)
	return err
}

// Elements calls fn with each element of the JSON array s, as Value
// returns it. It returns ErrNotArray when s is not an array.
func Elements(s string, fn func(value string) error) error {
	return ElementsKinds(s, func(value string, _ Kind) error { return fn(value) })
}

// ElementsKinds is Elements, passing fn the kind of each element too.
func ElementsKinds(s string, fn func(value string, kind Kind) error) error {
	if s == "" || s[0] != '[' {
		return ErrNotArray
	}
	i := SkipSpace(s, 1)
	if i < len(s) && s[i] == ']' {
		return nil
	}
	for {
		val, j, ok := Value(s, i, 1)
		if !ok {
			return ErrSyntax
		}
		if err := fn(val, Kind(s[i])); err != nil {
			return err
		}
		if i = SkipSpace(s, j); i == len(s) {
			return ErrSyntax
		}
		switch s[i] {
		case ',':
			i = SkipSpace(s, i+1)
		case ']':
			return nil
		default:
			return ErrSyntax
		}
	}
}

// ErrNotArray reports a value that Elements cannot read.
var ErrNotArray = errors.New("not a JSON array")

func members(s string, i, depth int, fn func(key, value string, kind Kind) error) (int, error) {
	i = SkipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, nil
	}
	for {
		if i == len(s) || s[i] != '"' {
			return 0, ErrSyntax
		}
		key, j, ok := String(s, i)
		if !ok {
			return 0, ErrSyntax
		}
		if i = SkipSpace(s, j); i == len(s) || s[i] != ':' {
			return 0, ErrSyntax
		}
		at := SkipSpace(s, i+1)
		val, j, ok := Value(s, at, depth)
		if !ok {
			return 0, ErrSyntax
		}
		if err := fn(key, val, Kind(s[at])); err != nil {
			return 0, err
		}
		if i = SkipSpace(s, j); i == len(s) {
			return 0, ErrSyntax
		}
		switch s[i] {
		case ',':
			i = SkipSpace(s, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, ErrSyntax
		}
	}
}
