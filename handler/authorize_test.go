package handler_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
)

// Tests of the authorization endpoint (RFC 6749 §4.1.1, RFC 7636, RFC
// 9207): what is shown to the user, what goes back to the client, PKCE,
// the login hook, and the metadata that announces it all.

// afAuthorizeCase is one authorization request built from a valid one.
type afAuthorizeCase struct {
	name   string
	client string // default afWebID
	mutate func(url.Values)
	raw    string // if set, the raw query instead of the built one
}

func (c afAuthorizeCase) query(t testing.TB) string {
	if c.raw != "" {
		return c.raw
	}
	client, redirect := afWebID, afWebRedirect
	switch c.client {
	case "":
	case afSPAID:
		client, redirect = afSPAID, afSPARedirect
	case afCCRedirectID:
		client, redirect = afCCRedirectID, afCCRedirect
	default:
		client = c.client
	}
	p := afAuthorizeParams(client, redirect, afVerifier(t))
	if c.mutate != nil {
		c.mutate(p)
	}
	return p.Encode()
}

func afSet(kv ...string) func(url.Values) {
	return func(v url.Values) {
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
	}
}

func afDel(keys ...string) func(url.Values) {
	return func(v url.Values) {
		for _, k := range keys {
			v.Del(k)
		}
	}
}

func afAdd(kv ...string) func(url.Values) {
	return func(v url.Values) {
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
	}
}

// Errors found before the redirect URI is trusted are shown to the user,
// never redirected (RFC 6749 §4.1.2.1, no open redirector).
func TestAuthorizeErrorsShownDirectly(t *testing.T) {
	t.Parallel()
	valid := afAuthorizeParams(afWebID, afWebRedirect, "x").Encode()
	tests := []struct {
		afAuthorizeCase
		status int
		code   string
	}{
		{afAuthorizeCase{name: "unknown client", mutate: afSet("client_id", "ghost")}, http.StatusUnauthorized, "invalid_client"},
		{afAuthorizeCase{name: "no client_id", mutate: afDel("client_id")}, http.StatusUnauthorized, "invalid_client"},
		{afAuthorizeCase{name: "no redirect_uri, two registered", mutate: afDel("redirect_uri")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "redirect_uri of another host", mutate: afSet("redirect_uri", "https://evil.example.com/callback")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "redirect_uri of another client", mutate: afSet("redirect_uri", afOtherRedirect)}, 400, "invalid_request"},
		{afAuthorizeCase{name: "redirect_uri with another path", mutate: afSet("redirect_uri", "https://app.example.com/callback2")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "redirect_uri with a trailing slash", mutate: afSet("redirect_uri", afWebRedirect+"/")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "redirect_uri with a query", mutate: afSet("redirect_uri", afWebRedirect+"?next=https://evil.example.com")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "redirect_uri with a fragment", mutate: afSet("redirect_uri", afWebRedirect+"#x")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "redirect_uri over http", mutate: afSet("redirect_uri", "http://app.example.com/callback")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "redirect_uri with user info", mutate: afSet("redirect_uri", "https://app.example.com@evil.example.com/callback")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "redirect_uri with dot segments", mutate: afSet("redirect_uri", "https://app.example.com/callback/../evil")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "loopback redirect_uri on another path", client: afSPAID, mutate: afSet("redirect_uri", "http://127.0.0.1:8765/evil")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "loopback redirect_uri on another host", client: afSPAID, mutate: afSet("redirect_uri", "http://127.0.0.2:8765/cb")}, 400, "invalid_request"},
		// The strict parser runs before anything else: even a valid
		// redirect URI is not trusted yet.
		{afAuthorizeCase{name: "redirect_uri repeated", mutate: afAdd("redirect_uri", afWebRedirect)}, 400, "invalid_request"},
		{afAuthorizeCase{name: "redirect_uri repeated with another", mutate: afAdd("redirect_uri", "https://evil.example.com/")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "state repeated", mutate: afAdd("state", afState)}, 400, "invalid_request"},
		{afAuthorizeCase{name: "client_id repeated", mutate: afAdd("client_id", afOtherWebID)}, 400, "invalid_request"},
		{afAuthorizeCase{name: "code_challenge repeated", mutate: afAdd("code_challenge", afS256("another-verifier"))}, 400, "invalid_request"},
		{afAuthorizeCase{name: "control character in state", mutate: afSet("state", "af-state\x00-4f9c2a7e")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "newline in redirect_uri", mutate: afSet("redirect_uri", afWebRedirect+"\n")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "trailing space in scope", mutate: afSet("scope", "orders:read ")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "leading space in client_id", mutate: afSet("client_id", " "+afWebID)}, 400, "invalid_request"},
		{afAuthorizeCase{name: "invalid UTF-8 in state", mutate: afSet("state", "af-state-\xff\xfe-4f9c")}, 400, "invalid_request"},
		{afAuthorizeCase{name: "malformed query", raw: valid + "&state=%zz"}, 400, "invalid_request"},
	}
	env := afServer(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			user := afUser
			res := env.afAuthorizeRaw(t, tt.query(t), &user)
			afWantShown(t, tt.name, res, tt.status, tt.code)
			if cc := res.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
		})
	}
	if n := env.logins.Load(); n != 0 {
		t.Errorf("the login hook ran %d times for requests that cannot succeed", n)
	}
}

