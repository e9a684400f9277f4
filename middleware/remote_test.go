package middleware_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

func TestRemoteJWKSInitialFetch(t *testing.T) {
	t.Parallel()
	k1 := rmNewKey(t, "ES256", "k1")
	js := rmNewJWKSServer(t, rmJWKS(t, k1.jwk()))
	clock := newClock(rmNow)
	ks := rmRemote(t, js.URL, middleware.RemoteOptions{Now: clock.Now})
	if n := js.Hits(); n != 1 {
		t.Fatalf("RemoteJWKS fetched %d times, want once at start", n)
	}
	api := rmAPI(t, rmMiddleware(t, ks, clock.Now, nil))
	for i := range 3 {
		res := rmGet(t, api.URL, k1.token(t, rmNow))
		rmWant(t, "token of the published key", res, http.StatusOK, "")
		if res.Seen.KeyID != "k1" || res.Seen.ClientID != "client-a" {
			t.Fatalf("request %d: claims %+v, want kid k1 and client-a", i, res.Seen)
		}
	}
	if n := js.Hits(); n != 1 {
		t.Fatalf("JWKS fetched %d times after requests with a known kid, want 1", n)
	}
}

// TestRemoteJWKSKeyRotation: the issuer publishes a new key and drops the
// old one. The first request with a token of the new key succeeds (the
// unknown kid triggers one refetch), and tokens of the dropped key are
// refused, also one that was verified and cached before.
func TestRemoteJWKSKeyRotation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// announce publishes both keys before the old one goes.
		announce bool
	}{{"swapped at once", false}, {"announced before use", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k1, k2 := rmNewKey(t, "ES256", "k1"), rmNewKey(t, "EdDSA", "k2")
			js := rmNewJWKSServer(t, rmJWKS(t, k1.jwk()))
			clock := newClock(rmNow)
			interval := 30 * time.Second
			ks := rmRemote(t, js.URL, middleware.RemoteOptions{Now: clock.Now, MissRefetchInterval: interval})
			api := rmAPI(t, rmMiddleware(t, ks, clock.Now, nil))

			old := k1.token(t, rmNow)
			rmWant(t, "old key before rotation", rmGet(t, api.URL, old), http.StatusOK, "")
			rmWant(t, "old key again (cached)", rmGet(t, api.URL, old), http.StatusOK, "")

			if tc.announce {
				js.set(rmJWKS(t, k1.jwk(), k2.jwk()))
			} else {
				js.set(rmJWKS(t, k2.jwk()))
			}
			res := rmGet(t, api.URL, k2.token(t, rmNow))
			rmWant(t, "first request with the new key", res, http.StatusOK, "")
			if res.Seen.KeyID != "k2" {
				t.Fatalf("verified by kid %q, want k2", res.Seen.KeyID)
			}
			if n := js.Hits(); n != 2 {
				t.Fatalf("JWKS fetched %d times, want 2 (start + one refetch for the new kid)", n)
			}

			if tc.announce {
				// Both keys are published: the old one still works until
				// the issuer drops it and the set is fetched again.
				rmWant(t, "old key while announced", rmGet(t, api.URL, old), http.StatusOK, "")
				js.set(rmJWKS(t, k2.jwk()))
				clock.Advance(interval)
				// Any refetch (here: a token naming another unknown kid)
				// brings the new generation.
				stranger := rmNewKey(t, "ES256", "stranger")
				rmWant(t, "unknown kid", rmGet(t, api.URL, stranger.token(t, rmNow)), http.StatusUnauthorized, "invalid_token")
				if n := js.Hits(); n != 3 {
					t.Fatalf("JWKS fetched %d times, want 3", n)
				}
			}
			hits := js.Hits()
			rmWant(t, "cached token of the removed key", rmGet(t, api.URL, old), http.StatusUnauthorized, "invalid_token")
			rmWant(t, "fresh token of the removed key", rmGet(t, api.URL, k1.token(t, rmNow)), http.StatusUnauthorized, "invalid_token")
			rmWant(t, "new key again", rmGet(t, api.URL, k2.token(t, rmNow)), http.StatusOK, "")
			if n := js.Hits(); n != hits {
				t.Fatalf("refused old-key tokens refetched the JWKS within MissRefetchInterval (%d → %d hits)", hits, n)
			}
			clock.Advance(interval)
			rmWant(t, "removed key after the interval", rmGet(t, api.URL, old), http.StatusUnauthorized, "invalid_token")
			if n := js.Hits(); n != hits+1 {
				t.Fatalf("JWKS fetched %d times, want %d: a miss after the interval refetches once", n, hits+1)
			}
		})
	}
}

