package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBadStorageSpecs: a storage spec of a wrong form, given with
// -storage or in the YAML, stops the server with the spec (passwords
// hidden), what is wrong and the forms accepted, memory among them: never
// a driver's internals, never a password, and nothing made on disk.
func TestBadStorageSpecs(t *testing.T) {
	t.Parallel()
	const password = "pa55w0rdXYZ"
	leaks := []string{"_pragma", "busy_timeout", "SQL logic error", "invalid uri", "(14)", "cannot parse", "xxxxx", "connect_timeout=5",
		password, "55w0rd", "sqlstore:"}
	for _, tc := range []struct{ name, spec, want string }{
		{"sqlite with two slashes", "sqlite://tollgate.db", `did you mean "sqlite:tollgate.db"`},
		{"sqlite with options", "sqlite:tollgate.db?mode=ro", "takes no ?options"},
		{"sqlite without a path", "sqlite:", "path after sqlite: is missing"},
		{"sqlite directory", "sqlite:.", "is a directory"},
		{"bare file", "tollgate.db", `did you mean "sqlite:tollgate.db"?`},
		{"memory typo", "Memory", "did you mean memory?"},
		{"memory with a colon", "memory:", "did you mean memory?"},
		{"mysql", "mysql://root:" + password + "@db/t", "mysql is not supported"},
		{"postgres port", "postgres://app:" + password + "@db:54x2/t", "port"},
		{"postgres password with a slash", "postgres://app:pa55/w0rdXYZ@db/t", "percent-encoded"},
		{"postgres password with an @", "postgres://app:pa55@w0rdXYZ@db/t", "percent-encoded"},
		{"postgres sslmode", "postgres://app:" + password + "@db/t?sslmode=on", `sslmode "on"`},
		{"postgres one slash", "postgres:/db/t", `did you mean "postgres://db/t"?`},
	} {
		for _, via := range []string{"flag", "yaml"} {
			t.Run(tc.name+"/"+via, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				var args []string
				if via == "flag" {
					args = []string{"-storage", tc.spec}
				} else {
					path := filepath.Join(dir, "t.yaml")
					if err := os.WriteFile(path, []byte("storage: '"+tc.spec+"'\nclients: []\n"), 0o600); err != nil {
						t.Fatal(err)
					}
					args = []string{"-config", path}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				// Relative paths are the test's working directory: every spec
				// must be refused before one is used.
				err := run(ctx, append(args, "-listen", "127.0.0.1:0"), nil, &strings.Builder{}, t.Output(), func(string) { t.Error("started") })
				if err == nil {
					t.Fatal("accepted")
				}
				msg := err.Error()
				for _, want := range []string{tc.want, "(accepted: memory, sqlite:PATH, sqlite:///ABSOLUTE/PATH, postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=…)"} {
					if !strings.Contains(msg, want) {
						t.Errorf("error %q does not say %q", msg, want)
					}
				}
				prefix := "-storage: "
				if via == "yaml" {
					prefix = "config " + filepath.Join(dir, "t.yaml") + ":1: storage: "
				}
				if !strings.HasPrefix(msg, prefix) {
					t.Errorf("error %q does not start with %q", msg, prefix)
				}
				for _, leak := range leaks {
					if strings.Contains(msg, leak) {
						t.Errorf("error %q holds %q", msg, leak)
					}
				}
			})
		}
	}
	if _, err := os.Stat("tollgate.db"); err == nil {
		t.Error("a refused spec made tollgate.db in the working directory")
	}
}
