package provider

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/ory/fosite"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/policy"
	"github.com/tollgate-oauth/tollgate/internal/tracing"
	"github.com/tollgate-oauth/tollgate/storage"
)

// LoginFunc tells the authorization endpoint who the user is. When it
// returns ok false it has answered the request itself (typically a
// redirect to the host's login page that comes back to the same URL).
type LoginFunc func(w http.ResponseWriter, r *http.Request) (subject string, ok bool)

// ConsentInput is what the user is asked to approve: the scopes and
// audiences policy would grant.
type ConsentInput struct {
	Subject, ClientID string
	Public            bool
	RedirectURI       string
	// NativeRedirect: RedirectURI is one any local program could receive
	// (see nativeRedirect).
	NativeRedirect   bool
	Scopes, Audience []string
}

// ConsentOutput is the answer. Err fails the request (server_error, or
// temporarily_unavailable for storage.ErrUnavailable); Denied refuses it
// (access_denied); otherwise Scopes are granted, a subset of the input's.
type ConsentOutput struct {
	Scopes []string
	Denied bool
	Err    error
}

// ConsentFunc asks for the user's consent. When it returns ok false it
// has answered the request itself (a consent page, typically).
type ConsentFunc func(w http.ResponseWriter, r *http.Request, in ConsentInput) (out ConsentOutput, ok bool)

// What Authorize answered, beside an OAuth error code.
const (
	AuthorizeIssued  = "issued"  // a code, redirected to the client
	AuthorizeLogin   = "login"   // the login hook answered
	AuthorizeConsent = "consent" // the consent hook answered
)

// Authorize serves the authorization endpoint (RFC 6749 §4.1.1): fosite
// validates the client, the exact redirect URI, response_type, state and
// the PKCE challenge; tollgate's policy decides scopes and audiences; the
// host's login hook names the user; its consent hook, if any, approves
// the scopes (perhaps fewer); fosite issues the code and redirects.
// Errors go back to the redirect URI only once it is validated (fosite
// decides); before that they are shown here. It returns how it answered:
// AuthorizeIssued, AuthorizeLogin, AuthorizeConsent, or the OAuth error
// code it answered with and that error's HTTP status.
func (p *Provider) Authorize(hw http.ResponseWriter, r *http.Request, login LoginFunc, consent ConsentFunc) (answer string, status int) {
	// fosite traces under the span in the context, error texts included:
	// hidden from it (tollgate's store spans still nest under it).
	ctx := tracing.Hide(r.Context())
	// Every answer fosite writes names the issuer (RFC 9207, against mix-up
	// attacks), error redirects included; the login hook writes to hw.
	w := issWriter{ResponseWriter: hw, iss: p.opts.Issuer}
	ar, err := p.fosite.NewAuthorizeRequest(ctx, r)
	if err != nil {
		return p.writeAuthorizeError(ctx, w, ar, err)
	}
	c := storageClient(ar.GetClient())
	if c == nil || !c.HasGrantType(storage.GrantAuthorizationCode) {
		return p.writeAuthorizeError(ctx, w, ar, tollgateError(fosite.ErrUnauthorizedClient, "this client may not use grant_type 'authorization_code'"))
	}
	// Policy before login: a request that will fail never shows the user a
	// login page.
	scopes, e := policy.Scopes(c, ar.GetRequestedScopes())
	if e != nil {
		return p.writeAuthorizeError(ctx, w, ar, toFosite(e))
	}
	auds, e := policy.Audiences(c, ar.GetRequestedAudience())
	if e != nil {
		return p.writeAuthorizeError(ctx, w, ar, toFosite(e))
	}
	if e := p.checkPKCE(ar, c); e != nil {
		return p.writeAuthorizeError(ctx, w, ar, toFosite(e))
	}
	subject, ok := login(hw, r)
	if !ok {
		return AuthorizeLogin, 0
	}
	if subject == "" {
		return p.writeAuthorizeError(ctx, w, ar, tollgateError(fosite.ErrAccessDenied, "no user is signed in"))
	}
	if consent != nil {
		out, ok := consent(hw, r, ConsentInput{
			Subject: subject, ClientID: c.ID, Public: c.Public,
			RedirectURI: ar.GetRedirectURI().String(), NativeRedirect: nativeRedirect(ar.GetRedirectURI()),
			Scopes: scopes, Audience: auds,
		})
		switch {
		case !ok:
			return AuthorizeConsent, 0
		case out.Err != nil:
			err := out.Err
			if !errors.Is(err, storage.ErrUnavailable) {
				// fosite names an error it does not know "error".
				err = fosite.ErrServerError.WithWrap(err)
			}
			return p.writeAuthorizeError(ctx, w, ar, err)
		case out.Denied:
			return p.writeAuthorizeError(ctx, w, ar, tollgateError(fosite.ErrAccessDenied, "the user denied the request"))
		}
		scopes = out.Scopes
	}
	for _, s := range scopes {
		ar.GrantScope(s)
	}
	for _, a := range auds {
		ar.GrantAudience(a)
	}
	resp, err := p.fosite.NewAuthorizeResponse(ctx, ar, &Session{Subject: subject})
	if err != nil {
		return p.writeAuthorizeError(ctx, w, ar, err)
	}
	p.fosite.WriteAuthorizeResponse(ctx, w, ar, resp)
	return AuthorizeIssued, 0
}

