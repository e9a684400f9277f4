// Package testservices is what tests of several packages need to reach
// the outside services some of them run against (PostgreSQL, Redis) and
// to make a database misbehave. It lives in one place so that every test
// follows the same rules: a developer without a service skips the tests
// that need it, CI (CI=true) must have every service, and a test's
// PostgreSQL schema is always dropped after it.
//
// It is imported by tests only; nothing in the library uses it.
package testservices

import (
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx", for the schema's admin connection
)

// The variables naming the test services.
const (
	PostgresEnv = "TOLLGATE_TEST_POSTGRES"
	RedisEnv    = "TOLLGATE_TEST_REDIS"
)

// PostgresDSN returns the test database from TOLLGATE_TEST_POSTGRES. A
// developer without PostgreSQL skips the test; CI must have it, so there
// the test fails instead of passing without having run.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	return service(t, PostgresEnv, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL")
}

// RedisURL returns the test Redis from TOLLGATE_TEST_REDIS, skipping or
// failing as PostgresDSN does.
func RedisURL(t testing.TB) string {
	t.Helper()
	return service(t, RedisEnv, "redis://127.0.0.1:6379/0", "Redis")
}

func service(t testing.TB, name, example, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must test %s", name, what)
		}
		t.Skipf("%s is not set (e.g. %s); skipping %s tests", name, example, what)
	}
	return v
}

// PostgresSchema creates a schema of the test's own in the test database
// (see PostgresDSN) and returns a DSN whose search_path is that schema, so
// tests run in parallel, and against tables of the same names, without
// seeing each other. The schema is dropped when the test ends, after the
// cleanups registered later (stores opened on the DSN are closed first).
func PostgresSchema(t testing.TB) string {
	t.Helper()
	dsn := PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := "tollgate_test_" + strings.ToLower(rand.Text()[:12])
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("creating schema: %v", err)
	}
	// One cleanup, so the admin connection is closed after the drop.
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Logf("dropping test schema %s: %v", schema, err)
		}
		admin.Close()
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// PostgresDatabase creates a database of the test's own on the test
// server (see PostgresDSN), dropped when the test ends, and returns its
// DSN. A schema (PostgresSchema) isolates names but not MVCC: a
// transaction open anywhere in the same database keeps every table's dead
// row versions from being pruned, so a test that measures storage growth
// needs a database where only it runs.
func PostgresDatabase(t testing.TB) string {
	t.Helper()
	dsn := PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := "tollgate_test_" + strings.ToLower(rand.Text()[:12])
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		t.Fatalf("creating database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Logf("dropping test database %s: %v", name, err)
		}
		admin.Close()
	})
	u.Path = "/" + name
	return u.String()
}
