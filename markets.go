package mpesa

import (
	"fmt"
	"strings"

	"github.com/mpesa-go/mpesa/internal/redact"
)

// Market is an OpenAPI v2 market, spelled as the URL context value of the
// gateway documents ("vodacomTZN"). Each market fixes the input_Country and
// default input_Currency values and the country calling code of its MSISDNs.
// MarketKenya is the one market of another gateway (GatewayDaraja); its
// name follows the same pattern.
type Market string

// The markets of the OpenAPI v2 gateway.
const (
	MarketGhana      Market = "vodafoneGHA"
	MarketTanzania   Market = "vodacomTZN"
	MarketLesotho    Market = "vodacomLES"
	MarketDRC        Market = "vodacomDRC"
	MarketMozambique Market = "vodacomMOZ"
	// MarketKenya is Safaricom's Kenya, served by GatewayDaraja only: it
	// is not in Markets, and the OpenAPI gateway refuses it.
	MarketKenya Market = "safaricomKEN"
)

type marketInfo struct {
	name, country, currency, callingCode string
	// nationalDigits is the length of a national significant number
	// (the MSISDN without its calling code).
	nationalDigits int
	// mobileLeads holds the digits a mobile national number starts with.
	mobileLeads string
}

// markets is the market table of the OpenAPI v2 portal document ("Markets":
// URL context value, input_Country value, input_Currency value), with the
// ITU calling codes and national number lengths of each country.
var markets = map[Market]marketInfo{
	MarketGhana:      {"Vodafone Ghana", "GHA", "GHS", "233", 9, "25"},
	MarketTanzania:   {"Vodacom Tanzania", "TZN", "TZS", "255", 9, "67"},
	MarketLesotho:    {"Vodacom Lesotho", "LES", "LSL", "266", 8, "56"},
	MarketDRC:        {"Vodacom DR Congo", "DRC", "USD", "243", 9, "89"},
	MarketMozambique: {"Vodacom Mozambique", "MOZ", "MZN", "258", 9, "8"},
	// Safaricom numbers are 07… and, since 2019, 01… (0110, 0111):
	// docs/gateways.md D25, X9.
	MarketKenya: {"Safaricom Kenya", "KEN", "KES", "254", 9, "71"},
}

// Markets returns the markets of the OpenAPI v2 gateway, in the order of the
// gateway documents.
func Markets() []Market {
	return []Market{MarketGhana, MarketTanzania, MarketLesotho, MarketDRC, MarketMozambique}
}

// Valid reports whether m is one of the documented markets, MarketKenya
// included.
func (m Market) Valid() bool { _, ok := markets[m]; return ok }

// Country returns the input_Country value of the market ("TZN"), or "" for an
// unknown market.
func (m Market) Country() string { return markets[m].country }

// Currency returns the market's default input_Currency ("TZS"). A client can
// override it with WithCurrency (the DR Congo also trades in CDF).
func (m Market) Currency() string { return markets[m].currency }

// CallingCode returns the country calling code of the market's MSISDNs,
// without a plus sign ("255").
func (m Market) CallingCode() string { return markets[m].callingCode }

// Name returns a human-readable name ("Vodacom Tanzania").
func (m Market) Name() string { return markets[m].name }

// NationalNumberLength returns the number of digits that follow the calling
// code in an MSISDN of the market (9 for Tanzania: 255 744 553 111).
func (m Market) NationalNumberLength() int { return markets[m].nationalDigits }

// NormalizeMSISDN turns a mobile number as people type it into the form the
// gateways take for market m: the calling code and the national number,
// digits only. For Tanzania "+255 74 455 3111", "00255744553111",
// "0744553111" and "744553111" all become "255744553111"; for Mozambique
// "84 333 0333" becomes "258843330333"; for Kenya "0712 345 678",
// "0110 123 456", "+254712345678" and "254712345678" become 254 and nine
// digits starting with 7 or 1. Spaces, dashes, dots and
// parentheses are ignored. A number that cannot be a mobile number of the
// market is an error matching ErrInvalidMSISDN.
//
// The gateways' sandboxes use test numbers such as "000000000001" that are
// no real market's numbers: requests accept any 12 to 14 digits, and this
// helper is for numbers typed by people.
func NormalizeMSISDN(m Market, s string) (string, error) {
	info, ok := markets[m]
	if !ok {
		return "", fmt.Errorf("%w: unknown market %q", ErrInvalidMSISDN, string(m))
	}
	var b strings.Builder
	b.Grow(len(s))
	plus := false
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '\u00a0':
		default:
			return "", fmt.Errorf("%w: %q is not a phone number", ErrInvalidMSISDN, redact.MSISDN(s))
		}
	}
	d := b.String()
	cc, n := info.callingCode, info.nationalDigits
	var national string
	switch {
	case plus || strings.HasPrefix(d, "00"):
		d = strings.TrimPrefix(d, "00")
		if !strings.HasPrefix(d, cc) {
			return "", fmt.Errorf("%w: %s is not a number of %s (+%s)", ErrInvalidMSISDN, redact.MSISDN(d), info.name, cc)
		}
		national = d[len(cc):]
	case len(d) == len(cc)+n && strings.HasPrefix(d, cc):
		national = d[len(cc):]
	case len(d) == n+1 && d[0] == '0':
		national = d[1:]
	default:
		national = d
	}
	if len(national) != n || strings.IndexByte(info.mobileLeads, national[0]) < 0 {
		return "", fmt.Errorf("%w: %s is not a mobile number of %s: want +%s and %d digits starting with one of %q",
			ErrInvalidMSISDN, redact.MSISDN(d), info.name, cc, n, info.mobileLeads)
	}
	return cc + national, nil
}
