package handler_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/middleware"
)

// TestAuthorizationCodeFlow is issue 4's quality bar, through real HTTP:
// authorize → the host's login → code → token → a protected route →
// refresh → revoke → introspection shows inactive → refresh fails.
func TestAuthorizationCodeFlow(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)

	// 1. The browser arrives without a session: the host's login hook
	// sends it to the login page, which must come back to the very same
	// authorization request.
	verifier := afVerifier(t)
	params := afAuthorizeParams(afWebID, afWebRedirect, verifier)
	params.Set("audience", apiAudience)
	authorizeURI := handler.AuthorizePath + "?" + params.Encode()
	res := env.afAuthorizeRaw(t, params.Encode(), nil)
	if res.status != http.StatusFound {
		t.Fatalf("authorize without a session: %s, want the login hook's 302", res)
	}
	login, err := url.Parse(res.header.Get("Location"))
	if err != nil || login.Path != afLoginPath {
		t.Fatalf("authorize without a session: Location %q, want %s", res.header.Get("Location"), afLoginPath)
	}
	if got := login.Query().Get("return_to"); got != authorizeURI {
		t.Fatalf("login return_to = %q, want the request URI %q", got, authorizeURI)
	}

	// 2. The login page signs the user in and sends the browser back.
	req, _ := http.NewRequest(http.MethodGet, env.ts.URL+login.String(), nil)
	res = afDo(t, req)
	if res.status != http.StatusSeeOther || res.header.Get("Location") != authorizeURI {
		t.Fatalf("login page: %s, Location %q; want 303 to %q", res, res.header.Get("Location"), authorizeURI)
	}
	var session *http.Cookie
	for _, c := range (&http.Response{Header: res.header}).Cookies() {
		if c.Name == afCookie {
			session = c
		}
	}
	if session == nil || session.Value != afUser {
		t.Fatalf("login page set no %s cookie for %s", afCookie, afUser)
	}

	// 3. Back at the authorization endpoint with the session: 303 to the
	// client with the code, its state and the issuer (RFC 9207).
	req, _ = http.NewRequest(http.MethodGet, env.ts.URL+authorizeURI, nil)
	req.AddCookie(session)
	rd := afRedirectTo(t, "authorize with a session", afDo(t, req), afWebRedirect)
	code := rd.query.Get("code")
	if code == "" || rd.query.Get("state") != afState || rd.query.Get("iss") != afIssuer || rd.query.Has("error") {
		t.Fatalf("redirect query %v: want code, state %q, iss %q", rd.query, afState, afIssuer)
	}
	if n := env.logins.Load(); n != 2 {
		t.Errorf("login hook called %d times, want 2 (before and after signing in)", n)
	}

	// 4. The client redeems the code with its PKCE verifier.
	first := afTokens(t, "code redemption", env.redeem(t, afWebID, code, verifier, afWebRedirect))
	if first.refresh == "" || !strings.HasPrefix(first.refresh, "tgr_") {
		t.Fatalf("code redemption: refresh token %q, want a tgr_ token", first.refresh)
	}
	if first.scope != "orders:read profile" || first.expiresIn != int64(handler.DefaultAccessTokenTTL.Seconds()) {
		t.Errorf("code redemption: scope %q expires_in %d, want %q %d", first.scope, first.expiresIn, "orders:read profile", int64(handler.DefaultAccessTokenTTL.Seconds()))
	}
	afCheckUserToken(t, "first access token", first.access, afWebID, afUser, "orders:read profile")

	// 5. A protected route of the host accepts the token.
	api := afResourceAPI(t, env)
	if got := afCallAPI(t, api, "/orders", first.access); got.status != http.StatusOK || got.raw != "orders of alice via web-app" {
		t.Fatalf("protected route with the access token: %s", got)
	}
	if got := afCallAPI(t, api, "/orders/write", first.access); got.status != http.StatusForbidden || got.str("error") != "insufficient_scope" {
		t.Errorf("route needing orders:write with an orders:read token: %s, want 403 insufficient_scope", got)
	}
	if got := afCallAPI(t, api, "/orders", ""); got.status != http.StatusUnauthorized {
		t.Errorf("protected route without a token: %s, want 401", got)
	}

	// 6. Refresh: a new pair, the old refresh token retired.
	second := afTokens(t, "refresh", env.refresh(t, afWebID, first.refresh, nil))
	if second.refresh == "" || second.refresh == first.refresh || second.access == first.access {
		t.Fatalf("refresh did not rotate: refresh %q → %q", first.refresh, second.refresh)
	}
	if second.scope != "orders:read profile" {
		t.Errorf("refreshed scope %q, want %q", second.scope, "orders:read profile")
	}
	afCheckUserToken(t, "refreshed access token", second.access, afWebID, afUser, "orders:read profile")
	if got := afCallAPI(t, api, "/orders", second.access); got.status != http.StatusOK {
		t.Errorf("protected route with the refreshed token: %s", got)
	}
	if !env.active(t, second.access) {
		t.Fatal("refreshed access token inactive before any revocation")
	}

	// 7. The client revokes its refresh token (RFC 7009): 200, no body.
	res = env.revoke(t, afWebID, second.refresh, "refresh_token")
	if res.status != http.StatusOK || res.raw != "" || res.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("revocation: %s, Cache-Control %q; want 200, empty, no-store", res, res.header.Get("Cache-Control"))
	}

	// 8. The resource server introspects the access token issued by the
	// refresh: its whole family is revoked.
	if env.active(t, second.access) {
		t.Error("access token of a revoked refresh token's family still active")
	}
	if env.active(t, first.access) {
		t.Error("first access token of the revoked family still active")
	}

	// 9. The newest refresh token no longer refreshes.
	afWantError(t, "refresh after revocation", env.refresh(t, afWebID, second.refresh, nil), http.StatusBadRequest, "invalid_grant", "")

	// The Claims hook saw each user token with its grant type.
	var grants []string
	for _, c := range env.claimsCalls() {
		if c.ClientID != afWebID || c.Subject != afUser || !slices.Equal(c.Scopes, []string{"orders:read", "profile"}) ||
			!slices.Equal(c.Audience, []string{apiAudience}) {
			t.Errorf("Claims hook request %+v", c)
		}
		grants = append(grants, c.GrantType)
	}
	if want := []string{afCodeGrant, afRefreshGrant}; !slices.Equal(grants, want) {
		t.Errorf("Claims hook grant types %q, want %q", grants, want)
	}
	// Nothing secret reaches the log.
	for name, secret := range map[string]string{"code": code, "verifier": verifier, "access token": first.access,
		"refresh token": first.refresh, "second refresh token": second.refresh, "client secret": env.secret} {
		if strings.Contains(env.log.String(), secret) {
			t.Errorf("the log holds the %s", name)
		}
	}
}