// afRedirectCase is an authorization request refused back to the client.
type afRedirectCase struct {
	afAuthorizeCase
	redirect string // default afWebRedirect
	code     string
	state    string // the state echoed; default afState, "-" for none
}

func (c afRedirectCase) wantRedirect() string {
	if c.redirect == "" {
		return afWebRedirect
	}
	return c.redirect
}

func (c afRedirectCase) wantState() string {
	switch c.state {
	case "":
		return afState
	case "-":
		return ""
	}
	return c.state
}

func afRedirectCases() []afRedirectCase {
	return []afRedirectCase{
		{afAuthorizeCase{name: "response_type token", mutate: afSet("response_type", "token")}, "", "unsupported_response_type", ""},
		{afAuthorizeCase{name: "response_type code token", mutate: afSet("response_type", "code token")}, "", "unsupported_response_type", ""},
		{afAuthorizeCase{name: "response_type missing", mutate: afDel("response_type")}, "", "invalid_request", ""},
		{afAuthorizeCase{name: "state too short", mutate: afSet("state", "1234567")}, "", "invalid_request", "1234567"},
		{afAuthorizeCase{name: "state missing", mutate: afDel("state")}, "", "invalid_request", "-"},
		{afAuthorizeCase{name: "scope not allowed", mutate: afSet("scope", "orders:read admin")}, "", "invalid_scope", ""},
		{afAuthorizeCase{name: "wildcard scope requested", mutate: afSet("scope", "market:id:*")}, "", "invalid_scope", ""},
		{afAuthorizeCase{name: "client without authorization_code", client: afCCRedirectID, mutate: afSet("scope", "orders:read")}, afCCRedirect, "unauthorized_client", ""},
		{afAuthorizeCase{name: "public client without PKCE", client: afSPAID, mutate: afDel("code_challenge", "code_challenge_method")}, afSPARedirect, "invalid_request", ""},
		{afAuthorizeCase{name: "confidential client without PKCE", mutate: afDel("code_challenge", "code_challenge_method")}, "", "invalid_request", ""},
		{afAuthorizeCase{name: "plain PKCE", mutate: afSet("code_challenge", strings.Repeat("p", 43), "code_challenge_method", "plain")}, "", "invalid_request", ""},
		{afAuthorizeCase{name: "challenge without method (plain)", mutate: afDel("code_challenge_method")}, "", "invalid_request", ""},
		{afAuthorizeCase{name: "unknown code_challenge_method", mutate: afSet("code_challenge_method", "S512")}, "", "invalid_request", ""},
		{afAuthorizeCase{name: "method without challenge", mutate: afDel("code_challenge")}, "", "invalid_request", ""},
		// Only the query response mode is offered (response_modes_supported),
		// so a refusal of another mode still answers in the query, with iss
		// beside the error (RFC 9207 §2). The error code may be
		// invalid_request or fosite's unsupported_response_mode.
		{afAuthorizeCase{name: "response_mode fragment", mutate: afSet("response_mode", "fragment")}, "", "*", ""},
		{afAuthorizeCase{name: "response_mode form_post", mutate: afSet("response_mode", "form_post")}, "", "*", ""},
	}
}

// Errors found once the redirect URI is validated go back to it, with the
// state and the issuer (RFC 6749 §4.1.2.1, RFC 9207).
func TestAuthorizeErrorsRedirected(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	for _, tt := range afRedirectCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := env.authorize(t, mustParseQuery(t, tt.query(t)))
			afWantRedirectErrorState(t, tt.name, res, tt.wantRedirect(), tt.code, tt.wantState())
			if cc := res.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
		})
	}
}

