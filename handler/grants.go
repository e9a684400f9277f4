package handler

import (
	"context"
	"net/http"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/provider"
	"github.com/tollgate-oauth/tollgate/storage"
)

// Grant is an extension grant type (RFC 6749 §4.5): the "customized flows
// for trusted clients" an API offers beside the standard grants, such as
// RFC 8693 token exchange or a partner-specific assertion. Only clients
// that list Type in their GrantTypes may use it; they authenticate as for
// any grant first.
type Grant struct {
	// Type is the grant_type value: a URI
	// ("urn:ietf:params:oauth:grant-type:token-exchange") or a name.
	Type string
	// Exchange checks a request and says what to issue. Return an error
	// from GrantError for a protocol error the client should see; any other
	// error is the server's (500, logged).
	Exchange func(ctx context.Context, req GrantRequest) (*GrantResult, error)
}

// GrantRequest is a token request for an extension grant.
type GrantRequest struct {
	// Client is the authenticated client. Do not modify it.
	Client *storage.Client
	// Params are the request's other parameters (everything but
	// grant_type, client credentials, scope and audience), already held to
	// the endpoint's rules: single, no stray whitespace or control
	// characters.
	Params map[string]string
	// Scopes and Audience are what the client asked for.
	Scopes   []string
	Audience []string
}

// GrantResult is what an extension grant issues. Scopes and audiences are
// still held to what the client may have, as for every grant.
type GrantResult struct {
	// Subject is the token's sub. Default: the client id.
	Subject string
	// Scopes to grant. Nil: as requested (or the client's defaults).
	Scopes []string
	// Audience to grant. Nil: as requested (or the client's first).
	Audience []string
	// Claims are added to the access token (and to tokens refreshed from
	// it); they may not replace the registered ones.
	Claims map[string]any
	// RefreshToken also issues a refresh token, if the client may use
	// refresh_token.
	RefreshToken bool
}

// GrantError returns an error the token endpoint answers with the given
// OAuth error code (invalid_grant, invalid_request, invalid_scope,
// unauthorized_client, ...) and description (no secrets: the client sees
// it).
func GrantError(code, description string) error {
	status := http.StatusBadRequest
	if code == oautherr.CodeInvalidClient {
		status = http.StatusUnauthorized
	}
	return &oautherr.Error{Status: status, Code: code, Description: description}
}

func builtinGrant(gt string) bool {
	return gt == storage.GrantClientCredentials || gt == storage.GrantAuthorizationCode || gt == storage.GrantRefreshToken
}

func extensionGrants(grants []Grant) []provider.ExtensionGrant {
	out := make([]provider.ExtensionGrant, 0, len(grants))
	for _, g := range grants {
		exchange := g.Exchange
		out = append(out, provider.ExtensionGrant{
			Type: g.Type,
			Exchange: func(ctx context.Context, req provider.ExtensionRequest) (*provider.ExtensionResult, error) {
				res, err := exchange(ctx, GrantRequest{Client: req.Client, Params: req.Params, Scopes: req.Scopes, Audience: req.Audiences})
				if err != nil || res == nil {
					return nil, err
				}
				return &provider.ExtensionResult{
					Subject: res.Subject, Scopes: res.Scopes, Audiences: res.Audience,
					Claims: res.Claims, RefreshToken: res.RefreshToken,
				}, nil
			},
		})
	}
	return out
}