// TestRemoteJWKSUnknownKidFlood: 200 concurrent requests naming random
// kids cause one refetch per MissRefetchInterval, no more.
func TestRemoteJWKSUnknownKidFlood(t *testing.T) {
	t.Parallel()
	k1 := rmNewKey(t, "ES256", "k1")
	attacker := rmNewKey(t, "ES256", "")
	js := rmNewJWKSServer(t, rmJWKS(t, k1.jwk()))
	clock := newClock(rmNow)
	const interval = 10 * time.Second
	ks := rmRemote(t, js.URL, middleware.RemoteOptions{Now: clock.Now, MissRefetchInterval: interval})
	api := rmAPI(t, rmMiddleware(t, ks, clock.Now, nil))
	randomKid := func() string {
		return rmSign(t, attacker.priv, "ES256", rand.Text(), rmClaims(rmNow, "client-a"))
	}

	const n = 200
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = randomKid()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var unexpected atomic.Int64
	for _, tok := range tokens {
		wg.Go(func() {
			<-start
			res, err := rmTryGet(client, api.URL, tok)
			if err != nil {
				t.Errorf("GET: %v", err)
				return
			}
			if res.Status != http.StatusUnauthorized || res.Err.Error != "invalid_token" {
				unexpected.Add(1)
				t.Errorf("random kid: status %d body %s, want 401 invalid_token", res.Status, res.Raw)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := js.Hits(); n != 2 {
		t.Fatalf("a flood of %d random kids caused %d fetches, want 2 (start + one refetch)", len(tokens), n)
	}
	rmWant(t, "known key during the flood", rmGet(t, api.URL, k1.token(t, rmNow)), http.StatusOK, "")

	// A key the issuer publishes now is seen only once the interval has
	// passed: the price of bounding refetches.
	k2 := rmNewKey(t, "ES256", "k2")
	js.set(rmJWKS(t, k1.jwk(), k2.jwk()))
	clock.Advance(interval - time.Second)
	rmWant(t, "new key within the interval", rmGet(t, api.URL, k2.token(t, rmNow)), http.StatusUnauthorized, "invalid_token")
	rmWant(t, "random kid within the interval", rmGet(t, api.URL, randomKid()), http.StatusUnauthorized, "invalid_token")
	if n := js.Hits(); n != 2 {
		t.Fatalf("%d fetches before the interval passed, want 2", n)
	}
	clock.Advance(time.Second)
	rmWant(t, "new key once the interval passed", rmGet(t, api.URL, k2.token(t, rmNow)), http.StatusOK, "")
	if n := js.Hits(); n != 3 {
		t.Fatalf("%d fetches after the interval passed, want 3", n)
	}
	rmWant(t, "random kid right after the refetch", rmGet(t, api.URL, randomKid()), http.StatusUnauthorized, "invalid_token")
	if n := js.Hits(); n != 3 {
		t.Fatalf("%d fetches, want 3: the refetch opened a new interval", n)
	}
}

// TestRemoteJWKSConcurrentMissesShareOneFetch: a client that got a token
// of a newly published key often sends several requests at once. The
// first one's unknown kid starts a refetch; those arriving while it is in
// flight must wait for it (one shared fetch, singleflight) rather than be
// refused: "no failed request for a token signed by the new key".
func TestRemoteJWKSConcurrentMissesShareOneFetch(t *testing.T) {
	t.Parallel()
	k1, k2 := rmNewKey(t, "ES256", "k1"), rmNewKey(t, "ES256", "k2")
	js := rmNewJWKSServer(t, rmJWKS(t, k1.jwk()))
	var readings atomic.Int64 // misses that reached the refetch decision
	now := func() time.Time { readings.Add(1); return rmNow }
	ks := rmRemote(t, js.URL, middleware.RemoteOptions{Now: now})
	api := rmAPI(t, rmMiddleware(t, ks, func() time.Time { return rmNow }, nil))

	release := make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock) // runs before the JWKS server closes, should the test fail early
	js.setHook(func(n int64) {
		if n == 2 {
			<-release // the refetch hangs until every request has arrived
		}
	})
	js.set(rmJWKS(t, k1.jwk(), k2.jwk()))
	tok := k2.token(t, rmNow)

	const n = 50
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
	)
	send := func() {
		res, err := rmTryGet(client, api.URL, tok)
		if err != nil {
			t.Errorf("GET: %v", err)
			return
		}
		mu.Lock()
		statuses[res.Status]++
		mu.Unlock()
	}
	wg.Go(send)
	rmEventually(t, 10*time.Second, "the first request's refetch started", func() bool { return js.Hits() == 2 })
	for range n - 1 {
		wg.Go(send)
	}
	rmEventually(t, 10*time.Second, "every request reached the key lookup", func() bool { return readings.Load() >= n })
	runtime.Gosched()
	unblock()
	wg.Wait()
	if statuses[http.StatusOK] != n {
		t.Errorf("%d requests with the new key sent while its refetch was in flight: statuses %v, want all %d to be 200",
			n, statuses, n)
	}
	if got := js.Hits(); got != 2 {
		t.Errorf("%d concurrent misses caused %d fetches in all, want 2 (start + one shared refetch)", n, got)
	}
}

// TestRemoteJWKSIssuerDown: when the issuer fails, the last good keys keep
// verifying tokens.
func TestRemoteJWKSIssuerDown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		down      func(*rmJWKSServer)
		wantFetch bool // the failed refetch reaches the server
	}{
		{"answers 500", func(s *rmJWKSServer) { s.setStatus(http.StatusInternalServerError) }, true},
		{"answers garbage", func(s *rmJWKSServer) { s.set([]byte("<html>maintenance</html>")) }, true},
		{"closed", func(s *rmJWKSServer) { s.Close() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k1 := rmNewKey(t, "ES256", "k1")
			js := rmNewJWKSServer(t, rmJWKS(t, k1.jwk()))
			clock := newClock(rmNow)
			logs := &rmLog{}
			ks := rmRemote(t, js.URL, middleware.RemoteOptions{Now: clock.Now, Logger: logs.logger(),
				HTTPClient: &http.Client{Timeout: 5 * time.Second}})
			api := rmAPI(t, rmMiddleware(t, ks, clock.Now, nil))
			rmWant(t, "before the outage", rmGet(t, api.URL, k1.token(t, rmNow)), http.StatusOK, "")

			tc.down(js)
			clock.Advance(time.Hour)
			stranger := rmNewKey(t, "ES256", "k-unknown")
			rmWant(t, "unknown kid while down", rmGet(t, api.URL, stranger.token(t, rmNow)), http.StatusUnauthorized, "invalid_token")
			if want := map[bool]int64{true: 2, false: 1}[tc.wantFetch]; js.Hits() != want {
				t.Fatalf("JWKS hits %d, want %d", js.Hits(), want)
			}
			if !strings.Contains(logs.String(), "JWKS refetch for an unknown kid failed") {
				t.Fatalf("the failed refetch was not logged; logs:\n%s", logs)
			}
			// A token never seen before (not cached) still verifies.
			rmWant(t, "known key while down", rmGet(t, api.URL, k1.token(t, rmNow)), http.StatusOK, "")
		})
	}
}

