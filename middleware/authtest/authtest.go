// Package authtest mints access tokens for tests of routes guarded by
// tollgate's middleware, without a token server:
//
//	iss := authtest.NewIssuer()
//	mw, _ := middleware.New(iss.Config())
//	req.Header.Set("Authorization", "Bearer "+iss.Token(authtest.Scopes("orders:read")))
//
// Tokens have exactly the shape tollgate's server issues (RFC 9068,
// typ at+jwt, ES256), signed by a key generated for the Issuer.
package authtest

import (
	"crypto/rand"
	"time"

	"github.com/tollgate-oauth/tollgate/internal/accesstoken"
	"github.com/tollgate-oauth/tollgate/internal/keys"
	"github.com/tollgate-oauth/tollgate/middleware"
)

// Defaults of an Issuer and its tokens.
const (
	DefaultIssuer   = "https://issuer.test"
	DefaultAudience = "https://api.test"
	DefaultClientID = "test-client"
	DefaultTTL      = time.Hour
)

// Issuer signs test tokens with its own key.
type Issuer struct {
	URL      string
	Audience string
	// Now is the clock tokens are issued by. Default time.Now.
	Now func() time.Time

	key  *keys.Key
	jwks []byte
}

// NewIssuer returns an issuer with a fresh ES256 key, DefaultIssuer and
// DefaultAudience. It panics if the system has no entropy, which a test
// cannot recover from anyway.
func NewIssuer() *Issuer {
	priv, err := keys.Generate(keys.ES256, rand.Reader)
	if err != nil {
		panic("authtest: " + err.Error())
	}
	k, err := keys.New("authtest", keys.ES256, priv)
	if err != nil {
		panic("authtest: " + err.Error())
	}
	set, err := keys.NewSet(k)
	if err != nil {
		panic("authtest: " + err.Error())
	}
	return &Issuer{URL: DefaultIssuer, Audience: DefaultAudience, Now: time.Now, key: k, jwks: set.JWKS()}
}

// JWKS returns the issuer's public key set.
func (i *Issuer) JWKS() []byte { return append([]byte(nil), i.jwks...) }

// Keys returns the issuer's key set for middleware.Config.Keys.
func (i *Issuer) Keys() *middleware.KeySet {
	ks, err := middleware.LocalKeys(i.jwks)
	if err != nil {
		panic("authtest: " + err.Error())
	}
	return ks
}

// Config returns a middleware config that accepts this issuer's tokens,
// on the issuer's clock.
func (i *Issuer) Config() middleware.Config {
	return middleware.Config{Issuer: i.URL, Audience: i.Audience, Keys: i.Keys(), Now: i.now}
}

func (i *Issuer) now() time.Time {
	if i.Now == nil {
		return time.Now()
	}
	return i.Now()
}

// Option changes a token.
type Option func(*accesstoken.Claims)

// Scopes sets the granted scopes.
func Scopes(scopes ...string) Option { return func(c *accesstoken.Claims) { c.Scopes = scopes } }

// Subject sets sub and makes the token a user's (no sub_type). The default
// token is a client's own, as client_credentials issues: sub is the client
// id and sub_type is "client".
func Subject(sub string) Option {
	return func(c *accesstoken.Claims) { c.Subject, c.SubjectType = sub, "" }
}

// SubjectType sets sub_type: "client" for a machine token, "" for a user's.
func SubjectType(t string) Option { return func(c *accesstoken.Claims) { c.SubjectType = t } }

// ClientID sets client_id, and sub too while sub is still the client id
// (the default); give Subject after ClientID for a different sub.
func ClientID(id string) Option {
	return func(c *accesstoken.Claims) {
		if c.Subject == c.ClientID {
			c.Subject = id
		}
		c.ClientID = id
	}
}

// GrantID sets grant_id, which tollgate's server puts in tokens issued from
// a grant (authorization code, refresh): revoking the grant refuses them
// all (see [middleware.Revocations]). client_credentials tokens have none.
func GrantID(id string) Option { return func(c *accesstoken.Claims) { c.GrantID = id } }

// Audience sets aud.
func Audience(aud ...string) Option { return func(c *accesstoken.Claims) { c.Audience = aud } }

// ExpiresIn sets exp relative to iat. For an expired token go past the
// verifier's leeway too (30 s by default): ExpiresIn(-time.Minute).
func ExpiresIn(d time.Duration) Option {
	return func(c *accesstoken.Claims) { c.Expiry = c.IssuedAt.Add(d) }
}

// IssuedAt sets iat (and nbf), keeping the lifetime.
func IssuedAt(t time.Time) Option {
	return func(c *accesstoken.Claims) {
		ttl := c.Expiry.Sub(c.IssuedAt)
		c.IssuedAt, c.Expiry = t, t.Add(ttl)
	}
}

// Claim adds a custom claim.
func Claim(name string, value any) Option {
	return func(c *accesstoken.Claims) {
		if c.Extra == nil {
			c.Extra = map[string]any{}
		}
		c.Extra[name] = value
	}
}

// Token returns a signed access token: by default a client's own (sub and
// client_id DefaultClientID, sub_type "client"), for
// the issuer's audience, no scopes, valid for DefaultTTL from now. It
// panics on a claim that cannot be encoded or that shadows a registered
// claim (a bug in the test).
func (i *Issuer) Token(opts ...Option) string {
	now := i.now()
	jti, err := accesstoken.NewID(nil)
	if err != nil {
		panic("authtest: " + err.Error())
	}
	c := &accesstoken.Claims{
		Issuer: i.URL, Subject: DefaultClientID, ClientID: DefaultClientID, Audience: []string{i.Audience},
		IssuedAt: now, Expiry: now.Add(DefaultTTL), ID: jti, SubjectType: accesstoken.SubjectClient,
	}
	for _, o := range opts {
		o(c)
	}
	tok, err := accesstoken.Mint(i.key, c)
	if err != nil {
		panic("authtest: " + err.Error())
	}
	return tok
}
