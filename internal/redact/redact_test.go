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

func TestPhoneNumbers(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"INV-1":                  "INV-1",
		"12345678":               "12345678",
		"254712345678":           "254******678",
		"Pay 254712345678 now\t": "Pay 254******678 now\t",
		"a\xff 0712345678 b 123": "a\xff 071****678 b 123",
	} {
		if got := PhoneNumbers(in); got != want {
			t.Errorf("PhoneNumbers(%q) = %q, want %q", in, got, want)
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

// TestExcerptPaddingCannotRevealACutSecret: white space before a secret
// cut by the limit collapses before the cut, not after it, so that no piece
// of the secret is left unrecognised in view.
func TestExcerptPaddingCannotRevealACutSecret(t *testing.T) {
	const secret = "tOkEnSGWcJPtNtYNPGm6uSYR9yA0000"
	for pad := 0; pad < 400; pad++ {
		for _, space := range []string{" ", "\n", "\t \r"} {
			body := []byte("<p>" + strings.Repeat(space, pad) + "Bearer " + secret + "</p>")
			got := Excerpt(body, 60, secret, "Bearer "+secret)
			if piece := pieceOf(got, secret); piece != "" {
				t.Fatalf("pad %d of %q: %q of the secret in %q", pad, space, piece, got)
			}
		}
	}
}

// TestExcerptMasksCannotMoveACutSecretIntoView: masks are shorter than the
// secrets they replace, so text after them moves left; the start of a
// secret the limit cut off must not move into the excerpt with it.
func TestExcerptMasksCannotMoveACutSecretIntoView(t *testing.T) {
	const secret = "tOkEnSGWcJPtNtYNPGm6uSYR9yA0000tOkEnSGWcJPtNtYNPGm6u"
	for lead := 0; lead < 200; lead++ {
		body := []byte(secret + " " + secret + " " + strings.Repeat("x", lead) + secret)
		got := Excerpt(body, 60, secret)
		if piece := pieceOf(got, secret); piece != "" {
			t.Fatalf("lead %d: %q of the secret in %q", lead, piece, got)
		}
	}
}

// TestExcerptCutInsideAWideCharacter: the limit may fall inside a character
// of several bytes of a secret; the start of the secret cut there is
// dropped all the same.
func TestExcerptCutInsideAWideCharacter(t *testing.T) {
	const secret = "tOkEn€SGW€cJPtNtY€NPGm6uSYR9yA0000tOkEn€SGWcJPtNtYNPGm6u"
	for lead := 0; lead < 120; lead++ {
		body := []byte(secret + " " + strings.Repeat("x", lead) + secret)
		got := Excerpt(body, 60, secret)
		if piece := pieceOf(got, secret); piece != "" {
			t.Fatalf("lead %d: %q of the secret in %q", lead, piece, got)
		}
	}
}

// pieceOf returns the first six bytes in a row of secret that s holds, or
// "".
func pieceOf(s, secret string) string {
	for i := 0; i+6 <= len(secret); i++ {
		if strings.Contains(s, secret[i:i+6]) {
			return secret[i : i+6]
		}
	}
	return ""
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
