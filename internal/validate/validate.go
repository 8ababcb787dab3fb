// Package validate holds the parameter rules of the gateway documents as
// plain functions. They are written out rather than compiled from the
// documents' regular expressions: they run on every request, and a loop
// over bytes costs nothing next to a regexp match.
package validate

import (
	"time"
	"unicode/utf8"
)

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// Amount reports whether s matches ^\d*\.?\d+$ and is greater than zero.
func Amount(s string) bool {
	if s == "" {
		return false
	}
	dot, nonZero := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c):
			if c != '0' {
				nonZero = true
			}
		case c == '.' && !dot && i < len(s)-1:
			dot = true
		default:
			return false
		}
	}
	return nonZero
}

// Digits reports whether s is min to max ASCII digits.
func Digits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// Alnum reports whether s is min to max ASCII letters and digits.
func Alnum(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

// Reference reports whether s matches ^[0-9a-zA-Z \w+]{min,max}$: letters,
// digits, '_', space and '+'. (\w adds only '_' to the class.)
func Reference(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != ' ' && c != '+' {
			return false
		}
	}
	return true
}

// Token reports whether s matches the MsisdnToken rule
// ^[0-9a-zA-Z \w=]{1,26}$: letters, digits, '_', space and '='.
func Token(s string) bool {
	if len(s) < 1 || len(s) > 26 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != ' ' && c != '=' {
			return false
		}
	}
	return true
}

// Letters reports whether s is min to max ASCII letters.
func Letters(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// Text reports whether s is min to max characters of valid UTF-8 without
// control characters.
func Text(s string, min, max int) bool {
	if !utf8.ValidString(s) {
		return false
	}
	n := 0
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
		n++
	}
	return n >= min && n <= max
}

// Date parses a YYYYMMDD calendar date; ok is false for anything else,
// 20230230 included.
func Date(s string) (t time.Time, ok bool) {
	if !Digits(s, 8, 8) {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102", s)
	return t, err == nil
}

// Day reports whether s is a two-digit day of the month, 01 to 31.
func Day(s string) bool {
	return Digits(s, 2, 2) && s >= "01" && s <= "31"
}
