package provider

import (
	"context"
	"errors"
	"maps"

	"github.com/ory/fosite"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/refreshtoken"
	"github.com/tollgate-oauth/tollgate/storage"
)

// ExtensionGrant is a grant type the host defines (RFC 6749 §4.5).
type ExtensionGrant struct {
	Type     string
	Exchange func(ctx context.Context, req ExtensionRequest) (*ExtensionResult, error)
}

// ExtensionRequest is what an extension grant decides on.
type ExtensionRequest struct {
	Client    *storage.Client
	Params    map[string]string
	Scopes    []string
	Audiences []string
}

// ExtensionResult is what to issue.
type ExtensionResult struct {
	Subject      string
	Scopes       []string // nil: as requested
	Audiences    []string // nil: as requested
	Claims       map[string]any
	RefreshToken bool
}

// extensionGrant runs a host's grant inside fosite's token endpoint. The
// host decides who the token is for; tollgate still holds scopes and
// audiences to what the client may have.
type extensionGrant struct {
	p *Provider
	g ExtensionGrant
}

func (h *extensionGrant) HandleTokenEndpointRequest(ctx context.Context, ar fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	c := storageClient(ar.GetClient())
	if c == nil {
		return &Internal{Err: errors.New("extension grant: request has no tollgate client")}
	}
	params := map[string]string{}
	for k, v := range ar.GetRequestForm() {
		switch k {
		case "grant_type", "client_id", "scope", "audience":
		default:
			params[k] = v[0]
		}
	}
	res, err := h.g.Exchange(ctx, ExtensionRequest{
		Client: c, Params: params, Scopes: ar.GetRequestedScopes(), Audiences: ar.GetRequestedAudience(),
	})
	if err != nil {
		if oe, ok := errors.AsType[*oautherr.Error](err); ok {
			return oe
		}
		return &Internal{Err: err}
	}
	if res == nil {
		return oautherr.InvalidGrant("the grant was refused")
	}
	requested := res.Scopes
	if requested == nil {
		requested = ar.GetRequestedScopes()
	}
	requestedAud := res.Audiences
	if requestedAud == nil {
		requestedAud = ar.GetRequestedAudience()
	}
	sess, err := grantByPolicy(ar, c, requested, requestedAud)
	if err != nil {
		return err
	}
	sess.Subject = res.Subject
	if sess.Subject == "" {
		sess.Subject = c.ID
	}
	sess.Claims = maps.Clone(res.Claims)
	sess.issueRefresh = res.RefreshToken && c.HasGrantType(storage.GrantRefreshToken)
	return nil
}

func (h *extensionGrant) PopulateTokenEndpointResponse(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	sess, _ := ar.GetSession().(*Session)
	refresh := sess != nil && sess.issueRefresh
	family := ""
	if refresh {
		family = ar.GetID() // the grant becomes a family: its tokens name it
	}
	access, _, err := h.p.mintAccessToken(ctx, h.g.Type, ar, family)
	if err != nil {
		return err
	}
	resp.SetAccessToken(access)
	resp.SetTokenType("Bearer")
	if !refresh {
		return nil
	}
	c := storageClient(ar.GetClient())
	exp := h.p.opts.Now().Add(h.p.refreshTokenTTL(c))
	sess.SetExpiresAt(fosite.RefreshToken, exp)
	g, err := toGrant(ar)
	if err != nil {
		return &Internal{Err: err}
	}
	token, err := refreshtoken.Format(h.p.opts.RefreshKey, family, 1)
	if err != nil {
		return &Internal{Err: err}
	}
	f := &storage.Family{Grant: g, Generation: 1, ExpiresAt: exp, AccessExpiresAt: sess.GetExpiresAt(fosite.AccessToken)}
	if err := h.p.opts.Tokens.CreateFamily(ctx, f); err != nil {
		return StorageFailure(err)
	}
	resp.SetExtra("refresh_token", token)
	return nil
}

func (h *extensionGrant) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool {
	return false
}

func (h *extensionGrant) CanHandleTokenEndpointRequest(_ context.Context, ar fosite.AccessRequester) bool {
	return ar.GetGrantTypes().ExactOne(h.g.Type)
}
