package sqlstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// A SQLite file keeps clients, codes, refresh-token families, the
// revocation feed and the refresh-token key across restarts. Open creates
// the file (mode 0600) and its schema on first use; opening it again
// migrates nothing and finds everything. For PostgreSQL the DSN is a
// "postgres://" URL and nothing else changes.
func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tollgate-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	dsn := "sqlite:" + filepath.Join(dir, "tollgate.db")

	// First run: register a client.
	store, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		panic(err)
	}
	secret, hash, err := handler.GenerateClientSecret()
	if err != nil {
		panic(err)
	}
	err = store.CreateClient(ctx, &storage.Client{
		ID: "integration", SecretHash: hash, GrantTypes: []string{storage.GrantClientCredentials},
		Scopes: []string{"orders:read"}, DefaultScopes: []string{"orders:read"},
		Audiences: []string{"https://api.example.com"},
	})
	if err != nil {
		panic(err)
	}
	store.Close()

	// A restart: the same file, the client still there.
	store, err = sqlstore.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	c, err := store.GetClient(ctx, "integration")
	if err != nil {
		panic(err)
	}
	fmt.Println(c.ID, c.Scopes)

	// One store serves the server as all it keeps.
	srv, err := handler.New(handler.Config{
		Issuer:  "https://auth.example.com",
		Clients: store, // client registrations
		Tokens:  store, // codes, refresh-token families, revocations; and, as KeyStore, the refresh-token key
		Keys:    []handler.SigningKey{{Algorithm: "ES256"}},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	req := httptest.NewRequest(http.MethodPost, handler.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("integration", secret)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	fmt.Println("token endpoint:", rec.Code)
	// Output:
	// integration [orders:read]
	// token endpoint: 200
}
