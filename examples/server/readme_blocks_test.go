package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The README's checked commands: every ```sh block. A ```json block right
// after one (blank lines between at most) is the answer of the block's
// last curl. A code block preceded by an HTML comment
// "<!-- not checked: why -->" is left alone; any other code block with a
// curl command against the demo server is an error, so a new example
// cannot escape the test by its fence.

// demoHost is the demo server's address as the README writes it.
const demoHost = "127.0.0.1:8080"

// readmeBlock is one ```sh block and the answer shown after it.
type readmeBlock struct {
	line     int    // of the opening fence, 1-based
	section  string // the heading above it
	script   string
	commands []readmeCommand
	answer   string // the ```json block after it, "" if none
}

// readmeCommand is one curl command of a block, continuation lines
// joined, with the status its trailing comment gives ("# 400"), 200 if
// none.
type readmeCommand struct {
	text   string
	status int
}

var (
	fence         = regexp.MustCompile("^(\\s*)```(\\S*)\\s*$")
	notChecked    = regexp.MustCompile(`^\s*<!-- not checked: .+ -->\s*$`)
	statusComment = regexp.MustCompile(`#\s*([1-5]\d\d)\b[^#]*$`)
	curlWord      = regexp.MustCompile(`(^|[\s;(|&])curl\s`)
)

// demoCurl reports whether text holds a curl command against the demo,
// continuation lines joined.
func demoCurl(text string) bool {
	for _, line := range strings.Split(strings.ReplaceAll(text, "\\\n", " "), "\n") {
		if curlWord.MatchString(line) && strings.Contains(line, demoHost) {
			return true
		}
	}
	return false
}

// readmeBlocks returns the checked blocks of the README in order, and one
// problem per unmarked code block that runs a curl against the demo
// outside a ```sh block, or a ```sh block with no curl to check.
func readmeBlocks(readme string) (blocks []readmeBlock, problems []string) {
	lines := strings.Split(readme, "\n")
	section := ""
	skipNext := false // a "not checked" comment covers the next code block
	skipIndented := false
	var last *readmeBlock // the latest ```sh block, until other text follows
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.HasPrefix(line, "#") {
			section = strings.TrimSpace(strings.TrimLeft(line, "#"))
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if notChecked.MatchString(line) {
			skipNext, last = true, nil
			continue
		}
		m := fence.FindStringSubmatch(line)
		if m == nil {
			indented := strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "\t")
			if !indented {
				skipIndented = false
			} else if skipNext {
				skipIndented, skipNext = true, false
			}
			logical := line
			for strings.HasSuffix(logical, "\\") && i+1 < len(lines) {
				i++
				logical += "\n" + lines[i]
			}
			if !skipIndented && demoCurl(logical) {
				problems = append(problems, fmt.Sprintf("README.md:%d: a curl against the demo outside a ```sh block: make it one (checked), or mark the block <!-- not checked: why -->", i+1))
			}
			last = nil
			continue
		}
		indent, lang := m[1], m[2]
		start := i
		var body []string
		for i++; i < len(lines) && !fence.MatchString(lines[i]); i++ {
			body = append(body, strings.TrimPrefix(lines[i], indent))
		}
		text := strings.Join(body, "\n") + "\n"
		switch {
		case skipNext:
			skipNext, last = false, nil
		case lang == "sh":
			b := readmeBlock{line: start + 1, section: section, script: text, commands: curlCommands(text)}
			if len(b.commands) == 0 {
				problems = append(problems, fmt.Sprintf("README.md:%d: a ```sh block with no curl: the test runs curl commands only; use ```console for others", start+1))
				break
			}
			blocks = append(blocks, b)
			last = &blocks[len(blocks)-1]
			continue
		case lang == "json" && last != nil:
			last.answer = text
		default:
			if demoCurl(text) {
				problems = append(problems, fmt.Sprintf("README.md:%d: a ```%s block with a curl against the demo: make it ```sh (checked), or mark it <!-- not checked: why -->", start+1, lang))
			}
		}
		last = nil
	}
	return blocks, problems
}

// curlCommands returns the curl commands of a shell block, each with the
// status it expects.
func curlCommands(script string) []readmeCommand {
	var out []readmeCommand
	joined := strings.ReplaceAll(script, "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		if !curlWord.MatchString(line) {
			continue
		}
		c := readmeCommand{text: strings.TrimSpace(line), status: 200}
		if m := statusComment.FindStringSubmatch(line); m != nil {
			c.status, _ = strconv.Atoi(m[1])
		}
		out = append(out, c)
	}
	return out
}

// TestReadmeBlocks checks the parser on a small README: which blocks run,
// which answer goes with which, what is refused.
func TestReadmeBlocks(t *testing.T) {
	t.Parallel()
	readme := "# Top\n\n## Tokens\n\n" +
		"```sh\ncurl -s -u demo:$SECRET -d grant_type=client_credentials \\\n  http://127.0.0.1:8080/oauth/token\n```\n\n" +
		"```json\n{\"token_type\":\"Bearer\"}\n```\n\n" +
		"Some text.\n\n```json\n{\"not\":\"an answer\"}\n```\n\n" +
		"1. A step:\n\n   ```sh\n   curl -s -d x=1 http://127.0.0.1:8080/oauth/token   # 400\n   curl -s http://127.0.0.1:8080/.well-known/jwks.json\n   ```\n\n" +
		"<!-- not checked: needs a host app -->\n```sh\ncurl -s http://127.0.0.1:8080/grant\n```\n\n" +
		"<!-- not checked: a second process -->\n    go run ./examples/resource-api\n    curl -s http://127.0.0.1:8080/x\n\n" +
		"Then:\n\n    curl -s http://127.0.0.1:8080/oauth/revocations\n\n" +
		"```\ncurl -s http://127.0.0.1:8080/y\n```\n\n" +
		"```sh\ngo run ./examples/server\n```\n"
	blocks, problems := readmeBlocks(readme)
	if len(blocks) != 2 {
		t.Fatalf("%d blocks, want 2: %+v", len(blocks), blocks)
	}
	if b := blocks[0]; b.section != "Tokens" || b.answer != "{\"token_type\":\"Bearer\"}\n" || len(b.commands) != 1 || b.commands[0].status != 200 || b.line != 5 {
		t.Errorf("first block = %+v", b)
	}
	if b := blocks[1]; b.answer != "" || len(b.commands) != 2 || b.commands[0].status != 400 || b.commands[1].status != 200 ||
		!strings.HasPrefix(b.script, "curl -s -d x=1") {
		t.Errorf("indented block = %+v", b)
	}
	want := []string{"README.md:38:", "README.md:40:", "README.md:44:"}
	if len(problems) != len(want) {
		t.Fatalf("problems = %q, want %d", problems, len(want))
	}
	for i, p := range problems {
		if !strings.HasPrefix(p, want[i]) {
			t.Errorf("problem %d = %q, want one at %s", i, p, want[i])
		}
	}
}