// A request that cannot succeed is refused before the login hook runs:
// the user is not sent to sign in only to be bounced back with an error
// (provider.Authorize: "a request that will fail never shows the user a
// login page").
func TestAuthorizeRefusedBeforeLogin(t *testing.T) {
	t.Parallel()
	for _, tt := range afRedirectCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := afServer(t, nil)
			res := env.afAuthorizeRaw(t, tt.query(t), nil) // nobody signed in
			if n := env.logins.Load(); n != 0 {
				t.Errorf("the login hook ran %d times (answer %d, Location %q)", n, res.status, res.header.Get("Location"))
			}
			if res.status != http.StatusSeeOther {
				t.Errorf("got %d, Location %q; want the error redirect", res.status, res.header.Get("Location"))
			}
		})
	}
}

func mustParseQuery(t testing.TB, raw string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Requests that must get a code, each redeemed to the end.
func TestAuthorizeIssuesCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		client   string
		redirect string // where the code must go
		mutate   func(url.Values)
		cfg      func(*handler.Config)
		// verifier returns what to send at the token endpoint, from the
		// verifier of the request.
		verifier  func(string) string
		redeemURI string // redirect_uri at the token endpoint
		wantScope string
		wantAud   []string
	}{
		{
			name: "S256, confidential client", client: afWebID, redirect: afWebRedirect, redeemURI: afWebRedirect,
			wantScope: "orders:read profile", wantAud: []string{apiAudience},
		},
		{
			name: "second registered redirect URI", client: afWebID, redirect: afWebRedirect2,
			mutate: afSet("redirect_uri", afWebRedirect2), redeemURI: afWebRedirect2,
			wantScope: "orders:read profile", wantAud: []string{apiAudience},
		},
		{
			name: "public client", client: afSPAID, redirect: afSPARedirect, redeemURI: afSPARedirect,
			wantScope: "orders:read profile", wantAud: []string{apiAudience},
		},
		{
			// RFC 8252 §7.3: a loopback redirect URI may use any port.
			name: "loopback redirect URI on another port", client: afSPAID, redirect: "http://127.0.0.1:49152/cb",
			mutate: afSet("redirect_uri", "http://127.0.0.1:49152/cb"), redeemURI: "http://127.0.0.1:49152/cb",
			wantScope: "orders:read profile", wantAud: []string{apiAudience},
		},
		{
			// RFC 6749 §3.1.2.3: redirect_uri may be left out when exactly
			// one is registered; then it must be left out at the token
			// endpoint too.
			name: "no redirect_uri, one registered", client: afSPAID, redirect: afSPARedirect, mutate: afDel("redirect_uri"),
			wantScope: "orders:read profile", wantAud: []string{apiAudience},
		},
		{
			name: "no scope: the client's defaults", client: afWebID, redirect: afWebRedirect, mutate: afDel("scope"),
			redeemURI: afWebRedirect, wantScope: "orders:read", wantAud: []string{apiAudience},
		},
		{
			name: "concrete scope under a wildcard pattern", client: afWebID, redirect: afWebRedirect,
			mutate: afSet("scope", "market:id:xYZkjABcde"), redeemURI: afWebRedirect,
			wantScope: "market:id:xYZkjABcde", wantAud: []string{apiAudience},
		},
		{
			name: "two audiences", client: afWebID, redirect: afWebRedirect,
			mutate: afSet("audience", apiAudience+" "+qaAudience), redeemURI: afWebRedirect,
			wantScope: "orders:read profile", wantAud: []string{apiAudience, qaAudience},
		},
		{
			// The one mode response_modes_supported lists may be named.
			name: "response_mode query", client: afWebID, redirect: afWebRedirect, mutate: afSet("response_mode", "query"),
			redeemURI: afWebRedirect, wantScope: "orders:read profile", wantAud: []string{apiAudience},
		},
		{
			name: "plain PKCE with PKCE.AllowPlain", client: afWebID, redirect: afWebRedirect,
			mutate:   afSet("code_challenge", strings.Repeat("p", 43), "code_challenge_method", "plain"),
			cfg:      func(c *handler.Config) { c.PKCE.AllowPlain = true },
			verifier: func(string) string { return strings.Repeat("p", 43) }, redeemURI: afWebRedirect,
			wantScope: "orders:read profile", wantAud: []string{apiAudience},
		},
		{
			name: "no PKCE with PKCE.OptionalForConfidential", client: afWebID, redirect: afWebRedirect,
			mutate:   afDel("code_challenge", "code_challenge_method"),
			cfg:      func(c *handler.Config) { c.PKCE.OptionalForConfidential = true },
			verifier: func(string) string { return "" }, redeemURI: afWebRedirect,
			wantScope: "orders:read profile", wantAud: []string{apiAudience},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := afServer(t, func(_ *afEnv, c *handler.Config) {
				if tt.cfg != nil {
					tt.cfg(c)
				}
			})
			verifier := afVerifier(t)
			params := afAuthorizeParams(tt.client, tt.redirect, verifier)
			if tt.mutate != nil {
				tt.mutate(params)
			}
			rd := afRedirectTo(t, "authorize", env.authorize(t, params), tt.redirect)
			if rd.query.Has("error") || rd.query.Get("code") == "" || rd.query.Get("state") != afState || rd.query.Get("iss") != afIssuer {
				t.Fatalf("redirect query %v, want code, state and iss", rd.query)
			}
			if !strings.HasPrefix(rd.query.Get("code"), "tgc_") || len(rd.query.Get("code")) < 40 {
				t.Errorf("code %q: want a tgc_ code of 256 bits", rd.query.Get("code"))
			}
			if tt.verifier != nil {
				verifier = tt.verifier(verifier)
			}
			pair := afTokens(t, "redeem", env.redeem(t, tt.client, rd.query.Get("code"), verifier, tt.redeemURI))
			if pair.scope != tt.wantScope {
				t.Errorf("scope %q, want %q", pair.scope, tt.wantScope)
			}
			_, claims := afJWT(t, pair.access)
			if aud := afAud(claims); !slices.Equal(aud, tt.wantAud) {
				t.Errorf("aud %q, want %q", aud, tt.wantAud)
			}
			if claims["sub"] != afUser || claims["client_id"] != tt.client || claims["scope"] != tt.wantScope {
				t.Errorf("claims sub %v client_id %v scope %v", claims["sub"], claims["client_id"], claims["scope"])
			}
		})
	}
}

