//go:build unix

package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
)

// TestInstancesSeeClientChanges runs two demo servers as separate OS
// processes on one database, each keeping the clients it read in memory,
// and changes clients with the admin command from a third process (this
// one): a rotated secret and a deleted client stop working at both within
// handler.DefaultClientStaleness (1 s), on SQLite and on PostgreSQL.
func TestInstancesSeeClientChanges(t *testing.T) {
	t.Parallel()
	for _, b := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"SQLite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "tollgate.db") }},
		{"Postgres", func(t *testing.T) string { return postgresSchema(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			cfgPath := writeConfig(t, t.TempDir(), fmt.Sprintf(`
issuer: http://tollgate.test
storage: %q
keys: [{kid: k1, alg: ES256}]
rate_limits: {failed_auth: "off"}
`, b.dsn(t)))
			const api = "https://api.example.com"
			rotated := secretOf(t, mustAdmin(t, "add", "-config", cfgPath, "-id", "rotated", "-audiences", api))
			deleted := secretOf(t, mustAdmin(t, "add", "-config", cfgPath, "-id", "deleted", "-audiences", api))

			a, bb := startPair(t, cfgPath)
			instances := []string{a, bb}

			// Both instances serve the client for long enough that a
			// version read has been done since the last change, so that
			// each keeps the client in memory.
			warm := func(id, secret string) {
				for range 5 {
					for _, base := range instances {
						if tr := basicToken(t, base, id, secret); tr.Status != http.StatusOK {
							t.Fatalf("%s at %s before its change: %+v", id, base, tr)
						}
					}
					time.Sleep(handler.DefaultClientStaleness / 10) // pacing only
				}
			}

			warm("rotated", rotated)
			out := mustAdmin(t, "rotate-secret", "-config", cfgPath, "rotated")
			refusedWithin(t, instances, handler.DefaultClientStaleness, "the secret rotated by the admin command", "rotated", rotated)
			newSecret := secretOf(t, out)
			for _, base := range instances {
				if tr := basicToken(t, base, "rotated", newSecret); tr.Status != http.StatusOK {
					t.Errorf("the new secret at %s: %+v, want 200", base, tr)
				}
			}

			warm("deleted", deleted)
			mustAdmin(t, "delete", "-config", cfgPath, "deleted")
			refusedWithin(t, instances, handler.DefaultClientStaleness, "the client deleted by the admin command", "deleted", deleted)
		})
	}
}
