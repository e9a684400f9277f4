package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/tollgate-oauth/tollgate/internal/testservices"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
	"github.com/tollgate-oauth/tollgate/storage/storagetest"
)

// Migrations and start-up errors: what Open does to a database it is
// given, on both engines. Every test runs once per backend, on an empty
// database of its own (a t.TempDir() file, a PostgreSQL schema).

// emptyDB is a database Open has not seen yet: the DSN to give Open and a
// direct handle to look at (or tamper with) what Open did.
type emptyDB struct {
	dsn string
	raw *sql.DB
}

type backend struct {
	name  string
	empty func(t *testing.T) emptyDB
}

// backends are the engines every migration test runs on. PostgreSQL skips
// without TOLLGATE_TEST_POSTGRES (and fails under CI, see
// testservices.PostgresDSN).
func backends() []backend {
	return []backend{
		{"SQLite", emptySQLite},
		{"Postgres", emptyPostgres},
	}
}

func emptySQLite(t *testing.T) emptyDB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tollgate.db")
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return emptyDB{dsn: "sqlite:" + path, raw: raw}
}

// emptyPostgres creates a schema of its own (dropped after the test), as
// openPostgres does, without opening a store in it.
func emptyPostgres(t *testing.T) emptyDB {
	t.Helper()
	dsn := testservices.PostgresSchema(t)
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return emptyDB{dsn: dsn, raw: raw}
}

// tables lists the tables of the database raw looks at (the test schema on
// PostgreSQL), sorted.
func (db emptyDB) tables(t testing.TB) []string {
	t.Helper()
	query := "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
	if strings.HasPrefix(db.dsn, "sqlite:") {
		query = "SELECT name FROM sqlite_master WHERE type = 'table'"
	}
	rows, err := db.raw.Query(query)
	if err != nil {
		t.Fatalf("listing tables: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// versions returns how many rows tollgate_schema_migrations holds per
// version.
func (db emptyDB) versions(t testing.TB) map[int]int {
	t.Helper()
	rows, err := db.raw.Query("SELECT version FROM tollgate_schema_migrations")
	if err != nil {
		t.Fatalf("reading tollgate_schema_migrations: %v", err)
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out[v]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// embeddedVersions are the versions of the migration files the binary
// embeds, read from the source tree.
func embeddedVersions(t testing.TB) []int {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			t.Fatalf("migration file %q is not named NNNN_name.sql", e.Name())
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		t.Fatal("no migration files")
	}
	slices.Sort(out)
	return out
}

// checkMigrated asserts the database holds exactly one row per embedded
// migration and that every tollgate table is there.
func checkMigrated(t testing.TB, db emptyDB) {
	t.Helper()
	got := db.versions(t)
	want := embeddedVersions(t)
	for _, v := range want {
		if got[v] != 1 {
			t.Errorf("tollgate_schema_migrations has %d rows for version %d, want 1 (all: %v)", got[v], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("tollgate_schema_migrations versions = %v, want exactly %v", got, want)
	}
	tables := db.tables(t)
	for _, name := range []string{"tollgate_schema_migrations", "tollgate_clients", "tollgate_codes",
		"tollgate_families", "tollgate_revocations", "tollgate_revocation_feed",
		"tollgate_legacy_refresh_tokens", "tollgate_legacy_access_tokens", "tollgate_signing_keys", "tollgate_consents",
		"tollgate_clients_version"} {
		if !slices.Contains(tables, name) {
			t.Errorf("table %s missing after Open; tables: %q", name, tables)
		}
	}
}

func mustOpen(t testing.TB, dsn string, opts sqlstore.Options) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMigrateOpenTwiceIsIdempotent(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.empty(t)
			ctx := context.Background()

			first := mustOpen(t, db.dsn, sqlstore.Options{})
			checkMigrated(t, db)
			before := db.tables(t)
			if err := first.CreateClient(ctx, storagetest.Client("kept")); err != nil {
				t.Fatal(err)
			}
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}

			// Reopened, once after a close and once beside an open store,
			// as a restart and a second instance do.
			second := mustOpen(t, db.dsn, sqlstore.Options{})
			third := mustOpen(t, db.dsn, sqlstore.Options{})
			checkMigrated(t, db)
			if after := db.tables(t); !slices.Equal(after, before) {
				t.Errorf("tables after reopening = %q, want %q", after, before)
			}
			for i, s := range []*sqlstore.Store{second, third} {
				if _, err := s.GetClient(ctx, "kept"); err != nil {
					t.Errorf("store %d: the client written before reopening: %v", i+2, err)
				}
			}
		})
	}
}

func TestMigrateConcurrentOpens(t *testing.T) {
	const n = 8
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.empty(t)
			ctx := context.Background()
			start := make(chan struct{})
			stores := make([]*sqlstore.Store, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					stores[i], errs[i] = sqlstore.Open(ctx, db.dsn, sqlstore.Options{})
				})
			}
			close(start)
			wg.Wait()
			for i, s := range stores {
				if s != nil {
					t.Cleanup(func() { s.Close() })
				}
				if errs[i] != nil {
					t.Errorf("Open %d of %d concurrent: %v", i+1, n, errs[i])
				}
			}
			if t.Failed() {
				return
			}
			checkMigrated(t, db)
			// Every instance works on the one schema: what each writes,
			// every other reads.
			for i, s := range stores {
				if err := s.CreateClient(ctx, storagetest.Client(fmt.Sprintf("instance-%d", i))); err != nil {
					t.Fatalf("instance %d: CreateClient: %v", i, err)
				}
			}
			for i, s := range stores {
				list, err := s.ListClients(ctx)
				if err != nil || len(list) != n {
					t.Errorf("instance %d: ListClients = %d clients, %v; want %d", i, len(list), err, n)
				}
			}
		})
	}
}