// The authorization endpoint also takes POST (RFC 6749 §3.1), under the
// same strict parser.
func TestAuthorizePost(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	verifier := afVerifier(t)
	send := func(body string) afHTTP {
		req, _ := http.NewRequest(http.MethodPost, env.ts.URL+handler.AuthorizePath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: afCookie, Value: afUser})
		return afDo(t, req)
	}
	params := afAuthorizeParams(afWebID, afWebRedirect, verifier)
	rd := afRedirectTo(t, "POST authorize", send(params.Encode()), afWebRedirect)
	afTokens(t, "redeem", env.redeem(t, afWebID, rd.query.Get("code"), verifier, afWebRedirect))

	params.Add("redirect_uri", "https://evil.example.com/")
	afWantShown(t, "POST with a repeated redirect_uri", send(params.Encode()), 400, "invalid_request")
}

func TestAuthorizeMethods(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	query := afAuthorizeParams(afWebID, afWebRedirect, afVerifier(t)).Encode()
	for _, method := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		req, _ := http.NewRequest(method, env.ts.URL+handler.AuthorizePath+"?"+query, nil)
		req.AddCookie(&http.Cookie{Name: afCookie, Value: afUser})
		res := afDo(t, req)
		afWantShown(t, method, res, http.StatusMethodNotAllowed, "invalid_request")
		if got := res.header.Get("Allow"); got != "GET, POST" {
			t.Errorf("%s: Allow %q, want %q", method, got, "GET, POST")
		}
	}
	if n := env.logins.Load(); n != 0 {
		t.Errorf("login hook ran %d times", n)
	}
}

