package authtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/middleware/authtest"
)

// httpClient bounds every exchange: a hang fails the test instead.
var httpClient = &http.Client{Timeout: 30 * time.Second}

// seen is what the test API reports of the verified claims.
type seen struct {
	Subject   string         `json:"sub"`
	ClientID  string         `json:"client_id"`
	Issuer    string         `json:"iss"`
	Audience  []string       `json:"aud"`
	Scopes    []string       `json:"scopes"`
	Expiry    time.Time      `json:"exp"`
	IssuedAt  time.Time      `json:"iat"`
	NotBefore time.Time      `json:"nbf"`
	ID        string         `json:"jti"`
	GrantID   string         `json:"grant_id"`
	Client    bool           `json:"is_client"`
	All       map[string]any `json:"all"`
}

var report = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := middleware.ClaimsFrom(r.Context())
	if !ok {
		http.Error(w, "no claims", http.StatusInternalServerError)
		return
	}
	all, err := c.All()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_ = json.NewEncoder(w).Encode(seen{Subject: c.Subject, ClientID: c.ClientID, Issuer: c.Issuer, Audience: c.Audience,
		Scopes: c.Scopes, Expiry: c.Expiry, IssuedAt: c.IssuedAt, NotBefore: c.NotBefore, ID: c.ID, GrantID: c.GrantID, Client: c.IsClient(), All: all})
})

