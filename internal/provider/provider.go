// Package provider is tollgate's adapter over github.com/ory/fosite. Nothing
// outside internal/ sees a fosite type: the handler passes a parsed request
// and an authenticated storage.Client in, and gets a token response or an
// *oautherr.Error out.
//
// What tollgate does itself rather than through fosite, and why:
//   - request parsing (fosite reads form bodies only, ignores repeats and
//     trims whitespace): internal/tokenrequest, before fosite;
//   - client authentication (fosite hashes with bcrypt, answers unknown
//     clients faster than wrong secrets and sends no WWW-Authenticate): the
//     handler, whose result reaches fosite through ClientAuthenticationStrategy;
//   - client_credentials (fosite refuses public clients, never grants scope
//     or audience and always writes the token to storage): clientCredentials
//     replaces fosite's handler;
//   - JWT minting (fosite has no client_id, typ at+jwt, injected clock or
//     EdDSA verification): internal/accesstoken.
package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ory/fosite"

	"github.com/tollgate-oauth/tollgate/internal/keys"
	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/scope"
	"github.com/tollgate-oauth/tollgate/internal/tokenrequest"
	"github.com/tollgate-oauth/tollgate/storage"
)

// ClaimsInput is what a custom-claims hook learns about the token.
type ClaimsInput struct {
	ClientID  string
	Subject   string
	GrantType string
	Scopes    []string
	Audience  []string
}

// ClaimsFunc returns extra claims for a token.
type ClaimsFunc func(ctx context.Context, in ClaimsInput) (map[string]any, error)

// Options configure a Provider. Every field is required unless noted.
type Options struct {
	Issuer         string
	TokenURL       string
	Keys           *keys.Set
	Clients        storage.ClientGetter
	AccessTokenTTL time.Duration
	Now            func() time.Time
	Rand           io.Reader  // nil: crypto/rand
	Claims         ClaimsFunc // optional
}

// Provider issues tokens through fosite.
type Provider struct {
	opts   Options
	fosite *fosite.Fosite
	grants map[string]bool
}

// Response is a successful token response.
type Response struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	CreatedAt   int64  `json:"created_at"`
}

// New builds the fosite provider. Every fosite.Config field that fosite
// would otherwise fill lazily on first use (a data race under concurrent
// first requests) is set here.
func New(o Options) (*Provider, error) {
	if o.Keys == nil || o.Clients == nil || o.Now == nil || o.Issuer == "" || o.AccessTokenTTL <= 0 {
		return nil, errors.New("provider: Issuer, Keys, Clients, Now and AccessTokenTTL are required")
	}
	cfg := &fosite.Config{
		AccessTokenLifespan: o.AccessTokenTTL,
		AccessTokenIssuer:   o.Issuer,
		TokenURL:            o.TokenURL,
		ScopeStrategy:       scopeStrategy,
		// Audiences are opaque strings compared exactly, not URL prefixes.
		AudienceMatchingStrategy:     fosite.ExactAudienceMatchingStrategy,
		ClientSecretsHasher:          refuseHasher{},
		JWKSFetcherStrategy:          noJWKS{},
		ClientAuthenticationStrategy: authenticatedClient,
		SendDebugMessagesToClients:   false,
	}
	p := &Provider{opts: o, grants: make(map[string]bool)}
	p.fosite = fosite.NewOAuth2Provider(clientManager{o.Clients}, cfg)
	p.register(cfg, storage.GrantClientCredentials, &clientCredentials{p: p})
	return p, nil
}

func (p *Provider) register(cfg *fosite.Config, grant string, h fosite.TokenEndpointHandler) {
	cfg.TokenEndpointHandlers.Append(h)
	p.grants[grant] = true
}

// SupportsGrant reports whether a handler for grant type gt is registered.
func (p *Provider) SupportsGrant(gt string) bool { return p.grants[gt] }

// Token issues a token for an authenticated client. The error is always an
// *oautherr.Error; internal causes are returned wrapped in Internal.
func (p *Provider) Token(ctx context.Context, r *http.Request, req *tokenrequest.Request, client *storage.Client) (*Response, error) {
	ctx = withClient(ctx, client)
	// fosite reads r.PostForm; hand it the normalised parameters so it never
	// parses the (already consumed) body itself.
	form := req.Form()
	fr := r.WithContext(ctx)
	fr.PostForm, fr.Form = form, form

	ar, err := p.fosite.NewAccessRequest(ctx, fr, &Session{})
	if err != nil {
		return nil, protocolError(err)
	}
	resp, err := p.fosite.NewAccessResponse(ctx, ar)
	if err != nil {
		return nil, protocolError(err)
	}
	return toResponse(resp)
}

func toResponse(resp fosite.AccessResponder) (*Response, error) {
	m := resp.ToMap()
	out := &Response{AccessToken: resp.GetAccessToken(), TokenType: resp.GetTokenType()}
	out.ExpiresIn, _ = m["expires_in"].(int64)
	out.Scope, _ = m["scope"].(string)
	out.CreatedAt, _ = m["created_at"].(int64)
	return out, nil
}

// Internal is a failure that is the server's, not the client's: it is
// logged and answered with a bare server_error.
type Internal struct{ Err error }

func (e *Internal) Error() string { return "internal: " + e.Err.Error() }
func (e *Internal) Unwrap() error { return e.Err }

// protocolError maps what fosite and tollgate's own handlers return to an
// *oautherr.Error, or an *Internal for server-side failures.
func protocolError(err error) error {
	if oe, ok := errors.AsType[*oautherr.Error](err); ok {
		return oe
	}
	if ie, ok := errors.AsType[*Internal](err); ok {
		return ie
	}
	if errors.Is(err, storage.ErrUnavailable) {
		return oautherr.Unavailable("the authorization server cannot reach its storage; retry later")
	}
	if fe, ok := errors.AsType[*fosite.RFC6749Error](err); ok && fe.CodeField < 500 {
		desc := fe.DescriptionField
		if fe.HintField != "" {
			desc += " " + fe.HintField
		}
		return &oautherr.Error{Status: fe.CodeField, Code: fe.ErrorField, Description: desc}
	}
	return &Internal{Err: err}
}

func scopeStrategy(allowed []string, needle string) bool { return scope.Allowed(allowed, needle) }

// refuseHasher stands in for fosite's bcrypt hasher, which tollgate never
// uses: client secrets are checked by the handler before fosite runs.
type refuseHasher struct{}

func (refuseHasher) Compare(context.Context, []byte, []byte) error {
	return errors.New("provider: fosite must not verify client secrets")
}

func (refuseHasher) Hash(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("provider: fosite must not hash client secrets")
}

// noJWKS refuses private_key_jwt client authentication, which tollgate does
// not offer yet; setting it also keeps fosite from building its default
// fetcher lazily.
type noJWKS struct{}

func (noJWKS) Resolve(context.Context, string, bool) (*fositeJWKS, error) {
	return nil, fmt.Errorf("provider: %w", fosite.ErrInvalidClient.WithHint("private_key_jwt is not supported"))
}
