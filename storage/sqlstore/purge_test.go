package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// The purge without pauses (issue 14.2): it deletes through each table's
// expiry index, in batches, and leaves SQLite's WAL bounded.

// seedExpired writes n rows per token table, all expired at now except
// every keepEvery-th, in one statement per table (a recursive CTE), with
// grants of a realistic size.
func seedExpired(t testing.TB, s *sqlstore.Store, n, keepEvery int, now time.Time) {
	t.Helper()
	past, future := now.Add(-time.Hour).UnixMicro(), now.Add(time.Hour).UnixMicro()
	grant := `'{"ID":"' || i || '","ClientID":"web","Subject":"user-' || i || '","RequestedAt":"2026-11-23T12:00:00Z","GrantedScopes":["orders:read","orders:write"],"GrantedAudience":["https://api.example.com"],"Session":"` + strings.Repeat("x", 240) + `"}'`
	exp := fmt.Sprintf("CASE WHEN i %% %d = 0 THEN %d ELSE %d END", keepEvery, future, past)
	for _, q := range []string{
		`INSERT INTO tollgate_families (id, grant_data, generation, expires_at, access_expires_at, revoked, purge_after)
			SELECT 'family-' || i, ` + grant + `, 3, ` + exp + `, ` + exp + `, FALSE, ` + exp + ` FROM n`,
		`INSERT INTO tollgate_revocations (seq, kind, id, expires_at) SELECT i, 'jti', 'jti-' || i, ` + exp + ` FROM n`,
		`INSERT INTO tollgate_codes (signature, grant_data, expires_at, used) SELECT 'code-' || i, ` + grant + `, ` + exp + `, FALSE FROM n`,
	} {
		q = fmt.Sprintf("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) ", n) + q
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatalf("seeding: %v", err)
		}
	}
	if _, err := s.DB().Exec(fmt.Sprintf("UPDATE tollgate_revocation_feed SET last_seq = %d", n)); err != nil {
		t.Fatal(err)
	}
}

func walSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path + "-wal")
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestSQLiteWALBoundedByPurge: 100 000 expired rows (15 000 under -race)
// purged in batches, as the handler does. The WAL never grows past a few megabytes during the
// purge, and once the purge is done (it ends with a passive checkpoint)
// the next write shrinks it to journal_size_limit (4 MiB) or less.
func TestSQLiteWALBoundedByPurge(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tollgate.db")
	s := mustOpen(t, "sqlite:"+path, sqlstore.Options{})
	now := time.Now()
	each := 34000 // 102 000 rows, all expired
	if raceEnabled {
		each = 5000
	}
	seedExpired(t, s, each, 1<<30, now)
	if _, err := s.DB().Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	start := walSize(t, path)
	peak, total, batches := start, 0, 0
	for {
		n, err := s.DeleteExpired(context.Background(), now, 500)
		if err != nil {
			t.Fatal(err)
		}
		total += n
		batches++
		peak = max(peak, walSize(t, path))
		if n < 500 {
			break
		}
	}
	afterPurge := walSize(t, path)
	if err := s.RevokeAccessToken(context.Background(), "next-write", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	afterWrite := walSize(t, path)
	t.Logf("purged %d rows in %d batches of 500; WAL: %s before, peak %s, %s when the purge ended, %s after the next write",
		total, batches, mib(start), mib(peak), mib(afterPurge), mib(afterWrite))
	if total != 3*each {
		t.Errorf("purged %d rows, want %d", total, 3*each)
	}
	if afterWrite > 4<<20 {
		t.Errorf("the WAL is %s after the purge and a write, want at most 4 MiB", mib(afterWrite))
	}
	if peak > 16<<20 {
		t.Errorf("the WAL peaked at %s during the purge", mib(peak))
	}
}

func mib(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

// TestPostgresPurgeUsesIndexes: with many rows of which few have expired
// (the steady state: the purge runs every minute), PostgreSQL plans every
// purge DELETE through the table's expiry index. The plans are logged
// (go test -run TestPostgresPurgeUsesIndexes -v ./storage/sqlstore/); the
// README quotes them.
func TestPostgresPurgeUsesIndexes(t *testing.T) {
	t.Parallel()
	db := emptyPostgres(t)
	s := mustOpen(t, db.dsn, sqlstore.Options{})
	now := time.Now()
	seedExpired(t, s, 20000, 1, now) // all live...
	seedLegacy(t, s, 20000, now)
	// ...but the last hour's worth, which has just expired.
	if _, err := s.DB().Exec(`UPDATE tollgate_families SET expires_at = $1, access_expires_at = $1, purge_after = $2 WHERE id LIKE 'family-1__'`,
		now.Add(-time.Minute).UnixMicro(), now.Truncate(time.Hour).UnixMicro()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec("ANALYZE"); err != nil {
		t.Fatal(err)
	}
	tables, queries, args := s.PurgeStatements(now.UnixMicro(), 500)
	for i, q := range queries {
		rows, err := s.DB().Query("EXPLAIN "+q, args[i]...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		text := strings.Join(plan, "\n")
		t.Logf("EXPLAIN purge of %s:\n%s", tables[i], text)
		if !strings.Contains(text, "Index Scan using tollgate_") || !strings.Contains(text, "Tid Scan") {
			t.Errorf("the purge of %s is not planned through an index:\n%s", tables[i], text)
		}
		if strings.Contains(text, "Seq Scan") || strings.Contains(text, "Join") {
			t.Errorf("the purge of %s scans the whole table:\n%s", tables[i], text)
		}
	}
}

// seedLegacy fills the schema-1 tables a migrated database keeps.
func seedLegacy(t testing.TB, s *sqlstore.Store, n int, now time.Time) {
	t.Helper()
	future := now.Add(time.Hour).UnixMicro()
	for _, q := range []string{
		fmt.Sprintf("INSERT INTO tollgate_legacy_refresh_tokens (signature, family, active, expires_at) SELECT 'sig-' || i, 'family-' || i, TRUE, %d FROM n", future),
		fmt.Sprintf("INSERT INTO tollgate_legacy_access_tokens (jti, family, expires_at) SELECT 'jti-' || i, 'family-' || i, %d FROM n", future),
	} {
		q = fmt.Sprintf("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) ", n) + q
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatalf("seeding: %v", err)
		}
	}
}
