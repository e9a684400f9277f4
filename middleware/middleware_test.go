package middleware_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tollgate-oauth/tollgate/internal/accesstoken"
	"github.com/tollgate-oauth/tollgate/internal/keys"
	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/middleware/authtest"
)

const bareChallenge = `Bearer realm="api"`

func invalidRequest(desc string) string {
	return `Bearer realm="api", error="invalid_request", error_description="` + desc + `"`
}

// TestBearerHeader: where the token is read from and how a malformed
// request is answered (RFC 6750 §2.1, §2.3, §3.1).
func TestBearerHeader(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	tok := iss.Token()
	const (
		noToken    = "an access token is required"
		noBearer   = "an access token is required (Bearer scheme)"
		notBearer  = "the Authorization header is not a Bearer token"
		repeated   = "the Authorization header is repeated"
		headerOnly = "access tokens are accepted in the Authorization header only"
		badParam   = "the access_token parameter is malformed"
	)
	tests := []struct {
		name      string
		auth      []string // Authorization header values, as sent
		query     string
		allowQ    bool
		status    int
		challenge string // "" for 200
		code      string
		desc      string
	}{
		{name: "no Authorization", status: 401, challenge: bareChallenge, desc: noToken},
		{name: "Bearer", auth: []string{"Bearer " + tok}, status: 200},
		{name: "bearer", auth: []string{"bearer " + tok}, status: 200},
		{name: "BEARER", auth: []string{"BEARER " + tok}, status: 200},
		{name: "bEaReR", auth: []string{"bEaReR " + tok}, status: 200},
		{name: "Basic", auth: []string{"Basic dXNlcjpwYXNz"}, status: 401, challenge: bareChallenge, desc: noBearer},
		{name: "Digest", auth: []string{`Digest username="u"`}, status: 401, challenge: bareChallenge, desc: noBearer},
		{name: "DPoP", auth: []string{"DPoP " + tok}, status: 401, challenge: bareChallenge, desc: noBearer},
		{name: "scheme glued to the token", auth: []string{"Bearer" + tok}, status: 401, challenge: bareChallenge, desc: noBearer},
		{name: "two spaces", auth: []string{"Bearer  " + tok}, status: 400, challenge: invalidRequest(notBearer), code: "invalid_request", desc: notBearer},
		{name: "tab", auth: []string{"Bearer\t" + tok}, status: 400, challenge: invalidRequest(notBearer), code: "invalid_request", desc: notBearer},
		{name: "no token", auth: []string{"Bearer"}, status: 400, challenge: invalidRequest(notBearer), code: "invalid_request", desc: notBearer},
		{name: "token with a space", auth: []string{"Bearer " + tok[:10] + " " + tok[10:]}, status: 400, challenge: invalidRequest(notBearer), code: "invalid_request", desc: notBearer},
		{name: "token then a parameter", auth: []string{"Bearer " + tok + ", realm=x"}, status: 400, challenge: invalidRequest(notBearer), code: "invalid_request", desc: notBearer},
		{name: "token with a comma", auth: []string{"Bearer " + tok[:10] + "," + tok[10:]}, status: 400, challenge: invalidRequest(notBearer), code: "invalid_request", desc: notBearer},
		{name: "token quoted", auth: []string{`Bearer "` + tok + `"`}, status: 400, challenge: invalidRequest(notBearer), code: "invalid_request", desc: notBearer},
		{name: "'!' in the token", auth: []string{"Bearer " + tok + "!"}, status: 400, challenge: invalidRequest(notBearer), code: "invalid_request", desc: notBearer},
		{name: "'=' inside the token", auth: []string{"Bearer " + strings.Replace(tok, ".", "=.", 1)}, status: 400, challenge: invalidRequest(notBearer), code: "invalid_request", desc: notBearer},
		{name: "two Authorization headers", auth: []string{"Bearer " + tok, "Bearer " + tok}, status: 400, challenge: invalidRequest(repeated), code: "invalid_request", desc: repeated},
		{name: "Bearer and Basic", auth: []string{"Basic dXNlcjpwYXNz", "Bearer " + tok}, status: 400, challenge: invalidRequest(repeated), code: "invalid_request", desc: repeated},
		{name: "query token refused by default", query: "access_token=" + tok, status: 400, challenge: invalidRequest(headerOnly), code: "invalid_request", desc: headerOnly},
		{name: "empty query token refused by default", query: "access_token=", status: 400, challenge: invalidRequest(headerOnly), code: "invalid_request", desc: headerOnly},
		{name: "query token allowed", query: "access_token=" + tok, allowQ: true, status: 200},
		{name: "query token allowed, empty", query: "access_token=", allowQ: true, status: 400, challenge: invalidRequest(badParam), code: "invalid_request", desc: badParam},
		{name: "query token allowed, twice", query: "access_token=" + tok + "&access_token=" + tok, allowQ: true, status: 400, challenge: invalidRequest(badParam), code: "invalid_request", desc: badParam},
		{name: "query token allowed, malformed", query: "access_token=" + url.QueryEscape(tok+" x"), allowQ: true, status: 400, challenge: invalidRequest(badParam), code: "invalid_request", desc: badParam},
		{name: "query token allowed, invalid", query: "access_token=" + tok + "x", allowQ: true, status: 401,
			challenge: `Bearer realm="api", error="invalid_token", error_description="` + reasonMalformed + `"`, code: "invalid_token", desc: reasonMalformed},
		{name: "query token allowed, other parameters only", query: "page=2", allowQ: true, status: 401, challenge: bareChallenge, desc: noToken},
		// RFC 6750 §3.1: "uses more than one method for including an access
		// token" is invalid_request.
		{name: "header and query token, query allowed", auth: []string{"Bearer " + tok}, query: "access_token=" + tok, allowQ: true,
			status: 400, challenge: "", code: "invalid_request"},
		{name: "header and query token, query not allowed", auth: []string{"Bearer " + tok}, query: "access_token=" + tok,
			status: 400, challenge: "", code: "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mw := newMiddleware(t, iss, func(c *middleware.Config) { c.AllowQueryToken = tc.allowQ })
			ts := serve(t, mw.Authenticate(reached))
			u := ts.URL + "/orders"
			if tc.query != "" {
				u += "?" + tc.query
			}
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			if tc.auth != nil {
				req.Header["Authorization"] = tc.auth
			}
			res := do(t, req)
			if res.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.Status, tc.status, res.Raw)
			}
			if tc.status == http.StatusOK {
				if res.Raw != "reached "+authtest.DefaultClientID {
					t.Errorf("body %q", res.Raw)
				}
				return
			}
			if tc.challenge != "" {
				if got := res.Header.Get("WWW-Authenticate"); got != tc.challenge {
					t.Errorf("WWW-Authenticate\n got %s\nwant %s", got, tc.challenge)
				}
			} else if got := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="api", error="`+tc.code+`"`) {
				t.Errorf("WWW-Authenticate %s, want error %s", got, tc.code)
			}
			if res.Body.Error != tc.code || (tc.desc != "" && res.Body.Description != tc.desc) {
				t.Errorf("body %+v, want error %q, description %q", res.Body, tc.code, tc.desc)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if strings.Contains(res.Raw, tok) || strings.Contains(res.Header.Get("WWW-Authenticate"), tok[:20]) {
				t.Error("the answer echoes the token")
			}
		})
	}
}

// TestMaxTokenBytesHeader: an Authorization header longer than
// MaxTokenBytes is an invalid token, refused before verification.
func TestMaxTokenBytesHeader(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	var calls atomic.Int64
	mw := newMiddleware(t, iss, func(c *middleware.Config) {
		c.MaxTokenBytes = 1024
		c.Now = func() time.Time { calls.Add(1); return testNow }
	})
	ts := serve(t, mw.Authenticate(reached))
	res := get(t, ts.URL, strings.Repeat("A", 1025))
	wantInvalidToken(t, res, reasonMalformed)
	if calls.Load() != 0 {
		t.Errorf("%d verifications, want 0", calls.Load())
	}
	// Also over the default of 8 KiB.
	mw = newMiddleware(t, iss, nil)
	ts = serve(t, mw.Authenticate(reached))
	wantInvalidToken(t, get(t, ts.URL, iss.Token(authtest.Claim("pad", strings.Repeat("p", middleware.DefaultMaxTokenBytes)))), reasonMalformed)
}

// TestAuthenticateNoDoubleVerification: Authenticate twice in a chain
// verifies once.
func TestAuthenticateNoDoubleVerification(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	var calls atomic.Int64
	mw := newMiddleware(t, iss, func(c *middleware.Config) {
		c.CacheSize = -1
		c.Now = func() time.Time { calls.Add(1); return testNow }
	})
	ts := serve(t, mw.Authenticate(mw.Authenticate(reached)))
	if res := get(t, ts.URL, iss.Token()); res.Status != http.StatusOK {
		t.Fatalf("status %d: %s", res.Status, res.Raw)
	}
	if calls.Load() != 1 {
		t.Errorf("%d verifications, want 1", calls.Load())
	}
}

// TestClaimsFrom: handlers see every verified claim.
func TestClaimsFrom(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	mw := newMiddleware(t, iss, nil)
	got := make(chan *middleware.Claims, 1)
	ts := serve(t, mw.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := middleware.ClaimsFrom(r.Context())
		if !ok {
			w.WriteHeader(http.StatusInternalServerError)
		}
		got <- c
	})))
	token := iss.Token(
		authtest.ClientID("app-7"), authtest.Subject("user-42"),
		authtest.Scopes("orders:read", "market:id:xYZ"),
		authtest.Audience(authtest.DefaultAudience, "https://other.test"),
		authtest.ExpiresIn(30*time.Minute),
		authtest.Claim("tenant", "acme"),
		authtest.Claim("roles", []string{"admin", "ops"}),
		authtest.Claim("limits", map[string]int{"rps": 5}),
	)
	if res := get(t, ts.URL, token); res.Status != http.StatusOK {
		t.Fatalf("status %d: %s", res.Status, res.Raw)
	}
	c := <-got
	var wire struct {
		Jti string `json:"jti"`
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if err := json.Unmarshal(payload, &wire); err != nil || wire.Jti == "" {
		t.Fatalf("token payload: %v %s", err, payload)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Subject", c.Subject, "user-42"},
		{"ClientID", c.ClientID, "app-7"},
		{"Issuer", c.Issuer, authtest.DefaultIssuer},
		{"Audience", strings.Join(c.Audience, " "), authtest.DefaultAudience + " https://other.test"},
		{"Scopes", strings.Join(c.Scopes, " "), "orders:read market:id:xYZ"},
		{"Expiry", c.Expiry.UTC(), testNow.Add(30 * time.Minute)},
		{"IssuedAt", c.IssuedAt.UTC(), testNow},
		{"NotBefore", c.NotBefore.UTC(), testNow},
		{"ID", c.ID, wire.Jti},
		{"KeyID", c.KeyID, "authtest"},
		{"HasScope(orders:read)", c.HasScope("orders:read"), true},
		{"HasScope(market:id:*)", c.HasScope("market:id:*"), true},
		{"HasScope(market:*:xYZ)", c.HasScope("market:*:xYZ"), true},
		{"HasScope(market:*)", c.HasScope("market:*"), false},
		{"HasScope(orders:write)", c.HasScope("orders:write"), false},
		{"HasScope(orders)", c.HasScope("orders"), false},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	all, err := c.All()
	if err != nil {
		t.Fatal(err)
	}
	if all["tenant"] != "acme" || all["sub"] != "user-42" || all["client_id"] != "app-7" || all["jti"] != wire.Jti {
		t.Errorf("All() = %v", all)
	}
	if roles, _ := all["roles"].([]any); len(roles) != 2 || roles[0] != "admin" || roles[1] != "ops" {
		t.Errorf("All()[roles] = %#v", all["roles"])
	}
	var custom struct {
		Tenant string         `json:"tenant"`
		Roles  []string       `json:"roles"`
		Limits map[string]int `json:"limits"`
		Scope  string         `json:"scope"`
	}
	if err := c.Decode(&custom); err != nil {
		t.Fatal(err)
	}
	if custom.Tenant != "acme" || strings.Join(custom.Roles, ",") != "admin,ops" || custom.Limits["rps"] != 5 || custom.Scope != "orders:read market:id:xYZ" {
		t.Errorf("Decode = %+v", custom)
	}
	var wrongType struct {
		Roles string `json:"roles"`
	}
	if err := c.Decode(&wrongType); err == nil {
		t.Error("Decode of an array claim into a string succeeded")
	}
}

func TestClaimsFromContext(t *testing.T) {
	t.Parallel()
	if c, ok := middleware.ClaimsFrom(context.Background()); ok || c != nil {
		t.Errorf("ClaimsFrom(empty) = %v, %v", c, ok)
	}
	want := &middleware.Claims{Subject: "s", Scopes: []string{"a:b"}}
	c, ok := middleware.ClaimsFrom(middleware.WithClaims(context.Background(), want))
	if !ok || c != want || !c.HasScope("a:*") {
		t.Errorf("ClaimsFrom(WithClaims) = %v, %v", c, ok)
	}
	// A handler tested with WithClaims alone passes Authenticate and
	// RequireScopes without a token.
	mw := newMiddleware(t, newIssuer(), nil)
	ts := serve(t, injectClaims(want, mw.RequireScopes("a:b")(reached)))
	if res := get(t, ts.URL, ""); res.Status != http.StatusOK || res.Raw != "reached s" {
		t.Errorf("status %d %q", res.Status, res.Raw)
	}
}

func injectClaims(c *middleware.Claims, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(middleware.WithClaims(r.Context(), c)))
	})
}

// TestErrorWriter: the hook writes every refusal instead of the default
// answer, and gets the error and realm.
func TestErrorWriter(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	type seen struct {
		err   middleware.Error
		realm string
	}
	got := make(chan seen, 1)
	mw := newMiddleware(t, iss, func(c *middleware.Config) {
		c.Realm = "orders"
		c.ErrorWriter = func(w http.ResponseWriter, r *http.Request, e *middleware.Error, realm string) {
			got <- seen{*e, realm}
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusTeapot)
			_, _ = w.Write([]byte("custom " + e.Code))
		}
	})
	ts := serve(t, mw.RequireScopes("orders:write")(reached))
	tests := []struct {
		name   string
		auth   string
		status int
		code   string
		scope  string
	}{
		{"no token", "", 401, "", ""},
		{"invalid token", "Bearer x.y.z", 401, "invalid_token", ""},
		{"malformed header", "Bearer  x", 400, "invalid_request", ""},
		{"missing scope", "Bearer " + iss.Token(authtest.Scopes("orders:read")), 403, "insufficient_scope", "orders:write"},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		res := do(t, req)
		if res.Status != http.StatusTeapot || res.Raw != "custom "+tc.code {
			t.Errorf("%s: status %d %q, want the hook's answer", tc.name, res.Status, res.Raw)
		}
		if h := res.Header.Get("WWW-Authenticate"); h != "" {
			t.Errorf("%s: WWW-Authenticate %q set besides the hook", tc.name, h)
		}
		s := <-got
		if s.realm != "orders" || s.err.Status != tc.status || s.err.Code != tc.code || s.err.Scope != tc.scope || s.err.Description == "" {
			t.Errorf("%s: hook got %+v realm %q", tc.name, s.err, s.realm)
		}
	}
	if res := get(t, ts.URL, iss.Token(authtest.Scopes("orders:write"))); res.Status != http.StatusOK {
		t.Errorf("good token: status %d", res.Status)
	}
	select {
	case s := <-got:
		t.Errorf("hook called for a good request: %+v", s)
	default:
	}
}

// TestWriteErrorDefault: the default writer's headers and body.
func TestWriteErrorDefault(t *testing.T) {
	t.Parallel()
	mw := newMiddleware(t, newIssuer(), func(c *middleware.Config) {
		// The default writer, called from a custom one: extra headers pass.
		c.ErrorWriter = func(w http.ResponseWriter, r *http.Request, e *middleware.Error, realm string) {
			e.Header = http.Header{"Retry-After": {"7"}}
			e.Description = "bad \"token\"\n\xff"
			middleware.WriteError(w, r, e, realm)
		}
	})
	ts := serve(t, mw.Authenticate(reached))
	res := get(t, ts.URL, "x.y.z")
	if res.Status != 401 || res.Header.Get("Retry-After") != "7" || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("status %d headers %v", res.Status, res.Header)
	}
	want := `Bearer realm="api", error="invalid_token", error_description="bad 'token'??"`
	if got := res.Header.Get("WWW-Authenticate"); got != want {
		t.Errorf("WWW-Authenticate\n got %s\nwant %s", got, want)
	}
	if res.Body.Description != "bad 'token'??" || res.Body.Error != "invalid_token" {
		t.Errorf("body %+v", res.Body)
	}
	if !strings.HasSuffix(res.Raw, "}\n") || strings.Contains(res.Raw, `"scope"`) {
		t.Errorf("raw body %q", res.Raw)
	}
}

func TestChallenge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err   middleware.Error
		realm string
		want  string
		str   string
	}{
		{middleware.Error{Status: 401, Description: "an access token is required"}, "api",
			`Bearer realm="api"`, "an access token is required"},
		{middleware.Error{Status: 401, Code: "invalid_token", Description: "the token has expired"}, "api",
			`Bearer realm="api", error="invalid_token", error_description="the token has expired"`, "invalid_token: the token has expired"},
		{middleware.Error{Status: 401, Code: "invalid_token"}, "r",
			`Bearer realm="r", error="invalid_token"`, "invalid_token: "},
		{middleware.Error{Status: 400, Code: "invalid_request", Description: `say "hi"` + "\r\nX-Injected: 1"}, "api",
			`Bearer realm="api", error="invalid_request", error_description="say 'hi'??X-Injected: 1"`, "invalid_request: say \"hi\"\r\nX-Injected: 1"},
		{middleware.Error{Status: 403, Code: "insufficient_scope", Description: "the token lacks a required scope", Scope: "orders:read orders:write"}, "api",
			`Bearer realm="api", error="insufficient_scope", error_description="the token lacks a required scope", scope="orders:read orders:write"`, ""},
		{middleware.Error{Status: 429, Code: "rate_limited", Description: "slow down"}, "api", "", ""},
		{middleware.Error{Status: 503, Code: "temporarily_unavailable", Description: "keys"}, "api", "", ""},
		{middleware.Error{Status: 500, Code: "server_error"}, "api", "", ""},
	}
	for _, tc := range tests {
		if got := tc.err.Challenge(tc.realm); got != tc.want {
			t.Errorf("Challenge(%+v)\n got %s\nwant %s", tc.err, got, tc.want)
		}
		if tc.str != "" {
			if got := tc.err.Error(); got != tc.str {
				t.Errorf("Error() = %q, want %q", got, tc.str)
			}
		}
	}
	long := middleware.Error{Status: 401, Code: "invalid_token", Description: strings.Repeat("d", 1000)}
	if got := long.Challenge("api"); len(got) > 400 {
		t.Errorf("challenge of %d bytes: the description is not bounded", len(got))
	}
}

func TestRealm(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	mw := newMiddleware(t, iss, func(c *middleware.Config) { c.Realm = "orders api" })
	ts := serve(t, mw.RequireScopes("orders:write")(reached))
	if got := get(t, ts.URL, "").Header.Get("WWW-Authenticate"); got != `Bearer realm="orders api"` {
		t.Errorf("no token: %s", got)
	}
	if got := get(t, ts.URL, "x.y.z").Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="orders api", error="invalid_token"`) {
		t.Errorf("bad token: %s", got)
	}
	if got := get(t, ts.URL, iss.Token()).Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="orders api", error="insufficient_scope"`) {
		t.Errorf("no scope: %s", got)
	}
	if middleware.DefaultRealm != "api" {
		t.Errorf("DefaultRealm = %q", middleware.DefaultRealm)
	}
}

func TestNewConfigErrors(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	valid := func() middleware.Config { return iss.Config() }
	tests := []struct {
		name   string
		mutate func(*middleware.Config)
		want   []string // substrings; nil: New succeeds
	}{
		{name: "valid", mutate: func(*middleware.Config) {}},
		{name: "valid with every option", mutate: func(c *middleware.Config) {
			c.Algorithms = []string{"ES384", "PS512", "EdDSA"}
			c.Leeway = 5 * time.Minute
			c.MaxTokenBytes = 100
			c.CacheSize = -1
			c.Realm = "orders api (v2)"
			c.AllowUntypedTokens, c.AllowQueryToken = true, true
			c.Logger = slog.New(slog.DiscardHandler)
		}},
		{name: "empty config", mutate: func(c *middleware.Config) { *c = middleware.Config{} },
			want: []string{"Config.Issuer is required", "Config.Audience is required", "Config.Keys is required"}},
		{name: "no issuer", mutate: func(c *middleware.Config) { c.Issuer = "" }, want: []string{"Config.Issuer is required"}},
		{name: "no audience", mutate: func(c *middleware.Config) { c.Audience = "" }, want: []string{"Config.Audience is required"}},
		{name: "no keys", mutate: func(c *middleware.Config) { c.Keys = nil }, want: []string{"Config.Keys is required"}},
		{name: "HS256", mutate: func(c *middleware.Config) { c.Algorithms = []string{"ES256", "HS256"} }, want: []string{`"HS256" is not an asymmetric`}},
		{name: "HS512", mutate: func(c *middleware.Config) { c.Algorithms = []string{"HS512"} }, want: []string{`"HS512" is not an asymmetric`}},
		{name: "none", mutate: func(c *middleware.Config) { c.Algorithms = []string{"none"} }, want: []string{`"none" is not an asymmetric`}},
		{name: "lower-case alg", mutate: func(c *middleware.Config) { c.Algorithms = []string{"es256"} }, want: []string{`"es256" is not an asymmetric`}},
		{name: "negative leeway", mutate: func(c *middleware.Config) { c.Leeway = -time.Second }, want: []string{"Config.Leeway must not be negative"}},
		{name: "leeway over 5 minutes", mutate: func(c *middleware.Config) { c.Leeway = 5*time.Minute + time.Second }, want: []string{"more than 5 minutes"}},
		{name: "negative MaxTokenBytes", mutate: func(c *middleware.Config) { c.MaxTokenBytes = -1 }, want: []string{"Config.MaxTokenBytes must not be negative"}},
		{name: "realm with a quote", mutate: func(c *middleware.Config) { c.Realm = `my "api"` }, want: []string{"Config.Realm"}},
		{name: "realm with a backslash", mutate: func(c *middleware.Config) { c.Realm = `a\b` }, want: []string{"Config.Realm"}},
		{name: "realm with a newline", mutate: func(c *middleware.Config) { c.Realm = "a\r\nX-Evil: 1" }, want: []string{"Config.Realm"}},
		{name: "realm not ASCII", mutate: func(c *middleware.Config) { c.Realm = "café" }, want: []string{"Config.Realm"}},
		{name: "issuer not a URL", mutate: func(c *middleware.Config) { c.Issuer = "http://[::1" }, want: []string{"must be an absolute http(s) URL"}},
		{name: "issuer without a scheme", mutate: func(c *middleware.Config) { c.Issuer = "localhost:9090" },
			want: []string{`Config.Issuer "localhost:9090" is not an absolute URL; did you mean "https://localhost:9090"?`}},
		{name: "issuer with a query", mutate: func(c *middleware.Config) { c.Issuer = "https://issuer.test?tenant=a" }, want: []string{"no query"}},
		{name: "every problem at once", mutate: func(c *middleware.Config) {
			c.Audience, c.Algorithms, c.Leeway, c.Realm = "", []string{"HS256"}, -1, `"`
		}, want: []string{"Config.Audience is required", `"HS256"`, "Config.Leeway must not be negative", "Config.Realm"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid()
			tc.mutate(&cfg)
			mw, err := middleware.New(cfg)
			if tc.want == nil {
				if err != nil || mw == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || mw != nil {
				t.Fatalf("New = %v, %v; want an error", mw, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if got := strings.Count(err.Error(), "middleware: "); got != len(tc.want) {
				t.Errorf("%d problems reported, want %d: %v", got, len(tc.want), err)
			}
		})
	}
}

