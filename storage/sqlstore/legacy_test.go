package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// Migration 0004 on a schema-1 database holding real rows, written as the
// schema-1 code wrote them: families built from the refresh tokens, the
// feed from the revocations, and the schema-1 tokens kept where the kit
// finds them.

// schemaOne makes db a schema-1 tollgate database: migration 0001 alone,
// recorded as the migrator records it.
func schemaOne(t *testing.T, db emptyDB) {
	t.Helper()
	raw, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	bytesType := "BLOB"
	if !strings.HasPrefix(db.dsn, "sqlite:") {
		bytesType = "BYTEA"
	}
	script := strings.ReplaceAll(string(raw), "{{BYTES}}", bytesType)
	stmts := []string{"CREATE TABLE tollgate_schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
		"INSERT INTO tollgate_schema_migrations (version, applied_at) VALUES (1, 0)"}
	var kept []string // comment lines dropped first: they hold semicolons
	for _, l := range strings.Split(script, "\n") {
		if s := strings.TrimSpace(l); !strings.HasPrefix(s, "--") {
			kept = append(kept, l)
		}
	}
	for _, part := range strings.Split(strings.Join(kept, "\n"), ";") {
		if s := strings.TrimSpace(part); s != "" {
			stmts = append(stmts, s)
		}
	}
	for _, stmt := range stmts {
		if _, err := db.raw.Exec(stmt); err != nil {
			t.Fatalf("schema 1: %v\n%s", err, stmt)
		}
	}
}

// v1 writes rows into a schema-1 database with the dialect's placeholders.
type v1 struct {
	t  *testing.T
	db emptyDB
}

func (w v1) exec(query string, args ...any) {
	w.t.Helper()
	if !strings.HasPrefix(w.db.dsn, "sqlite:") {
		n := 0
		var b strings.Builder
		for _, r := range query {
			if r == '?' {
				n++
				b.WriteString("$" + strconv.Itoa(n))
				continue
			}
			b.WriteRune(r)
		}
		query = b.String()
	}
	if _, err := w.db.raw.Exec(query, args...); err != nil {
		w.t.Fatalf("%s: %v", query, err)
	}
}

// refresh writes a schema-1 refresh token: stored by its SHA-256, with the
// whole grant, as CreateRefreshToken did.
func (w v1) refresh(token string, g *storage.Grant, exp time.Time, active bool) {
	w.t.Helper()
	data, err := json.Marshal(g)
	if err != nil {
		w.t.Fatal(err)
	}
	w.exec(`INSERT INTO tollgate_refresh_tokens (signature, family, grant_data, access_token_id, expires_at, active)
		VALUES (?, ?, ?, ?, ?, ?)`, LegacySignature(token), g.ID, string(data), "jti-of-"+token, exp.UnixMicro(), active)
}

