package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzScanAgreesWithEncodingJSON: SkipValue accepts exactly what json.Valid
// accepts, and Value reads a string as json.Unmarshal does.
func FuzzScanAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":"b"}`, ` [1, -0.5e+3, true, null] `, `"a\u00e9\n"`, "\"\xff\"", `{"a":}`, `01`, `1.`, `"\x"`,
		`{"a":[{"b":{}}]}`, ``, ` `, `nul`, `"\ud800"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i := SkipSpace(s, 0)
		end, ok := SkipValue(s, i, 0)
		got := ok && SkipSpace(s, end) == len(s)
		if want := json.Valid([]byte(s)); got != want {
			t.Fatalf("SkipValue says valid=%v, json.Valid %v, for %q", got, want, s)
		}
		if !got || s[i] != '"' {
			return
		}
		v, vend, ok := Value(s, i, 0)
		var want string
		if err := json.Unmarshal([]byte(s), &want); err != nil || !ok || vend != end || v != want {
			t.Fatalf("Value(%q) = %q, %d, %v; json.Unmarshal %q, %v", s, v, vend, ok, want, err)
		}
	})
}

// FuzzObjectAgreesWithEncodingJSON: Object accepts exactly the objects
// json.Valid accepts, tells a valid non-object apart, and passes every
// member as json.Unmarshal reads it, keys exactly as sent.
func FuzzObjectAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":"b"}`, ` [1, -0.5e+3, true, null] `, `"a\u00e9\n"`, "\"\xff\"", `{"a":}`, `01`, `1.`, `"\x"`,
		`{"a":[{"b":{}}]}`, ``, ` `, `nul`, `"\ud800"`, `{"a":"\ud800","A":"b","a":null}`, `{"a":1} {}`,
		`{"a":"x"}x`, ` {"k":{"n":[1,{"m":"\u00e9"}]} , "e":""}` + "\n", "{\"a\":\"\xff\"}", `{"a":"\/"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		type member struct {
			key, value string
			kind       Kind
		}
		var got []member
		err := ObjectKinds(s, func(key, value string, kind Kind) error {
			got = append(got, member{key, value, kind})
			return nil
		})
		valid := json.Valid([]byte(s))
		object := valid && strings.TrimLeft(s, " \t\r\n")[0] == '{'
		switch {
		case object && err != nil:
			t.Fatalf("ObjectKinds(%q) = %v; json.Valid accepts it", s, err)
		case valid && !object && !errors.Is(err, ErrNotObject):
			t.Fatalf("ObjectKinds(%q) = %v, want ErrNotObject", s, err)
		case !valid && !errors.Is(err, ErrSyntax):
			t.Fatalf("ObjectKinds(%q) = %v, want ErrSyntax", s, err)
		}
		if !object {
			return
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatal(err)
		}
		last := map[string]member{}
		for _, m := range got {
			last[m.key] = m
		}
		if len(last) != len(want) {
			t.Fatalf("ObjectKinds(%q) passed keys %v, json.Unmarshal %v", s, got, want)
		}
		for k, raw := range want {
			m, ok := last[k]
			if !ok {
				t.Fatalf("ObjectKinds(%q) did not pass %q", s, k)
			}
			if m.kind != Kind(raw[0]) {
				t.Fatalf("%q: kind %q, want %q", k, m.kind, raw[0])
			}
			switch m.kind {
			case KindString:
				var v string
				if err := json.Unmarshal(raw, &v); err != nil || v != m.value {
					t.Fatalf("%q = %q; json.Unmarshal %q, %v", k, m.value, v, err)
				}
			case KindNull:
				if m.value != "" {
					t.Fatalf("%q: null passed as %q", k, m.value)
				}
			default:
				if m.value != string(raw) {
					t.Fatalf("%q = %q, want %q", k, m.value, raw)
				}
			}
		}
	})
}

// TestDepthCountsFromTheDocument: a nested value is checked against
// encoding/json's nesting limit from the body's own object, not from
// itself.
func TestDepthCountsFromTheDocument(t *testing.T) {
	for _, n := range []int{MaxDepth - 1, MaxDepth} {
		s := `{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
		err := Object(s, func(string, string) error { return nil })
		if want := json.Valid([]byte(s)); (err == nil) != want {
			t.Errorf("depth %d: %v; json.Valid %v", n+1, err, want)
		}
	}
}

func TestElementsAndMembers(t *testing.T) {
	var got []string
	err := ElementsKinds(`[ "a" , 1, null, {"b":"c"} ]`, func(v string, k Kind) error {
		got = append(got, string(k)+v)
		if k == KindObject {
			return Members(v, func(key, value string) error { got = append(got, key+"="+value); return nil })
		}
		return nil
	})
	if err != nil || strings.Join(got, "|") != `"a|11|n|{{"b":"c"}|b=c` {
		t.Fatalf("%q, %v", got, err)
	}
	for _, bad := range []string{`{}`, `[1,]`, `[1 2]`, ``} {
		if err := Elements(bad, func(string) error { return nil }); err == nil {
			t.Errorf("Elements(%q) accepted", bad)
		}
	}
	if err := Members(`[1]`, func(string, string) error { return nil }); !errors.Is(err, ErrNotObject) {
		t.Errorf("Members of an array: %v", err)
	}
	stop := errors.New("stop")
	if err := Object(`{"a":1,"b":2}`, func(string, string) error { return stop }); err != stop {
		t.Errorf("fn's error: %v", err)
	}
}
