package readmetest

import (
	"reflect"
	"strings"
	"testing"
)

// These tests check the checker on Markdown of their own.

func TestParseMarkdown(t *testing.T) {
	md := strings.Join([]string{
		"# Title",                               // 1
		"```sh",                                 // 2
		"go test ./...",                         // 3
		"```",                                   // 4
		"<!-- readme-test: run -->",             // 5
		"",                                      // 6
		"```go",                                 // 7
		"x := 1",                                // 8
		"```",                                   // 9
		"<!-- readme-test: skip a listing -->",  // 10
		"````Go",                                // 11
		"func F()",                              // 12
		"```",                                   // 13
		"````",                                  // 14
		"- item",                                // 15
		"",                                      // 16
		"  ```go",                               // 17
		"  y := 2",                              // 18
		"  ```",                                 // 19
		"<!-- readme-test: compile why not -->", // 20
		"```go",                                 // 21
		"```",                                   // 22
	}, "\n")
	blocks, problems := parseMarkdown(md)
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	want := []block{
		{fence: 7, first: 8, last: 9, code: "x := 1", mode: modeRun},
		{fence: 11, first: 12, last: 14, code: "func F()\n```", mode: modeSkip, note: "a listing"},
		{fence: 17, first: 18, last: 19, code: "y := 2", mode: modeCompile},
		{fence: 21, first: 22, last: 22, code: "", mode: modeCompile, note: "why not"},
	}
	if !reflect.DeepEqual(blocks, want) {
		t.Errorf("blocks:\n got %+v\nwant %+v", blocks, want)
	}
}

func TestParseMarkdownProblems(t *testing.T) {
	for _, tc := range []struct {
		md   string
		line int
		msg  string
	}{
		{"<!-- readme-test: skip -->\n```go\nx\n```", 1, "skip needs a reason"},
		{"<!-- readme-test: runn -->\n```go\nx\n```", 1, `unknown readme-test mode "runn"`},
		{"<!-- readme-test: run -->\ntext\n```go\nx\n```", 1, "not right before a ```go block"},
		{"<!-- readme-test: run -->\n```sh\nx\n```", 1, "not right before a ```go block"},
		{"```go\nx\n```\n<!-- readme-test: run -->", 4, "not right before a ```go block"},
		{"<!-- readme-test: run\n-->\n```go\nx\n```", 1, "must be one line"},
		{"text\n```go\nx := 1\n", 2, "never closed"},
	} {
		_, problems := parseMarkdown(tc.md)
		if len(problems) != 1 || problems[0].line != tc.line || !strings.Contains(problems[0].msg, tc.msg) {
			t.Errorf("%q: problems %v, want one at line %d with %q", tc.md, problems, tc.line, tc.msg)
		}
	}
}

// TestCompileErrorsPointAtLines checks that a compile error names the
// Markdown line of the code, and that blank uses, imports and free
// variables let ordinary fragments compile.
func TestCompileErrorsPointAtLines(t *testing.T) {
	t.Parallel()
	md := strings.Join([]string{
		"# Doc", // 1
		"```go", // 2
		"st, err := c.Reconcile(ctx, mpesa.TransactionStatusRequest{QueryReference: ref})", // 3
		"```",                                  // 4
		"```go",                                // 5
		"x := time.Second",                     // 6
		"y := undefinedName",                   // 7
		"```",                                  // 8
		"<!-- readme-test: skip a listing -->", // 9
		"```go",                                // 10
		"func (c *Client) C2B(ctx context.Context, r C2BRequest) (*PaymentResponse, error)", // 11
		"```",   // 12
		"```go", // 13
		"func handle(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, 1, 2, 3 }", // 14
		"```",                           // 15
		"```go",                         // 16
		"type memStore struct{ n int }", // 17
		"",                              // 18
		"func (s *memStore) Save(ctx context.Context, res *mpesa.Result) error { s.n++; return nil }", // 19
		"```", // 20
	}, "\n")
	problems := check(t, repoRoot(t), "doc.md", md)
	if len(problems) != 2 {
		t.Fatalf("want 2 problems, got %d: %v", len(problems), problems)
	}
	if p := problems[0]; p.line != 14 || !strings.Contains(p.msg, "does not parse") {
		t.Errorf("first problem: %v, want line 14 does not parse", p)
	}
	if p := problems[1]; p.line != 6 || !strings.Contains(p.msg, "doc.md:7:6: undefined: undefinedName") || strings.Contains(p.msg, "doc.md:6") {
		t.Errorf("second problem: %v, want the block at line 6 with doc.md:7:6: undefined: undefinedName", p)
	}
}

// TestRunFailuresPointAtBlocks checks that each failing run is blamed on its
// block: an error, a panic, a block that ends the program.
func TestRunFailuresPointAtBlocks(t *testing.T) {
	t.Parallel()
	md := strings.Join([]string{
		"<!-- readme-test: run -->", // 1
		"```go",                     // 2
		`return errors.New("boom")`, // 3
		"```",                       // 4
		"<!-- readme-test: run -->", // 5
		"```go",                     // 6
		"var m map[string]int",      // 7
		`m["x"] = 1`,                // 8
		"```",                       // 9
		"<!-- readme-test: run -->", // 10
		"```go",                     // 11
		`fmt.Println("paid:", res.TransactionID != "")`, // 12
		"```",                       // 13
		"<!-- readme-test: run -->", // 14
		"```go",                     // 15
		"// no shortcode",           // 16
		"sandbox, err := mpesa.NewClient(apiKey, mpesa.WithMarket(mpesa.MarketTanzania))", // 17
		"if err != nil {",            // 18
		"	return err",                // 19
		"}",                          // 20
		"```",                        // 21
		"<!-- readme-test: run -->",  // 22
		"```go",                      // 23
		`log.Fatal("gone")`,          // 24
		"```",                        // 25
		"<!-- readme-test: run -->",  // 26
		"```go",                      // 27
		`fmt.Println("never")`,       // 28
		"```",                        // 29
		"<!-- readme-test: run -->",  // 30
		"```go",                      // 31
		"package main",               // 32
		"",                           // 33
		`import "os"`,                // 34
		"",                           // 35
		"func main() { os.Exit(3) }", // 36
		"```",                        // 37
	}, "\n")
	problems := check(t, repoRoot(t), "doc.md", md)
	want := []struct {
		line int
		msg  string
	}{
		{3, "fails:\n\tdoc.md:3: boom"},
		{7, "doc.md:8"}, // the panic's stack names the line
		{16, "doc.md:17: the client sandbox cannot serve the README's callback handler"},
		{24, "did not finish"},
		{28, "was not run"},
		{32, "exit status 3"},
	}
	if len(problems) != len(want) {
		t.Fatalf("want %d problems, got %d: %v", len(want), len(problems), problems)
	}
	for i, w := range want {
		if p := problems[i]; p.line != w.line || !strings.Contains(p.msg, w.msg) {
			t.Errorf("problem %d: %v, want line %d with %q", i, p, w.line, w.msg)
		}
	}
	if !strings.Contains(problems[3].msg, "doc.md:24: gone") {
		t.Errorf("the log.Fatal block's output is missing: %v", problems[3])
	}
}
