// Package memory is an in-process implementation of the storage interfaces:
// the default of the demo server and the reference the conformance suite is
// written against. Everything is lost when the process exits.
package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tollgate-oauth/tollgate/storage"
)

// Store keeps records in maps behind a lock. Records are copied on the way
// in and out, so callers never share memory with the store.
type Store struct {
	mu      sync.RWMutex
	clients map[string]*storage.Client
	// written counts client writes: one process, one store value, so it
	// is also the version every reader sees (storage.ClientChanges).
	written atomic.Uint64

	tokens   tokens // codes, refresh-token families, the revocation feed: tokens.go, feed.go
	keys     []*storage.SigningKey
	consents consents // consents.go
}

var (
	_ storage.Store         = (*Store)(nil)
	_ storage.ClientChanges = (*Store)(nil)
)

// New returns an empty store.
func New() *Store {
	return &Store{clients: make(map[string]*storage.Client), tokens: newTokens()}
}

// GetClient implements storage.ClientGetter.
func (s *Store) GetClient(_ context.Context, id string) (*storage.Client, error) {
	s.mu.RLock()
	c, ok := s.clients[id]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("client %q: %w", id, storage.ErrNotFound)
	}
	return c.Clone(), nil
}

// CreateClient implements storage.ClientStore.
func (s *Store) CreateClient(_ context.Context, c *storage.Client) error {
	if err := c.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.written.Add(1)
	if _, ok := s.clients[c.ID]; ok {
		return fmt.Errorf("client %q: %w", c.ID, storage.ErrAlreadyExists)
	}
	s.clients[c.ID] = c.Clone()
	return nil
}

// UpdateClient implements storage.ClientStore.
func (s *Store) UpdateClient(_ context.Context, c *storage.Client) error {
	if err := c.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.written.Add(1)
	if _, ok := s.clients[c.ID]; !ok {
		return fmt.Errorf("client %q: %w", c.ID, storage.ErrNotFound)
	}
	s.clients[c.ID] = c.Clone()
	return nil
}

// DeleteClient implements storage.ClientStore.
func (s *Store) DeleteClient(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.written.Add(1)
	if _, ok := s.clients[id]; !ok {
		return fmt.Errorf("client %q: %w", id, storage.ErrNotFound)
	}
	delete(s.clients, id)
	return nil
}

// ClientsVersion implements storage.ClientChanges: the store is this
// process's alone, so its own count of writes is the version.
func (s *Store) ClientsVersion(context.Context) (uint64, error) { return s.written.Load(), nil }

// ClientsWritten implements storage.ClientChanges.
func (s *Store) ClientsWritten() uint64 { return s.written.Load() }

// ListClients implements storage.ClientStore.
func (s *Store) ListClients(_ context.Context) ([]*storage.Client, error) {
	s.mu.RLock()
	out := make([]*storage.Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, c.Clone())
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *storage.Client) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
