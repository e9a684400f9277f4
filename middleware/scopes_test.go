package middleware_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/middleware/authtest"
)

func insufficientScope(scope string) string {
	return `Bearer realm="api", error="insufficient_scope", error_description="the token lacks a required scope", scope="` + scope + `"`
}

// wantForbidden asserts the RFC 6750 §3.1 answer to a missing scope.
func wantForbidden(t *testing.T, res response, scope string) {
	t.Helper()
	if res.Status != http.StatusForbidden {
		t.Fatalf("status %d, want 403: %s", res.Status, res.Raw)
	}
	if got := res.Header.Get("WWW-Authenticate"); got != insufficientScope(scope) {
		t.Errorf("WWW-Authenticate\n got %s\nwant %s", got, insufficientScope(scope))
	}
	if res.Body.Error != "insufficient_scope" || res.Body.Scope != scope || res.Body.Description != "the token lacks a required scope" {
		t.Errorf("body %+v", res.Body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestRequireScopes(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	mw := newMiddleware(t, iss, nil)
	tests := []struct {
		name     string
		guard    func(http.Handler) http.Handler
		required string // the scope attribute of a 403
		granted  []string
		ok       bool
	}{
		{"all of: both granted", mw.RequireScopes("orders:read", "orders:write"), "orders:read orders:write", []string{"orders:write", "orders:read"}, true},
		{"all of: one missing", mw.RequireScopes("orders:read", "orders:write"), "orders:read orders:write", []string{"orders:read"}, false},
		{"all of: none granted", mw.RequireScopes("orders:read", "orders:write"), "orders:read orders:write", nil, false},
		{"all of: more granted", mw.RequireScopes("orders:read"), "orders:read", []string{"a", "orders:read", "b"}, true},
		{"all of: prefix is not enough", mw.RequireScopes("orders:read"), "orders:read", []string{"orders"}, false},
		{"all of: longer scope is not enough", mw.RequireScopes("orders"), "orders", []string{"orders:read"}, false},
		{"all of: case matters", mw.RequireScopes("orders:read"), "orders:read", []string{"Orders:Read"}, false},
		{"all of: nothing required", mw.RequireScopes(), "", nil, true},
		{"wildcard satisfied by one market", mw.RequireScopes("market:id:*"), "market:id:*", []string{"market:id:xYZ"}, true},
		{"wildcard not by fewer segments", mw.RequireScopes("market:id:*"), "market:id:*", []string{"market:id"}, false},
		{"wildcard not by more segments", mw.RequireScopes("market:id:*"), "market:id:*", []string{"market:id:a:b"}, false},
		{"wildcard not by an empty segment", mw.RequireScopes("market:id:*"), "market:id:*", []string{"market:id:"}, false},
		{"wildcard not by another prefix", mw.RequireScopes("market:id:*"), "market:id:*", []string{"market:all"}, false},
		{"wildcard in the middle", mw.RequireScopes("market:*:read"), "market:*:read", []string{"market:eu:read"}, true},
		{"wildcard and a plain scope", mw.RequireScopes("market:id:*", "orders:read"), "market:id:* orders:read", []string{"market:id:q"}, false},
		{"a token's literal * is not a wildcard", mw.RequireScopes("market:id:xYZ"), "market:id:xYZ", []string{"market:id:*"}, false},
		{"any of: first", mw.RequireAnyScope("orders:read", "orders:write"), "orders:read orders:write", []string{"orders:read"}, true},
		{"any of: second", mw.RequireAnyScope("orders:read", "orders:write"), "orders:read orders:write", []string{"orders:write"}, true},
		{"any of: neither", mw.RequireAnyScope("orders:read", "orders:write"), "orders:read orders:write", []string{"orders:delete"}, false},
		{"any of: none granted", mw.RequireAnyScope("orders:read", "orders:write"), "orders:read orders:write", nil, false},
		{"any of: wildcard", mw.RequireAnyScope("admin", "market:id:*"), "admin market:id:*", []string{"market:id:xYZ"}, true},
		{"any of: wildcard not matched", mw.RequireAnyScope("admin", "market:id:*"), "admin market:id:*", []string{"market:all"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := serve(t, tc.guard(reached))
			res := get(t, ts.URL, iss.Token(authtest.Scopes(tc.granted...)))
			if tc.ok {
				if res.Status != http.StatusOK || res.Raw != "reached "+authtest.DefaultClientID {
					t.Fatalf("status %d %q, want 200", res.Status, res.Raw)
				}
				return
			}
			wantForbidden(t, res, tc.required)
		})
	}
}

// TestRequireScopesAuthenticates: used alone, RequireScopes and
// RequireAnyScope authenticate the request: no token is a 401, not a 403.
func TestRequireScopesAuthenticates(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	for name, guard := range map[string]func(http.Handler) http.Handler{
		"RequireScopes":   newMiddleware(t, iss, nil).RequireScopes("orders:read"),
		"RequireAnyScope": newMiddleware(t, iss, nil).RequireAnyScope("orders:read"),
	} {
		ts := serve(t, guard(reached))
		res := get(t, ts.URL, "")
		if res.Status != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") != bareChallenge {
			t.Errorf("%s, no token: status %d, challenge %q", name, res.Status, res.Header.Get("WWW-Authenticate"))
		}
		wantInvalidToken(t, get(t, ts.URL, iss.Token(authtest.Scopes("orders:read"), authtest.ExpiresIn(-time.Minute))), reasonExpired)
		if res := get(t, ts.URL, iss.Token(authtest.Scopes("orders:read"))); res.Status != http.StatusOK {
			t.Errorf("%s, good token: status %d", name, res.Status)
		}
	}
}

// TestScopesVerifyOnce: behind Authenticate, scope checks reuse its
// claims: one verification per request (the clock is read once per
// verification), with the cache off so every request would verify.
func TestScopesVerifyOnce(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	var calls atomic.Int64
	mw := newMiddleware(t, iss, func(c *middleware.Config) {
		c.CacheSize = -1
		c.Now = func() time.Time { calls.Add(1); return testNow }
	})
	limit, err := mw.RateLimit(middleware.RateLimit{Rate: "1000-M"})
	if err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter()
	r.Use(mw.Authenticate)
	r.Handle("/orders", limit(mw.RequireScopes("orders:read")(mw.RequireAnyScope("orders:read", "admin")(reached))))
	ts := serve(t, r)
	token := iss.Token(authtest.Scopes("orders:read"))
	for i := 1; i <= 3; i++ {
		if res := get(t, ts.URL+"/orders", token); res.Status != http.StatusOK {
			t.Fatalf("status %d: %s", res.Status, res.Raw)
		}
		if n := calls.Load(); n != int64(i) {
			t.Fatalf("after %d requests: %d verifications, want %d", i, n, i)
		}
	}
	wantForbidden(t, get(t, ts.URL+"/orders", iss.Token()), "orders:read")
	if n := calls.Load(); n != 4 {
		t.Errorf("%d verifications after a 403, want 4", n)
	}
}

// TestGorillaMux: the middleware on a whole router, per route and per
// subrouter.
func TestGorillaMux(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	mw := newMiddleware(t, iss, nil)
	ok := func(label string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := middleware.ClaimsFrom(r.Context())
			sub := "-"
			if c != nil {
				sub = c.Subject
			}
			_, _ = w.Write([]byte(label + " " + sub))
		})
	}

	// Per route and per subrouter on a router with a public route.
	r := mux.NewRouter()
	r.Handle("/public", ok("public")).Methods(http.MethodGet)
	r.Handle("/orders", mw.RequireScopes("orders:read")(ok("list"))).Methods(http.MethodGet)
	r.Handle("/orders", mw.RequireScopes("orders:write")(ok("create"))).Methods(http.MethodPost)
	admin := r.PathPrefix("/admin").Subrouter()
	admin.Use(mw.Authenticate, mw.RequireAnyScope("admin", "ops:*"))
	admin.Handle("/stats", ok("stats")).Methods(http.MethodGet)
	admin.Handle("/keys", mw.RequireScopes("admin:keys")(ok("keys"))).Methods(http.MethodGet)

	// router.Use on a whole router.
	all := mux.NewRouter()
	all.Use(mw.Authenticate)
	all.Handle("/me", ok("me"))
	all.Handle("/orders", mw.RequireScopes("orders:read")(ok("list")))

	reader := iss.Token(authtest.Subject("reader"), authtest.Scopes("orders:read"))
	writer := iss.Token(authtest.Subject("writer"), authtest.Scopes("orders:write"))
	ops := iss.Token(authtest.Subject("ops"), authtest.Scopes("ops:eu"))
	keys := iss.Token(authtest.Subject("keys"), authtest.Scopes("admin", "admin:keys"))
	tests := []struct {
		router  http.Handler
		method  string
		path    string
		token   string
		status  int
		body    string // on 200
		missing string // the scope attribute on 403
	}{
		{r, "GET", "/public", "", 200, "public -", ""},
		{r, "GET", "/public", "garbage", 200, "public -", ""},
		{r, "GET", "/orders", reader, 200, "list reader", ""},
		{r, "GET", "/orders", writer, 403, "", "orders:read"},
		{r, "GET", "/orders", "", 401, "", ""},
		{r, "POST", "/orders", writer, 200, "create writer", ""},
		{r, "POST", "/orders", reader, 403, "", "orders:write"},
		{r, "GET", "/admin/stats", ops, 200, "stats ops", ""},
		{r, "GET", "/admin/stats", keys, 200, "stats keys", ""},
		{r, "GET", "/admin/stats", reader, 403, "", "admin ops:*"},
		{r, "GET", "/admin/stats", "", 401, "", ""},
		{r, "GET", "/admin/keys", keys, 200, "keys keys", ""},
		{r, "GET", "/admin/keys", ops, 403, "", "admin:keys"},
		{all, "GET", "/me", reader, 200, "me reader", ""},
		{all, "GET", "/me", "", 401, "", ""},
		{all, "GET", "/orders", reader, 200, "list reader", ""},
		{all, "GET", "/orders", writer, 403, "", "orders:read"},
	}
	servers := map[http.Handler]string{}
	for _, h := range []http.Handler{r, all} {
		servers[h] = serve(t, h).URL
	}
	for i, tc := range tests {
		req, _ := http.NewRequest(tc.method, servers[tc.router]+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		res := do(t, req)
		what := fmt.Sprintf("#%d %s %s", i, tc.method, tc.path)
		switch tc.status {
		case 200:
			if res.Status != 200 || res.Raw != tc.body {
				t.Errorf("%s: status %d %q, want 200 %q", what, res.Status, res.Raw, tc.body)
			}
		case 401:
			if res.Status != 401 || res.Header.Get("WWW-Authenticate") != bareChallenge {
				t.Errorf("%s: status %d %q, want 401 with a bare challenge", what, res.Status, res.Header.Get("WWW-Authenticate"))
			}
		case 403:
			if res.Status != 403 || res.Header.Get("WWW-Authenticate") != insufficientScope(tc.missing) || res.Body.Scope != tc.missing {
				t.Errorf("%s: status %d %q, want 403 scope=%q", what, res.Status, res.Header.Get("WWW-Authenticate"), tc.missing)
			}
		}
	}
}
