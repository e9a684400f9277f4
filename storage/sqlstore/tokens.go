package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// Grants are stored as one JSON document: nothing queries inside them.
func marshalGrant(g *storage.Grant) (string, error) {
	b, err := json.Marshal(g)
	return string(b), err
}

func unmarshalGrant(raw string) (*storage.Grant, error) {
	var g storage.Grant
	if err := json.Unmarshal([]byte(raw), &g); err != nil {
		return nil, err
	}
	return &g, nil
}

func micros(t time.Time) int64      { return t.UnixMicro() }
func fromMicros(us int64) time.Time { return time.UnixMicro(us) }

func checkRecord(kind string, signature string, g *storage.Grant) error {
	switch {
	case signature == "":
		return fmt.Errorf("%s: %w", kind, &storage.ValidationError{Field: "signature", Reason: "is required"})
	case g == nil:
		return fmt.Errorf("%s: %w", kind, &storage.ValidationError{Field: "grant", Reason: "is required"})
	}
	return nil
}

// CreateCode implements storage.CodeStore.
func (s *Store) CreateCode(ctx context.Context, c *storage.AuthorizationCode) error {
	if c == nil {
		return fmt.Errorf("code: %w", &storage.ValidationError{Field: "code", Reason: "is nil"})
	}
	if err := checkRecord("code", c.Signature, c.Grant); err != nil {
		return err
	}
	grant, err := marshalGrant(c.Grant)
	if err != nil {
		return err
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	_, err = s.db.ExecContext(ctx, s.d.q("INSERT INTO tollgate_codes (signature, grant_data, expires_at, used) VALUES (?, ?, ?, ?)"),
		c.Signature, grant, micros(c.ExpiresAt), c.Used)
	if isDuplicate(err) {
		return fmt.Errorf("code: %w", storage.ErrAlreadyExists)
	}
	if err != nil {
		return fail("creating a code", err)
	}
	return nil
}

// GetCode implements storage.CodeStore.
func (s *Store) GetCode(ctx context.Context, signature string) (*storage.AuthorizationCode, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var (
		grant string
		exp   int64
		c     = &storage.AuthorizationCode{Signature: signature}
	)
	err := s.db.QueryRowContext(ctx, s.d.q("SELECT grant_data, expires_at, used FROM tollgate_codes WHERE signature = ?"), signature).
		Scan(&grant, &exp, &c.Used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("code: %w", storage.ErrNotFound)
	}
	if err != nil {
		return nil, fail("reading a code", err)
	}
	if c.Grant, err = unmarshalGrant(grant); err != nil {
		return nil, fail("reading a code", err)
	}
	c.ExpiresAt = fromMicros(exp)
	return c, nil
}

// UseCode implements storage.CodeStore: one conditional UPDATE, so of
// concurrent callers exactly one changes the row.
func (s *Store) UseCode(ctx context.Context, signature string) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	return s.compareAndSet(ctx, s.db, "code",
		"UPDATE tollgate_codes SET used = ? WHERE signature = ? AND used = ?", true, signature, false,
		"SELECT 1 FROM tollgate_codes WHERE signature = ?", signature)
}

