package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

const apiAudience = "https://api.example.com"

// httpClient bounds every exchange: a hang fails the test instead.
var httpClient = &http.Client{Timeout: 30 * time.Second}

// tokenServer is an in-process tollgate server with two confidential
// clients ("shop" and "partner") allowed orders:read and orders:write for
// apiAudience.
type tokenServer struct {
	issuer  string
	srv     *handler.Server
	ts      *httptest.Server // nil until served
	secrets map[string]string
}

// newTokenServer builds the server for issuer http://addr; it is served
// only by serve.
func newTokenServer(t *testing.T, addr string) *tokenServer {
	t.Helper()
	store := memory.New()
	s := &tokenServer{issuer: "http://" + addr, secrets: map[string]string{}}
	for _, id := range []string{"shop", "partner"} {
		plain, hash, err := handler.GenerateClientSecret()
		if err != nil {
			t.Fatal(err)
		}
		s.secrets[id] = plain
		if err := store.CreateClient(context.Background(), &storage.Client{
			ID: id, SecretHash: hash, GrantTypes: []string{"client_credentials"},
			Scopes: []string{"orders:read", "orders:write"}, DefaultScopes: []string{"orders:read"},
			Audiences: []string{apiAudience},
		}); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	s.srv, err = handler.New(handler.Config{Issuer: s.issuer, Clients: store, Logger: slog.New(slog.DiscardHandler),
		Keys: []handler.SigningKey{{Algorithm: "ES256"}}})
	if err != nil {
		t.Fatalf("handler.New: %v", err)
	}
	return s
}

// serve starts the token server on ln over real HTTP.
func (s *tokenServer) serve(t *testing.T, ln net.Listener) {
	t.Helper()
	s.ts = &httptest.Server{Listener: ln, Config: &http.Server{Handler: s.srv}}
	s.ts.Start()
	t.Cleanup(s.ts.Close)
	if s.ts.URL != s.issuer {
		t.Fatalf("token server on %s, issuer %s", s.ts.URL, s.issuer)
	}
}

// newLateTokenServer builds a token server for an address nothing listens
// on yet: an API started now finds its issuer down; serveLate brings it up.
func newLateTokenServer(t *testing.T) *tokenServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return newTokenServer(t, addr)
}

// serveLate serves s at its address, skipping the test if something else
// took the address meanwhile.
func (s *tokenServer) serveLate(t *testing.T) {
	t.Helper()
	addr := strings.TrimPrefix(s.issuer, "http://")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the reserved address %s was taken meanwhile: %v", addr, err)
	}
	s.serve(t, ln)
}

// startTokenServer returns a token server already serving.
func startTokenServer(t *testing.T) *tokenServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newTokenServer(t, ln.Addr().String())
	s.serve(t, ln)
	return s
}

// token asks for a client_credentials token with scope: over HTTP when the
// server is served, in-process otherwise.
func (s *tokenServer) token(t *testing.T, client, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	req, err := http.NewRequest(http.MethodPost, s.issuer+handler.TokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, s.secrets[client])
	var (
		status int
		body   []byte
	)
	if s.ts != nil {
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
	} else {
		rec := httptest.NewRecorder()
		s.srv.ServeHTTP(rec, req)
		status, body = rec.Code, rec.Body.Bytes()
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &tr) != nil || tr.AccessToken == "" {
		t.Fatalf("token for %s (%s): %d %s", client, scope, status, body)
	}
	return tr.AccessToken
}

// logSink collects run's logs; safe for its goroutines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// api is a run() in progress.
type api struct {
	url    string
	ops    string // the operations address's URL; "" without -ops-listen
	stdout string
	logs   *logSink
	stop   func() error // cancels run's context and returns its result
}

