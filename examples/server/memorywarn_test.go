package main

import (
	"bytes"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
)

// TestMemoryStorageWarnings: with memory storage nothing is stored, so
// nothing is said about keys being stored, sealed or not, whatever the
// environment holds; one warning says that nothing survives a restart.
// With a database that warning is not given. Not parallel: t.Setenv.
func TestMemoryStorageWarnings(t *testing.T) {
	t.Setenv(kekEnv, base64.StdEncoding.EncodeToString(make([]byte, 32)))
	for _, tc := range []struct {
		name, spec string
		memory     bool
	}{
		{"memory", "memory", true},
		{"sqlite", "sqlite:" + filepath.Join(t.TempDir(), "t.db"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			s := startLogged(t, nil, &logs, "-storage", tc.spec, "-listen", "127.0.0.1:0")
			if err := s.stop(); err != nil {
				t.Fatal(err)
			}
			out := s.stdout + logs.String()
			if n := strings.Count(out, "nothing survives a restart"); n != map[bool]int{true: 1, false: 0}[tc.memory] {
				t.Errorf("%d warnings that nothing survives a restart:\n%s", n, out)
			}
			if !tc.memory {
				return
			}
			for _, word := range []string{"unencrypted", "UNENCRYPTED", "sealed", "kek", "generated with the database"} {
				if strings.Contains(out, word) {
					t.Errorf("memory storage, yet the output says %q:\n%s", word, out)
				}
			}
			if !strings.Contains(s.stdout, "gone at stop: memory storage") {
				t.Errorf("the demo secret's note does not say memory keeps it only until the stop:\n%s", s.stdout)
			}
		})
	}
}
