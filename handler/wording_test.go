package handler_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// Every error a client can cause is described in tollgate's words, not
// fosite's (internal/provider/wording.go). fositeisms are the phrases of
// fosite's wording: its stock description of each error code (errors.go)
// and the hints of the code tollgate runs (authorize_request_handler.go,
// authorize_helper.go, audience_strategy.go, handler/oauth2,
// handler/pkce), compared lower-case.
var fositeisms = []string{
	"make sure",
	"the request is missing",                 // ErrInvalidRequest's stock text, and the response_type hint
	"at least be",                            // "must be at least be 8 characters long"
	"considered too weak",                    // ErrInvalidState
	"fosite",                                 //
	"oauth 2.0 client",                       // "The OAuth 2.0 Client is not allowed to request scope"
	"oauth 2.0 framework",                    //
	"whitelisted",                            // audience_strategy.go
	"pre-registered",                         // authorize_helper.go
	"openid connect",                         // tollgate offers no OpenID Connect
	"the op does not support",                // ErrRequestNotSupported and friends
	"resource owner or authorization server", // ErrAccessDenied
	"the provided authorization grant",       // ErrInvalidGrant
	"does not support obtaining",             // ErrUnsupportedResponseType, ErrUnsupportedResponseMode
	"not authorized to request a token",      // ErrUnauthorizedClient
	"client authentication failed (e.g.",     // ErrInvalidClient
	"invalid, unknown, or malformed",         // ErrInvalidScope
	"encountered an unexpected condition",    // ErrServerError
	"temporary overloading",                  // ErrTemporarilyUnavailable
	"not responsible for this request",       // ErrUnknownRequest
	"unable to",                              // "Unable to find initial PKCE data…"
	"can not",                                // "can not be longer than 128 characters"
	"[a-z]",                                  // "must only contain [a-Z], [0-9]…"
	"e.g.",
	"the authorize request",     // "does not match the one from the authorize request"
	"request parameter 'state'", // the state hint
	"pkce code verifier",        // handler/pkce's hints
	"initial pkce data",
	"misconfigured",
}

// oryWord is the vendor's name as a word (not in "memory").
var oryWord = regexp.MustCompile(`(?i)\bory\b`)

// afDescription is the error and error_description of an answer: the
// JSON body, or the query of an error redirect.
func afDescription(res afHTTP) (code, desc string) {
	if loc := res.header.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		if err != nil {
			return "", ""
		}
		return u.Query().Get("error"), u.Query().Get("error_description")
	}
	return res.str("error"), res.str("error_description")
}

// wantOwnWording checks res is the error wanted (status and code: the
// rewording changes neither) described in tollgate's words.
func wantOwnWording(t *testing.T, what string, res afHTTP, status int, code string) {
	t.Helper()
	gotCode, desc := afDescription(res)
	if res.status != status || gotCode != code {
		t.Errorf("%s: got %d %s (%q), want %d %s", what, res.status, gotCode, desc, status, code)
	}
	if desc == "" {
		t.Errorf("%s: no error_description", what)
	}
	lower := strings.ToLower(desc + " " + res.raw + " " + res.header.Get("Location"))
	for _, p := range fositeisms {
		if strings.Contains(lower, p) {
			t.Errorf("%s: %q holds fosite's wording %q", what, desc, p)
		}
	}
	if oryWord.MatchString(lower) {
		t.Errorf("%s: %q names the vendor", what, desc)
	}
	t.Logf("%s: %d %s: %s", what, res.status, gotCode, desc)
}

