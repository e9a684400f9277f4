package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tollgate-oauth/tollgate/storage"
)

// What schema 1 issued, kept by migration 0004 until it expires: refresh
// tokens stored by the SHA-256 of the token, and access tokens that carry
// no grant_id. The kit finds LegacyRefreshFamily by an optional interface
// of its own; a store that never had schema 1 need not know any of this.

// LegacyRefreshFamily looks up a refresh token issued before refresh-token
// families (schema 1) by its signature, the base64url SHA-256 of the
// token: the family it belongs to, and whether it was the family's live
// token when the database was migrated. The kit honours such a token once,
// while the family is still at generation 0, and issues a token of the
// current format in its place; any other use is a replay. ErrNotFound if
// unknown or expired and purged.
func (s *Store) LegacyRefreshFamily(ctx context.Context, signature string) (family string, active bool, err error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	err = s.db.QueryRowContext(ctx, s.d.q("SELECT family, active FROM tollgate_legacy_refresh_tokens WHERE signature = ?"), signature).
		Scan(&family, &active)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, fmt.Errorf("refresh token: %w", storage.ErrNotFound)
	}
	if err != nil {
		return "", false, fail("reading a refresh token", err)
	}
	return family, active, nil
}

// revokeLegacyAccessTokens puts the schema-1 access tokens of a revoked
// family on the feed by jti: they carry no grant_id, so the family's own
// entry does not reach them.
func (s *Store) revokeLegacyAccessTokens(ctx context.Context, tx *sql.Tx, family string) error {
	rows, err := tx.QueryContext(ctx, s.d.q("SELECT jti, expires_at FROM tollgate_legacy_access_tokens WHERE family = ?"), family)
	if err != nil {
		return fail("reading legacy access tokens", err)
	}
	type token struct {
		jti string
		exp int64
	}
	var tokens []token
	for rows.Next() {
		var t token
		if err := rows.Scan(&t.jti, &t.exp); err != nil {
			rows.Close()
			return fail("reading legacy access tokens", err)
		}
		tokens = append(tokens, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail("reading legacy access tokens", err)
	}
	for _, t := range tokens {
		if err := s.feedRevoke(ctx, tx, kindJTI, t.jti, t.exp); err != nil {
			return err
		}
	}
	return nil
}
