// Package redact removes what must not reach a log line or an error string:
// secrets, full phone numbers, control characters.
package redact

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mask is what stands in for a removed secret.
const Mask = "[REDACTED]"

// MSISDN masks a phone number so that it can be told apart from others in a
// log without being usable: the first three and the last three digits stay
// ("255******111"). Values of six characters or fewer are masked whole.
func MSISDN(s string) string {
	if len(s) <= 6 {
		return strings.Repeat("*", len(s))
	}
	return s[:3] + strings.Repeat("*", len(s)-6) + s[len(s)-3:]
}

// minDigitRun is the shortest run of digits Text treats as a phone number.
// The shortest MSISDN of the served markets is 11 digits (266 + 8); national
// forms start at 8 ("84 333 0333" without spaces is 9). Conversation and
// transaction IDs rarely hold eight digits in a row; dates hold exactly
// eight, so the limit is nine.
const minDigitRun = 9

// PhoneNumbers masks every run of nine or more digits in s as MSISDN does
// and leaves every other byte as it is, control characters and invalid
// UTF-8 included: for a value an error quotes to say what is wrong with it.
func PhoneNumbers(s string) string {
	var b strings.Builder
	done, start := 0, -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start >= minDigitRun {
			b.WriteString(s[done:start])
			b.WriteString(MSISDN(s[start:i]))
			done = i
		}
		start = -1
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// Text makes gateway-supplied free text safe for an error string: runs of
// nine or more digits (a phone number) are masked with MSISDN, control
// characters become spaces and invalid UTF-8 is replaced.
func Text(s string) string {
	if s == "" {
		return s
	}
	clean := true
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			run++
			if run >= minDigitRun {
				clean = false
				break
			}
			continue
		}
		run = 0
		if c < 0x20 || c == 0x7f || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	flush := func(digits string) {
		if len(digits) >= minDigitRun {
			b.WriteString(MSISDN(digits))
		} else {
			b.WriteString(digits)
		}
	}
	start := -1
	for i, r := range s {
		if r >= '0' && r <= '9' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			flush(s[start:i])
			start = -1
		}
		switch {
		case r == utf8.RuneError:
			b.WriteRune(utf8.RuneError)
		case unicode.IsControl(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	if start >= 0 {
		flush(s[start:])
	}
	return b.String()
}

// Excerpt returns at most n bytes from the start of body, cut at a rune
// boundary, with every secret replaced by Mask and the rest made safe by
// Text. Whitespace runs collapse to one space so that an HTML page reads as
// one line.
func Excerpt(body []byte, n int, secrets ...string) string {
	// Take a little more than n so that a secret cut by the limit is
	// still recognised and removed. Whitespace collapses first: padding
	// that collapsed after the cut would pull the rest of a secret the cut
	// had halved, and so not recognised, into view.
	limit := n
	for _, s := range secrets {
		limit = max(limit, n+len(s))
	}
	s, cut := collapseSpace(body, limit)
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, Mask)
		}
	}
	if cut {
		// The start of a secret the limit cut off is no secret to
		// ReplaceAll, and the masks before it, shorter than what they
		// replaced, may have moved it into view: drop it.
		s = dropSecretStart(s, secrets)
	}
	s = Text(s)
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// dropSecretStart removes from the end of s the longest start of any
// secret it ends with.
func dropSecretStart(s string, secrets []string) string {
	for _, sec := range secrets {
		for k := min(len(sec)-1, len(s)); k > 0; k-- {
			if strings.HasSuffix(s, sec[:k]) {
				s = s[:len(s)-k]
				break
			}
		}
	}
	return s
}

// collapseSpace returns body with leading and trailing white space removed
// and each run of it inside made one space, as strings.Fields and Join
// would, stopping once the result holds limit bytes; cut reports that it
// stopped before the end of body.
func collapseSpace(body []byte, limit int) (s string, cut bool) {
	var b strings.Builder
	b.Grow(min(len(body), limit))
	space := false
	i := 0
	for i < len(body) && b.Len() < limit {
		r, size := utf8.DecodeRune(body[i:])
		if unicode.IsSpace(r) {
			space = true
		} else {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.Write(body[i : i+size])
		}
		i += size
	}
	return b.String(), i < len(body)
}

// Scrub replaces every secret in s with Mask.
func Scrub(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Mask)
		}
	}
	return s
}

// Values masks the values of the JSON members named keys in body, as far as
// they can be found: a new session ID or token in a body that is cut short,
// or otherwise unreadable, is as secret as one in a body that parses. A
// value runs from the member's opening quote to its closing quote or the end
// of the body.
func Values(body string, keys ...string) string {
	for _, key := range keys {
		quoted := `"` + key + `"`
		from := 0
		for {
			i := strings.Index(body[from:], quoted)
			if i < 0 {
				break
			}
			j := from + i + len(quoted)
			for j < len(body) && (body[j] == ' ' || body[j] == ':' || body[j] == '\t' || body[j] == '\n' || body[j] == '\r') {
				j++
			}
			if j >= len(body) || body[j] != '"' {
				from = j
				continue
			}
			j++
			end := j
			for end < len(body) && body[end] != '"' {
				if body[end] == '\\' {
					end++
				}
				end++
			}
			end = min(end, len(body))
			body = body[:j] + Mask + body[end:]
			from = j + len(Mask)
		}
	}
	return body
}