// TestMigrateSQLiteWaitsForAnotherStarter is the window of two instances
// starting at once on a new SQLite file: one holds the write lock while
// the file is not in WAL mode yet. The other's Open must wait for the lock
// (the busy timeout is 5 s), as it does for every other lock, not fail
// with SQLITE_BUSY at once. (TestMigrateConcurrentOpens/SQLite hits the
// same window now and then; this makes it happen every time.)
func TestMigrateSQLiteWaitsForAnotherStarter(t *testing.T) {
	t.Parallel()
	db := emptySQLite(t)
	ctx := context.Background()
	other, err := db.raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// The other instance got as far as its write transaction.
	for _, stmt := range []string{"BEGIN IMMEDIATE",
		"CREATE TABLE tollgate_schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)"} {
		if _, err := other.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	// It rolls back well within the busy timeout; Open must be waiting
	// by then, and then succeed.
	release := time.AfterFunc(300*time.Millisecond, func() { _, _ = other.ExecContext(ctx, "ROLLBACK") })
	defer release.Stop()
	start := time.Now()
	s, err := sqlstore.Open(ctx, db.dsn, sqlstore.Options{})
	if err != nil {
		t.Fatalf("Open while another instance briefly held the write lock: %v (after %v)", err, time.Since(start))
	}
	s.Close()
	checkMigrated(t, db)
}

func TestMigrateNewerSchemaRefused(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.empty(t)
			mustOpen(t, db.dsn, sqlstore.Options{}).Close()
			if _, err := db.raw.Exec("INSERT INTO tollgate_schema_migrations (version, applied_at) VALUES (999, 0)"); err != nil {
				t.Fatal(err)
			}
			before := db.tables(t)

			s, err := sqlstore.Open(context.Background(), db.dsn, sqlstore.Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open on a schema newer than the binary succeeded")
			}
			msg := err.Error()
			latest := embeddedVersions(t)
			for _, want := range []string{"newer", "upgrade", "999", strconv.Itoa(latest[len(latest)-1])} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			if errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("error %q is ErrUnavailable: a newer schema is not a transient fault", msg)
			}
			// Refused means untouched: the newer binary's rows stay.
			if got := db.versions(t); got[999] != 1 {
				t.Errorf("schema versions after the refused Open = %v, want 999 kept", got)
			}
			if after := db.tables(t); !slices.Equal(after, before) {
				t.Errorf("tables after the refused Open = %q, want %q", after, before)
			}
		})
	}
}

