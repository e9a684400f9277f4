package handler_test

import (
	"encoding/base64"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
)

// Revocation (RFC 7009) and introspection (RFC 7662).

// afCCToken gets a client_credentials token of the integration client for
// the QA audience.
func (e *afEnv) ccToken(t testing.TB) string {
	t.Helper()
	res := e.post(t, handler.TokenPath, integrationID, url.Values{"grant_type": {"client_credentials"}, "audience": {qaAudience}})
	return afTokens(t, "client_credentials", res).access
}

// afForeignToken is a token this server did not issue: another issuer
// signing with the very same key, or this issuer's name with another key
// under the same kid.
func afForeignTokens(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	sameKey := afServer(t, func(_ *afEnv, c *handler.Config) { c.Issuer = "http://evil.test" })
	out["another issuer, same key"] = sameKey.ccToken(t)
	otherKey := afServer(t, func(_ *afEnv, c *handler.Config) {
		c.Keys = []handler.SigningKey{{ID: "k1", Algorithm: "ES256"}}
	})
	out["same issuer and kid, another key"] = otherKey.ccToken(t)
	return out
}

func TestRevoke(t *testing.T) {
	t.Parallel()

	t.Run("unknown, malformed and foreign tokens: 200", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		tokens := afForeignTokens(t)
		tokens["unknown refresh token"] = "tgr_" + strings.Repeat("Q", 43)
		tokens["not a token"] = "not-a-token"
		tokens["three dots of garbage"] = "a.b.c"
		for name, tok := range tokens {
			for _, hint := range []string{"", "access_token", "refresh_token", "unknown_hint"} {
				res := env.revoke(t, afWebID, tok, hint)
				if res.status != http.StatusOK || res.raw != "" {
					t.Errorf("%s, hint %q: %s, want 200", name, hint, res)
				}
			}
		}
	})

	t.Run("expired access token: 200", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		p := env.pair(t, afWebID, nil)
		env.clock.Advance(handler.DefaultAccessTokenTTL)
		if res := env.revoke(t, afWebID, p.access, ""); res.status != http.StatusOK {
			t.Errorf("revoking an expired access token: %s", res)
		}
	})

	t.Run("another client's tokens: 400 unauthorized_client, nothing revoked", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		p := env.pair(t, afWebID, nil)
		for _, tc := range []struct{ name, client, token string }{
			{"refresh token by another confidential client", afOtherWebID, p.refresh},
			{"refresh token by a public client", afSPAID, p.refresh},
			{"access token by another client", afOtherWebID, p.access},
			{"access token by the resource server", afResourceID, p.access},
		} {
			afWantError(t, tc.name, env.revoke(t, tc.client, tc.token, ""), 400, "unauthorized_client", "")
		}
		if !env.active(t, p.access) {
			t.Error("another client's revocation revoked the access token")
		}
		afTokens(t, "the owner's refresh afterwards", env.refresh(t, afWebID, p.refresh, nil))
	})

	t.Run("access token: revoked alone, its refresh token still works", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		p := env.pair(t, afWebID, nil)
		sibling := env.pair(t, afWebID, nil)
		if res := env.revoke(t, afWebID, p.access, "access_token"); res.status != http.StatusOK {
			t.Fatalf("revocation: %s", res)
		}
		if env.active(t, p.access) {
			t.Error("revoked access token still active")
		}
		if !env.active(t, sibling.access) {
			t.Error("another grant's access token was revoked too")
		}
		next := afTokens(t, "refresh after the access token's revocation", env.refresh(t, afWebID, p.refresh, nil))
		if !env.active(t, next.access) {
			t.Error("the new access token is inactive")
		}
		// Revoking twice is fine.
		if res := env.revoke(t, afWebID, p.access, ""); res.status != http.StatusOK {
			t.Errorf("second revocation: %s", res)
		}
	})

	t.Run("client_credentials access token", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		tok := env.ccToken(t)
		if res := env.revoke(t, integrationID, tok, ""); res.status != http.StatusOK {
			t.Fatalf("revocation: %s", res)
		}
		if env.active(t, tok) {
			t.Error("revoked client_credentials token still active")
		}
	})

	t.Run("refresh token with a wrong hint: still revoked", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		p := env.pair(t, afWebID, nil)
		if res := env.revoke(t, afWebID, p.refresh, "access_token"); res.status != http.StatusOK {
			t.Fatalf("revocation: %s", res)
		}
		afWantError(t, "refresh after revocation", env.refresh(t, afWebID, p.refresh, nil), 400, "invalid_grant", "")
		if env.active(t, p.access) {
			t.Error("the family's access token is still active")
		}
	})

	t.Run("public client revokes its own refresh token", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		p := env.pair(t, afSPAID, nil)
		if res := env.revoke(t, afSPAID, p.refresh, ""); res.status != http.StatusOK {
			t.Fatalf("revocation: %s", res)
		}
		afWantError(t, "refresh after revocation", env.refresh(t, afSPAID, p.refresh, nil), 400, "invalid_grant", "")
		if env.active(t, p.access) {
			t.Error("the family's access token is still active")
		}
	})

	t.Run("a rotated refresh token revokes the family", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		p1 := env.pair(t, afWebID, nil)
		p2 := afTokens(t, "refresh", env.refresh(t, afWebID, p1.refresh, nil))
		if res := env.revoke(t, afWebID, p1.refresh, ""); res.status != http.StatusOK {
			t.Fatalf("revocation: %s", res)
		}
		afWantError(t, "the newest refresh token", env.refresh(t, afWebID, p2.refresh, nil), 400, "invalid_grant", "")
	})

	t.Run("client authentication and token required", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		p := env.pair(t, afWebID, nil)
		afWantError(t, "no credentials", env.revoke(t, "", p.refresh, ""), 401, "invalid_client", "")
		res := env.post(t, handler.RevokePath, afWebID, url.Values{"token_type_hint": {"refresh_token"}})
		afWantError(t, "no token", res, 400, "invalid_request", "token")
		afTokens(t, "the token afterwards", env.refresh(t, afWebID, p.refresh, nil))
	})
}

