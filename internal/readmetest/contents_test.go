package readmetest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// TestREADMESaysWhatANewcomerNeeds: each of these was missing when a
// newcomer built a C2B service from the README alone (the structure issue,
// §2). The README must keep saying them.
func TestREADMESaysWhatANewcomerNeeds(t *testing.T) {
	root := repoRoot(t)
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(md)
	for _, want := range []string{
		"go get github.com/mpesa-go/mpesa@latest", // the install line
		"OriginalConversationID",                  // the main fields of Result
		"ThirdPartyConversationID", "TransactionID", "ResultCode", "Verified", "Extra",
		"NewResults(0, 0) keeps DefaultResultsSize", // what NewResults(0, 0) means
		"OnDelivery(func(ctx context.Context, d *mpesa.Delivery) error)",
		"`Code`", "`Fault`", "`Status`", "`Processed`", // the Scenario fields
		"ErrCancelledByCustomer), // Mozambique INS-5", "ErrTransactionFailed), // INS-6: OpenAPI v2 answers a declined prompt",
		"errors.As(err, &ve)", // a validation-error case in the switch
		"16+ characters",      // the token's minimum length
		"ErrMalformedResult", "ErrInvalidPublicKey",
		"WithReconcileBackoff", "HandlerLogger", "HandlerGateway", "MaxCallbackBytes", "Deduplicate",
		"ReadHeaderTimeout", // the callback server's settings
		"## How it is built",
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md no longer says %q", want)
		}
	}
	for _, name := range []string{"CHANGELOG.md", "SECURITY.md", "docs/gateways.md"} {
		if _, err := os.Stat(filepath.Join(root, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The names a Go developer tripped on (structure issue, §2), held by the
// compiler: Retryable rather than the deprecated Temporary, one Len result
// as MemoryDedup has, and a Secret credential in mpesatest as in mpesa.
var (
	_ func() bool                                 = (*mpesa.Error)(nil).Retryable
	_ func() int                                  = (*mpesa.Results)(nil).Len
	_ func() int                                  = (*mpesa.MemoryDedup)(nil).Len
	_ func(string, mpesa.Secret) mpesatest.Option = mpesatest.WithInitiator
	_ func(string, mpesa.Secret) mpesa.Option     = mpesa.WithInitiator
)
