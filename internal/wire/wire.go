// Package wire encodes the flat string objects both M-Pesa gateways take: a
// JSON object of strings in a POST or PUT body, the same pairs in the URL
// query of a GET. It also scans the flat JSON objects they send back as
// result callbacks (scan.go).
package wire

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// Param is one request parameter, named as on the wire ("input_Amount").
type Param struct {
	Key, Value string
}

// AppendJSON appends params as a JSON object of strings, keys in the order
// given, to dst. Strings are escaped as encoding/json does, without its HTML
// escaping: invalid UTF-8 becomes U+FFFD and U+2028/U+2029 are escaped.
func AppendJSON(dst []byte, params []Param) []byte {
	dst = append(dst, '{')
	for i, p := range params {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, p.Key)
		dst = append(dst, ':')
		dst = appendString(dst, p.Value)
	}
	return append(dst, '}')
}

// JSONLen returns an upper bound of the length of AppendJSON's output, for
// sizing a buffer.
func JSONLen(params []Param) int {
	n := 2
	for _, p := range params {
		n += len(p.Key) + len(p.Value) + 6
	}
	return n + n/8
}

const hex = "0123456789abcdef"

// AppendString appends s as a JSON string, escaped as AppendJSON escapes.
func AppendString(dst []byte, s string) []byte { return appendString(dst, s) }

func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Query encodes params as a URL query string without the leading '?', keys
// in the order given.
func Query(params []Param) string {
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.Key))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.Value))
	}
	return b.String()
}