// CreateRefreshToken implements storage.RefreshTokenStore.
func (s *Store) CreateRefreshToken(ctx context.Context, t *storage.RefreshToken) error {
	if t == nil {
		return fmt.Errorf("refresh token: %w", &storage.ValidationError{Field: "refresh_token", Reason: "is nil"})
	}
	if err := checkRecord("refresh token", t.Signature, t.Grant); err != nil {
		return err
	}
	grant, err := marshalGrant(t.Grant)
	if err != nil {
		return err
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	_, err = s.db.ExecContext(ctx, s.d.q(`INSERT INTO tollgate_refresh_tokens
		(signature, family, grant_data, access_token_id, expires_at, active) VALUES (?, ?, ?, ?, ?, ?)`),
		t.Signature, t.Grant.ID, grant, t.AccessTokenID, micros(t.ExpiresAt), t.Active)
	if isDuplicate(err) {
		return fmt.Errorf("refresh token: %w", storage.ErrAlreadyExists)
	}
	if err != nil {
		return fail("creating a refresh token", err)
	}
	return nil
}

// GetRefreshToken implements storage.RefreshTokenStore.
func (s *Store) GetRefreshToken(ctx context.Context, signature string) (*storage.RefreshToken, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var (
		grant string
		exp   int64
		t     = &storage.RefreshToken{Signature: signature}
	)
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT grant_data, access_token_id, expires_at, active
		FROM tollgate_refresh_tokens WHERE signature = ?`), signature).Scan(&grant, &t.AccessTokenID, &exp, &t.Active)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("refresh token: %w", storage.ErrNotFound)
	}
	if err != nil {
		return nil, fail("reading a refresh token", err)
	}
	if t.Grant, err = unmarshalGrant(grant); err != nil {
		return nil, fail("reading a refresh token", err)
	}
	t.ExpiresAt = fromMicros(exp)
	return t, nil
}

// RotateRefreshToken implements storage.RefreshTokenStore: the
// conditional UPDATE and the INSERT of the next token in one transaction.
func (s *Store) RotateRefreshToken(ctx context.Context, signature string, next *storage.RefreshToken) error {
	var nextGrant string
	if next != nil {
		if err := checkRecord("refresh token", next.Signature, next.Grant); err != nil {
			return err
		}
		var err error
		if nextGrant, err = marshalGrant(next.Grant); err != nil {
			return err
		}
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail("rotating a refresh token", err)
	}
	defer tx.Rollback()
	err = s.compareAndSet(ctx, tx, "refresh token",
		"UPDATE tollgate_refresh_tokens SET active = ? WHERE signature = ? AND active = ?", false, signature, true,
		"SELECT 1 FROM tollgate_refresh_tokens WHERE signature = ?", signature)
	if err != nil {
		return err
	}
	if next != nil {
		_, err = tx.ExecContext(ctx, s.d.q(`INSERT INTO tollgate_refresh_tokens
			(signature, family, grant_data, access_token_id, expires_at, active) VALUES (?, ?, ?, ?, ?, ?)`),
			next.Signature, next.Grant.ID, nextGrant, next.AccessTokenID, micros(next.ExpiresAt), next.Active)
		if isDuplicate(err) {
			return fmt.Errorf("refresh token: %w", storage.ErrAlreadyExists)
		}
		if err != nil {
			return fail("storing the next refresh token", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fail("rotating a refresh token", err)
	}
	return nil
}

// compareAndSet runs a conditional update; when it changes no row, exists
// tells ErrAlreadyUsed from ErrNotFound.
func (s *Store) compareAndSet(ctx context.Context, db execer, kind, update string, set any, key string, want any, exists string, existsKey string) error {
	res, err := db.ExecContext(ctx, s.d.q(update), set, key, want)
	if err != nil {
		return fail("updating a "+kind, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fail("updating a "+kind, err)
	}
	if n == 1 {
		return nil
	}
	var one int
	err = db.QueryRowContext(ctx, s.d.q(exists), existsKey).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", kind, storage.ErrNotFound)
	case err != nil:
		return fail("reading a "+kind, err)
	}
	return fmt.Errorf("%s: %w", kind, storage.ErrAlreadyUsed)
}

// RecordAccessToken implements storage.RevocationStore.
func (s *Store) RecordAccessToken(ctx context.Context, jti, family string, expiresAt time.Time) error {
	return s.upsertLater(ctx, "tollgate_issued_tokens", "jti", "expires_at", jti, micros(expiresAt), "family", family)
}

// RevokeAccessToken implements storage.RevocationStore.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	return s.upsertLater(ctx, "tollgate_revoked_tokens", "jti", "until", jti, micros(expiresAt), "", "")
}

// RevokeFamily implements storage.RevocationStore.
func (s *Store) RevokeFamily(ctx context.Context, family string, until time.Time) error {
	return s.upsertLater(ctx, "tollgate_revoked_families", "family", "until", family, micros(until), "", "")
}

// upsertLater inserts a row or, if the key exists, keeps the later of the
// two times: one statement, so concurrent revocations cannot lose the
// longer one. extraCol, when set, is a column written on insert.
func (s *Store) upsertLater(ctx context.Context, table, keyCol, timeCol, key string, t int64, extraCol, extra string) error {
	cols, vals, args := keyCol+", "+timeCol, "?, ?", []any{key, t}
	if extraCol != "" {
		cols, vals, args = cols+", "+extraCol, vals+", ?", append(args, extra)
	}
	query := fmt.Sprintf(`INSERT INTO %[1]s (%[2]s) VALUES (%[3]s)
		ON CONFLICT (%[4]s) DO UPDATE SET %[5]s = CASE WHEN excluded.%[5]s > %[1]s.%[5]s THEN excluded.%[5]s ELSE %[1]s.%[5]s END`,
		table, cols, vals, keyCol, timeCol)
	ctx, cancel := s.call(ctx)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, s.d.q(query), args...); err != nil {
		return fail("writing "+table, err)
	}
	return nil
}

// AccessTokenRevoked implements storage.RevocationStore.
func (s *Store) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	return s.exists(ctx, `SELECT 1 FROM tollgate_revoked_tokens WHERE jti = ?
		UNION ALL SELECT 1 FROM tollgate_issued_tokens i JOIN tollgate_revoked_families f ON f.family = i.family WHERE i.jti = ?`, jti, jti)
}

// FamilyRevoked implements storage.RevocationStore.
func (s *Store) FamilyRevoked(ctx context.Context, family string) (bool, error) {
	return s.exists(ctx, "SELECT 1 FROM tollgate_revoked_families WHERE family = ?", family)
}

func (s *Store) exists(ctx context.Context, query string, args ...any) (bool, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
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

// DeleteExpired implements storage.TokenStore, in one transaction so the
// count is exact.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fail("purging", err)
	}
	defer tx.Rollback()
	total := 0
	for _, q := range []string{
		"DELETE FROM tollgate_codes WHERE expires_at < ?",
		"DELETE FROM tollgate_refresh_tokens WHERE expires_at < ?",
		"DELETE FROM tollgate_revoked_tokens WHERE until < ?",
		"DELETE FROM tollgate_revoked_families WHERE until < ?",
		"DELETE FROM tollgate_issued_tokens WHERE expires_at < ?",
	} {
		res, err := tx.ExecContext(ctx, s.d.q(q), micros(now))
		if err != nil {
			return 0, fail("purging", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fail("purging", err)
		}
		total += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, fail("purging", err)
	}
	return total, nil
}
