package handler_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
)

// Discovery: the RFC 8414 metadata and the JWKS, their methods and cache
// headers, and the issuer they are built from.

func TestMetadata(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		issuer     string
		scopes     []string
		wantIssuer string
	}{
		{"plain issuer", "http://tollgate.test", nil, "http://tollgate.test"},
		{"trailing slash normalised", "http://tollgate.test/", nil, "http://tollgate.test"},
		{"https issuer with a path and trailing slash", "https://login.example.com/auth/", nil, "https://login.example.com/auth"},
		{"issuer with a port", "http://127.0.0.1:8080", nil, "http://127.0.0.1:8080"},
		{"scopes_supported published", "https://login.example.com", []string{"market:all", "market:id:*", "orders:read"}, "https://login.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, srv := newServer(t, func(c *handler.Config) {
				c.Issuer = tt.issuer
				c.ScopesSupported = tt.scopes
			})
			if got := srv.Issuer(); got != tt.wantIssuer {
				t.Errorf("Server.Issuer() = %q, want %q", got, tt.wantIssuer)
			}
			resp, body := gpGet(t, ts, http.MethodGet, handler.MetadataPath)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			gpCheckStaticHeaders(t, resp)

			var md map[string]any
			if err := json.Unmarshal(body, &md); err != nil {
				t.Fatalf("metadata is not JSON: %v: %s", err, body)
			}
			want := map[string]any{
				"issuer":                                        tt.wantIssuer,
				"token_endpoint":                                tt.wantIssuer + "/oauth/token",
				"jwks_uri":                                      tt.wantIssuer + "/.well-known/jwks.json",
				"grant_types_supported":                         []any{"client_credentials", "refresh_token"},
				"token_endpoint_auth_methods_supported":         []any{"client_secret_basic", "client_secret_post", "none"},
				"revocation_endpoint":                           tt.wantIssuer + "/oauth/revoke",
				"introspection_endpoint":                        tt.wantIssuer + "/oauth/introspect",
				"revocation_feed_endpoint":                      tt.wantIssuer + "/oauth/revocations",
				"revocation_endpoint_auth_methods_supported":    []any{"client_secret_basic", "client_secret_post", "none"},
				"introspection_endpoint_auth_methods_supported": []any{"client_secret_basic", "client_secret_post"},
				// RFC 8414 §2 makes it REQUIRED; empty until there is an
				// authorization endpoint.
				"response_types_supported": []any{},
			}
			if tt.scopes != nil {
				list := make([]any, len(tt.scopes))
				for i, s := range tt.scopes {
					list[i] = s
				}
				want["scopes_supported"] = list
			}
			if !gpSameMembers(md, want) {
				t.Errorf("metadata members = %v, want %v", slices.Sorted(maps.Keys(md)), slices.Sorted(maps.Keys(want)))
			}
			for name, w := range want {
				if got, _ := json.Marshal(md[name]); !bytes.Equal(got, gpMustJSON(t, w)) {
					t.Errorf("%s = %s, want %s", name, got, gpMustJSON(t, w))
				}
			}

			// Tokens carry the same, normalised issuer.
			tok := gpDecode(t, gpToken(t, ts, nil))
			if got := tok.str(t, "iss"); got != tt.wantIssuer {
				t.Errorf("token iss = %q, want %q", got, tt.wantIssuer)
			}
		})
	}
}

// gpSameMembers reports whether got and want have the same member names.
func gpSameMembers(got, want map[string]any) bool {
	return slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
}

func gpMustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gpCheckStaticHeaders checks the headers of the JWKS and metadata
// documents: JSON, cacheable by anyone for a while.
func gpCheckStaticHeaders(t testing.TB, resp *http.Response) {
	t.Helper()
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if got := resp.Header.Get("Cache-Control"); got != "public, max-age=300" {
		t.Errorf("Cache-Control = %q, want \"public, max-age=300\"", got)
	}
}

