package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-oauth/tollgate/internal/jwtverify"
	"github.com/tollgate-oauth/tollgate/internal/keys"
	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/scope"
	"github.com/tollgate-oauth/tollgate/storage"
)

// Introspection and revocation are tollgate's own, not fosite's: fosite's
// introspection authenticates clients with its own bcrypt path (bypassing
// tollgate's), checks neither typ, iss nor aud, cannot verify EdDSA, and
// its revocation looks access tokens up in storage, where tollgate keeps
// none.

// Introspection is an RFC 7662 §2.2 answer.
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Nbf       int64  `json:"nbf,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Aud       any    `json:"aud,omitempty"`
	Iss       string `json:"iss,omitempty"`
	Jti       string `json:"jti,omitempty"`
}

// verifyOwn verifies one of this server's own access tokens at time now.
func (p *Provider) verifyOwn(ctx context.Context, token string, now time.Time) (*jwtverify.Claims, error) {
	// One Set for the whole check: a rotation between reading the
	// algorithms and finding the key must not mix two.
	set := p.opts.Keys.Load()
	policy := &jwtverify.Policy{Issuer: p.opts.Issuer, Algorithms: set.Algorithms(), MaxBytes: 16 << 10}
	return jwtverify.Verify(ctx, token, func(ctx context.Context, kid string) (jwtverify.Key, error) { return ownKey(set, kid) }, policy, now)
}

// ownKey finds one of the server's own keys by kid.
func ownKey(set *keys.Set, kid string) (jwtverify.Key, error) {
	for _, k := range set.Keys() {
		if k.ID == kid {
			return jwtverify.Key{Public: k.Public(), Alg: k.Alg}, nil
		}
	}
	return jwtverify.Key{}, fmt.Errorf("%w: kid %q", jwtverify.ErrUnknownKey, kid)
}

// looksLikeJWT tells an access token from the others: a refresh token has
// two dots too (family.generation.mac), but its prefix.
func looksLikeJWT(token string) bool {
	return strings.Count(token, ".") == 2 && !strings.HasPrefix(token, refreshPrefix)
}

// Introspect answers for token on behalf of an authenticated caller. A
// token that is not valid, expired, revoked, not this server's, or (for a
// refresh token) another client's is simply inactive: RFC 7662 §2.2 says
// nothing more.
func (p *Provider) Introspect(ctx context.Context, caller *storage.Client, token, hint string) (*Introspection, error) {
	inactive := &Introspection{Active: false}
	tryJWT := looksLikeJWT(token)
	if hint == "refresh_token" || !tryJWT {
		if in, err := p.introspectRefresh(ctx, caller, token); in != nil || err != nil {
			return in, err
		}
	}
	if !tryJWT {
		return inactive, nil
	}
	c, err := p.verifyOwn(ctx, token, p.opts.Now())
	if err != nil {
		return inactive, nil
	}
	revoked, err := p.opts.Tokens.AccessTokenRevoked(ctx, c.ID, grantID(c))
	if err != nil {
		return nil, StorageFailure(err)
	}
	if revoked {
		return inactive, nil
	}
	in := &Introspection{
		Active: true, Scope: scope.Join(c.Scopes), ClientID: c.ClientID, TokenType: "Bearer",
		Exp: c.Expiry.Unix(), Sub: c.Subject, Iss: c.Issuer, Jti: c.ID,
	}
	if !c.IssuedAt.IsZero() {
		in.Iat = c.IssuedAt.Unix()
	}
	if !c.NotBefore.IsZero() {
		in.Nbf = c.NotBefore.Unix()
	}
	switch len(c.Audience) {
	case 0:
	case 1:
		in.Aud = c.Audience[0]
	default:
		in.Aud = c.Audience
	}
	return in, nil
}

// grantID is the grant_id claim of a verified token ("" if it has none).
func grantID(c *jwtverify.Claims) string {
	all, err := c.All()
	if err != nil {
		return ""
	}
	id, _ := all["grant_id"].(string)
	return id
}

// introspectRefresh returns nil, nil when token is no refresh token of
// this server. A refresh token is active only while it is its family's
// live one, for the client that holds it.
func (p *Provider) introspectRefresh(ctx context.Context, caller *storage.Client, token string) (*Introspection, error) {
	if !strings.HasPrefix(token, refreshPrefix) {
		return nil, nil
	}
	ref, err := p.lookupRefresh(ctx, token)
	if ref == nil || err != nil {
		return nil, err
	}
	f := ref.family
	if !ref.live || f.Revoked || f.Grant.ClientID != caller.ID || !p.opts.Now().Before(f.ExpiresAt) {
		return &Introspection{Active: false}, nil
	}
	return &Introspection{
		Active: true, Scope: scope.Join(f.Grant.GrantedScopes), ClientID: f.Grant.ClientID,
		TokenType: "refresh_token", Exp: f.ExpiresAt.Unix(), Sub: f.Grant.Subject, Iss: p.opts.Issuer,
	}, nil
}

// Revoked is what Revoke revoked: nothing (TokenType ""), an access
// token (its JTI), or a refresh token's whole grant (its GrantID).
type Revoked struct {
	TokenType             string // "access_token" or "refresh_token"
	JTI, GrantID, Subject string
}

// Revoke revokes token for the client that holds it (RFC 7009). A refresh
// token, of any generation, takes its whole grant with it (every access
// and refresh token of the family, §2.1's SHOULD); an access token goes on
// the revocation feed by its jti until it expires. Unknown, malformed, expired and foreign-issuer tokens
// are not an error (§2.2: the client cannot do anything about them); a
// token of another client is.
func (p *Provider) Revoke(ctx context.Context, caller *storage.Client, token, hint string) (Revoked, error) {
	if strings.HasPrefix(token, refreshPrefix) {
		ref, err := p.lookupRefresh(ctx, token)
		switch {
		case err != nil:
			return Revoked{}, err
		case ref == nil:
			return Revoked{}, nil
		case ref.family.Grant.ClientID != caller.ID:
			return Revoked{}, oautherr.UnauthorizedClient("the token was not issued to this client")
		}
		g := ref.family.Grant
		if err := p.revokeFamily(ctx, g.ID, caller.ID); err != nil {
			return Revoked{}, StorageFailure(err)
		}
		return Revoked{TokenType: "refresh_token", GrantID: g.ID, Subject: g.Subject}, nil
	}
	if !looksLikeJWT(token) {
		return Revoked{}, nil
	}
	c, err := p.verifyOwn(ctx, token, p.opts.Now())
	if err != nil {
		return Revoked{}, nil // expired, foreign or forged: nothing to revoke
	}
	if c.ClientID != caller.ID {
		return Revoked{}, oautherr.UnauthorizedClient("the token was not issued to this client")
	}
	if err := p.opts.Tokens.RevokeAccessToken(ctx, c.ID, c.Expiry); err != nil {
		return Revoked{}, StorageFailure(err)
	}
	return Revoked{TokenType: "access_token", JTI: c.ID, Subject: c.Subject}, nil
}
