package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// tokens holds the records of the user-facing grants under one lock, so
// that check-and-set operations (UseCode, RotateRefreshToken) are atomic.
type tokens struct {
	mu       sync.Mutex
	codes    map[string]*storage.AuthorizationCode
	refresh  map[string]*storage.RefreshToken
	revoked  map[string]time.Time // jti → until
	families map[string]time.Time // revoked family → until
	issued   map[string]issued    // jti → its family, for family revocation
}

type issued struct {
	family    string
	expiresAt time.Time
}

func newTokens() tokens {
	return tokens{
		codes: map[string]*storage.AuthorizationCode{}, refresh: map[string]*storage.RefreshToken{},
		revoked: map[string]time.Time{}, families: map[string]time.Time{}, issued: map[string]issued{},
	}
}

func cloneCode(c *storage.AuthorizationCode) *storage.AuthorizationCode {
	out := *c
	out.Grant = c.Grant.Clone()
	return &out
}

func cloneRefresh(t *storage.RefreshToken) *storage.RefreshToken {
	out := *t
	out.Grant = t.Grant.Clone()
	return &out
}

// checkRecord names the missing field of a code or refresh token, so the
// *ValidationError points at it rather than always at the signature.
func checkRecord(signature string, grant *storage.Grant) error {
	switch {
	case signature == "":
		return &storage.ValidationError{Field: "signature", Reason: "is required"}
	case grant == nil:
		return &storage.ValidationError{Field: "grant", Reason: "is required"}
	}
	return nil
}

// CreateCode implements storage.CodeStore.
func (s *Store) CreateCode(_ context.Context, c *storage.AuthorizationCode) error {
	if c == nil {
		return fmt.Errorf("code: %w", &storage.ValidationError{Field: "code", Reason: "is nil"})
	}
	if err := checkRecord(c.Signature, c.Grant); err != nil {
		return fmt.Errorf("code: %w", err)
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

// CreateRefreshToken implements storage.RefreshTokenStore.
func (s *Store) CreateRefreshToken(_ context.Context, rt *storage.RefreshToken) error {
	if rt == nil {
		return fmt.Errorf("refresh token: %w", &storage.ValidationError{Field: "refresh_token", Reason: "is nil"})
	}
	if err := checkRecord(rt.Signature, rt.Grant); err != nil {
		return fmt.Errorf("refresh token: %w", err)
	}
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.refresh[rt.Signature]; ok {
		return fmt.Errorf("refresh token: %w", storage.ErrAlreadyExists)
	}
	t.refresh[rt.Signature] = cloneRefresh(rt)
	return nil
}

// GetRefreshToken implements storage.RefreshTokenStore.
func (s *Store) GetRefreshToken(_ context.Context, signature string) (*storage.RefreshToken, error) {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	rt, ok := t.refresh[signature]
	if !ok {
		return nil, fmt.Errorf("refresh token: %w", storage.ErrNotFound)
	}
	return cloneRefresh(rt), nil
}

// RotateRefreshToken implements storage.RefreshTokenStore.
func (s *Store) RotateRefreshToken(_ context.Context, signature string, next *storage.RefreshToken) error {
	if next != nil && (next.Signature == "" || next.Grant == nil) {
		return fmt.Errorf("refresh token: %w", &storage.ValidationError{Field: "next", Reason: "a refresh token needs a signature and a grant"})
	}
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	rt, ok := t.refresh[signature]
	switch {
	case !ok:
		return fmt.Errorf("refresh token: %w", storage.ErrNotFound)
	case !rt.Active:
		return fmt.Errorf("refresh token: %w", storage.ErrAlreadyUsed)
	}
	if next != nil {
		if _, dup := t.refresh[next.Signature]; dup {
			return fmt.Errorf("refresh token: %w", storage.ErrAlreadyExists)
		}
		t.refresh[next.Signature] = cloneRefresh(next)
	}
	rt.Active = false
	return nil
}

// RecordAccessToken implements storage.RevocationStore.
func (s *Store) RecordAccessToken(_ context.Context, jti, family string, expiresAt time.Time) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	t.issued[jti] = issued{family: family, expiresAt: expiresAt}
	return nil
}

// RevokeAccessToken implements storage.RevocationStore.
func (s *Store) RevokeAccessToken(_ context.Context, jti string, expiresAt time.Time) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	t.revoked[jti] = later(t.revoked[jti], expiresAt)
	return nil
}

// RevokeFamily implements storage.RevocationStore.
func (s *Store) RevokeFamily(_ context.Context, family string, until time.Time) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	t.families[family] = later(t.families[family], until)
	return nil
}

// AccessTokenRevoked implements storage.RevocationStore.
func (s *Store) AccessTokenRevoked(_ context.Context, jti string) (bool, error) {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.revoked[jti]; ok {
		return true, nil
	}
	if is, ok := t.issued[jti]; ok {
		_, revoked := t.families[is.family]
		return revoked, nil
	}
	return false, nil
}

// FamilyRevoked implements storage.RevocationStore.
func (s *Store) FamilyRevoked(_ context.Context, family string) (bool, error) {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.families[family]
	return ok, nil
}

// DeleteExpired implements storage.TokenStore.
func (s *Store) DeleteExpired(_ context.Context, now time.Time) (int, error) {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, c := range t.codes {
		if c.ExpiresAt.Before(now) {
			delete(t.codes, k)
			n++
		}
	}
	for k, rt := range t.refresh {
		if rt.ExpiresAt.Before(now) {
			delete(t.refresh, k)
			n++
		}
	}
	for _, m := range []map[string]time.Time{t.revoked, t.families} {
		for k, until := range m {
			if until.Before(now) {
				delete(m, k)
				n++
			}
		}
	}
	for k, is := range t.issued {
		if is.expiresAt.Before(now) {
			delete(t.issued, k)
			n++
		}
	}
	return n, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
