package middleware_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/middleware/authtest"
)

// Two APIs of one issuer, nested: API B's middleware inside API A's.
const (
	audA = "https://a.api.test"
	audB = "https://b.api.test"
)

// nestedPair returns instances for audA and audB over iss's keys, each
// counting its verifications (cache off, so each request verifies).
func nestedPair(t *testing.T, iss *authtest.Issuer) (a, b *middleware.Middleware, na, nb *atomic.Int64) {
	t.Helper()
	na, nb = new(atomic.Int64), new(atomic.Int64)
	build := func(aud string, n *atomic.Int64) *middleware.Middleware {
		return newMiddleware(t, iss, func(c *middleware.Config) {
			c.Audience = aud
			c.CacheSize = -1
			c.Now = func() time.Time { n.Add(1); return testNow }
		})
	}
	return build(audA, na), build(audB, nb), na, nb
}

// TestNestedInstancesVerifyEach: claims verified by one instance never
// satisfy another. Each instance verifies the token against its own
// audience, and its scope checks and rate limits read its own claims.
func TestNestedInstancesVerifyEach(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	tests := []struct {
		name   string
		chain  func(a, b *middleware.Middleware) http.Handler
		aud    []string
		scopes []string
		status int
		reason string // for a 401 invalid_token
		scope  string // for a 403
		na, nb int64  // verifications by each instance
	}{
		{name: "A then B's scope check, token for A only", aud: []string{audA}, scopes: []string{"orders:read"},
			chain: func(a, b *middleware.Middleware) http.Handler {
				return a.Authenticate(b.RequireScopes("orders:read")(reached))
			}, status: 401, reason: reasonAudience, na: 1, nb: 1},
		{name: "A then B's scope check, token for B only", aud: []string{audB}, scopes: []string{"orders:read"},
			chain: func(a, b *middleware.Middleware) http.Handler {
				return a.Authenticate(b.RequireScopes("orders:read")(reached))
			}, status: 401, reason: reasonAudience, na: 1, nb: 0},
		{name: "A then B's scope check, token for both", aud: []string{audA, audB}, scopes: []string{"orders:read"},
			chain: func(a, b *middleware.Middleware) http.Handler {
				return a.Authenticate(b.RequireScopes("orders:read")(reached))
			}, status: 200, na: 1, nb: 1},
		{name: "A then B then A's scope check: A's claims reused", aud: []string{audA, audB}, scopes: []string{"orders:read"},
			chain: func(a, b *middleware.Middleware) http.Handler {
				return a.Authenticate(b.Authenticate(a.RequireScopes("orders:read")(reached)))
			}, status: 200, na: 1, nb: 1},
		{name: "B then A's scope check, token for B only", aud: []string{audB}, scopes: []string{"orders:read"},
			chain: func(a, b *middleware.Middleware) http.Handler {
				return b.Authenticate(a.RequireAnyScope("orders:read")(reached))
			}, status: 401, reason: reasonAudience, na: 1, nb: 1},
		{name: "A's scope met, B's not", aud: []string{audA, audB}, scopes: []string{"orders:read"},
			chain: func(a, b *middleware.Middleware) http.Handler {
				return a.RequireScopes("orders:read")(b.RequireScopes("orders:write")(reached))
			}, status: 403, scope: "orders:write", na: 1, nb: 1},
		{name: "A then B's rate limit, token for A only", aud: []string{audA},
			chain: func(a, b *middleware.Middleware) http.Handler {
				limit, err := b.RateLimit(middleware.RateLimit{Rate: "100-M"})
				if err != nil {
					t.Fatal(err)
				}
				return a.Authenticate(limit(reached))
			}, status: 401, reason: reasonAudience, na: 1, nb: 1},
		{name: "one instance twice verifies once", aud: []string{audA},
			chain: func(a, _ *middleware.Middleware) http.Handler {
				return a.Authenticate(a.RequireScopes()(reached))
			}, status: 200, na: 1, nb: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b, na, nb := nestedPair(t, iss)
			ts := serve(t, tc.chain(a, b))
			res := get(t, ts.URL, iss.Token(authtest.Audience(tc.aud...), authtest.Scopes(tc.scopes...)))
			switch tc.status {
			case http.StatusOK:
				if res.Status != http.StatusOK {
					t.Fatalf("status %d, want 200: %s", res.Status, res.Raw)
				}
			case http.StatusUnauthorized:
				wantInvalidToken(t, res, tc.reason)
			case http.StatusForbidden:
				wantForbidden(t, res, tc.scope)
			}
			if na.Load() != tc.na || nb.Load() != tc.nb {
				t.Errorf("verifications: A %d, B %d; want %d and %d", na.Load(), nb.Load(), tc.na, tc.nb)
			}
		})
	}
}

// TestNestedClaimsFrom: handlers see the claims of the innermost
// instance; between the two, the outer instance's.
func TestNestedClaimsFrom(t *testing.T) {
	t.Parallel()
	iss := newIssuer()
	a, b, _, _ := nestedPair(t, iss)
	var outer, inner *middleware.Claims
	capture := func(into **middleware.Claims, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*into, _ = middleware.ClaimsFrom(r.Context())
			next.ServeHTTP(w, r)
		})
	}
	ts := serve(t, a.Authenticate(capture(&outer, b.Authenticate(capture(&inner, reached)))))
	if res := get(t, ts.URL, iss.Token(authtest.Audience(audA, audB))); res.Status != http.StatusOK {
		t.Fatalf("status %d: %s", res.Status, res.Raw)
	}
	if outer == nil || inner == nil || outer == inner {
		t.Fatalf("claims seen outside B %p and inside B %p: want two distinct verifications", outer, inner)
	}
	if inner.ID != outer.ID || inner.ID == "" {
		t.Errorf("jti %q inside, %q outside: the same token", inner.ID, outer.ID)
	}
}

// TestNestedWithClaims: claims put in by WithClaims (tests of handlers)
// pass every instance, nested or not.
func TestNestedWithClaims(t *testing.T) {
	t.Parallel()
	a, b, na, nb := nestedPair(t, newIssuer())
	want := &middleware.Claims{Subject: "tester", ClientID: "tester", Scopes: []string{"orders:read"}}
	limit, err := b.RateLimit(middleware.RateLimit{Rate: "100-M"})
	if err != nil {
		t.Fatal(err)
	}
	ts := serve(t, injectClaims(want, a.Authenticate(b.RequireScopes("orders:read")(limit(reached)))))
	if res := get(t, ts.URL, ""); res.Status != http.StatusOK || res.Raw != "reached tester" {
		t.Fatalf("status %d %q, want the injected claims to pass both instances", res.Status, res.Raw)
	}
	if na.Load() != 0 || nb.Load() != 0 {
		t.Errorf("verifications A %d, B %d; want none", na.Load(), nb.Load())
	}
}
