package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestREADMECommands runs the README's ```sh blocks, in order, against the
// zero-config demo server, as a reader following the README would (see
// readme_blocks_test.go for which blocks). It builds the server once,
// runs it as its own process in an empty directory (a fresh tollgate.db)
// on a free port, and runs each block with bash and the real curl:
//
//   - 127.0.0.1:8080 becomes the server's address;
//   - $SECRET is the client_secret the server printed at start;
//   - $ACCESS and $REFRESH are the access_token and refresh_token of the
//     latest answer that held them, as the walkthrough tells the reader;
//   - <verifier> is the PKCE verifier the server printed, <code> the code
//     a sign-in through the printed authorize URL brought back.
//
// Each curl must answer the status its trailing comment gives ("# 400"),
// else 200; the last curl of a block must answer what the ```json block
// after it shows (readme_answer_test.go says how strictly).
func TestREADMECommands(t *testing.T) {
	t.Parallel()
	curl, bash := lookTool(t, "curl"), lookTool(t, "bash")
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, problems := readmeBlocks(string(readme))
	for _, p := range problems {
		t.Error(p)
	}
	if len(blocks) < 10 {
		t.Fatalf("only %d ```sh blocks in README.md: the parser or the README is broken", len(blocks))
	}

	demo := startBuiltDemo(t, buildDemo(t))
	calls := t.TempDir()
	shim := filepath.Join(t.TempDir(), "curl")
	if err := os.WriteFile(shim, []byte(curlShim), 0o700); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"SECRET": demo.secret}
	for _, b := range blocks {
		name := fmt.Sprintf("README.md:%d %s", b.line, b.section)
		t.Run(name, func(t *testing.T) {
			script := demo.localize(b.script)
			if strings.Contains(script, "<code>") {
				script = strings.ReplaceAll(script, "<code>", demo.signIn(t))
			}
			if p := regexp.MustCompile(`<[a-z_]+>`).FindString(script); p != "" {
				t.Fatalf("placeholder %s: the test knows <code> and <verifier> only", p)
			}
			got := runBlock(t, bash, script, shim, curl, calls, vars)
			if len(got) != len(b.commands) {
				t.Fatalf("%d curl calls, the block has %d curl commands:\n%s", len(got), len(b.commands), script)
			}
			for i, c := range got {
				if c.status != b.commands[i].status {
					t.Errorf("%s\nanswered %d, want %d; body %.300s", b.commands[i].text, c.status, b.commands[i].status, c.body)
				}
				var answer map[string]any
				if json.Unmarshal([]byte(c.body), &answer) == nil {
					for key, v := range map[string]string{"access_token": "ACCESS", "refresh_token": "REFRESH"} {
						if s, ok := answer[key].(string); ok {
							vars[v] = s
						}
					}
				}
			}
			if b.answer == "" {
				return
			}
			shown, err := parseShown(demo.localize(b.answer))
			if err != nil {
				t.Fatal(err)
			}
			last := got[len(got)-1]
			var answer any
			if err := json.Unmarshal([]byte(last.body), &answer); err != nil {
				t.Fatalf("%s\nanswered %.300q, not JSON; the README shows\n%s", b.commands[len(b.commands)-1].text, last.body, b.answer)
			}
			if diffs := compareShown("", shown, answer); len(diffs) > 0 {
				t.Errorf("%s\nanswered %s\nthe README shows\n%s\n%s", b.commands[len(b.commands)-1].text, last.body, b.answer, strings.Join(diffs, "\n"))
			}
		})
	}
}

// curlShim stands in for curl on the blocks' PATH: it runs the real one,
// and records each call's status and body, numbered, for the test.
const curlShim = `#!/usr/bin/env bash
n=$(( $(cat "$README_CALLS/n" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$README_CALLS/n"
code=$("$README_CURL" "$@" -o "$README_CALLS/$n.body" -w '%{http_code}')
rc=$?
echo "$code" > "$README_CALLS/$n.status"
cat "$README_CALLS/$n.body"
exit $rc
`

type curlCall struct {
	status int
	body   string
}

