package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"
	limitermemory "github.com/ulule/limiter/v3/drivers/store/memory"

	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/middleware/authtest"
)

// rlSetup serves rmClaimsHandler behind mw.RateLimit(rl) alone, with
// tokens from an authtest issuer.
func rlSetup(t testing.TB, rl middleware.RateLimit, mutate func(*middleware.Config)) (*httptest.Server, *authtest.Issuer) {
	t.Helper()
	iss := authtest.NewIssuer()
	cfg := iss.Config()
	cfg.Logger = rmDiscard
	if mutate != nil {
		mutate(&cfg)
	}
	mw, err := middleware.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	limit, err := mw.RateLimit(rl)
	if err != nil {
		t.Fatalf("RateLimit(%+v): %v", rl, err)
	}
	ts := httptest.NewServer(limit(rmClaimsHandler))
	t.Cleanup(ts.Close)
	return ts, iss
}

// rlUnder checks an answer under the limit: 200 and X-RateLimit-* showing
// what is left.
func rlUnder(t testing.TB, what string, res rmResponse, limit, remaining int) {
	t.Helper()
	rmWant(t, what, res, http.StatusOK, "")
	if got := res.Header.Get("X-RateLimit-Limit"); got != strconv.Itoa(limit) {
		t.Errorf("%s: X-RateLimit-Limit %q, want %d", what, got, limit)
	}
	if got := res.Header.Get("X-RateLimit-Remaining"); got != strconv.Itoa(remaining) {
		t.Errorf("%s: X-RateLimit-Remaining %q, want %d", what, got, remaining)
	}
	rlCheckReset(t, what, res, time.Minute)
	if res.Header.Get("Retry-After") != "" {
		t.Errorf("%s: Retry-After on an answer under the limit", what)
	}
}

// rlOver checks a 429: Retry-After, X-RateLimit-*, a JSON error body and
// no challenge (the token is fine).
func rlOver(t testing.TB, what string, res rmResponse, limit int, period time.Duration) {
	t.Helper()
	if res.Status != http.StatusTooManyRequests {
		t.Fatalf("%s: status %d, want 429; body %s", what, res.Status, res.Raw)
	}
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || res.Err.Error == "" || res.Err.Description == "" {
		t.Errorf("%s: 429 body %q (Content-Type %q), want a JSON error with a description", what, res.Raw, res.Header.Get("Content-Type"))
	}
	if h := res.Header.Get("WWW-Authenticate"); h != "" {
		t.Errorf("%s: 429 with WWW-Authenticate %q", what, h)
	}
	ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > int(period/time.Second) {
		t.Errorf("%s: Retry-After %q, want 1..%d seconds", what, res.Header.Get("Retry-After"), int(period/time.Second))
	}
	if got := res.Header.Get("X-RateLimit-Limit"); got != strconv.Itoa(limit) {
		t.Errorf("%s: X-RateLimit-Limit %q, want %d", what, got, limit)
	}
	if got := res.Header.Get("X-RateLimit-Remaining"); got != "0" {
		t.Errorf("%s: X-RateLimit-Remaining %q, want 0", what, got)
	}
	rlCheckReset(t, what, res, period)
}

// rlCheckReset checks that X-RateLimit-Reset is a Unix time within the
// window. The limiter's memory store counts in wall-clock time.
func rlCheckReset(t testing.TB, what string, res rmResponse, period time.Duration) {
	t.Helper()
	reset, err := strconv.ParseInt(res.Header.Get("X-RateLimit-Reset"), 10, 64)
	now := time.Now().Unix()
	if err != nil || reset < now-1 || reset > now+int64(period/time.Second)+1 {
		t.Errorf("%s: X-RateLimit-Reset %q, want a Unix time within %v of now (%d)", what, res.Header.Get("X-RateLimit-Reset"), period, now)
	}
}

