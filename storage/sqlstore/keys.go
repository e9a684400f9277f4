package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// AddSigningKey implements storage.KeyStore.
func (s *Store) AddSigningKey(ctx context.Context, k *storage.SigningKey) error {
	if k == nil || k.ID == "" || len(k.Private) == 0 {
		return fmt.Errorf("signing key: %w", &storage.ValidationError{Field: "id", Reason: "a signing key needs an id and a private key"})
	}
	ctx, done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	_, err = s.db.ExecContext(ctx, s.d.q("INSERT INTO tollgate_signing_keys (kid, alg, private_key, created_at, active_from, retired_at) VALUES (?, ?, ?, ?, ?, ?)"),
		k.ID, k.Algorithm, k.Private, micros(k.CreatedAt), optMicros(k.ActiveFrom), optMicros(k.RetiredAt))
	if isDuplicate(err) {
		return fmt.Errorf("signing key %q: %w", k.ID, storage.ErrAlreadyExists)
	}
	if err != nil {
		return fail("storing a signing key", err)
	}
	return nil
}

// SigningKeys implements storage.KeyStore.
func (s *Store) SigningKeys(ctx context.Context) ([]*storage.SigningKey, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, "SELECT kid, alg, private_key, created_at, active_from, retired_at FROM tollgate_signing_keys ORDER BY created_at, kid")
	if err != nil {
		return nil, fail("reading signing keys", err)
	}
	defer rows.Close()
	out := []*storage.SigningKey{}
	for rows.Next() {
		var (
			k                   storage.SigningKey
			us, active, retired int64
		)
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.Private, &us, &active, &retired); err != nil {
			return nil, fail("reading signing keys", err)
		}
		k.CreatedAt, k.ActiveFrom, k.RetiredAt = fromMicros(us), fromOptMicros(active), fromOptMicros(retired)
		out = append(out, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("reading signing keys", err)
	}
	return out, nil
}

// RetireSigningKey implements storage.KeyStore. The first retirement's
// time stays: the UPDATE only touches a key not yet retired, and a key
// that is missing is told apart from one already retired afterwards.
func (s *Store) RetireSigningKey(ctx context.Context, id string, at time.Time) error {
	ctx, done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	if _, err := s.db.ExecContext(ctx, s.d.q("UPDATE tollgate_signing_keys SET retired_at = ? WHERE kid = ? AND retired_at = 0"),
		optMicros(at), id); err != nil {
		return fail("retiring a signing key", err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, s.d.q("SELECT COUNT(*) FROM tollgate_signing_keys WHERE kid = ?"), id).Scan(&n); err != nil {
		return fail("retiring a signing key", err)
	}
	if n == 0 {
		return fmt.Errorf("signing key %q: %w", id, storage.ErrNotFound)
	}
	return nil
}

// optMicros stores a time that may be unset: zero is 0 (so a time at the
// Unix epoch itself reads back as unset, which no key schedule uses).
func optMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromOptMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us)
}
