// Command mpesa is one tool for the M-Pesa gateways, for operators and for
// the tests of integrations in any language:
//
//	mpesa sim      the gateways simulated as a local server (OpenAPI v2 in
//	               its five markets, Vodacom Mozambique v1x and Safaricom
//	               Daraja), with a control plane and a phone page
//	mpesa listen   receive result callbacks, acknowledge them, print them,
//	               and pass them on to a local service
//	mpesa token    print a bearer for the configured gateway, for curl
//	mpesa status   query the status of a transaction
//	mpesa reverse  reverse a transaction
//	mpesa pay      make a payment: pay c2b, pay b2c, pay b2b
//	mpesa balance  Daraja: ask for the shortcode's balances
//	mpesa register-urls  Daraja: register the shortcode's C2B URLs
//
// Install it with go install github.com/mpesa-go/mpesa/cmd/mpesa@latest.
// cmd/mpesa/README.md documents each command, its settings and its exit
// codes; mpesa COMMAND -help says what the command prints.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Exit codes. Scripts tell the outcomes apart by them; README.md documents
// them.
const (
	exitOK          = 0 // done: the payment completed, the query answered
	exitRefused     = 1 // the gateway refused, or the payment failed: nothing moved
	exitUsage       = 2 // bad usage: a flag, a setting or a field is wrong or missing; nothing was sent
	exitUnknown     = 3 // the payment was sent and may have gone through: reconcile with the printed reference
	exitUnavailable = 4 // no usable answer to a request that moved nothing: safe to run again
	exitPending     = 5 // accepted: the result comes by callback; mpesa status tells it later
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

// env is what a command runs with: its input, outputs and process
// environment, so that tests run commands as a user does.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// ready, when set, is told the simulator's or listener's address once
	// it serves (tests wait for it).
	ready func(addr string)
}

func commands() []command {
	return []command{
		{"sim", "run the simulated gateways as a local server (OpenAPI v2, Vodacom Mozambique v1x, Safaricom Daraja)", runSim},
		{"listen", "receive result callbacks on a local address, acknowledge, print and forward them", runListen},
		{"token", "print a bearer for the configured gateway, for curl (the one command that prints a secret)", runToken},
		{"status", "query the status of a transaction", runStatus},
		{"reverse", "reverse a transaction, fully or in part", runReverse},
		{"pay", "make a payment: pay c2b | b2c | b2b (Daraja: c2b is an STK push)", runPay},
		{"balance", "Daraja: ask for the shortcode's account balances", runBalance},
		{"register-urls", "Daraja: register the shortcode's C2B confirmation and validation URLs", runRegisterURLs},
		{"version", "print the version of the SDK this command is built with", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run runs the command named by args[0] and returns its exit code.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(e.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "mpesa: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "mpesa: one command for the M-Pesa gateways (OpenAPI v2, Vodacom Mozambique v1x, Safaricom Daraja)")
	fmt.Fprintln(w, "\nUsage: mpesa COMMAND [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nmpesa COMMAND -help tells what a command prints and which settings it reads.")
	fmt.Fprintln(w, "Exit codes: 0 done, 1 refused (nothing moved), 2 bad usage (nothing sent),")
	fmt.Fprintln(w, "3 outcome unknown (reconcile the printed reference), 4 unavailable (nothing moved;")
	fmt.Fprintln(w, "safe to run again), 5 pending (the result comes by callback).")
}

// usageError reports a usage problem and returns exitUsage.
func usageError(e *env, cmd string, problems ...string) int {
	sort.Strings(problems)
	if len(problems) == 1 {
		fmt.Fprintf(e.stderr, "mpesa %s: %s\n", cmd, problems[0])
	} else {
		fmt.Fprintf(e.stderr, "mpesa %s:\n  %s\n", cmd, strings.Join(problems, "\n  "))
	}
	fmt.Fprintf(e.stderr, "(mpesa %s -help for the flags and settings)\n", cmd)
	return exitUsage
}