// runBlock runs script with bash and returns its curl calls in order.
func runBlock(t *testing.T, bash, script, shim, curl, calls string, vars map[string]string) []curlCall {
	t.Helper()
	os.RemoveAll(calls)
	if err := os.MkdirAll(calls, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "-e", "-o", "pipefail", "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + filepath.Dir(shim) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + cmd.Dir, "LC_ALL=C.UTF-8", "README_CALLS=" + calls, "README_CURL=" + curl}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s\noutput:\n%s", err, script, out)
	}
	n, _ := os.ReadFile(filepath.Join(calls, "n"))
	count, _ := strconv.Atoi(strings.TrimSpace(string(n)))
	got := make([]curlCall, count)
	for i := range got {
		status, _ := os.ReadFile(filepath.Join(calls, fmt.Sprintf("%d.status", i+1)))
		body, _ := os.ReadFile(filepath.Join(calls, fmt.Sprintf("%d.body", i+1)))
		got[i].status, _ = strconv.Atoi(strings.TrimSpace(string(status)))
		got[i].body = string(body)
	}
	return got
}

// lookTool finds a program the README's commands use. Under CI a missing
// one fails the test; elsewhere it skips it.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is needed to run the README's commands: %v", name, err)
		}
		t.Skipf("%s not found: the README's commands need it", name)
	}
	return path
}

// builtDemo is the demo server running as its own process.
type builtDemo struct {
	url, host        string // http://127.0.0.1:PORT, 127.0.0.1:PORT
	stdout           string
	secret, verifier string
	user, password   string
	authorizeURL     string
}

// localize points text written for 127.0.0.1:8080 at the running server,
// in URLs and in URL-encoded parameters, and fills in the verifier.
func (d *builtDemo) localize(text string) string {
	return strings.NewReplacer(
		demoHost, d.host,
		url.QueryEscape(demoHost), url.QueryEscape(d.host),
		"<verifier>", d.verifier,
	).Replace(text)
}

// signIn takes the printed authorization request through the login and
// consent pages, as a reader in a browser, and returns the code.
func (d *builtDemo) signIn(t *testing.T) string {
	t.Helper()
	back := signIn(t, browser(t), d.url, d.authorizeURL, d.user, d.password)
	code := back.Query().Get("code")
	if back.Path != callbackPath || code == "" {
		t.Fatalf("the sign-in came back to %s, want the demo's callback with a code", back)
	}
	return code
}

// buildDemo builds the server once, with the race detector if this test
// has it, so the build reuses the packages this test was compiled from.
func buildDemo(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "server")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	start := time.Now()
	cmd := exec.CommandContext(t.Context(), lookTool(t, "go"), append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built the demo server in %v", time.Since(start).Round(time.Millisecond))
	return bin
}

// startBuiltDemo runs bin as the README says (no flags but a free port),
// in an empty directory, and reads what it printed.
func startBuiltDemo(t *testing.T, bin string) *builtDemo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-listen", "127.0.0.1:0")
	cmd.Dir = t.TempDir()
	var stdout, stderr syncBuilder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) } // a clean shutdown
	cmd.WaitDelay = 10 * time.Second                                      // then a kill
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("demo server stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})
	d := &builtDemo{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := stdout.String()
		base, _, _ := strings.Cut(strings.TrimPrefix(out, "tollgate demo server on "), " ")
		secret, user := printedSecret.FindStringSubmatch(out), printedUser.FindStringSubmatch(out)
		password, verifier := printedPassword.FindStringSubmatch(out), printedVerifier.FindStringSubmatch(out)
		authURL := printedAuthURL.FindStringSubmatch(out)
		if strings.HasPrefix(out, "tollgate demo server on http://") && secret != nil && user != nil && password != nil && verifier != nil && authURL != nil {
			if resp, err := http.Get(base + "/.well-known/jwks.json"); err == nil {
				resp.Body.Close()
				d.url, d.host, d.stdout = base, strings.TrimPrefix(base, "http://"), out
				d.secret, d.user, d.password, d.verifier, d.authorizeURL = secret[1], user[1], password[1], verifier[1], authURL[1]
				return d
			}
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			t.Fatalf("the demo server did not start and print its clients within 60 s; stdout:\n%s\nstderr:\n%s", out, stderr.String())
		}
		time.Sleep(50 * time.Millisecond) // polling a process's output: nothing to wait on
	}
}
