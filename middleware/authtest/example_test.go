package authtest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/middleware/authtest"
)

// A table test of a route guarded by the middleware, with no token server:
// the Issuer mints each case's token and the middleware is built from
// iss.Config(), which trusts it. In a real test the loop body calls
// t.Errorf on a wrong status instead of printing; the route is the app's
// own, built exactly as in production.
func Example_routeTest() {
	iss := authtest.NewIssuer()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	iss.Now = func() time.Time { return now } // tokens and middleware share this clock

	mw, err := middleware.New(iss.Config())
	if err != nil {
		panic(err)
	}
	route := mw.RequireScopes("orders:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := middleware.ClaimsFrom(r.Context())
		if c.IsClient() {
			fmt.Fprintf(w, "orders for client %s", c.ClientID)
		} else {
			fmt.Fprintf(w, "orders of user %s", c.Subject)
		}
	}))

	for _, tc := range []struct {
		name  string
		token string
	}{
		{"no token", ""},
		{"client token", iss.Token(authtest.Scopes("orders:read"))},
		{"user token", iss.Token(authtest.Scopes("orders:read"), authtest.Subject("alice"))},
		{"missing scope", iss.Token(authtest.Scopes("orders:write"))},
		{"expired", iss.Token(authtest.Scopes("orders:read"), authtest.ExpiresIn(-time.Minute))},
		{"other API", iss.Token(authtest.Scopes("orders:read"), authtest.Audience("https://other.test"))},
	} {
		req := httptest.NewRequest(http.MethodGet, "/orders", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		rec := httptest.NewRecorder()
		route.ServeHTTP(rec, req)
		fmt.Printf("%s: %d %s\n", tc.name, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// no token: 401 {"error_description":"an access token is required"}
	// client token: 200 orders for client test-client
	// user token: 200 orders of user alice
	// missing scope: 403 {"error":"insufficient_scope","error_description":"the token lacks a required scope","scope":"orders:read"}
	// expired: 401 {"error":"invalid_token","error_description":"the token has expired"}
	// other API: 401 {"error":"invalid_token","error_description":"the token is for another audience"}
}
