package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa/mpesatest"
)

// mpesa sim names everything a Daraja client needs in its banner and env
// file, and the certificate file it writes: temporary unless
// --daraja-cert-out keeps it.
func TestSimDarajaOutput(t *testing.T) {
	s := runTestSim(t, "--mozambique-ports=false")
	out := s.stdout.String()
	env, err := readEnvFile(s.envFile)
	require.NoError(t, err)
	for _, k := range []string{"BASE_URL", "CONSUMER_KEY", "CONSUMER_SECRET", "SERVICE_PROVIDER_CODE", "PASSKEY",
		"INITIATOR_NAME", "INITIATOR_PASSWORD", "CERTIFICATE_FILE", "RESULT_URL", "CUSTOMER_MSISDN"} {
		assert.NotEmpty(t, env["MPESA_DARAJA_"+k], k)
	}
	assert.Equal(t, s.base, env["MPESA_DARAJA_BASE_URL"])
	assert.Equal(t, env["MPESA_API_KEY"], env["MPESA_DARAJA_CONSUMER_KEY"])
	assert.Equal(t, mpesatest.DarajaShortcode, env["MPESA_DARAJA_SERVICE_PROVIDER_CODE"])
	assert.Equal(t, "http://127.0.0.1:8080/daraja/results", env["MPESA_DARAJA_RESULT_URL"], "mpesa listen's default address")
	assert.Contains(t, out, "Safaricom Daraja (Kenya, sandbox)")
	for _, k := range []string{"CONSUMER_SECRET", "PASSKEY", "INITIATOR_PASSWORD", "CERTIFICATE_FILE"} {
		assert.Contains(t, out, env["MPESA_DARAJA_"+k], "the banner prints %s", k)
	}
	assert.Contains(t, out, "254700001032            cancels the prompt: 1032")
	assert.Contains(t, out, "254708374149            pays: 0")

	cert := env["MPESA_DARAJA_CERTIFICATE_FILE"]
	pem, err := os.ReadFile(cert)
	require.NoError(t, err)
	assert.Contains(t, string(pem), "-----BEGIN CERTIFICATE-----")
	code, body := s.control(t, "GET", "/_sim/", "")
	require.Equal(t, http.StatusOK, code)
	var info struct {
		Gateways map[string]struct {
			Certificate string `json:"certificate"`
			Passkey     string `json:"passkey"`
		} `json:"gateways"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &info))
	assert.Equal(t, info.Gateways["daraja"].Certificate, string(pem), "the simulator's own certificate")
	assert.Equal(t, env["MPESA_DARAJA_PASSKEY"], info.Gateways["daraja"].Passkey)

	// The password has '#' and '&': the file is quoted so that a shell
	// reads it as the command does.
	if sh, err := exec.LookPath("sh"); err == nil {
		got, err := exec.Command(sh, "-c", `. "$0"; printf %s "$MPESA_DARAJA_INITIATOR_PASSWORD"`, s.envFile).Output()
		require.NoError(t, err)
		assert.Equal(t, env["MPESA_DARAJA_INITIATOR_PASSWORD"], string(got))
	}

	assert.Equal(t, 0, s.stop())
	_, err = os.Stat(cert)
	assert.ErrorIs(t, err, os.ErrNotExist, "the temporary certificate is removed on exit")

	kept := filepath.Join(t.TempDir(), "daraja.pem")
	s2 := runTestSim(t, "--daraja-cert-out", kept, "--mozambique-ports=false")
	env2, err := readEnvFile(s2.envFile)
	require.NoError(t, err)
	assert.Equal(t, kept, env2["MPESA_DARAJA_CERTIFICATE_FILE"])
	assert.Equal(t, 0, s2.stop())
	_, err = os.Stat(kept)
	assert.NoError(t, err, "--daraja-cert-out keeps the file")
}