// The login hook decides: no user, and it answers itself; a user, and the
// code is issued; an empty subject is a refusal.
func TestAuthorizeLoginHook(t *testing.T) {
	t.Parallel()

	t.Run("ok false: the hook's own answer stands", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, func(_ *afEnv, c *handler.Config) {
			c.Login = func(w http.ResponseWriter, r *http.Request) (string, bool) {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte("consent refused by the host"))
				return "", false
			}
		})
		res := env.authorize(t, afAuthorizeParams(afWebID, afWebRedirect, afVerifier(t)))
		if res.status != http.StatusForbidden || res.raw != "consent refused by the host" || res.header.Get("Location") != "" {
			t.Errorf("got %s, Location %q; want the hook's 403 untouched", res, res.header.Get("Location"))
		}
	})

	t.Run("ok false with a redirect: not rewritten", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		res := env.afAuthorizeRaw(t, afAuthorizeParams(afWebID, afWebRedirect, afVerifier(t)).Encode(), nil)
		loc, err := url.Parse(res.header.Get("Location"))
		if res.status != http.StatusFound || err != nil || loc.Path != afLoginPath || loc.Query().Has("iss") {
			t.Errorf("got %s, Location %q; want the hook's 302 to %s, without iss", res, res.header.Get("Location"), afLoginPath)
		}
	})

	t.Run("empty subject: access_denied", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		empty := ""
		res := env.afAuthorizeRaw(t, afAuthorizeParams(afWebID, afWebRedirect, afVerifier(t)).Encode(), &empty)
		afWantRedirectError(t, "empty subject", res, afWebRedirect, "access_denied")
	})

	t.Run("subject from the hook", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		bob := "bob@example.com"
		verifier := afVerifier(t)
		res := env.afAuthorizeRaw(t, afAuthorizeParams(afWebID, afWebRedirect, verifier).Encode(), &bob)
		rd := afRedirectTo(t, "authorize as bob", res, afWebRedirect)
		pair := afTokens(t, "redeem", env.redeem(t, afWebID, rd.query.Get("code"), verifier, afWebRedirect))
		afCheckUserToken(t, "bob's token", pair.access, afWebID, bob, "orders:read profile")
	})
}

// Without a Login hook there is no authorization endpoint, and the
// metadata does not announce one.
func TestAuthorizeDisabledWithoutLogin(t *testing.T) {
	t.Parallel()
	env := afServer(t, func(_ *afEnv, c *handler.Config) { c.Login = nil })
	res := env.authorize(t, afAuthorizeParams(afWebID, afWebRedirect, afVerifier(t)))
	if res.status != http.StatusNotFound || res.header.Get("Location") != "" {
		t.Errorf("authorize without Login: %s, want 404", res)
	}
	md := afMetadata(t, env)
	for _, absent := range []string{"authorization_endpoint", "code_challenge_methods_supported", "response_modes_supported",
		"authorization_response_iss_parameter_supported"} {
		if _, ok := md[absent]; ok {
			t.Errorf("metadata has %s = %v without an authorization endpoint", absent, md[absent])
		}
	}
	afWantJSON(t, md, "response_types_supported", []string{})
	afWantJSON(t, md, "grant_types_supported", []string{"client_credentials", "refresh_token"})
	// Nor is the grant served at the token endpoint.
	afWantError(t, "authorization_code grant without Login",
		env.redeem(t, afWebID, "tgc_whatever", afVerifier(t), afWebRedirect), 400, "unsupported_grant_type", "")
}

func TestAuthorizeMetadata(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cfg        func(*handler.Config)
		challenges []string
		grants     []string
	}{
		{"default", nil, []string{"S256"}, []string{"authorization_code", "client_credentials", "refresh_token"}},
		{"plain allowed", func(c *handler.Config) { c.PKCE.AllowPlain = true }, []string{"S256", "plain"},
			[]string{"authorization_code", "client_credentials", "refresh_token"}},
		{"extension grant", func(c *handler.Config) { c.Grants = []handler.Grant{afUserGrantDef(nil)} }, []string{"S256"},
			[]string{"authorization_code", afUserGrant, "client_credentials", "refresh_token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := afServer(t, func(_ *afEnv, c *handler.Config) {
				if tt.cfg != nil {
					tt.cfg(c)
				}
			})
			md := afMetadata(t, env)
			want := map[string]any{
				"issuer":                                         afIssuer,
				"authorization_endpoint":                         afIssuer + "/oauth/authorize",
				"token_endpoint":                                 afIssuer + "/oauth/token",
				"jwks_uri":                                       afIssuer + "/.well-known/jwks.json",
				"revocation_endpoint":                            afIssuer + "/oauth/revoke",
				"introspection_endpoint":                         afIssuer + "/oauth/introspect",
				"revocation_feed_endpoint":                       afIssuer + "/oauth/revocations",
				"response_types_supported":                       []string{"code"},
				"response_modes_supported":                       []string{"query"},
				"code_challenge_methods_supported":               tt.challenges,
				"grant_types_supported":                          tt.grants,
				"authorization_response_iss_parameter_supported": true,
				"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post", "none"},
				"revocation_endpoint_auth_methods_supported":     []string{"client_secret_basic", "client_secret_post", "none"},
				"introspection_endpoint_auth_methods_supported":  []string{"client_secret_basic", "client_secret_post"},
			}
			if got, w := slices.Sorted(maps.Keys(md)), slices.Sorted(maps.Keys(want)); !slices.Equal(got, w) {
				t.Errorf("metadata members %q, want %q", got, w)
			}
			for k, v := range want {
				afWantJSON(t, md, k, v)
			}
		})
	}
}

