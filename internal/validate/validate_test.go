package validate

import (
	"regexp"
	"testing"
)

// The documents' regular expressions; the hand-written rules must agree with
// them on every input (FuzzRulesMatchTheDocuments).
var (
	reAmount = regexp.MustCompile(`^\d*\.?\d+$`)
	reRef20  = regexp.MustCompile(`^[0-9a-zA-Z \w+]{1,20}$`)
	reRef40  = regexp.MustCompile(`^[0-9a-zA-Z \w+]{1,40}$`)
	reMSISDN = regexp.MustCompile(`^[0-9]{12,14}$`)
	reShort  = regexp.MustCompile(`^([0-9A-Za-z]{4,12})$`)
	reToken  = regexp.MustCompile(`^[0-9a-zA-Z \w=]{1,26}$`)
	reMand   = regexp.MustCompile(`^[0-9a-zA-Z]{1,32}$`)
	reID     = regexp.MustCompile(`^[0-9]{1,12}$`)
	reCurr   = regexp.MustCompile(`^[a-zA-Z]{1,3}$`)
	reQuery  = regexp.MustCompile(`^(?:[A-Za-z0-9]{10,20}|[A-Za-z0-9]{1,9}|[A-Za-z0-9]{21,32})$`)
)

func check(t *testing.T, s string) {
	t.Helper()
	pairs := []struct {
		name string
		got  bool
		want bool
	}{
		{"amount", Amount(s), reAmount.MatchString(s) && hasNonZeroDigit(s)},
		{"ref20", Reference(s, 1, 20), reRef20.MatchString(s)},
		{"ref40", Reference(s, 1, 40), reRef40.MatchString(s)},
		{"msisdn", Digits(s, 12, 14), reMSISDN.MatchString(s)},
		{"shortcode", Alnum(s, 4, 12), reShort.MatchString(s)},
		{"token", Token(s), reToken.MatchString(s)},
		{"mandate", Alnum(s, 1, 32), reMand.MatchString(s)},
		{"mandateID", Digits(s, 1, 12), reID.MatchString(s)},
		{"currency", Letters(s, 1, 3), reCurr.MatchString(s)},
		{"query", Alnum(s, 1, 32), reQuery.MatchString(s)},
	}
	for _, p := range pairs {
		if p.got != p.want {
			t.Errorf("%s(%q) = %v, the document's regexp says %v", p.name, s, p.got, p.want)
		}
	}
}

func hasNonZeroDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= '1' && s[i] <= '9' {
			return true
		}
	}
	return false
}

var samples = []string{"", "10", "10.00", ".5", "5.", "0", "0.00", "1.2.3", "-1", "1e3", "1,5", " 10",
	"T12344C", "T1234 5+_x", "1e9b774d1da34af78412a498cbc28f5e", "asv02e5958774f7ba228d83d0d689761",
	"AAA6d1f9391a0052de0b5334a912jbsj1j2kk", "255744553111", "25574455311", "000000000001",
	"ORG001", "000", "cvgwUBZ3lAO9ivwhWAFeng==", "ab/cd", "15045", "GHS", "TZSX", "ü",
	"5C1400CVRO", "000000000000000000001", "abcdefghijklmnopqrstuvwxyz0123456789"}

func TestRulesMatchTheDocuments(t *testing.T) {
	for _, s := range samples {
		check(t, s)
	}
}

func FuzzRulesMatchTheDocuments(f *testing.F) {
	for _, s := range samples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { check(t, s) })
}

func TestDate(t *testing.T) {
	for s, ok := range map[string]bool{"20190205": true, "20240229": true, "20230229": false, "20231301": false,
		"2019025": false, "2019-02-05": false, "": false, "00000000": false} {
		if _, got := Date(s); got != ok {
			t.Errorf("Date(%q) = %v, want %v", s, got, ok)
		}
	}
}

func TestDayAndText(t *testing.T) {
	for s, ok := range map[string]bool{"01": true, "31": true, "00": false, "32": false, "1": false, "0a": false} {
		if Day(s) != ok {
			t.Errorf("Day(%q) != %v", s, ok)
		}
	}
	if !Text("Handbag, Black shoes", 1, 256) || Text("", 1, 256) || Text("a\nb", 1, 256) || Text("\xff", 1, 256) {
		t.Error("Text")
	}
	if !Text("ñ", 1, 1) {
		t.Error("Text counts characters, not bytes")
	}
}
