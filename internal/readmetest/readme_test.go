package readmetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	// The test compiles README code against the SDK in a child process,
	// which go test's cache cannot see. Importing the SDK makes this test
	// binary, and so its cached result, change whenever the SDK does.
	_ "github.com/mpesa-go/mpesa/mpesatest"
)

// runDeadline bounds each run of generated code.
const runDeadline = 20 * time.Second

// TestREADME compiles every ```go block of README.md and runs those marked
// run on the simulator; see the package comment.
func TestREADME(t *testing.T) {
	root := repoRoot(t)
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range check(t, root, "README.md", string(md)) {
		t.Error(p.String("README.md"))
	}
}

func (p problem) String(name string) string {
	if p.line == 0 {
		return p.msg
	}
	return fmt.Sprintf("%s:%d: %s", name, p.line, p.msg)
}

// check compiles and runs the Go blocks of the Markdown text md, called name,
// against the module at root, and returns what is wrong with them.
func check(t *testing.T, root, name, md string) []problem {
	t.Helper()
	blocks, problems := parseMarkdown(md)
	if len(blocks) == 0 {
		return append(problems, problem{0, name + " has no ```go blocks"})
	}
	prog, probs := generate(name, blocks)
	problems = append(problems, probs...)

	dir := t.TempDir()
	if err := writeModule(dir, root, prog); err != nil {
		t.Fatal(err)
	}
	goBin := goCommand(t)
	bin := filepath.Join(dir, "bin")

	start := time.Now()
	out, err := goRun(goBin, dir, "build", "-o", bin+string(filepath.Separator), "./...")
	t.Logf("go build of %d blocks of %s: %v", len(prog.units), name, time.Since(start).Round(time.Millisecond))
	if err != nil {
		return append(problems, attribute(name, prog.units, out, "does not compile")...)
	}
	start = time.Now()
	out, err = goRun(goBin, dir, "vet", "./...")
	t.Logf("go vet: %v", time.Since(start).Round(time.Millisecond))
	if err != nil {
		problems = append(problems, attribute(name, prog.units, out, "fails go vet")...)
	}

	if len(prog.runs) > 0 {
		start = time.Now()
		out, err := execute(filepath.Join(bin, moduleName+exeSuffix()))
		t.Logf("run of %d blocks: %v\n%s", len(prog.runs), time.Since(start).Round(time.Millisecond), out)
		problems = append(problems, parseRun(name, prog.runs, out, err)...)
	}
	for _, u := range prog.execs {
		out, err := execute(filepath.Join(bin, u.binary+exeSuffix()))
		t.Logf("run of the file at %s:%d:\n%s", name, u.first, out)
		if err != nil {
			problems = append(problems, problem{u.first, fmt.Sprintf("the run of the block at %s fails: %v\n%s", u.lines(), err, indent(normalize(name, out)))})
		}
	}
	return problems
}

// writeModule writes the generated module into dir: go.mod, the go.sum of
// root, and the program's files.
func writeModule(dir, root string, prog *program) error {
	rootMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return err
	}
	goVersion := "1.22"
	if m := regexp.MustCompile(`(?m)^go\s+(\S+)\s*$`).FindSubmatch(rootMod); m != nil {
		goVersion = string(m[1]) // README code is held to the language version go.mod promises
	}
	mod := fmt.Sprintf("module %s\n\ngo %s\n\nrequire %s v0.0.0\n\nreplace %s => %s\n",
		moduleName, goVersion, mpesaPath, mpesaPath, strconv.Quote(root))
	files := map[string]string{"go.mod": mod}
	if sum, err := os.ReadFile(filepath.Join(root, "go.sum")); err == nil {
		files["go.sum"] = string(sum)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for p, src := range prog.files {
		files[p] = src
	}
	for p, src := range files {
		path := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// repoRoot finds the module github.com/mpesa-go/mpesa from the working
// directory, which go test makes the package's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	moduleLine := regexp.MustCompile(`(?m)^module\s+` + regexp.QuoteMeta(mpesaPath) + `\s*$`)
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && moduleLine.Match(data) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod of %s above the working directory", mpesaPath)
		}
		dir = parent
	}
}

// goCommand returns the go command that runs this test: go test sets GOROOT
// for a toolchain it switched to, and puts GOROOT/bin first in PATH.
func goCommand(t *testing.T) string {
	t.Helper()
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go"+exeSuffix())
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to compile README code with: %v", err)
	}
	return p
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}

