package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/ory/fosite"

	"github.com/tollgate-oauth/tollgate/internal/accesstoken"
	"github.com/tollgate-oauth/tollgate/internal/scope"
	"github.com/tollgate-oauth/tollgate/storage"
)

func (p *Provider) accessTokenTTL(c *storage.Client) time.Duration {
	if c.AccessTokenTTL > 0 {
		return c.AccessTokenTTL
	}
	return p.opts.AccessTokenTTL
}

// issueAccessToken mints the JWT for a request whose session holds subject,
// issue and expiry times, and fills the response. expires_in is the
// configured lifetime exactly (fosite's own helper reports 899 for 900).
func (p *Provider) issueAccessToken(ctx context.Context, grant string, ar fosite.AccessRequester, resp fosite.AccessResponder) error {
	sess, ok := ar.GetSession().(*Session)
	if !ok {
		return &Internal{Err: fmt.Errorf("%s: session is not a *provider.Session", grant)}
	}
	jti, err := accesstoken.NewID(p.opts.Rand)
	if err != nil {
		return &Internal{Err: err}
	}
	claims := &accesstoken.Claims{
		Issuer:   p.opts.Issuer,
		Subject:  sess.Subject,
		Audience: ar.GetGrantedAudience(),
		ClientID: ar.GetClient().GetID(),
		Scopes:   ar.GetGrantedScopes(),
		IssuedAt: sess.IssuedAt,
		Expiry:   sess.GetExpiresAt(fosite.AccessToken),
		ID:       jti,
	}
	if p.opts.Claims != nil {
		extra, err := p.opts.Claims(ctx, ClaimsInput{
			ClientID: claims.ClientID, Subject: claims.Subject, GrantType: grant,
			Scopes: claims.Scopes, Audience: claims.Audience,
		})
		if err != nil {
			return &Internal{Err: fmt.Errorf("custom claims hook: %w", err)}
		}
		claims.Extra = extra
	}
	token, err := accesstoken.Mint(p.opts.Keys.Signing(), claims)
	if err != nil {
		return &Internal{Err: err}
	}
	resp.SetAccessToken(token)
	resp.SetTokenType("Bearer")
	resp.SetExtra("expires_in", int64(claims.Expiry.Sub(claims.IssuedAt)/time.Second))
	resp.SetExtra("scope", scope.Join(claims.Scopes))
	resp.SetExtra("created_at", claims.IssuedAt.Unix())
	return nil
}
