package sqlstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// dsnPassword is the password of every PostgreSQL URL below: no error may
// show it, or any part of it.
const dsnPassword = "s3cr3tPW"

// driverInternals are what the drivers say of a name they cannot read,
// which Open must not pass on: modernc's URI errors carry the options
// sqlstore appends, pgx quotes the connection string it was given.
var driverInternals = []string{"_pragma", "busy_timeout", "SQL logic error", "invalid uri", "(14)", "cannot parse", "xxxxx",
	"connect_timeout=5", "failed to", "pgconn", "strconv", "s3cr3t", "3cr3", "cr3tPW"}

// TestOpenBadDSN: a name of a wrong form is refused by Open (and
// CheckDSN) with a *DSNError that shows the name, every password hidden,
// says what is wrong and lists the forms accepted, before any file is made
// or connection tried.
func TestOpenBadDSN(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const forms = "(accepted: sqlite:PATH, sqlite:///ABSOLUTE/PATH, postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=…)"
	for _, tc := range []struct {
		name, dsn string
		want      string // in the error, besides the forms
		checked   bool   // CheckDSN refuses it too (false: only Open can tell)
	}{
		{"empty", "", "empty", true},
		{"bare path", "tollgate.db", `did you mean "sqlite:tollgate.db"?`, true},
		{"bare word", "tollgate", "no kind of database", true},
		{"spaces", " sqlite:x.db", "spaces", true},
		{"sqlite with a host", "sqlite://tollgate.db", `did you mean "sqlite:tollgate.db"`, true},
		{"sqlite with a host and path", "sqlite://host/tollgate.db", "takes no host", true},
		{"sqlite options", "sqlite:x.db?mode=ro", "takes no ?options", true},
		{"sqlite fragment", "sqlite:x.db#y", "takes no ?options or #fragment", true},
		{"sqlite without a path", "sqlite:", "path after sqlite: is missing", true},
		{"sqlite3 scheme", "sqlite3:x.db", `did you mean "sqlite:x.db"?`, true},
		{"file URI", "file:tollgate.db", `did you mean "sqlite:tollgate.db"?`, true},
		{"upper-case scheme", "SQLITE:tollgate.db", `did you mean "sqlite:tollgate.db"?`, true},
		{"upper-case postgres", "POSTGRES://127.0.0.1/test", `did you mean "postgres://127.0.0.1/test"?`, true},
		{"sqlite directory", "sqlite:" + dir, "is a directory", false},
		{"one slash", "postgres:/127.0.0.1/test", `did you mean "postgres://127.0.0.1/test"?`, true},
		{"driver name as scheme", "pgx://127.0.0.1/test", `"pgx:" is not a kind of database`, true},
		{"mysql", "mysql://root:" + dsnPassword + "@127.0.0.1/tollgate", "mysql is not supported", true},
		{"redis", "redis://127.0.0.1:6379/0", "redis is not supported", true},
		{"postgres port", "postgres://u:" + dsnPassword + "@127.0.0.1:bad/test", "port", true},
		{"postgres port out of range", "postgres://u:" + dsnPassword + "@127.0.0.1:99999/test", "port", true},
		{"postgres password with a slash", "postgres://u:s3c/r3tPW@127.0.0.1/test", "percent-encoded", true},
		{"postgres password with an @", "postgres://u:s3cr@3tPW@127.0.0.1:5432/test", "not percent-encoded", true},
		{"postgres password with a bad escape", "postgres://u:s3cr%zz3tPW@127.0.0.1/test", "not percent-encoded", true},
		{"postgres password with a space", "postgres://u:s3cr 3tPW@127.0.0.1/test", "not percent-encoded", true},
		{"postgres password with a #", "postgres://u:s3cr#3tPW@127.0.0.1/test", "not percent-encoded", true},
		{"postgres IPv6 unclosed", "postgres://u:" + dsnPassword + "@[::1/test", "no closing ]", true},
		{"postgres sslmode", "postgres://u:" + dsnPassword + "@127.0.0.1/test?sslmode=bogus", `sslmode "bogus" is not one of disable`, true},
		{"postgres password parameter and sslmode", "postgres://u@127.0.0.1/test?password=" + dsnPassword + "&sslmode=bogus", `sslmode "bogus"`, true},
		{"postgres connect_timeout", "postgres://u:" + dsnPassword + "@127.0.0.1/test?connect_timeout=soon", "connect_timeout", true},
		{"postgres target_session_attrs", "postgres://u:" + dsnPassword + "@127.0.0.1/test?target_session_attrs=x", "target_session_attrs", true},
		{"postgres repeated parameter", "postgres://u:" + dsnPassword + "@127.0.0.1/test?sslmode=disable&sslmode=require", "given 2 times", true},
		{"postgres bad query", "postgres://u:" + dsnPassword + "@127.0.0.1/test?a=%zz", "parameters after ?", true},
		{"postgres missing CA file", "postgres://u:" + dsnPassword + "@127.0.0.1/test?sslmode=verify-full&sslrootcert=" + filepath.Join(dir, "none.pem"),
			"certificate files", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := sqlstore.Open(ctx, tc.dsn, sqlstore.Options{})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.dsn)
			}
			if _, ok := errors.AsType[*sqlstore.DSNError](err); !ok {
				t.Errorf("Open(%q): %v is not a *DSNError", tc.dsn, err)
			}
			msg := err.Error()
			for _, want := range []string{"sqlstore: ", forms, tc.want} {
				if !strings.Contains(msg, want) {
					t.Errorf("Open(%q): error %q does not say %q", tc.dsn, msg, want)
				}
			}
			for _, leak := range driverInternals {
				if strings.Contains(msg, leak) {
					t.Errorf("Open(%q): error %q holds %q", tc.dsn, msg, leak)
				}
			}
			if err := sqlstore.CheckDSN(tc.dsn); (err != nil) != tc.checked {
				t.Errorf("CheckDSN(%q) = %v, want an error: %v", tc.dsn, err, tc.checked)
			} else if err != nil && err.Error() != msg {
				t.Errorf("CheckDSN and Open disagree:\n%v\n%v", err, msg)
			}
			t.Log(msg)
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused names left files behind: %v", entries)
	}
}

