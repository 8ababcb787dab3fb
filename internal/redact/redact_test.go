package redact

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMSISDN(t *testing.T) {
	for in, want := range map[string]string{
		"255744553111": "255******111",
		"258843330333": "258******333",
		"123456":       "******",
		"":             "",
	} {
		if got := MSISDN(in); got != want {
			t.Errorf("MSISDN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"Request processed successfully":   "Request processed successfully",
		"MSISDN 255744553111 invalid":      "MSISDN 255******111 invalid",
		"date 20190205 id 4XDF12345":       "date 20190205 id 4XDF12345",
		"multi\nline\ttext":                "multi line text",
		"bad \xff byte":                    "bad \uFFFD byte",
		"number at end 843330333":          "number at end 843***333",
		"AG_20180206_00005e7dccc6da08efa8": "AG_20180206_00005e7dccc6da08efa8",
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExcerpt(t *testing.T) {
	body := []byte("<html>\n  <body>key SECRETKEY and 255744553111 " + strings.Repeat("x", 300) + "</body></html>")
	got := Excerpt(body, 60, "SECRETKEY")
	if strings.Contains(got, "SECRETKEY") || strings.Contains(got, "255744553111") {
		t.Fatalf("leak in %q", got)
	}
	if !strings.HasPrefix(got, "<html> <body>key [REDACTED] and 255******111 x") {
		t.Fatalf("got %q", got)
	}
	if len(got) > 60+len("…") {
		t.Fatalf("too long: %d", len(got))
	}
	// A secret straddling the limit is still removed.
	got = Excerpt([]byte(strings.Repeat("a", 55)+"SECRETKEY"), 60, "SECRETKEY")
	if strings.Contains(got, "SECRE") {
		t.Fatalf("partial secret in %q", got)
	}
}

func FuzzExcerpt(f *testing.F) {
	f.Add([]byte("<html>255744553111</html>"), "secret")
	f.Add([]byte("\xff\xfe\x00"), "")
	f.Add([]byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaasecretsecret"), "secret")
	f.Fuzz(func(t *testing.T, body []byte, secret string) {
		got := Excerpt(body, 40, secret)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8: %q", got)
		}
		if len(got) > 40+len("…") {
			t.Fatalf("too long: %q", got)
		}
		// Secrets are base64 or hex: check those that the body held.
		isToken := len(secret) >= 4 && strings.Trim(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == ""
		if isToken && strings.Contains(string(body), secret) && strings.Contains(got, secret) && !strings.Contains(Mask, secret) {
			t.Fatalf("secret %q in %q", secret, got)
		}
	})
}
