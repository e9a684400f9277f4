package sqlstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// Migration 0005 on a schema-4 database holding rows as schema 4 wrote
// them: each family and code gets its grant's subject and client back
// from the stored JSON, so that revoking a consent reaches what was issued
// before the upgrade.
func TestMigrateFromSchemaFour(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.empty(t)
			ctx := context.Background()
			old, err := sqlstore.OpenAt(ctx, db.dsn, 4)
			if err != nil {
				t.Fatalf("OpenAt(4): %v", err)
			}
			old.Close()
			now := time.Now().Truncate(time.Microsecond).UTC()
			exp := now.Add(time.Hour).UnixMicro()
			w := v1{t, db}
			grant := func(id, subject, client string) string {
				g := legacyGrant(id, now, `{}`)
				g.Subject, g.ClientID = subject, client
				data, err := json.Marshal(g)
				if err != nil {
					t.Fatal(err)
				}
				return string(data)
			}
			for _, f := range []struct{ id, data string }{
				{"alice-web-1", grant("alice-web-1", "alice", "web")},
				{"alice-web-2", grant("alice-web-2", "alice", "web")},
				{"alice-cli", grant("alice-cli", "alice", "cli")},
				{"bob-web", grant("bob-web", "bob", "web")},
				{"placeholder", ""}, // revoked before it was created
			} {
				w.exec(`INSERT INTO tollgate_families (id, grant_data, generation, expires_at, access_expires_at, revoked, purge_after)
					VALUES (?, ?, 1, ?, ?, ?, ?)`, f.id, f.data, exp, exp, f.data == "", exp)
			}
			w.exec("INSERT INTO tollgate_codes (signature, grant_data, expires_at, used) VALUES (?, ?, ?, ?)",
				"alice-code", grant("alice-code-grant", "alice", "web"), exp, false)
			w.exec("INSERT INTO tollgate_codes (signature, grant_data, expires_at, used) VALUES (?, ?, ?, ?)",
				"bob-code", grant("bob-code-grant", "bob", "web"), exp, false)

			s := mustOpen(t, db.dsn, sqlstore.Options{})
			checkMigrated(t, db)
			n, err := s.RevokeFamiliesOf(ctx, "alice", "web", now)
			if err != nil || n != 2 {
				t.Fatalf("RevokeFamiliesOf(alice, web) after the migration = %d, %v; want 2", n, err)
			}
			for id, want := range map[string]bool{"alice-web-1": true, "alice-web-2": true, "alice-cli": false, "bob-web": false} {
				f, err := s.GetFamily(ctx, id)
				if err != nil || f.Revoked != want {
					t.Errorf("family %s: %+v, %v; want revoked %v", id, f, err, want)
				}
			}
			if err := s.UseCode(ctx, "alice-code"); !errors.Is(err, storage.ErrAlreadyUsed) {
				t.Errorf("UseCode(alice-code) after revoking alice's grants to web: %v; want ErrAlreadyUsed", err)
			}
			if err := s.UseCode(ctx, "bob-code"); err != nil {
				t.Errorf("UseCode(bob-code): %v", err)
			}
			if revoked, err := s.AccessTokenRevoked(ctx, "", "alice-code-grant"); err != nil || !revoked {
				t.Errorf("the family of alice's code: revoked %v, %v; want revoked", revoked, err)
			}
			if list, err := s.ListConsents(ctx, "alice"); err != nil || len(list) != 0 {
				t.Errorf("ListConsents after the migration = %v, %v; want none", list, err)
			}
		})
	}
}
