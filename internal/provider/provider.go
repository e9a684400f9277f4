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
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/pkce"

	"github.com/tollgate-oauth/tollgate/internal/keys"
	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/refreshtoken"
	"github.com/tollgate-oauth/tollgate/internal/scope"
	"github.com/tollgate-oauth/tollgate/internal/tokenrequest"
	"github.com/tollgate-oauth/tollgate/internal/tracing"
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
	Keys           *keys.Ring // the current keys: rotation replaces them
	Clients        storage.ClientGetter
	AccessTokenTTL time.Duration
	Now            func() time.Time
	Rand           io.Reader  // nil: crypto/rand
	Claims         ClaimsFunc // optional

	// Tokens keeps codes, refresh-token families and revocations.
	Tokens storage.TokenStore
	// RefreshKey is the refresh tokens' MAC key (refreshtoken.KeySize
	// bytes): every instance sharing Tokens must have the same.
	RefreshKey      []byte
	RefreshTokenTTL time.Duration
	CodeTTL         time.Duration
	// AuthorizationCode enables the authorization endpoint and the
	// authorization_code grant (the host can tell who the user is).
	AuthorizationCode bool
	// PKCEPlain allows code_challenge_method=plain; PKCEOptional lets
	// confidential clients skip PKCE (public clients never may).
	PKCEPlain, PKCEOptional bool
	// Grants are extension grants, by grant_type.
	Grants []ExtensionGrant
	// Tracer traces the token request's policy, mint and sign steps
	// (optional: the zero Tracer is off).
	Tracer tracing.Tracer
	// OnReplay, if set, is told of every replayed authorization code and
	// reused refresh token, once its grant is revoked.
	OnReplay func(context.Context, Replay)
}

// Replay is a single-use token presented again: its grant's tokens have
// just been revoked.
type Replay struct {
	// Refresh: a refresh token of an earlier generation was presented (or
	// lost a race to rotate); otherwise a used authorization code was.
	Refresh                    bool
	ClientID, Subject, GrantID string
}

// replayed tells Options.OnReplay of r.
func (p *Provider) replayed(ctx context.Context, r Replay) {
	if p.opts.OnReplay != nil {
		p.opts.OnReplay(ctx, r)
	}
}

// Provider issues tokens through fosite.
type Provider struct {
	opts   Options
	fosite *fosite.Fosite
	store  *fositeStore
	grants map[string]bool
}

// Response is a successful token response.
type Response struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	CreatedAt    int64  `json:"created_at"`
	RefreshToken string `json:"refresh_token,omitempty"`

	// For the audit record, not the client: the access token's jti and
	// sub, and its grant family ("" for client_credentials).
	JTI     string `json:"-"`
	Subject string `json:"-"`
	GrantID string `json:"-"`
}