func TestRateLimitPerClientByDefault(t *testing.T) {
	t.Parallel()
	api, iss := rlSetup(t, middleware.RateLimit{Rate: "2-M"}, nil)
	a := iss.Token(authtest.ClientID("client-a"))
	a2 := iss.Token(authtest.ClientID("client-a"), authtest.Subject("someone-else")) // same client, another token
	b := iss.Token(authtest.ClientID("client-b"))

	rlUnder(t, "client-a 1", rmGet(t, api.URL, a), 2, 1)
	rlUnder(t, "client-a 2", rmGet(t, api.URL, a2), 2, 0)
	rlOver(t, "client-a 3", rmGet(t, api.URL, a), 2, time.Minute)
	rlOver(t, "client-a 3, other token", rmGet(t, api.URL, a2), 2, time.Minute)
	rlUnder(t, "client-b 1", rmGet(t, api.URL, b), 2, 1)
	rlUnder(t, "client-b 2", rmGet(t, api.URL, b), 2, 0)
	rlOver(t, "client-b 3", rmGet(t, api.URL, b), 2, time.Minute)
}

func TestRateLimitBySubject(t *testing.T) {
	t.Parallel()
	api, iss := rlSetup(t, middleware.RateLimit{Rate: "2-M", Key: middleware.BySubject}, nil)
	alice1 := iss.Token(authtest.ClientID("app-1"), authtest.Subject("alice"))
	alice2 := iss.Token(authtest.ClientID("app-2"), authtest.Subject("alice"))
	bob := iss.Token(authtest.ClientID("app-1"), authtest.Subject("bob"))

	rlUnder(t, "alice via app-1", rmGet(t, api.URL, alice1), 2, 1)
	rlUnder(t, "alice via app-2", rmGet(t, api.URL, alice2), 2, 0)
	rlOver(t, "alice again", rmGet(t, api.URL, alice1), 2, time.Minute)
	rlUnder(t, "bob via app-1", rmGet(t, api.URL, bob), 2, 1)
}

func TestRateLimitCustomKey(t *testing.T) {
	t.Parallel()
	var sawClaims atomic.Bool
	key := func(r *http.Request, c *middleware.Claims) string {
		if c != nil && c.ClientID != "" {
			sawClaims.Store(true)
		}
		return "tenant:" + r.Header.Get("X-Tenant")
	}
	api, iss := rlSetup(t, middleware.RateLimit{Rate: "1-H", Key: key}, nil)
	tok := iss.Token()
	send := func(tenant string) rmResponse {
		req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Tenant", tenant)
		resp, err := rmClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return rmResponse{Status: resp.StatusCode, Header: resp.Header}
	}
	if res := send("acme"); res.Status != http.StatusOK || res.Header.Get("X-RateLimit-Limit") != "1" {
		t.Fatalf("acme 1: %d %v", res.Status, res.Header)
	}
	if res := send("acme"); res.Status != http.StatusTooManyRequests {
		t.Fatalf("acme 2: status %d, want 429", res.Status)
	} else if ra, _ := strconv.Atoi(res.Header.Get("Retry-After")); ra < 1 || ra > 3600 {
		t.Errorf("acme 2: Retry-After %q for a 1-H rate", res.Header.Get("Retry-After"))
	}
	if res := send("globex"); res.Status != http.StatusOK {
		t.Fatalf("globex 1: status %d, want 200 (its own counter)", res.Status)
	}
	if !sawClaims.Load() {
		t.Error("the key function was not given the verified claims")
	}
}

func TestRateLimitBadRate(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer()
	mw, err := middleware.New(iss.Config())
	if err != nil {
		t.Fatal(err)
	}
	for _, rate := range []string{"", "abc", "10", "10-X", "0-M", "-1-S", "ten-S", "10-S-S", " 10-S"} {
		limit, err := mw.RateLimit(middleware.RateLimit{Rate: rate})
		if err == nil {
			t.Errorf("RateLimit(%q) accepted", rate)
			continue
		}
		if limit != nil {
			t.Errorf("RateLimit(%q) returned a middleware with its error", rate)
		}
		if !strings.Contains(err.Error(), "RateLimit") || !strings.Contains(err.Error(), strconv.Quote(rate)) {
			t.Errorf("RateLimit(%q): error %q should name RateLimit and the rate", rate, err)
		}
	}
}

