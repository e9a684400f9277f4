package provider

import (
	"context"
	"errors"
	"time"

	"github.com/tollgate-oauth/tollgate/internal/refreshtoken"
	"github.com/tollgate-oauth/tollgate/storage"
)

// A refresh token names its family and generation and carries a MAC
// (internal/refreshtoken); the store keeps one record per family
// (storage.Family). lookupRefresh is where the refresh grant,
// introspection and revocation turn a presented token into that record.

// LegacyRefreshStore is implemented by stores that hold refresh tokens
// issued before families (sqlstore, migrated from schema 1). Custom stores
// need not know about it; a wrapper of a store that has it must have it
// too.
type LegacyRefreshStore interface {
	LegacyRefreshFamily(ctx context.Context, signature string) (family string, active bool, err error)
}

// presented is a refresh token found in its family.
type presented struct {
	family *storage.Family
	// gen is the generation the token names; 0 for a legacy token.
	gen uint64
	// live: the token is the family's live one. Any other is a replay.
	live bool
}

// lookupRefresh finds the family of a refresh token. nil, nil means the
// token is not one of this server's: malformed, its MAC forged, or its
// family unknown or purged. A forged token is refused before the store is
// asked, so it never touches a family.
func (p *Provider) lookupRefresh(ctx context.Context, token string) (*presented, error) {
	if refreshtoken.IsLegacy(token) {
		return p.lookupLegacy(ctx, token)
	}
	t, err := refreshtoken.Parse(p.opts.RefreshKey, token)
	if err != nil {
		return nil, nil
	}
	f, err := p.opts.Tokens.GetFamily(ctx, t.Family)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, StorageFailure(err)
	case t.Generation > f.Generation:
		// Ahead of the store: a database restored from an older backup.
		// Not a replay of anything this store issued.
		return nil, nil
	}
	return &presented{family: f, gen: t.Generation, live: t.Generation == f.Generation}, nil
}

// lookupLegacy finds a refresh token issued before families. It is live
// while it was its family's live token and the family has not rotated
// since (generation 0): the first rotation replaces it with a token of the
// current format.
func (p *Provider) lookupLegacy(ctx context.Context, token string) (*presented, error) {
	legacy, ok := p.opts.Tokens.(LegacyRefreshStore)
	if !ok {
		return nil, nil
	}
	id, active, err := legacy.LegacyRefreshFamily(ctx, hashToken(token))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, StorageFailure(err)
	}
	f, err := p.opts.Tokens.GetFamily(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, StorageFailure(err)
	}
	return &presented{family: f, gen: 0, live: active && f.Generation == 0}, nil
}

// revokeFamily revokes a grant: its refresh tokens through the family
// record, its access tokens through the feed. until covers an access token
// being issued right now with the client's current lifetime; the store
// extends the entry to the latest access expiry it recorded for the
// family, so a lifetime shortened since cannot bring a token back.
func (p *Provider) revokeFamily(ctx context.Context, family, clientID string) error {
	return p.opts.Tokens.RevokeFamily(ctx, family, p.revokedUntil(ctx, clientID))
}

// RevokeGrantsOf revokes every grant of subject to clientID, as
// revokeFamily does each: the user's consent to the client was withdrawn.
func (p *Provider) RevokeGrantsOf(ctx context.Context, subject, clientID string) (int, error) {
	return p.opts.Tokens.RevokeFamiliesOf(ctx, subject, clientID, p.revokedUntil(ctx, clientID))
}

// revokedUntil is how long a revocation of the client's grants must last
// at least: the longest an access token issued to it now can live.
func (p *Provider) revokedUntil(ctx context.Context, clientID string) time.Time {
	ttl := p.opts.AccessTokenTTL
	if c, err := p.opts.Clients.GetClient(ctx, clientID); err == nil {
		ttl = max(ttl, p.accessTokenTTL(c))
	}
	return p.opts.Now().Add(ttl)
}
