package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// AddSigningKey implements storage.KeyStore.
func (s *Store) AddSigningKey(_ context.Context, k *storage.SigningKey) error {
	if k == nil || k.ID == "" || len(k.Private) == 0 {
		return fmt.Errorf("signing key: %w", &storage.ValidationError{Field: "id", Reason: "a signing key needs an id and a private key"})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.keys {
		if have.ID == k.ID {
			return fmt.Errorf("signing key %q: %w", k.ID, storage.ErrAlreadyExists)
		}
	}
	s.keys = append(s.keys, k.Clone())
	return nil
}

// SigningKeys implements storage.KeyStore.
func (s *Store) SigningKeys(_ context.Context) ([]*storage.SigningKey, error) {
	s.mu.RLock()
	out := make([]*storage.SigningKey, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, k.Clone())
	}
	s.mu.RUnlock()
	slices.SortStableFunc(out, func(a, b *storage.SigningKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// RetireSigningKey implements storage.KeyStore.
func (s *Store) RetireSigningKey(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.ID == id {
			if k.RetiredAt.IsZero() {
				k.RetiredAt = at
			}
			return nil
		}
	}
	return fmt.Errorf("signing key %q: %w", id, storage.ErrNotFound)
}
