package sqlstore_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// Migration 0003 adds clients.introspector to a database made by an older
// tollgate: clients stored before it read back as not introspectors, and
// the flag can then be set.
func TestMigrateAddsIntrospectorFalse(t *testing.T) {
	v1, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.empty(t)
			bytesType := "BYTEA"
			if strings.HasPrefix(db.dsn, "sqlite:") {
				bytesType = "BLOB"
			}
			for _, stmt := range strings.Split(strings.ReplaceAll(string(v1), "{{BYTES}}", bytesType), ";\n") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := db.raw.Exec(stmt); err != nil {
					t.Fatalf("schema version 1: %v", err)
				}
			}
			for _, stmt := range []string{
				"CREATE TABLE tollgate_schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
				"INSERT INTO tollgate_schema_migrations (version, applied_at) VALUES (1, 0)",
				`INSERT INTO tollgate_clients (id, secret_hash, public, require_scope, grant_types, scopes, default_scopes,
					audiences, redirect_uris, access_token_ttl, refresh_token_ttl)
				 VALUES ('old', '$sha256$47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU', FALSE, FALSE, '["client_credentials"]',
					'[]', '[]', '["https://api.example.com"]', '[]', 0, 0)`,
			} {
				if _, err := db.raw.Exec(stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			s := mustOpen(t, db.dsn, sqlstore.Options{})
			ctx := context.Background()
			c, err := s.GetClient(ctx, "old")
			if err != nil {
				t.Fatal(err)
			}
			if c.Introspector {
				t.Error("a client stored before migration 0003 reads back as an introspector")
			}
			c.Introspector = true
			if err := s.UpdateClient(ctx, c); err != nil {
				t.Fatal(err)
			}
			if c, err = s.GetClient(ctx, "old"); err != nil || !c.Introspector {
				t.Errorf("after setting it: %+v, %v; want an introspector", c, err)
			}
			checkMigrated(t, db)
		})
	}
}
