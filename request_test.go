package mpesa

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mpesa-go/mpesa/internal/validate"
)

func TestNewReference(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		r := NewReference()
		assert.Len(t, r, referenceLength)
		assert.True(t, validate.Alnum(r, 1, 20), "fits every reference rule: %q", r)
		assert.False(t, seen[r])
		seen[r] = true
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	req := ReversalRequest{TransactionID: "49XCDF6", InitiatorIdentifier: "MPesa2018", SecurityCredential: "Mpesa2019"}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("reversal", "req", req, "cred", req.SecurityCredential)
	for _, s := range []string{fmt.Sprint(req), fmt.Sprintf("%+v", req), fmt.Sprintf("%#v", req), fmt.Sprintf("%s|%q|%x", req.SecurityCredential, req.SecurityCredential, req.SecurityCredential), logs.String()} {
		assert.NotContains(t, s, "Mpesa2019")
	}
	assert.Contains(t, fmt.Sprintf("%+v", req), "MPesa2018", "the identifier is not a secret")
}
