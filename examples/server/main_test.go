package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
)

// TestMain lets a test run main itself in a subprocess (see
// TestSIGTERMShutsDown): with TOLLGATE_RUN_MAIN set, this binary is the
// server, its arguments taken from that variable.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("TOLLGATE_RUN_MAIN"); ok {
		os.Args = append([]string{"server"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// server is a run() in progress.
type server struct {
	url    string // http://host:port
	stdout string // everything printed before it was ready
	stop   func() error
}

// start runs the server with args and waits for its ready callback. Stopping
// it (done at cleanup if the test did not) cancels its context and returns
// run's result.
func start(t *testing.T, stdin io.Reader, args ...string) *server {
	t.Helper()
	return startLogged(t, stdin, t.Output(), args...)
}

// startLogged is start with the server's log going to stderr.
func startLogged(t *testing.T, stdin io.Reader, stderr io.Writer, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// run writes stdout only before it calls ready, so reading it after
	// the ready signal needs no lock.
	var stdout bytes.Buffer
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, withMemory(args), stdin, &stdout, stderr, func(addr string) { ready <- addr })
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("run %q stopped before ready: %v", args, err)
	case <-time.After(30 * time.Second): // a hang, not a timing assumption
		cancel()
		t.Fatalf("run %q: not ready after 30s", args)
	}
	s := &server{url: "http://" + addr, stdout: stdout.String()}
	s.stop = sync.OnceValue(func() error {
		cancel()
		return <-errc
	})
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("run returned %v on shutdown", err)
		}
	})
	return s
}

// writeConfig writes yaml as config.yaml in dir and returns its path.
func writeConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writePEM(t *testing.T, path string, key crypto.Signer) {
	t.Helper()
	if err := os.WriteFile(path, pemOf(t, key), 0o600); err != nil {
		t.Fatal(err)
	}
}

// pemOf is key as a PKCS #8 PEM file holds it.
func pemOf(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// newP256Key is a new ES256 signing key.
func newP256Key(t *testing.T) crypto.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// tokenResponse is the token endpoint's answer, success or error.
type tokenResponse struct {
	Status      int
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
	Error       string `json:"error"`
	// RefreshToken is set by the user grants only.
	RefreshToken string `json:"refresh_token"`
}

func do(t *testing.T, req *http.Request) tokenResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	tr := tokenResponse{Status: resp.StatusCode}
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatalf("%s %s: status %d, body %q is not JSON", req.Method, req.URL, resp.StatusCode, body)
	}
	return tr
}

// basicToken asks for a client_credentials token with HTTP Basic auth.
func basicToken(t *testing.T, base, id, secret string) tokenResponse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	return do(t, req)
}

