package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"

	"github.com/tollgate-oauth/tollgate/storage"
)

// fositeStore presents tollgate's small storage interfaces as the storage
// fosite's handlers call: clients, authorization codes (their PKCE
// challenge rides in the code's stored form), access tokens (only a note of
// which grant issued which jti, for revocation) and refresh tokens.
type fositeStore struct {
	p       *Provider
	clients storage.ClientGetter
	tokens  storage.TokenStore
}

// --- fosite.ClientManager ---

func (s *fositeStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := s.clients.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return client{c}, nil
}

func (*fositeStore) ClientAssertionJWTValid(context.Context, string) error {
	return fosite.ErrJTIKnown.WithHint("client assertions are not supported")
}

func (*fositeStore) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return errors.New("provider: client assertions are not supported")
}

// --- authorization codes ---

func (s *fositeStore) CreateAuthorizeCodeSession(ctx context.Context, signature string, r fosite.Requester) error {
	g, err := toGrant(r)
	if err != nil {
		return err
	}
	// The code's life starts now on the injected clock (fosite stamped the
	// session with the wall clock).
	exp := s.p.opts.Now().Add(s.p.opts.CodeTTL)
	r.GetSession().SetExpiresAt(fosite.AuthorizeCode, exp)
	if g.Session, err = json.Marshal(r.GetSession()); err != nil {
		return err
	}
	return s.tokens.CreateCode(ctx, &storage.AuthorizationCode{Signature: signature, Grant: g, ExpiresAt: exp})
}

func (s *fositeStore) GetAuthorizeCodeSession(ctx context.Context, signature string, into fosite.Session) (fosite.Requester, error) {
	c, err := s.tokens.GetCode(ctx, signature)
	if err != nil {
		return nil, fositeNotFound(err)
	}
	r, err := s.fromGrant(ctx, c.Grant, into)
	if err != nil {
		return nil, err
	}
	if c.Used {
		// A replayed code: revoke everything it issued (RFC 6749 §4.1.2,
		// RFC 9700 §4.14), then tell fosite, which refuses the request.
		if err := s.revokeFamily(ctx, c.Grant.ID, c.Grant.ClientID); err != nil {
			return nil, err
		}
		return r, fosite.ErrInvalidatedAuthorizeCode
	}
	return r, nil
}

// InvalidateAuthorizeCodeSession marks the code used, atomically: of two
// concurrent redemptions one wins, the other finds it used, which is a
// replay like any other: the grant's tokens are revoked.
func (s *fositeStore) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	err := s.tokens.UseCode(ctx, signature)
	if errors.Is(err, storage.ErrAlreadyUsed) {
		if c, gerr := s.tokens.GetCode(ctx, signature); gerr == nil {
			if rerr := s.revokeFamily(ctx, c.Grant.ID, c.Grant.ClientID); rerr != nil {
				return rerr
			}
		}
	}
	return err
}

// --- PKCE: the challenge is in the code's stored form ---

func (s *fositeStore) GetPKCERequestSession(ctx context.Context, signature string, into fosite.Session) (fosite.Requester, error) {
	c, err := s.tokens.GetCode(ctx, signature)
	if err != nil {
		return nil, fositeNotFound(err)
	}
	if c.Grant.Form["code_challenge"] == "" {
		return nil, fosite.ErrNotFound // no PKCE on this code
	}
	return s.fromGrant(ctx, c.Grant, into)
}

func (*fositeStore) CreatePKCERequestSession(context.Context, string, fosite.Requester) error {
	return nil
}
func (*fositeStore) DeletePKCERequestSession(context.Context, string) error { return nil }

// --- access tokens: JWTs, so only the jti → grant note is kept ---

func (s *fositeStore) CreateAccessTokenSession(ctx context.Context, jti string, r fosite.Requester) error {
	return s.tokens.RecordAccessToken(ctx, jti, r.GetID(), r.GetSession().GetExpiresAt(fosite.AccessToken))
}

func (*fositeStore) GetAccessTokenSession(context.Context, string, fosite.Session) (fosite.Requester, error) {
	return nil, fosite.ErrNotFound
}

func (*fositeStore) DeleteAccessTokenSession(context.Context, string) error { return nil }

// --- refresh tokens ---

