package readmetest

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"sort"
	"strconv"
	"strings"
)

// freeVar is a name a fragment may use without declaring it. The runner's
// env (runnerMain) has a field of the same name and type.
type freeVar struct {
	name, typ string
	imports   []string // the packages typ names
	pays      bool     // the environment pays req before a block that uses it
	async     bool     // a block that uses it gets callbacks (see doc.go)
}

const mpesaPath = "github.com/mpesa-go/mpesa"

// freeVars are the free variables of fragments, in the order of the
// parameters of a fragment's function. doc.go lists them for README writers.
var freeVars = []freeVar{
	{name: "ctx", typ: "context.Context", imports: []string{"context"}},
	{name: "apiKey", typ: "string"},
	{name: "publicKey", typ: "string"},
	{name: "shortcode", typ: "string"},
	{name: "client", typ: "*mpesa.Client", imports: []string{mpesaPath}},
	{name: "c", typ: "*mpesa.Client", imports: []string{mpesaPath}},
	{name: "req", typ: "mpesa.C2BRequest", imports: []string{mpesaPath}},
	{name: "res", typ: "*mpesa.PaymentResponse", imports: []string{mpesaPath}, pays: true},
	{name: "ref", typ: "string", pays: true},
	{name: "err", typ: "error"},
	{name: "hub", typ: "*mpesa.Results", imports: []string{mpesaPath}},
	{name: "store", typ: "resultStore"},
	{name: "token", typ: "string"},
	{name: "archiveRawBody", typ: "func(context.Context, *mpesa.Delivery) error", imports: []string{"context", mpesaPath}},
	{name: "mux", typ: "*http.ServeMux", imports: []string{"net/http"}, async: true},
}

// knownPackages maps the package names a fragment may use without an import
// to their import paths.
var knownPackages = map[string]string{
	"bytes":     "bytes",
	"context":   "context",
	"errors":    "errors",
	"fmt":       "fmt",
	"http":      "net/http",
	"httptest":  "net/http/httptest",
	"io":        "io",
	"json":      "encoding/json",
	"log":       "log",
	"mpesa":     mpesaPath,
	"mpesatest": mpesaPath + "/mpesatest",
	"net":       "net",
	"netip":     "net/netip",
	"os":        "os",
	"slog":      "log/slog",
	"strconv":   "strconv",
	"strings":   "strings",
	"sync":      "sync",
	"time":      "time",
}

// kind is what a Go block is.
type kind int

const (
	kindFragment kind = iota // statements: the body of a function of package main
	kindDecls                // declarations without a package clause: a package of their own
	kindFile                 // a whole file: a package of its own
)

// unit is a block as the generated module holds it.
type unit struct {
	block
	kind   kind
	fn     string    // kindFragment: the function
	params []freeVar // kindFragment: the free variables it uses
	pays   bool      // kindFragment: the environment pays req first
	async  bool      // kindFragment: the simulator answers asynchronously to mux
	dir    string    // kindDecls, kindFile: the package directory
	binary string    // kindFile, package main: the executable go build -o leaves
}

// program is the generated module, without go.mod and go.sum.
type program struct {
	files map[string]string // slash path in the module -> contents
	units []unit            // the blocks it compiles, in README order
	runs  []unit            // the fragments the runner runs
	execs []unit            // the whole files to run, each its own binary
}

// moduleName is the path of the generated module, and so the name of the
// runner's binary.
const moduleName = "readmeprog"

// generate makes the module that compiles and runs the blocks of the
// Markdown file name. A block it cannot parse is left out and reported.
func generate(name string, blocks []block) (*program, []problem) {
	p := &program{files: map[string]string{}}
	var problems []problem
	for _, b := range blocks {
		if b.mode == modeSkip {
			continue
		}
		u, src, probs := genBlock(name, b)
		if len(probs) > 0 {
			problems = append(problems, probs...)
			continue
		}
		switch u.kind {
		case kindFragment:
			p.files[fmt.Sprintf("block_L%d.go", b.first)] = src
			if b.mode == modeRun {
				p.runs = append(p.runs, u)
			}
		default:
			p.files[u.dir+"/block.go"] = src
			if b.mode == modeRun {
				p.execs = append(p.execs, u)
			}
		}
		p.units = append(p.units, u)
	}
	p.files["main.go"] = runnerMain(name, p.runs)
	return p, problems
}