// TestRemoteJWKSBackgroundRefresh drives the refresh loop with a short
// RefreshInterval. The loop runs on real timers, so this test polls with a
// deadline; the unknown-kid refetch is used up first (the clock stands
// still) so only the loop can bring changes.
func TestRemoteJWKSBackgroundRefresh(t *testing.T) {
	t.Parallel()
	k1, k2 := rmNewKey(t, "ES256", "k1"), rmNewKey(t, "ES256", "k2")
	js := rmNewJWKSServer(t, rmJWKS(t, k1.jwk()))
	clock := newClock(rmNow)
	ks := rmRemote(t, js.URL, middleware.RemoteOptions{Now: clock.Now, RefreshInterval: 20 * time.Millisecond})
	mw := rmMiddleware(t, ks, clock.Now, func(c *middleware.Config) { c.CacheSize = -1 })
	api := rmAPI(t, mw)
	stranger := rmNewKey(t, "ES256", "nobody")
	rmWant(t, "unknown kid uses up the refetch", rmGet(t, api.URL, stranger.token(t, rmNow)), http.StatusUnauthorized, "invalid_token")

	js.set(rmJWKS(t, k1.jwk(), k2.jwk()))
	rmEventually(t, 10*time.Second, "the loop fetched the new key", func() bool {
		return rmGet(t, api.URL, k2.token(t, rmNow)).Status == http.StatusOK
	})

	js.setStatus(http.StatusBadGateway)
	before := js.Hits()
	rmEventually(t, 10*time.Second, "the loop retried", func() bool { return js.Hits() >= before+2 })
	rmWant(t, "k1 after failed refreshes", rmGet(t, api.URL, k1.token(t, rmNow)), http.StatusOK, "")
	rmWant(t, "k2 after failed refreshes", rmGet(t, api.URL, k2.token(t, rmNow)), http.StatusOK, "")

	js.set(rmJWKS(t, k2.jwk()))
	rmEventually(t, 10*time.Second, "the loop dropped the removed key", func() bool {
		return rmGet(t, api.URL, k1.token(t, rmNow)).Status == http.StatusUnauthorized
	})
	rmWant(t, "k2 after k1 was removed", rmGet(t, api.URL, k2.token(t, rmNow)), http.StatusOK, "")
}