func afMetadata(t testing.TB, env *afEnv) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.ts.URL+handler.MetadataPath, nil)
	res := afDo(t, req)
	if res.status != http.StatusOK || res.json == nil {
		t.Fatalf("metadata: %s", res)
	}
	return res.json
}

// afWantJSON compares a member with want by their JSON.
func afWantJSON(t testing.TB, m map[string]any, name string, want any) {
	t.Helper()
	got, _ := json.Marshal(m[name])
	w, _ := json.Marshal(want)
	if string(got) != string(w) {
		t.Errorf("%s = %s, want %s", name, got, w)
	}
}

// Redeeming a code (RFC 6749 §4.1.3, RFC 7636 §4.6): everything that must
// fail with invalid_grant, or invalid_request for a malformed request.
func TestCodeRedemptionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// build returns the token request's client and form from the
		// code, its verifier and a second, unrelated verifier.
		build      func(code, verifier, other string) (string, url.Values)
		status     int
		wantCode   string
		stillValid bool // the code still redeems afterwards
	}{
		{"no verifier", func(c, _, _ string) (string, url.Values) {
			return afWebID, afRedeemForm(c, "", afWebRedirect)
		}, 400, "invalid_grant", false},
		{"wrong verifier", func(c, _, o string) (string, url.Values) {
			return afWebID, afRedeemForm(c, o, afWebRedirect)
		}, 400, "invalid_grant", false},
		{"the challenge as verifier", func(c, v, _ string) (string, url.Values) {
			return afWebID, afRedeemForm(c, afS256(v), afWebRedirect)
		}, 400, "invalid_grant", false},
		{"verifier too short", func(c, v, _ string) (string, url.Values) {
			return afWebID, afRedeemForm(c, v[:42], afWebRedirect)
		}, 400, "invalid_grant", false},
		{"verifier too long", func(c, _, _ string) (string, url.Values) {
			return afWebID, afRedeemForm(c, strings.Repeat("a", 129), afWebRedirect)
		}, 400, "invalid_grant", false},
		{"verifier with a reserved character", func(c, v, _ string) (string, url.Values) {
			return afWebID, afRedeemForm(c, v[:42]+"!", afWebRedirect)
		}, 400, "invalid_grant", false},
		{"code of another client", func(c, v, _ string) (string, url.Values) {
			return afOtherWebID, afRedeemForm(c, v, afWebRedirect)
		}, 400, "invalid_grant", true},
		{"code of another client, public", func(c, v, _ string) (string, url.Values) {
			return afSPAID, afRedeemForm(c, v, afWebRedirect)
		}, 400, "invalid_grant", true},
		{"redirect_uri mismatch", func(c, v, _ string) (string, url.Values) {
			return afWebID, afRedeemForm(c, v, afWebRedirect2)
		}, 400, "invalid_grant", false},
		{"redirect_uri missing", func(c, v, _ string) (string, url.Values) {
			return afWebID, afRedeemForm(c, v, "")
		}, 400, "invalid_grant", false},
		{"unknown code", func(_, v, _ string) (string, url.Values) {
			return afWebID, afRedeemForm("tgc_"+strings.Repeat("A", 43), v, afWebRedirect)
		}, 400, "invalid_grant", true},
		{"code missing", func(_, v, _ string) (string, url.Values) {
			f := afRedeemForm("x", v, afWebRedirect)
			f.Del("code")
			return afWebID, f
		}, 400, "invalid_request", true},
		{"code repeated", func(c, v, _ string) (string, url.Values) {
			f := afRedeemForm(c, v, afWebRedirect)
			f.Add("code", c)
			return afWebID, f
		}, 400, "invalid_request", true},
		{"code with a trailing newline", func(c, v, _ string) (string, url.Values) {
			return afWebID, afRedeemForm(c+"\n", v, afWebRedirect)
		}, 400, "invalid_request", true},
		{"client without the authorization_code grant", func(c, v, _ string) (string, url.Values) {
			return afCCRedirectID, afRedeemForm(c, v, afWebRedirect)
		}, 400, "unauthorized_client", true},
		{"no client authentication", func(c, v, _ string) (string, url.Values) {
			return "", afRedeemForm(c, v, afWebRedirect)
		}, 401, "invalid_client", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := afServer(t, nil)
			code, verifier := env.code(t, afWebID, afWebRedirect, nil)
			client, form := tt.build(code, verifier, afVerifier(t))
			afWantError(t, tt.name, env.post(t, handler.TokenPath, client, form), tt.status, tt.wantCode, "")
			if tt.stillValid {
				afTokens(t, "the rightful redemption afterwards", env.redeem(t, afWebID, code, verifier, afWebRedirect))
			}
		})
	}
}

