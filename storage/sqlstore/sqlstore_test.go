package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
	"github.com/tollgate-oauth/tollgate/storage/storagetest"
)

func TestConformanceSQLite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return openSQLite(t)
	})
}

func TestConformancePostgres(t *testing.T) {
	dsn := postgresDSN(t)
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return openPostgres(t, dsn)
	})
}

func openSQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "tollgate.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// postgresDSN returns the test database from TOLLGATE_TEST_POSTGRES. A
// developer without PostgreSQL skips; CI (CI=true) must have it.
func postgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("TOLLGATE_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TOLLGATE_TEST_POSTGRES is not set: CI must test PostgreSQL")
		}
		t.Skip("TOLLGATE_TEST_POSTGRES is not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable); skipping PostgreSQL tests")
	}
	return dsn
}

// openPostgres opens a store in a schema of its own, dropped after the
// test, so tests run in parallel without seeing each other.
func openPostgres(t testing.TB, dsn string) *sqlstore.Store {
	t.Helper()
	schema := "tollgate_test_" + strings.ToLower(rand.Text()[:12])
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	s, err := sqlstore.Open(context.Background(), withSearchPath(t, dsn, schema), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func withSearchPath(t testing.TB, dsn, schema string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
