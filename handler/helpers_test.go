package handler_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// The fixture clients follow the seeds: an integration with a secret, a
// public sales channel that must name its market.
const (
	integrationID     = "integration"
	integrationSecret = "a-long-secret-value"
	salesChannelID    = "sales-channel"
	apiAudience       = "https://api.example.com"
	qaAudience        = "https://qa-api.example.com"
)

// fixedNow is the injected clock of every test server.
var fixedNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

var (
	hashOnce        sync.Once
	integrationHash string
)

// testClients returns a store holding the fixture clients. The argon2id hash
// of the integration secret is computed once per test binary.
func testClients(t testing.TB) *memory.Store {
	t.Helper()
	hashOnce.Do(func() {
		var err error
		if integrationHash, err = handler.HashClientSecret(integrationSecret); err != nil {
			panic(err)
		}
	})
	store := memory.New()
	for _, c := range []*storage.Client{
		{
			ID: integrationID, SecretHash: integrationHash, GrantTypes: []string{"client_credentials"},
			Scopes: []string{"market:all", "market:id:*"}, DefaultScopes: []string{"market:all"},
			Audiences: []string{apiAudience, qaAudience}, AccessTokenTTL: 2 * time.Hour,
		},
		{
			ID: salesChannelID, Public: true, GrantTypes: []string{"client_credentials"},
			Scopes: []string{"market:id:*"}, RequireScope: true, Audiences: []string{apiAudience}, AccessTokenTTL: 4 * time.Hour,
		},
	} {
		if err := store.CreateClient(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

// newServer starts a tollgate server over real HTTP. mutate may change the
// config before New.
func newServer(t testing.TB, mutate func(*handler.Config)) (*httptest.Server, *handler.Server) {
	t.Helper()
	cfg := handler.Config{
		Issuer:  "http://tollgate.test",
		Clients: testClients(t),
		Now:     func() time.Time { return fixedNow },
		Logger:  slog.New(slog.DiscardHandler),
		Keys:    []handler.SigningKey{{ID: "k1", Algorithm: "ES256"}},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := handler.New(cfg)
	if err != nil {
		t.Fatalf("handler.New: %v", err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts, srv
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	CreatedAt   int64  `json:"created_at"`

	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// result is one HTTP exchange with the token endpoint.
type result struct {
	status int
	header http.Header
	body   tokenResponse
	raw    string
}

func do(t testing.TB, req *http.Request) result {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	res := result{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &res.body); err != nil {
			t.Fatalf("response is not JSON: %v: %s", err, raw)
		}
	}
	return res
}

// postForm sends a form-encoded token request; basic, if set, is "id:secret"
// sent as HTTP Basic (form-urlencoded per RFC 6749 §2.3.1).
func postForm(t testing.TB, ts *httptest.Server, form url.Values, basic ...string) result {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+handler.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) > 0 {
		id, secret, _ := strings.Cut(basic[0], ":")
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret))))
	}
	return do(t, req)
}

// postRaw sends body with the given content type and extra headers.
func postRaw(t testing.TB, ts *httptest.Server, contentType, body string, headers ...string) result {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+handler.TokenPath, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return do(t, req)
}

// logBuffer is a log sink safe for the server's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
