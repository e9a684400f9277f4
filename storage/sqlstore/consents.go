package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tollgate-oauth/tollgate/storage"
)

// Consents are one row per user and client (tollgate_consents, migration
// 0005); the scope and audience lists are JSON arrays.

func consentNotFound(subject, clientID string) error {
	return fmt.Errorf("consent of %q to %q: %w", subject, clientID, storage.ErrNotFound)
}

// GetConsent implements storage.ConsentStore.
func (s *Store) GetConsent(ctx context.Context, subject, clientID string) (*storage.Consent, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	row := s.db.QueryRowContext(ctx, s.d.q(`SELECT subject, client_id, scopes, audience, granted_at
		FROM tollgate_consents WHERE subject = ? AND client_id = ?`), subject, clientID)
	c, err := scanConsent(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, consentNotFound(subject, clientID)
	}
	if err != nil {
		return nil, fail("reading a consent", err)
	}
	return c, nil
}

// SaveConsent implements storage.ConsentStore: one upsert.
func (s *Store) SaveConsent(ctx context.Context, c *storage.Consent) error {
	if err := c.Validate(); err != nil {
		return err
	}
	scopes, err := json.Marshal(c.Scopes)
	if err != nil {
		return err
	}
	auds, err := json.Marshal(c.Audience)
	if err != nil {
		return err
	}
	ctx, done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	_, err = s.db.ExecContext(ctx, s.d.q(`INSERT INTO tollgate_consents (subject, client_id, scopes, audience, granted_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (subject, client_id) DO UPDATE SET
		scopes = excluded.scopes, audience = excluded.audience, granted_at = excluded.granted_at`),
		c.Subject, c.ClientID, string(scopes), string(auds), micros(c.GrantedAt))
	if err != nil {
		return fail("saving a consent", err)
	}
	return nil
}

// DeleteConsent implements storage.ConsentStore.
func (s *Store) DeleteConsent(ctx context.Context, subject, clientID string) error {
	ctx, done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	res, err := s.db.ExecContext(ctx, s.d.q("DELETE FROM tollgate_consents WHERE subject = ? AND client_id = ?"), subject, clientID)
	if err != nil {
		return fail("deleting a consent", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fail("deleting a consent", err)
	} else if n == 0 {
		return consentNotFound(subject, clientID)
	}
	return nil
}

// ListConsents implements storage.ConsentStore.
func (s *Store) ListConsents(ctx context.Context, subject string) ([]*storage.Consent, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	out := []*storage.Consent{}
	err := queryRows(ctx, s.db, s.d.q(`SELECT subject, client_id, scopes, audience, granted_at
		FROM tollgate_consents WHERE subject = ? ORDER BY client_id`), []any{subject}, func(rows *sql.Rows) error {
		c, err := scanConsent(rows)
		out = append(out, c)
		return err
	})
	if err != nil {
		return nil, fail("listing consents", err)
	}
	return out, nil
}

func scanConsent(row interface{ Scan(...any) error }) (*storage.Consent, error) {
	var (
		c               storage.Consent
		scopes, audJSON string
		at              int64
	)
	if err := row.Scan(&c.Subject, &c.ClientID, &scopes, &audJSON, &at); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scopes), &c.Scopes); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(audJSON), &c.Audience); err != nil {
		return nil, err
	}
	c.GrantedAt = fromMicros(at)
	return &c, nil
}
