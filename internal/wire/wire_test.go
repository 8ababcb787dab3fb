package wire

import (
	"encoding/json"
	"net/url"
	"testing"
	"unicode/utf8"
)

func TestAppendJSON(t *testing.T) {
	got := string(AppendJSON(nil, []Param{
		{"input_Amount", "10.00"},
		{"input_Desc", "Handbag, \"Black\" shoes\\\n\t<&>\u2028"},
		{"input_Bad", "a\xffb\x01"},
	}))
	want := `{"input_Amount":"10.00","input_Desc":"Handbag, \"Black\" shoes\\\n\t<&>\u2028","input_Bad":"a\ufffdb\u0001"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := string(AppendJSON(nil, nil)); got != "{}" {
		t.Fatalf("empty: %s", got)
	}
}

func TestQuery(t *testing.T) {
	got := Query([]Param{{"input_QueryReference", "5C1400CVRO"}, {"input_ThirdPartyReference", "a b+c&d"}})
	if want := "input_QueryReference=5C1400CVRO&input_ThirdPartyReference=a+b%2Bc%26d"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// FuzzAppendJSON checks the encoder against encoding/json: the output is
// valid JSON and decodes to the input (with invalid UTF-8 replaced).
func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote`, "back\\slash", "ctl\x00\x1f\x7f", "ünï©ødé", "\xff\xfe", "\u2028\u2029", "<script>&"} {
		f.Add("input_Key", s)
	}
	f.Fuzz(func(t *testing.T, k, v string) {
		out := AppendJSON(nil, []Param{{k, v}, {"input_Second", v}})
		if len(out) > JSONLen([]Param{{k, v}, {"input_Second", v}})*6+16 {
			t.Fatalf("output much longer than the estimate")
		}
		var m map[string]string
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("invalid JSON %q: %v", out, err)
		}
		if got, want := m["input_Second"], valid(v); got != want && k != "input_Second" {
			t.Fatalf("round trip: got %q, want %q", got, want)
		}
		q, err := url.ParseQuery(Query([]Param{{k, v}}))
		if err != nil || q.Get(k) != v {
			t.Fatalf("query round trip of %q=%q: %v %q", k, v, err, q.Get(k))
		}
	})
}

func valid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b := []rune{}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b = append(b, r)
		i += n
	}
	return string(b)
}