// TestNewDoesNotAliasAlgorithms: changing the caller's slice after New
// does not change the policy.
func TestNewDoesNotAliasAlgorithms(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	algs := []string{"EdDSA"}
	mw := newMiddleware(t, iss, func(c *middleware.Config) { c.Algorithms = algs })
	algs[0] = "ES256" // the issuer signs ES256
	ts := serve(t, mw.Authenticate(reached))
	wantInvalidToken(t, get(t, ts.URL, iss.Token()), reasonAlg)
}

// TestKeysUnavailable: a remote set that never loaded answers 503 with
// Retry-After, not 401 or 500.
func TestKeysUnavailable(t *testing.T) {
	t.Parallel()
	down := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	ks, err := middleware.RemoteJWKS(context.Background(), down.URL, middleware.RemoteOptions{
		RetryStartup: true, HTTPClient: down.Client(), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.Close)
	iss := newIssuer()
	mw := newMiddleware(t, iss, func(c *middleware.Config) { c.Keys = ks })
	ts := serve(t, mw.Authenticate(reached))
	res := get(t, ts.URL, iss.Token())
	if res.Status != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || res.Body.Error != "temporarily_unavailable" {
		t.Errorf("status %d, Retry-After %q, body %+v", res.Status, res.Header.Get("Retry-After"), res.Body)
	}
	if h := res.Header.Get("WWW-Authenticate"); h != "" {
		t.Errorf("WWW-Authenticate %q on a 503", h)
	}
}

// Cache tests. A handler reports the *Claims it got: the same pointer on
// two requests means the second was served from the cache.

func claimsRecorder(ch chan<- *middleware.Claims) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := middleware.ClaimsFrom(r.Context())
		ch <- c
	})
}