// New builds the fosite provider. Every fosite.Config field that fosite
// would otherwise fill lazily on first use (a data race under concurrent
// first requests) is set here.
func New(o Options) (*Provider, error) {
	if o.Keys == nil || o.Clients == nil || o.Tokens == nil || o.Now == nil || o.Issuer == "" ||
		o.AccessTokenTTL <= 0 || o.RefreshTokenTTL <= 0 || o.CodeTTL <= 0 || len(o.RefreshKey) != refreshtoken.KeySize {
		return nil, errors.New("provider: Issuer, Keys, Clients, Tokens, Now, RefreshKey and the TTLs are required")
	}
	cfg := &fosite.Config{
		AccessTokenLifespan:   o.AccessTokenTTL,
		RefreshTokenLifespan:  o.RefreshTokenTTL,
		AuthorizeCodeLifespan: o.CodeTTL,
		AccessTokenIssuer:     o.Issuer,
		TokenURL:              o.TokenURL,
		ScopeStrategy:         scopeStrategy,
		// Audiences are opaque strings compared exactly, not URL prefixes.
		AudienceMatchingStrategy:     fosite.ExactAudienceMatchingStrategy,
		ClientSecretsHasher:          refuseHasher{},
		JWKSFetcherStrategy:          noJWKS{},
		ClientAuthenticationStrategy: authenticatedClient,
		SendDebugMessagesToClients:   false,
		RedirectSecureChecker:        redirectSecure,
		// PKCE: S256 required for everyone unless configured otherwise.
		EnforcePKCE:                    !o.PKCEOptional,
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: o.PKCEPlain,
		// Every client allowed refresh_token gets one; no "offline" scope.
		RefreshTokenScopes: []string{},
		// What the code's stored request keeps for the token request to
		// check: the redirect URI it was bound to and the PKCE challenge.
		SanitationWhiteList: []string{"redirect_uri", "code_challenge", "code_challenge_method"},
		MinParameterEntropy: fosite.MinParameterEntropy,
	}
	p := &Provider{opts: o, grants: make(map[string]bool)}
	p.store = &fositeStore{p: p, clients: o.Clients, tokens: o.Tokens}
	p.fosite = fosite.NewOAuth2Provider(p.store, cfg)
	strategy := &tokenStrategy{p: p}

	p.register(cfg, storage.GrantClientCredentials, &clientCredentials{p: p})
	if o.AuthorizationCode {
		explicit := &oauth2.AuthorizeExplicitGrantHandler{
			AccessTokenStrategy: strategy, RefreshTokenStrategy: strategy, AuthorizeCodeStrategy: strategy,
			CoreStorage: p.store, TokenRevocationStorage: p.store, Config: cfg,
		}
		cfg.AuthorizeEndpointHandlers.Append(explicit)
		p.register(cfg, storage.GrantAuthorizationCode, explicit)
		// After the code handler: PKCE needs the code it issued.
		pk := &pkce.Handler{AuthorizeCodeStrategy: strategy, Storage: p.store, Config: cfg}
		cfg.AuthorizeEndpointHandlers.Append(pk)
		cfg.TokenEndpointHandlers.Append(pk)
	}
	p.register(cfg, storage.GrantRefreshToken, &refreshGrant{p: p})
	for _, g := range o.Grants {
		if p.grants[g.Type] {
			return nil, fmt.Errorf("provider: grant type %q is registered twice", g.Type)
		}
		p.register(cfg, g.Type, &extensionGrant{p: p, g: g})
	}
	return p, nil
}

func (p *Provider) register(cfg *fosite.Config, grant string, h fosite.TokenEndpointHandler) {
	cfg.TokenEndpointHandlers = append(cfg.TokenEndpointHandlers, h)
	p.grants[grant] = true
}

// SupportsGrant reports whether a handler for grant type gt is registered.
func (p *Provider) SupportsGrant(gt string) bool { return p.grants[gt] }

// GrantTypes lists the registered grant types, for the metadata.
func (p *Provider) GrantTypes() []string {
	out := slices.Sorted(maps.Keys(p.grants))
	return out
}

// Token issues a token for an authenticated client. The error is an
// *oautherr.Error, or an *Internal for the server's own failures.
func (p *Provider) Token(ctx context.Context, r *http.Request, req *tokenrequest.Request, client *storage.Client) (*Response, error) {
	if req.GrantType == storage.GrantAuthorizationCode && req.Get("code") == "" {
		return nil, oautherr.InvalidRequest("the code parameter is missing")
	}
	if req.GrantType == storage.GrantClientCredentials {
		return p.clientCredentialsToken(ctx, req, client)
	}
	ctx = withClient(ctx, client)
	// fosite reads r.PostForm; hand it the normalised parameters so it never
	// parses the (already consumed) body itself.
	form := req.Form()
	fr := r.WithContext(ctx)
	fr.PostForm, fr.Form = form, form

	// fosite traces under whatever span ctx holds, with error texts in
	// its spans: tracing.Hide keeps it out of tollgate's traces.
	sctx, span := p.opts.Tracer.Start(ctx, SpanPolicy)
	ar, err := p.fosite.NewAccessRequest(tracing.Hide(sctx), fr, &Session{})
	endStep(span, err)
	if err != nil {
		return nil, protocolError(err, form)
	}
	sctx, span = p.opts.Tracer.Start(ctx, SpanMint)
	resp, err := p.fosite.NewAccessResponse(tracing.Hide(sctx), ar)
	endStep(span, err)
	if err != nil {
		return nil, protocolError(err, form)
	}
	return toResponse(ar, resp)
}

// The spans of the token request's steps inside the provider: policy
// decides what the request may have (and, for a code or a refresh token,
// reads it); mint makes and records the tokens; sign is the signature.
const (
	SpanPolicy = "tollgate.token.policy"
	SpanMint   = "tollgate.token.mint"
	SpanSign   = "tollgate.token.sign"
)

