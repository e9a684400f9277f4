package middleware_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/middleware/authtest"
)

// A resource API that refuses tokens of a revoked grant. The feed here is
// a stand-in for a tollgate issuer's <issuer>/oauth/revocations; against
// a real issuer, IssuerRevocationFeed finds it in the metadata.
func ExampleRevocationFeed() {
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"cursor":"e1.1","reset":true,"more":false,"revoked":[{"grant_id":"grant-7","exp":99999999999}]}`)
	}))
	defer feed.Close()

	revoked, err := middleware.RevocationFeed(context.Background(), feed.URL, middleware.RevocationOptions{})
	if err != nil {
		panic(err)
	}
	defer revoked.Close()

	iss := authtest.NewIssuer()
	cfg := iss.Config()
	cfg.Revocations = revoked
	cfg.Logger = slog.New(slog.DiscardHandler)
	mw, err := middleware.New(cfg)
	if err != nil {
		panic(err)
	}
	api := httptest.NewServer(mw.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "orders")
	})))
	defer api.Close()

	for _, grant := range []string{"grant-7", "grant-8"} {
		req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
		req.Header.Set("Authorization", "Bearer "+iss.Token(authtest.GrantID(grant)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		_, desc, _ := strings.Cut(resp.Header.Get("WWW-Authenticate"), "error_description=")
		fmt.Println(grant, resp.StatusCode, desc)
	}
	// Output:
	// grant-7 401 "the token has been revoked"
	// grant-8 200
}
