package main

import (
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx", for the schema's admin connection
)

// The outside services some tests run against, in the variables
// tollgate's own tests read. A developer without one skips the tests that
// need it; CI (CI=true) must have them all, so there they fail instead of
// passing without having run.
const (
	postgresEnv = "TOLLGATE_TEST_POSTGRES" // e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable
	redisEnv    = "TOLLGATE_TEST_REDIS"    // e.g. redis://127.0.0.1:6379/0
)

func testService(t testing.TB, env string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run every test", env)
		}
		t.Skipf("%s is not set; skipping", env)
	}
	return v
}

// redisURL is the test Redis.
func redisURL(t testing.TB) string {
	t.Helper()
	return testService(t, redisEnv)
}

// postgresSchema creates a schema of the test's own in the test database
// and returns a DSN whose search_path is that schema, so tests run in
// parallel, on tables of the same names, without seeing each other. The
// schema is dropped when the test ends, after the cleanups registered
// later (stores opened on the DSN are closed first).
func postgresSchema(t testing.TB) string {
	t.Helper()
	dsn := testService(t, postgresEnv)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := "demo_test_" + strings.ToLower(rand.Text()[:12])
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("creating schema: %v", err)
	}
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