// toFosite turns a tollgate protocol error into fosite's, for fosite's
// authorization error writer.
func toFosite(e *oautherr.Error) error {
	return &fosite.RFC6749Error{ErrorField: e.Code, DescriptionField: e.Description, CodeField: e.Status}
}

// issWriter adds iss to the query of a redirect back to the client. Only
// the query response mode is offered (clients cannot ask for another), so
// the Location header carries every parameter.
type issWriter struct {
	http.ResponseWriter
	iss string
}

func (w issWriter) WriteHeader(code int) {
	if code == http.StatusFound || code == http.StatusSeeOther {
		if loc, err := url.Parse(w.Header().Get("Location")); err == nil && loc.IsAbs() {
			q := loc.Query()
			if !q.Has("iss") {
				q.Set("iss", w.iss)
				loc.RawQuery = q.Encode()
				w.Header().Set("Location", loc.String())
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// writeAuthorizeError writes an error the way fosite does (to the
// redirect URI once it is validated, else directly), after three
// corrections: the answer always goes in the query (the only mode offered;
// a client that asked for another gets its error where it can read iss),
// errors fosite names outside RFC 6749 §4.1.2.1 become invalid_request,
// and the description is tollgate's (wording.go), not fosite's. It returns
// the error code and status it answered with.
func (p *Provider) writeAuthorizeError(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, err error) (code string, status int) {
	if req, ok := ar.(*fosite.AuthorizeRequest); ok {
		req.ResponseMode = fosite.ResponseModeQuery
	}
	if errors.Is(err, storage.ErrUnavailable) {
		// fosite would say invalid_client ("does not exist") or server_error.
		err = tollgateError(fosite.ErrTemporarilyUnavailable, storageDown)
	}
	fe, ok := errors.AsType[*fosite.RFC6749Error](err)
	if !ok {
		fe = fosite.ErrServerError.WithWrap(err) // what fosite would make of it
	}
	form := ar.GetRequestForm()
	switch {
	case fe.ErrorField == "invalid_state": // fosite's code for a state under 8 characters
		e := *fe
		e.ErrorField, e.CodeField = oautherr.CodeInvalidRequest, http.StatusBadRequest
		fe = &e
	case fe.ErrorField == fosite.ErrUnsupportedResponseType.ErrorField && form.Get("response_type") == "":
		fe = tollgateError(fosite.ErrInvalidRequest, "the response_type parameter is missing")
	}
	fe = reworded(fe, form)
	p.fosite.WriteAuthorizeError(ctx, w, ar, fe)
	return fe.ErrorField, fe.CodeField
}

// checkPKCE applies fosite's PKCE rules before the user is asked to sign
// in (fosite's own check runs when the code is issued, after login): a
// request that will be refused never shows a login page.
func (p *Provider) checkPKCE(ar fosite.AuthorizeRequester, c *storage.Client) *oautherr.Error {
	challenge := ar.GetRequestForm().Get("code_challenge")
	method := ar.GetRequestForm().Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return oautherr.InvalidRequest("code_challenge_method was sent without code_challenge")
	case challenge == "" && (c.Public || !p.opts.PKCEOptional):
		return oautherr.InvalidRequest("PKCE is required: send code_challenge and code_challenge_method=S256")
	case challenge == "":
		return nil
	case method == "S256":
		return nil
	case method == "plain" || method == "":
		if !p.opts.PKCEPlain {
			return oautherr.InvalidRequest("code_challenge_method must be S256; plain is not allowed")
		}
		return nil
	}
	return oautherr.InvalidRequest("code_challenge_method %s is not supported; use S256", oautherr.Quote(method))
}