// A verifier for a code issued without a challenge is refused (RFC 9700
// §4.8.2, the PKCE downgrade attack).
func TestCodeVerifierWithoutChallenge(t *testing.T) {
	t.Parallel()
	env := afServer(t, func(_ *afEnv, c *handler.Config) { c.PKCE.OptionalForConfidential = true })
	code, _ := env.code(t, afWebID, afWebRedirect, afDel("code_challenge", "code_challenge_method"))
	afWantError(t, "verifier without challenge", env.redeem(t, afWebID, code, afVerifier(t), afWebRedirect), 400, "invalid_grant", "")
}

// PKCE.OptionalForConfidential never frees public clients from PKCE.
func TestPKCEStillRequiredForPublicClients(t *testing.T) {
	t.Parallel()
	env := afServer(t, func(_ *afEnv, c *handler.Config) { c.PKCE.OptionalForConfidential = true })
	params := afAuthorizeParams(afSPAID, afSPARedirect, "")
	afWantRedirectError(t, "public client without PKCE", env.authorize(t, params), afSPARedirect, "invalid_request")
	// The confidential client may skip it, and then needs no verifier.
	code, _ := env.code(t, afWebID, afWebRedirect, afDel("code_challenge", "code_challenge_method"))
	afTokens(t, "confidential client without PKCE", env.redeem(t, afWebID, code, "", afWebRedirect))
}

// A code is single use; presenting it again revokes what it issued (RFC
// 6749 §4.1.2, RFC 9700 §4.14).
func TestCodeReplayRevokesTokens(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	code, verifier := env.code(t, afWebID, afWebRedirect, nil)
	first := afTokens(t, "first redemption", env.redeem(t, afWebID, code, verifier, afWebRedirect))
	if !env.active(t, first.access) {
		t.Fatal("fresh access token inactive")
	}
	afWantError(t, "second redemption", env.redeem(t, afWebID, code, verifier, afWebRedirect), 400, "invalid_grant", "")
	if env.active(t, first.access) {
		t.Error("the access token of a replayed code is still active")
	}
	afWantError(t, "refresh token of a replayed code", env.refresh(t, afWebID, first.refresh, nil), 400, "invalid_grant", "")
	// A third try is refused too.
	afWantError(t, "third redemption", env.redeem(t, afWebID, code, verifier, afWebRedirect), 400, "invalid_grant", "")
	// Another grant of the same user and client is not affected.
	other := env.pair(t, afWebID, nil)
	if !env.active(t, other.access) {
		t.Error("an unrelated grant was revoked with the replayed one")
	}
}

// Codes expire after Config.AuthorizationCodeTTL, 10 minutes by default,
// on the injected clock.
func TestCodeExpiry(t *testing.T) {
	t.Parallel()
	if handler.DefaultAuthorizationCodeTTL != 10*time.Minute {
		t.Fatalf("DefaultAuthorizationCodeTTL = %v, want 10m (RFC 6749 §4.1.2)", handler.DefaultAuthorizationCodeTTL)
	}
	tests := []struct {
		name    string
		ttl     time.Duration // Config.AuthorizationCodeTTL
		advance time.Duration
		ok      bool
	}{
		{"default, just before 10 minutes", 0, 10*time.Minute - time.Second, true},
		{"default, at 10 minutes", 0, 10 * time.Minute, false},
		{"default, an hour later", 0, time.Hour, false},
		{"30s, just before", 30 * time.Second, 29 * time.Second, true},
		{"30s, at 30s", 30 * time.Second, 30 * time.Second, false},
		{"30s, after a minute", 30 * time.Second, time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := afServer(t, func(_ *afEnv, c *handler.Config) { c.AuthorizationCodeTTL = tt.ttl })
			code, verifier := env.code(t, afWebID, afWebRedirect, nil)
			env.clock.Advance(tt.advance)
			res := env.redeem(t, afWebID, code, verifier, afWebRedirect)
			if tt.ok {
				afTokens(t, "redemption in time", res)
				return
			}
			afWantError(t, "expired code", res, 400, "invalid_grant", "")
		})
	}
}

