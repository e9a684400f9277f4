//go:build unix

package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
)

// TestSeveralInstances runs two demo servers as separate OS processes on
// one PostgreSQL schema and one Redis, with one issuer and, through the
// database, one set of signing keys, and checks that they act as one
// server: a token from one is active at the other's introspection, a
// revocation at one is seen at the other, a refresh token rotated at one
// cannot be replayed at the other, and a client's rate limit holds over
// both together.
func TestSeveralInstances(t *testing.T) {
	t.Parallel()
	dsn := postgresSchema(t)
	redisURL := redisURL(t)

	// Client ids are fresh per run: the shared Redis keeps counts by id.
	suffix := strings.ToLower(rand.Text()[:8])
	svc, spa, rs := "svc-"+suffix, "spa-"+suffix, "rs-"+suffix
	svcSecret, svcHash, _ := handler.GenerateClientSecret()
	rsSecret, rsHash, _ := handler.GenerateClientSecret()
	const limit = 6
	cfgPath := writeConfig(t, t.TempDir(), fmt.Sprintf(`
issuer: http://tollgate.test
storage: %q
keys: [{kid: k1, alg: ES256}]
rate_limits: {token: %d-M, failed_auth: "off", store: %q}
users: [{username: alice, password: alice-password}]
clients:
  - {id: %s, secret_hash: %q, grant_types: [client_credentials], audiences: [https://api.example.com]}
  - {id: %s, secret_hash: %q, grant_types: [client_credentials], audiences: [https://api.example.com], introspector: true}
  - id: %s
    public: true
    grant_types: [authorization_code, refresh_token]
    scopes: [orders:read]
    default_scopes: [orders:read]
    audiences: [https://api.example.com]
    redirect_uris: [http://127.0.0.1:9/cb]
`, dsn, limit, redisURL, svc, svcHash, rs, rsHash, spa))

	a, b := startPair(t, cfgPath)

	var jwksA, jwksB map[string]any
	getJSON(t, a+handler.JWKSPath, &jwksA)
	getJSON(t, b+handler.JWKSPath, &jwksB)
	if fmt.Sprint(jwksA) != fmt.Sprint(jwksB) {
		t.Fatalf("the instances publish different keys:\n%v\n%v", jwksA, jwksB)
	}

	introspect := func(base, token string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+handler.IntrospectPath, strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(rs, rsSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if resp.StatusCode != 200 {
			t.Fatalf("introspection at %s: %d", base, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}

	// A token from A is active at B.
	tok := basicToken(t, a, svc, svcSecret)
	if tok.AccessToken == "" {
		t.Fatalf("client_credentials at A: %+v", tok)
	}
	if got := introspect(b, tok.AccessToken); got["active"] != true || got["client_id"] != svc {
		t.Fatalf("B's introspection of A's token = %v, want active", got)
	}

	// A user signs in at A; the pair is revoked and replayed across.
	verifier, challenge := pkce(t)
	back := signIn(t, browser(t), a, authorizeURL(a, spa, "http://127.0.0.1:9/cb", "state-12345", challenge), "alice", "alice-password")
	code := back.Query().Get("code")
	first := tokenRequest(t, a, url.Values{"grant_type": {"authorization_code"}, "client_id": {spa}, "code": {code},
		"redirect_uri": {"http://127.0.0.1:9/cb"}, "code_verifier": {verifier}}, "", "")
	if first.RefreshToken == "" {
		t.Fatalf("code exchange at A: %+v", first)
	}
	if got := introspect(b, first.AccessToken); got["active"] != true || got["sub"] != "alice" {
		t.Fatalf("B's introspection of the user token = %v", got)
	}
	// The code, replayed at B, is refused.
	if r := tokenRequest(t, b, url.Values{"grant_type": {"authorization_code"}, "client_id": {spa}, "code": {code},
		"redirect_uri": {"http://127.0.0.1:9/cb"}, "code_verifier": {verifier}}, "", ""); r.Error != "invalid_grant" {
		t.Fatalf("the code replayed at B: %+v, want invalid_grant", r)
	}
	// The replay revoked the grant everywhere: A's tokens are dead at B.
	if got := introspect(b, first.AccessToken); got["active"] != false {
		t.Fatalf("after the code replay, the access token is %v at B", got)
	}

	// A second sign-in: rotate at A, replay the old refresh token at B.
	verifier, challenge = pkce(t)
	back = signIn(t, browser(t), a, authorizeURL(a, spa, "http://127.0.0.1:9/cb", "state-67890", challenge), "alice", "alice-password")
	pair := tokenRequest(t, a, url.Values{"grant_type": {"authorization_code"}, "client_id": {spa}, "code": {back.Query().Get("code")},
		"redirect_uri": {"http://127.0.0.1:9/cb"}, "code_verifier": {verifier}}, "", "")
	rotated := tokenRequest(t, a, url.Values{"grant_type": {"refresh_token"}, "client_id": {spa}, "refresh_token": {pair.RefreshToken}}, "", "")
	if rotated.RefreshToken == "" {
		t.Fatalf("refresh at A: %+v", rotated)
	}
	if r := tokenRequest(t, b, url.Values{"grant_type": {"refresh_token"}, "client_id": {spa}, "refresh_token": {pair.RefreshToken}}, "", ""); r.Error != "invalid_grant" {
		t.Fatalf("the rotated refresh token replayed at B: %+v, want invalid_grant", r)
	}
	if r := tokenRequest(t, a, url.Values{"grant_type": {"refresh_token"}, "client_id": {spa}, "refresh_token": {rotated.RefreshToken}}, "", ""); r.Error != "invalid_grant" {
		t.Fatalf("after the replay the newest refresh token at A: %+v, want invalid_grant (family revoked)", r)
	}

	// Revocation at B, seen at A.
	fresh := basicToken(t, b, rs, rsSecret)
	req, _ := http.NewRequest(http.MethodPost, b+handler.RevokePath, strings.NewReader(url.Values{"token": {fresh.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(rs, rsSecret)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke at B: %v %v", resp, err)
	}
	if got := introspect(a, fresh.AccessToken); got["active"] != false {
		t.Fatalf("A sees B's revoked token as %v", got)
	}

	// The rate limit is one limit: svc has used 1 of its %d; of 10 more,
	// alternating, exactly limit-1 pass.
	ok := 0
	for i := range 10 {
		base := a
		if i%2 == 1 {
			base = b
		}
		if r := basicToken(t, base, svc, svcSecret); r.AccessToken != "" {
			ok++
		}
	}
	if ok != limit-1 {
		t.Fatalf("%d of 10 requests over both instances passed, want %d (the limit, shared)", ok, limit-1)
	}
}

// startPair runs two demo servers on the config at cfgPath, as separate
// processes sharing one key-encryption key, and returns their base URLs.
// They start together: they race to migrate the schema and to generate
// and store their keys, and must agree.
func startPair(t *testing.T, cfgPath string) (a, b string) {
	t.Helper()
	kek := make([]byte, 32)
	rand.Read(kek)
	env := []string{"TOLLGATE_RUN_MAIN=-config " + cfgPath + " -listen 127.0.0.1:0",
		kekEnv + "=" + base64.StdEncoding.EncodeToString(kek)}
	var wg sync.WaitGroup
	wg.Go(func() { a = startProcess(t, env) })
	wg.Go(func() { b = startProcess(t, env) })
	wg.Wait()
	if a == "" || b == "" {
		t.FailNow()
	}
	return a, b
}

// startProcess runs the demo server as a separate process (this test
// binary, see TestMain) and returns its base URL once it listens.
func startProcess(t *testing.T, env []string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	var stderr syncBuilder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("instance stderr:\n%s", stderr.String())
		}
	})
	found := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		base := ""
		for lines.Scan() {
			if rest, ok := strings.CutPrefix(lines.Text(), "tollgate demo server on "); ok && base == "" {
				base, _, _ = strings.Cut(rest, " ")
				found <- base
			}
		}
		if base == "" {
			found <- ""
		}
	}()
	select {
	case base := <-found:
		if base == "" {
			t.Errorf("an instance exited before listening; stderr:\n%s", stderr.String())
		}
		return base
	case <-time.After(60 * time.Second):
		t.Errorf("an instance did not start within 60 s; stderr:\n%s", stderr.String())
		return ""
	}
}

// syncBuilder is a strings.Builder safe for a process's writes and the
// test's reads.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
