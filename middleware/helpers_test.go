package middleware_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/middleware/authtest"
)

// testNow is the injected time of every test: issuers mint at it and
// middlewares verify at it unless a test moves a clock.
var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// newIssuer returns an authtest issuer whose tokens are issued at testNow.
func newIssuer() *authtest.Issuer {
	iss := authtest.NewIssuer()
	iss.Now = func() time.Time { return testNow }
	return iss
}

// newMiddleware builds a Middleware accepting iss's tokens, verifying at
// testNow with logs discarded. mutate, if not nil, changes the config
// before New (another clock, keys, options).
func newMiddleware(t testing.TB, iss *authtest.Issuer, mutate func(*middleware.Config)) *middleware.Middleware {
	t.Helper()
	cfg := iss.Config()
	cfg.Now = func() time.Time { return testNow }
	cfg.Logger = slog.New(slog.DiscardHandler)
	if mutate != nil {
		mutate(&cfg)
	}
	mw, err := middleware.New(cfg)
	if err != nil {
		t.Fatalf("middleware.New: %v", err)
	}
	return mw
}

// serve starts h over real HTTP, closed when the test ends.
func serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// response is one HTTP exchange. Body is the decoded JSON error body when
// the answer is JSON.
type response struct {
	Status int
	Header http.Header
	Raw    string
	Body   errorBody
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Scope       string `json:"scope"`
}

// do sends req and reads the answer; a JSON answer that does not decode
// fails the test.
func do(t testing.TB, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	res := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &res.Body); err != nil {
			t.Fatalf("answer is not JSON: %v: %q", err, raw)
		}
	}
	return res
}

// get sends GET url with "Authorization: Bearer token", or no
// Authorization header when token is "".
func get(t testing.TB, url, token string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

// clock is a movable injected clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