// endStep ends a step's span, marked failed if err is set: "refused" for
// the client's error, "error" for the server's (never err's text).
func endStep(span tracing.Span, err error) {
	if err != nil {
		if _, ok := errors.AsType[*oautherr.Error](err); ok {
			span.Fail("refused")
		} else {
			span.Fail("error")
		}
	}
	span.End()
}

// toResponse reads the response fosite assembled. expires_in and
// created_at come from the session tollgate's strategy filled, on the
// injected clock (fosite's own helpers use the wall clock and truncate:
// 900 s becomes 899).
func toResponse(ar fosite.AccessRequester, resp fosite.AccessResponder) (*Response, error) {
	sess, ok := ar.GetSession().(*Session)
	if !ok {
		return nil, &Internal{Err: errors.New("provider: response without a tollgate session")}
	}
	out := &Response{
		AccessToken: resp.GetAccessToken(), TokenType: "Bearer",
		ExpiresIn: int64(sess.GetExpiresAt(fosite.AccessToken).Sub(sess.IssuedAt) / time.Second),
		Scope:     scope.Join(ar.GetGrantedScopes()), CreatedAt: sess.IssuedAt.Unix(),
	}
	// GetExtra, not ToMap: ToMap builds a map of every field per token.
	out.RefreshToken, _ = resp.GetExtra("refresh_token").(string)
	out.JTI, out.Subject, out.GrantID = sess.jti, sess.Subject, sess.grantID
	return out, nil
}

// Internal is a failure that is the server's, not the client's: it is
// logged and answered with a bare server_error.
type Internal struct{ Err error }

func (e *Internal) Error() string { return "internal: " + e.Err.Error() }
func (e *Internal) Unwrap() error { return e.Err }

// protocolError maps what fosite and tollgate's own handlers return to an
// *oautherr.Error, or an *Internal for server-side failures. form is the
// request's parameters, which fosite's errors are reworded with
// (wording.go).
func protocolError(err error, form url.Values) error {
	if oe, ok := errors.AsType[*oautherr.Error](err); ok {
		return oe
	}
	if errors.Is(err, storage.ErrAlreadyUsed) || errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		// A lost race or a replay: either way the grant's tokens are revoked
		// by now (see fositeStore).
		return oautherr.InvalidGrant("the authorization code or refresh token was already used")
	}
	if ie, ok := errors.AsType[*Internal](err); ok {
		return ie
	}
	if errors.Is(err, storage.ErrUnavailable) {
		return oautherr.Unavailable(storageDown)
	}
	if fe, ok := errors.AsType[*fosite.RFC6749Error](err); ok {
		if fe.CodeField < 500 {
			return &oautherr.Error{Status: fe.CodeField, Code: fe.ErrorField, Description: describe(fe, form)}
		}
		return &Internal{Err: failure(fe)}
	}
	return &Internal{Err: err}
}

// storageDown is the description of every request that failed because
// the store did not answer.
const storageDown = oautherr.StorageDown

// failure is what the log says of a server-side error fosite raised: its
// Error() is the bare code ("server_error"), so the cause it wraps, or
// its debug text when it wraps none, is what tells the operator anything.
func failure(fe *fosite.RFC6749Error) error {
	if c := fe.Cause(); c != nil {
		return fmt.Errorf("%s while handling the grant: %w", fe.ErrorField, c)
	}
	if fe.DebugField != "" {
		return fmt.Errorf("%s while handling the grant: %s", fe.ErrorField, fe.DebugField)
	}
	return fmt.Errorf("%s while handling the grant (no cause given)", fe.ErrorField)
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

// redirectSecure accepts https, plain http to a loopback host (RFC 8252
// §7.3) and private-use schemes of native apps (RFC 8252 §7.1). Clients
// register their exact URIs, which storage validation already holds to the
// same rule; this is fosite's second look.
func redirectSecure(_ context.Context, u *url.URL) bool {
	return u.Scheme == "https" || u.Scheme != "" && nativeRedirect(u)
}

// nativeRedirect reports a redirect URI of a native app: http to a
// loopback host (RFC 8252 §7.3) or a private-use scheme (§7.1). Any
// program on the user's machine can receive such a redirect.
func nativeRedirect(u *url.URL) bool {
	switch u.Scheme {
	case "https":
		return false
	case "http":
		h := u.Hostname()
		return h == "localhost" || h == "127.0.0.1" || h == "::1"
	}
	return true
}
