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
// challenge rides in the code's stored form) and, for the code grant's
// tokens, the grant family record. tollgate keeps no row per access or
// refresh token: access tokens are JWTs naming their family (grant_id),
// refresh tokens name their family's generation (refresh.go).
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
		if err := s.p.revokeFamily(ctx, c.Grant.ID, c.Grant.ClientID); err != nil {
			return nil, err
		}
		s.p.replayed(ctx, Replay{ClientID: c.Grant.ClientID, Subject: c.Grant.Subject, GrantID: c.Grant.ID})
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
			if rerr := s.p.revokeFamily(ctx, c.Grant.ID, c.Grant.ClientID); rerr != nil {
				return rerr
			}
			s.p.replayed(ctx, Replay{ClientID: c.Grant.ClientID, Subject: c.Grant.Subject, GrantID: c.Grant.ID})
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

// --- the code grant's tokens: one family record ---

// CreateAccessTokenSession is the code grant's one write for the tokens it
// issues (fosite calls it after the code is marked used): the grant family,
// at generation 1 if a refresh token was issued (GenerateRefreshToken ran
// before), else 0. Without a refresh token the family still records its
// access token's expiry, which a later revocation of the grant (a replayed
// code) must outlast.
func (s *fositeStore) CreateAccessTokenSession(ctx context.Context, _ string, r fosite.Requester) error {
	sess, ok := r.GetSession().(*Session)
	if !ok {
		return fmt.Errorf("provider: session %T is not a *provider.Session", r.GetSession())
	}
	g, err := toGrant(r)
	if err != nil {
		return err
	}
	f := &storage.Family{Grant: g, AccessExpiresAt: sess.GetExpiresAt(fosite.AccessToken)}
	if sess.refreshIssued {
		f.Generation, f.ExpiresAt = 1, sess.GetExpiresAt(fosite.RefreshToken)
	}
	return s.tokens.CreateFamily(ctx, f)
}

func (*fositeStore) GetAccessTokenSession(context.Context, string, fosite.Session) (fosite.Requester, error) {
	return nil, fosite.ErrNotFound
}

func (*fositeStore) DeleteAccessTokenSession(context.Context, string) error { return nil }

// CreateRefreshTokenSession has nothing to write: the family was created
// with the access token (CreateAccessTokenSession). The other refresh-token
// methods belong to fosite's refresh handler, which tollgate replaces
// (grant_refresh.go): they are never called.
func (*fositeStore) CreateRefreshTokenSession(context.Context, string, string, fosite.Requester) error {
	return nil
}

func (*fositeStore) GetRefreshTokenSession(context.Context, string, fosite.Session) (fosite.Requester, error) {
	return nil, fosite.ErrNotFound
}

func (*fositeStore) DeleteRefreshTokenSession(context.Context, string) error { return nil }

func (*fositeStore) RotateRefreshToken(context.Context, string, string) error { return nil }

// RevokeRefreshToken and RevokeAccessToken are fosite's way to revoke what
// a replayed code issued. GetAuthorizeCodeSession has already revoked the
// whole grant family by then (it knows the client, and so how long the
// family's tokens can live); these have nothing left to do.
func (*fositeStore) RevokeRefreshToken(context.Context, string) error { return nil }
func (*fositeStore) RevokeAccessToken(context.Context, string) error  { return nil }

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
