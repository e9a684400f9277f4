package provider

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/ory/fosite"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/refreshtoken"
	"github.com/tollgate-oauth/tollgate/internal/scope"
	"github.com/tollgate-oauth/tollgate/storage"
)

// refreshGrant is the refresh_token grant (RFC 6749 §6), in place of
// fosite's, which cannot narrow scope and answers a lost rotation race with
// a retry hint. Every use rotates the token: the family moves to the next
// generation. Presenting an earlier generation again revokes the whole
// grant family (RFC 9700 §4.14.2), and so does losing a race to rotate the
// same token: the loser cannot tell a concurrent retry from a replay, so
// it is treated as one. A request may narrow the scope or audience but
// never widen them, nor keep one the client has lost since.
type refreshGrant struct{ p *Provider }

var _ fosite.TokenEndpointHandler = (*refreshGrant)(nil)

const reuseRevoked = "the refresh token was already used; every token of its grant is now revoked"

func (h *refreshGrant) HandleTokenEndpointRequest(ctx context.Context, ar fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	c := storageClient(ar.GetClient())
	token := ar.GetRequestForm().Get("refresh_token")
	if c == nil || token == "" {
		return oautherr.InvalidRequest("the refresh_token parameter is missing")
	}
	ref, err := h.p.lookupRefresh(ctx, token)
	switch {
	case err != nil:
		return err
	case ref == nil || ref.family.Grant.ClientID != c.ID:
		// Another client's token is not spent by its attempt.
		return oautherr.InvalidGrant("the refresh token is invalid")
	case !ref.live:
		if err := h.p.revokeFamily(ctx, ref.family.Grant.ID, c.ID); err != nil {
			return StorageFailure(err)
		}
		h.p.replayed(ctx, Replay{Refresh: true, ClientID: c.ID, Subject: ref.family.Grant.Subject, GrantID: ref.family.Grant.ID})
		return oautherr.InvalidGrant(reuseRevoked)
	case ref.family.Revoked:
		return oautherr.InvalidGrant("the refresh token was revoked")
	case !h.p.opts.Now().Before(ref.family.ExpiresAt):
		return oautherr.InvalidGrant("the refresh token has expired")
	}
	g := ref.family.Grant

	scopes, e := narrow("scope", ar.GetRequestedScopes(), g.GrantedScopes, oautherr.InvalidScope)
	if e != nil {
		return e
	}
	// The client may have lost a scope or an audience since the grant:
	// never grant one it no longer has.
	for _, s := range scopes {
		if !scope.Allowed(c.Scopes, s) {
			return oautherr.InvalidScope("scope %s is no longer allowed for this client", oautherr.Quote(s))
		}
	}
	auds, e := narrow("audience", ar.GetRequestedAudience(), g.GrantedAudience, oautherr.InvalidTarget)
	if e != nil {
		return e
	}
	for _, a := range auds {
		if !slices.Contains(c.Audiences, a) {
			return oautherr.InvalidTarget("audience %s is no longer allowed for this client", oautherr.Quote(a))
		}
	}

	sess, ok := ar.GetSession().(*Session)
	if !ok {
		return &Internal{Err: errors.New("refresh_token: session is not a *provider.Session")}
	}
	if err := json.Unmarshal(g.Session, sess); err != nil {
		return &Internal{Err: err}
	}
	sess.refresh = ref
	ar.SetID(g.ID)
	ar.SetRequestedScopes(g.RequestedScopes)
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

// PopulateTokenEndpointResponse rotates: the family moves from the
// presented generation to the next, atomically (of concurrent uses exactly
// one gets past AdvanceFamily), and a new access token and the next
// generation's refresh token are issued. The new refresh token keeps the
// grant's full scope (RFC 6749 §6); only the access token carries the
// narrowed one.
func (h *refreshGrant) PopulateTokenEndpointResponse(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	sess, ok := ar.GetSession().(*Session)
	if !ok || sess.refresh == nil {
		return &Internal{Err: errors.New("refresh_token: the session lost its family")}
	}
	id, from := sess.refresh.family.Grant.ID, sess.refresh.gen
	access, _, err := h.p.mintAccessToken(ctx, storage.GrantRefreshToken, ar, id)
	if err != nil {
		return err
	}
	exp := h.p.opts.Now().Add(h.p.refreshTokenTTL(storageClient(ar.GetClient())))
	sess.SetExpiresAt(fosite.RefreshToken, exp)
	err = h.p.opts.Tokens.AdvanceFamily(ctx, id, from, exp, sess.GetExpiresAt(fosite.AccessToken))
	switch {
	case errors.Is(err, storage.ErrAlreadyUsed):
		// Lost the race: a replay like any other (see refreshGrant).
		g := sess.refresh.family.Grant
		if err := h.p.revokeFamily(ctx, id, g.ClientID); err != nil {
			return StorageFailure(err)
		}
		h.p.replayed(ctx, Replay{Refresh: true, ClientID: g.ClientID, Subject: g.Subject, GrantID: id})
		return oautherr.InvalidGrant(reuseRevoked)
	case errors.Is(err, storage.ErrNotFound):
		return oautherr.InvalidGrant("the refresh token is invalid")
	case err != nil:
		return StorageFailure(err)
	}
	refresh, err := refreshtoken.Format(h.p.opts.RefreshKey, id, from+1)
	if err != nil {
		return &Internal{Err: err}
	}
	resp.SetAccessToken(access)
	resp.SetTokenType("Bearer")
	resp.SetExtra("refresh_token", refresh)
	return nil
}

func (h *refreshGrant) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

func (h *refreshGrant) CanHandleTokenEndpointRequest(_ context.Context, ar fosite.AccessRequester) bool {
	return ar.GetGrantTypes().ExactOne(storage.GrantRefreshToken)
}

// StorageFailure is a store error on a request path: 503
// temporarily_unavailable when the store says it is unavailable, else the
// server's fault (an *Internal). Protocol errors pass through.
func StorageFailure(err error) error {
	if errors.Is(err, storage.ErrUnavailable) {
		return oautherr.Unreachable()
	}
	if _, ok := errors.AsType[*oautherr.Error](err); ok {
		return err
	}
	return &Internal{Err: err}
}