// genBlock classifies b and returns the source that compiles it.
func genBlock(name string, b block) (unit, string, []problem) {
	u := unit{block: b}
	fset := token.NewFileSet()
	if f, err := parser.ParseFile(fset, "", b.code, parser.PackageClauseOnly); err == nil {
		u.kind = kindFile
		u.dir = fmt.Sprintf("file_L%d", b.first)
		if b.mode == modeRun {
			if f.Name.Name != "main" {
				return u, "", []problem{{b.first, fmt.Sprintf("the block at %s is marked run but is package %s; a runnable file must be package main", b.lines(), f.Name.Name)}}
			}
			u.binary = u.dir
		}
		return u, lineDirective(name, b.first) + b.code + "\n", nil
	}

	src, fn, params, err := genFragment(name, b)
	if err == nil {
		u.kind, u.fn, u.params = kindFragment, fn, params
		for _, v := range params {
			u.pays = u.pays || v.pays
			u.async = u.async || v.async
		}
		return u, src, nil
	}
	// Not statements: maybe declarations (a func or type listing).
	pkg := fmt.Sprintf("readmeL%d", b.first)
	if src, derr := genDecls(name, b, pkg); derr == nil {
		if b.mode == modeRun {
			return u, "", []problem{{b.first, fmt.Sprintf("the block at %s is marked run but holds declarations, not statements; start it with package main to run it", b.lines())}}
		}
		u.kind, u.dir = kindDecls, pkg
		return u, src, nil
	}
	return u, "", parseProblems(b, err)
}

// parseProblems turns the parser's errors, whose positions the line
// directive made README lines, into one problem at the first of them.
func parseProblems(b block, err error) []problem {
	var list scanner.ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		return []problem{{b.first, fmt.Sprintf("the ```go block at %s does not parse: %v", b.lines(), err)}}
	}
	line := list[0].Pos.Line
	if line < b.first || line >= b.last {
		line = b.last - 1
	}
	var msgs []string
	for i, e := range list {
		if i == 5 {
			break
		}
		msgs = append(msgs, e.Error())
	}
	return []problem{{line, fmt.Sprintf("the ```go block at %s does not parse (as a file, as statements or as declarations):\n%s", b.lines(), indent(strings.Join(msgs, "\n")))}}
}

// lineDirective makes the compiler report the next line as line of name.
func lineDirective(name string, line int) string {
	return fmt.Sprintf("//line %s:%d:1\n", name, line)
}

const generatedHeader = "// Code generated by the readmetest test from README.md. DO NOT EDIT.\n\n"

// genFragment makes the function of a fragment, or returns the parser's
// error when b is not a list of statements.
func genFragment(name string, b block) (src, fn string, params []freeVar, err error) {
	const head = "package main\n\nfunc _() {\n"
	directive := lineDirective(name, b.first)
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", head+directive+b.code+"\n}\n", 0)
	if err != nil {
		return "", "", nil, err
	}
	body := f.Decls[0].(*ast.FuncDecl).Body
	tf := fset.File(f.Pos())
	codeStart := len(head) + len(directive)

	// A use of each variable a top-level statement declares, right after
	// it, so that a fragment that stops where the README's explanation
	// does still compiles. The use hands the value to the runner, which
	// checks what a runnable block declared (see checkDeclared).
	type insertion struct {
		off  int
		text string
	}
	var ins []insertion
	for _, s := range body.List {
		var uses []string
		line := fset.Position(s.Pos()).Line
		for _, n := range declaredNames(s) {
			uses = append(uses, fmt.Sprintf("readmeDeclared(%d, %q, %s)", line, n, n))
		}
		if len(uses) > 0 {
			ins = append(ins, insertion{tf.Offset(s.End()) - codeStart, "; " + strings.Join(uses, "; ")})
		}
	}
	code := b.code
	for i := len(ins) - 1; i >= 0; i-- {
		code = code[:ins[i].off] + ins[i].text + code[ins[i].off:]
	}

	// The names the fragment uses and does not declare: free variables
	// and packages.
	free := map[string]bool{}
	for _, id := range f.Unresolved {
		free[id.Name] = true
	}
	imports := map[string]bool{}
	for n := range free {
		if p, ok := knownPackages[n]; ok {
			imports[p] = true
		}
	}
	var sig []string
	for _, v := range freeVars {
		if free[v.name] {
			params = append(params, v)
			sig = append(sig, v.name+" "+v.typ)
			for _, p := range v.imports {
				imports[p] = true
			}
		}
	}

	fn = fmt.Sprintf("readmeL%d", b.first)
	var w strings.Builder
	w.WriteString(generatedHeader + "package main\n\n")
	writeImports(&w, imports)
	fmt.Fprintf(&w, "// %s is the ```go block at %s %s.\n", fn, name, b.lines())
	fmt.Fprintf(&w, "func %s(%s) error {\n\t{\n", fn, strings.Join(sig, ", "))
	w.WriteString(directive + code + "\n")
	// Back to this file's own lines for what follows the fragment.
	fmt.Fprintf(&w, "//line block_L%d.go:%d:1\n", b.first, strings.Count(w.String(), "\n")+2)
	w.WriteString("\t}\n")
	if n := len(body.List); n == 0 || !isTerminating(body.List[n-1]) {
		w.WriteString("\treturn nil\n")
	}
	w.WriteString("}\n")
	return w.String(), fn, params, nil
}

