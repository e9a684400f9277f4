//go:build unix

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/middleware"
)

// TestRotationUnderLoad: the demo server runs as its own process with
// key_rotation on; a resource API in this process verifies tokens with
// middleware.RemoteJWKS, re-reading the JWKS every second but never on a
// kid it does not know (so a key used before it was published fails a
// request). While clients get tokens and call the API, "keys rotate"
// publishes a new key; it signs key_publish_ahead later, and not one
// request fails, before, across or after the switch. Not parallel:
// t.Setenv (the key-encryption key the CLI reads).
func TestRotationUnderLoad(t *testing.T) {
	kek := make([]byte, 32)
	rand.Read(kek)
	t.Setenv(kekEnv, base64.StdEncoding.EncodeToString(kek))
	svcSecret, svcHash, _ := handler.GenerateClientSecret()
	cfgPath := writeConfig(t, t.TempDir(), fmt.Sprintf(`
storage: %q
key_rotation: 1h
key_publish_ahead: 6s
rate_limits: {token: "off"}
keys: [{kid: k1, alg: ES256}]
clients:
  - {id: svc, secret_hash: %q, grant_types: [client_credentials], audiences: [https://api.example.com]}
`, "sqlite:"+filepath.Join(t.TempDir(), "rot.db"), svcHash))
	base := startProcess(t, []string{"TOLLGATE_RUN_MAIN=-config " + cfgPath + " -listen 127.0.0.1:0",
		kekEnv + "=" + base64.StdEncoding.EncodeToString(kek)})
	if base == "" {
		t.FailNow()
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keys, err := middleware.RemoteJWKS(ctx, base+handler.JWKSPath, middleware.RemoteOptions{
		RefreshInterval: time.Second, MissRefetchInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	mw, err := middleware.New(middleware.Config{Issuer: base, Audience: "https://api.example.com", Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(mw.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})))
	defer api.Close()

	// The load: clients getting tokens and calling the API with the
	// newest, until told to stop (bounded: 60 s at most).
	var (
		calls, failures atomic.Int64
		mu              sync.Mutex
		lastKid         string
		firstNew        time.Time // when a token signed by another key than k1 came first
		firstFailure    string
	)
	fail := func(msg string) {
		failures.Add(1)
		mu.Lock()
		if firstFailure == "" {
			firstFailure = msg
		}
		mu.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			deadline := time.Now().Add(60 * time.Second)
			for n := 0; time.Now().Before(deadline); n++ {
				select {
				case <-stop:
					return
				default:
				}
				time.Sleep(20 * time.Millisecond)
				tok, kid, err := rotToken(base, svcSecret)
				if err != nil {
					fail(err.Error())
					continue
				}
				mu.Lock()
				if kid != lastKid && kid != "k1" && firstNew.IsZero() {
					firstNew = time.Now()
				}
				lastKid = kid
				mu.Unlock()
				for range 5 {
					calls.Add(1)
					if code := rotCall(api.URL, tok); code != http.StatusOK {
						fail(fmt.Sprintf("a token signed by %s: the API answered %d", kid, code))
					}
				}
			}
		})
	}
	kidNow := func() string { mu.Lock(); defer mu.Unlock(); return lastKid }
	first := func() string { mu.Lock(); defer mu.Unlock(); return firstFailure }
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("%s: not within 30 s (last kid %s; %d of %d requests failed; first: %s)", what, kidNow(), failures.Load(), calls.Load(), first())
			}
		}
	}
	waitFor("load running on k1", func() bool { return kidNow() == "k1" && calls.Load() > 50 })

	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"keys", "rotate", "-config", cfgPath}, nil, &out, &errOut, nil); err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, errOut.String())
	}
	m := regexp.MustCompile(`new signing key (\S+) \(ES256\), published now, signs from (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("keys rotate printed %q", out.String())
	}
	next := m[1]
	if kidNow() != "k1" {
		t.Errorf("right after keys rotate tokens are signed by %s, want k1 until the new key's time", kidNow())
	}
	// The server publishes the key within its re-read of the storage
	// (1.5 s here), well before it signs: the resource API's one-second
	// refresh has it in time, with no refetch on a miss.
	var published time.Time
	waitFor(next+" in the JWKS", func() bool {
		var set jwkSet
		getJSON(t, base+handler.JWKSPath, &set)
		for _, k := range set.Keys {
			if k["kid"] == next {
				published = time.Now()
				return true
			}
		}
		return false
	})
	waitFor("tokens signed by "+next, func() bool { return kidNow() == next })
	mu.Lock()
	ahead := firstNew.Sub(published)
	mu.Unlock()
	if ahead < 3*time.Second {
		t.Errorf("the first token signed by %s came %v after the key was published, want about key_publish_ahead (6 s) less the re-read", next, ahead)
	}
	before := calls.Load()
	waitFor("load running on "+next, func() bool { return calls.Load() > before+200 })
	close(stop)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d requests failed across the rotation; first: %s", n, calls.Load(), first())
	}

	out.Reset()
	if err := run(ctx, []string{"keys", "list", "-config", cfgPath}, nil, &out, &errOut, nil); err != nil {
		t.Fatalf("keys list: %v", err)
	}
	for _, want := range []*regexp.Regexp{regexp.MustCompile(`(?m)^k1\s+ES256\s.*\spublished$`), regexp.MustCompile(`(?m)^` + next + `\s+ES256\s.*\ssigning$`)} {
		if !want.MatchString(out.String()) {
			t.Errorf("keys list:\n%s\ndoes not match %s", out.String(), want)
		}
	}
	// The signing key cannot be retired; the old one can, and leaves the
	// JWKS of the running server within its re-read (a second here).
	if err := run(ctx, []string{"keys", "retire", next, "-config", cfgPath}, nil, io.Discard, io.Discard, nil); err == nil || !strings.Contains(err.Error(), "signs now") {
		t.Errorf("keys retire of the signing key: %v, want a refusal", err)
	}
	if err := run(ctx, []string{"keys", "retire", "k1", "-config", cfgPath}, nil, io.Discard, io.Discard, nil); err != nil {
		t.Fatalf("keys retire k1: %v", err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var set jwkSet
		getJSON(t, base+handler.JWKSPath, &set)
		if len(set.Keys) == 1 && set.Keys[0]["kid"] == next {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server still publishes %v 20 s after k1 was retired", set)
		}
	}
}

// rotToken gets a client_credentials token and the kid that signed it.
func rotToken(base, secret string) (token, kid string, err error) {
	req, _ := http.NewRequest(http.MethodPost, base+handler.TokenPath, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		return "", "", fmt.Errorf("token request: %d, %v", resp.StatusCode, err)
	}
	head, _, _ := strings.Cut(body.AccessToken, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(head)
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", "", fmt.Errorf("token header: %v", err)
	}
	return body.AccessToken, h.Kid, nil
}

// rotCall calls the API with token and returns the status, 0 if the call
// itself failed.
func rotCall(api, token string) int {
	req, _ := http.NewRequest(http.MethodGet, api+"/orders", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestKeysCommandErrors: the keys commands refuse what they cannot do
// with a line that names what to change, before touching any key.
func TestKeysCommandErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, fmt.Sprintf("storage: %q\nkeys: [{kid: k1, alg: EdDSA}]\nclients: []\n", "sqlite:"+filepath.Join(dir, "k.db")))
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "rotate", "-config", cfgPath, "-" + allowUnsealedFlag}, "key_rotation is not set"},
		{[]string{"keys", "retire", "k1", "-config", cfgPath, "-" + allowUnsealedFlag}, "key_rotation is not set"},
		{[]string{"keys", "retire", "-config", cfgPath}, "usage: server keys retire KID"},
		{[]string{"keys", "list", "extra", "-config", cfgPath}, `unexpected argument "extra"`},
		{[]string{"keys", "shuffle"}, `unknown command "shuffle"`},
		{[]string{"keys"}, "usage: server keys"},
	} {
		err := run(context.Background(), tt.args, nil, io.Discard, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one saying %q", tt.args, err, tt.want)
		}
	}
}
