package sqlstore

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DSNError is a data source name [Open] cannot use. [CheckDSN] and Open
// report it before anything is created or connected to; it says what is
// wrong in tollgate's words, never in a driver's, and never holds a
// password.
type DSNError struct {
	// DSN is the name as given, with every password replaced by "***"
	// ([RedactDSN]).
	DSN string
	// Problem says what is wrong with it, e.g. `"sqlite://" takes no
	// host; did you mean "sqlite:tollgate.db"?`.
	Problem string
}

// dsnForms are the names Open accepts, for errors to show.
const dsnForms = "sqlite:PATH, sqlite:///ABSOLUTE/PATH, postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=…"

func (e *DSNError) Error() string {
	return fmt.Sprintf("sqlstore: %q: %s (accepted: %s)", e.DSN, e.Problem, dsnForms)
}

// CheckDSN reports whether dsn has a form [Open] accepts, without opening
// or connecting to anything: "sqlite:" and a file path ("sqlite:///" and
// an absolute path also works), or a "postgres://" / "postgresql://" URL
// with a numeric port, percent-encoded user name, password and database,
// and known values of sslmode, connect_timeout and target_session_attrs.
// The error is a [*DSNError].
func CheckDSN(dsn string) error {
	bad := func(format string, args ...any) error {
		return &DSNError{DSN: RedactDSN(dsn), Problem: fmt.Sprintf(format, args...)}
	}
	if dsn == "" {
		return bad("empty")
	}
	if strings.TrimSpace(dsn) != dsn {
		return bad("spaces around it")
	}
	scheme, rest, ok := strings.Cut(dsn, ":")
	if !ok {
		if looksLikeFile(dsn) {
			return bad("no kind of database; did you mean %q?", "sqlite:"+dsn)
		}
		return bad("no kind of database (sqlite: or postgres://)")
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		if scheme != "sqlite" {
			return bad("did you mean %q?", "sqlite:"+rest)
		}
		return checkSQLitePath(rest, bad)
	case "postgres", "postgresql":
		if !strings.HasPrefix(rest, "//") {
			return bad("did you mean %q?", "postgres://"+strings.TrimLeft(rest, "/"))
		}
		if scheme != strings.ToLower(scheme) {
			return bad("did you mean %q?", strings.ToLower(scheme)+":"+rest)
		}
		return checkPostgresURL(strings.TrimPrefix(rest, "//"), bad)
	case "sqlite3", "file":
		return bad("did you mean %q?", "sqlite:"+rest)
	case "postgre", "pg", "pgsql", "psql":
		return bad("did you mean %q?", "postgres:"+rest)
	case "mysql", "mariadb", "sqlserver", "mssql", "mongodb", "redis":
		return bad("%s is not supported", scheme)
	}
	if looksLikeFile(dsn) {
		return bad("no kind of database; did you mean %q?", "sqlite:"+dsn)
	}
	return bad("%q is not a kind of database sqlstore knows", scheme+":")
}

// looksLikeFile reports a DSN that is a bare file name of a database.
func looksLikeFile(s string) bool {
	switch strings.ToLower(filepath.Ext(s)) {
	case ".db", ".sqlite", ".sqlite3":
		return true
	}
	return false
}

// checkSQLitePath checks the path of a "sqlite:" DSN. SQLite reads it as
// a "file:" URI, so a host ("//name") or "?" and "#" would be read as
// something else than the file the operator named.
func checkSQLitePath(path string, bad func(string, ...any) error) error {
	switch {
	case path == "":
		return bad("the file path after sqlite: is missing")
	case strings.HasPrefix(path, "//") && !strings.HasPrefix(path, "///"):
		host, _, _ := strings.Cut(strings.TrimPrefix(path, "//"), "/")
		if rel := strings.TrimPrefix(path, "//"); host == rel {
			return bad("%q takes no host; did you mean %q (a relative path) or sqlite:///%s (an absolute one)?", "sqlite://", "sqlite:"+rel, "PATH")
		}
		return bad("%q takes no host: write sqlite:PATH for a relative path, sqlite:/PATH or sqlite:///PATH for an absolute one", "sqlite://")
	case strings.ContainsAny(path, "?#"):
		return bad("a sqlite: path takes no ?options or #fragment (sqlstore sets the SQLite options itself)")
	}
	return nil
}

