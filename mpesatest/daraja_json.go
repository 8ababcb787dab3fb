package mpesatest

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/mpesa-go/mpesa/internal/redact"
)

// Daraja's bodies are nested JSON whose members keep the order of the
// portal's samples and whose values are strings or bare numbers, as each
// page writes them (docs/gateways.md D8, D20). They are built as trees of
// these types, and the journal keeps a masked copy and a flat view of them.

// jmember is one member of a JSON object.
type jmember struct {
	k string
	v any // string, jnum, jobj, jarr or nil (null)
}

// jobj is a JSON object in the order of its members.
type jobj []jmember

// jarr is a JSON array.
type jarr []any

// jnum is a JSON number as written ("1.00", "20191219102115").
type jnum string

func (n jnum) MarshalJSON() ([]byte, error) { return []byte(n), nil }

func (o jobj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(m.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// with returns o with a member added.
func (o jobj) with(k string, v any) jobj { return append(o, jmember{k, v}) }

// get returns the value of the first member k.
func (o jobj) get(k string) (any, bool) {
	for _, m := range o {
		if m.k == k {
			return m.v, true
		}
	}
	return nil, false
}

// flatObj builds an object of strings from key, value pairs.
func flatObj(kv ...string) jobj {
	o := make(jobj, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		o = append(o, jmember{kv[i], kv[i+1]})
	}
	return o
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic("mpesatest: " + err.Error()) // the trees always marshal
	}
	return data
}

// jtext is a scalar as the journal shows it: a string as is, a number as
// written, null and a missing value as "".
func jtext(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case jnum:
		return string(x)
	}
	return ""
}

// Keys whose values the journal masks (docs/gateways.md D6, D13, D15):
// phone numbers, and the names Daraja writes with a phone number in them
// ("254708374149 - John Doe").
var (
	djPhoneKeys = map[string]bool{
		"PartyA": true, "PartyB": true, "PhoneNumber": true, "Msisdn": true, "MSISDN": true,
		"Requester": true, "NominatedNumber": true, "msisdn": true,
	}
	djNameKeys = map[string]bool{
		"ReceiverPartyPublicName": true, "CreditPartyName": true, "DebitPartyName": true,
		"CreditPartyPublicName": true, "DebitPartyPublicName": true,
	}
	djSecretKeys = map[string]bool{"Password": true, "SecurityCredential": true, "access_token": true}
)

// phoneLike reports whether v is a phone number: nine or more digits, a
// leading '+' allowed. A shortcode (5–7 digits) is not one, nor the
// masked (v2) or hashed (v1) MSISDN of a C2B callback.
func phoneLike(v string) bool {
	v = strings.TrimPrefix(v, "+")
	if len(v) < 9 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// djMaskValue is what the journal keeps of the value v of key k.
func djMaskValue(k, v string) string {
	switch {
	case djSecretKeys[k]:
		return Redacted
	case djPhoneKeys[k] && phoneLike(v):
		return redact.MSISDN(v)
	case djNameKeys[k]:
		return redact.Text(v)
	}
	return v
}

// djMaskParams masks a flat request or answer for the journal; secrets are
// any further strings to scrub from every value (the tokens an error
// message quotes).
func djMaskParams(p map[string]string, secrets ...string) map[string]string {
	if p == nil {
		return nil
	}
	out := make(map[string]string, len(p))
	for k, v := range p {
		out[k] = redact.Scrub(djMaskValue(k, v), secrets...)
	}
	return out
}

// maskTree returns a copy of a body with djMaskValue applied to every
// scalar, the Value of a {Name|Key, Value} item masked by its Name or Key.
func maskTree(v any, key string) any {
	switch x := v.(type) {
	case jobj:
		name := ""
		for _, m := range x {
			if m.k == "Name" || m.k == "Key" {
				name = jtext(m.v)
			}
		}
		out := make(jobj, len(x))
		for i, m := range x {
			k := m.k
			if k == "Value" && name != "" {
				k = name
			}
			out[i] = jmember{m.k, maskTree(m.v, k)}
		}
		return out
	case jarr:
		out := make(jarr, len(x))
		for i, e := range x {
			out[i] = maskTree(e, key)
		}
		return out
	case string:
		return djMaskValue(key, x)
	case jnum:
		if masked := djMaskValue(key, string(x)); masked != string(x) {
			return masked
		}
	}
	return v
}

// flatten is the flat view of a callback body: its scalar members at any
// depth, and each {Name|Key, Value} item as Name or Key → Value (no Value:
// ""). The first of a repeated key is kept, so the envelope's own fields win.
func flatten(v any) map[string]string {
	out := map[string]string{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case jobj:
			name, hasName := "", false
			for _, m := range x {
				if m.k == "Name" || m.k == "Key" {
					name, hasName = jtext(m.v), true
				}
			}
			if hasName {
				if _, ok := out[name]; !ok {
					val, _ := x.get("Value")
					out[name] = jtext(val)
				}
				return
			}
			for _, m := range x {
				switch m.v.(type) {
				case jobj, jarr:
					walk(m.v)
				default:
					if _, ok := out[m.k]; !ok {
						out[m.k] = jtext(m.v)
					}
				}
			}
		case jarr:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// readDarajaParams reads a request body: a JSON object whose values are
// strings or numbers, kept as their text (Daraja takes both, and the
// portal's samples write amounts bare); null is "". Any other value, or a
// body that is not an object, is a bad payload.
func readDarajaParams(body []byte) (map[string]string, bool) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return map[string]string{}, false
	}
	p := make(map[string]string, len(raw))
	ok := true
	for k, v := range raw {
		v = bytes.TrimSpace(v)
		switch {
		case len(v) == 0:
		case v[0] == '"':
			var s string
			if json.Unmarshal(v, &s) != nil {
				ok = false
			}
			p[k] = s
		case bytes.Equal(v, []byte("null")):
			p[k] = ""
		case v[0] == '-' || v[0] >= '0' && v[0] <= '9':
			p[k] = string(v)
		default:
			p[k], ok = string(v), false
		}
	}
	return p, ok
}
