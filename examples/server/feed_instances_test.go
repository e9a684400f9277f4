//go:build unix

package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/middleware"
)

// feedBound is the resource API's MaxDelay in this test: short, so the
// test is quick; the default (10 s) is the same mechanism. probeSlack is
// the test's own share of a measurement: its 20 ms between probes and
// the probe's round trip.
const (
	feedBound  = 2 * time.Second
	probeSlack = 250 * time.Millisecond
)

// TestRevocationReachesAPIAcrossInstances: two demo servers as separate
// OS processes share one PostgreSQL schema; a resource API finds the
// revocation feed in the metadata of its issuer, which is instance B.
// Tokens revoked at instance A, one by the revocation endpoint and a
// user's by refresh-token reuse (a family revocation), are refused by
// that API within its bound, with no call to either server per request.
func TestRevocationReachesAPIAcrossInstances(t *testing.T) {
	t.Parallel()
	dsn := postgresSchema(t)
	suffix := strings.ToLower(rand.Text()[:8])
	svc, spa := "svc-"+suffix, "spa-"+suffix
	svcSecret, svcHash, _ := handler.GenerateClientSecret()

	// B listens on the issuer's own address, so the API can discover the
	// feed from <issuer>/.well-known/oauth-authorization-server, as
	// examples/resource-api does; A, behind the same issuer name, listens
	// elsewhere (in production both sit behind one load balancer).
	issuer := "http://" + freeAddr(t)
	cfgPath := writeConfig(t, t.TempDir(), fmt.Sprintf(`
issuer: %s
storage: %q
keys: [{kid: k1, alg: ES256}]
rate_limits: {failed_auth: "off"}
users: [{username: alice, password: alice-password}]
clients:
  - {id: %s, secret_hash: %q, grant_types: [client_credentials], audiences: [https://api.example.com]}
  - id: %s
    public: true
    grant_types: [authorization_code, refresh_token]
    scopes: [orders:read]
    default_scopes: [orders:read]
    audiences: [https://api.example.com]
    redirect_uris: [http://127.0.0.1:9/cb]
`, issuer, dsn, svc, svcHash, spa))
	kek := make([]byte, 32)
	rand.Read(kek)
	kekVar := kekEnv + "=" + base64.StdEncoding.EncodeToString(kek)
	b := startProcess(t, []string{"TOLLGATE_RUN_MAIN=-config " + cfgPath + " -listen " + strings.TrimPrefix(issuer, "http://"), kekVar})
	a := startProcess(t, []string{"TOLLGATE_RUN_MAIN=-config " + cfgPath + " -listen 127.0.0.1:0", kekVar})
	if a == "" || b != issuer {
		t.Fatalf("instances at %q and %q, want B at the issuer %q", a, b, issuer)
	}

	api := resourceAPI(t, issuer)
	call := func(token string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, api+"/orders", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// refusedWithin polls the API until it refuses token and reports how
	// long that took after the revocation at since.
	refusedWithin := func(what, token string, since time.Time) {
		t.Helper()
		for {
			if call(token) == http.StatusUnauthorized {
				if d := time.Since(since); d > feedBound+probeSlack {
					t.Errorf("%s: refused %v after the revocation, want within %v", what, d.Round(time.Millisecond), feedBound)
				} else {
					t.Logf("%s: refused %v after the revocation at A", what, d.Round(time.Millisecond))
				}
				return
			}
			if time.Since(since) > 3*feedBound {
				t.Fatalf("%s: still accepted %v after the revocation at A", what, 3*feedBound)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// One access token, revoked at A's revocation endpoint.
	tok := basicToken(t, a, svc, svcSecret)
	if code := call(tok.AccessToken); code != http.StatusOK {
		t.Fatalf("A's token at the API: %d before any revocation, want 200", code)
	}
	req, _ := http.NewRequest(http.MethodPost, a+handler.RevokePath, strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(svc, svcSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke at A: %v %v", resp, err)
	}
	resp.Body.Close()
	refusedWithin("an access token revoked at A", tok.AccessToken, time.Now())

	// A user's grant, revoked at A by the reuse of a rotated refresh
	// token: the feed carries the family, not each token.
	verifier, challenge := pkce(t)
	back := signIn(t, browser(t), a, authorizeURL(a, spa, "http://127.0.0.1:9/cb", "state-feed1", challenge), "alice", "alice-password")
	pair := tokenRequest(t, a, url.Values{"grant_type": {"authorization_code"}, "client_id": {spa}, "code": {back.Query().Get("code")},
		"redirect_uri": {"http://127.0.0.1:9/cb"}, "code_verifier": {verifier}}, "", "")
	rotated := tokenRequest(t, a, url.Values{"grant_type": {"refresh_token"}, "client_id": {spa}, "refresh_token": {pair.RefreshToken}}, "", "")
	if rotated.AccessToken == "" {
		t.Fatalf("refresh at A: %+v", rotated)
	}
	if code := call(rotated.AccessToken); code != http.StatusOK {
		t.Fatalf("the user's token at the API: %d before the reuse, want 200", code)
	}
	reuse := tokenRequest(t, a, url.Values{"grant_type": {"refresh_token"}, "client_id": {spa}, "refresh_token": {pair.RefreshToken}}, "", "")
	if reuse.Error != "invalid_grant" {
		t.Fatalf("the rotated refresh token reused at A: %+v, want invalid_grant", reuse)
	}
	refusedWithin("a user's token whose family was revoked by reuse at A", rotated.AccessToken, time.Now())

	// A token nobody revoked still passes: the API refuses by the feed,
	// not wholesale.
	if code := call(basicToken(t, a, svc, svcSecret).AccessToken); code != http.StatusOK {
		t.Fatalf("a fresh token at the API: %d, want 200", code)
	}
}

// resourceAPI serves GET /orders behind tollgate's middleware, set up as
// examples/resource-api sets itself up: keys from the issuer's JWKS, and
// the revocation feed found in the issuer's metadata.
func resourceAPI(t *testing.T, issuer string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	keys, err := middleware.RemoteJWKS(ctx, issuer+handler.JWKSPath, middleware.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	revoked, err := middleware.IssuerRevocationFeed(ctx, issuer+handler.MetadataPath, issuer,
		middleware.RevocationOptions{MaxDelay: feedBound})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(revoked.Close)
	mw, err := middleware.New(middleware.Config{Issuer: issuer, Audience: "https://api.example.com", Keys: keys, Revocations: revoked})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(mw.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})))
	t.Cleanup(api.Close)
	return api.URL
}

// freeAddr returns a loopback address nothing listens on now: the
// process started next binds it. Another process could take it in between;
// on a test machine that is rare enough.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