// startAPI runs the resource API with args plus -listen 127.0.0.1:0.
func startAPI(t *testing.T, args ...string) *api {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout bytes.Buffer // written before ready only
	logs := &logSink{}
	ready := make(chan [2]string, 1)
	errc := make(chan error, 1)
	args = append([]string{"-listen", "127.0.0.1:0"}, args...)
	go func() { errc <- run(ctx, args, &stdout, logs, func(api, ops string) { ready <- [2]string{api, ops} }) }()
	var addrs [2]string
	select {
	case addrs = <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("run %q stopped before ready: %v\n%s", args, err, logs)
	case <-time.After(30 * time.Second): // a hang, not a timing assumption
		cancel()
		t.Fatalf("run %q: not ready after 30s", args)
	}
	a := &api{url: "http://" + addrs[0], stdout: stdout.String(), logs: logs}
	if addrs[1] != "" {
		a.ops = "http://" + addrs[1]
	}
	a.stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(30 * time.Second):
			t.Errorf("run did not return after its context was cancelled")
			return nil
		}
	})
	t.Cleanup(func() {
		if err := a.stop(); err != nil {
			t.Errorf("run returned %v on shutdown", err)
		}
	})
	return a
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (a *api) do(t *testing.T, method, path, token, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, a.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	ans := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &ans.body); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %v: %s", method, path, err, raw)
		}
	}
	return ans
}

func want(t *testing.T, what string, ans answer, status int) {
	t.Helper()
	if ans.status != status {
		t.Fatalf("%s: status %d, want %d; body %s; WWW-Authenticate %q", what, ans.status, status, ans.raw, ans.header.Get("WWW-Authenticate"))
	}
}

// TestOrdersAPI walks the README's sequence against a real token server.
func TestOrdersAPI(t *testing.T) {
	t.Parallel()
	ts := startTokenServer(t)
	a := startAPI(t, "-issuer", ts.issuer, "-jwks", ts.issuer+handler.JWKSPath, "-audience", apiAudience)
	if !strings.Contains(a.stdout, a.url) || !strings.Contains(a.stdout, ts.issuer) {
		t.Errorf("start-up line %q should name the API URL and the issuer", a.stdout)
	}
	read := ts.token(t, "shop", "orders:read")
	write := ts.token(t, "shop", "orders:write")

	ans := a.do(t, http.MethodGet, "/public", "", "")
	want(t, "GET /public without a token", ans, http.StatusOK)

	ans = a.do(t, http.MethodGet, "/orders", "", "")
	want(t, "GET /orders without a token", ans, http.StatusUnauthorized)
	if h := ans.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer realm=") || strings.Contains(h, "error=") {
		t.Errorf("no token: WWW-Authenticate %q, want a bare Bearer challenge", h)
	}

	ans = a.do(t, http.MethodGet, "/orders", read, "")
	want(t, "GET /orders with orders:read", ans, http.StatusOK)
	if orders, ok := ans.body["orders"].([]any); !ok || len(orders) != 0 {
		t.Errorf("GET /orders: %s, want an empty list", ans.raw)
	}
	if ans.header.Get("X-RateLimit-Limit") != "60" {
		t.Errorf("GET /orders: X-RateLimit-Limit %q, want the default 60", ans.header.Get("X-RateLimit-Limit"))
	}

	ans = a.do(t, http.MethodPost, "/orders", read, `{"item":"book"}`)
	want(t, "POST /orders with orders:read", ans, http.StatusForbidden)
	if h := ans.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_scope"`) || !strings.Contains(h, `scope="orders:write"`) {
		t.Errorf("POST with orders:read: WWW-Authenticate %q", h)
	}
	if ans.body["error"] != "insufficient_scope" {
		t.Errorf("POST with orders:read: body %s", ans.raw)
	}

	ans = a.do(t, http.MethodPost, "/orders", write, `{"item":"book"}`)
	want(t, "POST /orders with orders:write", ans, http.StatusCreated)
	if ans.body["item"] != "book" || ans.body["client_id"] != "shop" || ans.body["id"] != float64(1) {
		t.Errorf("created %s", ans.raw)
	}
	want(t, "POST /orders without an item", a.do(t, http.MethodPost, "/orders", write, `{}`), http.StatusBadRequest)

	ans = a.do(t, http.MethodGet, "/orders", read, "")
	want(t, "GET /orders after the POST", ans, http.StatusOK)
	if orders, _ := ans.body["orders"].([]any); len(orders) != 1 {
		t.Errorf("GET /orders: %s, want the new order", ans.raw)
	}
	want(t, "GET /orders with orders:write only", a.do(t, http.MethodGet, "/orders", write, ""), http.StatusForbidden)
	want(t, "GET /orders with a garbage token", a.do(t, http.MethodGet, "/orders", "garbage.token.here", ""), http.StatusUnauthorized)
	want(t, "DELETE /orders", a.do(t, http.MethodDelete, "/orders", write, ""), http.StatusMethodNotAllowed)
	for _, secret := range []string{read, write, ts.secrets["shop"]} {
		if strings.Contains(a.logs.String(), secret) {
			t.Fatalf("a token or secret reached the logs:\n%s", a.logs)
		}
	}
}