// rlFailingStore is a limiter store that is down.
type rlFailingStore struct{ calls atomic.Int64 }

var errRLStoreDown = errors.New("store down")

func (s *rlFailingStore) Get(context.Context, string, limiter.Rate) (limiter.Context, error) {
	s.calls.Add(1)
	return limiter.Context{}, errRLStoreDown
}

func (s *rlFailingStore) Peek(context.Context, string, limiter.Rate) (limiter.Context, error) {
	s.calls.Add(1)
	return limiter.Context{}, errRLStoreDown
}

func (s *rlFailingStore) Reset(context.Context, string, limiter.Rate) (limiter.Context, error) {
	s.calls.Add(1)
	return limiter.Context{}, errRLStoreDown
}

func (s *rlFailingStore) Increment(context.Context, string, int64, limiter.Rate) (limiter.Context, error) {
	s.calls.Add(1)
	return limiter.Context{}, errRLStoreDown
}

// TestRateLimitStoreFailureFailsOpen: a broken store lets requests through
// (with a warning) rather than taking the API down.
func TestRateLimitStoreFailureFailsOpen(t *testing.T) {
	t.Parallel()
	store := &rlFailingStore{}
	logs := &rmLog{}
	api, iss := rlSetup(t, middleware.RateLimit{Rate: "1-M", Store: store},
		func(c *middleware.Config) { c.Logger = logs.logger() })
	tok := iss.Token()
	for i := range 5 {
		res := rmGet(t, api.URL, tok)
		rmWant(t, "request with the store down", res, http.StatusOK, "")
		if h := res.Header.Get("X-RateLimit-Remaining"); h != "" {
			t.Errorf("request %d: X-RateLimit-Remaining %q without a working store", i, h)
		}
	}
	if store.calls.Load() != 5 {
		t.Errorf("store asked %d times, want 5", store.calls.Load())
	}
	if !strings.Contains(logs.String(), "rate limit store failed") || strings.Contains(logs.String(), tok) {
		t.Errorf("want a warning per failure and never the token; logs:\n%s", logs)
	}
	// Still authenticating: a store failure is no way around the token.
	rmWant(t, "no token with the store down", rmGet(t, api.URL, ""), http.StatusUnauthorized, "")
}

// TestRateLimitStoreFailureFailsClosed: with FailClosed, a broken store
// answers 503 with Retry-After, and no WWW-Authenticate (the token is not
// at fault).
func TestRateLimitStoreFailureFailsClosed(t *testing.T) {
	t.Parallel()
	store := &rlFailingStore{}
	logs := &rmLog{}
	api, iss := rlSetup(t, middleware.RateLimit{Rate: "1-M", Store: store, FailClosed: true},
		func(c *middleware.Config) { c.Logger = logs.logger() })
	res := rmGet(t, api.URL, iss.Token())
	rmWant(t, "request with the store down, failing closed", res, http.StatusServiceUnavailable, "temporarily_unavailable")
	if res.Header.Get("Retry-After") == "" || res.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("503 headers: Retry-After %q, WWW-Authenticate %q", res.Header.Get("Retry-After"), res.Header.Get("WWW-Authenticate"))
	}
	if !strings.Contains(logs.String(), "refusing request") {
		t.Errorf("the refusal was not logged:\n%s", logs)
	}
}

