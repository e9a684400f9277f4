package middleware

import (
	"time"

	"github.com/tollgate-oauth/tollgate/internal/accesstoken"
	"github.com/tollgate-oauth/tollgate/internal/jwtverify"
	"github.com/tollgate-oauth/tollgate/internal/scope"
)

// Claims are a verified access token's claims. The same value may serve
// every request that presents the same token: never modify it.
type Claims struct {
	Subject   string
	ClientID  string
	Issuer    string
	Audience  []string
	Scopes    []string
	Expiry    time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	ID        string // jti
	// GrantID is the token's grant_id claim: the grant (one user's
	// authorization of one client, and every token refreshed from it) a
	// tollgate token was issued under. It is empty for client_credentials
	// tokens. A revocation of the grant refuses all its tokens (see
	// [Revocations]).
	GrantID string
	// SubjectType tells what Subject names: "client" for a token a client
	// got for itself (client_credentials), whose Subject is its client id;
	// "" for a user's token. A user and a client may share a name, so code
	// that treats Subject as a user must check [Claims.IsClient] first.
	SubjectType string
	KeyID       string // kid that verified the token

	v *jwtverify.Claims
}

func newClaims(v *jwtverify.Claims) *Claims {
	return &Claims{
		Subject: v.Subject, ClientID: v.ClientID, Issuer: v.Issuer, Audience: v.Audience, Scopes: v.Scopes,
		Expiry: v.Expiry, IssuedAt: v.IssuedAt, NotBefore: v.NotBefore, ID: v.ID, GrantID: v.GrantID,
		SubjectType: v.SubjectType, KeyID: v.KeyID, v: v,
	}
}

// IsClient reports whether the token's subject is a client (sub_type
// "client"): a machine token, not a user's.
func (c *Claims) IsClient() bool { return c.SubjectType == accesstoken.SubjectClient }

// HasScope reports whether the token grants a scope matching pattern,
// whose ":"-separated segments may be "*" (as in the token server).
func (c *Claims) HasScope(pattern string) bool {
	for _, s := range c.Scopes {
		if scope.Match(pattern, s) {
			return true
		}
	}
	return false
}

// All returns every claim of the token, custom ones included.
func (c *Claims) All() (map[string]any, error) { return c.v.All() }

// Decode unmarshals the token's claims into v, e.g. a struct with json
// tags for the host's custom claims.
func (c *Claims) Decode(v any) error { return c.v.Decode(v) }
