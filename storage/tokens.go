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

// ErrAlreadyUsed: a single-use step was taken before: an authorization
// code was used, or a refresh-token family has moved past the generation a
// rotation started from. Stores return it from UseCode and AdvanceFamily
// when they lose a race, so exactly one caller wins.
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

// Family is the one record a grant's refresh tokens need, however often
// they are rotated. A refresh token names its family and generation and
// carries a MAC under a server key, so the store keeps no row per token:
// the family's current generation tells the live token from every earlier
// one, and an earlier one presented again is a replay.
type Family struct {
	// Grant is what the family was issued for; Grant.ID is the family id.
	Grant *Grant
	// Generation is the number of the live refresh token: 1 for the first,
	// one more per rotation. 0 means no refresh token of the current
	// format is live: the grant issued none, or its live token predates
	// families (a store migrated from an older schema may still honour it).
	Generation uint64
	// ExpiresAt is when the live refresh token expires.
	ExpiresAt time.Time
	// AccessExpiresAt is the latest expiry of any access token issued in
	// the family: a revocation of the family must last at least that long.
	AccessExpiresAt time.Time
	// Revoked is set by RevokeFamily, before or after CreateFamily: every
	// token of the family is refused.
	Revoked bool
}

// Clone returns a deep copy.
func (f *Family) Clone() *Family {
	if f == nil {
		return nil
	}
	out := *f
	out.Grant = f.Grant.Clone()
	return &out
}

// FamilyStore keeps refresh-token families.
type FamilyStore interface {
	// CreateFamily stores a new family; ErrAlreadyExists if its id is
	// taken. A family revoked before it is created (a replayed code races
	// the redemption that creates it) is stored revoked.
	CreateFamily(ctx context.Context, f *Family) error
	// GetFamily returns the family, revoked or not; ErrNotFound if unknown
	// or purged.
	GetFamily(ctx context.Context, id string) (*Family, error)
	// AdvanceFamily is a rotation, as one atomic compare-and-set: if the
	// family is at generation from and not revoked, it moves to from+1,
	// its ExpiresAt becomes expiresAt (the new refresh token's) and its
	// AccessExpiresAt becomes accessExpiresAt if that is later. Of
	// concurrent calls with the same from exactly one returns nil; the
	// others, a stale from and a revoked family get ErrAlreadyUsed.
	// ErrNotFound if unknown.
	AdvanceFamily(ctx context.Context, id string, from uint64, expiresAt, accessExpiresAt time.Time) error
	// RevokeFamiliesOf revokes everything a user's grants to a client
	// issued, as RevokeFamily does for each (until means the same): every
	// family whose Grant has that Subject and ClientID, and every code of
	// theirs, which is marked used and its family revoked before it is
	// created, so that a code being redeemed at the same moment issues
	// nothing that lives. It returns how many families it revoked that
	// were not revoked before (codes are not counted). Revoking a user's
	// consent to a client calls it.
	RevokeFamiliesOf(ctx context.Context, subject, clientID string, until time.Time) (int, error)
}

// Revocation is one entry of the revocation feed: a revoked access token
// (JTI) or a revoked grant family (GrantID), exactly one of the two set.
type Revocation struct {
	// Seq is the entry's place in the feed. A store hands out increasing
	// numbers, and a number becomes visible only after every smaller one,
	// so a poller that asks for what follows the last Seq it saw misses
	// nothing.
	Seq     uint64
	JTI     string
	GrantID string
	// ExpiresAt is the latest expiry of anything the entry covers; the
	// entry is kept until then.
	ExpiresAt time.Time
}

// RevocationPage is a read of the revocation feed.
type RevocationPage struct {
	// Epoch names the feed: random, made once per store (per database).
	// A sequence number means nothing in another epoch.
	Epoch string
	// Last is the feed's newest sequence number when the page was read (0:
	// none yet). Entries numbered up to Last are all visible to the read.
	Last uint64
	// Entries are the live entries numbered above the asked position and
	// up to Last, in Seq order, at most the asked limit.
	Entries []Revocation
}

// RevocationStore keeps what has been revoked, as an ordered feed that
// resource servers poll. Each entry lives only until the tokens it covers
// expire, so the feed never grows without bound. Revoking again with a
// later expiry moves the entry to the end of the feed (a poller must learn
// the new expiry); with an earlier or equal one it changes nothing.
type RevocationStore interface {
	// RevokeAccessToken revokes one access token until exp, its expiry.
	RevokeAccessToken(ctx context.Context, jti string, exp time.Time) error
	// RevokeFamily revokes every token of a grant family, issued or still
	// to be issued: the family is marked Revoked (now, or when it is
	// created), and its feed entry is kept until the later of until and
	// the family's AccessExpiresAt. until is the latest expiry the caller
	// knows of (an access token being issued concurrently); the store
	// knows the rest, so a lifetime shortened since cannot make the entry
	// expire before a token it covers.
	RevokeFamily(ctx context.Context, family string, until time.Time) error
	// AccessTokenRevoked reports whether an access token is revoked, by
	// its jti or by its grant family (grantID; "" for a token of no
	// family, such as a client_credentials token).
	AccessTokenRevoked(ctx context.Context, jti, grantID string) (bool, error)
	// Revocations reads the feed after position after: at most limit
	// entries, leaving out those that expired before now.
	Revocations(ctx context.Context, after uint64, now time.Time, limit int) (*RevocationPage, error)
}

// TokenStore is what the user-facing grants, revocation and
// introspection need.
type TokenStore interface {
	CodeStore
	FamilyStore
	RevocationStore
	// DeleteExpired removes at most limit records that expired before now
	// (codes; families whose refresh and access tokens have all expired;
	// feed entries), as one short step, and returns how many it removed.
	// The server calls it in a loop, in the background, until it returns
	// fewer than limit: no step holds the store for long.
	DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error)
}

// Store is everything tollgate keeps.
type Store interface {
	ClientStore
	TokenStore
	KeyStore
	ConsentStore
}

// Pinger is implemented by stores that can say whether their backend
// answers now: a database round trip, not a cached state. The handler's
// Server.Ready (and so a readiness probe) calls it on every store it
// was given. A store without a backend to lose (storage/memory) need not
// implement it.
type Pinger interface {
	// Ping returns nil when the backend answered, else an error wrapping
	// ErrUnavailable. It gives up when ctx ends.
	Ping(ctx context.Context) error
}