// TestRateLimitAlone: RateLimit without Authenticate before it checks the
// token itself, and refused requests do not use up the quota.
func TestRateLimitAlone(t *testing.T) {
	t.Parallel()
	api, iss := rlSetup(t, middleware.RateLimit{Rate: "2-M"}, nil)
	for range 3 {
		res := rmGet(t, api.URL, "")
		rmWant(t, "no token", res, http.StatusUnauthorized, "")
		if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("no token: WWW-Authenticate %q", res.Header.Get("WWW-Authenticate"))
		}
		if res.Header.Get("X-RateLimit-Limit") != "" {
			t.Errorf("no token: counted against a limit")
		}
		rmWant(t, "expired token", rmGet(t, api.URL, iss.Token(authtest.ExpiresIn(-time.Hour))), http.StatusUnauthorized, "invalid_token")
		rmWant(t, "garbage token", rmGet(t, api.URL, "not.a.jwt"), http.StatusUnauthorized, "invalid_token")
	}
	rlUnder(t, "first valid request", rmGet(t, api.URL, iss.Token()), 2, 1)
}

// TestRateLimitAfterAuthenticate: composed after Authenticate (as in
// router.Use(mw.Authenticate, limit)) the claims come from the context.
func TestRateLimitAfterAuthenticate(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer()
	cfg := iss.Config()
	cfg.Logger = rmDiscard
	mw, err := middleware.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	limit, err := mw.RateLimit(middleware.RateLimit{Rate: "1-M"})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(mw.Authenticate(limit(mw.RequireScopes("orders:read")(rmClaimsHandler))))
	t.Cleanup(api.Close)
	tok := iss.Token(authtest.Scopes("orders:read"))
	rlUnder(t, "first", rmGet(t, api.URL, tok), 1, 0)
	rlOver(t, "second", rmGet(t, api.URL, tok), 1, time.Minute)
}

// TestRateLimitNamesAndStores: limits sharing a store and a Name share
// their counters; another Name keeps its own.
func TestRateLimitNamesAndStores(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer()
	cfg := iss.Config()
	cfg.Logger = rmDiscard
	mw, err := middleware.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := limitermemory.NewStore()
	mk := func(name string) func(http.Handler) http.Handler {
		l, err := mw.RateLimit(middleware.RateLimit{Rate: "2-M", Store: store, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	mux := http.NewServeMux()
	mux.Handle("/a", mk("shared")(rmClaimsHandler))
	mux.Handle("/b", mk("shared")(rmClaimsHandler))
	mux.Handle("/c", mk("other")(rmClaimsHandler))
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	tok := iss.Token()
	rlUnder(t, "/a", rmGet(t, api.URL+"/a", tok), 2, 1)
	rlUnder(t, "/b shares /a's counter", rmGet(t, api.URL+"/b", tok), 2, 0)
	rlOver(t, "/a over the shared limit", rmGet(t, api.URL+"/a", tok), 2, time.Minute)
	rlUnder(t, "/c has its own", rmGet(t, api.URL+"/c", tok), 2, 1)
}

// TestRateLimitErrorWriter: the 429 goes through a custom ErrorWriter with
// its headers.
func TestRateLimitErrorWriter(t *testing.T) {
	t.Parallel()
	var got atomic.Pointer[middleware.Error]
	writer := func(w http.ResponseWriter, r *http.Request, e *middleware.Error, realm string) {
		got.Store(e)
		w.WriteHeader(e.Status)
	}
	api, iss := rlSetup(t, middleware.RateLimit{Rate: "1-M"}, func(c *middleware.Config) { c.ErrorWriter = writer })
	tok := iss.Token()
	rmGet(t, api.URL, tok)
	if res := rmGet(t, api.URL, tok); res.Status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", res.Status)
	}
	e := got.Load()
	if e == nil || e.Status != http.StatusTooManyRequests || e.Header.Get("Retry-After") == "" || e.Header.Get("X-RateLimit-Limit") != "1" {
		t.Fatalf("ErrorWriter got %+v, want a 429 with Retry-After and X-RateLimit-Limit", e)
	}
}
