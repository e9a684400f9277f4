package handler_test

import (
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/internal/testservices"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// Refresh tokens issued before families (schema 1), through real HTTP
// after sqlstore migrated the database: a live one works once and is
// replaced by a token of the current format; used again, or a token that
// was already rotated under schema 1, it is a replay and revokes its
// family. Everything here is prefixed lg.

// lgSchemaOne opens raw on a new database and creates the schema-1 tables
// in it, recorded as version 1: what a tollgate of schema 1 left behind.
func lgSchemaOne(t *testing.T, sqlite bool) (dsn string, raw *sql.DB) {
	t.Helper()
	driver, bytesType := "pgx", "BYTEA"
	if sqlite {
		path := filepath.Join(t.TempDir(), "tollgate.db")
		dsn, driver, bytesType = "sqlite:"+path, "sqlite", "BLOB"
		var err error
		if raw, err = sql.Open(driver, "file:"+path); err != nil {
			t.Fatal(err)
		}
	} else {
		dsn = testservices.PostgresSchema(t)
		var err error
		if raw, err = sql.Open(driver, dsn); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { raw.Close() })
	script, err := os.ReadFile("../storage/sqlstore/migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(string(script), "{{BYTES}}", bytesType), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	stmts := append([]string{"CREATE TABLE tollgate_schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
		"INSERT INTO tollgate_schema_migrations (version, applied_at) VALUES (1, 0)"}, strings.Split(strings.Join(lines, "\n"), ";")...)
	for _, stmt := range stmts {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatalf("schema 1: %v", err)
		}
	}
	return dsn, raw
}

// lgToken is a schema-1 refresh token: 256 random bits.
func lgToken(t *testing.T) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "tgr_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// lgInsert stores a schema-1 refresh token of family for sqPartnerID, as
// schema 1's CreateRefreshToken did.
func lgInsert(t *testing.T, raw *sql.DB, sqlite bool, token, family string, active bool) {
	t.Helper()
	now := time.Now().Truncate(time.Second).UTC()
	session, _ := json.Marshal(map[string]any{"sub": "alice", "iat": now})
	g, _ := json.Marshal(&storage.Grant{ID: family, ClientID: sqPartnerID, Subject: "alice", RequestedAt: now,
		RequestedScopes: []string{"orders:read"}, GrantedScopes: []string{"orders:read"},
		RequestedAudience: []string{apiAudience}, GrantedAudience: []string{apiAudience}, Session: session})
	sum := sha256.Sum256([]byte(token))
	q := "INSERT INTO tollgate_refresh_tokens (signature, family, grant_data, access_token_id, expires_at, active) VALUES (?, ?, ?, ?, ?, ?)"
	if !sqlite {
		for i := 1; strings.Contains(q, "?"); i++ {
			q = strings.Replace(q, "?", "$"+strconv.Itoa(i), 1)
		}
	}
	if _, err := raw.Exec(q, base64.RawURLEncoding.EncodeToString(sum[:]), family, string(g), "jti", now.Add(24*time.Hour).UnixMicro(), active); err != nil {
		t.Fatal(err)
	}
}

func TestLegacyRefreshTokens(t *testing.T) {
	for _, b := range sqBackendsObserved() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			sqlite := strings.HasPrefix(b.name, "SQLite")
			dsn, raw := lgSchemaOne(t, sqlite)
			live, rotated, liveOfRotated := lgToken(t), lgToken(t), lgToken(t)
			lgInsert(t, raw, sqlite, live, "fam-a", true)
			lgInsert(t, raw, sqlite, rotated, "fam-b", false)
			lgInsert(t, raw, sqlite, liveOfRotated, "fam-b", true)

			store := sqOpen(t, dsn, sqlstore.Options{}) // migrates to the current schema
			// Observed, the token store is wrapped: the wrapper must keep
			// the legacy lookup, or the schema-1 tokens are unknown.
			e := sqServerWith(t, store, store, sqSeed(t, store), b.mutate(t, "tollgate.store.legacy_refresh_family"))

			// A live schema-1 token is active, and works once.
			if r := e.post(t, handler.IntrospectPath, sqPartnerID, url.Values{"token": {live}}); r.body["active"] != true {
				t.Errorf("introspecting the live schema-1 token: %s", r)
			}
			access, next := sqWantTokens(t, "refresh with the live schema-1 token", e.post(t, handler.TokenPath, sqPartnerID, sqRefreshForm(live)), true)
			if !strings.HasPrefix(next, "tgr_fam-a.1.") || fdClaim(t, access, "grant_id") != "fam-a" {
				t.Errorf("after a schema-1 token: refresh token %q, grant_id %q; want generation 1 of fam-a", next, fdClaim(t, access, "grant_id"))
			}
			_, next = sqWantTokens(t, "refresh with its successor", e.post(t, handler.TokenPath, sqPartnerID, sqRefreshForm(next)), true)
			// Used again: a replay. The family goes, the newest token with it.
			sqWantError(t, "the schema-1 token again", e.post(t, handler.TokenPath, sqPartnerID, sqRefreshForm(live)), "already used")
			sqWantError(t, "the newest token after the replay", e.post(t, handler.TokenPath, sqPartnerID, sqRefreshForm(next)), "revoked")

			// A token already rotated under schema 1 is a replay too: its
			// family's live token dies with it.
			sqWantError(t, "a rotated schema-1 token", e.post(t, handler.TokenPath, sqPartnerID, sqRefreshForm(rotated)), "already used")
			sqWantError(t, "the live token of that family", e.post(t, handler.TokenPath, sqPartnerID, sqRefreshForm(liveOfRotated)), "revoked")

			feed := fdGet(t, e.ts.URL, "")
			if got := fdIDs(feed); len(got) != 2 || got[0] != "grant:fam-a" || got[1] != "grant:fam-b" {
				t.Errorf("the feed = %q, want both families revoked", got)
			}
		})
	}
}

func sqWantError(t *testing.T, what string, r sqResp, desc string) {
	t.Helper()
	if r.status != 400 || r.str("error") != "invalid_grant" || !strings.Contains(r.str("error_description"), desc) {
		t.Errorf("%s: got %s, want 400 invalid_grant saying %q", what, r, desc)
	}
}