// TestOpenNotASQLiteDatabase gives Open files that are not SQLite
// databases (a config file, random bytes, a truncated database): each is a
// clear start-up error, never a panic, and the file is left as it was.
func TestOpenNotASQLiteDatabase(t *testing.T) {
	random := make([]byte, 16<<10)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	truncated := func(t *testing.T) []byte {
		// A real tollgate database cut after its header page: the header
		// is valid, the schema pages are gone.
		path := filepath.Join(t.TempDir(), "whole.db")
		s := mustOpen(t, "sqlite:"+path, sqlstore.Options{})
		for i := range 50 {
			if err := s.CreateClient(context.Background(), storagetest.Client(fmt.Sprintf("c%d", i))); err != nil {
				t.Fatal(err)
			}
		}
		// Fold the WAL into the file so the file alone holds the data.
		if _, err := s.DB().Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			t.Fatal(err)
		}
		s.Close()
		whole, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(whole) < 8192 {
			t.Fatalf("database is only %d bytes", len(whole))
		}
		return slices.Clip(whole[:len(whole)/2])
	}
	for _, tc := range []struct {
		name    string
		content func(t *testing.T) []byte
	}{
		{"random bytes", func(*testing.T) []byte { return random }},
		{"a YAML file", func(*testing.T) []byte {
			return []byte("issuer: https://auth.example.com\nstorage: sqlite:tollgate.db\n")
		}},
		{"a PNG header", func(*testing.T) []byte { return append([]byte("\x89PNG\r\n\x1a\n"), random[:4096]...) }},
		{"SQLite magic then garbage", func(*testing.T) []byte { return append([]byte("SQLite format 3\x00"), random[:8192]...) }},
		{"a truncated database", truncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			content := tc.content(t)
			path := filepath.Join(t.TempDir(), "tollgate.db")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			s, err := sqlstore.Open(context.Background(), "sqlite:"+path, sqlstore.Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded on a file that is not a SQLite database")
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Open took %v to refuse the file", d)
			}
			if !strings.Contains(err.Error(), "not a usable SQLite database") {
				t.Errorf("error %q does not say the file is not a usable SQLite database", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			after, rerr := os.ReadFile(path)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if !bytes.Equal(after, content) {
				t.Errorf("Open changed the file it refused (%d bytes, was %d)", len(after), len(content))
			}
		})
	}
}

// TestOpenForeignDatabaseRefused points Open at another application's
// database: it must refuse, clearly, and create nothing there.
func TestOpenForeignDatabaseRefused(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.empty(t)
			for _, stmt := range []string{
				"CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL)",
				"INSERT INTO users (id, email) VALUES (1, 'alice@example.com')",
				"CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL)",
			} {
				if _, err := db.raw.Exec(stmt); err != nil {
					t.Fatal(err)
				}
			}
			s, err := sqlstore.Open(context.Background(), db.dsn, sqlstore.Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open wrote into a database holding another application's tables")
			}
			for _, want := range []string{"other tables", "no tollgate schema"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if got := db.tables(t); !slices.Equal(got, []string{"orders", "users"}) {
				t.Errorf("tables after the refused Open = %q, want only the application's [orders users]", got)
			}
		})
	}
}

func TestOpenPostgresUnreachable(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s, err := sqlstore.Open(context.Background(), "postgres://postgres@127.0.0.1:1/test?sslmode=disable", sqlstore.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded with nothing listening")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open took %v to fail against a closed port", d)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %q does not name the server", err)
	}
}

// TestOpenPostgresSilentServer: a server that accepts connections and
// never answers (a hung database, a black-holing firewall) must not hang
// Open past the caller's deadline.
func TestOpenPostgresSilentServer(t *testing.T) {
	t.Parallel()
	p := testservices.StartProxy(t, "127.0.0.1:5432") // never forwards: paused from the start
	p.Pause()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	s, err := sqlstore.Open(ctx, "postgres://postgres@"+p.Addr()+"/test?sslmode=disable", sqlstore.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded against a server that never answers")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Open took %v with a 1 s deadline against a silent server", d)
	}
}

// TestOpenRedactsPassword: start-up errors end up in logs and terminals;
// the database password must not.
func TestOpenRedactsPassword(t *testing.T) {
	const pw = "Sup3rSecretPw"
	for _, tc := range []struct {
		name string
		dsn  string
	}{
		{"unreachable", "postgres://tollgate:" + pw + "@127.0.0.1:1/db?sslmode=disable"},
		{"postgresql scheme", "postgresql://tollgate:" + pw + "@127.0.0.1:1/db?sslmode=disable"},
		{"at sign in password", "postgres://tollgate:" + pw + "@x@127.0.0.1:1/db?sslmode=disable"},
		{"malformed option", "postgres://tollgate:" + pw + "@127.0.0.1:1/db?sslmode=bogus"},
		{"malformed host", "postgres://tollgate:" + pw + "@[::1/db"},
		{"password parameter", "postgres://tollgate@127.0.0.1:1/db?sslmode=disable&password=" + pw},
		{"wrong scheme", "mysql://tollgate:" + pw + "@127.0.0.1:1/db"},
		{"keyword form", "host=127.0.0.1 port=1 user=tollgate password=" + pw + " dbname=db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := sqlstore.Open(ctx, tc.dsn, sqlstore.Options{})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded", tc.name)
			}
			if strings.Contains(err.Error(), pw) {
				t.Errorf("Open error shows the password: %q", err)
			}
		})
	}
}