func TestIntrospect(t *testing.T) {
	t.Parallel()

	t.Run("client authentication", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		tok := env.ccToken(t)
		res := env.introspect(t, "", tok, "")
		afWantError(t, "no credentials", res, 401, "invalid_client", "")
		if got := res.header.Get("WWW-Authenticate"); got != "" {
			t.Errorf("no credentials: WWW-Authenticate %q without Basic", got)
		}
		req := env.postRequest(handler.IntrospectPath, "", url.Values{"token": {tok}})
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(afResourceID+":wrong-secret")))
		res = afDo(t, req)
		afWantError(t, "wrong secret with Basic", res, 401, "invalid_client", "")
		if got := res.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic ") {
			t.Errorf("wrong secret with Basic: WWW-Authenticate %q, want a Basic challenge", got)
		}
		req = env.postRequest(handler.IntrospectPath, "", url.Values{"token": {tok}, "client_id": {afResourceID}, "client_secret": {"wrong-secret"}})
		afWantError(t, "wrong secret in the body", afDo(t, req), 401, "invalid_client", "")
		for _, public := range []string{afSPAID, salesChannelID} {
			afWantError(t, "public client "+public, env.introspect(t, public, tok, ""), 401, "invalid_client", "")
		}
		for name, res := range map[string]afHTTP{
			"no credentials": env.introspect(t, "", tok, ""), "public client": env.introspect(t, afSPAID, tok, ""),
		} {
			if strings.Contains(res.raw, `"active"`) {
				t.Errorf("%s: introspection answered: %s", name, res.raw)
			}
		}
		// Basic is accepted; so is client_secret_post.
		if !env.activeAs(t, afResourceID, tok, "") {
			t.Error("Basic: inactive")
		}
		req = env.postRequest(handler.IntrospectPath, "", url.Values{"token": {tok}, "client_id": {afResourceID}, "client_secret": {env.secret}})
		if res := afDo(t, req); res.status != 200 || res.json["active"] != true {
			t.Errorf("client_secret_post: %s", res)
		}
	})

	t.Run("client_credentials token: every member", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		tok := env.ccToken(t)
		res := env.introspect(t, afResourceID, tok, "access_token")
		if res.status != http.StatusOK || res.header.Get("Cache-Control") != "no-store" ||
			!strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
			t.Fatalf("introspection: %s, headers %v", res, res.header)
		}
		_, claims := afJWT(t, tok)
		want := map[string]any{
			"active": true, "scope": "market:all", "client_id": integrationID, "sub": integrationID,
			"aud": qaAudience, "iss": afIssuer, "jti": claims["jti"], "token_type": "Bearer",
			"iat": claims["iat"], "exp": claims["exp"], "nbf": claims["nbf"],
		}
		if got, w := slices.Sorted(maps.Keys(res.json)), slices.Sorted(maps.Keys(want)); !slices.Equal(got, w) {
			t.Errorf("members %q, want %q", got, w)
		}
		for k, v := range want {
			afWantJSON(t, res.json, k, v)
		}
		if exp, iat := afNum(t, res.json, "exp"), afNum(t, res.json, "iat"); iat != fixedNow.Unix() || exp != iat+int64((2*time.Hour).Seconds()) {
			t.Errorf("iat %d exp %d, want %d and +2h", iat, exp, fixedNow.Unix())
		}
	})

	t.Run("user access token", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		p := env.pair(t, afWebID, nil)
		res := env.introspect(t, afResourceID, p.access, "")
		if res.json["active"] != true || res.str("sub") != afUser || res.str("client_id") != afWebID ||
			res.str("scope") != "orders:read profile" || res.str("aud") != apiAudience || res.str("token_type") != "Bearer" {
			t.Errorf("introspection: %s", res.raw)
		}
	})

	t.Run("expiry on the server's clock", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		tok := env.ccToken(t) // 2 hours
		env.clock.Advance(2*time.Hour - time.Second)
		if !env.active(t, tok) {
			t.Error("inactive a second before exp")
		}
		env.clock.Advance(time.Second)
		if env.active(t, tok) {
			t.Error("active at exp")
		}
	})

	t.Run("tokens that are not this server's or not tokens", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		tokens := afForeignTokens(t)
		own := env.ccToken(t)
		parts := strings.Split(own, ".")
		sig := []byte(parts[2])
		sig[5] ^= 1
		tokens["tampered signature"] = parts[0] + "." + parts[1] + "." + string(sig)
		tokens["unsigned"] = parts[0] + "." + parts[1] + "."
		tokens["garbage"] = "not-a-token"
		tokens["unknown refresh token"] = "tgr_" + strings.Repeat("Q", 43)
		for name, tok := range tokens {
			for _, hint := range []string{"", "access_token", "refresh_token"} {
				if env.active(t, tok) || env.activeAs(t, afResourceID, tok, hint) {
					t.Errorf("%s (hint %q): active", name, hint)
				}
			}
		}
		if !env.active(t, own) {
			t.Error("the server's own token inactive")
		}
	})

	t.Run("refresh tokens: only for their owner", func(t *testing.T) {
		t.Parallel()
		env := afServer(t, nil)
		p := env.pair(t, afWebID, afSet("scope", "orders:read orders:write"))
		for _, hint := range []string{"refresh_token", "", "access_token"} {
			res := env.introspect(t, afWebID, p.refresh, hint)
			want := map[string]any{
				"active": true, "token_type": "refresh_token", "client_id": afWebID, "sub": afUser,
				"scope": "orders:read orders:write", "iss": afIssuer,
				"exp": env.clock.Now().Add(handler.DefaultRefreshTokenTTL).Unix(),
			}
			if got, w := slices.Sorted(maps.Keys(res.json)), slices.Sorted(maps.Keys(want)); !slices.Equal(got, w) {
				t.Errorf("hint %q: members %q, want %q", hint, got, w)
			}
			for k, v := range want {
				afWantJSON(t, res.json, k, v)
			}
		}
		for _, other := range []string{afOtherWebID, afResourceID} {
			if env.activeAs(t, other, p.refresh, "refresh_token") {
				t.Errorf("%s sees another client's refresh token as active", other)
			}
		}
		// Introspecting does not spend it.
		afTokens(t, "refresh after introspection", env.refresh(t, afWebID, p.refresh, nil))
		if env.activeAs(t, afWebID, p.refresh, "refresh_token") {
			t.Error("rotated refresh token still active")
		}
	})
}

