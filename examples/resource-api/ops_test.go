package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
)

// getText fetches url and returns its status and body.
func getText(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestOpsEndpoints: -ops-listen serves /healthz, /readyz and /metrics on
// their own address, and only there; /metrics counts the API's requests
// exactly, beside the Go and process collectors.
func TestOpsEndpoints(t *testing.T) {
	t.Parallel()
	ts := startTokenServer(t)
	a := startAPI(t, "-issuer", ts.issuer, "-jwks", ts.issuer+handler.JWKSPath, "-audience", apiAudience, "-ops-listen", "127.0.0.1:0")
	if a.ops == "" || !strings.Contains(a.stdout, a.ops) {
		t.Fatalf("ops address %q; start-up lines %q should name it", a.ops, a.stdout)
	}
	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ready\n"} {
		if status, body := getText(t, a.ops+path); status != http.StatusOK || body != want {
			t.Errorf("GET %s: %d %q, want 200 %q", path, status, body, want)
		}
	}

	read, write := ts.token(t, "shop", "orders:read"), ts.token(t, "shop", "orders:write")
	want(t, "no token", a.do(t, http.MethodGet, "/orders", "", ""), http.StatusUnauthorized)                         // missing_token
	want(t, "read", a.do(t, http.MethodGet, "/orders", read, ""), http.StatusOK)                                     // accepted, miss
	want(t, "write with read", a.do(t, http.MethodPost, "/orders", read, `{"item":"a"}`), http.StatusForbidden)      // accepted, hit, insufficient_scope
	want(t, "garbage", a.do(t, http.MethodGet, "/orders", "garbage.token.here", ""), http.StatusUnauthorized)        // malformed_token, miss
	want(t, "write", a.do(t, http.MethodPost, "/orders", write, `{"item":"a"}`), http.StatusCreated)                 // accepted, miss
	want(t, "public", a.do(t, http.MethodGet, "/public", "", ""), http.StatusOK)                                     // not guarded: not counted
	want(t, "oversized", a.do(t, http.MethodGet, "/orders", strings.Repeat("x", 9000), ""), http.StatusUnauthorized) // over MaxTokenBytes: malformed_token, no lookup

	status, body := getText(t, a.ops+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d", status)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(body, "\n") {
		lines[l] = true
	}
	for _, l := range []string{
		"tollgate_middleware_accepted_total 3",
		`tollgate_middleware_refused_total{reason="missing_token"} 1`,
		`tollgate_middleware_refused_total{reason="insufficient_scope"} 1`,
		`tollgate_middleware_refused_total{reason="malformed_token"} 2`,
		`tollgate_middleware_refused_total{reason="rate_limited"} 0`,
		`tollgate_middleware_refused_total{reason="expired"} 0`,
		"tollgate_middleware_token_cache_hits_total 1",
		"tollgate_middleware_token_cache_misses_total 3",
		`tollgate_middleware_jwks_fetches_total{result="ok",trigger="start"} 1`,
		`tollgate_middleware_jwks_fetches_total{result="error",trigger="start"} 0`,
	} {
		if !lines[l] {
			t.Errorf("/metrics lacks %q", l)
		}
	}
	for _, prefix := range []string{"go_goroutines ", "process_open_fds ", "tollgate_middleware_jwks_age_seconds ",
		`tollgate_middleware_revocation_polls_total{result="ok"} `, "tollgate_middleware_revocation_lag_seconds "} {
		if !strings.Contains(body, "\n"+prefix) {
			t.Errorf("/metrics has no %s", prefix)
		}
	}
	for _, secret := range []string{read, write, ts.secrets["shop"]} {
		if strings.Contains(body, secret) {
			t.Fatal("/metrics holds a token or secret")
		}
	}

	// Each address serves its own routes only.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if status, _ := getText(t, a.url+path); status != http.StatusNotFound {
			t.Errorf("the API address answers %s with %d, want 404", path, status)
		}
	}
	for _, path := range []string{"/public", "/orders"} {
		if status, _ := getText(t, a.ops+path); status != http.StatusNotFound {
			t.Errorf("the ops address answers %s with %d, want 404", path, status)
		}
	}
}

// TestOpsOffByDefault: without -ops-listen nothing else listens, and the
// API address still has no ops endpoints.
func TestOpsOffByDefault(t *testing.T) {
	t.Parallel()
	ts := startTokenServer(t)
	a := startAPI(t, "-issuer", ts.issuer, "-jwks", ts.issuer+handler.JWKSPath)
	if a.ops != "" || strings.Contains(a.stdout, "operations") {
		t.Errorf("ops served without -ops-listen: %q, %q", a.ops, a.stdout)
	}
	if status, _ := getText(t, a.url+"/metrics"); status != http.StatusNotFound {
		t.Errorf("GET /metrics on the API: %d, want 404", status)
	}
}

// TestReadyzWaitsForKeys: started before its token server, the API is
// alive but not ready, saying why, until the keys arrive; then ready.
func TestReadyzWaitsForKeys(t *testing.T) {
	t.Parallel()
	ts := newLateTokenServer(t)

	a := startAPI(t, "-issuer", ts.issuer, "-ops-listen", "127.0.0.1:0")
	if status, body := getText(t, a.ops+"/healthz"); status != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz while the issuer is down: %d %q, want 200: the process is up", status, body)
	}
	status, body := getText(t, a.ops+"/readyz")
	if status != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not ready: ") || !strings.Contains(body, "no keys fetched yet") {
		t.Errorf("/readyz while the issuer is down: %d %q, want 503 saying no keys were fetched", status, body)
	}
	if _, m := getText(t, a.ops+"/metrics"); !strings.Contains(m, "\n"+`tollgate_middleware_jwks_fetches_total{result="error",trigger="start"} 1`+"\n") {
		t.Errorf("/metrics does not count the failed start:\n%s", m)
	}

	ts.serveLate(t)
	// The API's clocks are not injectable from its flags: its background
	// retry (after 1 s, then 2 s...) brings the keys, so wait for it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, body := getText(t, a.ops+"/readyz")
		if status == http.StatusOK && body == "ready\n" {
			break
		}
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("/readyz %d %q, 20 s after the token server started", status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	want(t, "a token once ready", a.do(t, http.MethodGet, "/orders", ts.token(t, "shop", "orders:read"), ""), http.StatusOK)
}
