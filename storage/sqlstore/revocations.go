package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// The revocation feed (tollgate_revocations, one row per revoked jti or
// grant) and its counter (tollgate_revocation_feed). Every write to the
// feed runs in a transaction that first updates the counter's one row:
// that row lock serialises writers until they commit, so sequence numbers
// become visible in the order they were handed out, and a poller reading
// "everything after n up to the counter" never steps over an entry still
// to commit (PostgreSQL; SQLite has one writer anyway).

const (
	kindJTI   = "jti"
	kindGrant = "grant"
)

// RevokeAccessToken implements storage.RevocationStore.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, exp time.Time) error {
	ctx, done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	return s.inTx(ctx, "revoking an access token", func(tx *sql.Tx) error {
		return s.feedRevoke(ctx, tx, kindJTI, jti, micros(exp))
	})
}

// RevokeFamily implements storage.RevocationStore. The family's row is
// marked revoked, or created as a placeholder (with an empty grant_data) that
// CreateFamily fills in: the primary key makes a revocation and a creation
// of the same family meet, whichever commits first. Access tokens issued
// under schema 1 carry no grant_id; they are revoked by jti.
func (s *Store) RevokeFamily(ctx context.Context, family string, until time.Time) error {
	ctx, done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	return s.inTx(ctx, "revoking a family", func(tx *sql.Tx) error {
		return s.revokeFamily(ctx, tx, family, micros(until))
	})
}

// revokeFamily is RevokeFamily in tx; until is in microseconds.
func (s *Store) revokeFamily(ctx context.Context, tx *sql.Tx, family string, until int64) error {
	var access int64
	err := tx.QueryRowContext(ctx, s.d.q(`INSERT INTO tollgate_families
		(id, grant_data, generation, expires_at, access_expires_at, revoked, purge_after) VALUES (?, '', 0, 0, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET revoked = excluded.revoked,
			access_expires_at = CASE WHEN tollgate_families.grant_data = '' AND excluded.access_expires_at > tollgate_families.access_expires_at
				THEN excluded.access_expires_at ELSE tollgate_families.access_expires_at END,
			purge_after = CASE WHEN tollgate_families.grant_data = '' AND excluded.purge_after > tollgate_families.purge_after
				THEN excluded.purge_after ELSE tollgate_families.purge_after END
		RETURNING access_expires_at`), family, until, true, purgeAfter(until)).Scan(&access)
	if err != nil {
		return fail("revoking a family", err)
	}
	if err := s.feedRevoke(ctx, tx, kindGrant, family, max(until, access)); err != nil {
		return err
	}
	return s.revokeLegacyAccessTokens(ctx, tx, family)
}

// feedRevoke adds the entry (kind, id) to the feed or, if its expiry is
// later than the entry's, moves it to the end with that expiry. A
// revocation that changes nothing leaves a gap in the numbers, which
// pollers do not mind.
func (s *Store) feedRevoke(ctx context.Context, tx *sql.Tx, kind, id string, exp int64) error {
	var seq int64
	if err := tx.QueryRowContext(ctx, "UPDATE tollgate_revocation_feed SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq").Scan(&seq); err != nil {
		return fail("numbering a revocation", err)
	}
	_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO tollgate_revocations (seq, kind, id, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (kind, id) DO UPDATE SET seq = excluded.seq, expires_at = excluded.expires_at
		WHERE excluded.expires_at > tollgate_revocations.expires_at`), seq, kind, id, exp)
	if err != nil {
		return fail("writing a revocation", err)
	}
	return nil
}

// inTx runs fn in a transaction and commits it.
func (s *Store) inTx(ctx context.Context, what string, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(what, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fail(what, err)
	}
	return nil
}

// AccessTokenRevoked implements storage.RevocationStore: one or two
// lookups on the feed's (kind, id) index.
func (s *Store) AccessTokenRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	query, args := "SELECT 1 FROM tollgate_revocations WHERE kind = ? AND id = ?", []any{kindJTI, jti}
	if grantID != "" {
		query += " UNION ALL SELECT 1 FROM tollgate_revocations WHERE kind = ? AND id = ?"
		args = append(args, kindGrant, grantID)
	}
	var one int
	err := s.db.QueryRowContext(ctx, s.d.q(query), args...).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fail("reading revocations", err)
	}
	return true, nil
}

// Revocations implements storage.RevocationStore. The counter is read
// first, then the entries up to it: every entry numbered up to the counter
// committed with it (see the top of this file), so the second read sees
// them all, though it is a separate statement.
func (s *Store) Revocations(ctx context.Context, after uint64, now time.Time, limit int) (*storage.RevocationPage, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	page := &storage.RevocationPage{}
	var last int64
	if err := s.db.QueryRowContext(ctx, "SELECT epoch, last_seq FROM tollgate_revocation_feed WHERE id = 1").Scan(&page.Epoch, &last); err != nil {
		return nil, fail("reading the revocation feed", err)
	}
	page.Last = uint64(last)
	if after >= page.Last {
		return page, nil
	}
	rows, err := s.db.QueryContext(ctx, s.d.q(`SELECT seq, kind, id, expires_at FROM tollgate_revocations
		WHERE seq > ? AND seq <= ? AND expires_at >= ? ORDER BY seq LIMIT ?`), int64(after), last, micros(now), limit)
	if err != nil {
		return nil, fail("reading the revocation feed", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			seq, exp int64
			kind, id string
		)
		if err := rows.Scan(&seq, &kind, &id, &exp); err != nil {
			return nil, fail("reading the revocation feed", err)
		}
		r := storage.Revocation{Seq: uint64(seq), ExpiresAt: fromMicros(exp)}
		if kind == kindGrant {
			r.GrantID = id
		} else {
			r.JTI = id
		}
		page.Entries = append(page.Entries, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("reading the revocation feed", err)
	}
	return page, nil
}
