package middleware_test

// Helpers of the key-set and rate-limit tests (remote_test.go,
// keys_test.go, ratelimit_test.go). Every name starts with rm so it cannot
// clash with the other test files of the package.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tollgate-oauth/tollgate/middleware"
)

const (
	rmIssuer   = "https://issuer.rm.test"
	rmAudience = "https://api.rm.test"
)

// rmNow is the injected time the key-set tests start at.
var rmNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// rmKey is a signing key of the test issuer.
type rmKey struct {
	kid  string
	alg  string // the alg tokens are signed with
	priv crypto.Signer
}

// rmNewKey generates a key that signs alg: RS256/PS256 (RSA 2048), ES256,
// ES384, EdDSA.
func rmNewKey(t testing.TB, alg, kid string) *rmKey {
	t.Helper()
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case "RS256", "PS256":
		priv, err = rmRSAKey(kid)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("rmNewKey: no generator for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &rmKey{kid: kid, alg: alg, priv: priv}
}

var (
	rmRSAMu   sync.Mutex
	rmRSAKeys = map[string]*rsa.PrivateKey{}
)

// rmRSAKey returns the RSA 2048 key for kid, generated once per test
// binary: generation is slow under -race on a small machine, and keys of
// different kids stay distinct.
func rmRSAKey(kid string) (*rsa.PrivateKey, error) {
	rmRSAMu.Lock()
	defer rmRSAMu.Unlock()
	if k, ok := rmRSAKeys[kid]; ok {
		return k, nil
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err == nil {
		rmRSAKeys[kid] = k
	}
	return k, err
}

// jwk is the public JWK as an issuer publishes it: kid, use sig, and alg.
func (k *rmKey) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"}
}

// rmJWKS renders a key set.
func rmJWKS(t testing.TB, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatalf("rendering JWKS: %v", err)
	}
	return b
}

// rmClaims returns valid access-token claims for clientID at now.
func rmClaims(now time.Time, clientID string) map[string]any {
	return map[string]any{
		"iss": rmIssuer, "aud": rmAudience, "sub": clientID, "client_id": clientID,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": rand.Text(), "scope": "orders:read",
	}
}

// token signs valid claims at now with k (its alg and kid).
func (k *rmKey) token(t testing.TB, now time.Time) string {
	t.Helper()
	return rmSign(t, k.priv, k.alg, k.kid, rmClaims(now, "client-a"))
}

// rmSign signs claims as an RFC 9068 access token (typ at+jwt) with the
// given header alg and kid ("" for none).
func rmSign(t testing.TB, priv any, alg, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("at+jwt"),
	)
	if err != nil {
		t.Fatalf("signer for %s: %v", alg, err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rmJWKSServer serves a JWKS the test controls over real HTTP and counts
// the requests it gets.
type rmJWKSServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   []byte
	status int
	onHit  func(n int64) // called before answering, outside mu
	hits   atomic.Int64
}

func rmNewJWKSServer(t testing.TB, body []byte) *rmJWKSServer {
	t.Helper()
	s := &rmJWKSServer{body: body, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.hits.Add(1)
		s.mu.Lock()
		hook := s.onHit
		s.mu.Unlock()
		if hook != nil {
			hook(n)
		}
		s.mu.Lock()
		status, body := s.status, s.body
		s.mu.Unlock()
		if status != http.StatusOK {
			http.Error(w, "issuer down", status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *rmJWKSServer) set(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.status = body, http.StatusOK
}

func (s *rmJWKSServer) setStatus(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = code
}

func (s *rmJWKSServer) setHook(f func(n int64)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onHit = f
}

func (s *rmJWKSServer) Hits() int64 { return s.hits.Load() }

// rmLog is a log sink safe for concurrent writers.
type rmLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *rmLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *rmLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *rmLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

var rmDiscard = slog.New(slog.DiscardHandler)

// rmRemote builds a remote key set with logs discarded unless opts has a
// logger, closed when the test ends.
func rmRemote(t testing.TB, url string, opts middleware.RemoteOptions) *middleware.KeySet {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = rmDiscard
	}
	ks, err := middleware.RemoteJWKS(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("RemoteJWKS(%s): %v", url, err)
	}
	t.Cleanup(ks.Close)
	return ks
}

// rmMiddleware builds a Middleware for rmIssuer and rmAudience over ks.
func rmMiddleware(t testing.TB, ks *middleware.KeySet, now func() time.Time, mutate func(*middleware.Config)) *middleware.Middleware {
	t.Helper()
	cfg := middleware.Config{Issuer: rmIssuer, Audience: rmAudience, Keys: ks, Now: now, Logger: rmDiscard}
	if mutate != nil {
		mutate(&cfg)
	}
	mw, err := middleware.New(cfg)
	if err != nil {
		t.Fatalf("middleware.New: %v", err)
	}
	return mw
}

// rmClaimsHandler answers 200 with the verified claims it was given.
var rmClaimsHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := middleware.ClaimsFrom(r.Context())
	if !ok {
		http.Error(w, "no claims in the context", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rmSeen{Subject: c.Subject, ClientID: c.ClientID, KeyID: c.KeyID, Scopes: c.Scopes})
})

// rmSeen is what rmClaimsHandler reports.
type rmSeen struct {
	Subject  string   `json:"sub"`
	ClientID string   `json:"client_id"`
	KeyID    string   `json:"kid"`
	Scopes   []string `json:"scopes"`
}

// rmAPI serves rmClaimsHandler behind mw.Authenticate over real HTTP.
func rmAPI(t testing.TB, mw *middleware.Middleware) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(mw.Authenticate(rmClaimsHandler))
	t.Cleanup(ts.Close)
	return ts
}

// rmResponse is one exchange with a protected API.
type rmResponse struct {
	Status int
	Header http.Header
	Raw    string
	Err    struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Scope       string `json:"scope"`
	}
	Seen rmSeen
}

// rmTryGet sends GET url with the bearer token ("" for none).
func rmTryGet(client *http.Client, url, token string) (rmResponse, error) {
	var res rmResponse
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return res, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return res, err
	}
	res.Status, res.Header, res.Raw = resp.StatusCode, resp.Header, string(raw)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		target := any(&res.Err)
		if resp.StatusCode == http.StatusOK {
			target = &res.Seen
		}
		if err := json.Unmarshal(raw, target); err != nil {
			return res, errors.New("answer is not JSON: " + err.Error() + ": " + string(raw))
		}
	}
	return res, nil
}

// rmClient bounds every exchange, so a deadlock in the code under test
// fails the test instead of hanging it.
var rmClient = &http.Client{Timeout: 30 * time.Second}

func rmGet(t testing.TB, url, token string) rmResponse {
	t.Helper()
	res, err := rmTryGet(rmClient, url, token)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return res
}

// rmWant checks the status of res, and for a refusal its error code.
func rmWant(t testing.TB, what string, res rmResponse, status int, code string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, res.Status, status, res.Raw)
	}
	if status != http.StatusOK && res.Err.Error != code {
		t.Fatalf("%s: error %q, want %q; body %s", what, res.Err.Error, code, res.Raw)
	}
}

// rmEventually polls cond until it holds or the deadline passes. It is
// used only where a real timer (the background refresh loop, a goroutine
// exiting) must be waited for.
func rmEventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
