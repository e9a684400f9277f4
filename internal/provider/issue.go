package provider

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/ory/fosite"

	"github.com/tollgate-oauth/tollgate/internal/accesstoken"
	"github.com/tollgate-oauth/tollgate/storage"
)

func (p *Provider) accessTokenTTL(c *storage.Client) time.Duration {
	if c.AccessTokenTTL > 0 {
		return c.AccessTokenTTL
	}
	return p.opts.AccessTokenTTL
}

// mintAccessToken signs the access token of a request whose scopes and
// audiences are granted: issued now on the injected clock, for the client's
// lifetime, with the grant's and the host's claims. family is the grant
// family the token belongs to ("" for none, as client_credentials): it
// becomes the grant_id claim, by which revoking the family revokes the
// token with no record of the token kept. It stamps the session with both
// times, which the response reads back. It returns the token and its jti.
func (p *Provider) mintAccessToken(ctx context.Context, grant string, r fosite.Requester, family string) (string, string, error) {
	sess, ok := r.GetSession().(*Session)
	if !ok {
		return "", "", &Internal{Err: fmt.Errorf("%s: session is not a *provider.Session", grant)}
	}
	c := storageClient(r.GetClient())
	if c == nil {
		return "", "", &Internal{Err: fmt.Errorf("%s: request has no tollgate client", grant)}
	}
	jti, err := accesstoken.NewID(p.opts.Rand)
	if err != nil {
		return "", "", &Internal{Err: err}
	}
	now := p.opts.Now()
	sess.IssuedAt = now
	sess.SetExpiresAt(fosite.AccessToken, now.Add(p.accessTokenTTL(c)))
	claims := &accesstoken.Claims{
		Issuer:   p.opts.Issuer,
		Subject:  sess.Subject,
		Audience: r.GetGrantedAudience(),
		ClientID: c.ID,
		Scopes:   r.GetGrantedScopes(),
		IssuedAt: now,
		Expiry:   sess.GetExpiresAt(fosite.AccessToken),
		ID:       jti,
		GrantID:  family,
	}
	if grant == storage.GrantClientCredentials {
		// sub is the client id, which may equal a user's subject: say so.
		claims.SubjectType = accesstoken.SubjectClient
	}
	extra := maps.Clone(sess.Claims)
	if p.opts.Claims != nil {
		hook, err := p.opts.Claims(ctx, ClaimsInput{
			ClientID: claims.ClientID, Subject: claims.Subject, GrantType: grant,
			Scopes: claims.Scopes, Audience: claims.Audience,
		})
		if err != nil {
			return "", "", &Internal{Err: fmt.Errorf("custom claims hook: %w", err)}
		}
		if extra == nil {
			extra = hook
		} else {
			maps.Copy(extra, hook)
		}
	}
	claims.Extra = extra
	_, span := p.opts.Tracer.Start(ctx, SpanSign)
	token, err := accesstoken.Mint(p.opts.Keys.Load().SigningAt(now), claims)
	if err != nil {
		err = &Internal{Err: err}
	}
	endStep(span, err)
	if err != nil {
		return "", "", err
	}
	sess.jti, sess.grantID = jti, family
	return token, jti, nil
}