// probe sends token and returns the status and, on 200, the claims.
func probe(t *testing.T, url, token string, ch <-chan *middleware.Claims) (int, *middleware.Claims) {
	t.Helper()
	res := get(t, url, token)
	if res.Status != http.StatusOK {
		return res.Status, nil
	}
	return res.Status, <-ch
}

// TestCacheNeverPastExpiry: a cached token is served until exp (no
// leeway); from exp on every request is verified in full, which accepts
// it until exp+leeway and refuses it after.
func TestCacheNeverPastExpiry(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	clk := newClock(testNow)
	mw := newMiddleware(t, iss, func(c *middleware.Config) { c.Now = clk.Now })
	ch := make(chan *middleware.Claims, 1)
	ts := serve(t, mw.Authenticate(claimsRecorder(ch)))
	token := iss.Token() // exp = testNow + 1h
	exp := testNow.Add(authtest.DefaultTTL)

	_, first := probe(t, ts.URL, token, ch)
	if first == nil {
		t.Fatal("token refused")
	}
	clk.Set(exp.Add(-time.Second))
	if status, c := probe(t, ts.URL, token, ch); status != 200 || c != first {
		t.Errorf("exp-1s: status %d, cached %v; want 200 from the cache", status, c == first)
	}
	prev := first
	for _, at := range []time.Duration{0, time.Second, 29 * time.Second} {
		clk.Set(exp.Add(at))
		status, c := probe(t, ts.URL, token, ch)
		if status != 200 {
			t.Fatalf("exp%+v: status %d, want 200 (within leeway)", at, status)
		}
		if c == prev || c == first {
			t.Errorf("exp%+v: served from the cache past exp", at)
		}
		prev = c
	}
	for _, at := range []time.Duration{30 * time.Second, 31 * time.Second, time.Hour} {
		clk.Set(exp.Add(at))
		res := get(t, ts.URL, token)
		wantInvalidToken(t, res, reasonExpired)
	}
}

