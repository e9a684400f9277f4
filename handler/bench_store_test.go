package handler_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/internal/testservices"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// The store benchmarks run the two paths whose storage cost differs:
// client_credentials, which only reads the client (no write), and refresh
// rotation, which reads, deactivates and writes. ES256 keeps the signature
// small so the store shows.
//
//	TOLLGATE_TEST_POSTGRES=… go test -run '^$' -bench 'Store' -benchmem ./handler/

type benchStore struct {
	name string
	open func(b *testing.B) storage.Store
}

func benchStores() []benchStore {
	return []benchStore{
		{"memory", func(*testing.B) storage.Store { return memory.New() }},
		{"sqlite", func(b *testing.B) storage.Store {
			return sqOpen(b, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"), sqlstore.Options{})
		}},
		{"postgres", func(b *testing.B) storage.Store {
			return sqOpen(b, testservices.PostgresSchema(b), sqlstore.Options{})
		}},
	}
}

const benchGrant = "urn:tollgate:bench"

// benchStoreServer serves from store a confidential client allowed
// client_credentials, refresh_token and an extension grant that issues
// refresh tokens; it returns the server and the client's Basic header.
func benchStoreServer(b *testing.B, store storage.Store) (*handler.Server, string) {
	b.Helper()
	secret, hash, err := handler.GenerateClientSecret()
	if err != nil {
		b.Fatal(err)
	}
	if err := store.CreateClient(context.Background(), &storage.Client{
		ID: "bench", SecretHash: hash, GrantTypes: []string{"client_credentials", "refresh_token", benchGrant},
		Scopes: []string{"orders:read"}, DefaultScopes: []string{"orders:read"}, Audiences: []string{apiAudience},
	}); err != nil {
		b.Fatal(err)
	}
	srv, err := handler.New(handler.Config{
		Issuer: "http://tollgate.test", Clients: store, Tokens: store,
		Keys:       []handler.SigningKey{{ID: "k1", Algorithm: "ES256"}},
		RateLimits: benchRates, Logger: slog.New(slog.DiscardHandler),
		Grants: []handler.Grant{{Type: benchGrant, Exchange: func(context.Context, handler.GrantRequest) (*handler.GrantResult, error) {
			return &handler.GrantResult{Subject: "alice", RefreshToken: true}, nil
		}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return srv, "Basic " + base64.StdEncoding.EncodeToString([]byte("bench:"+secret))
}

func benchPost(b *testing.B, srv http.Handler, auth string, form url.Values) map[string]any {
	req := httptest.NewRequest(http.MethodPost, handler.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", auth)
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		b.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkStoreClientCredentials is a client_credentials request per store:
// one client read, nothing written.
func BenchmarkStoreClientCredentials(b *testing.B) {
	for _, s := range benchStores() {
		b.Run(s.name, func(b *testing.B) {
			srv, auth := benchStoreServer(b, s.open(b))
			form := url.Values{"grant_type": {"client_credentials"}}
			b.ReportAllocs()
			for b.Loop() {
				benchPost(b, srv, auth, form)
			}
		})
	}
}

// BenchmarkStoreRefreshRotation is one refresh per store, each using the
// token the previous one returned: read the token and its family, rotate
// it atomically, record the new access token, store the new refresh token.
func BenchmarkStoreRefreshRotation(b *testing.B) {
	for _, s := range benchStores() {
		b.Run(s.name, func(b *testing.B) {
			srv, auth := benchStoreServer(b, s.open(b))
			rt := benchPost(b, srv, auth, url.Values{"grant_type": {benchGrant}})["refresh_token"].(string)
			b.ReportAllocs()
			for b.Loop() {
				rt = benchPost(b, srv, auth, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})["refresh_token"].(string)
			}
		})
	}
}
