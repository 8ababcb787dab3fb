package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// The phone page in a real browser: a C2B of an interactive customer puts
// a PIN prompt on the page; the test clicks "Decline" with the mouse, and
// the merchant's Response URL, an mpesa.Handler, gets the result with the
// cancellation code (Mozambique INS-5).
//
// It needs Chromium (Debian: apt-get install -y chromium; or MPESA_CHROMIUM
// naming the binary) and skips without it. With MPESA_SCREENSHOT=FILE it
// also writes the screenshot of the page with the prompt open there
// (docs/sim-phone.png is made so).
func TestPhonePageInABrowser(t *testing.T) {
	if raceEnabled {
		// A browser beside the race detector only slows the other
		// packages' timing tests; the page has no Go code to race.
		t.Skip("the browser test runs without -race (go test ./cmd/mpesa, .ci/cli.sh)")
	}
	chromium := findChromium()
	if chromium == "" {
		t.Skip("no Chromium: install it (Debian: apt-get install -y chromium) or set MPESA_CHROMIUM to run the browser test")
	}

	// The merchant: a Response URL served by mpesa.Handler.
	results := make(chan *mpesa.Result, 4)
	h, err := mpesa.NewHandler(func(_ context.Context, res *mpesa.Result) error {
		results <- res
		return nil
	}, mpesa.HandlerGateway(mpesa.GatewayMozambique))
	require.NoError(t, err)
	merchant := httptest.NewServer(h)
	t.Cleanup(merchant.Close)

	s := runTestSim(t, "--http", "--async", merchant.URL+"/mpesa/results", "--async-apis", "c2b", "--prompt-timeout", "2m")
	const customer = "258847770001"
	code, body := s.control(t, "PUT", "/_sim/customers/"+customer, `{"interactive":true,"first_name":"Ana","last_name":"Macuacua"}`)
	require.Equal(t, http.StatusOK, code, body)

	// Some traffic first, so that the journal has something to show.
	file := []string{"--env-file", s.envFile}
	r := mpesaCmd(t, nil, append([]string{"pay", "c2b", "--amount", "150.00", "--gateway", "mozambique", "--transaction-reference", "ORDER-1041"}, file...)...)
	require.Equal(t, exitPending, r.code, r.all())
	require.Equal(t, "0", (<-results).ResultCode)
	r = mpesaCmd(t, nil, append([]string{"pay", "b2c", "--amount", "75", "--msisdn", mpesatest.MSISDNSuccess}, file...)...)
	require.Equal(t, exitOK, r.code, r.all())

	b := startBrowser(t, chromium)
	page := b.page
	_, err = page.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": false})
	require.NoError(t, err)
	_, err = page.call("Page.navigate", map[string]any{"url": s.base + "/"})
	require.NoError(t, err)
	page.waitFor(t, "the live journal", `document.getElementById("conn") && document.getElementById("conn").textContent === "live"`)
	page.waitFor(t, "the customer", `document.getElementById("customers").textContent.includes("`+customer+`")`)

	// The customer is asked to pay.
	r = mpesaCmd(t, nil, append([]string{"pay", "c2b", "--amount", "250.00", "--gateway", "mozambique", "--msisdn", customer, "--transaction-reference", "ORDER-1042", "--ref", "CHECKOUT1042"}, file...)...)
	require.Equal(t, exitPending, r.code, r.all())
	page.waitFor(t, "the PIN prompt", `document.querySelector(".phone button.decline")`)
	var text string
	require.NoError(t, page.eval(`document.querySelector(".phone .text").textContent`, &text))
	assert.Equal(t, "Pay 250.00 MZN to 171717 for ORDER-1042? Enter your M-Pesa PIN to confirm.", text)
	var shown string
	require.NoError(t, page.eval(`document.querySelector(".phone .bar").textContent`, &shown))
	assert.Contains(t, shown, "258******001", "the number is masked on the page too")
	select {
	case res := <-results:
		t.Fatalf("a result arrived before anybody answered the prompt: %v", res)
	default:
	}

	png, err := page.screenshot()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(t.TempDir(), "sim-phone.png"), png, 0o644))
	if out := os.Getenv("MPESA_SCREENSHOT"); out != "" {
		require.NoError(t, os.WriteFile(out, png, 0o644))
	}

	page.click(t, ".phone button.decline")

	select {
	case res := <-results:
		assert.Equal(t, "INS-5", res.ResultCode)
		assert.ErrorIs(t, res.Err(), mpesa.ErrCancelledByCustomer)
		assert.Equal(t, "CHECKOUT1042", res.ThirdPartyConversationID)
	case <-time.After(15 * time.Second):
		t.Fatal("the merchant got no result after the decline")
	}
	// The page shows the callback and its acknowledgement, and no prompt.
	page.waitFor(t, "the callback in the journal", `document.querySelector('#journal tr[data-kind="callback"][data-code="INS-5"]')`)
	page.waitFor(t, "the prompt gone", `!document.querySelector(".phone")`)
	var ack string
	require.NoError(t, page.eval(`document.querySelector('#journal tr[data-kind="callback"][data-code="INS-5"]').textContent`, &ack))
	assert.Contains(t, ack, "200 ✓ ack 0")
}
