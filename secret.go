package mpesa

import (
	"fmt"
	"log/slog"

	"github.com/mpesa-go/mpesa/internal/redact"
)

// Secret is a credential, such as the security credential of a Mozambique
// reversal. It prints as [REDACTED] with every fmt verb, in log/slog and in
// JSON; convert it with string() where the value itself is needed.
type Secret string

// String returns "[REDACTED]".
func (Secret) String() string { return redact.Mask }

// GoString returns "[REDACTED]".
func (Secret) GoString() string { return redact.Mask }

// Format writes "[REDACTED]" whatever the verb.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redact.Mask)) }

// LogValue returns "[REDACTED]".
func (Secret) LogValue() slog.Value { return slog.StringValue(redact.Mask) }

// MarshalJSON encodes "[REDACTED]", so that a request logged or stored as
// JSON does not carry the credential either.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redact.Mask + `"`), nil }
