package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// TestRunOnSimulator runs the service against the simulator: the payment
// answers asynchronously, the callback reaches the handler, is archived,
// verified with a status query, and ends the wait.
func TestRunOnSimulator(t *testing.T) {
	addr := freeAddr(t)
	const token = "callbackservicetesttoken"
	srv := mpesatest.NewServer(mpesatest.WithAsync(mpesatest.Async{
		URL:  "http://" + addr + "/mpesa/results/" + token,
		APIs: []mpesa.API{mpesa.APIC2B},
	}))
	defer srv.Close()

	archivePath := filepath.Join(t.TempDir(), "callbacks.jsonl")
	cfg := &config{
		apiKey: srv.APIKey(), market: string(mpesa.MarketTanzania), shortcode: mpesatest.OpenAPIServiceProviderCode,
		token: token, listen: addr, msisdn: mpesatest.MSISDNSuccess, amount: "10", archive: archivePath,
		wait: 30 * time.Second, verify: true, once: true,
		clientOptions: srv.Options(mpesa.GatewayOpenAPI),
	}
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, run(ctx, cfg, logger))

	out := logs.String()
	assert.Contains(t, out, `msg="mpesa: result accepted"`)
	assert.Contains(t, out, `msg=paid`)
	assert.Contains(t, out, `verified=true`)
	assert.NotContains(t, out, mpesatest.MSISDNSuccess, "the customer's number is masked")
	assert.NotContains(t, out, srv.APIKey())

	archived, err := os.ReadFile(archivePath)
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(string(archived), "\n"), "one delivery archived")
	assert.Contains(t, string(archived), "input_OriginalConversationID")

	cbs, err := srv.WaitCallbacks(ctx, 1)
	require.NoError(t, err)
	require.Len(t, cbs, 1)
	assert.True(t, cbs[0].Acknowledged, "the gateway got its acknowledgement: %+v", cbs[0].Attempts)
}

func TestLoadConfigNamesEveryMissingSetting(t *testing.T) {
	for _, k := range []string{"MPESA_API_KEY", "MPESA_PUBLIC_KEY", "MPESA_MARKET", "MPESA_SERVICE_PROVIDER_CODE",
		"MPESA_BASE_URL", "MPESA_CALLBACK_TOKEN", "MPESA_CUSTOMER_MSISDN"} {
		t.Setenv(k, "")
	}
	_, err := loadConfig(nil)
	require.Error(t, err)
	for _, want := range []string{"MPESA_API_KEY", "MPESA_MARKET", "MPESA_SERVICE_PROVIDER_CODE", "MPESA_CUSTOMER_MSISDN"} {
		assert.Contains(t, err.Error(), want)
	}
}

// freeAddr returns a loopback address with a port free a moment ago: the
// simulator must know the Response URL before the service listens on it.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