// TestRateLimitPerClient: -rate 3-M lets each client three requests a
// minute; the fourth gets 429 with Retry-After, another client is counted
// apart.
func TestRateLimitPerClient(t *testing.T) {
	t.Parallel()
	ts := startTokenServer(t)
	a := startAPI(t, "-issuer", ts.issuer, "-jwks", ts.issuer+handler.JWKSPath, "-rate", "3-M")
	shop := ts.token(t, "shop", "orders:read")
	for i := range 3 {
		ans := a.do(t, http.MethodGet, "/orders", shop, "")
		want(t, "shop request "+strconv.Itoa(i+1), ans, http.StatusOK)
		if got := ans.header.Get("X-RateLimit-Remaining"); got != strconv.Itoa(2-i) {
			t.Errorf("request %d: X-RateLimit-Remaining %q, want %d", i+1, got, 2-i)
		}
	}
	ans := a.do(t, http.MethodGet, "/orders", shop, "")
	want(t, "shop request 4", ans, http.StatusTooManyRequests)
	if ra, err := strconv.Atoi(ans.header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("429: Retry-After %q, want 1..60", ans.header.Get("Retry-After"))
	}
	if ans.header.Get("X-RateLimit-Limit") != "3" || ans.header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("429: X-RateLimit-* %v", ans.header)
	}
	if ans.header.Get("WWW-Authenticate") != "" {
		t.Errorf("429 with a challenge: %q", ans.header.Get("WWW-Authenticate"))
	}
	// Another token of the same client shares its quota.
	want(t, "shop, another token", a.do(t, http.MethodGet, "/orders", ts.token(t, "shop", "orders:read"), ""), http.StatusTooManyRequests)
	want(t, "partner", a.do(t, http.MethodGet, "/orders", ts.token(t, "partner", "orders:read"), ""), http.StatusOK)
	want(t, "/public is not limited", a.do(t, http.MethodGet, "/public", "", ""), http.StatusOK)
}

// TestShutdownOnCancel: cancelling run's context stops the server and run
// returns nil.
func TestShutdownOnCancel(t *testing.T) {
	t.Parallel()
	ts := startTokenServer(t)
	a := startAPI(t, "-issuer", ts.issuer, "-jwks", ts.issuer+handler.JWKSPath)
	want(t, "before shutdown", a.do(t, http.MethodGet, "/orders", ts.token(t, "shop", "orders:read"), ""), http.StatusOK)
	if err := a.stop(); err != nil {
		t.Fatalf("run returned %v after cancel, want nil", err)
	}
	httpClient.CloseIdleConnections()
	if resp, err := httpClient.Get(a.url + "/public"); err == nil {
		resp.Body.Close()
		t.Fatalf("the API still answers after shutdown: %s", resp.Status)
	}
}