// TestCheckDSNAccepts: the forms Open takes pass the check, PostgreSQL's
// URL syntax included (several hosts, IPv6, defaults).
func TestCheckDSNAccepts(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"sqlite:tollgate.db", "sqlite:/var/lib/tollgate.db", "sqlite:///var/lib/tollgate.db", "sqlite:./data/t.db", "sqlite:a%20b.db",
		"postgres://", "postgresql://", "postgres:///tollgate", "postgres://db/tollgate", "postgres://u:p%40ss@db:5432/tollgate?sslmode=require",
		"postgres://u@[::1]:5432/t", "postgres://u@[::1]/t", "postgres://h1:5432,h2:5433/t?target_session_attrs=read-write",
		"postgres://u@db/t?connect_timeout=3&application_name=tollgate",
	} {
		if err := sqlstore.CheckDSN(dsn); err != nil {
			t.Errorf("CheckDSN(%q) = %v", dsn, err)
		}
	}
}

// TestOpenSQLitePathAsWritten: the file Open makes is the one the path
// names, a "%" in it included (SQLite reads the name as a URI), and
// "sqlite:///abs" is the absolute path.
func TestOpenSQLitePathAsWritten(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"a%20b.db", "plain.db"} {
		path := filepath.Join(dir, name)
		for _, dsn := range []string{"sqlite:" + path, "sqlite://" + path} {
			s, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{})
			if err != nil {
				t.Fatalf("Open(%q): %v", dsn, err)
			}
			s.Close()
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%s was not made: %v", path, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %o, want 0600", path, fi.Mode().Perm())
		}
	}
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "a%20b.db plain.db" {
		t.Errorf("files left: %q, want the two databases (SQLite removes its -wal and -shm files on close)", names)
	}
}
