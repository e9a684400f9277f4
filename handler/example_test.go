package handler_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// A server for machine-to-machine tokens: one confidential client, the
// client_credentials grant, everything else at its default.
func ExampleNew() {
	ctx := context.Background()
	secret, hash, err := handler.GenerateClientSecret() // the client gets secret once; the store keeps hash
	if err != nil {
		panic(err)
	}
	clients := memory.New()
	err = clients.CreateClient(ctx, &storage.Client{
		ID: "integration", SecretHash: hash,
		GrantTypes:     []string{storage.GrantClientCredentials},
		Scopes:         []string{"orders:read", "orders:write"},
		DefaultScopes:  []string{"orders:read"},
		Audiences:      []string{"https://api.example.com"},
		AccessTokenTTL: 2 * time.Hour,
	})
	if err != nil {
		panic(err)
	}

	srv, err := handler.New(handler.Config{
		Issuer:  "https://auth.example.com",
		Clients: clients,
		Keys:    []handler.SigningKey{{Algorithm: "ES256"}}, // omit: one generated RS256 key
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+handler.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("integration", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		panic(err)
	}
	fmt.Println(resp.StatusCode, tok.TokenType, tok.ExpiresIn, tok.Scope, tok.AccessToken != "")
	// Output:
	// 200 Bearer 7200 orders:read true
}

// Mounted under a prefix in an existing app: strip the prefix before the
// server sees the request, and put it in the issuer, so that the metadata
// names the URLs clients must call.
func ExampleServer_mounted() {
	srv, err := handler.New(handler.Config{
		Issuer:  "https://app.example.com/auth",
		Clients: memory.New(),
		Keys:    []handler.SigningKey{{Algorithm: "ES256"}},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	app := http.NewServeMux()
	app.Handle("/auth/", http.StripPrefix("/auth", srv))
	app.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "the app's own pages") })

	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/auth"+handler.MetadataPath, nil))
	var md map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &md); err != nil {
		panic(err)
	}
	fmt.Println(rec.Code)
	for _, field := range []string{"issuer", "token_endpoint", "jwks_uri", "revocation_endpoint", "introspection_endpoint", "revocation_feed_endpoint"} {
		fmt.Println(field, md[field])
	}
	// Output:
	// 200
	// issuer https://app.example.com/auth
	// token_endpoint https://app.example.com/auth/oauth/token
	// jwks_uri https://app.example.com/auth/.well-known/jwks.json
	// revocation_endpoint https://app.example.com/auth/oauth/revoke
	// introspection_endpoint https://app.example.com/auth/oauth/introspect
	// revocation_feed_endpoint https://app.example.com/auth/oauth/revocations
}

// An extension grant (RFC 6749 §4.5): a trusted partner names one of its
// users and gets a token for them. Only clients that list the grant type in
// their GrantTypes may use it, after authenticating as for any grant; the
// scopes and audience are still held to the client's.
func ExampleGrant() {
	ctx := context.Background()
	users := map[string]string{"steve": "customer"} // user id → user type
	partnerGrant := handler.Grant{
		Type: "client_authenticated_user",
		Exchange: func(_ context.Context, req handler.GrantRequest) (*handler.GrantResult, error) {
			userType, ok := users[req.Params["user_id"]]
			if !ok {
				return nil, handler.GrantError("invalid_grant", "unknown user")
			}
			return &handler.GrantResult{
				Subject: req.Params["user_id"],
				Claims:  map[string]any{"user_type": userType},
			}, nil
		},
	}

	secret, hash, err := handler.GenerateClientSecret()
	if err != nil {
		panic(err)
	}
	clients := memory.New()
	err = clients.CreateClient(ctx, &storage.Client{
		ID: "trusted-partner", SecretHash: hash,
		GrantTypes: []string{"client_authenticated_user"},
		Scopes:     []string{"orders:read"},
		Audiences:  []string{"https://api.example.com"},
	})
	if err != nil {
		panic(err)
	}
	srv, err := handler.New(handler.Config{
		Issuer:  "https://auth.example.com",
		Clients: clients,
		Grants:  []handler.Grant{partnerGrant},
		Keys:    []handler.SigningKey{{Algorithm: "ES256"}},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	for _, user := range []string{"steve", "mallory"} {
		form := url.Values{"grant_type": {"client_authenticated_user"}, "user_id": {user}, "scope": {"orders:read"}}
		req, _ := http.NewRequest(http.MethodPost, ts.URL+handler.TokenPath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("trusted-partner", secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		var body struct {
			AccessToken string `json:"access_token"`
			Scope       string `json:"scope"`
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			panic(err)
		}
		if body.Error != "" {
			fmt.Println(user, resp.StatusCode, body.Error, body.Description)
			continue
		}
		// The token's payload, decoded only to show the claims; a resource
		// server verifies it with the middleware package.
		payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(body.AccessToken, ".")[1])
		var claims struct {
			Sub      string `json:"sub"`
			UserType string `json:"user_type"`
		}
		if err := json.Unmarshal(payload, &claims); err != nil {
			panic(err)
		}
		fmt.Println(user, resp.StatusCode, body.Scope, "sub="+claims.Sub, "user_type="+claims.UserType)
	}

	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, handler.MetadataPath, nil))
	var md struct {
		GrantTypes []string `json:"grant_types_supported"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &md); err != nil {
		panic(err)
	}
	fmt.Println("grant_types_supported:", md.GrantTypes)
	// Output:
	// steve 200 orders:read sub=steve user_type=customer
	// mallory 400 invalid_grant unknown user
	// grant_types_supported: [client_authenticated_user client_credentials refresh_token]
}
