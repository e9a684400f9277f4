package handler_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/internal/accesstoken"
	"github.com/tollgate-oauth/tollgate/internal/keys"
)

// The token endpoint's budget is the signature: everything tollgate adds
// (parsing, client lookup, secret check, limits, fosite, JSON) should be
// small beside it. BenchmarkTokenEndpoint and BenchmarkSign run the same
// algorithms in one run so their ratio can be read off together:
//
//	go test -run '^$' -bench 'TokenEndpoint|Sign' -count 6 ./handler/ | benchstat -

var benchAlgs = []string{keys.RS256, keys.ES256, keys.EdDSA}

// benchRates keeps the limiters on the path (their cost is part of a
// request) without ever refusing.
var benchRates = handler.RateLimits{Token: "1000000000-S", TokenPerIP: "1000000000-S", FailedAuth: "1000000000-S"}

// benchServer is a server signing with alg; mutate, if set, changes its
// config last.
func benchServer(b *testing.B, alg string, mutate func(*handler.Config)) *handler.Server {
	b.Helper()
	_, srv := newServer(b, func(c *handler.Config) {
		c.Keys = []handler.SigningKey{{ID: "bench", Algorithm: alg}}
		c.RateLimits = benchRates
		if mutate != nil {
			mutate(c)
		}
	})
	return srv
}

// BenchmarkTokenEndpoint is one client_credentials request through the
// whole handler (in process, no network): Basic auth with the argon2id
// fixture secret (verified once, then from the cache), default scope and
// audience.
func BenchmarkTokenEndpoint(b *testing.B) { benchTokenEndpoint(b, nil) }

// BenchmarkTokenEndpointMetrics is BenchmarkTokenEndpoint with
// Config.Metrics on (audit and tracing off): what the metrics add to the
// hot path, read beside it in one run (issue 11 allows 3 %):
//
//	scripts/bench-ratio.sh metrics
func BenchmarkTokenEndpointMetrics(b *testing.B) {
	m, err := handler.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	benchTokenEndpoint(b, func(c *handler.Config) { c.Metrics = m })
}

func benchTokenEndpoint(b *testing.B, mutate func(*handler.Config)) {
	body := "grant_type=client_credentials"
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(integrationID+":"+integrationSecret))
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			srv := benchServer(b, alg, mutate)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, handler.TokenPath, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Authorization", auth)
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkTokenEndpointJSONPublic is the storefront's request: a JSON body,
// a public client, a wildcard-matched market scope.
func BenchmarkTokenEndpointJSONPublic(b *testing.B) {
	srv := benchServer(b, keys.ES256, nil)
	body := `{"grant_type":"client_credentials","client_id":"sales-channel","scope":"market:id:xYZkjABcde"}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, handler.TokenPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkSign is the floor BenchmarkTokenEndpoint is measured against:
// the bare signature primitive of the standard library (hash and sign,
// nothing else) over the JWS signing input of the same claims, with the
// same key types. Encoding the JWS is part of the request's overhead.
func BenchmarkSign(b *testing.B) {
	claims := &accesstoken.Claims{
		Issuer: "http://tollgate.test", Subject: integrationID, Audience: []string{apiAudience},
		ClientID: integrationID, Scopes: []string{"market:all"}, IssuedAt: fixedNow,
		Expiry: fixedNow.Add(2 * time.Hour), ID: "0123456789abcdefghijkl",
	}
	payload, err := claims.MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	input := []byte(`eyJhbGciOiJFUzI1NiIsImtpZCI6ImJlbmNoIiwidHlwIjoiYXQrand0In0.` + base64.RawURLEncoding.EncodeToString(payload))
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			priv, err := keys.Generate(alg, rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := signPrimitive(priv, input); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func signPrimitive(priv crypto.Signer, input []byte) error {
	switch p := priv.(type) {
	case ed25519.PrivateKey:
		ed25519.Sign(p, input)
		return nil
	case *rsa.PrivateKey:
		digest := sha256.Sum256(input)
		_, err := rsa.SignPKCS1v15(nil, p, crypto.SHA256, digest[:])
		return err
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256(input)
		_, err := ecdsa.SignASN1(rand.Reader, p, digest[:])
		return err
	}
	return fmt.Errorf("unexpected key %T", priv)
}

// BenchmarkTokenEndpointHTTP adds a real loopback connection and the
// net/http client, as a caller sees it.
func BenchmarkTokenEndpointHTTP(b *testing.B) {
	ts, _ := newServer(b, func(c *handler.Config) {
		c.Keys = []handler.SigningKey{{ID: "bench", Algorithm: keys.ES256}}
		c.RateLimits = benchRates
	})
	b.ReportAllocs()
	for b.Loop() {
		res := postRaw(b, ts, "application/x-www-form-urlencoded", "grant_type=client_credentials",
			"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(integrationID+":"+integrationSecret)))
		if res.status != http.StatusOK {
			b.Fatalf("status %d: %s", res.status, res.raw)
		}
	}
}