func TestRemoteJWKSStartupErrors(t *testing.T) {
	t.Parallel()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL + "/jwks.json"
	closed.Close()
	fiveHundred := rmNewJWKSServer(t, nil)
	fiveHundred.setStatus(http.StatusInternalServerError)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	unblock := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-unblock:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(unblock) }) // runs first: lets Close return
	for _, tc := range []struct {
		name string
		ctx  context.Context
		url  string
		want []string
	}{
		{"unreachable", context.Background(), closedURL, []string{"fetching JWKS", closedURL}},
		{"500", context.Background(), fiveHundred.URL, []string{"fetching JWKS", fiveHundred.URL, "500"}},
		{"context cancelled", cancelled, hanging.URL, []string{context.Canceled.Error()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ks, err := middleware.RemoteJWKS(tc.ctx, tc.url, middleware.RemoteOptions{Logger: rmDiscard})
			if err == nil {
				ks.Close()
				t.Fatal("RemoteJWKS succeeded, want an error")
			}
			if ks != nil {
				t.Errorf("RemoteJWKS returned a key set with its error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// rmMark marks the contexts allowed to reach the network in
// TestRemoteJWKSRetryStartup.
type rmMark struct{}

// rmMarkedTransport lets through only requests whose context carries
// rmMark: those made for the start and for a request's unknown-kid
// refetch. The background loop's fetches fail, so they cannot make a test
// of the refetch path pass.
type rmMarkedTransport struct {
	base     http.RoundTripper
	unmarked atomic.Int64
}

func (m *rmMarkedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Context().Value(rmMark{}) == nil {
		m.unmarked.Add(1)
		return nil, errors.New("background fetch refused by the test")
	}
	return m.base.RoundTrip(r)
}

// TestRemoteJWKSRetryStartup: with RetryStartup the set is returned while
// the issuer is down, protected requests answer 503 with Retry-After, and
// once the JWKS appears a request's unknown-kid refetch brings the keys.
func TestRemoteJWKSRetryStartup(t *testing.T) {
	t.Parallel()
	k1 := rmNewKey(t, "ES256", "k1")
	js := rmNewJWKSServer(t, nil)
	js.setStatus(http.StatusServiceUnavailable)
	clock := newClock(rmNow)
	const interval = 30 * time.Second
	tr := &rmMarkedTransport{base: &http.Transport{}}
	logs := &rmLog{}
	ctx := context.WithValue(context.Background(), rmMark{}, true)
	ks, err := middleware.RemoteJWKS(ctx, js.URL, middleware.RemoteOptions{
		RetryStartup: true, Now: clock.Now, MissRefetchInterval: interval,
		HTTPClient: &http.Client{Transport: tr, Timeout: 5 * time.Second}, Logger: logs.logger(),
	})
	if err != nil {
		t.Fatalf("RemoteJWKS with RetryStartup: %v", err)
	}
	t.Cleanup(ks.Close)
	if !strings.Contains(logs.String(), "retrying in the background") {
		t.Errorf("the failed start was not logged; logs:\n%s", logs)
	}
	mw := rmMiddleware(t, ks, clock.Now, nil)
	protected := mw.Authenticate(rmClaimsHandler)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protected.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), rmMark{}, true)))
	}))
	t.Cleanup(api.Close)
	tok := k1.token(t, rmNow)

	for i, wantHits := range []int64{2, 2} { // the first refetches, the second is within the interval
		res := rmGet(t, api.URL, tok)
		rmWant(t, "request before the keys exist", res, http.StatusServiceUnavailable, "temporarily_unavailable")
		if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || ra <= 0 {
			t.Errorf("request %d: Retry-After %q, want a positive number of seconds", i, res.Header.Get("Retry-After"))
		}
		if h := res.Header.Get("WWW-Authenticate"); h != "" {
			t.Errorf("request %d: 503 with WWW-Authenticate %q: the token is not at fault", i, h)
		}
		if js.Hits() != wantHits {
			t.Fatalf("request %d: JWKS hits %d, want %d", i, js.Hits(), wantHits)
		}
	}
	rmWant(t, "no token while keys are missing", rmGet(t, api.URL, ""), http.StatusUnauthorized, "")

	js.set(rmJWKS(t, k1.jwk()))
	rmWant(t, "JWKS back but within the interval", rmGet(t, api.URL, tok), http.StatusServiceUnavailable, "temporarily_unavailable")
	clock.Advance(interval)
	res := rmGet(t, api.URL, tok)
	rmWant(t, "after the interval", res, http.StatusOK, "")
	if js.Hits() != 3 {
		t.Fatalf("JWKS hits %d, want 3: the request's refetch brought the keys", js.Hits())
	}
	rmWant(t, "next request", rmGet(t, api.URL, k1.token(t, rmNow)), http.StatusOK, "")
}

