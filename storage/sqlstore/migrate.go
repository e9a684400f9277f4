package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order. Files are named
// NNNN_name.sql; each runs once, in a transaction, and is recorded in
// tollgate_schema_migrations.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %q is not named NNNN_name.sql", e.Name())
		}
		body, err := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// migrate brings the schema to the latest version up to upTo. Two
// instances starting at once are safe: on PostgreSQL a transaction-scoped
// advisory lock serialises them, on SQLite the write transaction (BEGIN
// IMMEDIATE) does; the second finds the work done.
func (s *Store) migrate(ctx context.Context, upTo int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	ms = slices.DeleteFunc(ms, func(m migration) bool { return m.version > upTo })
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		if s.d == sqlite && notADatabase(err) {
			return fmt.Errorf("not a usable SQLite database (corrupt or another format?): %w", err)
		}
		return fmt.Errorf("connecting: %w", err)
	}
	defer conn.Close()
	if err := s.checkForeign(ctx, conn); err != nil {
		return err
	}
	if s.d == sqlite {
		if err := setWAL(ctx, conn); err != nil {
			return err
		}
		// database/sql's BeginTx cannot say IMMEDIATE; take the write lock
		// by hand on this one connection.
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return fmt.Errorf("locking for migration: %w", err)
		}
		if err := s.applyMigrations(ctx, conn, ms); err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			return err
		}
		_, err := conn.ExecContext(ctx, "COMMIT")
		return err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7463526)"); err != nil { // "tollgate"
		return fmt.Errorf("locking for migration: %w", err)
	}
	if err := s.applyMigrations(ctx, tx, ms); err != nil {
		return err
	}
	return tx.Commit()
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// appliedVersions reads which migrations the database has had.
func appliedVersions(ctx context.Context, db execer) (map[int]bool, error) {
	rows, err := db.QueryContext(ctx, "SELECT version FROM tollgate_schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("reading the schema version: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("reading the schema version: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the schema version: %w", err)
	}
	return applied, nil
}

// pending returns the migrations of ms not applied yet, in order, and the
// newest version applied. Every missing one runs, not only those above the
// newest: migrations are written on parallel branches, and a database that
// ran a later number first (a branch merged earlier) must still get the
// lower one merged after it. So a migration must not depend on running
// after a higher-numbered one.
func pending(ms []migration, applied map[int]bool) (todo []migration, newest int) {
	for v := range applied {
		newest = max(newest, v)
	}
	for _, m := range ms {
		if !applied[m.version] {
			todo = append(todo, m)
		}
	}
	return todo, newest
}

func (s *Store) applyMigrations(ctx context.Context, db execer, ms []migration) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS tollgate_schema_migrations (
		version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("creating the migrations table: %w", err)
	}
	applied, err := appliedVersions(ctx, db)
	if err != nil {
		return err
	}
	todo, newest := pending(ms, applied)
	if latest := ms[len(ms)-1].version; newest > latest {
		return fmt.Errorf("the database schema is version %d, newer than this binary's %d: upgrade tollgate", newest, latest)
	}
	for _, m := range todo {
		for _, stmt := range statements(s.d.template(m.sql)) {
			stmt, ok := s.d.only(stmt)
			if !ok {
				continue
			}
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
		}
		if _, err := db.ExecContext(ctx, s.d.q("INSERT INTO tollgate_schema_migrations (version, applied_at) VALUES (?, ?)"),
			m.version, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("recording migration %s: %w", m.name, err)
		}
	}
	return nil
}

// checkForeign refuses a database that holds tables but not tollgate's:
// another application's database, given by mistake, must not be written
// into. It also turns SQLite's "file is not a database" into a clear error.
func (s *Store) checkForeign(ctx context.Context, conn *sql.Conn) error {
	var query string
	if s.d == sqlite {
		query = "SELECT name FROM sqlite_master WHERE type = 'table'"
	} else {
		query = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
	}
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		if s.d == sqlite {
			return fmt.Errorf("not a usable SQLite database (corrupt or another format?): %w", err)
		}
		return fmt.Errorf("reading the schema: %w", err)
	}
	defer rows.Close()
	var tables []string
	ours := false
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		tables = append(tables, name)
		if name == "tollgate_schema_migrations" {
			ours = true
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(tables) > 0 && !ours {
		return errors.New("the database holds other tables but no tollgate schema: refusing to write into another application's database")
	}
	return nil
}

// statements splits a migration on ';' at line ends, dropping comments.
func statements(script string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(script, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	return out
}

// setWAL switches the file to WAL mode, once, here rather than in every
// connection's DSN (the mode is kept in the file). The switch needs the
// file to itself for a moment, and SQLite answers SQLITE_BUSY at once,
// without its busy handler, while another connection holds a write lock
// (another instance starting at the same time): retry until ctx ends.
func setWAL(ctx context.Context, conn *sql.Conn) error {
	for {
		var mode string
		err := conn.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode)
		if e, ok := errors.AsType[*msqlite.Error](err); !ok || e.Code()&0xff != sqlite3.SQLITE_BUSY {
			if err != nil {
				return fmt.Errorf("setting WAL mode: %w", err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("setting WAL mode: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// notADatabase reports SQLite's "file is not a database" and "database
// disk image is malformed".
func notADatabase(err error) bool {
	e, ok := errors.AsType[*msqlite.Error](err)
	return ok && (e.Code()&0xff == sqlite3.SQLITE_NOTADB || e.Code()&0xff == sqlite3.SQLITE_CORRUPT)
}
