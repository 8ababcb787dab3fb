package main

import (
	"fmt"
	"os"

	"github.com/mpesa-go/mpesa"
)

// The settings of the Daraja gateway (Safaricom, Kenya). Its consumer key
// is the client's API key: MPESA_CONSUMER_KEY, or MPESA_API_KEY as the
// other gateways name it. Its secrets (the consumer secret, the passkey,
// the initiator password) are read from the environment and the env file
// only, as the other gateways' are. Every name is read as
// MPESA_DARAJA_<NAME> first, then MPESA_<NAME>.

// darajaSettings are the settings only Daraja has.
type darajaSettings struct {
	consumerSecret  string
	passkey         string
	password        string // the initiator's password, in clear
	certFile        string
	resultURL       string
	queueTimeoutURL string
	c2bVersion      string // of register-urls: 1 or 2 (mpesa.WithC2BVersion)
}

// darajaFlags declares the flags of Daraja's settings that are no secret.
func darajaFlags(add func(name, env, usage string)) {
	add("certificate", "MPESA_CERTIFICATE_FILE", "Daraja: the PEM certificate the initiator password is encrypted with (default: Safaricom's certificate of the environment; mpesa sim names its own)")
	add("result-url", "MPESA_RESULT_URL", "Daraja: where results are posted: the STK push's CallBackURL and the ResultURL of the others (mpesa listen serves one)")
	add("queue-timeout-url", "MPESA_QUEUE_TIMEOUT_URL", "Daraja: where a queue timeout notice is posted (default: the result URL)")
	add("c2b-version", "MPESA_C2B_VERSION", "Daraja: the C2B API version the app has, 1 or 2 (default 2), for register-urls")
}

// loadDaraja reads the settings of a Daraja client.
func (s *settings) loadDaraja() {
	s.apiKey = s.lookup("", "CONSUMER_KEY", true, "API_KEY")
	s.initiator = s.lookup("initiator", "INITIATOR_NAME", true)
	d := &s.daraja
	d.consumerSecret = s.lookup("", "CONSUMER_SECRET", true)
	d.passkey = s.lookup("", "PASSKEY", true)
	d.password = s.lookup("", "INITIATOR_PASSWORD", true)
	d.certFile = s.lookup("certificate", "CERTIFICATE_FILE", true)
	d.resultURL = s.lookup("result-url", "RESULT_URL", true)
	d.queueTimeoutURL = s.lookup("queue-timeout-url", "QUEUE_TIMEOUT_URL", true)
	if d.queueTimeoutURL == "" {
		d.queueTimeoutURL = d.resultURL
	}
	d.c2bVersion = s.lookup("c2b-version", "C2B_VERSION", true)
}

// needDaraja lists what a Daraja command lacks, every missing setting at
// once.
func (s *settings) needDaraja(n need) []string {
	d := &s.daraja
	var missing []string
	if s.apiKey == "" {
		missing = append(missing, "MPESA_CONSUMER_KEY is not set (the Daraja app's consumer key, also read as MPESA_API_KEY; environment or --env-file)")
	}
	if d.consumerSecret == "" {
		missing = append(missing, "MPESA_CONSUMER_SECRET is not set (the Daraja app's consumer secret; environment or --env-file)")
	}
	if n&needShortcode != 0 && s.shortcode == "" {
		missing = append(missing, "no shortcode: --shortcode or MPESA_SERVICE_PROVIDER_CODE (the business shortcode)")
	}
	if n&needPasskey != 0 && d.passkey == "" {
		missing = append(missing, "MPESA_PASSKEY is not set (the shortcode's Lipa na M-Pesa Online passkey, which signs STK pushes and queries; environment or --env-file)")
	}
	if n&needInitiator != 0 {
		if s.initiator == "" {
			missing = append(missing, "no initiator: --initiator or MPESA_INITIATOR_NAME (the Daraja initiator's name)")
		}
		if d.password == "" {
			missing = append(missing, "MPESA_INITIATOR_PASSWORD is not set (the initiator's password, which the command encrypts; environment or --env-file)")
		}
	}
	if n&needResultURL != 0 && d.resultURL == "" {
		missing = append(missing, "no result URL: --result-url or MPESA_RESULT_URL (where Daraja posts the result; mpesa listen serves one)")
	}
	return missing
}

// darajaOptions are the client options of Daraja's own settings.
func (s *settings) darajaOptions() ([]mpesa.Option, error) {
	d := &s.daraja
	opts := []mpesa.Option{mpesa.WithConsumerSecret(mpesa.Secret(d.consumerSecret))}
	if d.passkey != "" {
		opts = append(opts, mpesa.WithPasskey(mpesa.Secret(d.passkey)))
	}
	if s.initiator != "" && d.password != "" {
		opts = append(opts, mpesa.WithInitiator(s.initiator, mpesa.Secret(d.password)))
	}
	if d.certFile != "" {
		pem, err := os.ReadFile(d.certFile)
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		opts = append(opts, mpesa.WithCertificate(string(pem)))
	}
	if d.resultURL != "" {
		opts = append(opts, mpesa.WithResultURL(d.resultURL))
	}
	if d.queueTimeoutURL != "" {
		opts = append(opts, mpesa.WithQueueTimeoutURL(d.queueTimeoutURL))
	}
	switch d.c2bVersion {
	case "":
	case "1", "2":
		opts = append(opts, mpesa.WithC2BVersion(int(d.c2bVersion[0]-'0')))
	default:
		return nil, fmt.Errorf("c2b-version %q: want 1 or 2", d.c2bVersion)
	}
	return opts, nil
}
