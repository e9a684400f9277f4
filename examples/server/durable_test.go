package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
)

// runFails runs the server with args and returns its error; the test
// fails if it starts serving instead, or takes longer than within.
func runFails(t *testing.T, within time.Duration, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within+30*time.Second)
	defer cancel()
	var stdout bytes.Buffer
	began := time.Now()
	err := run(ctx, args, nil, &stdout, t.Output(), func(addr string) {
		t.Errorf("run %q started on %s; want a start-up error", args, addr)
		cancel()
	})
	if d := time.Since(began); d > within {
		t.Errorf("run %q took %v to fail, want at most %v", args, d.Round(time.Millisecond), within)
	}
	if err == nil {
		t.Fatalf("run %q: no error", args)
	}
	return err
}

// oneLine fails unless err's message is a single line.
func oneLine(t *testing.T, what string, err error) {
	t.Helper()
	if msg := err.Error(); strings.ContainsAny(msg, "\r\n") {
		t.Errorf("%s: the error spans lines, want one:\n%s", what, msg)
	}
}

// jwkSet is the JWKS document.
type jwkSet struct {
	Keys []map[string]any `json:"keys"`
}

// verifyRS256 checks token's signature with the RS256 key of the token's
// kid in set: a token verifies against a JWKS, whichever server served it.
func verifyRS256(t *testing.T, token string, set jwkSet) {
	t.Helper()
	h := jwtHeader(t, token)
	if h["alg"] != "RS256" {
		t.Fatalf("token alg %v, want RS256 (the demo key)", h["alg"])
	}
	var jwk map[string]any
	for _, k := range set.Keys {
		if k["kid"] == h["kid"] {
			jwk = k
		}
	}
	if jwk == nil {
		t.Fatalf("no key %v in the JWKS %v", h["kid"], set)
	}
	n, err1 := base64.RawURLEncoding.DecodeString(fmt.Sprint(jwk["n"]))
	e, err2 := base64.RawURLEncoding.DecodeString(fmt.Sprint(jwk["e"]))
	parts := strings.Split(token, ".")
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("bad base64 in the JWK %v or the token", jwk)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Errorf("the token does not verify against the JWKS key %v: %v", h["kid"], err)
	}
}

// introspectAs asks base's introspection endpoint about token with a
// confidential client's credentials.
func introspectAs(t *testing.T, base, id, secret, token string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+handler.IntrospectPath, strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("introspection as %s: %s", id, resp.Status)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	printedUser     = regexp.MustCompile(`(?m)^\s*username:\s+(\S+)$`)
	printedPassword = regexp.MustCompile(`(?m)^\s*password:\s+(\S+)`)
	printedAuthURL  = regexp.MustCompile(`(?m)^\s*(http\S+/oauth/authorize\?\S+)$`)
	printedVerifier = regexp.MustCompile(`code_verifier (\S+)`)
)

// demoSignIn follows the printed sign-in walkthrough of a zero-config
// server up to its tokens.
func demoSignIn(t *testing.T, s *server) tokenResponse {
	t.Helper()
	user := printedUser.FindStringSubmatch(s.stdout)
	password := printedPassword.FindStringSubmatch(s.stdout)
	authURL := printedAuthURL.FindStringSubmatch(s.stdout)
	verifier := printedVerifier.FindStringSubmatch(s.stdout)
	if user == nil || password == nil || authURL == nil || verifier == nil {
		t.Fatalf("no demo user, password, authorization URL or verifier in:\n%s", s.stdout)
	}
	cb := signIn(t, browser(t), s.url, authURL[1], user[1], password[1])
	tr := tokenRequest(t, s.url, url.Values{"grant_type": {"authorization_code"}, "client_id": {demoSPA},
		"redirect_uri": {s.url + callbackPath}, "code_verifier": {verifier[1]}, "code": {cb.Query().Get("code")}}, "", "")
	if tr.Status != 200 || tr.RefreshToken == "" {
		t.Fatalf("demo code exchange: %+v", tr)
	}
	return tr
}

