package middleware_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// exampleNow is the clock of the examples' issuer and middleware, so that
// what they print does not depend on when they run.
var exampleNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// An API in the same process as its tollgate server verifies tokens with
// the server's own keys (LocalKeys: nothing is fetched), and guards each
// route with the scopes it needs.
func ExampleNew() {
	ctx := context.Background()
	secret, hash, _ := handler.GenerateClientSecret()
	clients := memory.New()
	err := clients.CreateClient(ctx, &storage.Client{
		ID: "reporting", SecretHash: hash, GrantTypes: []string{storage.GrantClientCredentials},
		Scopes: []string{"orders:read"}, DefaultScopes: []string{"orders:read"},
		Audiences: []string{"https://api.example.com"},
	})
	if err != nil {
		panic(err)
	}
	auth, err := handler.New(handler.Config{
		Issuer: "https://auth.example.com", Clients: clients,
		Keys:   []handler.SigningKey{{Algorithm: "ES256"}},
		Now:    func() time.Time { return exampleNow },
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}

	keys, err := middleware.LocalKeys(auth.JWKS())
	if err != nil {
		panic(err)
	}
	mw, err := middleware.New(middleware.Config{
		Issuer:   "https://auth.example.com",
		Audience: "https://api.example.com",
		Keys:     keys,
		Now:      func() time.Time { return exampleNow },
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	orders := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := middleware.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "orders of %s", claims.ClientID)
	})
	api := http.NewServeMux()
	api.Handle("GET /orders", mw.RequireScopes("orders:read")(orders))
	api.Handle("POST /orders", mw.RequireScopes("orders:write")(orders))

	// A token for the client, from the server's token endpoint.
	form := url.Values{"grant_type": {"client_credentials"}}
	req := httptest.NewRequest(http.MethodPost, handler.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("reporting", secret)
	rec := httptest.NewRecorder()
	auth.ServeHTTP(rec, req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil {
		panic(err)
	}

	for _, call := range []struct{ method, token string }{
		{http.MethodGet, ""},
		{http.MethodGet, tok.AccessToken},
		{http.MethodPost, tok.AccessToken},
	} {
		req := httptest.NewRequest(call.method, "/orders", nil)
		if call.token != "" {
			req.Header.Set("Authorization", "Bearer "+call.token)
		}
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			fmt.Println(call.method, rec.Code, rec.Body)
		} else {
			fmt.Println(call.method, rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	}
	// Output:
	// GET 401 Bearer realm="api"
	// GET 200 orders of reporting
	// POST 403 Bearer realm="api", error="insufficient_scope", error_description="the token lacks a required scope", scope="orders:write"
}

// An API in another process fetches the issuer's keys from its JWKS URL,
// and refetches them in the background and when a token names a key it
// has not seen. Here the issuer is a tollgate server on a loopback test
// server (http is accepted only for loopback hosts; see
// [RemoteOptions.AllowHTTP]).
func ExampleRemoteJWKS() {
	ctx := context.Background()
	secret, hash, _ := handler.GenerateClientSecret()
	clients := memory.New()
	err := clients.CreateClient(ctx, &storage.Client{
		ID: "reporting", SecretHash: hash, GrantTypes: []string{storage.GrantClientCredentials},
		Scopes: []string{"orders:read"}, Audiences: []string{"https://api.example.com"},
	})
	if err != nil {
		panic(err)
	}
	auth, err := handler.New(handler.Config{
		Issuer: "https://auth.example.com", Clients: clients,
		Keys:   []handler.SigningKey{{Algorithm: "ES256"}},
		Now:    func() time.Time { return exampleNow },
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	issuer := httptest.NewServer(auth)
	defer issuer.Close()

	keys, err := middleware.RemoteJWKS(ctx, issuer.URL+handler.JWKSPath, middleware.RemoteOptions{
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer keys.Close()
	mw, err := middleware.New(middleware.Config{
		Issuer:   "https://auth.example.com",
		Audience: "https://api.example.com",
		Keys:     keys,
		Now:      func() time.Time { return exampleNow },
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	api := httptest.NewServer(mw.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "orders")
	})))
	defer api.Close()

	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}}
	req, _ := http.NewRequest(http.MethodPost, issuer.URL+handler.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("reporting", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil {
		panic(err)
	}
	fmt.Println("token endpoint:", resp.StatusCode)

	// A copy with one character of its signature changed.
	sig := []byte(tok.AccessToken)
	if i := len(sig) - 10; sig[i] == 'A' {
		sig[i] = 'B'
	} else {
		sig[i] = 'A'
	}
	tampered := string(sig)
	for _, bearer := range []string{tok.AccessToken, tampered} {
		req, _ := http.NewRequest(http.MethodGet, api.URL+"/orders", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			fmt.Println("api:", resp.StatusCode, string(body))
		} else {
			fmt.Println("api:", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	// Output:
	// token endpoint: 200
	// api: 200 orders
	// api: 401 Bearer realm="api", error="invalid_token", error_description="the token's signature is invalid"
}
