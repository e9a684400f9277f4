package storage

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Consent is a user's remembered approval of a client: the scopes and
// audiences it may have without asking the user again. There is at most
// one per user and client; a new approval replaces it.
type Consent struct {
	Subject   string
	ClientID  string
	Scopes    []string
	Audience  []string
	GrantedAt time.Time
}

// Clone returns a deep copy.
func (c *Consent) Clone() *Consent {
	if c == nil {
		return nil
	}
	out := *c
	out.Scopes = slices.Clone(c.Scopes)
	out.Audience = slices.Clone(c.Audience)
	return &out
}

// Validate reports the first missing key field as a *ValidationError.
func (c *Consent) Validate() error {
	switch {
	case c == nil:
		return fmt.Errorf("consent: %w", invalid("consent", "is nil"))
	case c.Subject == "":
		return fmt.Errorf("consent: %w", invalid("subject", "is required"))
	case c.ClientID == "":
		return fmt.Errorf("consent: %w", invalid("client_id", "is required"))
	}
	return nil
}

// ConsentStore keeps remembered consents, per user and client. Revoking a
// consent's tokens is FamilyStore.RevokeFamiliesOf; this store only
// remembers what was approved.
type ConsentStore interface {
	// GetConsent returns the user's consent for the client; ErrNotFound
	// if there is none.
	GetConsent(ctx context.Context, subject, clientID string) (*Consent, error)
	// SaveConsent stores c, replacing the user's consent for the client
	// if there is one. ErrInvalid if Subject or ClientID is empty.
	SaveConsent(ctx context.Context, c *Consent) error
	// DeleteConsent forgets the user's consent for the client;
	// ErrNotFound if there is none.
	DeleteConsent(ctx context.Context, subject, clientID string) error
	// ListConsents returns the user's consents, ordered by client id.
	ListConsents(ctx context.Context, subject string) ([]*Consent, error)
}
