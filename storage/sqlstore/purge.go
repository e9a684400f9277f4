package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// purges are the DELETEs of DeleteExpired, one per table, each removing at
// most a batch of rows found through the table's expiry index. Families
// are found by purge_after, then checked exactly.
var purges = []struct{ table, where string }{
	{"tollgate_codes", "expires_at < ?"},
	{"tollgate_families", "purge_after <= ? AND expires_at < ? AND access_expires_at < ?"},
	{"tollgate_revocations", "expires_at < ?"},
	{"tollgate_legacy_refresh_tokens", "expires_at < ?"},
	{"tollgate_legacy_access_tokens", "expires_at < ?"},
}

// purgeQuery deletes the rows the index finds by their physical address,
// so the database never has to join the batch back to the table: SQLite's
// rowid, PostgreSQL's ctid (a TID scan, whatever the planner's
// statistics say about the table).
func (d dialect) purgeQuery(table, where string) string {
	if d == postgres {
		return d.q(fmt.Sprintf("DELETE FROM %[1]s WHERE ctid = ANY(ARRAY(SELECT ctid FROM %[1]s WHERE %[2]s LIMIT ?))", table, where))
	}
	return fmt.Sprintf("DELETE FROM %[1]s WHERE rowid IN (SELECT rowid FROM %[1]s WHERE %[2]s LIMIT ?)", table, where)
}

// purgeArgs are the arguments of a purge query for now and a batch size.
func purgeArgs(table string, now int64, limit int) []any {
	if table == "tollgate_families" {
		return []any{purgeAfter(now), now, now, limit}
	}
	return []any{now, limit}
}

// DeleteExpired implements storage.TokenStore: at most limit rows, over the
// tables in turn, each statement its own short transaction. On SQLite each
// call ends with a passive checkpoint: a purge writes many pages to the
// WAL, and copying them back here keeps that work off the requests (a
// commit that pushes the WAL past 1000 pages would otherwise checkpoint it
// itself, inside a request). A passive checkpoint never waits for readers
// or writers, and once it has copied everything the next write restarts
// the WAL, which journal_size_limit then truncates (see openSQLite).
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	total := 0
	for _, p := range purges {
		if total >= limit {
			return total, nil
		}
		n, err := s.purge(ctx, p.table, s.d.purgeQuery(p.table, p.where), purgeArgs(p.table, micros(now), limit-total))
		total += n
		if err != nil {
			return total, err
		}
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	if s.d == sqlite {
		if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
			return total, fail("checkpointing", err)
		}
	}
	return total, nil
}

// purge runs one purge statement, its own transaction: requests that
// write wait for one statement at most, not for the whole batch. On
// PostgreSQL the transaction commits without waiting for its WAL flush
// (synchronous_commit off): a purge lost in a crash is simply done again,
// and the purge does not queue behind, or hold up, the requests' flushes.
func (s *Store) purge(ctx context.Context, table, query string, args []any) (int, error) {
	ctx, done, err := s.write(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	var n int64
	err = s.inTx(ctx, "purging "+table, func(tx *sql.Tx) error {
		if s.d == postgres {
			if _, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit TO OFF"); err != nil {
				return fail("purging "+table, err)
			}
		}
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return fail("purging "+table, err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return fail("purging "+table, err)
		}
		return nil
	})
	return int(n), err
}
