package main

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
)

// feedPath is where a tollgate issuer serves its revocation feed.
const feedPath = "/oauth/revocations"

// revocationFeed is a minimal feed: every answer lists every entry, with
// reset (the contract lets a server do that at any time).
type revocationFeed struct {
	mu   sync.Mutex
	jtis []string
}

func (f *revocationFeed) revoke(jti string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jtis = append(f.jtis, jti)
}

func (f *revocationFeed) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	type entry struct {
		JTI string `json:"jti"`
		Exp int64  `json:"exp"`
	}
	revoked := []entry{}
	for _, j := range f.jtis {
		revoked = append(revoked, entry{j, time.Now().Add(time.Hour).Unix()})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"cursor": "e." + strconv.Itoa(len(f.jtis)), "reset": true, "more": false, "revoked": revoked})
}

// startTokenServerWithFeed serves the token server with a revocation feed
// advertised in its metadata, as a tollgate server with one does; with
// feed nil, the metadata advertises none (an issuer that has no feed).
func startTokenServerWithFeed(t *testing.T, feed *revocationFeed) *tokenServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newTokenServer(t, ln.Addr().String())
	rec := httptest.NewRecorder()
	s.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, handler.MetadataPath, nil))
	var md map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &md); err != nil {
		t.Fatalf("metadata: %v", err)
	}
	delete(md, "revocation_feed_endpoint")
	mux := http.NewServeMux()
	if feed != nil {
		md["revocation_feed_endpoint"] = s.issuer + feedPath
		mux.Handle(feedPath, feed)
	}
	mux.HandleFunc(handler.MetadataPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(md)
	})
	mux.Handle("/", s.srv)
	s.ts = &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	s.ts.Start()
	t.Cleanup(s.ts.Close)
	return s
}

// jtiOf reads a token's jti.
func jtiOf(t *testing.T, token string) string {
	t.Helper()
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.JTI == "" {
		t.Fatalf("no jti: %v %s", err, payload)
	}
	return c.JTI
}

// TestRevokedTokensRefused: with no flag, the API finds the feed in the
// issuer's metadata. A token revoked before it starts is refused at once;
// one revoked later is refused within the 10 s bound.
func TestRevokedTokensRefused(t *testing.T) {
	t.Parallel()
	feed := &revocationFeed{}
	ts := startTokenServerWithFeed(t, feed)
	early, late, other := ts.token(t, "shop", "orders:read"), ts.token(t, "shop", "orders:read"), ts.token(t, "partner", "orders:read")
	feed.revoke(jtiOf(t, early))
	a := startAPI(t, "-issuer", ts.issuer)
	if strings.Contains(a.logs.String(), "no revocation feed") {
		t.Fatalf("the advertised feed was not found:\n%s", a.logs)
	}
	ans := a.do(t, http.MethodGet, "/orders", early, "")
	want(t, "token revoked before the start", ans, http.StatusUnauthorized)
	if h := ans.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) || !strings.Contains(h, "revoked") {
		t.Errorf("revoked token: WWW-Authenticate %q", h)
	}
	want(t, "token not revoked", a.do(t, http.MethodGet, "/orders", late, ""), http.StatusOK)

	feed.revoke(jtiOf(t, late))
	revokedAt := time.Now()
	// The API polls on its own real-time schedule (every 5 s for the 10 s
	// bound): wait for it, with room for a loaded machine.
	for a.do(t, http.MethodGet, "/orders", late, "").status != http.StatusUnauthorized {
		if time.Since(revokedAt) > 20*time.Second {
			t.Fatalf("the revoked token still passes %v after its revocation (bound 10 s)", time.Since(revokedAt))
		}
		time.Sleep(100 * time.Millisecond)
	}
	want(t, "another client's token", a.do(t, http.MethodGet, "/orders", other, ""), http.StatusOK)
}

// TestNoRevocationFeed: an issuer that advertises no feed is logged, and
// the API serves (revoked tokens pass until they expire).
func TestNoRevocationFeed(t *testing.T) {
	t.Parallel()
	ts := startTokenServerWithFeed(t, nil)
	a := startAPI(t, "-issuer", ts.issuer)
	if !strings.Contains(a.logs.String(), "the issuer advertises no revocation feed") {
		t.Errorf("an issuer without a revocation feed was not logged:\n%s", a.logs)
	}
	want(t, "token", a.do(t, http.MethodGet, "/orders", ts.token(t, "shop", "orders:read"), ""), http.StatusOK)
}