func TestWellKnownMethods(t *testing.T) {
	t.Parallel()
	ts, srv := newServer(t, nil)
	var metadata []byte
	{
		resp, body := gpGet(t, ts, http.MethodGet, handler.MetadataPath)
		if resp.StatusCode != 200 {
			t.Fatalf("GET metadata: %d", resp.StatusCode)
		}
		metadata = body
	}
	docs := map[string][]byte{handler.JWKSPath: srv.JWKS(), handler.MetadataPath: metadata}
	for _, path := range []string{handler.JWKSPath, handler.MetadataPath} {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
			t.Run(method+" "+path, func(t *testing.T) {
				t.Parallel()
				resp, body := gpGet(t, ts, method, path)
				switch method {
				case http.MethodGet:
					if resp.StatusCode != 200 || !bytes.Equal(body, docs[path]) {
						t.Fatalf("status %d, body %q: want 200 and the document", resp.StatusCode, body)
					}
					gpCheckStaticHeaders(t, resp)
				case http.MethodHead:
					if resp.StatusCode != 200 || len(body) != 0 {
						t.Fatalf("status %d, %d body bytes: want 200 and no body", resp.StatusCode, len(body))
					}
					gpCheckStaticHeaders(t, resp)
				default:
					if resp.StatusCode != http.StatusMethodNotAllowed {
						t.Fatalf("status %d, want 405", resp.StatusCode)
					}
					if got := resp.Header.Get("Allow"); got != "GET, HEAD" {
						t.Errorf("Allow = %q, want \"GET, HEAD\"", got)
					}
					if got := resp.Header.Get("Cache-Control"); strings.Contains(got, "public") {
						t.Errorf("a 405 is marked cacheable: Cache-Control %q", got)
					}
				}
			})
		}
	}
}

// The server mounted under a prefix (as an app mounts it at /auth with
// http.StripPrefix or gorilla/mux) answers there, and the metadata points
// at the mounted URLs because they come from the issuer.
func TestMountedUnderPrefix(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t, func(c *handler.Config) { c.Issuer = "http://placeholder.test/auth" })
	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", srv))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "app", http.StatusTeapot) })
	app := httptest.NewServer(mux)
	t.Cleanup(app.Close)

	resp, body := gpGet(t, app, http.MethodGet, "/auth"+handler.MetadataPath)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /auth%s: %d %s", handler.MetadataPath, resp.StatusCode, body)
	}
	var md struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
		JWKSURI       string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &md); err != nil {
		t.Fatal(err)
	}
	if md.Issuer != "http://placeholder.test/auth" || md.TokenEndpoint != "http://placeholder.test/auth/oauth/token" ||
		md.JWKSURI != "http://placeholder.test/auth/.well-known/jwks.json" {
		t.Errorf("metadata = %+v, want URLs under the issuer http://placeholder.test/auth", md)
	}

	// The endpoints the metadata names answer under the prefix.
	resp, body = gpGet(t, app, http.MethodGet, "/auth"+handler.JWKSPath)
	if resp.StatusCode != 200 || !bytes.Equal(body, srv.JWKS()) {
		t.Errorf("GET /auth%s: %d %s", handler.JWKSPath, resp.StatusCode, body)
	}
	form := url.Values{"grant_type": {gpGrantCC}, "client_id": {salesChannelID}, "scope": {gpMarket}}
	resp2, err := http.Post(app.URL+"/auth"+handler.TokenPath, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(resp2.Body).Decode(&tr); err != nil || resp2.StatusCode != 200 {
		t.Fatalf("POST /auth%s: %d (%v)", handler.TokenPath, resp2.StatusCode, err)
	}
	if got := gpDecode(t, tr.AccessToken).str(t, "iss"); got != "http://placeholder.test/auth" {
		t.Errorf("token iss = %q, want the issuer", got)
	}
	// Outside the prefix is the app's.
	if resp, _ := gpGet(t, app, http.MethodGet, handler.MetadataPath); resp.StatusCode != http.StatusTeapot {
		t.Errorf("GET %s outside the prefix: %d, want the app's 418", handler.MetadataPath, resp.StatusCode)
	}
}