// sqlitePath is the file a checked "sqlite:" DSN names: "sqlite:///abs"
// is "/abs".
func sqlitePath(dsn string) string {
	path := strings.TrimPrefix(dsn, "sqlite:")
	if strings.HasPrefix(path, "///") {
		path = path[2:]
	}
	return path
}

// checkSQLiteFile refuses a path that names a directory, which SQLite
// would report as "unable to open database file (14)".
func checkSQLiteFile(dsn string) error {
	if fi, err := os.Stat(sqlitePath(dsn)); err == nil && fi.IsDir() {
		return &DSNError{DSN: RedactDSN(dsn), Problem: "the path is a directory; name a database file in it"}
	}
	return nil
}

// postgresParams are the values of the parameters a PostgreSQL URL most
// often gets wrong, as pgx accepts them.
var postgresParams = map[string][]string{
	"sslmode":              {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"},
	"target_session_attrs": {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"},
}

// checkPostgresURL checks what follows "postgres://". It never quotes the
// user name, the password or the host list back: with an unescaped
// character in a password, any of them may hold part of it.
func checkPostgresURL(s string, bad func(string, ...any) error) error {
	const encode = "; a user name or password holding /, ?, #, @, :, %% or a space must be percent-encoded"
	authority, tail := s, ""
	if i := strings.IndexAny(s, "/?"); i >= 0 {
		authority, tail = s[:i], s[i:]
	}
	hosts := authority
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		// A second "@" is one of the password's, which drivers split at
		// differently (pgx at the first, and would look the rest up as a
		// host name).
		if _, err := url.PathUnescape(authority[:at]); err != nil || strings.ContainsAny(authority[:at], " #@") {
			return bad("the user name or password is not percent-encoded" + encode)
		}
		hosts = authority[at+1:]
	}
	for _, h := range strings.Split(hosts, ",") {
		if h == "" && hosts != "" {
			return bad("a host of the list is empty")
		}
		name, port, hasPort := h, "", false
		if strings.HasPrefix(h, "[") {
			end := strings.Index(h, "]")
			if end < 0 {
				return bad("an IPv6 host has no closing ]")
			}
			name = h[:end+1]
			if after := h[end+1:]; after != "" {
				port, hasPort = strings.CutPrefix(after, ":")
				if !hasPort {
					return bad("the port after a host is not a number from 1 to 65535" + encode)
				}
			}
		} else {
			name, port, hasPort = strings.Cut(h, ":")
		}
		if hasPort && !validPort(port) {
			return bad("the port after a host is not a number from 1 to 65535" + encode)
		}
		if strings.ContainsAny(name, " %#") {
			return bad("a host name holds a space, %% or #" + encode)
		}
	}
	path, query, _ := strings.Cut(tail, "?")
	if _, err := url.PathUnescape(path); err != nil || strings.Contains(path, " ") {
		return bad("the database name is not percent-encoded")
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return bad("the parameters after ? are not percent-encoded name=value pairs")
	}
	for _, name := range slices.Sorted(maps.Keys(params)) {
		vs := params[name]
		if len(vs) > 1 {
			return bad("parameter %s is given %d times", name, len(vs))
		}
		if allowed, ok := postgresParams[name]; ok && !slices.Contains(allowed, vs[0]) {
			return bad("%s %q is not one of %s", name, vs[0], strings.Join(allowed, ", "))
		}
	}
	if v, ok := params["connect_timeout"]; ok {
		if n, err := strconv.Atoi(v[0]); err != nil || n < 0 {
			return bad("connect_timeout %q is not a number of seconds", v[0])
		}
	}
	return nil
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535 && p == strconv.Itoa(n)
}

// checkPgxConfig has pgx read a URL that passed CheckDSN, as connecting
// would, so that what it refuses (a certificate file that is missing, an
// option of its own with a wrong value) is refused by Open, in tollgate's
// words: pgx's report quotes the connection string and its parser.
func checkPgxConfig(dsn string) error {
	_, err := pgx.ParseConfig(dsn)
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*pgconn.ParseConfigError](err); ok {
		return &DSNError{DSN: RedactDSN(dsn), Problem: "PostgreSQL's driver cannot use its parameters (check the certificate files and options it names)"}
	}
	return &DSNError{DSN: RedactDSN(dsn), Problem: "PostgreSQL's driver cannot read it"}
}
