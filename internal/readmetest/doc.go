// Package readmetest keeps README.md's Go code honest. It has no code of its
// own: its test, run by go test ./..., extracts every ```go block of the
// repository's README.md, compiles them all with the real compiler and go
// vet, and runs the runnable ones against the mpesatest simulator. A block
// that stops compiling, or an example that stops working, fails CI with the
// README.md line of the block.
//
// # Annotations
//
// An HTML comment on the last non-blank line before a ```go fence says what
// to do with the block (GitHub does not render it):
//
//	<!-- readme-test: compile -->       compile and vet it (the default)
//	<!-- readme-test: run -->           also run it on the simulator
//	<!-- readme-test: skip REASON -->   not Go to compile (a signature
//	                                    listing, pseudo-code); REASON is required
//
// compile and run take an optional note after the mode, for the next reader.
// An unknown mode, a skip without a reason, or an annotation that is not
// right before a ```go block fails the test, so that a typo does not quietly
// turn a check off.
//
// # Blocks
//
// A block that parses as a Go file (it starts with a package clause, maybe
// after comments) is a whole file: it becomes a package of its own, and a
// runnable one must be package main.
//
// Any other block is a fragment: statements, as a README shows them. Each
// becomes the body of a function of its own,
//
//	func readmeL57(ctx context.Context, c *mpesa.Client) error { { fragment }; return nil }
//
// so that blocks do not clash. The inner braces let a fragment declare anew,
// with :=, a name the environment provides (c, err := ...); a fragment may
// return an error, which fails its run. Right after each top-level statement
// that declares variables, on the same line, the test adds a use of each,
// readmeDeclared(line, "st", st): a fragment that stops where the README's
// explanation does (st, err := c.Reconcile(...)) still compiles, and the
// runner sees what a runnable block declared. The imports are those of the
// package names the fragment uses (fmt, errors, time, http, mpesa,
// mpesatest and the other common ones of knownPackages). A fragment that
// does not parse as statements but parses as declarations (a func or type
// listing) is compiled as a package of its own, without free variables.
//
// # Free variables
//
// A fragment may use these names without declaring them; each one it uses
// is a parameter of its function. In a run they are bound to a simulator
// that each block gets for itself:
//
//	ctx            context.Context         ends 10 s after the block starts
//	apiKey         string                  srv.APIKey()
//	publicKey      string                  srv.PublicKey()
//	shortcode      string                  mpesatest.OpenAPIServiceProviderCode
//	client, c      *mpesa.Client           srv.Options(mpesa.GatewayOpenAPI)
//	                                       and mpesa.WithMarket(mpesa.MarketTanzania)
//	req            mpesa.C2BRequest        a valid payment of mpesatest.MSISDNSuccess
//	res            *mpesa.PaymentResponse  the answer to client.C2B(ctx, req),
//	                                       paid before a block that uses res or ref
//	ref            string                  res.ThirdPartyConversationID
//	err            error                   nil
//	hub            *mpesa.Results          mpesa.NewResults(0, 0)
//	store          resultStore             an in-memory store; resultStore is
//	                                       interface{ Save(context.Context, *mpesa.Result) error }
//	token          string                  mpesa.NewReference()
//	archiveRawBody func(context.Context, *mpesa.Delivery) error  keeps the delivery
//	mux            *http.ServeMux          http.NewServeMux(), see below
//
// The simulator answers synchronously, unless the block uses mux: then mux
// is served on the loopback interface and the simulator is started as the
// README's "Asynchronous mode" says, with
// mpesatest.WithAsync(mpesatest.Async{URL: "http://<mux's address>/mpesa/results/" + token,
// Delay: 200 * time.Millisecond}), so that a handler the block mounts on mux
// receives the result callbacks (of the payment of res, for one).
//
// Any other undeclared name is a compile error at its README line.
//
// # What a run checks
//
// A runnable fragment fails when it returns an error, panics, calls
// log.Fatal or os.Exit, or is still running after 15 s. After it returns,
// the runner also checks that every result callback the simulator sent was
// acknowledged, and that every *mpesa.Client the block declared can serve
// the README's callback handler: mpesa.NewHandler accepts
// mpesa.VerifyWithStatusQuery(client), which needs WithServiceProviderCode
// (as does every request that leaves its shortcode empty). A runnable whole
// file fails when it exits with a status other than 0.
//
// # How it runs
//
// The test writes one temporary module into t.TempDir(): a go.mod with the
// go version of the repository's (README code is held to it) that requires
// github.com/mpesa-go/mpesa and replaces it with the repository (found from
// the test's working directory), the repository's go.sum, one file per
// fragment in package main, a main.go that runs the runnable fragments in
// README order, and a directory per whole-file or declarations block. Every
// line of README code carries its README line through a //line directive,
// so the compiler, go vet and panics name README.md lines. It then runs,
// with the go command that runs the test (GOROOT/bin/go, which go test puts
// first in PATH), GOTOOLCHAIN=local, GOFLAGS=-mod=mod and GOWORK=off:
//
//  1. one go build -o bin/ ./... of the whole module, which reports every
//     compile error of every block;
//  2. one go vet ./...;
//  3. the runner binary that go build left, and the binary of each runnable
//     whole file, each with a deadline of 20 s. They are run directly
//     rather than with go run, so that the deadline kills the program and
//     not only the go command.
//
// The runner prints "=== RUN README.md:N" before a block and "--- PASS" or
// "--- FAIL" after it, which the test reads to blame a failure on its block;
// a block with a RUN and no end ended the program.
//
// Nothing is downloaded: the module cache that builds the repository builds
// the temporary module too. The test imports mpesatest, so that go test's
// cache reruns it when the SDK changes.
package readmetest
