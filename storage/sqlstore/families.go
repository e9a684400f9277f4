package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// One row per grant family (tollgate_families, migration 0004): a
// rotation is one UPDATE of that row, so the table grows with grants, not
// with rotations.

// purgeBucket is the rounding of purge_after (see the migration): an hour,
// in microseconds.
const purgeBucket = int64(time.Hour / time.Microsecond)

// purgeAfter rounds us up to the bucket, as the migration's SQL does.
func purgeAfter(us int64) int64 { return (us + purgeBucket - 1) / purgeBucket * purgeBucket }

// CreateFamily implements storage.FamilyStore. A row revoked before the
// family was created (with an empty grant_data) is filled in and stays revoked; its
// feed entry is extended to the family's access expiry.
func (s *Store) CreateFamily(ctx context.Context, f *storage.Family) error {
	if f == nil {
		return fmt.Errorf("family: %w", &storage.ValidationError{Field: "family", Reason: "is nil"})
	}
	id := ""
	if f.Grant != nil {
		id = f.Grant.ID
	}
	if err := checkRecord("family", "grant.id", id, f.Grant); err != nil {
		return err
	}
	grant, err := marshalGrant(f.Grant)
	if err != nil {
		return err
	}
	exp, access := micros(f.ExpiresAt), micros(f.AccessExpiresAt)
	ctx, done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail("creating a family", err)
	}
	defer tx.Rollback()
	// ON CONFLICT DO NOTHING waits for a concurrent RevokeFamily of the same
	// id to commit (PostgreSQL), so the two cannot miss each other.
	res, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO tollgate_families
		(id, grant_data, generation, expires_at, access_expires_at, revoked, purge_after, subject, client_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`),
		id, grant, int64(f.Generation), exp, access, f.Revoked, purgeAfter(max(exp, access)), f.Grant.Subject, f.Grant.ClientID)
	if err != nil {
		return fail("creating a family", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fail("creating a family", err)
	} else if n == 0 {
		res, err = tx.ExecContext(ctx, s.d.q(`UPDATE tollgate_families SET grant_data = ?, generation = ?, expires_at = ?,
			access_expires_at = ?, revoked = ?, purge_after = ?, subject = ?, client_id = ? WHERE id = ? AND grant_data = ''`),
			grant, int64(f.Generation), exp, access, true, purgeAfter(max(exp, access)), f.Grant.Subject, f.Grant.ClientID, id)
		if err != nil {
			return fail("creating a family", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fail("creating a family", err)
		} else if n == 0 {
			return fmt.Errorf("family %q: %w", id, storage.ErrAlreadyExists)
		}
		if err := s.feedRevoke(ctx, tx, kindGrant, id, access); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fail("creating a family", err)
	}
	return nil
}

// GetFamily implements storage.FamilyStore.
func (s *Store) GetFamily(ctx context.Context, id string) (*storage.Family, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var (
		grant              string
		gen, exp, accessUs int64
		f                  storage.Family
	)
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT grant_data, generation, expires_at, access_expires_at, revoked
		FROM tollgate_families WHERE id = ? AND grant_data <> ''`), id).Scan(&grant, &gen, &exp, &accessUs, &f.Revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("family %q: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fail("reading a family", err)
	}
	if f.Grant, err = unmarshalGrant(grant); err != nil {
		return nil, fail("reading a family", err)
	}
	f.Generation, f.ExpiresAt, f.AccessExpiresAt = uint64(gen), fromMicros(exp), fromMicros(accessUs)
	return &f, nil
}

// AdvanceFamily implements storage.FamilyStore: one conditional UPDATE of
// the family's row, so of concurrent rotations exactly one changes it.
// The SET expressions read the row's old values: the access expiry only
// grows, and purge_after follows the later of the two expiries.
func (s *Store) AdvanceFamily(ctx context.Context, id string, from uint64, expiresAt, accessExpiresAt time.Time) error {
	exp, access := micros(expiresAt), micros(accessExpiresAt)
	latest := max(exp, access)
	ctx, done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	return s.compareAndSet(ctx, advanceFamily, id,
		exp, access, access, latest, purgeBucket-1, purgeBucket, purgeBucket, purgeAfter(latest), int64(from), id)
}

// advanceFamily moves a live family from one generation to the next.
var advanceFamily = casUpdate{"family",
	`UPDATE tollgate_families SET generation = generation + 1, expires_at = ?,
		access_expires_at = CASE WHEN access_expires_at > ? THEN access_expires_at ELSE ? END,
		purge_after = CASE WHEN access_expires_at > ? THEN (access_expires_at + ?) / ? * ? ELSE ? END
		WHERE generation = ? AND NOT revoked AND grant_data <> '' AND id = ?`,
	"SELECT 1 FROM tollgate_families WHERE id = ? AND grant_data <> ''"}

// RevokeFamiliesOf implements storage.FamilyStore, in one transaction:
// the user's families to the client and the families of their codes (by
// the subject and client_id columns of migration 0005) are revoked one by
// one as RevokeFamily does, and the codes marked used. A code's family is
// revoked even if it does not exist yet: its redemption may be between
// UseCode and CreateFamily, and the primary key makes the two meet.
func (s *Store) RevokeFamiliesOf(ctx context.Context, subject, clientID string, until time.Time) (int, error) {
	ctx, done, err := s.write(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	const what = "revoking a user's families"
	live := 0
	err = s.inTx(ctx, what, func(tx *sql.Tx) error {
		live = 0
		var ids []string
		err := queryRows(ctx, tx, s.d.q("SELECT id, revoked FROM tollgate_families WHERE subject = ? AND client_id = ?"),
			[]any{subject, clientID}, func(rows *sql.Rows) error {
				var (
					id      string
					revoked bool
				)
				if err := rows.Scan(&id, &revoked); err != nil {
					return err
				}
				if !revoked {
					live++
				}
				ids = append(ids, id)
				return nil
			})
		if err != nil {
			return fail(what, err)
		}
		err = queryRows(ctx, tx, s.d.q("SELECT grant_data FROM tollgate_codes WHERE subject = ? AND client_id = ?"),
			[]any{subject, clientID}, func(rows *sql.Rows) error {
				var raw string
				if err := rows.Scan(&raw); err != nil {
					return err
				}
				g, err := unmarshalGrant(raw)
				if err != nil {
					return err
				}
				ids = append(ids, g.ID)
				return nil
			})
		if err != nil {
			return fail(what, err)
		}
		if _, err := tx.ExecContext(ctx, s.d.q("UPDATE tollgate_codes SET used = ? WHERE subject = ? AND client_id = ?"),
			true, subject, clientID); err != nil {
			return fail(what, err)
		}
		for _, id := range ids {
			if err := s.revokeFamily(ctx, tx, id, micros(until)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return live, nil
}

// queryRows runs query on db (a *sql.DB or *sql.Tx) and calls scan for
// each row, closing the rows before it returns, so that a transaction can
// run its next statement (one open result set per connection).
func queryRows(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