// TestCacheServesRepeatedToken: the same token twice is verified once;
// CacheSize < 0 verifies every time; a full cache makes room.
func TestCacheServesRepeatedToken(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	tokA, tokB := iss.Token(authtest.Subject("a")), iss.Token(authtest.Subject("b"))
	for _, tc := range []struct {
		size   int
		cached bool
	}{{0, true}, {10, true}, {-1, false}} {
		var calls atomic.Int64
		mw := newMiddleware(t, iss, func(c *middleware.Config) {
			c.CacheSize = tc.size
			c.Now = func() time.Time { calls.Add(1); return testNow }
		})
		ch := make(chan *middleware.Claims, 1)
		ts := serve(t, mw.Authenticate(claimsRecorder(ch)))
		_, c1 := probe(t, ts.URL, tokA, ch)
		_, c2 := probe(t, ts.URL, tokA, ch)
		if c1 == nil || c2 == nil {
			t.Fatalf("CacheSize %d: refused", tc.size)
		}
		if (c1 == c2) != tc.cached {
			t.Errorf("CacheSize %d: second request from the cache = %v, want %v", tc.size, c1 == c2, tc.cached)
		}
		if c1.Subject != "a" || c2.Subject != "a" {
			t.Errorf("CacheSize %d: subjects %q %q", tc.size, c1.Subject, c2.Subject)
		}
		if _, c3 := probe(t, ts.URL, tokB, ch); c3 == nil || c3.Subject != "b" || c3 == c1 {
			t.Errorf("CacheSize %d: another token got %+v", tc.size, c3)
		}
	}

	// CacheSize 1: B evicts A.
	mw := newMiddleware(t, iss, func(c *middleware.Config) { c.CacheSize = 1 })
	ch := make(chan *middleware.Claims, 1)
	ts := serve(t, mw.Authenticate(claimsRecorder(ch)))
	_, a1 := probe(t, ts.URL, tokA, ch)
	_, a2 := probe(t, ts.URL, tokA, ch)
	_, b1 := probe(t, ts.URL, tokB, ch)
	_, b2 := probe(t, ts.URL, tokB, ch)
	_, a3 := probe(t, ts.URL, tokA, ch)
	if a1 != a2 || b1 != b2 || a3 == a1 {
		t.Errorf("CacheSize 1: a1==a2 %v, b1==b2 %v, a3==a1 %v; want true, true, false", a1 == a2, b1 == b2, a3 == a1)
	}
}

