// Package sqlstore implements every storage interface on database/sql, for
// PostgreSQL (github.com/jackc/pgx/v5's stdlib driver) and SQLite
// (modernc.org/sqlite: pure Go, no cgo). Its schema is embedded and
// migrated on Open.
//
//	store, err := sqlstore.Open(ctx, "sqlite:/var/lib/tollgate.db", sqlstore.Options{})
//	store, err := sqlstore.Open(ctx, "postgres://tollgate@db/tollgate", sqlstore.Options{})
//
// Every call is bounded by Options.QueryTimeout: a database that is down
// or slow makes calls fail with storage.ErrUnavailable (the token endpoint
// answers 503) instead of hanging, and the pool reconnects by itself when
// the database returns.
//
// A SQLite file that Open creates is readable by its owner only (mode
// 0600), and so are the -wal and -shm files SQLite keeps beside it: the
// database holds client secret hashes and stored signing keys. Open leaves
// the mode of an existing file alone.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"

	"github.com/tollgate-oauth/tollgate/storage"
)

// DefaultQueryTimeout bounds each storage call.
const DefaultQueryTimeout = 3 * time.Second

// Options tune a Store. Zero values are the defaults.
type Options struct {
	// QueryTimeout bounds each call. Default 3 s.
	QueryTimeout time.Duration
}

// Store is a storage.Store on a SQL database. It is safe for concurrent
// use.
type Store struct {
	db      *sql.DB
	d       dialect
	timeout time.Duration
	// writes gates SQLite writes (see write); nil on PostgreSQL.
	writes chan struct{}
	// clientWrites counts this handle's client writes
	// (storage.ClientChanges.ClientsWritten).
	clientWrites atomic.Uint64
}

var (
	_ storage.Store         = (*Store)(nil)
	_ storage.ClientChanges = (*Store)(nil)
)

// Open connects to dsn, "sqlite:PATH" (or "sqlite:///ABSOLUTE/PATH") or a
// "postgres://" / "postgresql://" URL, and migrates the schema to this
// version. A dsn of another form is a [*DSNError] (see [CheckDSN]),
// returned before any file is created or connection tried. It fails with a
// clear error for a file that is not a SQLite database, a database holding
// another application's tables, or a schema newer than this binary.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	return open(ctx, dsn, opts, math.MaxInt)
}

// open is Open migrating up to version upTo: tests make older schemas.
func open(ctx context.Context, dsn string, opts Options, upTo int) (*Store, error) {
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = DefaultQueryTimeout
	}
	var (
		db  *sql.DB
		d   dialect
		err error
	)
	// A DSN of a wrong form is refused in tollgate's words before a file
	// is created or a connection tried (dsn.go).
	if err := CheckDSN(dsn); err != nil {
		return nil, err
	}
	if strings.HasPrefix(dsn, "sqlite:") {
		if err := checkSQLiteFile(dsn); err != nil {
			return nil, err
		}
		d = sqlite
		db, err = openSQLite(sqlitePath(dsn))
	} else {
		if err := checkPgxConfig(dsn); err != nil {
			return nil, err
		}
		d = postgres
		db, err = sql.Open("pgx", withConnectTimeout(dsn))
		if err == nil {
			db.SetMaxOpenConns(20)
			db.SetConnMaxIdleTime(5 * time.Minute)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: opening %s: %w", RedactDSN(dsn), err)
	}
	s := &Store{db: db, d: d, timeout: opts.QueryTimeout}
	if d == sqlite {
		s.writes = make(chan struct{}, 1)
	}
	if err := s.migrate(ctx, upTo); err != nil {
		db.Close()
		return nil, oneLine{fmt.Errorf("sqlstore: %s: %w", RedactDSN(dsn), err)}
	}
	return s, nil
}

// oneLine keeps a driver's multi-line report (pgx lists each connection
// attempt on its own line) to one line, for start-up errors and logs.
type oneLine struct{ err error }

func (e oneLine) Error() string {
	return strings.Join(strings.Fields(strings.ReplaceAll(e.err.Error(), "\n", "; ")), " ")
}
func (e oneLine) Unwrap() error { return e.err }

// walLimit bounds the SQLite WAL file: when a checkpoint has copied the
// whole WAL back and it restarts, SQLite truncates it to this size.
// Automatic checkpoints run every 1000 pages (about 4 MB), which fits.
const walLimit = 4 << 20