// api serves report behind a middleware built from iss.Config(), with
// RequireScopes(scopes...) when scopes are given.
func api(t *testing.T, iss *authtest.Issuer, scopes ...string) *httptest.Server {
	t.Helper()
	mw, err := middleware.New(iss.Config())
	if err != nil {
		t.Fatalf("middleware.New(iss.Config()): %v", err)
	}
	h := mw.Authenticate(report)
	if len(scopes) > 0 {
		h = mw.RequireScopes(scopes...)(report)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

type result struct {
	status int
	header http.Header
	body   string
	claims seen
}

func call(t *testing.T, ts *httptest.Server, token string) result {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	res := result{status: resp.StatusCode, header: resp.Header, body: string(raw)}
	if res.status == http.StatusOK {
		if err := json.Unmarshal(raw, &res.claims); err != nil {
			t.Fatalf("claims: %v: %s", err, raw)
		}
	}
	return res
}

func wantStatus(t *testing.T, what string, res result, status int) {
	t.Helper()
	if res.status != status {
		t.Fatalf("%s: status %d, want %d; body %s; WWW-Authenticate %q", what, res.status, status, res.body, res.header.Get("WWW-Authenticate"))
	}
}

// clock is a movable clock for Issuer.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var pinned = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestDefaultToken(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer()
	iss.Now = func() time.Time { return pinned }
	res := call(t, api(t, iss), iss.Token())
	wantStatus(t, "default token", res, http.StatusOK)
	c := res.claims
	if c.Issuer != authtest.DefaultIssuer || c.ClientID != authtest.DefaultClientID || c.Subject != authtest.DefaultClientID ||
		!slices.Equal(c.Audience, []string{authtest.DefaultAudience}) || len(c.Scopes) != 0 || c.ID == "" {
		t.Errorf("default claims %+v", c)
	}
	if !c.IssuedAt.Equal(pinned) || !c.NotBefore.Equal(pinned) || !c.Expiry.Equal(pinned.Add(authtest.DefaultTTL)) {
		t.Errorf("iat %v nbf %v exp %v, want %v, %v and +%v", c.IssuedAt, c.NotBefore, c.Expiry, pinned, pinned, authtest.DefaultTTL)
	}
	if iss.URL != authtest.DefaultIssuer || iss.Audience != authtest.DefaultAudience {
		t.Errorf("NewIssuer: URL %q audience %q", iss.URL, iss.Audience)
	}
	// Each token is its own: a fresh jti.
	if again := call(t, api(t, iss), iss.Token()); again.claims.ID == c.ID {
		t.Errorf("two tokens share jti %q", c.ID)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer()
	iss.Now = func() time.Time { return pinned }
	ts := api(t, iss)
	tests := []struct {
		name  string
		opts  []authtest.Option
		check func(seen) bool
	}{
		{"Scopes", []authtest.Option{authtest.Scopes("orders:read", "market:id:42")},
			func(c seen) bool { return slices.Equal(c.Scopes, []string{"orders:read", "market:id:42"}) }},
		{"Subject makes a user's token", []authtest.Option{authtest.Subject("alice")},
			func(c seen) bool {
				return c.Subject == "alice" && c.ClientID == authtest.DefaultClientID && !c.Client && c.All["sub_type"] == nil
			}},
		{"a client's own token by default", nil, func(c seen) bool { return c.Client && c.All["sub_type"] == "client" }},
		{"a user named like the client is still a user", []authtest.Option{authtest.Subject(authtest.DefaultClientID)},
			func(c seen) bool { return c.Subject == authtest.DefaultClientID && !c.Client }},
		{"SubjectType", []authtest.Option{authtest.Subject("alice"), authtest.SubjectType("client")},
			func(c seen) bool { return c.Client }},
		{"ClientID sets sub too", []authtest.Option{authtest.ClientID("shop")},
			func(c seen) bool { return c.ClientID == "shop" && c.Subject == "shop" }},
		{"ClientID then Subject", []authtest.Option{authtest.ClientID("shop"), authtest.Subject("alice")},
			func(c seen) bool { return c.ClientID == "shop" && c.Subject == "alice" }},
		{"Subject then ClientID", []authtest.Option{authtest.Subject("alice"), authtest.ClientID("shop")},
			func(c seen) bool { return c.ClientID == "shop" && c.Subject == "alice" }},
		{"Audience with ours among others", []authtest.Option{authtest.Audience("https://other.test", authtest.DefaultAudience)},
			func(c seen) bool {
				return slices.Equal(c.Audience, []string{"https://other.test", authtest.DefaultAudience})
			}},
		{"ExpiresIn", []authtest.Option{authtest.ExpiresIn(5 * time.Minute)},
			func(c seen) bool { return c.Expiry.Equal(pinned.Add(5 * time.Minute)) }},
		{"IssuedAt keeps the lifetime", []authtest.Option{authtest.IssuedAt(pinned.Add(-30 * time.Minute))},
			func(c seen) bool {
				return c.IssuedAt.Equal(pinned.Add(-30*time.Minute)) && c.NotBefore.Equal(c.IssuedAt) &&
					c.Expiry.Equal(pinned.Add(30*time.Minute))
			}},
		{"ExpiresIn then IssuedAt", []authtest.Option{authtest.ExpiresIn(10 * time.Minute), authtest.IssuedAt(pinned.Add(-5 * time.Minute))},
			func(c seen) bool { return c.Expiry.Equal(pinned.Add(5 * time.Minute)) }},
		{"IssuedAt then ExpiresIn", []authtest.Option{authtest.IssuedAt(pinned.Add(-5 * time.Minute)), authtest.ExpiresIn(10 * time.Minute)},
			func(c seen) bool { return c.Expiry.Equal(pinned.Add(5 * time.Minute)) }},
		{"GrantID", []authtest.Option{authtest.GrantID("fam-1")},
			func(c seen) bool { return c.GrantID == "fam-1" && c.All["grant_id"] == "fam-1" }},
		{"no GrantID by default", nil, func(c seen) bool { _, ok := c.All["grant_id"]; return c.GrantID == "" && !ok }},
		{"Claim", []authtest.Option{authtest.Claim("tenant", "acme"), authtest.Claim("roles", []string{"admin"})},
			func(c seen) bool {
				roles, _ := c.All["roles"].([]any)
				return c.All["tenant"] == "acme" && len(roles) == 1 && roles[0] == "admin"
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := call(t, ts, iss.Token(tc.opts...))
			wantStatus(t, tc.name, res, http.StatusOK)
			if !tc.check(res.claims) {
				t.Errorf("claims %+v", res.claims)
			}
		})
	}
}

// TestRefusedTokens: options that make tokens the middleware must refuse.
func TestRefusedTokens(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer()
	iss.Now = func() time.Time { return pinned }
	ts := api(t, iss)
	for _, tc := range []struct {
		name   string
		opts   []authtest.Option
		reason string
	}{
		{"ExpiresIn negative", []authtest.Option{authtest.ExpiresIn(-time.Hour)}, "expired"},
		{"ExpiresIn past the leeway", []authtest.Option{authtest.ExpiresIn(-middleware.DefaultLeeway - time.Second)}, "expired"},
		{"IssuedAt long ago", []authtest.Option{authtest.IssuedAt(pinned.Add(-2 * authtest.DefaultTTL))}, "expired"},
		{"IssuedAt in the future", []authtest.Option{authtest.IssuedAt(pinned.Add(time.Hour))}, "not valid yet"},
		{"Audience elsewhere", []authtest.Option{authtest.Audience("https://other.test")}, "another audience"},
		{"empty ClientID", []authtest.Option{authtest.ClientID(""), authtest.Subject("alice")}, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := call(t, ts, iss.Token(tc.opts...))
			wantStatus(t, tc.name, res, http.StatusUnauthorized)
			if h := res.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) || !strings.Contains(h, tc.reason) {
				t.Errorf("WWW-Authenticate %q, want invalid_token saying %q", h, tc.reason)
			}
		})
	}
	// Within the leeway an "expired" token still passes, as a real one would.
	wantStatus(t, "expired 10s ago", call(t, ts, iss.Token(authtest.ExpiresIn(-10*time.Second))), http.StatusOK)
}