// goRun runs the go command in dir, with nothing to download and no other
// toolchain.
func goRun(goBin, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// execute runs a binary of the generated module for at most runDeadline.
func execute(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runDeadline)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, path)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("killed after %v", runDeadline)
	}
	return out.String(), err
}

// normalize writes every position in a README line (the compiler prints
// "./README.md:12:3" or "file_L9/README.md:12") as "README.md:12".
func normalize(name, out string) string {
	re := regexp.MustCompile(`[^\s:"'()]*` + regexp.QuoteMeta(name) + `:(\d+)`)
	return re.ReplaceAllString(out, name+":$1")
}

// attribute sorts the go command's output by block: each line that names a
// README line belongs to the block around it. Lines it cannot place (the
// SDK itself does not build, say) are reported as they are.
func attribute(name string, units []unit, out, what string) []problem {
	out = normalize(name, out)
	lineRE := regexp.MustCompile(regexp.QuoteMeta(name) + `:(\d+)`)
	byBlock := map[int][]string{}
	var other []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		m := lineRE.FindStringSubmatch(l)
		if m == nil {
			other = append(other, l)
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if i := unitAt(units, n); i >= 0 {
			byBlock[i] = append(byBlock[i], l)
		} else {
			other = append(other, l)
		}
	}
	var problems []problem
	idx := make([]int, 0, len(byBlock))
	for i := range byBlock {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		u := units[i]
		problems = append(problems, problem{u.first, fmt.Sprintf("the ```go block at %s %s:\n%s", u.lines(), what, indent(strings.Join(byBlock[i], "\n")))})
	}
	if len(other) > 0 || len(problems) == 0 {
		problems = append(problems, problem{0, fmt.Sprintf("the code of %s %s:\n%s", name, what, indent(out))})
	}
	return problems
}

// unitAt returns the index of the unit whose block holds line n, or -1.
func unitAt(units []unit, n int) int {
	for i, u := range units {
		if n >= u.first && n < u.last {
			return i
		}
	}
	return -1
}

var markerRE = regexp.MustCompile(`^(=== RUN|--- PASS|--- FAIL) \S*:(\d+)`)

// parseRun reads the runner's output: the lines between a block's RUN
// marker and its PASS or FAIL are its own. A block without an end marker
// ended the program (log.Fatal, os.Exit, a panic in a goroutine of its own).
func parseRun(name string, runs []unit, out string, runErr error) []problem {
	type state struct {
		started, passed, failed bool
		lines                   []string
	}
	states := map[int]*state{}
	for _, u := range runs {
		states[u.first] = &state{}
	}
	var cur *state
	var loose []string
	for _, l := range strings.Split(normalize(name, out), "\n") {
		m := markerRE.FindStringSubmatch(l)
		if m == nil {
			if cur != nil {
				cur.lines = append(cur.lines, l)
			} else if strings.TrimSpace(l) != "" {
				loose = append(loose, l)
			}
			continue
		}
		n, _ := strconv.Atoi(m[2])
		st := states[n]
		if st == nil {
			continue
		}
		switch m[1] {
		case "=== RUN":
			st.started, cur = true, st
		case "--- PASS":
			st.passed, cur = true, nil
		case "--- FAIL":
			st.failed, cur = true, nil
		}
	}
	var problems []problem
	for _, u := range runs {
		st := states[u.first]
		output := indent(strings.TrimSpace(strings.Join(st.lines, "\n")))
		switch {
		case st.passed:
		case st.failed:
			problems = append(problems, problem{u.first, fmt.Sprintf("the run of the ```go block at %s on the simulator fails:\n%s", u.lines(), output)})
		case st.started:
			problems = append(problems, problem{u.first, fmt.Sprintf("the run of the ```go block at %s on the simulator did not finish (%v):\n%s", u.lines(), runErr, output)})
		default:
			problems = append(problems, problem{u.first, fmt.Sprintf("the ```go block at %s was not run: an earlier block ended the program", u.lines())})
		}
	}
	if runErr != nil && len(problems) == 0 {
		problems = append(problems, problem{0, fmt.Sprintf("the runner of %s's blocks fails: %v\n%s", name, runErr, indent(strings.Join(loose, "\n")))})
	}
	return problems
}

func indent(s string) string {
	return "\t" + strings.ReplaceAll(s, "\n", "\n\t")
}