// Both endpoints take POST only, parse strictly and are never cached.
func TestRevokeIntrospectEndpoints(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	tok := env.ccToken(t)
	for _, path := range []string{handler.RevokePath, handler.IntrospectPath} {
		client := afResourceID
		if path == handler.RevokePath {
			client = integrationID
		}
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			req, _ := http.NewRequest(method, env.ts.URL+path+"?token="+url.QueryEscape(tok), nil)
			res := afDo(t, req)
			afWantError(t, method+" "+path, res, http.StatusMethodNotAllowed, "invalid_request", "")
			if got := res.header.Get("Allow"); got != http.MethodPost {
				t.Errorf("%s %s: Allow %q", method, path, got)
			}
		}
		for _, tc := range []struct {
			name string
			form url.Values
			desc string
		}{
			{"token repeated", url.Values{"token": {tok, tok}}, "parameter 'token' is repeated"},
			{"token_type_hint repeated", url.Values{"token": {tok}, "token_type_hint": {"access_token", "refresh_token"}}, "parameter 'token_type_hint' is repeated"},
			{"token with a trailing space", url.Values{"token": {tok + " "}}, "parameter 'token' has leading or trailing whitespace"},
			{"token with a newline", url.Values{"token": {tok + "\n"}}, "parameter 'token' contains a control character"},
			{"token missing", url.Values{"token_type_hint": {"access_token"}}, "the token parameter is missing"},
			{"token empty", url.Values{"token": {""}}, "the token parameter is missing"},
		} {
			res := env.post(t, path, client, tc.form)
			afWantError(t, path+": "+tc.name, res, 400, "invalid_request", tc.desc)
		}
		req := env.postRequest(path, "", url.Values{"token": {tok}})
		req.URL.RawQuery = "client_id=" + client + "&client_secret=" + url.QueryEscape(env.secret)
		afWantError(t, path+": credentials in the URL", afDo(t, req), 400, "invalid_request", "")
		// Success is no-store too.
		res := env.post(t, path, client, url.Values{"token": {"not-a-token"}})
		if res.status != 200 || res.header.Get("Cache-Control") != "no-store" || res.header.Get("Pragma") != "no-cache" {
			t.Errorf("%s: %s, Cache-Control %q Pragma %q", path, res, res.header.Get("Cache-Control"), res.header.Get("Pragma"))
		}
	}
}

