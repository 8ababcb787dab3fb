package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRun runs the example against the Redis of REDIS_URL.
func TestRun(t *testing.T) {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		t.Skip("REDIS_URL is not set: run `REDIS_URL=redis://127.0.0.1:6379/0 go test ./...` with a Redis there")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, url); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	for _, want := range []string{
		"[replica-1] C2B payment of 10 TZS accepted",
		"callback delivery 1 → replica-2",
		"[replica-2] received the result of conversation",
		"[replica-1] the result reached the waiting replica from replica-2",
		"getSession calls: 1 for 3 replicas",
		"[ok]",
		"removed this run's",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q", want)
		}
	}
}
