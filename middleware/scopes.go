package middleware

import (
	"net/http"
	"strings"
)

// RequireScopes lets a request through only if its token grants every one
// of scopes (patterns may hold "*" segments: "market:id:*" is satisfied by
// any single market). It authenticates the request itself when no earlier
// middleware did, so it can guard a route alone:
//
//	router.Handle("/orders", mw.RequireScopes("orders:read")(h))
func (m *Middleware) RequireScopes(scopes ...string) func(http.Handler) http.Handler {
	return m.requireScopes(scopes, true)
}

// RequireAnyScope lets a request through if its token grants at least one
// of scopes.
func (m *Middleware) RequireAnyScope(scopes ...string) func(http.Handler) http.Handler {
	return m.requireScopes(scopes, false)
}

func (m *Middleware) requireScopes(scopes []string, all bool) func(http.Handler) http.Handler {
	required := strings.Join(scopes, " ")
	return func(next http.Handler) http.Handler {
		check := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := m.claimsFor(r.Context())
			if !grants(c, scopes, all) {
				m.refuse(w, r, &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope,
					Description: "the token lacks a required scope", Scope: required, reason: reasonInsufficientScope})
				return
			}
			next.ServeHTTP(w, r)
		})
		return m.Authenticate(check)
	}
}

func grants(c *Claims, scopes []string, all bool) bool {
	if c == nil {
		return false
	}
	for _, s := range scopes {
		if c.HasScope(s) != all { // all: one missing fails; any: one present passes
			return !all
		}
	}
	return all || len(scopes) == 0
}
