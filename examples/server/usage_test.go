package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runMain runs the server's main in a subprocess (this test binary, see
// TestMain) with args, and returns its exit code and output: what an
// operator's shell sees.
func runMain(t *testing.T, args string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TOLLGATE_RUN_MAIN="+args)
	cmd.Dir = t.TempDir() // no command here may touch the working directory
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running main %q: %v", args, err)
	}
	if entries, _ := os.ReadDir(cmd.Dir); len(entries) != 0 {
		t.Errorf("main %q made files in the working directory: %v", args, entries)
	}
	return code, out.String(), errOut.String()
}

// TestCommandLineHelp: help asked for is printed, with exit status 0:
// "server -h" lists every command with one line each and the flags;
// "server clients -h" and "server keys -h" list their commands; each
// command's flags show with -h. A command line that is wrong exits 1 with
// the usage.
func TestCommandLineHelp(t *testing.T) {
	t.Parallel()
	server := []string{"server clients <command>", "server keys <command>", "server hash-secret", "server help",
		"-config", "-storage", "-listen", "-issuer", "-" + allowUnsealedFlag}
	clients := []string{"usage: server clients <command>", "list ", "add -id ID", "rotate-secret ID", "delete ID"}
	keys := []string{"usage: server keys <command>", "list ", "rotate [-now]", "retire KID"}
	for _, tc := range []struct {
		args     string
		code     int
		stdout   []string // in stdout
		stderr   []string // in stderr
		noStdout bool
	}{
		{"-h", 0, server, nil, false},
		{"--help", 0, server, nil, false},
		{"help", 0, server, nil, false},
		{"-listen 127.0.0.1:0 -h", 0, nil, server, true}, // the flag package's -h: to stderr, as Go tools do
		{"clients -h", 0, clients, nil, false},
		{"clients help", 0, clients, nil, false},
		{"keys -h", 0, keys, nil, false},
		{"keys --help", 0, keys, nil, false},
		{"clients add -h", 0, nil, []string{"-id", "-default-scopes", "-storage"}, true},
		{"keys rotate -h", 0, nil, []string{"-now", "-config"}, true},
		{"hash-secret -h", 0, []string{"usage: server hash-secret", "secret_hash"}, nil, false},
		{"clients", 1, nil, clients, true},
		{"keys", 1, nil, keys, true},
		{"clients frobnicate", 1, nil, append(clients, `unknown command "frobnicate"`), true},
		{"-bogus", 1, nil, append(server, "flag provided but not defined: -bogus"), true},
	} {
		t.Run(tc.args, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runMain(t, tc.args)
			if code != tc.code {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout does not show %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not show %q:\n%s", w, stderr)
				}
			}
			if tc.noStdout && stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
	// One line each: every command of the first part is on its own line.
	_, stdout, _ := runMain(t, "-h")
	for _, cmd := range []string{"clients <command>", "keys <command>", "hash-secret", "help"} {
		if n := len(regexp.MustCompile(`(?m)^(usage: |\s+)server `+regexp.QuoteMeta(cmd)+`\s+\S`).FindAllString(stdout, -1)); n != 1 {
			t.Errorf("%q has %d described lines in:\n%s", cmd, n, stdout)
		}
	}
}

// TestRestartHintRuns: after a restart the demo cannot print its client's
// secret again; the command it prints for a new one, storage included,
// runs as printed and the new secret works.
func TestRestartHintRuns(t *testing.T) {
	t.Parallel()
	spec := "sqlite:" + filepath.Join(t.TempDir(), "state.db")
	s1 := start(t, nil, "-storage", spec, "-listen", "127.0.0.1:0")
	if err := s1.stop(); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s1.url, "http://"))
	s2 := start(t, nil, "-storage", spec, "-listen", "127.0.0.1:"+port)
	m := regexp.MustCompile(`(?m)^  new secret:    (.*)$`).FindStringSubmatch(s2.stdout)
	if m == nil {
		t.Fatalf("no command for a new secret in:\n%s", s2.stdout)
	}
	// Under go test the binary is go run's kind, in a temporary directory:
	// the command names the package instead, from the module's root.
	prog := "go run ./examples/server"
	args, ok := strings.CutPrefix(m[1], prog+" ")
	if !ok {
		t.Fatalf("command %q does not start with %q", m[1], prog)
	}
	if _, err := os.Stat(filepath.Join("..", "..", "examples", "server", "main.go")); err != nil {
		t.Fatalf("%s names no package from the module root: %v", prog, err)
	}
	if want := "clients rotate-secret " + demoClientID + " -storage " + spec; args != want {
		t.Errorf("command arguments %q, want %q", args, want)
	}
	var out bytes.Buffer
	if err := run(context.Background(), strings.Fields(args), nil, &out, t.Output(), nil); err != nil {
		t.Fatalf("the printed command fails: %v", err)
	}
	secret := regexp.MustCompile(`(?m)^client_secret: (tgs_\S+)$`).FindStringSubmatch(out.String())
	if secret == nil {
		t.Fatalf("the printed command printed no secret: %q", out.String())
	}
	// The running server takes the change within the client cache's bound.
	deadline := time.Now().Add(5 * time.Second)
	for {
		tr := basicToken(t, s2.url, demoClientID, secret[1])
		if tr.Status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new secret: %+v", tr)
		}
		time.Sleep(50 * time.Millisecond) // polling the bound, not assuming a time
	}
}

// TestAdminCommandQuotes: the printed command survives a shell.
func TestAdminCommandQuotes(t *testing.T) {
	t.Parallel()
	prog := invocation()
	for spec, want := range map[string]string{
		defaultStorage:                 prog + " clients rotate-secret demo",
		"sqlite:/tmp/a b.db":           prog + " clients rotate-secret demo -storage 'sqlite:/tmp/a b.db'",
		"sqlite:it's.db":               prog + ` clients rotate-secret demo -storage 'sqlite:it'\''s.db'`,
		"postgres://u@db/t?sslmode=no": prog + " clients rotate-secret demo -storage 'postgres://u@db/t?sslmode=no'",
		"postgres://u:pw@db/t":         prog + " clients rotate-secret demo -storage postgres://u:***@db/t (your -storage value; the password is hidden here)",
	} {
		if got := adminCommand(spec, "clients", "rotate-secret", "demo"); got != want {
			t.Errorf("adminCommand(%q)\n = %s\nwant %s", spec, got, want)
		}
	}
}