// LegacySignature is how schema 1 keyed a refresh token.
func LegacySignature(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func legacyGrant(id string, at time.Time, session string) *storage.Grant {
	return &storage.Grant{ID: id, ClientID: "web", Subject: "alice", RequestedAt: at.UTC(),
		RequestedScopes: []string{"orders:read"}, GrantedScopes: []string{"orders:read"},
		RequestedAudience: []string{"https://api.example.com"}, GrantedAudience: []string{"https://api.example.com"},
		Session: []byte(session)}
}

func TestMigrateFromSchemaOne(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.empty(t)
			schemaOne(t, db)
			w := v1{t, db}
			ctx := context.Background()
			now := time.Now().Truncate(time.Microsecond).UTC()
			h := func(n int) time.Time { return now.Add(time.Duration(n) * time.Hour) }

			// fam-live: rotated twice; its third token is live.
			w.refresh("tgr_old1", legacyGrant("fam-live", now, `{"v":1}`), h(240), false)
			w.refresh("tgr_old2", legacyGrant("fam-live", now, `{"v":2}`), h(480), false)
			w.refresh("tgr_cur", legacyGrant("fam-live", now, `{"v":3}`), h(720), true)
			// fam-revoked: revoked until h(3), an access token until h(4).
			w.refresh("tgr_rv", legacyGrant("fam-revoked", now, `{}`), h(100), true)
			w.exec("INSERT INTO tollgate_revoked_families (family, until) VALUES (?, ?)", "fam-revoked", h(3).UnixMicro())
			// fam-spent: its only token was rotated (the next one never stored).
			w.refresh("tgr_spent", legacyGrant("fam-spent", now, `{}`), h(120), false)
			for _, it := range []struct {
				jti, family string
				exp         time.Time
			}{{"jti-a", "fam-live", h(1)}, {"jti-b", "fam-live", h(2)}, {"jti-c", "fam-revoked", h(4)}} {
				w.exec("INSERT INTO tollgate_issued_tokens (jti, family, expires_at) VALUES (?, ?, ?)", it.jti, it.family, it.exp.UnixMicro())
			}
			w.exec("INSERT INTO tollgate_revoked_tokens (jti, until) VALUES (?, ?)", "jti-x", h(1).UnixMicro())
			code, _ := json.Marshal(legacyGrant("g-code", now, `{}`))
			w.exec("INSERT INTO tollgate_codes (signature, grant_data, expires_at, used) VALUES (?, ?, ?, ?)", "code-sig", string(code), h(1).UnixMicro(), false)

			s := mustOpen(t, db.dsn, sqlstore.Options{})
			checkMigrated(t, db)

			for _, want := range []*storage.Family{
				{Grant: legacyGrant("fam-live", now, `{"v":3}`), ExpiresAt: h(720), AccessExpiresAt: h(2)},
				{Grant: legacyGrant("fam-revoked", now, `{}`), ExpiresAt: h(100), AccessExpiresAt: h(4), Revoked: true},
				{Grant: legacyGrant("fam-spent", now, `{}`), ExpiresAt: h(120), AccessExpiresAt: time.UnixMicro(0)},
			} {
				got, err := s.GetFamily(ctx, want.Grant.ID)
				if err != nil {
					t.Fatalf("GetFamily(%q) after the migration: %v", want.Grant.ID, err)
				}
				sameRecord(t, "family "+want.Grant.ID, got, want)
			}
			page, err := s.Revocations(ctx, 0, now, 100)
			if err != nil {
				t.Fatal(err)
			}
			want := []storage.Revocation{
				{Seq: 1, JTI: "jti-x", ExpiresAt: h(1)},
				{Seq: 2, GrantID: "fam-revoked", ExpiresAt: h(4)}, // its until, raised to its access token's expiry
				{Seq: 3, JTI: "jti-c", ExpiresAt: h(4)},           // a schema-1 token of a revoked family: no grant_id to match
			}
			sameRecord(t, "the feed after the migration", page.Entries, want)
			if page.Last != 3 || len(page.Epoch) != 32 {
				t.Errorf("feed Last %d, epoch %q; want 3 and a random epoch", page.Last, page.Epoch)
			}

			for token, wantFam := range map[string]struct {
				family string
				active bool
			}{"tgr_cur": {"fam-live", true}, "tgr_old1": {"fam-live", false}, "tgr_spent": {"fam-spent", false}, "tgr_rv": {"fam-revoked", true}} {
				fam, active, err := s.LegacyRefreshFamily(ctx, LegacySignature(token))
				if err != nil || fam != wantFam.family || active != wantFam.active {
					t.Errorf("LegacyRefreshFamily(%s) = %q, %v, %v; want %q, %v", token, fam, active, err, wantFam.family, wantFam.active)
				}
			}
			if _, _, err := s.LegacyRefreshFamily(ctx, LegacySignature("tgr_unknown")); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("LegacyRefreshFamily(unknown): %v, want ErrNotFound", err)
			}
			if _, err := s.GetCode(ctx, "code-sig"); err != nil {
				t.Errorf("the schema-1 code after the migration: %v", err)
			}

			// Revoking fam-live now reaches its schema-1 access tokens by jti.
			for _, jti := range []string{"jti-a", "jti-b"} {
				if revoked, err := s.AccessTokenRevoked(ctx, jti, ""); err != nil || revoked {
					t.Fatalf("AccessTokenRevoked(%s) before revoking its family = %v, %v", jti, revoked, err)
				}
			}
			if err := s.RevokeFamily(ctx, "fam-live", now); err != nil {
				t.Fatal(err)
			}
			for _, jti := range []string{"jti-a", "jti-b", "jti-c", "jti-x"} {
				if revoked, err := s.AccessTokenRevoked(ctx, jti, ""); err != nil || !revoked {
					t.Errorf("AccessTokenRevoked(%s) = %v, %v; want revoked", jti, revoked, err)
				}
			}
			// The legacy tables empty as their rows expire.
			if _, err := s.DeleteExpired(ctx, h(1000), 1000); err != nil {
				t.Fatal(err)
			}
			for _, table := range []string{"tollgate_legacy_refresh_tokens", "tollgate_legacy_access_tokens", "tollgate_families", "tollgate_revocations"} {
				if n := count(t, db.raw, table); n != 0 {
					t.Errorf("%s holds %d rows after every expiry, want 0", table, n)
				}
			}
		})
	}
}

func count(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// sameRecord compares whole records, times as instants.
func sameRecord(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	var gv, wv any
	_ = json.Unmarshal(g, &gv)
	_ = json.Unmarshal(w, &wv)
	if !reflect.DeepEqual(normJSONTimes(gv), normJSONTimes(wv)) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// normJSONTimes rewrites RFC 3339 strings to UTC, so the same instant in
// two zones compares equal.
func normJSONTimes(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normJSONTimes(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normJSONTimes(e)
		}
	case string:
		if tm, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return tm.UTC().Format(time.RFC3339Nano)
		}
	}
	return v
}