// openSQLite opens path with WAL (readers never wait for the writer), a
// busy timeout (writers queue instead of failing) and a bounded WAL.
// SQLite allows one writer at a time: concurrent single-use checks
// serialise there.
func openSQLite(path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("empty path")
	}
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	// SQLite reads the name as a URI, decoding %XX: a "%" in the path is
	// written as one ("?" and "#" CheckDSN refuses).
	uri := "file:" + strings.ReplaceAll(path, "%", "%25")
	db, err := sql.Open("sqlite", uri+"?_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_pragma=journal_size_limit("+strconv.Itoa(walLimit)+")")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(8)
	return db, nil
}

// createPrivate creates the database file with mode 0600 if it does not
// exist yet. SQLite itself would create it 0644 (less the umask), readable
// by every user of the machine, and the file holds client secret hashes,
// token digests and stored signing keys. SQLite creates its -wal, -shm and
// -journal files with the mode of the database file, so they are 0600 too.
// An existing file's mode is the operator's choice and is left alone.
func createPrivate(path string) error {
	if path == ":memory:" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the connection pool the Store runs on, to read its Stats or
// to tune it (SetMaxOpenConns: Open sets 20 for PostgreSQL, 8 for SQLite);
// and for tests and operators to inspect the tables. A health check wants
// [Store.Ping], which is bounded and asks the server. Nothing in
// tollgate calls it. It is the Store's own pool, not a copy: closing it
// closes the Store. Calls through it bypass the Store: they are not bounded
// by [Options.QueryTimeout], their errors are not [storage.ErrUnavailable],
// and on SQLite their writes do not queue behind the Store's. The tables
// and their layout are the Store's, and change with its migrations; write
// to them only through the storage interfaces.
func (s *Store) DB() *sql.DB { return s.db }

// call returns a context bounded by the query timeout.
func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// write is call for a call that writes: it also waits, within the call's
// time, for the process's other SQLite writes to finish. SQLite has one
// writer; a connection that finds the write lock taken sleeps in growing
// steps (up to 100 ms each) before trying again, so under contention a
// request could sleep long after the lock was free. Queued here instead,
// each write starts the moment the previous one ends. PostgreSQL locks
// rows: no gate. done ends the call and opens the gate.
func (s *Store) write(ctx context.Context) (context.Context, func(), error) {
	ctx, cancel := s.call(ctx)
	if s.writes == nil {
		return ctx, cancel, nil
	}
	select {
	case s.writes <- struct{}{}:
		return ctx, func() { <-s.writes; cancel() }, nil
	case <-ctx.Done():
		cancel()
		return nil, nil, fail("waiting for the other writes", ctx.Err())
	}
}

// fail wraps a database error: not found, duplicate and single-use
// outcomes are decided by the callers; anything else means the database
// cannot answer now.
func fail(what string, err error) error {
	return fmt.Errorf("sqlstore: %s: %w: %v", what, storage.ErrUnavailable, err)
}

// passwordParam is a password parameter of a URL query or a key=value
// DSN, whose value may be single-quoted (with backslash escapes), as libpq
// allows, and may have spaces around the "=".
var passwordParam = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^&\s]*)`)

// withConnectTimeout bounds each connection attempt (pgx has no default):
// a server that accepts TCP but never answers must not hold a caller for
// longer than a query would.
// The parameter is appended to the text as given: re-encoding the URL
// through net/url would turn "postgres://" (every default) into
// "postgres:?…", which pgx reads as a key=value string.
func withConnectTimeout(dsn string) string {
	_, query, hasQuery := strings.Cut(dsn, "?")
	if q, err := url.ParseQuery(query); err == nil && q.Has("connect_timeout") {
		return dsn
	}
	if hasQuery {
		return dsn + "&connect_timeout=5"
	}
	return dsn + "?connect_timeout=5"
}

// RedactDSN returns dsn with every password in it replaced by "***", for
// errors, logs and start-up lines: the user-info password of a URL
// ("postgres://user:pw@host"), any parameter whose name ends in "password"
// ("?password=pw", "&sslpassword=pw"), and the same keywords in the
// key=value form ("password=pw", "password = 'p w'"). When in doubt it
// hides more: an "@" in a password that was not percent-encoded still
// hides everything up to the last "@".
func RedactDSN(dsn string) string {
	dsn = passwordParam.ReplaceAllString(dsn, "${1}***")
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			if colon := strings.Index(dsn[i+3:at], ":"); colon >= 0 {
				return dsn[:i+3+colon] + ":***" + dsn[at:]
			}
		}
	}
	return dsn
}

// Ping implements storage.Pinger: one query on a connection from the pool,
// bounded by ctx and by [Options.QueryTimeout]. database/sql's own Ping
// may answer from a connection's state without asking the server.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fail("pinging the database", err)
	}
	return nil
}
