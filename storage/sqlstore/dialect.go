package sqlstore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"regexp"
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

// template fills a migration's placeholders: {{BYTES}} is the binary
// column type; {{FILLFACTOR}} leaves room in PostgreSQL pages for the
// in-place (HOT) updates of a table rewritten often, such as the
// families' on every rotation (SQLite updates in place anyway); {{EPOCH}}
// is a new random id, for the revocation feed; {{JSON column Field}} is
// the text of a top-level field of the JSON object in column (NULL if
// absent), for back-filling columns from stored grants.
func (d dialect) template(sql string) string {
	bytes, fill, json := "BLOB", "", "json_extract($1, '$$.$2')"
	if d == postgres {
		bytes, fill, json = "BYTEA", " WITH (fillfactor = 70)", "($1::jsonb ->> '$2')"
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail
	sql = jsonField.ReplaceAllString(sql, json)
	return strings.NewReplacer("{{BYTES}}", bytes, "{{FILLFACTOR}}", fill, "{{EPOCH}}", hex.EncodeToString(b[:])).Replace(sql)
}

var jsonField = regexp.MustCompile(`\{\{JSON (\w+) (\w+)\}\}`)

// only reports whether a migration statement runs on this engine, and
// returns it without its mark: a statement starting with {{SQLITE}} or
// {{POSTGRES}} runs on that engine only (where the two need different SQL,
// as triggers do), any other on both.
func (d dialect) only(stmt string) (string, bool) {
	for mark, engine := range map[string]dialect{"{{SQLITE}}": sqlite, "{{POSTGRES}}": postgres} {
		if rest, ok := strings.CutPrefix(stmt, mark); ok {
			return strings.TrimSpace(rest), engine == d
		}
	}
	return stmt, true
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
