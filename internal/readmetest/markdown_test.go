package readmetest

import (
	"fmt"
	"regexp"
	"strings"
)

// mode says what the test does with a ```go block.
type mode string

const (
	modeCompile mode = "compile"
	modeRun     mode = "run"
	modeSkip    mode = "skip"
)

// block is one ```go block of a Markdown file.
type block struct {
	fence int    // line of the opening fence, 1-based
	first int    // line of the first line of code: fence+1
	last  int    // line of the closing fence
	code  string // the lines between the fences, the fence's indentation removed
	mode  mode
	note  string // the annotation's text after the mode
}

// lines returns "lines 12-20" of the block's code, for messages.
func (b block) lines() string {
	if b.last-1 <= b.first {
		return fmt.Sprintf("line %d", b.first)
	}
	return fmt.Sprintf("lines %d-%d", b.first, b.last-1)
}

// problem is a finding of the test, at a line of the Markdown file (0: none).
type problem struct {
	line int
	msg  string
}

var (
	fenceRE      = regexp.MustCompile("^( *)(`{3,}|~{3,})(.*)$")
	annotationRE = regexp.MustCompile(`^\s*<!--\s*readme-test:\s*(\S*)\s*(.*?)\s*-->\s*$`)
)

// parseMarkdown returns the ```go (or ```golang) blocks of src with the mode
// their annotation gives, and the annotations and fences it cannot make
// sense of.
func parseMarkdown(src string) ([]block, []problem) {
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	var (
		blocks   []block
		problems []problem
		pending  *block // an annotation waiting for its block: mode, note, fence = its line
	)
	orphan := func() {
		if pending != nil {
			problems = append(problems, problem{pending.fence, "the readme-test annotation is not right before a ```go block"})
			pending = nil
		}
	}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if m := fenceRE.FindStringSubmatch(line); m != nil && !(m[2][0] == '`' && strings.Contains(m[3], "`")) {
			indent, fence, info := len(m[1]), m[2], strings.Fields(m[3])
			end := -1
			for j := i + 1; j < len(lines); j++ {
				if isClosingFence(lines[j], fence) {
					end = j
					break
				}
			}
			if end < 0 {
				problems = append(problems, problem{i + 1, "the code fence is never closed"})
				return blocks, problems
			}
			lang := ""
			if len(info) > 0 {
				lang = strings.ToLower(info[0])
			}
			if lang != "go" && lang != "golang" {
				orphan()
				i = end
				continue
			}
			b := block{fence: i + 1, first: i + 2, last: end + 1, mode: modeCompile}
			if pending != nil {
				b.mode, b.note = pending.mode, pending.note
				pending = nil
			}
			code := make([]string, 0, end-i-1)
			for _, l := range lines[i+1 : end] {
				code = append(code, trimIndent(l, indent))
			}
			b.code = strings.Join(code, "\n")
			blocks = append(blocks, b)
			i = end
			continue
		}
		if strings.Contains(line, "readme-test") && strings.Contains(line, "<!--") {
			orphan()
			m := annotationRE.FindStringSubmatch(line)
			switch {
			case m == nil:
				problems = append(problems, problem{i + 1, "a readme-test annotation must be one line: <!-- readme-test: compile|run|skip REASON -->"})
			case mode(m[1]) != modeCompile && mode(m[1]) != modeRun && mode(m[1]) != modeSkip:
				problems = append(problems, problem{i + 1, fmt.Sprintf("unknown readme-test mode %q: want compile, run or skip", m[1])})
			case mode(m[1]) == modeSkip && m[2] == "":
				problems = append(problems, problem{i + 1, "readme-test: skip needs a reason: <!-- readme-test: skip REASON -->"})
			default:
				pending = &block{fence: i + 1, mode: mode(m[1]), note: m[2]}
			}
			continue
		}
		if strings.TrimSpace(line) != "" {
			orphan()
		}
	}
	orphan()
	return blocks, problems
}

// isClosingFence reports whether line closes a block opened with fence: the
// same character, at least as many times, and nothing else.
func isClosingFence(line, fence string) bool {
	t := strings.TrimSpace(line)
	return len(t) >= len(fence) && strings.Trim(t, fence[:1]) == ""
}

// trimIndent removes up to n leading spaces, the indentation of a fence
// inside a list item.
func trimIndent(line string, n int) string {
	for i := 0; i < n && strings.HasPrefix(line, " "); i++ {
		line = line[1:]
	}
	return line
}