// rmUnusableKeys are JWKs a verifier must not use: symmetric, RSA under
// 2048 bits, a private key, an encryption key, an EC key with an alg that
// does not fit it.
func rmUnusableKeys(t testing.TB) (jwks []jose.JSONWebKey, tokens map[string]string) {
	t.Helper()
	rsa1024 := rmRSA1024(t)
	priv := rmNewKey(t, "ES256", "private")
	enc := rmNewKey(t, "ES256", "enc")
	misfit := rmNewKey(t, "ES256", "misfit")
	jwks = []jose.JSONWebKey{
		{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct", Algorithm: "HS256", Use: "sig"},
		{Key: rsa1024.priv.Public(), KeyID: "rsa1024", Algorithm: "RS256", Use: "sig"},
		{Key: priv.priv, KeyID: "private", Algorithm: "ES256", Use: "sig"},
		{Key: enc.priv.Public(), KeyID: "enc", Algorithm: "ES256", Use: "enc"},
		{Key: misfit.priv.Public(), KeyID: "misfit", Algorithm: "ES384"},
	}
	claims := rmClaims(rmNow, "client-a")
	tokens = map[string]string{
		"rsa1024": rmSign(t, rsa1024.priv, "RS256", "rsa1024", claims),
		"private": rmSign(t, priv.priv, "ES256", "private", claims),
		"enc":     rmSign(t, enc.priv, "ES256", "enc", claims),
		"misfit":  rmSign(t, misfit.priv, "ES256", "misfit", claims),
	}
	return jwks, tokens
}

var (
	rm1024Once sync.Once
	rm1024     *rmKey
	rm1024Err  error
)

// rmRSA1024 returns one 1024-bit RSA key, generated once per binary.
func rmRSA1024(t testing.TB) *rmKey {
	t.Helper()
	rm1024Once.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 1024)
		rm1024, rm1024Err = &rmKey{kid: "rsa1024", alg: "RS256", priv: k}, err
	})
	if rm1024Err != nil {
		t.Fatalf("RSA 1024: %v", rm1024Err)
	}
	return rm1024
}

