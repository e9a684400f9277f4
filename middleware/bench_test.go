package middleware_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-oauth/tollgate/internal/accesstoken"
	"github.com/tollgate-oauth/tollgate/internal/keys"
	"github.com/tollgate-oauth/tollgate/middleware"
)

// Targets (issue 3): a repeated token costs at most 2 µs over the bare
// handler; a first-seen token at most 1.2× the bare signature check.
//
//	go test -run '^$' -bench . -benchmem ./middleware/
//
// BenchmarkBareHandler is the baseline of the Protected benchmarks: the same
// request and recorder with no middleware. BenchmarkVerifySignature is the
// baseline of first-seen: the signature primitive alone on the token's
// signing input, nothing parsed.

var benchAlgs = []string{keys.RS256, keys.ES256, keys.EdDSA}

var benchNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

type benchFixture struct {
	key    *keys.Key
	token  string
	mw     *middleware.Middleware // with the verified-token cache
	mwNoC  *middleware.Middleware // cache disabled: every request verifies
	mwM    *middleware.Middleware // mw with Config.Metrics
	mwNoCM *middleware.Middleware // mwNoC with Config.Metrics
}

func newBenchFixture(b *testing.B, alg string) *benchFixture {
	b.Helper()
	priv, err := keys.Generate(alg, nil)
	if err != nil {
		b.Fatal(err)
	}
	k, err := keys.New("bench-"+alg, alg, priv)
	if err != nil {
		b.Fatal(err)
	}
	set, err := keys.NewSet(k)
	if err != nil {
		b.Fatal(err)
	}
	token, err := accesstoken.Mint(k, &accesstoken.Claims{
		Issuer: "https://issuer.test", Subject: "integration", ClientID: "integration",
		Audience: []string{"https://api.test"}, Scopes: []string{"orders:read", "market:all"},
		IssuedAt: benchNow, Expiry: benchNow.Add(time.Hour), ID: "0123456789abcdefghijkl",
	})
	if err != nil {
		b.Fatal(err)
	}
	newMW := func(cacheSize int, withMetrics bool) *middleware.Middleware {
		ks, err := middleware.LocalKeys(set.JWKS())
		if err != nil {
			b.Fatal(err)
		}
		var metrics *middleware.Metrics
		if withMetrics {
			if metrics, err = middleware.NewMetrics(prometheus.NewRegistry()); err != nil {
				b.Fatal(err)
			}
		}
		mw, err := middleware.New(middleware.Config{
			Issuer: "https://issuer.test", Audience: "https://api.test", Keys: ks, CacheSize: cacheSize,
			Now: func() time.Time { return benchNow }, Logger: slog.New(slog.DiscardHandler), Metrics: metrics,
		})
		if err != nil {
			b.Fatal(err)
		}
		return mw
	}
	return &benchFixture{key: k, token: token, mw: newMW(0, false), mwNoC: newMW(-1, false),
		mwM: newMW(0, true), mwNoCM: newMW(-1, true)}
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

func serveBench(b *testing.B, h http.Handler, token string, want int) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, "/orders", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != want {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

func BenchmarkBareHandler(b *testing.B) {
	serveBench(b, okHandler, "", http.StatusNoContent)
}

// BenchmarkProtected/<alg>/repeated is the common case: one client calling
// many times with its cached token. first-seen verifies every time. The
// +metrics variants are the same with [middleware.Config.Metrics] set: the
// cost of counting (issue 11: at most 3 %).
func BenchmarkProtected(b *testing.B) {
	for _, alg := range benchAlgs {
		f := newBenchFixture(b, alg)
		b.Run(alg+"/repeated", func(b *testing.B) {
			serveBench(b, f.mw.RequireScopes("orders:read")(okHandler), f.token, http.StatusNoContent)
		})
		b.Run(alg+"/repeated+metrics", func(b *testing.B) {
			serveBench(b, f.mwM.RequireScopes("orders:read")(okHandler), f.token, http.StatusNoContent)
		})
		b.Run(alg+"/first-seen", func(b *testing.B) {
			serveBench(b, f.mwNoC.RequireScopes("orders:read")(okHandler), f.token, http.StatusNoContent)
		})
		b.Run(alg+"/first-seen+metrics", func(b *testing.B) {
			serveBench(b, f.mwNoCM.RequireScopes("orders:read")(okHandler), f.token, http.StatusNoContent)
		})
	}
}

// BenchmarkProtectedLimited is the repeated case behind a per-client
// limit (the default in-process store), as examples/resource-api serves
// GET /orders; its difference from BenchmarkProtected/ES256/repeated is
// the limiter's cost per request. parallel runs it from every core on
// one client, where a lock shared by all requests would show.
func BenchmarkProtectedLimited(b *testing.B) {
	f := newBenchFixture(b, keys.ES256)
	for _, v := range []struct {
		name string
		mw   *middleware.Middleware
	}{{"", f.mw}, {"+metrics", f.mwM}} {
		name, mw := v.name, v.mw
		limit, err := mw.RateLimit(middleware.RateLimit{Rate: "1000000000000-H"})
		if err != nil {
			b.Fatal(err)
		}
		h := mw.RequireScopes("orders:read")(limit(okHandler))
		b.Run("ES256/repeated"+name, func(b *testing.B) {
			serveBench(b, h, f.token, http.StatusNoContent)
		})
		b.Run("ES256/repeated-parallel"+name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/orders", nil)
			req.Header.Set("Authorization", "Bearer "+f.token)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusNoContent {
						b.Errorf("status %d", w.Code)
						return
					}
				}
			})
		})
	}
}

