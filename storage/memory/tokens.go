package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// tokens holds the records of the user-facing grants under one lock, so
// that check-and-set operations (UseCode, AdvanceFamily) and feed order
// are atomic.
type tokens struct {
	mu       sync.Mutex
	codes    map[string]*storage.AuthorizationCode
	families map[string]*storage.Family
	feed     feed // revocations: feed.go
}

func newTokens() tokens {
	return tokens{
		codes: map[string]*storage.AuthorizationCode{}, families: map[string]*storage.Family{},
		feed: newFeed(),
	}
}

func cloneCode(c *storage.AuthorizationCode) *storage.AuthorizationCode {
	out := *c
	out.Grant = c.Grant.Clone()
	return &out
}

// checkRecord names the missing field of a code or family, so the
// *ValidationError points at it rather than always at the key.
func checkRecord(kind, keyField, key string, grant *storage.Grant) error {
	switch {
	case grant == nil:
		return fmt.Errorf("%s: %w", kind, &storage.ValidationError{Field: "grant", Reason: "is required"})
	case key == "":
		return fmt.Errorf("%s: %w", kind, &storage.ValidationError{Field: keyField, Reason: "is required"})
	}
	return nil
}

// CreateCode implements storage.CodeStore.
func (s *Store) CreateCode(_ context.Context, c *storage.AuthorizationCode) error {
	if c == nil {
		return fmt.Errorf("code: %w", &storage.ValidationError{Field: "code", Reason: "is nil"})
	}
	if err := checkRecord("code", "signature", c.Signature, c.Grant); err != nil {
		return err
	}
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.codes[c.Signature]; ok {
		return fmt.Errorf("code: %w", storage.ErrAlreadyExists)
	}
	t.codes[c.Signature] = cloneCode(c)
	return nil
}

// GetCode implements storage.CodeStore.
func (s *Store) GetCode(_ context.Context, signature string) (*storage.AuthorizationCode, error) {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.codes[signature]
	if !ok {
		return nil, fmt.Errorf("code: %w", storage.ErrNotFound)
	}
	return cloneCode(c), nil
}

// UseCode implements storage.CodeStore.
func (s *Store) UseCode(_ context.Context, signature string) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.codes[signature]
	switch {
	case !ok:
		return fmt.Errorf("code: %w", storage.ErrNotFound)
	case c.Used:
		return fmt.Errorf("code: %w", storage.ErrAlreadyUsed)
	}
	c.Used = true
	return nil
}

// CreateFamily implements storage.FamilyStore.
func (s *Store) CreateFamily(_ context.Context, f *storage.Family) error {
	if f == nil {
		return fmt.Errorf("family: %w", &storage.ValidationError{Field: "family", Reason: "is nil"})
	}
	if err := checkRecord("family", "grant.id", grantID(f.Grant), f.Grant); err != nil {
		return err
	}
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	id := f.Grant.ID
	if _, ok := t.families[id]; ok {
		return fmt.Errorf("family %q: %w", id, storage.ErrAlreadyExists)
	}
	rec := f.Clone()
	if t.feed.has(grantKey(id)) {
		// Revoked before it was created: it stays revoked, and the entry
		// lasts as long as its tokens.
		rec.Revoked = true
		t.feed.revoke(grantKey(id), rec.AccessExpiresAt)
	}
	t.families[id] = rec
	return nil
}

func grantID(g *storage.Grant) string {
	if g == nil {
		return ""
	}
	return g.ID
}

// GetFamily implements storage.FamilyStore.
func (s *Store) GetFamily(_ context.Context, id string) (*storage.Family, error) {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.families[id]
	if !ok {
		return nil, fmt.Errorf("family %q: %w", id, storage.ErrNotFound)
	}
	return f.Clone(), nil
}

// AdvanceFamily implements storage.FamilyStore.
func (s *Store) AdvanceFamily(_ context.Context, id string, from uint64, expiresAt, accessExpiresAt time.Time) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.families[id]
	switch {
	case !ok:
		return fmt.Errorf("family %q: %w", id, storage.ErrNotFound)
	case f.Generation != from || f.Revoked:
		return fmt.Errorf("family %q: %w", id, storage.ErrAlreadyUsed)
	}
	f.Generation++
	f.ExpiresAt = expiresAt
	f.AccessExpiresAt = later(f.AccessExpiresAt, accessExpiresAt)
	return nil
}

// RevokeFamiliesOf implements storage.FamilyStore.
func (s *Store) RevokeFamiliesOf(_ context.Context, subject, clientID string, until time.Time) (int, error) {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	of := func(g *storage.Grant) bool { return g.Subject == subject && g.ClientID == clientID }
	n := 0
	for id, f := range t.families {
		if of(f.Grant) {
			if !f.Revoked {
				n++
			}
			t.revokeFamily(id, until)
		}
	}
	for _, c := range t.codes {
		if of(c.Grant) {
			c.Used = true
			t.revokeFamily(c.Grant.ID, until)
		}
	}
	return n, nil
}

// RevokeAccessToken implements storage.RevocationStore.
func (s *Store) RevokeAccessToken(_ context.Context, jti string, exp time.Time) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	t.feed.revoke(jtiKey(jti), exp)
	return nil
}

// RevokeFamily implements storage.RevocationStore.
func (s *Store) RevokeFamily(_ context.Context, family string, until time.Time) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	t.revokeFamily(family, until)
	return nil
}

// revokeFamily is RevokeFamily under t.mu.
func (t *tokens) revokeFamily(family string, until time.Time) {
	// A family not created yet is revoked by the entry alone: CreateFamily
	// finds it.
	if f, ok := t.families[family]; ok {
		f.Revoked = true
		until = later(until, f.AccessExpiresAt)
	}
	t.feed.revoke(grantKey(family), until)
}

// AccessTokenRevoked implements storage.RevocationStore.
func (s *Store) AccessTokenRevoked(_ context.Context, jti, grantID string) (bool, error) {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.feed.has(jtiKey(jti)) {
		return true, nil
	}
	return grantID != "" && t.feed.has(grantKey(grantID)), nil
}

// Revocations implements storage.RevocationStore.
func (s *Store) Revocations(_ context.Context, after uint64, now time.Time, limit int) (*storage.RevocationPage, error) {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.feed.read(after, now, limit), nil
}

// DeleteExpired implements storage.TokenStore.
func (s *Store) DeleteExpired(_ context.Context, now time.Time, limit int) (int, error) {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, c := range t.codes {
		if n == limit {
			return n, nil
		}
		if c.ExpiresAt.Before(now) {
			delete(t.codes, k)
			n++
		}
	}
	for k, f := range t.families {
		if n == limit {
			return n, nil
		}
		if later(f.ExpiresAt, f.AccessExpiresAt).Before(now) {
			delete(t.families, k)
			n++
		}
	}
	n += t.feed.deleteExpired(now, limit-n)
	return n, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
