package storage_test

import (
	"context"
	"encoding/json"
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
)

// fileClients is a read-only client store: registrations kept in a JSON
// file under version control, read once at start. A storage.ClientGetter
// is all the token endpoint needs for client_credentials.
type fileClients map[string]*storage.Client

// loadClients reads a JSON array of storage.Client and refuses the file
// whole if one client is invalid or listed twice, so a bad edit stops the
// server at start rather than failing requests later.
func loadClients(path string) (fileClients, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var list []*storage.Client
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	clients := fileClients{}
	for i, c := range list {
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("%s: client %d: %w", path, i, err)
		}
		if _, dup := clients[c.ID]; dup {
			return nil, fmt.Errorf("%s: client %q: %w", path, c.ID, storage.ErrAlreadyExists)
		}
		clients[c.ID] = c
	}
	return clients, nil
}

// GetClient implements storage.ClientGetter. The map is never written
// after loadClients, so concurrent requests may read it; callers must not
// modify the client returned (the interface says so).
func (f fileClients) GetClient(_ context.Context, id string) (*storage.Client, error) {
	c, ok := f[id]
	if !ok {
		return nil, fmt.Errorf("client %q: %w", id, storage.ErrNotFound)
	}
	return c, nil
}

// A store of your own implements only the interfaces the grants you
// enable need: here storage.ClientGetter, for client_credentials, over a
// clients file. Its test runs the matching conformance runner,
// storagetest.RunClientGetter (TestFileClientsConformance), and the
// handler takes it as Config.Clients.
func ExampleClientGetter() {
	dir, err := os.MkdirTemp("", "clients")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	secret, hash, err := handler.GenerateClientSecret()
	if err != nil {
		panic(err)
	}
	file, _ := json.Marshal([]*storage.Client{{
		ID: "integration", SecretHash: hash, GrantTypes: []string{storage.GrantClientCredentials},
		Scopes: []string{"orders:read"}, DefaultScopes: []string{"orders:read"},
		Audiences: []string{"https://api.example.com"},
	}})
	path := filepath.Join(dir, "clients.json")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		panic(err)
	}

	clients, err := loadClients(path)
	if err != nil {
		panic(err)
	}
	srv, err := handler.New(handler.Config{
		Issuer:  "https://auth.example.com",
		Clients: clients,
		Keys:    []handler.SigningKey{{Algorithm: "ES256"}},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	for _, id := range []string{"integration", "unknown"} {
		form := url.Values{"grant_type": {"client_credentials"}}
		req := httptest.NewRequest(http.MethodPost, handler.TokenPath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		var answer struct{ Scope, Error string }
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		fmt.Println(id, rec.Code, answer.Scope+answer.Error)
	}
	// Output:
	// integration 200 orders:read
	// unknown 401 invalid_client
}