// jwtHeader decodes the JOSE header of a compact JWS.
func jwtHeader(t *testing.T, jws string) map[string]any {
	t.Helper()
	head, _, _ := strings.Cut(jws, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	var h map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &h)
	}
	if err != nil {
		t.Fatalf("token %q: bad header: %v", jws, err)
	}
	return h
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestRunFromConfig starts the server from a file shaped like the issue's
// example, with a PEM key file, and uses it over HTTP.
func TestRunFromConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writePEM(t, filepath.Join(dir, "k1.pem"), newP256Key(t))
	// No issuer: it is derived from the bound address. The key file is
	// relative to the config file, not to the working directory.
	path := writeConfig(t, dir, `
listen: 127.0.0.1:0
keys:
  - kid: k1
    alg: ES256
    file: k1.pem
  - kid: k2
    alg: EdDSA
clients:
  - id: integration
    secret: a-long-secret-value
    grant_types: [client_credentials]
    scopes: ["market:all", "market:id:*"]
    default_scopes: ["market:all"]
    audiences: ["https://api.example.com"]
    access_token_ttl: 2h
  - id: sales-channel
    public: true
    grant_types: [client_credentials]
    scopes: ["market:id:*"]
    require_scope: true
    audiences: ["https://api.example.com"]
    access_token_ttl: 4h
`)
	s := start(t, nil, "-config", path)

	jsonReq := func(body string) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, s.url+"/oauth/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	for _, tc := range []struct {
		name string
		get  func() tokenResponse
		want tokenResponse
	}{
		{"confidential, Basic, default scope",
			func() tokenResponse { return basicToken(t, s.url, "integration", "a-long-secret-value") },
			tokenResponse{Status: 200, TokenType: "Bearer", ExpiresIn: 7200, Scope: "market:all"}},
		{"confidential, wrong secret",
			func() tokenResponse { return basicToken(t, s.url, "integration", "a-long-secret-valuE") },
			tokenResponse{Status: 401, Error: "invalid_client"}},
		{"public, JSON, market scope",
			func() tokenResponse {
				return do(t, jsonReq(`{"grant_type":"client_credentials","client_id":"sales-channel","scope":"market:id:xYZkjABcde"}`))
			},
			tokenResponse{Status: 200, TokenType: "Bearer", ExpiresIn: 14400, Scope: "market:id:xYZkjABcde"}},
		{"public, JSON, no scope",
			func() tokenResponse {
				return do(t, jsonReq(`{"grant_type":"client_credentials","client_id":"sales-channel"}`))
			},
			tokenResponse{Status: 400, Error: "invalid_scope"}},
	} {
		got := tc.get()
		if got.Status == 200 {
			if h := jwtHeader(t, got.AccessToken); h["kid"] != "k1" || h["alg"] != "ES256" {
				t.Errorf("%s: token header %v, want kid k1, alg ES256 (the first key signs)", tc.name, h)
			}
			got.AccessToken = ""
		}
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}

	var jwks struct {
		Keys []struct {
			KID string `json:"kid"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	getJSON(t, s.url+"/.well-known/jwks.json", &jwks)
	if got := fmt.Sprint(jwks.Keys); got != "[{k1 ES256} {k2 EdDSA}]" {
		t.Errorf("JWKS keys = %s, want k1 ES256 then k2 EdDSA", got)
	}
	var md struct {
		Issuer          string   `json:"issuer"`
		TokenEndpoint   string   `json:"token_endpoint"`
		ScopesSupported []string `json:"scopes_supported"`
	}
	getJSON(t, s.url+"/.well-known/oauth-authorization-server", &md)
	if md.Issuer != s.url || md.TokenEndpoint != s.url+"/oauth/token" || fmt.Sprint(md.ScopesSupported) != "[market:all]" {
		t.Errorf("metadata = %+v, want issuer %s and scopes [market:all]", md, s.url)
	}

	if err := s.stop(); err != nil {
		t.Errorf("run after cancel = %v, want nil (clean shutdown)", err)
	}
}

var (
	printedID     = regexp.MustCompile(`(?m)^\s*client_id:\s+(\S+)$`)
	printedSecret = regexp.MustCompile(`(?m)^\s*client_secret:\s+(\S+)`)
	printedCurl   = regexp.MustCompile(`(?m)^\s*(curl .*)$`)
)

// TestZeroConfig runs the server with no config, as a first-time user
// would, and follows its printed client_credentials instructions (the
// sign-in walkthrough is TestZeroConfigWalkthrough).
func TestZeroConfig(t *testing.T) {
	t.Parallel()
	s := start(t, nil, "-listen", "127.0.0.1:0")
	t.Log(s.stdout)

	ids := printedID.FindAllStringSubmatch(s.stdout, -1)
	secrets := printedSecret.FindAllStringSubmatch(s.stdout, -1)
	curls := printedCurl.FindAllStringSubmatch(s.stdout, -1)
	if len(ids) != 3 || len(secrets) != 1 || len(curls) != 4 {
		t.Fatalf("want 3 client ids, 1 secret and 4 curl lines in:\n%s", s.stdout)
	}
	id, secret := ids[0][1], secrets[0][1]
	if tr := basicToken(t, s.url, id, secret); tr.Status != 200 || tr.AccessToken == "" || tr.Scope != "market:all" {
		t.Errorf("printed client %s: token response %+v", id, tr)
	}
	if !strings.Contains(curls[0][1], "-u "+id+":"+secret+" ") {
		t.Errorf("first curl line %q does not use the printed client", curls[0][1])
	}
	for _, c := range curls {
		req := curlRequest(t, c[1])
		if !strings.HasPrefix(req.URL.String(), s.url+"/") {
			t.Errorf("curl line %q does not target %s", c[1], s.url)
		}
		if strings.Contains(c[1], "<") { // a placeholder: the walkthrough fills it in
			continue
		}
		if tr := do(t, req); tr.Status != 200 || tr.AccessToken == "" {
			t.Errorf("curl line %q: %+v", c[1], tr)
		}
	}
}

// curlRequest builds the request a printed curl line makes. It knows only
// the options the demo prints: -s, -u, -H, -d (single-quoted words).
func curlRequest(t *testing.T, line string) *http.Request {
	t.Helper()
	var words []string
	for i, part := range strings.Split(line, "'") {
		if i%2 == 1 { // inside quotes
			words = append(words, part)
		} else {
			words = append(words, strings.Fields(part)...)
		}
	}
	var user, data, target string
	header := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}} // curl's default for -d
	for i := 1; i < len(words); i++ {
		switch w := words[i]; w {
		case "-s":
		case "-u", "-H", "-d":
			if i++; i == len(words) {
				t.Fatalf("curl line %q: %s without a value", line, w)
			}
			switch v := words[i]; w {
			case "-u":
				user = v
			case "-d":
				data = v
			case "-H":
				k, val, _ := strings.Cut(v, ":")
				header.Set(k, strings.TrimSpace(val))
			}
		default:
			if strings.HasPrefix(w, "-") || target != "" {
				t.Fatalf("curl line %q: unexpected word %q", line, w)
			}
			target = w
		}
	}
	if _, err := url.Parse(target); err != nil || data == "" {
		t.Fatalf("curl line %q: no URL or no data", line)
	}
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(data))
	req.Header = header
	if user != "" {
		id, secret, _ := strings.Cut(user, ":")
		req.SetBasicAuth(id, secret)
	}
	return req
}

func TestHashSecret(t *testing.T) {
	t.Parallel()
	generated, generatedHash, err := handler.GenerateClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, stdin string
		wantPrefix  string // "" for an error
	}{
		{"chosen secret", "a-long-secret-value\n", "$argon2id$"},
		{"no final newline", "a-long-secret-value", "$argon2id$"},
		{"CRLF", "a-long-secret-value\r\n", "$argon2id$"},
		{"generated secret", generated + "\n", "$sha256$"},
		{"empty", "", ""},
		{"empty line", "\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := run(context.Background(), []string{"hash-secret"}, strings.NewReader(tc.stdin), &out, io.Discard, nil)
			if tc.wantPrefix == "" {
				if err == nil {
					t.Fatalf("hash-secret on %q printed %q, want an error", tc.stdin, out.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			hash := strings.TrimSuffix(out.String(), "\n")
			if !strings.HasPrefix(hash, tc.wantPrefix) || strings.Contains(hash, "\n") {
				t.Fatalf("hash-secret printed %q, want one %s… line", out.String(), tc.wantPrefix)
			}
			if tc.wantPrefix == "$sha256$" && hash != generatedHash {
				t.Errorf("hash of a generated secret = %q, want %q as GenerateClientSecret gives", hash, generatedHash)
			}
		})
	}

	// The printed hash, as secret_hash, lets the plain secret get a token.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"hash-secret"}, strings.NewReader("a-long-secret-value\n"), &out, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	// listen here is unusable; -listen must win over it.
	path := writeConfig(t, t.TempDir(), fmt.Sprintf(`
listen: 192.0.2.1:1
issuer: https://auth.example.com
keys: [{kid: k1, alg: EdDSA}]
clients:
  - id: integration
    secret_hash: %q
    grant_types: [client_credentials]
    audiences: ["https://api.example.com"]
`, strings.TrimSpace(out.String())))
	s := start(t, nil, "-config", path, "-listen", "127.0.0.1:0")
	if tr := basicToken(t, s.url, "integration", "a-long-secret-value"); tr.Status != 200 || tr.AccessToken == "" {
		t.Errorf("token with the hashed secret: %+v", tr)
	}
	if tr := basicToken(t, s.url, "integration", "a-long-secret-valu"); tr.Status != 401 {
		t.Errorf("token with a wrong secret: %+v", tr)
	}
}

// TestHTTPLimits checks what bounds a client's request: header time and
// size on the http.Server, body size in the handler.
func TestHTTPLimits(t *testing.T) {
	t.Parallel()
	hs := newHTTPServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if hs.ReadHeaderTimeout <= 0 || hs.ReadHeaderTimeout > 10*time.Second {
		t.Errorf("ReadHeaderTimeout = %v, want a few seconds", hs.ReadHeaderTimeout)
	}
	if hs.MaxHeaderBytes <= 0 || hs.MaxHeaderBytes > 64<<10 {
		t.Errorf("MaxHeaderBytes = %d, want set and well under net/http's 1 MB default", hs.MaxHeaderBytes)
	}

	s := start(t, nil, "-listen", "127.0.0.1:0")
	big := "grant_type=client_credentials&pad=" + strings.Repeat("x", 1<<20)
	for _, tc := range []struct {
		name string
		body io.Reader
	}{
		{"Content-Length", strings.NewReader(big)},
		{"chunked", io.MultiReader(strings.NewReader(big))}, // length unknown to the client
	} {
		req, _ := http.NewRequest(http.MethodPost, s.url+"/oauth/token", tc.body)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tr := do(t, req); tr.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("1 MB body (%s): %+v, want 413", tc.name, tr)
		}
	}

	req, _ := http.NewRequest(http.MethodGet, s.url+"/.well-known/jwks.json", nil)
	req.Header.Set("X-Padding", strings.Repeat("x", 24<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("24 KiB header: %s, want 431", resp.Status)
	}
}

// withMemory adds -storage memory unless args name a storage: tests run in
// parallel and must not share the default SQLite file.
func withMemory(args []string) []string {
	if slices.Contains(args, "-storage") {
		return args
	}
	return append([]string{"-storage", "memory"}, args...)
}

// TestIssuerTrailingSlash: an issuer configured with a trailing slash is
// printed and published as the handler writes it, without the slash, so
// the startup line shows what a resource API must be given.
func TestIssuerTrailingSlash(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, t.TempDir(), `
issuer: http://tollgate.test/
clients:
  - {id: a, secret: s3cret-s3cret, grant_types: [client_credentials], audiences: [https://api.example.com]}
`)
	s := start(t, nil, "-config", cfg, "-listen", "127.0.0.1:0")
	if !strings.Contains(s.stdout, "(issuer http://tollgate.test,") {
		t.Errorf("startup line %q, want the issuer without its slash", s.stdout)
	}
	var md struct {
		Issuer string `json:"issuer"`
	}
	getJSON(t, s.url+handler.MetadataPath, &md)
	if md.Issuer != "http://tollgate.test" {
		t.Errorf("metadata issuer %q, want http://tollgate.test", md.Issuer)
	}
}