func (s *fositeStore) CreateRefreshTokenSession(ctx context.Context, signature, jti string, r fosite.Requester) error {
	g, err := toGrant(r)
	if err != nil {
		return err
	}
	return s.tokens.CreateRefreshToken(ctx, &storage.RefreshToken{
		Signature: signature, Grant: g, AccessTokenID: jti,
		ExpiresAt: r.GetSession().GetExpiresAt(fosite.RefreshToken), Active: true,
	})
}

func (s *fositeStore) GetRefreshTokenSession(ctx context.Context, signature string, into fosite.Session) (fosite.Requester, error) {
	rt, err := s.tokens.GetRefreshToken(ctx, signature)
	if err != nil {
		return nil, fositeNotFound(err)
	}
	r, err := s.fromGrant(ctx, rt.Grant, into)
	if err != nil {
		return nil, err
	}
	if !rt.Active {
		return r, fosite.ErrInactiveToken
	}
	return r, nil
}

func (s *fositeStore) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return s.RotateRefreshToken(ctx, "", signature)
}

func (s *fositeStore) RotateRefreshToken(ctx context.Context, _ string, signature string) error {
	return s.tokens.RotateRefreshToken(ctx, signature, nil)
}

// RevokeRefreshToken and RevokeAccessToken are fosite's way to revoke what
// a replayed code issued. GetAuthorizeCodeSession has already revoked the
// whole grant family by then (it knows the client, and so how long the
// family's tokens can live); these have nothing left to do.
func (*fositeStore) RevokeRefreshToken(context.Context, string) error { return nil }
func (*fositeStore) RevokeAccessToken(context.Context, string) error  { return nil }

// revokeFamily revokes a grant until the longest-lived token it can have
// issued has expired: the client's refresh token lifetime (rotation starts
// it again) or its access token lifetime, whichever is longer.
func (s *fositeStore) revokeFamily(ctx context.Context, family, clientID string) error {
	ttl := max(s.p.opts.RefreshTokenTTL, s.p.opts.AccessTokenTTL)
	if c, err := s.clients.GetClient(ctx, clientID); err == nil {
		ttl = max(s.p.refreshTokenTTL(c), s.p.accessTokenTTL(c))
	}
	return s.tokens.RevokeFamily(ctx, family, s.p.opts.Now().Add(ttl))
}

func fositeNotFound(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return fosite.ErrNotFound
	}
	return err
}

// formKeys are the request parameters a grant keeps (see
// SanitationWhiteList).
var formKeys = []string{"redirect_uri", "code_challenge", "code_challenge_method"}

// toGrant turns fosite's request into the storage record.
func toGrant(r fosite.Requester) (*storage.Grant, error) {
	sess, ok := r.GetSession().(*Session)
	if !ok {
		return nil, fmt.Errorf("provider: session %T is not a *provider.Session", r.GetSession())
	}
	raw, err := json.Marshal(sess)
	if err != nil {
		return nil, err
	}
	g := &storage.Grant{
		ID: r.GetID(), ClientID: r.GetClient().GetID(), Subject: sess.Subject, RequestedAt: r.GetRequestedAt(),
		RequestedScopes: r.GetRequestedScopes(), GrantedScopes: r.GetGrantedScopes(),
		RequestedAudience: r.GetRequestedAudience(), GrantedAudience: r.GetGrantedAudience(),
		Session: raw,
	}
	for _, k := range formKeys {
		if v := r.GetRequestForm().Get(k); v != "" {
			if g.Form == nil {
				g.Form = map[string]string{}
			}
			g.Form[k] = v
		}
	}
	return g, nil
}

// fromGrant rebuilds fosite's request from the record, decoding the session
// into the prototype fosite passed. A client deleted since is not found.
func (s *fositeStore) fromGrant(ctx context.Context, g *storage.Grant, into fosite.Session) (*fosite.Request, error) {
	c, err := s.GetClient(ctx, g.ClientID)
	if err != nil {
		return nil, err
	}
	if into == nil {
		into = &Session{}
	}
	if err := json.Unmarshal(g.Session, into); err != nil {
		return nil, fmt.Errorf("provider: stored session: %w", err)
	}
	form := url.Values{}
	for k, v := range g.Form {
		form.Set(k, v)
	}
	return &fosite.Request{
		ID: g.ID, RequestedAt: g.RequestedAt, Client: c, Form: form, Session: into,
		RequestedScope: g.RequestedScopes, GrantedScope: g.GrantedScopes,
		RequestedAudience: g.RequestedAudience, GrantedAudience: g.GrantedAudience,
	}, nil
}
