package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tollgate-oauth/tollgate/internal/testservices"
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
	testservices.PostgresDSN(t) // skip (or fail) here, not in every subtest
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return openPostgres(t)
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

// openPostgres opens a store in a schema of its own, dropped after the
// test, so tests run in parallel without seeing each other.
func openPostgres(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), testservices.PostgresSchema(t), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
