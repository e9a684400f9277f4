package sqlstore

import (
	"context"
	"fmt"

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
	_, err = s.db.ExecContext(ctx, s.d.q("INSERT INTO tollgate_signing_keys (kid, alg, private_key, created_at) VALUES (?, ?, ?, ?)"),
		k.ID, k.Algorithm, k.Private, micros(k.CreatedAt))
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
	rows, err := s.db.QueryContext(ctx, "SELECT kid, alg, private_key, created_at FROM tollgate_signing_keys ORDER BY created_at, kid")
	if err != nil {
		return nil, fail("reading signing keys", err)
	}
	defer rows.Close()
	out := []*storage.SigningKey{}
	for rows.Next() {
		var (
			k  storage.SigningKey
			us int64
		)
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.Private, &us); err != nil {
			return nil, fail("reading signing keys", err)
		}
		k.CreatedAt = fromMicros(us)
		out = append(out, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("reading signing keys", err)
	}
	return out, nil
}