// TestWordingAuthorize drives the authorization endpoint's failures: those
// shown to the user (the redirect URI is not trusted yet) and those sent
// back to the client.
func TestWordingAuthorize(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	openid := "openid orders:read"
	shown := []struct {
		afAuthorizeCase
		status int
		code   string
	}{
		{afAuthorizeCase{name: "unknown client", mutate: afSet("client_id", "ghost")}, 401, "invalid_client"},
		{afAuthorizeCase{name: "no client_id", mutate: afDel("client_id")}, 401, "invalid_client"},
		{afAuthorizeCase{name: "no redirect_uri, two registered", mutate: afDel("redirect_uri")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "no redirect_uri, none registered", client: afResourceID, mutate: afDel("redirect_uri")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "redirect_uri of another host", mutate: afSet("redirect_uri", "https://evil.example.com/callback")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "redirect_uri with a fragment", mutate: afSet("redirect_uri", afWebRedirect+"#x")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "relative redirect_uri", mutate: afSet("redirect_uri", "/callback")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "redirect_uri over http", mutate: afSet("redirect_uri", "http://app.example.com/callback")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "request object", mutate: afSet("request", "x.y.z", "scope", openid)}, 400, "request_not_supported"},
		{afAuthorizeCase{name: "request_uri", mutate: afSet("request_uri", "https://app.example.com/r", "scope", openid)}, 400, "request_uri_not_supported"},
		{afAuthorizeCase{name: "request and request_uri", mutate: afSet("request", "x.y.z", "request_uri", "https://app.example.com/r", "scope", openid)}, 400, "invalid_request"},
		{afAuthorizeCase{name: "unknown response_mode", mutate: afSet("response_mode", "bogus")}, 400, "unsupported_response_mode"},
		{afAuthorizeCase{name: "repeated parameter", mutate: afAdd("state", afState)}, 400, "invalid_request"},
	}
	for _, tt := range shown {
		t.Run("shown/"+tt.name, func(t *testing.T) {
			t.Parallel()
			user := afUser
			wantOwnWording(t, tt.name, env.afAuthorizeRaw(t, tt.query(t), &user), tt.status, tt.code)
		})
	}
	redirected := afRedirectCases()
	redirected = append(redirected,
		afRedirectCase{afAuthorizeCase{name: "registration parameter", mutate: afSet("registration", "{}")}, "", "registration_not_supported", ""},
		afRedirectCase{afAuthorizeCase{name: "scope openid", mutate: afSet("scope", "openid")}, "", "invalid_scope", ""},
		afRedirectCase{afAuthorizeCase{name: "audience not allowed", mutate: afSet("audience", "https://evil.example.com")}, "", "invalid_request", ""},
		afRedirectCase{afAuthorizeCase{name: "response_type id_token", mutate: afSet("response_type", "id_token")}, "", "unsupported_response_type", ""},
		afRedirectCase{afAuthorizeCase{name: "response_type empty", mutate: afSet("response_type", "")}, "", "invalid_request", ""},
	)
	for _, tt := range redirected {
		t.Run("redirected/"+tt.name, func(t *testing.T) {
			t.Parallel()
			res := env.authorize(t, mustParseQuery(t, tt.query(t)))
			code := tt.code
			if code == "*" {
				code, _ = afDescription(res) // the test of the code is TestAuthorizeErrorsRedirected's
			}
			wantOwnWording(t, tt.name, res, http.StatusSeeOther, code)
		})
	}
	// The hooks' answers, and a store that is down.
	hooks := []struct {
		name   string
		mutate func(*afEnv, *handler.Config)
		code   string
	}{
		{"login hook names nobody", func(_ *afEnv, c *handler.Config) {
			c.Login = func(http.ResponseWriter, *http.Request) (string, bool) { return "", true }
		}, "access_denied"},
		{"user denies consent", func(_ *afEnv, c *handler.Config) {
			c.Consent = func(http.ResponseWriter, *http.Request, handler.ConsentRequest) (handler.ConsentDecision, bool) {
				return handler.ConsentDecision{Denied: true}, true
			}
		}, "access_denied"},
		{"consent hook grants what was not asked", func(_ *afEnv, c *handler.Config) {
			c.Consent = func(http.ResponseWriter, *http.Request, handler.ConsentRequest) (handler.ConsentDecision, bool) {
				return handler.ConsentDecision{Scopes: []string{"admin"}}, true
			}
		}, "server_error"},
		{"consent store down", func(_ *afEnv, c *handler.Config) {
			c.Consent = csApprove2
			c.Consents = csDownConsents{memory.New()}
		}, "temporarily_unavailable"},
		{"code store down", func(e *afEnv, c *handler.Config) {
			c.Tokens = wdDownCodes{e.store}
		}, "temporarily_unavailable"},
		{"code store fails", func(e *afEnv, c *handler.Config) {
			c.Tokens = wdBrokenCodes{e.store}
		}, "server_error"},
	}
	for _, tt := range hooks {
		t.Run("hooks/"+tt.name, func(t *testing.T) {
			t.Parallel()
			env := afServer(t, tt.mutate)
			res := env.authorize(t, afAuthorizeParams(afWebID, afWebRedirect, afVerifier(t)))
			wantOwnWording(t, tt.name, res, http.StatusSeeOther, tt.code)
		})
	}
}

