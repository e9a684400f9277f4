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

func checkRecord(kind, keyField, key string, g *storage.Grant) error {
	switch {
	case g == nil:
		return fmt.Errorf("%s: %w", kind, &storage.ValidationError{Field: "grant", Reason: "is required"})
	case key == "":
		return fmt.Errorf("%s: %w", kind, &storage.ValidationError{Field: keyField, Reason: "is required"})
	}
	return nil
}

// CreateCode implements storage.CodeStore.
func (s *Store) CreateCode(ctx context.Context, c *storage.AuthorizationCode) error {
	if c == nil {
		return fmt.Errorf("code: %w", &storage.ValidationError{Field: "code", Reason: "is nil"})
	}
	if err := checkRecord("code", "signature", c.Signature, c.Grant); err != nil {
		return err
	}
	grant, err := marshalGrant(c.Grant)
	if err != nil {
		return err
	}
	ctx, done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	_, err = s.db.ExecContext(ctx, s.d.q(`INSERT INTO tollgate_codes (signature, grant_data, expires_at, used, subject, client_id)
		VALUES (?, ?, ?, ?, ?, ?)`), c.Signature, grant, micros(c.ExpiresAt), c.Used, c.Grant.Subject, c.Grant.ClientID)
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
	ctx, done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	return s.compareAndSet(ctx, useCode, signature, signature)
}

// casUpdate is a conditional UPDATE of one row, named by its key, and the
// query that, when the UPDATE changed nothing, tells a row that has moved
// on (ErrAlreadyUsed) from no row (ErrNotFound). The UPDATE's last
// placeholder is the key; exists has that one placeholder only.
type casUpdate struct{ kind, update, exists string }

// useCode marks an authorization code used, once.
var useCode = casUpdate{"code",
	"UPDATE tollgate_codes SET used = TRUE WHERE used = FALSE AND signature = ?",
	"SELECT 1 FROM tollgate_codes WHERE signature = ?"}

// compareAndSet runs c with args (the SET and WHERE values, the key last)
// and, when it changed no row, c.exists with key.
func (s *Store) compareAndSet(ctx context.Context, c casUpdate, key any, args ...any) error {
	res, err := s.db.ExecContext(ctx, s.d.q(c.update), args...)
	if err != nil {
		return fail("updating a "+c.kind, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fail("updating a "+c.kind, err)
	}
	if n == 1 {
		return nil
	}
	var one int
	err = s.db.QueryRowContext(ctx, s.d.q(c.exists), key).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", c.kind, storage.ErrNotFound)
	case err != nil:
		return fail("reading a "+c.kind, err)
	}
	return fmt.Errorf("%s: %w", c.kind, storage.ErrAlreadyUsed)
}
