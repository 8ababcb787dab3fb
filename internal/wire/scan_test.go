package wire

import (
	"encoding/json"
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
