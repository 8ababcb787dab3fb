package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// What mpesa sim prints on start, and the .env file of --env-out.

// portOrder is the order the Mozambique ports are listed in: the
// documents'.
var portOrder = []mpesa.API{mpesa.APIC2B, mpesa.APIB2C, mpesa.APIB2B, mpesa.APITransactionStatus, mpesa.APIReversal, mpesa.APIBeneficiaryName}

func printBanner(w io.Writer, c *simConfig, info *simInfo) {
	tlsNote := "TLS"
	if c.plainHTTP {
		tlsNote = "plain HTTP"
	} else if info.caFile != "" {
		tlsNote = "TLS; trust the CA in " + info.caFile
	} else {
		tlsNote = "TLS; --ca-out FILE writes the CA to trust"
	}
	fmt.Fprintf(w, "mpesa sim: the M-Pesa gateways on %s (%s)\n\n", info.base, tlsNote)
	row := func(k, v string) { fmt.Fprintf(w, "  %-23s %s\n", k, v) }
	row("phone page", info.base+"/")
	row("control plane", info.base+mpesatest.ControlPrefix+" (GET it for the endpoints)")

	fmt.Fprintf(w, "\nOpenAPI v2 (%s)\n", joinMarkets())
	row("base URL", info.base+"  (paths /sandbox/ipg/v2/{market}/{api}/ and /openapi/...)")
	row("service provider code", mpesatest.OpenAPIServiceProviderCode)
	row("origin", "any (the header is required)")

	fmt.Fprintln(w, "\nVodacom Mozambique v1x")
	row("base URL", info.base+"  (paths /ipg/v1x/{api}/)")
	if info.portURLs != nil {
		var ports []string
		for _, api := range portOrder {
			ports = append(ports, api.String()+" "+info.portURLs[api])
		}
		row("documented ports", strings.Join(ports, ", "))
		if len(c.hosts) > 0 {
			row("by host name", "https://"+c.hosts[0]+":18352 and so on, once "+c.hosts[0]+" resolves to this host")
		}
	}
	row("service provider code", mpesatest.MozambiqueServiceProviderCode)
	row("origin", mpesatest.OriginMozambique)
	row("initiator", mpesatest.MozambiqueInitiatorIdentifier+" (security credential "+mpesatest.MozambiqueSecurityCredential+")")

	d := info.daraja
	fmt.Fprintln(w, "\nSafaricom Daraja (Kenya, sandbox)")
	row("base URL", info.base+"  (paths /oauth/v1/generate, /mpesa/..., /pulltransactions/v1/...)")
	row("consumer key", "the API key below")
	row("consumer secret", string(d.ConsumerSecret))
	row("shortcode", d.Shortcode)
	row("passkey", string(d.Passkey))
	row("initiator", d.Initiator+" (password "+string(d.InitiatorPassword)+")")
	certNote := " (temporary, removed on exit; --daraja-cert-out FILE keeps it)"
	if c.darajaCertOut != "" {
		certNote = ""
	}
	row("certificate", info.darajaCert+certNote)
	resultNote := " (mpesa listen's address; --async URL sets another)"
	if d.ResultURL != "" {
		resultNote = ""
	}
	row("result URL", info.darajaResult+resultNote+"; every result goes to the URL its request names")

	fmt.Fprintln(w, "\nEvery gateway")
	row("API key", info.apiKey)
	keyNote := fmt.Sprintf("RSA %d, new for this run; --key FILE keeps it", publicKeyBits(info.publicKey))
	if info.keyFile != "" {
		verb := "from"
		if info.keyCreated {
			verb = "written to"
		}
		keyNote = fmt.Sprintf("RSA %d, %s %s", publicKeyBits(info.publicKey), verb, info.keyFile)
	}
	row("public key", keyNote+" (OpenAPI v2 and Mozambique; Daraja's certificate holds it)")
	fmt.Fprintf(w, "    %s\n", info.publicKey)

	fmt.Fprintln(w, "\nTest customers (what a C2B payment of each does; on Daraja, the STK push's ResultCode)")
	for _, msisdn := range sortedCustomers(info.customers) {
		cust := info.customers[msisdn]
		does := mpesatest.OutcomeDoes(cust.Outcome, gatewayOf(msisdn))
		if cust.Interactive {
			does += ", after its prompt is answered"
		}
		row(msisdn, does)
	}
	row("any other number", "pays")

	fmt.Fprintln(w)
	switch {
	case info.asyncURL != "":
		apis := "c2b, b2c, b2b, reversal and the direct debit changes"
		if len(info.asyncAPIs) > 0 {
			var names []string
			for _, a := range info.asyncAPIs {
				names = append(names, a.String())
			}
			apis = strings.Join(names, ", ")
		}
		row("answers", "asynchronous for "+apis+"; callbacks to "+info.asyncURL)
	default:
		row("answers", "synchronous (PUT /_sim/async, or --async URL, for callbacks)")
	}
	if info.interactive {
		row("prompts", fmt.Sprintf("every C2B and STK push waits for its PIN prompt on the phone page (times out after %v)", info.promptTimeout))
	}
	if c.envOut != "" {
		row("env file", c.envOut)
	}
}