// genDecls makes the package of a fragment of declarations, or returns the
// parser's error.
func genDecls(name string, b block, pkg string) (string, error) {
	head := "package " + pkg + "\n\n"
	directive := lineDirective(name, b.first)
	f, err := parser.ParseFile(token.NewFileSet(), "", head+directive+b.code+"\n", 0)
	if err != nil {
		return "", err
	}
	imports := map[string]bool{}
	for _, id := range f.Unresolved {
		if p, ok := knownPackages[id.Name]; ok {
			imports[p] = true
		}
	}
	var w strings.Builder
	w.WriteString(generatedHeader + head)
	writeImports(&w, imports)
	w.WriteString(directive + b.code + "\n")
	return w.String(), nil
}

func writeImports(w *strings.Builder, imports map[string]bool) {
	if len(imports) == 0 {
		return
	}
	paths := make([]string, 0, len(imports))
	for p := range imports {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	w.WriteString("import (\n")
	for _, p := range paths {
		fmt.Fprintf(w, "\t%q\n", p)
	}
	w.WriteString(")\n\n")
}

// declaredNames returns the variables a top-level statement declares.
func declaredNames(s ast.Stmt) []string {
	var names []string
	add := func(id *ast.Ident) {
		if id.Name != "_" {
			names = append(names, id.Name)
		}
	}
	switch s := s.(type) {
	case *ast.AssignStmt:
		if s.Tok == token.DEFINE {
			for _, e := range s.Lhs {
				if id, ok := e.(*ast.Ident); ok {
					add(id)
				}
			}
		}
	case *ast.DeclStmt:
		if gd, ok := s.Decl.(*ast.GenDecl); ok && gd.Tok == token.VAR {
			for _, spec := range gd.Specs {
				for _, id := range spec.(*ast.ValueSpec).Names {
					add(id)
				}
			}
		}
	}
	return names
}

// isTerminating reports whether s is a terminating statement in the
// common forms (the spec's list is longer), after which a "return nil"
// would be unreachable code for go vet.
func isTerminating(s ast.Stmt) bool {
	switch s := s.(type) {
	case *ast.ReturnStmt:
		return true
	case *ast.BranchStmt:
		return s.Tok == token.GOTO
	case *ast.ExprStmt:
		call, ok := s.X.(*ast.CallExpr)
		if !ok {
			return false
		}
		id, ok := call.Fun.(*ast.Ident)
		return ok && id.Name == "panic"
	case *ast.BlockStmt:
		return len(s.List) > 0 && isTerminating(s.List[len(s.List)-1])
	case *ast.IfStmt:
		return s.Else != nil && isTerminating(s.Body) && isTerminating(s.Else)
	}
	return false
}

// runnerMain is the main.go of the generated module: it runs the runnable
// fragments in order, each with an environment of its own.
func runnerMain(name string, runs []unit) string {
	var list strings.Builder
	for _, u := range runs {
		args := make([]string, len(u.params))
		for i, v := range u.params {
			args[i] = "e." + v.name
		}
		fmt.Fprintf(&list, "\t{line: %d, last: %d, pay: %t, async: %t, run: func(e *env) error { return %s(%s) }},\n",
			u.first, u.last-1, u.pays, u.async, u.fn, strings.Join(args, ", "))
	}
	src := strings.Replace(runnerTemplate, "\t// RUNS\n", list.String(), 1)
	src = strings.Replace(src, "\"README.md\"", strconv.Quote(name), 1)
	return generatedHeader + src
}

// runnerMarker is how the runner's lines about a block start; the test reads
// them back (see parseRun).
const (
	markRun  = "=== RUN "
	markPass = "--- PASS "
	markFail = "--- FAIL "
)

// runnerTemplate is main.go; "\t// RUNS\n" becomes the runnable fragments.
// Its env has one field per freeVar, of the same name and type.
var runnerTemplate = `package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

const (
	// blockTimeout is the deadline of the ctx a block gets.
	blockTimeout = 10 * time.Second
	// hardTimeout is when the runner gives up on a block that ignores ctx.
	hardTimeout = 15 * time.Second
	// callbackDelay is the simulator's Async.Delay: the customer typing
	// the PIN, and the time a block has to mount its handler on mux.
	callbackDelay = 200 * time.Millisecond
)

// docName is the Markdown file the blocks come from.
const docName = "README.md"

// resultStore is the type of the free variable store.
type resultStore interface {
	Save(ctx context.Context, res *mpesa.Result) error
}

type memStore struct {
	mu      sync.Mutex
	results []*mpesa.Result
}

func (s *memStore) Save(_ context.Context, res *mpesa.Result) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results = append(s.results, res)
	return nil
}

// env is what a block runs with: a simulator of its own and the free
// variables, one field each.
type env struct {
	srv      *mpesatest.Server
	listener *http.Server // serves mux, when the block gets callbacks
	cancel   context.CancelFunc

	ctx            context.Context
	apiKey         string
	publicKey      string
	shortcode      string
	client         *mpesa.Client
	c              *mpesa.Client
	req            mpesa.C2BRequest
	res            *mpesa.PaymentResponse
	ref            string
	err            error
	hub            *mpesa.Results
	store          resultStore
	token          string
	archiveRawBody func(context.Context, *mpesa.Delivery) error
	mux            *http.ServeMux

	mu         sync.Mutex
	deliveries []*mpesa.Delivery
}

// newEnv starts the simulator of a block: synchronous, or with async
// answering the way README.md's "Asynchronous mode" says, with the result
// callbacks POSTed to mux at /mpesa/results/<token>. With pay it pays req
// first and keeps the answer in res.
func newEnv(pay, async bool) (*env, error) {
	e := &env{token: mpesa.NewReference(), mux: http.NewServeMux()}
	var opts []mpesatest.Option
	if async {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		e.listener = &http.Server{Handler: e.mux, ReadHeaderTimeout: blockTimeout}
		go func() { _ = e.listener.Serve(ln) }()
		opts = append(opts, mpesatest.WithAsync(mpesatest.Async{
			URL:   "http://" + ln.Addr().String() + "/mpesa/results/" + e.token,
			Delay: callbackDelay,
		}))
	}
	e.srv = mpesatest.NewServer(opts...)
	client, err := mpesa.NewClient(e.srv.APIKey(),
		append(e.srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
	if err != nil {
		e.close()
		return nil, fmt.Errorf("the environment's client: %w", err)
	}
	e.ctx, e.cancel = context.WithTimeout(context.Background(), blockTimeout)
	e.apiKey = e.srv.APIKey()
	e.publicKey = e.srv.PublicKey()
	e.shortcode = mpesatest.OpenAPIServiceProviderCode
	e.client, e.c = client, client
	e.req = mpesa.C2BRequest{
		Amount:               "10.00",
		CustomerMSISDN:       mpesatest.MSISDNSuccess,
		TransactionReference: "READMETEST",
		PurchasedItemsDesc:   "README test",
	}
	e.hub = mpesa.NewResults(0, 0)
	e.store = &memStore{}
	e.archiveRawBody = func(_ context.Context, d *mpesa.Delivery) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.deliveries = append(e.deliveries, d)
		return nil
	}
	if pay {
		e.res, err = client.C2B(e.ctx, e.req)
		if err != nil {
			e.close()
			return nil, fmt.Errorf("the environment's payment of req: %w", err)
		}
		e.ref = e.res.ThirdPartyConversationID
	}
	return e, nil
}

// checkCallbacks waits for the simulator's callbacks to end and reports
// those the block's handler did not acknowledge.
func (e *env) checkCallbacks() error {
	ctx, cancel := context.WithTimeout(context.Background(), blockTimeout)
	defer cancel()
	cbs, err := e.srv.WaitCallbacks(ctx, len(e.srv.Callbacks()))
	if err != nil {
		return fmt.Errorf("waiting for the simulator's callbacks: %w", err)
	}
	var errs []error
	for _, cb := range cbs {
		if cb.Acknowledged {
			continue
		}
		var tries []string
		for _, a := range cb.Attempts {
			tries = append(tries, fmt.Sprintf("HTTP %d: %s", a.Status, a.Err))
		}
		errs = append(errs, fmt.Errorf("the simulator's %v callback was never acknowledged (%d attempts: %s)",
			cb.API, len(cb.Attempts), strings.Join(tries, "; ")))
	}
	return errors.Join(errs...)
}

// declared is a variable a block declared, as readmeDeclared saw it.
type declared struct {
	line  int // where
	name  string
	value any
}

var (
	declaredMu     sync.Mutex
	declaredValues []declared
)

// readmeDeclared is called right after a fragment's top-level statement
// declares name.
func readmeDeclared(line int, name string, value any) {
	declaredMu.Lock()
	defer declaredMu.Unlock()
	declaredValues = append(declaredValues, declared{line, name, value})
}

// takeDeclared returns and forgets the values readmeDeclared saw.
func takeDeclared() []declared {
	declaredMu.Lock()
	defer declaredMu.Unlock()
	d := declaredValues
	declaredValues = nil
	return d
}

// checkDeclared checks what a block declared. A client must be able to
// serve README.md's callback handler, which confirms results with
// mpesa.VerifyWithStatusQuery(client): that needs WithServiceProviderCode,
// which every request that leaves its shortcode empty needs too.
func checkDeclared(vals []declared) error {
	var errs []error
	for _, d := range vals {
		c, ok := d.value.(*mpesa.Client)
		if !ok || c == nil {
			continue
		}
		_, err := mpesa.NewHandler(func(context.Context, *mpesa.Result) error { return nil }, mpesa.VerifyWithStatusQuery(c))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: the client %s cannot serve the README's callback handler: %w", docName, d.line, d.name, err))
		}
	}
	return errors.Join(errs...)
}

func (e *env) close() {
	if e.cancel != nil {
		e.cancel()
	}
	if e.srv != nil {
		e.srv.Close()
	}
	if e.listener != nil {
		_ = e.listener.Close()
	}
}

type runBlock struct {
	line, last int // the README lines of the block's code
	pay, async bool
	run        func(e *env) error
}

var runBlocks = []runBlock{
	// RUNS
}

func main() {
	log.SetFlags(0)
	failed := false
	for _, b := range runBlocks {
		if !runOne(b) {
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

func runOne(b runBlock) bool {
	name := fmt.Sprintf("%s:%d", docName, b.line)
	fmt.Fprintf(os.Stderr, "` + markRun + `%s\n", name)
	log.SetPrefix(name + ": ")
	start := time.Now()
	err := run(b)
	if err != nil {
		if msg := err.Error(); strings.HasPrefix(msg, docName+":") {
			fmt.Fprintln(os.Stderr, msg)
		} else {
			fmt.Fprintf(os.Stderr, "%s: %s\n", name, msg)
		}
		fmt.Fprintf(os.Stderr, "` + markFail + `%s (%v)\n", name, time.Since(start).Round(time.Millisecond))
		return false
	}
	fmt.Fprintf(os.Stderr, "` + markPass + `%s (%v)\n", name, time.Since(start).Round(time.Millisecond))
	return true
}

func run(b runBlock) error {
	e, err := newEnv(b.pay, b.async)
	if err != nil {
		return err
	}
	defer e.close()
	takeDeclared()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("panic: %v\n%s", p, debug.Stack())
			}
		}()
		done <- b.run(e)
	}()
	select {
	case err := <-done:
		return errors.Join(err, checkDeclared(takeDeclared()), e.checkCallbacks())
	case <-time.After(hardTimeout):
		// The block may hold the simulator, whose Close would wait for it.
		fmt.Fprintf(os.Stderr, "%s:%d: still running after %v\n", docName, b.line, hardTimeout)
		os.Exit(1)
		return nil
	}
}
`