// TestStartsBeforeTokenServer: the API starts while the token server is
// not up; protected routes answer 503 until the keys can be fetched, then
// work. The -jwks default (<issuer>/.well-known/jwks.json) is used.
func TestStartsBeforeTokenServer(t *testing.T) {
	t.Parallel()
	ts := newLateTokenServer(t)
	tok := ts.token(t, "shop", "orders:read") // in-process: the server is not served

	a := startAPI(t, "-issuer", ts.issuer)
	if !strings.Contains(a.logs.String(), "JWKS not reachable at start") {
		t.Errorf("the unreachable JWKS was not logged:\n%s", a.logs)
	}
	want(t, "GET /public while keys are missing", a.do(t, http.MethodGet, "/public", "", ""), http.StatusOK)
	want(t, "no token while keys are missing", a.do(t, http.MethodGet, "/orders", "", ""), http.StatusUnauthorized)
	for i := range 2 {
		ans := a.do(t, http.MethodGet, "/orders", tok, "")
		want(t, "token while keys are missing "+strconv.Itoa(i), ans, http.StatusServiceUnavailable)
		if ra, err := strconv.Atoi(ans.header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("503: Retry-After %q", ans.header.Get("Retry-After"))
		}
		if ans.body["error"] != "temporarily_unavailable" {
			t.Errorf("503 body %s", ans.raw)
		}
	}

	ts.serveLate(t)
	// The API's clocks are not injectable from its flags: its background
	// retry (after 1 s, then 2 s...) brings the keys, so wait for it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		ans := a.do(t, http.MethodGet, "/orders", tok, "")
		if ans.status == http.StatusOK {
			break
		}
		if ans.status != http.StatusServiceUnavailable && ans.status != http.StatusUnauthorized {
			t.Fatalf("status %d while waiting for the keys: %s", ans.status, ans.raw)
		}
		if time.Now().After(deadline) {
			t.Fatalf("protected route still %d 20s after the token server started", ans.status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	want(t, "POST with a write token once up", a.do(t, http.MethodPost, "/orders", ts.token(t, "shop", "orders:write"), `{"item":"pen"}`), http.StatusCreated)
}

func TestFlags(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	refused := "http://127.0.0.1:1/jwks.json" // nothing listens: fails fast, run goes on (RetryStartup)
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string // "" for a nil error
	}{
		{"help", []string{"-h"}, ""},
		{"unknown flag", []string{"-nope"}, "flag provided but not defined"},
		{"bad rate", []string{"-rate", "lots", "-listen", "127.0.0.1:0", "-jwks", refused}, "rate"},
		{"zero rate", []string{"-rate", "0-M", "-listen", "127.0.0.1:0", "-jwks", refused}, "rate"},
		{"JWKS not http", []string{"-jwks", "ftp://issuer/jwks.json", "-listen", "127.0.0.1:0"}, "absolute http(s) URL"},
		{"issuer not a URL, JWKS derived from it", []string{"-issuer", "issuer.example", "-listen", "127.0.0.1:0"}, "absolute http(s) URL"},
		{"listen address taken", []string{"-listen", busy.Addr().String(), "-jwks", refused}, "address already in use"},
		{"bad listen address", []string{"-listen", "bad address", "-jwks", refused}, "bad address"},
		{"ops address taken", []string{"-listen", "127.0.0.1:0", "-ops-listen", busy.Addr().String(), "-jwks", refused}, "address already in use"},
		{"bad ops address", []string{"-listen", "127.0.0.1:0", "-ops-listen", "nowhere", "-jwks", refused}, "missing port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stderr logSink
			ready := make(chan struct{}, 1)
			err := run(ctx, tc.args, io.Discard, &stderr, func(string, string) { ready <- struct{}{}; cancel() })
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("run %q: %v", tc.args, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("run %q succeeded (ready=%v), want an error saying %q", tc.args, len(ready) > 0, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) && !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("run %q: error %q (stderr %q), want it to say %q", tc.args, err, stderr.String(), tc.wantErr)
			}
		})
	}
}

// TestRateLimitSharedOnRedis: two API instances with one -rate-store hold
// a client to one limit between them.
func TestRateLimitSharedOnRedis(t *testing.T) {
	t.Parallel()
	// A database of its own: counts live a minute, and a rerun must not
	// find the last run's.
	u, err := url.Parse(redisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + strconv.Itoa(1+int(time.Now().UnixNano()%15))
	ts := startTokenServer(t)
	args := []string{"-issuer", ts.issuer, "-jwks", ts.issuer + handler.JWKSPath, "-rate", "4-M", "-rate-store", u.String()}
	a, b := startAPI(t, args...), startAPI(t, args...)
	shop := ts.token(t, "shop", "orders:read")
	ok := 0
	for i := range 8 {
		inst := a
		if i%2 == 1 {
			inst = b
		}
		if inst.do(t, http.MethodGet, "/orders", shop, "").status == http.StatusOK {
			ok++
		}
	}
	if ok != 4 {
		t.Errorf("%d of 8 requests over two instances passed, want 4 (one shared limit)", ok)
	}
}