// Of concurrent redemptions of one code exactly one succeeds; the others
// are protocol errors, never 500.
func TestCodeConcurrentRedemption(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	for round := range 20 {
		code, verifier := env.code(t, afWebID, afWebRedirect, nil)
		res := afParallel(t, 2, func() *http.Request {
			return env.postRequest(handler.TokenPath, afWebID, afRedeemForm(code, verifier, afWebRedirect))
		})
		if got := afCount(res); got["200 "] != 1 || got["400 invalid_grant"] != 1 {
			t.Fatalf("round %d: answers %v, want one 200 and one 400 invalid_grant", round, got)
		}
	}
}

// afCodeGate is a token store that forces the worst interleaving of two
// concurrent redemptions of one code: both read the unused code, then one
// marks it used before the other reads it again.
type afCodeGate struct {
	storage.TokenStore
	mu       sync.Mutex
	calls    map[int64]int // GetCode calls per connection
	arrived  int
	both     chan struct{} // closed once two connections have read the code
	used     chan struct{} // closed after the first successful UseCode
	usedOnce sync.Once
	first    int64 // the connection that read the code a third time first
}

func newAFCodeGate(s storage.TokenStore) *afCodeGate {
	return &afCodeGate{TokenStore: s, calls: map[int64]int{}, both: make(chan struct{}), used: make(chan struct{})}
}

func (g *afCodeGate) GetCode(ctx context.Context, signature string) (*storage.AuthorizationCode, error) {
	conn, _ := ctx.Value(afConnKey{}).(int64)
	g.mu.Lock()
	g.calls[conn]++
	n := g.calls[conn]
	g.mu.Unlock()
	switch n {
	case 1: // the token endpoint's first look: read, then wait for the other
		c, err := g.TokenStore.GetCode(ctx, signature)
		g.mu.Lock()
		g.arrived++
		if g.arrived == 2 {
			close(g.both)
		}
		g.mu.Unlock()
		afWait(g.both)
		return c, err
	case 3: // the look just before the code is marked used
		g.mu.Lock()
		first := g.first == 0
		if first {
			g.first = conn
		}
		g.mu.Unlock()
		if !first {
			afWait(g.used)
		}
	}
	return g.TokenStore.GetCode(ctx, signature)
}

// afWait waits for ch, but never deadlocks a test.
func afWait(ch chan struct{}) {
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
	}
}

func (g *afCodeGate) UseCode(ctx context.Context, signature string) error {
	err := g.TokenStore.UseCode(ctx, signature)
	if err == nil {
		g.usedOnce.Do(func() { close(g.used) })
	}
	return err
}

// Two redemptions both pass fosite's first check of the code; one marks it
// used; the other then reads it used in fosite's second look (in
// PopulateTokenEndpointResponse). That one must get invalid_grant like any
// replay, not a 500.
func TestCodeConcurrentRedemptionInterleaved(t *testing.T) {
	t.Parallel()
	var gate *afCodeGate
	env := afServer(t, func(env *afEnv, c *handler.Config) {
		gate = newAFCodeGate(c.Tokens)
		c.Tokens = gate
	})
	code, verifier := env.code(t, afWebID, afWebRedirect, nil)
	res := afParallel(t, 2, func() *http.Request {
		return env.postRequest(handler.TokenPath, afWebID, afRedeemForm(code, verifier, afWebRedirect))
	})
	if got := afCount(res); got["200 "] != 1 || got["400 invalid_grant"] != 1 {
		t.Errorf("answers %v, want one 200 and one 400 invalid_grant", got)
	}
	gate.mu.Lock()
	defer gate.mu.Unlock()
	if gate.arrived != 2 {
		t.Errorf("the gate saw %d redemptions, want 2: the interleaving was not forced", gate.arrived)
	}
}