// rmBadJWKS are documents that hold no usable key set, and what the error
// must say.
func rmBadJWKS(t testing.TB) []struct {
	name     string
	body     []byte
	maxBytes int64
	want     string
} {
	t.Helper()
	a, b := rmNewKey(t, "ES256", "dup"), rmNewKey(t, "EdDSA", "dup")
	unusable, _ := rmUnusableKeys(t)
	big := rmJWKS(t, rmNewKey(t, "ES256", "k").jwk())
	padded := append(append([]byte{}, big[:len(big)-1]...), []byte(strings.Repeat(" ", 1<<20))...)
	padded = append(padded, '}')
	return []struct {
		name     string
		body     []byte
		maxBytes int64
		want     string
	}{
		{"larger than MaxBytes", big, 64, "larger than the limit"},
		{"larger than the 1 MiB default", padded, 0, "larger than the limit"},
		{"not JSON", []byte("<html>hello</html>"), 0, "not a JSON key set"},
		{"JSON array", []byte(`[{"kty":"EC"}]`), 0, "not a JSON key set"},
		{"empty body", []byte(""), 0, "not a JSON key set"},
		{"empty set", []byte(`{"keys":[]}`), 0, "no usable signing key"},
		{"no keys member", []byte(`{}`), 0, "no usable signing key"},
		{"keys null", []byte(`{"keys":null}`), 0, "no usable signing key"},
		{"only unusable keys", rmJWKS(t, unusable...), 0, "no usable signing key"},
		{"unreadable keys", []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"!!","y":"??"},{"kty":"nope"}]}`), 0, "no usable signing key"},
		{"duplicate kid", rmJWKS(t, a.jwk(), b.jwk()), 0, `kid "dup" twice`},
	}
}

func TestRemoteJWKSBadDocuments(t *testing.T) {
	t.Parallel()
	for _, tc := range rmBadJWKS(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			js := rmNewJWKSServer(t, tc.body)
			ks, err := middleware.RemoteJWKS(context.Background(), js.URL, middleware.RemoteOptions{MaxBytes: tc.maxBytes, Logger: rmDiscard})
			if err == nil {
				ks.Close()
				t.Fatal("RemoteJWKS accepted the document")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), js.URL) {
				t.Fatalf("error %q, want it to name the URL and say %q", err, tc.want)
			}
		})
	}
}

// TestRemoteJWKSMixedKeys: unusable keys beside usable ones are skipped,
// with a log line each, and cannot verify anything.
func TestRemoteJWKSMixedKeys(t *testing.T) {
	t.Parallel()
	good := rmNewKey(t, "ES256", "good")
	unusable, tokens := rmUnusableKeys(t)
	js := rmNewJWKSServer(t, rmJWKS(t, append(unusable, good.jwk())...))
	clock := newClock(rmNow)
	logs := &rmLog{}
	ks := rmRemote(t, js.URL, middleware.RemoteOptions{Now: clock.Now, Logger: logs.logger()})
	for _, kid := range []string{"oct", "rsa1024", "private", "enc", "misfit"} {
		if !strings.Contains(logs.String(), "kid="+kid) {
			t.Errorf("skipping kid %s was not logged; logs:\n%s", kid, logs)
		}
	}
	api := rmAPI(t, rmMiddleware(t, ks, clock.Now, nil))
	rmWant(t, "usable key", rmGet(t, api.URL, good.token(t, rmNow)), http.StatusOK, "")
	for kid, tok := range tokens {
		clock.Advance(time.Hour) // each unknown kid may refetch: still unusable
		rmWant(t, "token of unusable key "+kid, rmGet(t, api.URL, tok), http.StatusUnauthorized, "invalid_token")
	}
}

// TestRemoteJWKSAlgBinding: a key verifies only tokens of the algorithm
// its JWK names (or, without alg, the one its type implies), even when the
// middleware allows other algorithms and the signature is genuine.
func TestRemoteJWKSAlgBinding(t *testing.T) {
	t.Parallel()
	ec := rmNewKey(t, "ES256", "ec")
	p384 := rmNewKey(t, "ES384", "")
	pss := rmNewKey(t, "PS256", "pss") // RSA key published for PS256 only
	plain := rmNewKey(t, "RS256", "plain")
	plainJWK := plain.jwk()
	plainJWK.Algorithm = "" // no alg: RSA implies RS256
	js := rmNewJWKSServer(t, rmJWKS(t, ec.jwk(), pss.jwk(), plainJWK))
	clock := newClock(rmNow)
	ks := rmRemote(t, js.URL, middleware.RemoteOptions{Now: clock.Now})
	mw := rmMiddleware(t, ks, clock.Now, func(c *middleware.Config) {
		c.Algorithms = []string{"ES256", "ES384", "RS256", "PS256", "EdDSA"}
	})
	api := rmAPI(t, mw)
	claims := rmClaims(rmNow, "client-a")
	for _, tc := range []struct {
		name  string
		token string
		want  int
	}{
		{"ES256 key, ES256 token", ec.token(t, rmNow), http.StatusOK},
		{"ES256 key, token says ES384", rmSign(t, p384.priv, "ES384", "ec", claims), http.StatusUnauthorized},
		{"ES256 key, token says RS256", rmSign(t, pss.priv, "RS256", "ec", claims), http.StatusUnauthorized},
		{"PS256 key, PS256 token", pss.token(t, rmNow), http.StatusOK},
		{"PS256 key, genuine RS256 signature", rmSign(t, pss.priv, "RS256", "pss", claims), http.StatusUnauthorized},
		{"RSA key without alg, RS256 token", plain.token(t, rmNow), http.StatusOK},
		{"RSA key without alg, genuine PS256 signature", rmSign(t, plain.priv, "PS256", "plain", claims), http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := ""
			if tc.want != http.StatusOK {
				code = "invalid_token"
			}
			res := rmGet(t, api.URL, tc.token)
			rmWant(t, tc.name, res, tc.want, code)
			if tc.want != http.StatusOK && !strings.Contains(res.Err.Description, "algorithm") {
				t.Errorf("refused for %q, want the algorithm named as the reason", res.Err.Description)
			}
		})
	}
	if n := js.Hits(); n != 1 {
		t.Errorf("JWKS hits %d: known kids must not refetch", n)
	}
}

// rmLoopGoroutines counts the goroutines RemoteJWKS started (its refresh
// loops), whether they have begun running or not.
func rmLoopGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "created by github.com/tollgate-oauth/tollgate/middleware.RemoteJWKS in goroutine")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestRemoteJWKSCloseStopsLoop is not parallel: it counts goroutines.
func TestRemoteJWKSCloseStopsLoop(t *testing.T) {
	k1 := rmNewKey(t, "ES256", "k1")
	js := rmNewJWKSServer(t, rmJWKS(t, k1.jwk()))
	// No keep-alive: an idle connection's goroutines would count as a leak.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, retry := range []bool{false, true} {
		if retry {
			js.setStatus(http.StatusInternalServerError) // the loop runs on its backoff
		}
		baseline, loops := runtime.NumGoroutine(), rmLoopGoroutines()
		ks, err := middleware.RemoteJWKS(context.Background(), js.URL, middleware.RemoteOptions{
			HTTPClient: client, RetryStartup: retry, Logger: rmDiscard})
		if err != nil {
			t.Fatal(err)
		}
		if got := rmLoopGoroutines(); got != loops+1 {
			t.Fatalf("retry=%v: %d refresh loops running, want %d", retry, got, loops+1)
		}
		done := make(chan struct{})
		go func() {
			ks.Close()
			ks.Close() // idempotent
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second): // a hang, not a timing assumption
			t.Fatalf("retry=%v: Close did not return", retry)
		}
		ks.Close() // and again, from another goroutine
		rmEventually(t, 5*time.Second, "the refresh loop exited", func() bool { return rmLoopGoroutines() == loops })
		rmEventually(t, 5*time.Second, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= baseline })
	}
	// Close on a fixed set is a no-op.
	local, err := middleware.LocalKeys(rmJWKS(t, k1.jwk()))
	if err != nil {
		t.Fatal(err)
	}
	local.Close()
	local.Close()
}

func TestRemoteJWKSBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"", "ftp://issuer.test/jwks.json", "/.well-known/jwks.json", "jwks.json", "http://", "https:///jwks.json",
		"http://[::1", "file:///etc/passwd", "issuer.test/jwks.json", "javascript:alert(1)",
	} {
		t.Run(u, func(t *testing.T) {
			t.Parallel()
			for _, retry := range []bool{false, true} {
				ks, err := middleware.RemoteJWKS(context.Background(), u, middleware.RemoteOptions{RetryStartup: retry, Logger: rmDiscard})
				if err == nil {
					ks.Close()
					t.Fatalf("RemoteJWKS(%q, RetryStartup=%v) succeeded, want an error", u, retry)
				}
				if !strings.Contains(err.Error(), "absolute http(s) URL") {
					t.Errorf("error %q does not say what a JWKS URL must be", err)
				}
			}
		})
	}
}

// rmMetadataServer serves RFC 8414 metadata with the given members.
func rmMetadataServer(t testing.TB, md map[string]any) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc(handler.MetadataPath, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(md)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts, &hits
}

func TestIssuerMetadataFollowsJWKSURI(t *testing.T) {
	t.Parallel()
	k1 := rmNewKey(t, "ES256", "k1")
	js := rmNewJWKSServer(t, rmJWKS(t, k1.jwk()))
	md, mdHits := rmMetadataServer(t, map[string]any{"issuer": rmIssuer, "jwks_uri": js.URL, "token_endpoint": "https://x/token"})
	clock := newClock(rmNow)
	ks, err := middleware.IssuerMetadata(context.Background(), md.URL+handler.MetadataPath, rmIssuer,
		middleware.RemoteOptions{Now: clock.Now, Logger: rmDiscard})
	if err != nil {
		t.Fatalf("IssuerMetadata: %v", err)
	}
	t.Cleanup(ks.Close)
	if mdHits.Load() != 1 || js.Hits() != 1 {
		t.Fatalf("metadata hits %d, JWKS hits %d; want 1 and 1", mdHits.Load(), js.Hits())
	}
	api := rmAPI(t, rmMiddleware(t, ks, clock.Now, nil))
	rmWant(t, "token", rmGet(t, api.URL, k1.token(t, rmNow)), http.StatusOK, "")

	// The set behaves as a remote one: rotation through the jwks_uri.
	k2 := rmNewKey(t, "ES256", "k2")
	js.set(rmJWKS(t, k2.jwk()))
	rmWant(t, "rotated key", rmGet(t, api.URL, k2.token(t, rmNow)), http.StatusOK, "")
	if mdHits.Load() != 1 {
		t.Errorf("metadata fetched %d times: refetches go to jwks_uri only", mdHits.Load())
	}
}

func TestIssuerMetadataErrors(t *testing.T) {
	t.Parallel()
	k1 := rmNewKey(t, "ES256", "k1")
	js := rmNewJWKSServer(t, rmJWKS(t, k1.jwk()))
	notJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) }))
	t.Cleanup(notJSON.Close)
	missing := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(missing.Close)
	for _, tc := range []struct {
		name string
		md   map[string]any
		url  string // instead of a metadata server
		want []string
	}{
		{"issuer mismatch", map[string]any{"issuer": "https://evil.test", "jwks_uri": js.URL},
			"", []string{`"https://evil.test"`, `"` + rmIssuer + `"`}},
		{"issuer with a trailing slash", map[string]any{"issuer": rmIssuer + "/", "jwks_uri": js.URL},
			"", []string{`"` + rmIssuer + `/"`, `"` + rmIssuer + `"`}},
		{"no issuer", map[string]any{"jwks_uri": js.URL}, "", []string{`""`, rmIssuer}},
		{"missing jwks_uri", map[string]any{"issuer": rmIssuer}, "", []string{"no jwks_uri"}},
		{"jwks_uri not http", map[string]any{"issuer": rmIssuer, "jwks_uri": "ftp://x/jwks"}, "", []string{"absolute http(s) URL"}},
		{"jwks_uri relative", map[string]any{"issuer": rmIssuer, "jwks_uri": "/jwks.json"}, "", []string{"absolute http(s) URL"}},
		{"jwks_uri not a string", map[string]any{"issuer": rmIssuer, "jwks_uri": 42}, "", []string{"not JSON"}},
		{"not JSON", nil, notJSON.URL, []string{"not JSON"}},
		{"404", nil, missing.URL, []string{"issuer metadata", "404"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := tc.url
			if u == "" {
				md, _ := rmMetadataServer(t, tc.md)
				u = md.URL + handler.MetadataPath
			}
			ks, err := middleware.IssuerMetadata(context.Background(), u, rmIssuer, middleware.RemoteOptions{Logger: rmDiscard})
			if err == nil {
				ks.Close()
				t.Fatal("IssuerMetadata succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %s", err, w)
				}
			}
		})
	}
}

// rmTollgate starts a real tollgate token server whose issuer is its own
// httptest URL, with one confidential client allowed orders:read for
// rmAudience. It returns the server URL, the client id and secret.
func rmTollgate(t testing.TB, alg string) (ts *httptest.Server, srv *handler.Server, id, secret string) {
	t.Helper()
	ts = httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	plain, hash, err := handler.GenerateClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	store := memory.New()
	id = "integration"
	if err := store.CreateClient(context.Background(), &storage.Client{
		ID: id, SecretHash: hash, GrantTypes: []string{"client_credentials"},
		Scopes: []string{"orders:read", "orders:write"}, DefaultScopes: []string{"orders:read"}, Audiences: []string{rmAudience},
	}); err != nil {
		t.Fatal(err)
	}
	srv, err = handler.New(handler.Config{Issuer: issuer, Clients: store, Logger: rmDiscard,
		Keys: []handler.SigningKey{{Algorithm: alg}}})
	if err != nil {
		t.Fatalf("handler.New: %v", err)
	}
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	if ts.URL != issuer {
		t.Fatalf("httptest URL %s, issuer %s", ts.URL, issuer)
	}
	return ts, srv, id, plain
}

// rmTokenRequest builds a client_credentials request with HTTP Basic.
func rmTokenRequest(t testing.TB, base, id, secret, scope string) *http.Request {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	req, err := http.NewRequest(http.MethodPost, base+handler.TokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req
}

// rmAccessToken reads the access token out of a token response.
func rmAccessToken(t testing.TB, status int, body []byte) string {
	t.Helper()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &tr) != nil || tr.AccessToken == "" {
		t.Fatalf("token endpoint answered %d: %s", status, body)
	}
	return tr.AccessToken
}

// TestIssuerMetadataTollgateServer: a real tollgate server's metadata and
// JWKS, over HTTP, verify the tokens it issues.
func TestIssuerMetadataTollgateServer(t *testing.T) {
	t.Parallel()
	ts, srv, id, secret := rmTollgate(t, "ES256")
	ks, err := middleware.IssuerMetadata(context.Background(), ts.URL+handler.MetadataPath, srv.Issuer(),
		middleware.RemoteOptions{Logger: rmDiscard})
	if err != nil {
		t.Fatalf("IssuerMetadata against tollgate: %v", err)
	}
	t.Cleanup(ks.Close)
	resp, err := rmClient.Do(rmTokenRequest(t, ts.URL, id, secret, "orders:read orders:write"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	tok := rmAccessToken(t, resp.StatusCode, body)

	mw, err := middleware.New(middleware.Config{Issuer: srv.Issuer(), Audience: rmAudience, Keys: ks, Logger: rmDiscard})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(mw.RequireScopes("orders:write")(rmClaimsHandler))
	t.Cleanup(api.Close)
	res := rmGet(t, api.URL, tok)
	rmWant(t, "tollgate token", res, http.StatusOK, "")
	if res.Seen.ClientID != id || res.Seen.Subject != id || strings.Join(res.Seen.Scopes, " ") != "orders:read orders:write" {
		t.Fatalf("claims %+v, want client and subject %s with both scopes", res.Seen, id)
	}
	// The wrong issuer string is refused up front.
	if ks, err := middleware.IssuerMetadata(context.Background(), ts.URL+handler.MetadataPath, srv.Issuer()+"/",
		middleware.RemoteOptions{Logger: rmDiscard}); err == nil {
		ks.Close()
		t.Fatal("IssuerMetadata accepted another issuer string")
	}
}
