package storagetest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
	"github.com/tollgate-oauth/tollgate/storage/storagetest"
)

// kvStore keeps client registrations as JSON documents in a key-value
// map, a stand-in for an application's own client database, and takes
// everything else (codes, families, revocations, keys, consents) from a
// memory.Store. It embeds the memory store's interfaces, not the
// *memory.Store itself: that would also promote its storage.ClientChanges
// methods, whose counter never sees kvStore's own client writes, and the
// handler would then keep serving a deleted client from its cache. (The
// suite's ClientChanges case catches exactly that.)
type kvStore struct {
	storage.TokenStore
	storage.KeyStore
	storage.ConsentStore
	mu      sync.RWMutex
	clients map[string][]byte
}

func newKVStore() *kvStore {
	m := memory.New()
	return &kvStore{TokenStore: m, KeyStore: m, ConsentStore: m, clients: map[string][]byte{}}
}

func (s *kvStore) GetClient(_ context.Context, id string) (*storage.Client, error) {
	s.mu.RLock()
	doc, ok := s.clients[id]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("client %q: %w", id, storage.ErrNotFound)
	}
	var c storage.Client
	if err := json.Unmarshal(doc, &c); err != nil {
		return nil, fmt.Errorf("client %q: %w: %v", id, storage.ErrUnavailable, err)
	}
	return &c, nil
}

func (s *kvStore) CreateClient(_ context.Context, c *storage.Client) error {
	return s.put(c, false)
}

func (s *kvStore) UpdateClient(_ context.Context, c *storage.Client) error {
	return s.put(c, true)
}

// put stores c: a new id when exists is false, a known one when true.
func (s *kvStore) put(c *storage.Client, exists bool) error {
	if err := c.Validate(); err != nil {
		return err // a *storage.ValidationError: errors.Is(err, storage.ErrInvalid)
	}
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("client %q: %w", c.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch _, ok := s.clients[c.ID]; {
	case ok && !exists:
		return fmt.Errorf("client %q: %w", c.ID, storage.ErrAlreadyExists)
	case !ok && exists:
		return fmt.Errorf("client %q: %w", c.ID, storage.ErrNotFound)
	}
	s.clients[c.ID] = doc
	return nil
}

func (s *kvStore) DeleteClient(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; !ok {
		return fmt.Errorf("client %q: %w", id, storage.ErrNotFound)
	}
	delete(s.clients, id)
	return nil
}

func (s *kvStore) ListClients(ctx context.Context) ([]*storage.Client, error) {
	s.mu.RLock()
	ids := make([]string, 0, len(s.clients))
	for id := range s.clients {
		ids = append(ids, id)
	}
	s.mu.RUnlock()
	slices.Sort(ids)
	out := make([]*storage.Client, 0, len(ids))
	for _, id := range ids {
		c, err := s.GetClient(ctx, id)
		if err != nil {
			continue // deleted since the ids were read
		}
		out = append(out, c)
	}
	return out, nil
}

// A custom store runs the same suite as tollgate's own, from a test in its
// package. Run runs every runner whose interface the store's type has:
// kvStore is a whole storage.Store (it embeds a memory store for all but
// clients), so Run tests it all. A store that keeps only clients would
// call storagetest.RunClients, one that only reads them RunClientGetter.
// Each call of the function returns a new, empty store; the suite runs
// its tests in parallel.
//
// This example only compiles, as Run needs a real test's *testing.T: put
// the body of testConformance in a TestConformance of the store's package.
// tollgate runs exactly that on kvStore (TestKVStoreConformance in
// storage/storagetest), so the pattern is known to pass.
func ExampleRun() {
	testConformance := func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Store {
			return newKVStore()
		})
	}
	_ = testConformance
}