func TestScopesWithRequireScopes(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer()
	ts := api(t, iss, "orders:read")
	wantStatus(t, "with the scope", call(t, ts, iss.Token(authtest.Scopes("orders:read"))), http.StatusOK)
	res := call(t, ts, iss.Token(authtest.Scopes("orders:write")))
	wantStatus(t, "without the scope", res, http.StatusForbidden)
	if h := res.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_scope"`) || !strings.Contains(h, `scope="orders:read"`) {
		t.Errorf("WWW-Authenticate %q", h)
	}
	wantStatus(t, "no scopes", call(t, ts, iss.Token()), http.StatusForbidden)
}

// TestNowPinning: Issuer.Now is the clock of both the tokens and the
// middleware from Config(), read at each use, so a test moves time for
// both without sleeping.
func TestNowPinning(t *testing.T) {
	t.Parallel()
	past := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	clk := &clock{t: past}
	iss := authtest.NewIssuer()
	iss.Now = clk.Now
	ts := api(t, iss) // built before any move of the clock
	tok := iss.Token(authtest.ExpiresIn(time.Minute))
	res := call(t, ts, tok)
	wantStatus(t, "token at the pinned time", res, http.StatusOK)
	if !res.claims.IssuedAt.Equal(past) {
		t.Errorf("iat %v, want the pinned %v", res.claims.IssuedAt, past)
	}

	// A middleware on the real clock finds the pinned token long expired.
	cfg := iss.Config()
	cfg.Now = nil
	realMW, err := middleware.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	real := httptest.NewServer(realMW.Authenticate(report))
	t.Cleanup(real.Close)
	wantStatus(t, "pinned token on the real clock", call(t, real, tok), http.StatusUnauthorized)

	clk.Advance(time.Minute + middleware.DefaultLeeway)
	wantStatus(t, "after exp + leeway on the issuer's clock", call(t, ts, tok), http.StatusUnauthorized)
	wantStatus(t, "a token minted at the new time", call(t, ts, iss.Token()), http.StatusOK)

	// Without Now the issuer uses the real clock.
	iss.Now = nil
	live := iss.Token()
	wantStatus(t, "Now nil, live token", call(t, real, live), http.StatusOK)
}

// TestClaimReservedPanics: Claim may not replace a registered claim; Token
// panics, as documented, since that is a bug in the test.
func TestClaimReservedPanics(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer()
	for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				r := recover()
				if r == nil {
					t.Fatalf("Token(Claim(%q, ...)) did not panic", name)
				}
				if msg, _ := r.(string); !strings.HasPrefix(msg, "authtest:") || !strings.Contains(msg, name) {
					t.Errorf("panic %v, want an authtest message naming %q", r, name)
				}
			}()
			iss.Token(authtest.Claim(name, "x"))
		})
	}
	t.Run("unencodable", func(t *testing.T) {
		t.Parallel()
		defer func() {
			if recover() == nil {
				t.Fatal("Token with a claim that cannot be JSON did not panic")
			}
		}()
		iss.Token(authtest.Claim("ch", make(chan int)))
	})
}

// TestIssuersAreIndependent: each issuer has its own key, so tokens of one
// do not pass the middleware of another, even with the same URL and kid.
func TestIssuersAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := authtest.NewIssuer(), authtest.NewIssuer()
	ts := api(t, a)
	wantStatus(t, "own token", call(t, ts, a.Token()), http.StatusOK)
	res := call(t, ts, b.Token())
	wantStatus(t, "other issuer's token", res, http.StatusUnauthorized)

	// URL and Audience are plain fields: Config follows them.
	c := authtest.NewIssuer()
	c.URL, c.Audience = "https://auth.example.com", "https://api.example.com"
	cfg := c.Config()
	if cfg.Issuer != c.URL || cfg.Audience != c.Audience || cfg.Keys == nil {
		t.Fatalf("Config() = %+v", cfg)
	}
	wantStatus(t, "custom URL and audience", call(t, api(t, c), c.Token()), http.StatusOK)
	wantStatus(t, "default-URL token at the custom issuer", call(t, api(t, c), a.Token()), http.StatusUnauthorized)
}

// TestJWKSAndKeys: the published set verifies the tokens through
// middleware.LocalKeys, and JWKS() hands out a copy.
func TestJWKSAndKeys(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer()
	jwks := iss.JWKS()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &doc); err != nil || len(doc.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", jwks, err)
	}
	if k := doc.Keys[0]; k["kty"] != "EC" || k["alg"] != "ES256" || k["d"] != nil {
		t.Errorf("published key %v, want a public EC ES256 key", k)
	}
	for i := range jwks {
		jwks[i] = 'x'
	}
	ks, err := middleware.LocalKeys(iss.JWKS())
	if err != nil {
		t.Fatalf("LocalKeys(JWKS()) after the caller scribbled on its copy: %v", err)
	}
	mw, err := middleware.New(middleware.Config{Issuer: iss.URL, Audience: iss.Audience, Keys: ks})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(mw.Authenticate(report))
	t.Cleanup(ts.Close)
	wantStatus(t, "token through LocalKeys(JWKS())", call(t, ts, iss.Token()), http.StatusOK)
	if iss.Keys() == nil {
		t.Fatal("Keys() returned nil")
	}
}