// TestRestartKeepsState runs the zero-config server on a SQLite file, uses
// it, stops it, starts it again on the same file (and port, so the issuer
// is the same) and checks that nothing was lost: the signing key, the demo
// client and its secret, a client added with the admin command, a refresh
// token and a revocation.
func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	spec := "sqlite:" + path

	s1 := start(t, nil, "-storage", spec, "-listen", "127.0.0.1:0")
	if first, _, _ := strings.Cut(s1.stdout, "\n"); !strings.Contains(first, path) {
		t.Errorf("the startup line %q does not name the database file %s", first, path)
	}
	secrets := printedSecret.FindAllStringSubmatch(s1.stdout, -1)
	if len(secrets) != 1 || !strings.HasPrefix(secrets[0][1], "tgs_") {
		t.Fatalf("want the demo client's generated secret printed once in:\n%s", s1.stdout)
	}
	demoSecret := secrets[0][1]
	revoked := basicToken(t, s1.url, demoClientID, demoSecret)
	kept := basicToken(t, s1.url, demoClientID, demoSecret)
	if revoked.Status != 200 || kept.Status != 200 {
		t.Fatalf("demo client_credentials: %+v, %+v", revoked, kept)
	}
	// A client added with the admin command while the server runs.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"clients", "add", "-storage", spec, "-id", "rs", "-introspector", "-audiences", demoAudience}, nil, &out, t.Output(), nil); err != nil {
		t.Fatal(err)
	}
	rs := regexp.MustCompile(`(?m)^client_secret: (tgs_\S+)$`).FindStringSubmatch(out.String())
	if rs == nil {
		t.Fatalf("clients add printed no secret: %q", out.String())
	}
	rsSecret := rs[1]
	if tr := basicToken(t, s1.url, "rs", rsSecret); tr.Status != 200 {
		t.Fatalf("the added client at the running server: %+v", tr)
	}
	user := demoSignIn(t, s1)

	// Revoke one access token.
	req, _ := http.NewRequest(http.MethodPost, s1.url+handler.RevokePath, strings.NewReader(url.Values{"token": {revoked.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(demoClientID, demoSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %s", resp.Status)
	}
	if got := introspectAs(t, s1.url, "rs", rsSecret, revoked.AccessToken); got["active"] != false {
		t.Fatalf("the revoked token before the restart: %v", got)
	}
	var jwks1 jwkSet
	getJSON(t, s1.url+handler.JWKSPath, &jwks1)
	if err := s1.stop(); err != nil {
		t.Fatalf("first run: %v", err)
	}

	// Same file, same port: the same issuer.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s1.url, "http://"))
	s2 := start(t, nil, "-storage", spec, "-listen", "127.0.0.1:"+port)
	if s2.url != s1.url {
		t.Fatalf("second run on %s, want %s", s2.url, s1.url)
	}

	var jwks2 jwkSet
	getJSON(t, s2.url+handler.JWKSPath, &jwks2)
	if len(jwks2.Keys) != 1 || jwks2.Keys[0]["kid"] != "k1" {
		t.Errorf("JWKS after the restart = %v, want the one key k1", jwks2)
	}
	if !reflect.DeepEqual(jwks1, jwks2) {
		t.Errorf("the restart changed the signing key:\nbefore %v\nafter  %v", jwks1, jwks2)
	}
	verifyRS256(t, kept.AccessToken, jwks2)
	verifyRS256(t, basicToken(t, s2.url, demoClientID, demoSecret).AccessToken, jwks1)

	// The demo secret is not printed again (only its hash was kept); the
	// output says how to get a new one.
	if strings.Contains(s2.stdout, "tgs_") || strings.Contains(s2.stdout, demoSecret) {
		t.Errorf("the second run printed a secret:\n%s", s2.stdout)
	}
	if !strings.Contains(s2.stdout, "clients rotate-secret "+demoClientID) {
		t.Errorf("the second run does not say how to rotate the demo secret:\n%s", s2.stdout)
	}

	if tr := basicToken(t, s2.url, demoClientID, demoSecret); tr.Status != 200 {
		t.Errorf("the first run's demo secret after the restart: %+v", tr)
	}
	if tr := basicToken(t, s2.url, "rs", rsSecret); tr.Status != 200 {
		t.Errorf("the admin-added client after the restart: %+v", tr)
	}
	refreshed := tokenRequest(t, s2.url, url.Values{"grant_type": {"refresh_token"}, "client_id": {demoSPA}, "refresh_token": {user.RefreshToken}}, "", "")
	if refreshed.Status != 200 || refreshed.RefreshToken == "" || refreshed.RefreshToken == user.RefreshToken {
		t.Errorf("the first run's refresh token after the restart: %+v", refreshed)
	}
	if got := introspectAs(t, s2.url, "rs", rsSecret, revoked.AccessToken); got["active"] != false {
		t.Errorf("the token revoked before the restart is %v after it, want inactive", got)
	}
	// The control: an unrevoked token of the first run is still active, so
	// the inactive one above is inactive for its revocation.
	if got := introspectAs(t, s2.url, "rs", rsSecret, kept.AccessToken); got["active"] != true {
		t.Errorf("an unrevoked token of the first run is %v after the restart, want active", got)
	}
	// The rotation is durable too: the used refresh token is spent.
	if tr := tokenRequest(t, s2.url, url.Values{"grant_type": {"refresh_token"}, "client_id": {demoSPA}, "refresh_token": {user.RefreshToken}}, "", ""); tr.Error != "invalid_grant" {
		t.Errorf("the rotated refresh token replayed: %+v, want invalid_grant", tr)
	}
}

// storedPrivateKey reads the stored signing key k1 straight from the
// SQLite file.
func storedPrivateKey(t *testing.T, path string) []byte {
	t.Helper()
	return storedKey(t, path, "k1")
}

// storedKey reads the stored key record kid straight from the SQLite file.
func storedKey(t *testing.T, path, kid string) []byte {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var key []byte
	if err := db.QueryRow("SELECT private_key FROM tollgate_signing_keys WHERE kid = ?", kid).Scan(&key); err != nil {
		t.Fatal(err)
	}
	return key
}

// TestSealedSigningKey: with TOLLGATE_KEY_ENCRYPTION_KEY set the generated
// key is stored encrypted, a restart with the same variable gets the same
// key, and a restart without it or with another key stops with a clear
// error and leaves the stored key alone. Not parallel: t.Setenv.
func TestSealedSigningKey(t *testing.T) {
	newKEK := func() string {
		b := make([]byte, 32)
		rand.Read(b)
		return base64.StdEncoding.EncodeToString(b)
	}
	kek := newKEK()
	t.Setenv(kekEnv, kek)
	path := filepath.Join(t.TempDir(), "sealed.db")
	spec := "sqlite:" + path
	args := []string{"-storage", spec, "-listen", "127.0.0.1:0"}

	s1 := start(t, nil, args...)
	secret := printedSecret.FindStringSubmatch(s1.stdout)
	if secret == nil {
		t.Fatalf("no demo secret in:\n%s", s1.stdout)
	}
	tok := basicToken(t, s1.url, demoClientID, secret[1])
	var jwks1 jwkSet
	getJSON(t, s1.url+handler.JWKSPath, &jwks1)
	if err := s1.stop(); err != nil {
		t.Fatal(err)
	}

	stored := storedPrivateKey(t, path)
	if len(stored) == 0 || bytes.Contains(stored, []byte("PRIVATE KEY")) || bytes.Contains(stored, []byte("-----BEGIN")) {
		t.Errorf("the stored key is plain PEM (or empty) although %s is set: %.60q…", kekEnv, stored)
	}
	if raw := dbFileBytes(t, path); bytes.Contains(raw, []byte("PRIVATE KEY")) {
		t.Errorf("the database file holds a plain PEM private key")
	}
	// The handler's refresh-token MAC key, stored beside it, is sealed the
	// same way, and is no signing key: the JWKS has k1 alone.
	if mac := storedKey(t, path, storage.RefreshMACKeyID); !bytes.HasPrefix(mac, []byte("tollgate-sealed:v1:")) {
		t.Errorf("the refresh MAC key is stored unsealed although %s is set: %.30q…", kekEnv, mac)
	}
	if len(jwks1.Keys) != 1 || jwks1.Keys[0]["kid"] != "k1" {
		t.Errorf("JWKS = %v, want the one signing key k1", jwks1)
	}

	// Same variable: the same key.
	s2 := start(t, nil, args...)
	var jwks2 jwkSet
	getJSON(t, s2.url+handler.JWKSPath, &jwks2)
	if !reflect.DeepEqual(jwks1, jwks2) {
		t.Errorf("restart with the same %s changed the key:\n%v\n%v", kekEnv, jwks1, jwks2)
	}
	verifyRS256(t, tok.AccessToken, jwks2)
	if err := s2.stop(); err != nil {
		t.Fatal(err)
	}

	// Without the variable: a start-up error that names it.
	t.Setenv(kekEnv, "")
	err := runFails(t, 10*time.Second, args...)
	errorMentions(t, "restart without "+kekEnv, err, kekEnv)
	oneLine(t, "restart without "+kekEnv, err)

	// Another key: refused, saying the key is wrong.
	t.Setenv(kekEnv, newKEK())
	err = runFails(t, 10*time.Second, args...)
	if msg := err.Error(); !strings.Contains(msg, kekEnv) && !strings.Contains(msg, "key-encryption key") {
		t.Errorf("restart with a wrong %s: error %q does not say the key-encryption key is wrong", kekEnv, msg)
	}
	oneLine(t, "restart with a wrong key", err)

	// Not a key at all: refused, naming the variable.
	t.Setenv(kekEnv, "not-a-key")
	err = runFails(t, 10*time.Second, args...)
	errorMentions(t, "a malformed "+kekEnv, err, kekEnv)
	oneLine(t, "a malformed "+kekEnv, err)

	// None of the refused starts replaced the stored key.
	if got := storedPrivateKey(t, path); !bytes.Equal(got, stored) {
		t.Errorf("a refused start changed the stored key")
	}
	t.Setenv(kekEnv, kek)
	s3 := start(t, nil, args...)
	var jwks3 jwkSet
	getJSON(t, s3.url+handler.JWKSPath, &jwks3)
	if !reflect.DeepEqual(jwks1, jwks3) {
		t.Errorf("after the refused starts the key changed:\n%v\n%v", jwks1, jwks3)
	}
}

// errorMentions fails unless err's message holds want.
func errorMentions(t *testing.T, what string, err error, want string) {
	t.Helper()
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%s: error %q does not mention %s", what, err, want)
	}
}

// dbFileBytes is the SQLite file and its -wal and -journal companions, if
// any: a secret must be in none of them.
func dbFileBytes(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal", path + "-journal", path + "-shm"} {
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if len(all) == 0 {
		t.Fatalf("no database file at %s", path)
	}
	return all
}

// TestCorruptSQLiteFile: a file that is not a usable tollgate database
// stops start-up (and the admin command) with a one-line error naming it,
// without a panic and without writing to it.
func TestCorruptSQLiteFile(t *testing.T) {
	t.Parallel()
	// A real tollgate database to damage.
	realPath := filepath.Join(t.TempDir(), "real.db")
	if err := run(context.Background(), []string{"clients", "add", "-storage", "sqlite:" + realPath, "-id", "x", "-audiences", "a"},
		nil, &bytes.Buffer{}, t.Output(), nil); err != nil {
		t.Fatal(err)
	}
	real, err := os.ReadFile(realPath)
	if err != nil || len(real) < 8192 {
		t.Fatalf("real database: %d bytes, %v", len(real), err)
	}
	noise := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	foreign := filepath.Join(t.TempDir(), "foreign.db")
	db, err := sql.Open("sqlite", "file:"+foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total TEXT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	foreignBytes, err := os.ReadFile(foreign)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"random bytes", noise(64 << 10), "SQLite"},
		{"a text file", []byte("listen: 127.0.0.1:8080\nstorage: sqlite:tollgate.db\n"), "SQLite"},
		{"header then garbage", append(bytes.Clone(real[:100]), noise(len(real)-100)...), ""},
		{"truncated", real[:len(real)/2], ""},
		{"another application's database", foreignBytes, "other tables"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "tollgate.db")
			if err := os.WriteFile(path, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"-storage", "sqlite:" + path, "-listen", "127.0.0.1:0"},
				{"clients", "list", "-storage", "sqlite:" + path},
			} {
				err := runFails(t, 15*time.Second, args...)
				oneLine(t, args[0], err)
				if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: error %q, want it to name the file and say %q", args[0], err, tc.want)
				}
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, tc.content) {
				t.Errorf("the refused start wrote to the file")
			}
		})
	}
}

// TestPostgresUnreachableAtStart: a PostgreSQL URL whose port is closed
// stops start-up promptly with an error that names the server and hides
// the password.
func TestPostgresUnreachableAtStart(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // now nothing listens there
	for _, tc := range []struct{ name, spec string }{
		{"sslmode=disable", "postgres://tollgate:hunter2@" + addr + "/tollgate?sslmode=disable"},
		{"default sslmode", "postgres://tollgate:hunter2@" + addr + "/tollgate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, args := range [][]string{
				{"-storage", tc.spec, "-listen", "127.0.0.1:0"},
				{"clients", "list", "-storage", tc.spec},
			} {
				err := runFails(t, 10*time.Second, args...)
				if msg := err.Error(); strings.Contains(msg, "hunter2") || !strings.Contains(msg, addr) {
					t.Errorf("%s: error %q: want the address %s and no password", args[0], msg, addr)
				}
				oneLine(t, args[0], err)
			}
		})
	}
}
