package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tollgate-oauth/tollgate/storage"
)

// consents are keyed by user, then client: ListConsents reads one user's.
type consents struct {
	mu     sync.Mutex
	byUser map[string]map[string]*storage.Consent
}

func consentNotFound(subject, clientID string) error {
	return fmt.Errorf("consent of %q to %q: %w", subject, clientID, storage.ErrNotFound)
}

// GetConsent implements storage.ConsentStore.
func (s *Store) GetConsent(_ context.Context, subject, clientID string) (*storage.Consent, error) {
	c := &s.consents
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok := c.byUser[subject][clientID]
	if !ok {
		return nil, consentNotFound(subject, clientID)
	}
	return rec.Clone(), nil
}

// SaveConsent implements storage.ConsentStore.
func (s *Store) SaveConsent(_ context.Context, rec *storage.Consent) error {
	if err := rec.Validate(); err != nil {
		return err
	}
	c := &s.consents
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byUser == nil {
		c.byUser = map[string]map[string]*storage.Consent{}
	}
	if c.byUser[rec.Subject] == nil {
		c.byUser[rec.Subject] = map[string]*storage.Consent{}
	}
	c.byUser[rec.Subject][rec.ClientID] = rec.Clone()
	return nil
}

// DeleteConsent implements storage.ConsentStore.
func (s *Store) DeleteConsent(_ context.Context, subject, clientID string) error {
	c := &s.consents
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byUser[subject][clientID]; !ok {
		return consentNotFound(subject, clientID)
	}
	delete(c.byUser[subject], clientID)
	if len(c.byUser[subject]) == 0 {
		delete(c.byUser, subject)
	}
	return nil
}

// ListConsents implements storage.ConsentStore.
func (s *Store) ListConsents(_ context.Context, subject string) ([]*storage.Consent, error) {
	c := &s.consents
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*storage.Consent, 0, len(c.byUser[subject]))
	for _, rec := range c.byUser[subject] {
		out = append(out, rec.Clone())
	}
	slices.SortFunc(out, func(a, b *storage.Consent) int { return strings.Compare(a.ClientID, b.ClientID) })
	return out, nil
}
