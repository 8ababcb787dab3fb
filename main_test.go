package mpesa

import (
	"flag"
	"io"
	"log/slog"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestMain keeps the Handler's default warnings (slog.Default) out of the
// test log; tests of that default set their own.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
