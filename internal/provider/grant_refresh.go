package provider

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/ory/fosite"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/scope"
	"github.com/tollgate-oauth/tollgate/storage"
)

// refreshGrant is the refresh_token grant (RFC 6749 §6), in place of
// fosite's, which cannot narrow scope and answers a lost rotation race with
// a retry hint. Every use rotates the token; presenting a rotated token
// again revokes the whole grant family (RFC 9700 §4.14.2); a request may
// narrow the scope or audience but never widen them.
type refreshGrant struct{ p *Provider }

var _ fosite.TokenEndpointHandler = (*refreshGrant)(nil)

func (h *refreshGrant) HandleTokenEndpointRequest(ctx context.Context, ar fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	c := storageClient(ar.GetClient())
	token := ar.GetRequestForm().Get("refresh_token")
	if c == nil || token == "" {
		return oautherr.InvalidRequest("the refresh_token parameter is missing")
	}
	tokens := h.p.opts.Tokens
	rt, err := tokens.GetRefreshToken(ctx, hashToken(token))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return oautherr.InvalidGrant("the refresh token is invalid")
	case err != nil:
		return storageFailure(err)
	case rt.Grant.ClientID != c.ID:
		return oautherr.InvalidGrant("the refresh token is invalid")
	case !rt.Active:
		if err := h.p.store.revokeFamily(ctx, rt.Grant.ID, c.ID); err != nil {
			return storageFailure(err)
		}
		return oautherr.InvalidGrant("the refresh token was already used; every token of its grant is now revoked")
	case !h.p.opts.Now().Before(rt.ExpiresAt):
		return oautherr.InvalidGrant("the refresh token has expired")
	}
	if revoked, err := tokens.FamilyRevoked(ctx, rt.Grant.ID); err != nil {
		return storageFailure(err)
	} else if revoked {
		return oautherr.InvalidGrant("the refresh token was revoked")
	}

	scopes, e := narrow("scope", ar.GetRequestedScopes(), rt.Grant.GrantedScopes, oautherr.InvalidScope)
	if e != nil {
		return e
	}
	// The client may have lost a scope since: never grant one it no longer
	// has.
	for _, s := range scopes {
		if !scope.Allowed(c.Scopes, s) {
			return oautherr.InvalidScope("scope %s is no longer allowed for this client", oautherr.Quote(s))
		}
	}
	auds, e := narrow("audience", ar.GetRequestedAudience(), rt.Grant.GrantedAudience, oautherr.InvalidTarget)
	if e != nil {
		return e
	}

	sess, ok := ar.GetSession().(*Session)
	if !ok {
		return &Internal{Err: errors.New("refresh_token: session is not a *provider.Session")}
	}
	if err := json.Unmarshal(rt.Grant.Session, sess); err != nil {
		return &Internal{Err: err}
	}
	sess.grant = rt.Grant
	ar.SetID(rt.Grant.ID)
	ar.SetRequestedScopes(rt.Grant.RequestedScopes)
	for _, s := range scopes {
		ar.GrantScope(s)
	}
	for _, a := range auds {
		ar.GrantAudience(a)
	}
	return nil
}

// narrow returns what to grant: everything originally granted when nothing
// is requested, else the requested values, each of which must have been
// granted.
func narrow(param string, requested, granted []string, fail func(string, ...any) *oautherr.Error) ([]string, *oautherr.Error) {
	if len(requested) == 0 {
		return granted, nil
	}
	for _, v := range requested {
		if !slices.Contains(granted, v) {
			return nil, fail("%s %s was not granted to this refresh token; a refresh can only narrow it", param, oautherr.Quote(v))
		}
	}
	return requested, nil
}

// PopulateTokenEndpointResponse rotates: the presented token is
// deactivated atomically (of concurrent uses exactly one gets here), then a
// new access token and a new refresh token are issued for the same grant.
// The new refresh token keeps the grant's full scope (RFC 6749 §6); only
// the access token carries the narrowed one.
func (h *refreshGrant) PopulateTokenEndpointResponse(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	sess, ok := ar.GetSession().(*Session)
	if !ok || sess.grant == nil {
		return &Internal{Err: errors.New("refresh_token: the session lost its grant")}
	}
	tokens := h.p.opts.Tokens
	access, jti, err := h.p.mintAccessToken(ctx, storage.GrantRefreshToken, ar)
	if err != nil {
		return err
	}
	// Noted before the rotation: if the rotation then fails, a note of a
	// token never handed out is harmless.
	if err := tokens.RecordAccessToken(ctx, jti, ar.GetID(), sess.GetExpiresAt(fosite.AccessToken)); err != nil {
		return storageFailure(err)
	}
	refresh, next, err := h.p.newRefreshToken(ar, sess.grant, jti)
	if err != nil {
		return err
	}
	old := hashToken(ar.GetRequestForm().Get("refresh_token"))
	if err := tokens.RotateRefreshToken(ctx, old, next); err != nil {
		if errors.Is(err, storage.ErrAlreadyUsed) || errors.Is(err, storage.ErrNotFound) {
			return oautherr.InvalidGrant("the refresh token was already used")
		}
		return storageFailure(err)
	}
	resp.SetAccessToken(access)
	resp.SetTokenType("Bearer")
	resp.SetExtra("refresh_token", refresh)
	return nil
}

// newRefreshToken makes a refresh token for grant g, valid for the
// client's refresh lifetime from now, and the record to store for it.
func (p *Provider) newRefreshToken(ar fosite.AccessRequester, g *storage.Grant, jti string) (string, *storage.RefreshToken, error) {
	token, err := randomToken(p.opts.Rand, refreshPrefix)
	if err != nil {
		return "", nil, &Internal{Err: err}
	}
	c := storageClient(ar.GetClient())
	exp := p.opts.Now().Add(p.refreshTokenTTL(c))
	ar.GetSession().SetExpiresAt(fosite.RefreshToken, exp)
	next := g.Clone()
	if next.Session, err = json.Marshal(ar.GetSession()); err != nil {
		return "", nil, &Internal{Err: err}
	}
	return token, &storage.RefreshToken{
		Signature: hashToken(token), Grant: next, AccessTokenID: jti, ExpiresAt: exp, Active: true,
	}, nil
}

func (h *refreshGrant) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

func (h *refreshGrant) CanHandleTokenEndpointRequest(_ context.Context, ar fosite.AccessRequester) bool {
	return ar.GetGrantTypes().ExactOne(storage.GrantRefreshToken)
}

// storageFailure is a store error on a request path: 503 when the store
// says it is unavailable, else the server's fault.
func storageFailure(err error) error {
	if errors.Is(err, storage.ErrUnavailable) {
		return oautherr.Unavailable("the authorization server cannot reach its storage; retry later")
	}
	return &Internal{Err: err}
}
