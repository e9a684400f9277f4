// Command mount is an existing web app (gorilla/mux routes, its own users,
// a session-cookie login) that adds tollgate in three places:
//
//   - the authorization server, mounted under /auth with http.StripPrefix;
//   - the user hook: /auth/oauth/authorize asks the app's own session who
//     is signed in, and sends everyone else to the app's /login page;
//   - the app's API, /api/..., guarded by the middleware package with the
//     server's own keys (same process: nothing is fetched).
//
// Run it and follow what it prints: a browser and curl are enough to try
// the user flow (authorization code + PKCE) and the machine flow
// (client_credentials).
//
//	go run ./examples/mount
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

const listen = "127.0.0.1:8081"

// authPrefix is where the app mounts tollgate; it is part of the issuer.
const authPrefix = "/auth"

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	base := "http://" + listen
	password := rand.Text()
	users, err := newUsers(map[string]userRow{"alice": {Name: "Alice Liddell", Password: password}})
	if err != nil {
		log.Fatal(err)
	}
	secret, hash, err := handler.GenerateClientSecret()
	if err != nil {
		log.Fatal(err)
	}
	router, err := newApp(base, users, hash, logger)
	if err != nil {
		log.Fatal(err)
	}

	// A PKCE pair for the walkthrough; a real client makes one per request.
	verifier := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	authorize := base + authPrefix + handler.AuthorizePath + "?" + url.Values{
		"response_type": {"code"}, "client_id": {"playground"}, "redirect_uri": {base + "/callback"},
		"state": {rand.Text()}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}.Encode()
	fmt.Printf(`app on %[1]s; user alice, password %[2]s

A user signs in for the public client "playground" (authorization code + PKCE):
  export VERIFIER=%[3]s
  1. open in a browser, sign in as alice: %[4]s
  2. the app's /callback page shows the code and the curl that redeems it
  3. curl -H "Authorization: Bearer $ACCESS_TOKEN" %[1]s/api/profile

The machine client "reports" (client_credentials):
  curl -s -u reports:%[5]s -d grant_type=client_credentials %[1]s%[6]s
  curl -H "Authorization: Bearer $ACCESS_TOKEN" %[1]s/api/reports
`, base, password, verifier, authorize, secret, authPrefix+handler.TokenPath)

	srv := &http.Server{Addr: listen, Handler: router, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// newApp builds the application served at base, its public URL (no
// trailing slash): the app's own pages, tollgate under /auth (issuer
// base+"/auth", so the mount point and the issuer cannot disagree), and
// the API under /api. reportsSecretHash is the machine client's stored
// secret hash.
func newApp(base string, users users, reportsSecretHash string, logger *slog.Logger) (*mux.Router, error) {
	base = strings.TrimSuffix(base, "/")
	issuer := base + authPrefix
	audience := base + "/api" // what the API calls itself in tokens' aud
	site := newSite(base, users, logger)

	// The authorization server's clients. A real app keeps them (and the
	// tokens) in storage/sqlstore.
	store := memory.New()
	for _, c := range []*storage.Client{{
		// A public client (no secret, so PKCE) whose redirect URI is a page
		// of this app, so that the user flow can be tried with a browser
		// and curl.
		ID: "playground", Public: true,
		GrantTypes:   []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken},
		RedirectURIs: []string{base + "/callback"},
		Scopes:       []string{"profile:read"}, DefaultScopes: []string{"profile:read"},
		Audiences: []string{audience},
	}, {
		// An integration: machine to machine, with a secret.
		ID: "reports", SecretHash: reportsSecretHash,
		GrantTypes: []string{storage.GrantClientCredentials},
		Scopes:     []string{"reports:read"}, DefaultScopes: []string{"reports:read"},
		Audiences: []string{audience},
	}} {
		if err := store.CreateClient(context.Background(), c); err != nil {
			return nil, err
		}
	}
	auth, err := handler.New(handler.Config{
		Issuer: issuer, Clients: store, Tokens: store,
		Login:           site.authorizeUser,
		Claims:          site.userClaims,
		ScopesSupported: []string{"profile:read", "reports:read"},
		Logger:          logger,
	})
	if err != nil {
		return nil, err
	}

	// Same process: the API verifies with the server's public keys as they
	// are, with no JWKS fetch and nothing to wait for at start.
	keys, err := middleware.LocalKeys(auth.JWKS())
	if err != nil {
		return nil, err
	}
	mw, err := middleware.New(middleware.Config{Issuer: issuer, Audience: audience, Keys: keys, Logger: logger})
	if err != nil {
		return nil, err
	}

	r := mux.NewRouter()
	// The app's own pages. Their forms refuse cross-origin posts
	// (Sec-Fetch-Site, else Origin): that is the CSRF defence, login CSRF
	// included, with no token to thread through the forms. /auth and /api
	// are left out: their callers are OAuth clients, not this app's forms.
	forms := http.NewCrossOriginProtection()
	r.HandleFunc("/", site.home).Methods(http.MethodGet)
	r.HandleFunc("/login", site.loginPage).Methods(http.MethodGet)
	r.Handle("/login", forms.Handler(http.HandlerFunc(site.login))).Methods(http.MethodPost)
	r.Handle("/logout", forms.Handler(http.HandlerFunc(site.logout))).Methods(http.MethodPost)
	r.HandleFunc("/callback", site.callback).Methods(http.MethodGet)

	// tollgate is an http.Handler: with the prefix stripped, its routes
	// (/oauth/token, /.well-known/...) line up under /auth.
	r.PathPrefix(authPrefix + "/").Handler(http.StripPrefix(authPrefix, auth))

	// The API: each route names the scope it needs.
	api := r.PathPrefix("/api").Subrouter()
	api.Handle("/profile", mw.RequireScopes("profile:read")(http.HandlerFunc(profile))).Methods(http.MethodGet)
	api.Handle("/reports", mw.RequireScopes("reports:read")(http.HandlerFunc(reports))).Methods(http.MethodGet)
	return r, nil
}