// jwksServer serves a JWKS that a test can swap, counting fetches.
type jwksServer struct {
	body atomic.Pointer[[]byte]
	hits atomic.Int64
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.hits.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(*s.body.Load())
}

func (s *jwksServer) set(t *testing.T, ks ...*keys.Key) {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, k := range ks {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: k.ID, Algorithm: k.Alg, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.body.Store(&b)
}

func newSigningKey(t *testing.T, kid string) *keys.Key {
	t.Helper()
	priv, err := keys.Generate(keys.ES256, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := keys.New(kid, keys.ES256, priv)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mintWith(t *testing.T, k *keys.Key, sub string) string {
	t.Helper()
	tok, err := accesstoken.Mint(k, &accesstoken.Claims{
		Issuer: authtest.DefaultIssuer, Subject: sub, ClientID: sub, Audience: []string{authtest.DefaultAudience},
		IssuedAt: testNow, Expiry: testNow.Add(time.Hour), ID: "jti-" + sub,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestCacheKeyRemoved: once a refetch of the remote set drops a key,
// tokens it verified are no longer served from the cache.
func TestCacheKeyRemoved(t *testing.T) {
	t.Parallel()
	k1, k2 := newSigningKey(t, "k1"), newSigningKey(t, "k2")
	js := &jwksServer{}
	js.set(t, k1, k2)
	srv := serve(t, js)
	rclk := newClock(testNow)
	ks, err := middleware.RemoteJWKS(context.Background(), srv.URL, middleware.RemoteOptions{
		HTTPClient: srv.Client(), Now: rclk.Now, MissRefetchInterval: 30 * time.Second, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.Close)
	mw := newMiddleware(t, newIssuer(), func(c *middleware.Config) { c.Keys = ks })
	ch := make(chan *middleware.Claims, 1)
	ts := serve(t, mw.Authenticate(claimsRecorder(ch)))
	t1, t2 := mintWith(t, k1, "one"), mintWith(t, k2, "two")
	unknown := mintWith(t, newSigningKey(t, "k3"), "three")

	_, p1 := probe(t, ts.URL, t1, ch)
	_, again := probe(t, ts.URL, t1, ch)
	if p1 == nil || again != p1 {
		t.Fatalf("t1 not served from the cache (%v, %v)", p1, again)
	}
	if n := js.hits.Load(); n != 1 {
		t.Fatalf("%d fetches at start, want 1", n)
	}

	// k1 is removed at the issuer; until the set is refetched, the cache
	// still serves t1.
	js.set(t, k2)
	wantInvalidToken(t, get(t, ts.URL, unknown), reasonUnknown) // first miss: refetch
	if n := js.hits.Load(); n != 2 {
		t.Fatalf("%d fetches after an unknown kid, want 2", n)
	}
	wantInvalidToken(t, get(t, ts.URL, t1), reasonUnknown)
	if status, c := probe(t, ts.URL, t2, ch); status != 200 || c.Subject != "two" {
		t.Errorf("t2 (k2 still published): status %d", status)
	}

	// Put k1 back: a miss within MissRefetchInterval does not refetch, so
	// t1 stays refused; after the interval it refetches and t1 works.
	js.set(t, k1, k2)
	rclk.Advance(10 * time.Second)
	wantInvalidToken(t, get(t, ts.URL, unknown), reasonUnknown)
	if n := js.hits.Load(); n != 2 {
		t.Errorf("%d fetches after a second miss within the interval, want 2", n)
	}
	wantInvalidToken(t, get(t, ts.URL, t1), reasonUnknown) // t1 itself is a miss, also throttled
	rclk.Advance(20 * time.Second)
	if status, c := probe(t, ts.URL, t1, ch); status != 200 || c == p1 {
		t.Errorf("t1 after k1 returned: status %d, stale cache entry %v", status, c == p1)
	}
	if n := js.hits.Load(); n != 3 {
		t.Errorf("%d fetches, want 3", n)
	}
	_, p2 := probe(t, ts.URL, t1, ch)

	// Removed again and refetched after the interval: the cached t1 (p2)
	// is not served.
	js.set(t, k2)
	rclk.Advance(30 * time.Second)
	wantInvalidToken(t, get(t, ts.URL, unknown), reasonUnknown)
	if n := js.hits.Load(); n != 4 {
		t.Errorf("%d fetches, want 4", n)
	}
	res := get(t, ts.URL, t1)
	if res.Status == http.StatusOK {
		c := <-ch
		t.Fatalf("t1 served after its key was removed (from the cache: %v)", c == p2)
	}
	wantInvalidToken(t, res, reasonUnknown)
}

// TestLocalKeysErrors: LocalKeys refuses a document with no usable key.
func TestLocalKeysErrors(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"not JSON":    "{",
		"no keys":     `{"keys":[]}`,
		"only HMAC":   `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h","alg":"HS256"}]}`,
		"duplicate":   string(dupJWKS(t)),
		"private key": string(privateJWKS(t)),
	} {
		if ks, err := middleware.LocalKeys([]byte(doc)); err == nil || ks != nil {
			t.Errorf("%s: LocalKeys = %v, %v; want an error", name, ks, err)
		}
	}
}

func dupJWKS(t *testing.T) []byte {
	k := newSigningKey(t, "same")
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: k.Public(), KeyID: "same", Algorithm: "ES256"},
		{Key: k.Public(), KeyID: "same", Algorithm: "ES256"},
	}}
	return must(json.Marshal(set))
}

func privateJWKS(t *testing.T) []byte {
	k := newSigningKey(t, "priv")
	return must(json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.Private(), KeyID: "priv", Algorithm: "ES256"}}}))
}