func joinMarkets() string {
	var ms []string
	for _, m := range mpesa.Markets() {
		ms = append(ms, string(m))
	}
	return strings.Join(ms, ", ")
}

// envFile is the .env of --env-out. The generic MPESA_ names configure an
// OpenAPI v2 client (market vodacomTZN); MPESA_MOZAMBIQUE_ and
// MPESA_DARAJA_ names take precedence for mpesa --gateway mozambique-v1x
// and --gateway daraja.
func envFile(c *simConfig, info *simInfo) string {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, envValue(v)) }
	comment := func(s string) { fmt.Fprintf(&b, "# %s\n", s) }
	comment("Written by mpesa sim for the simulator at " + info.base + ".")
	comment("Read it with mpesa --env-file FILE, or source it in a shell. The generic")
	comment("names configure OpenAPI v2; MPESA_MOZAMBIQUE_* are read first when the")
	comment("gateway is mozambique-v1x (mpesa --gateway mozambique-v1x), MPESA_DARAJA_*")
	comment("when it is daraja (mpesa --gateway daraja).")
	line("MPESA_GATEWAY", mpesa.GatewayOpenAPI.String())
	line("MPESA_MARKET", string(mpesa.MarketTanzania))
	line("MPESA_ENVIRONMENT", "sandbox")
	line("MPESA_BASE_URL", info.base)
	if info.caFile != "" {
		line("MPESA_CA_FILE", info.caFile)
		line("NODE_EXTRA_CA_CERTS", info.caFile)
	}
	line("MPESA_API_KEY", info.apiKey)
	line("MPESA_PUBLIC_KEY", info.publicKey)
	line("MPESA_SERVICE_PROVIDER_CODE", mpesatest.OpenAPIServiceProviderCode)
	line("MPESA_CUSTOMER_MSISDN", mpesatest.MSISDNSuccess)
	line("MPESA_INITIATOR_ID", mpesatest.MozambiqueInitiatorIdentifier)
	line("MPESA_SECURITY_CREDENTIAL", mpesatest.MozambiqueSecurityCredential)
	b.WriteString("\n")
	comment("Vodacom Mozambique v1x: every API by path at the base URL")
	line("MPESA_MOZAMBIQUE_BASE_URL", info.base)
	line("MPESA_MOZAMBIQUE_ORIGIN", mpesatest.OriginMozambique)
	line("MPESA_MOZAMBIQUE_SERVICE_PROVIDER_CODE", mpesatest.MozambiqueServiceProviderCode)
	line("MPESA_MOZAMBIQUE_CUSTOMER_MSISDN", mpesatest.MozambiqueMSISDNSuccess)
	if info.portURLs != nil {
		comment("and each API on its documented port, as the live gateway serves it")
		for _, api := range portOrder {
			line("MPESA_MOZAMBIQUE_"+strings.ToUpper(envAPI(api))+"_URL", info.portURLs[api])
		}
	}
	b.WriteString("\n")
	d := info.daraja
	comment("Safaricom Daraja: its consumer key is the API key; the certificate file")
	if c.darajaCertOut == "" {
		comment("is removed when the simulator exits (--daraja-cert-out FILE keeps it)")
	} else {
		comment("is kept")
	}
	line("MPESA_DARAJA_BASE_URL", info.base)
	line("MPESA_DARAJA_CONSUMER_KEY", info.apiKey)
	line("MPESA_DARAJA_CONSUMER_SECRET", string(d.ConsumerSecret))
	line("MPESA_DARAJA_SERVICE_PROVIDER_CODE", d.Shortcode)
	line("MPESA_DARAJA_PASSKEY", string(d.Passkey))
	line("MPESA_DARAJA_INITIATOR_NAME", d.Initiator)
	line("MPESA_DARAJA_INITIATOR_PASSWORD", string(d.InitiatorPassword))
	line("MPESA_DARAJA_CERTIFICATE_FILE", info.darajaCert)
	if d.ResultURL == "" {
		comment("mpesa listen's default address: where Daraja posts the results")
	}
	line("MPESA_DARAJA_RESULT_URL", info.darajaResult)
	line("MPESA_DARAJA_CUSTOMER_MSISDN", mpesatest.DarajaMSISDNSuccess)
	b.WriteString("\n")
	comment("The simulator: its control plane, its phone page, and its test customers")
	line("MPESA_SIM_URL", info.base)
	line("MPESA_SIM_CONTROL_URL", info.base+mpesatest.ControlPrefix)
	for _, msisdn := range sortedCustomers(info.customers) {
		comment(msisdn + " " + mpesatest.OutcomeDoes(info.customers[msisdn].Outcome, gatewayOf(msisdn)))
	}
	return b.String()
}

// envValue writes a value so that both readEnvFile and a shell's "." read
// it back as it is: single-quoted unless every character is safe (an
// initiator password may hold '#', '&', '%' or '$').
func envValue(v string) string {
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+/=:._-,@", r)) {
			return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
		}
	}
	return v
}

// envAPI names an API in an environment variable.
func envAPI(api mpesa.API) string {
	switch api {
	case mpesa.APITransactionStatus:
		return "STATUS"
	case mpesa.APIBeneficiaryName:
		return "CUSTOMER_NAME"
	}
	return api.String()
}