// wdDownCodes is a token store whose authorization codes cannot be
// stored: the store is unreachable, or broken.
type wdDownCodes struct{ storage.TokenStore }

func (wdDownCodes) CreateCode(context.Context, *storage.AuthorizationCode) error {
	return fmt.Errorf("codes: %w", storage.ErrUnavailable)
}

type wdBrokenCodes struct{ storage.TokenStore }

func (wdBrokenCodes) CreateCode(context.Context, *storage.AuthorizationCode) error {
	return errors.New("codes: disk full")
}

// TestWordingToken drives the token endpoint's failures, those fosite
// raises (the code exchange and PKCE) and tollgate's own.
func TestWordingToken(t *testing.T) {
	t.Parallel()
	env := afServer(t, func(_ *afEnv, c *handler.Config) { c.Grants = []handler.Grant{afUserGrantDef(nil)} })
	// fresh is a new code of afWebID and its verifier.
	fresh := func(t *testing.T) (string, string) { return env.code(t, afWebID, afWebRedirect, nil) }
	cases := []struct {
		name   string
		send   func(t *testing.T) afHTTP
		status int
		code   string
	}{
		{"wrong code_verifier", func(t *testing.T) afHTTP {
			c, _ := fresh(t)
			return env.redeem(t, afWebID, c, afVerifier(t), afWebRedirect)
		}, 400, "invalid_grant"},
		{"no code_verifier", func(t *testing.T) afHTTP {
			c, _ := fresh(t)
			return env.redeem(t, afWebID, c, "", afWebRedirect)
		}, 400, "invalid_grant"},
		{"code_verifier too short", func(t *testing.T) afHTTP {
			c, v := fresh(t)
			return env.redeem(t, afWebID, c, v[:42], afWebRedirect)
		}, 400, "invalid_grant"},
		{"code_verifier too long", func(t *testing.T) afHTTP {
			c, _ := fresh(t)
			return env.redeem(t, afWebID, c, strings.Repeat("a", 129), afWebRedirect)
		}, 400, "invalid_grant"},
		{"code_verifier with a reserved character", func(t *testing.T) afHTTP {
			c, v := fresh(t)
			return env.redeem(t, afWebID, c, v[:42]+"!", afWebRedirect)
		}, 400, "invalid_grant"},
		{"code of another client", func(t *testing.T) afHTTP {
			c, v := fresh(t)
			return env.redeem(t, afOtherWebID, c, v, afWebRedirect)
		}, 400, "invalid_grant"},
		{"redirect_uri mismatch", func(t *testing.T) afHTTP {
			c, v := fresh(t)
			return env.redeem(t, afWebID, c, v, afWebRedirect2)
		}, 400, "invalid_grant"},
		{"redirect_uri missing", func(t *testing.T) afHTTP {
			c, v := fresh(t)
			return env.redeem(t, afWebID, c, v, "")
		}, 400, "invalid_grant"},
		{"unknown code", func(t *testing.T) afHTTP {
			return env.redeem(t, afWebID, "tgc_"+strings.Repeat("A", 43), afVerifier(t), afWebRedirect)
		}, 400, "invalid_grant"},
		{"code used twice", func(t *testing.T) afHTTP {
			c, v := fresh(t)
			afTokens(t, "first redemption", env.redeem(t, afWebID, c, v, afWebRedirect))
			return env.redeem(t, afWebID, c, v, afWebRedirect)
		}, 400, "invalid_grant"},
		{"code expired", func(t *testing.T) afHTTP {
			env := afServer(t, nil)
			c, v := env.code(t, afWebID, afWebRedirect, nil)
			env.clock.Advance(handler.DefaultAuthorizationCodeTTL + time.Second)
			return env.redeem(t, afWebID, c, v, afWebRedirect)
		}, 400, "invalid_grant"},
		{"code_verifier for a code without challenge", func(t *testing.T) afHTTP {
			env := afServer(t, func(_ *afEnv, c *handler.Config) { c.PKCE.OptionalForConfidential = true })
			c, _ := env.code(t, afWebID, afWebRedirect, afDel("code_challenge", "code_challenge_method"))
			return env.redeem(t, afWebID, c, afVerifier(t), afWebRedirect)
		}, 400, "invalid_grant"},
		{"code missing", func(t *testing.T) afHTTP {
			return env.post(t, handler.TokenPath, afWebID, url.Values{"grant_type": {afCodeGrant}})
		}, 400, "invalid_request"},
		{"client without the grant", func(t *testing.T) afHTTP {
			c, v := fresh(t)
			return env.redeem(t, afCCRedirectID, c, v, afWebRedirect)
		}, 400, "unauthorized_client"},
		{"no client authentication", func(t *testing.T) afHTTP {
			c, v := fresh(t)
			return env.redeem(t, "", c, v, afWebRedirect)
		}, 401, "invalid_client"},
		{"refresh token garbage", func(t *testing.T) afHTTP { return env.refresh(t, afWebID, "garbage", nil) }, 400, "invalid_grant"},
		{"refresh token missing", func(t *testing.T) afHTTP { return env.refresh(t, afWebID, "", nil) }, 400, "invalid_request"},
		{"refresh with a scope not granted", func(t *testing.T) afHTTP {
			p := env.pair(t, afWebID, nil)
			return env.refresh(t, afWebID, p.refresh, url.Values{"scope": {"admin"}})
		}, 400, "invalid_scope"},
		{"unsupported grant_type", func(t *testing.T) afHTTP {
			return env.post(t, handler.TokenPath, afWebID, url.Values{"grant_type": {"password"}})
		}, 400, "unsupported_grant_type"},
		{"grant_type missing", func(t *testing.T) afHTTP {
			return env.post(t, handler.TokenPath, afWebID, url.Values{"code": {"x"}})
		}, 400, "invalid_request"},
		{"client_credentials scope not allowed", func(t *testing.T) afHTTP {
			return env.post(t, handler.TokenPath, integrationID, url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}})
		}, 400, "invalid_scope"},
		{"client_credentials audience not allowed", func(t *testing.T) afHTTP {
			return env.post(t, handler.TokenPath, integrationID, url.Values{"grant_type": {"client_credentials"}, "audience": {"https://evil.example.com"}})
		}, 400, "invalid_target"},
		{"extension grant refused", func(t *testing.T) afHTTP {
			return env.post(t, handler.TokenPath, afTrustedID, url.Values{"grant_type": {afUserGrant}, "user_id": {"locked"}})
		}, 400, "invalid_grant"},
		{"extension grant fails", func(t *testing.T) afHTTP {
			return env.post(t, handler.TokenPath, afTrustedID, url.Values{"grant_type": {afUserGrant}, "user_id": {"explode"}})
		}, 500, "server_error"},
		{"GET", func(t *testing.T) afHTTP {
			req, _ := http.NewRequest(http.MethodGet, env.ts.URL+handler.TokenPath, nil)
			return afDo(t, req)
		}, 405, "invalid_request"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantOwnWording(t, tt.name, tt.send(t), tt.status, tt.code)
		})
	}
}

// TestWordingRevokeIntrospect: revocation and introspection are
// tollgate's own; their failures are held to the same words.
func TestWordingRevokeIntrospect(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	for _, path := range []string{handler.RevokePath, handler.IntrospectPath} {
		for _, tt := range []struct {
			name   string
			client string
			form   url.Values
			status int
			code   string
		}{
			{"token missing", afResourceID, url.Values{}, 400, "invalid_request"},
			{"no client authentication", "", url.Values{"token": {"x"}}, 401, "invalid_client"},
			{"token repeated", afResourceID, url.Values{"token": {"x", "y"}}, 400, "invalid_request"},
		} {
			t.Run(path+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				wantOwnWording(t, tt.name, env.post(t, path, tt.client, tt.form), tt.status, tt.code)
			})
		}
	}
}
