package provider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/tollgate-oauth/tollgate/internal/refreshtoken"
	"github.com/tollgate-oauth/tollgate/storage"
)

// tokenStrategy makes tollgate's tokens for fosite's code grant:
//   - access tokens are RFC 9068 JWTs naming their grant family; their
//     "signature" (fosite's storage key) is the jti;
//   - refresh tokens ("tgr_") name the family's first generation under a
//     MAC (internal/refreshtoken); nothing is stored per token;
//   - authorization codes ("tgc_") are 256 random bits; their signature,
//     the only form stored, is the SHA-256 of the code.
//
// Expiry is checked against the session on the injected clock.
type tokenStrategy struct{ p *Provider }

var (
	_ oauth2.AccessTokenStrategy   = (*tokenStrategy)(nil)
	_ oauth2.RefreshTokenStrategy  = (*tokenStrategy)(nil)
	_ oauth2.AuthorizeCodeStrategy = (*tokenStrategy)(nil)
)

const (
	refreshPrefix = refreshtoken.Prefix
	codePrefix    = "tgc_"
)

// AccessTokenSignature is not used by the handlers tollgate registers
// (introspection and revocation verify JWTs themselves).
func (t *tokenStrategy) AccessTokenSignature(_ context.Context, token string) string {
	return token[strings.LastIndexByte(token, '.')+1:]
}

func (t *tokenStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	grant := "authorization_code"
	if gt := grantTypeOf(r); gt != "" {
		grant = gt
	}
	return t.p.mintAccessToken(ctx, grant, r, r.GetID())
}

func (t *tokenStrategy) ValidateAccessToken(context.Context, fosite.Requester, string) error {
	return fosite.ErrRequestUnauthorized.WithHint("tollgate verifies access tokens itself")
}

func (t *tokenStrategy) RefreshTokenSignature(_ context.Context, token string) string {
	return hashToken(token)
}

// GenerateRefreshToken makes generation 1 of the grant's family; fosite
// calls it before the storage writes, so the session tells
// CreateAccessTokenSession to start the family there.
func (t *tokenStrategy) GenerateRefreshToken(_ context.Context, r fosite.Requester) (string, string, error) {
	sess, ok := r.GetSession().(*Session)
	c := storageClient(r.GetClient())
	if !ok || c == nil {
		return "", "", errors.New("provider: refresh token for a request without a tollgate session and client")
	}
	token, err := refreshtoken.Format(t.p.opts.RefreshKey, r.GetID(), 1)
	if err != nil {
		return "", "", err
	}
	sess.SetExpiresAt(fosite.RefreshToken, t.p.opts.Now().Add(t.p.refreshTokenTTL(c)))
	sess.refreshIssued = true
	return token, hashToken(token), nil
}

func (t *tokenStrategy) ValidateRefreshToken(_ context.Context, r fosite.Requester, _ string) error {
	return t.p.checkExpiry(r, fosite.RefreshToken)
}

func (t *tokenStrategy) AuthorizeCodeSignature(_ context.Context, token string) string {
	return hashToken(token)
}

func (t *tokenStrategy) GenerateAuthorizeCode(context.Context, fosite.Requester) (string, string, error) {
	token, err := randomToken(t.p.opts.Rand, codePrefix)
	if err != nil {
		return "", "", err
	}
	return token, hashToken(token), nil
}

func (t *tokenStrategy) ValidateAuthorizeCode(_ context.Context, r fosite.Requester, _ string) error {
	return t.p.checkExpiry(r, fosite.AuthorizeCode)
}

func (p *Provider) checkExpiry(r fosite.Requester, tt fosite.TokenType) error {
	exp := r.GetSession().GetExpiresAt(tt)
	if exp.IsZero() || !p.opts.Now().Before(exp) {
		return fosite.ErrTokenExpired.WithHintf("The %s expired.", tt)
	}
	return nil
}

func (p *Provider) refreshTokenTTL(c *storage.Client) time.Duration {
	if c.RefreshTokenTTL > 0 {
		return c.RefreshTokenTTL
	}
	return p.opts.RefreshTokenTTL
}

// grantTypeOf returns the grant type of a token request, "" for others.
func grantTypeOf(r fosite.Requester) string {
	if ar, ok := r.(fosite.AccessRequester); ok && len(ar.GetGrantTypes()) == 1 {
		return ar.GetGrantTypes()[0]
	}
	return ""
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomToken(r io.Reader, prefix string) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [32]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("provider: reading entropy: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}
