package sqlstore

import (
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds the few differences between the two databases: placeholder
// syntax, the binary column type and how a duplicate key is reported.
type dialect int

const (
	sqlite dialect = iota
	postgres
)

func (d dialect) String() string {
	if d == postgres {
		return "postgres"
	}
	return "sqlite"
}

// q rewrites a query written with ? placeholders for the dialect.
func (d dialect) q(query string) string {
	if d != postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func (d dialect) bytesType() string {
	if d == postgres {
		return "BYTEA"
	}
	return "BLOB"
}

// isDuplicate reports a primary key violation.
func isDuplicate(err error) bool {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pgErr.Code == "23505"
	}
	if sqlErr, ok := errors.AsType[*msqlite.Error](err); ok {
		return sqlErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || sqlErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	}
	return false
}