// afCheckUserToken checks an access token issued for a user: RFC 9068
// claims, sub the user, client_id, scope, and the Claims hook's user
// claims (as the networknt example's tokens carry).
func afCheckUserToken(t testing.TB, what, token, clientID, user, scope string) {
	t.Helper()
	header, claims := afJWT(t, token)
	if header["typ"] != "at+jwt" || header["kid"] != "k1" || header["alg"] != "ES256" {
		t.Errorf("%s: header %v", what, header)
	}
	want := map[string]any{
		"iss": afIssuer, "sub": user, "client_id": clientID, "scope": scope,
		"user_id": user, "user_type": "customer", "version": "1.0",
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("%s: %s = %#v, want %#v", what, k, claims[k], v)
		}
	}
	if aud := afAud(claims); !slices.Equal(aud, []string{apiAudience}) {
		t.Errorf("%s: aud %q, want %q", what, aud, apiAudience)
	}
	iat, exp := afNum(t, claims, "iat"), afNum(t, claims, "exp")
	if exp-iat != int64(handler.DefaultAccessTokenTTL.Seconds()) {
		t.Errorf("%s: exp-iat = %d", what, exp-iat)
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		t.Errorf("%s: no jti", what)
	}
}

// afResourceAPI is the host's API, guarded by the middleware package with
// the server's own keys and clock.
func afResourceAPI(t testing.TB, env *afEnv) *httptest.Server {
	t.Helper()
	keys, err := middleware.LocalKeys(env.srv.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	mw, err := middleware.New(middleware.Config{
		Issuer: env.srv.Issuer(), Audience: apiAudience, Keys: keys,
		Now: env.clock.Now, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	orders := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := middleware.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "orders of %s via %s", c.Subject, c.ClientID)
	})
	mux := http.NewServeMux()
	mux.Handle("/orders", mw.RequireScopes("orders:read")(orders))
	mux.Handle("/orders/write", mw.RequireScopes("orders:write")(orders))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func afCallAPI(t testing.TB, api *httptest.Server, path, token string) afHTTP {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, api.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return afDo(t, req)
}