// TestLocalKeysBinding: a JWK's alg binds the key; without one the key
// type decides; a token under another alg is refused.
func TestLocalKeysBinding(t *testing.T) {
	t.Parallel()
	doc := must(json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: forgeES.Public(), KeyID: "es-1"}, // no alg: ES256 from the curve
		{Key: forgeED.Public(), KeyID: "ed-1", Algorithm: "EdDSA"},
		{Key: forgeRSA().Public(), KeyID: "rs-1", Algorithm: "RS256", Use: "enc"}, // not a signing key
	}}))
	ks, err := middleware.LocalKeys(doc)
	if err != nil {
		t.Fatal(err)
	}
	mw := newMiddleware(t, newIssuer(), func(c *middleware.Config) { c.Keys = ks })
	ts := serve(t, mw.Authenticate(reached))
	if res := get(t, ts.URL, goodForged()); res.Status != http.StatusOK {
		t.Errorf("ES256 by a key without alg: status %d %s", res.Status, res.Raw)
	}
	rs := forge("RS256", forgeRSA(), forgedHeader("RS256", "rs-1").String(), forgedClaims().String())
	wantInvalidToken(t, get(t, ts.URL, rs), reasonUnknown)
}

// TestIssuerMismatchExplained: a resource API configured with a trailing
// slash that its token server does not write refuses the token (RFC 9068
// §4: an exact match), and tells its host why — both values, and the
// slash — through Error.Cause and the debug log, never through the answer.
func TestIssuerMismatchExplained(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	var logs strings.Builder
	var cause error
	mw := newMiddleware(t, iss, func(c *middleware.Config) {
		c.Issuer += "/"
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.ErrorWriter = func(w http.ResponseWriter, r *http.Request, e *middleware.Error, realm string) {
			cause = e.Cause
			middleware.WriteError(w, r, e, realm)
		}
	})
	ts := serve(t, mw.Authenticate(reached))
	req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
	req.Header.Set("Authorization", "Bearer "+iss.Token())
	res := do(t, req)
	if res.Status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", res.Status)
	}
	want := []string{strconv.Quote(iss.URL), strconv.Quote(iss.URL + "/"), "only by a trailing slash"}
	for _, w := range want {
		if cause == nil || !strings.Contains(cause.Error(), w) {
			t.Errorf("Error.Cause %v lacks %s", cause, w)
		}
		if !strings.Contains(logs.String(), strings.Trim(w, `"`)) {
			t.Errorf("the debug log lacks %s:\n%s", w, logs.String())
		}
	}
	if strings.Contains(res.Raw, iss.URL) || strings.Contains(res.Header.Get("WWW-Authenticate"), iss.URL) {
		t.Errorf("the answer names the issuer: %s %q", res.Raw, res.Header.Get("WWW-Authenticate"))
	}
}