// Failed client authentications at the revocation and introspection
// endpoints count against the same brute-force guard as the token
// endpoint's.
func TestRevokeFailedAuthGuard(t *testing.T) {
	t.Parallel()
	env := afServer(t, func(_ *afEnv, c *handler.Config) {
		c.RateLimits.FailedAuth = "3-M"
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	})
	tok := env.ccToken(t) // the integration's secret verifies here once
	from := func(ip, path, secret string) afHTTP {
		form := url.Values{"token": {tok}}
		if path == handler.TokenPath {
			form = url.Values{"grant_type": {"client_credentials"}}
		}
		req := env.postRequest(path, "", form)
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(integrationID+":"+url.QueryEscape(secret))))
		req.Header.Set("X-Forwarded-For", ip)
		return afDo(t, req)
	}
	// Three wrong secrets at the revocation endpoint, each from its own
	// address: only the client's counter reaches the limit.
	for i, ip := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		afWantError(t, "wrong secret "+ip, from(ip, handler.RevokePath, "guess-"+string(rune('a'+i))), 401, "invalid_client", "")
	}
	for i, path := range []string{handler.RevokePath, handler.IntrospectPath, handler.TokenPath} {
		// The client's count is full at every endpoint: a further guess is
		// refused unchecked.
		res := from("203.0.113."+strconv.Itoa(10+i), path, "guess-z")
		if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") == "" {
			t.Errorf("%s with a 4th wrong secret: %s, Retry-After %q; want 429", path, res, res.header.Get("Retry-After"))
		}
		// The right secret, verified before, is accepted cheaply: the
		// failures do not shut its owner out.
		if res := from("203.0.113."+strconv.Itoa(20+i), path, integrationSecret); res.status != http.StatusOK {
			t.Errorf("%s with the right, verified secret after 3 failures: %s; want 200", path, res)
		}
	}
	// Other clients are not locked out.
	if res := env.revoke(t, afWebID, "not-a-token", ""); res.status != http.StatusOK {
		t.Errorf("another client's revocation: %s", res)
	}
}