// BenchmarkProtectedRevocations is the repeated case with a revocation
// set of 10 000 entries (jti and grant_id) consulted on every request; the
// token carries a grant_id, so both lookups run.
func BenchmarkProtectedRevocations(b *testing.B) {
	type entry struct {
		JTI     string `json:"jti,omitempty"`
		GrantID string `json:"grant_id,omitempty"`
		Exp     int64  `json:"exp"`
	}
	page := struct {
		Cursor  string  `json:"cursor"`
		Reset   bool    `json:"reset"`
		Revoked []entry `json:"revoked"`
	}{Cursor: "e.1", Reset: true}
	for i := range 5000 {
		page.Revoked = append(page.Revoked, entry{JTI: fmt.Sprintf("jti-%022d", i), Exp: benchNow.Add(time.Hour).Unix()},
			entry{GrantID: fmt.Sprintf("grant-%020d", i), Exp: benchNow.Add(time.Hour).Unix()})
	}
	body, err := json.Marshal(page)
	if err != nil {
		b.Fatal(err)
	}
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer feed.Close()
	rv, err := middleware.RevocationFeed(context.Background(), feed.URL, middleware.RevocationOptions{
		MaxDelay: time.Hour, Now: func() time.Time { return benchNow }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer rv.Close()

	f := newBenchFixture(b, keys.ES256)
	token, err := accesstoken.Mint(f.key, &accesstoken.Claims{
		Issuer: "https://issuer.test", Subject: "user-1", ClientID: "app", Audience: []string{"https://api.test"},
		Scopes: []string{"orders:read"}, IssuedAt: benchNow, Expiry: benchNow.Add(time.Hour), ID: "0123456789abcdefghijkl",
		GrantID: "grant-not-revoked",
	})
	if err != nil {
		b.Fatal(err)
	}
	ks, err := middleware.LocalKeys(must(keys.NewSet(f.key)).JWKS())
	if err != nil {
		b.Fatal(err)
	}
	mw, err := middleware.New(middleware.Config{
		Issuer: "https://issuer.test", Audience: "https://api.test", Keys: ks, Revocations: rv,
		Now: func() time.Time { return benchNow }, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ES256/repeated", func(b *testing.B) {
		serveBench(b, mw.RequireScopes("orders:read")(okHandler), token, http.StatusNoContent)
	})
}

// BenchmarkVerifySignature is the bare signature check of the same tokens
// with the standard library: the floor of any JWT validation.
func BenchmarkVerifySignature(b *testing.B) {
	for _, alg := range benchAlgs {
		f := newBenchFixture(b, alg)
		dot := strings.LastIndexByte(f.token, '.')
		input := []byte(f.token[:dot])
		sig, err := base64.RawURLEncoding.DecodeString(f.token[dot+1:])
		if err != nil {
			b.Fatal(err)
		}
		pub := f.key.Public()
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var ok bool
				switch pub := pub.(type) {
				case *rsa.PublicKey:
					sum := sha256.Sum256(input)
					ok = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
				case *ecdsa.PublicKey:
					sum := sha256.Sum256(input)
					ok = ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
				case ed25519.PublicKey:
					ok = ed25519.Verify(pub, input, sig)
				}
				if !ok {
					b.Fatal("signature does not verify")
				}
			}
		})
	}
}
