package storage

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"
)

// More grant types tollgate implements.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
)

// ErrAlreadyUsed: a single-use record (an authorization code, a refresh
// token) was used before. Stores return it from UseCode and
// RotateRefreshToken when they lose a race, so exactly one caller wins.
var ErrAlreadyUsed = errors.New("storage: already used")

// Grant is what one authorization produced: who consented, for which
// client, to what. Every token issued from it, through any number of
// refresh-token rotations, shares its ID, so a grant is also a token
// family: revoking it revokes them all.
type Grant struct {
	ID          string
	ClientID    string
	Subject     string
	RequestedAt time.Time

	RequestedScopes   []string
	GrantedScopes     []string
	RequestedAudience []string
	GrantedAudience   []string

	// Form holds the request parameters later steps check against:
	// redirect_uri, code_challenge, code_challenge_method.
	Form map[string]string
	// Session is the kit's own state for the grant (expiries, claims),
	// opaque to stores: store and return it byte for byte.
	Session []byte
}

// Clone returns a deep copy.
func (g *Grant) Clone() *Grant {
	if g == nil {
		return nil
	}
	out := *g
	out.RequestedScopes = slices.Clone(g.RequestedScopes)
	out.GrantedScopes = slices.Clone(g.GrantedScopes)
	out.RequestedAudience = slices.Clone(g.RequestedAudience)
	out.GrantedAudience = slices.Clone(g.GrantedAudience)
	out.Form = maps.Clone(g.Form)
	out.Session = slices.Clone(g.Session)
	return &out
}

// AuthorizationCode is an issued code (RFC 6749 §4.1.2), stored by the
// hash of the code: the code itself is never stored.
type AuthorizationCode struct {
	Signature string
	Grant     *Grant
	ExpiresAt time.Time
	Used      bool // set by UseCode; a used code is kept until it expires, to detect replays
}

// CodeStore keeps authorization codes.
type CodeStore interface {
	// CreateCode stores a new code; ErrAlreadyExists if the signature is taken.
	CreateCode(ctx context.Context, c *AuthorizationCode) error
	// GetCode returns the code, used or not; ErrNotFound if unknown.
	GetCode(ctx context.Context, signature string) (*AuthorizationCode, error)
	// UseCode marks the code used, atomically: ErrAlreadyUsed if it
	// already was, ErrNotFound if unknown.
	UseCode(ctx context.Context, signature string) error
}

// RefreshToken is an issued refresh token, stored by the hash of the
// token.
type RefreshToken struct {
	Signature string
	Grant     *Grant
	// AccessTokenID is the jti of the access token issued with it.
	AccessTokenID string
	ExpiresAt     time.Time
	// Active is false once the token was rotated (used); an inactive token
	// presented again is a replay.
	Active bool
}

// RefreshTokenStore keeps refresh tokens.
type RefreshTokenStore interface {
	// CreateRefreshToken stores a new token (Active as given).
	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	// GetRefreshToken returns the token, active or not; ErrNotFound if
	// unknown.
	GetRefreshToken(ctx context.Context, signature string) (*RefreshToken, error)
	// RotateRefreshToken deactivates an active token and, if next is not
	// nil, stores next, as one atomic step (one transaction: a rotation
	// costs one commit). ErrAlreadyUsed if the token was not active,
	// ErrNotFound if unknown; next is not stored then.
	RotateRefreshToken(ctx context.Context, signature string, next *RefreshToken) error
}

// RevocationStore keeps what has been revoked, each entry only until the
// tokens it covers expire, so it never grows without bound.
type RevocationStore interface {
	// RecordAccessToken notes that the access token jti was issued from
	// grant family, so that revoking the family revokes it.
	RecordAccessToken(ctx context.Context, jti, family string, expiresAt time.Time) error
	// RevokeAccessToken revokes one access token until it expires.
	RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error
	// RevokeFamily revokes every token of a grant, issued or still to be
	// issued, until the given time (the longest any of them can live).
	RevokeFamily(ctx context.Context, family string, until time.Time) error
	// AccessTokenRevoked reports whether jti was revoked, alone or with
	// its family.
	AccessTokenRevoked(ctx context.Context, jti string) (bool, error)
	// FamilyRevoked reports whether a grant family was revoked.
	FamilyRevoked(ctx context.Context, family string) (bool, error)
}

// TokenStore is what the user-facing grants, revocation and
// introspection need.
type TokenStore interface {
	CodeStore
	RefreshTokenStore
	RevocationStore
	// DeleteExpired removes codes, refresh tokens and revocation entries
	// that expired before now, returning how many. Servers call it
	// periodically; stores need not expire entries on their own.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
}

// Store is everything tollgate keeps.
type Store interface {
	ClientStore
	TokenStore
	KeyStore
}
