package provider

import (
	"context"
	"net/http"
	"net/url"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/tollgate-oauth/tollgate/storage"
)

type fositeJWKS = jose.JSONWebKeySet

// client presents a storage.Client to fosite.
type client struct{ c *storage.Client }

var (
	_ fosite.Client             = client{}
	_ fosite.ResponseModeClient = client{}
)

func (c client) GetID() string                   { return c.c.ID }
func (c client) GetHashedSecret() []byte         { return []byte(c.c.SecretHash) }
func (c client) GetRedirectURIs() []string       { return c.c.RedirectURIs }
func (c client) GetGrantTypes() fosite.Arguments { return c.c.GrantTypes }

// GetResponseTypes is always "code": whether the client may use the
// authorization code grant is tollgate's check, with tollgate's error
// (unauthorized_client), not fosite's (unsupported_response_type).
func (c client) GetResponseTypes() fosite.Arguments { return fosite.Arguments{"code"} }

// GetResponseModes makes fosite accept response_mode=query, the only mode
// offered: every answer's parameters, iss included, are in the query.
func (c client) GetResponseModes() []fosite.ResponseModeType {
	return []fosite.ResponseModeType{fosite.ResponseModeQuery}
}
func (c client) GetScopes() fosite.Arguments   { return c.c.Scopes }
func (c client) IsPublic() bool                { return c.c.Public }
func (c client) GetAudience() fosite.Arguments { return c.c.Audiences }

// storageClient returns the storage.Client behind a fosite.Client.
func storageClient(fc fosite.Client) *storage.Client {
	if c, ok := fc.(client); ok {
		return c.c
	}
	return nil
}

type clientKey struct{}

func withClient(ctx context.Context, c *storage.Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// authenticatedClient is fosite's ClientAuthenticationStrategy: the handler
// has authenticated the client before fosite runs and put it in the context.
func authenticatedClient(ctx context.Context, _ *http.Request, _ url.Values) (fosite.Client, error) {
	c, _ := ctx.Value(clientKey{}).(*storage.Client)
	if c == nil {
		return nil, fosite.ErrInvalidClient
	}
	return client{c}, nil
}
