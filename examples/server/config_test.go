package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// issueConfig is the schema of the demo server exactly as the issue gives it.
const issueConfig = `
listen: 127.0.0.1:8080
issuer: http://127.0.0.1:8080
keys:                      # first one signs; all are published in the JWKS
  - kid: k1
    alg: RS256             # RS256 | ES256 | EdDSA
    file: k1.pem           # optional PEM private key; omitted: generated at start
rate_limits:
  token: 100-S             # ulule/limiter formatted rate, per client_id
  token_per_ip: 6000-M
  failed_auth: 10-M        # failed client authentications, per client_id and per IP
clients:
  - id: integration
    secret: a-long-secret-value     # or secret_hash: "<hash>"
    grant_types: [client_credentials]
    scopes: ["market:all", "market:id:*"]
    default_scopes: ["market:all"]
    audiences: ["https://api.example.com"]
    access_token_ttl: 2h
  - id: sales-channel
    public: true                    # no secret; token_endpoint_auth_method none
    grant_types: [client_credentials]
    scopes: ["market:id:*"]
    require_scope: true
    audiences: ["https://api.example.com"]
    access_token_ttl: 4h
`

func TestParseIssueSchema(t *testing.T) {
	t.Parallel()
	got, err := parseConfig([]byte(issueConfig))
	if err != nil {
		t.Fatal(err)
	}
	cc := []string{"client_credentials"}
	aud := []string{"https://api.example.com"}
	want := &fileConfig{
		Listen: "127.0.0.1:8080",
		Issuer: "http://127.0.0.1:8080",
		Keys:   []keyConfig{{KID: "k1", Alg: "RS256", File: "k1.pem"}},
		RateLimits: rateConfig{
			Token: "100-S", TokenPerIP: "6000-M", FailedAuth: "10-M",
		},
		Clients: []clientConfig{
			{
				ID: "integration", Secret: "a-long-secret-value", GrantTypes: cc,
				Scopes: []string{"market:all", "market:id:*"}, DefaultScopes: []string{"market:all"},
				Audiences: aud, AccessTokenTTL: duration(2 * time.Hour),
			},
			{
				ID: "sales-channel", Public: true, GrantTypes: cc,
				Scopes: []string{"market:id:*"}, RequireScope: true,
				Audiences: aud, AccessTokenTTL: duration(4 * time.Hour),
			},
		},
	}
	got.lines = nil // where each key is, for errors (TestErrorsNameTheLine)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsed\n%+v\nwant\n%+v", got, want)
	}
}

// TestInvalidConfigStopsStartup runs the server on each bad config: it must
// refuse to start with a single line that names the offending field.
func TestInvalidConfigStopsStartup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writePEM(t, filepath.Join(dir, "ec.pem"), newP256Key(t))

	// Each case is a whole config: these two pieces are valid.
	const head = "listen: 127.0.0.1:0\n"
	const client = `
  - id: a
    secret: a-long-secret-value
    grant_types: [client_credentials]
    scopes: [read, "market:id:*"]
    audiences: [https://api.example.com]
`
	const user = `
  - username: alice
    password: alice-password
`
	const codeClient = `
  - id: spa
    public: true
    grant_types: [authorization_code, refresh_token]
    audiences: [https://api.example.com]
`
	for _, tc := range []struct {
		name, yaml string
		args       []string
		want       string
	}{
		{"unknown top-level field", head + "listn: x\nclients:" + client, nil, "unknown field listn"},
		{"unknown client field", head + "clients:" + client + "  - id: b\n    secrett: x\n", nil, "clients[1].secrett"},
		{"unknown key field", head + "keys:\n  - kid: k1\n    bits: 4096\nclients:" + client, nil, "keys[0].bits"},
		{"bad rate", head + "rate_limits:\n  token: 100-X\nclients:" + client, nil, "rate_limits.token"},
		{"unknown alg", head + "keys:\n  - kid: k1\n    alg: HS256\nclients:" + client, nil, "keys[0].alg"},
		{"duplicate kid", head + "keys:\n  - kid: k1\n  - kid: k1\nclients:" + client, nil, "keys[1].kid"},
		{"duplicate client id", head + "clients:" + client + client, nil, "clients[1].id"},
		{"public client with a secret", head + "clients:" + client + "  - id: p\n    public: true\n    secret: s\n", nil, "clients[1].secret"},
		{"public client with a secret hash", head + "clients:" + client + "  - id: p\n    public: true\n    secret_hash: x\n", nil, "clients[1].secret_hash"},
		{"public introspector", head + "clients:" + client + "  - id: p\n    public: true\n    introspector: true\n    grant_types: [client_credentials]\n    audiences: [x]\n", nil, "clients[1].introspector"},
		{"secret and secret_hash", head + "clients:" + client + "    secret_hash: x\n", nil, "clients[0].secret_hash"},
		{"confidential without secret", head + "clients:\n  - id: a\n    grant_types: [client_credentials]\n    audiences: [x]\n", nil, "clients[0].secret"},
		{"bad secret_hash", head + "clients:\n  - id: a\n    secret_hash: nope\n    grant_types: [client_credentials]\n    audiences: [x]\n", nil, "clients[0].secret_hash"},
		{"bad duration", head + "clients:" + client + "    access_token_ttl: 2x\n", nil, "clients[0].access_token_ttl"},
		{"default scope not allowed", head + "clients:" + client + "    default_scopes: [write]\n", nil, "clients[0].default_scopes[0]"},
		{"wildcard default scope", head + "clients:" + client + "    default_scopes: [read, \"market:id:*\"]\n", nil, "clients[0].default_scopes[1]"},
		{"client without audiences", head + "clients:\n  - id: a\n    secret: s\n    grant_types: [client_credentials]\n", nil, "clients[0].audiences"},
		{"client without grant types", head + "clients:\n  - id: a\n    secret: s\n    audiences: [x]\n", nil, "clients[0].grant_types"},
		{"grant type typo", head + "clients:\n  - id: a\n    secret: s\n    grant_types: [client_credential]\n    audiences: [x]\n", nil,
			`clients[0].grant_types[0]: "client_credential" is not a grant type; did you mean "client_credentials"?`},
		{"password grant", head + "clients:\n  - id: a\n    secret: s\n    grant_types: [password]\n    audiences: [x]\n", nil,
			"clients[0].grant_types[0]: \"password\": the resource owner password grant is not supported"},
		{"extension grant the demo lacks", head + "clients:\n  - id: a\n    secret: s\n    grant_types: [client_credentials, \"urn:x:partner\"]\n    audiences: [x]\n", nil,
			"clients[0].grant_types[1]: \"urn:x:partner\" is not a grant type this server supports"},
		{"wrong type", head + "clients:" + client + "    public: maybe\n", nil, "clients[0].public"},
		{"string for a list", head + "clients: abc\n", nil, ".yaml:2: clients: want a list, not a string (abc)"},
		{"list for a mapping", head + "keys: [[1]]\n", nil, ".yaml:2: keys: want a mapping, not a list"},
		{"bad trusted proxy", head + "trusted_proxies: [10.0.0.0/8, 10.0.0.300]\nclients:" + client, nil, "trusted_proxies[1]"},
		{"bad listen", "listen: localhost\nclients:" + client, nil, "listen"},
		{"bad -listen flag", head + "clients:" + client, []string{"-listen", "localhost"}, "listen"},
		{"missing key file", head + "keys:\n  - kid: k1\n    file: nothere.pem\nclients:" + client, nil, "keys[0].file"},
		{"key does not match alg", head + "keys:\n  - kid: k1\n    alg: RS256\n    file: ec.pem\nclients:" + client, nil, "keys[0].file"},
		{"key_rotation not longer than key_publish_ahead", head + "key_rotation: 1h\nclients:" + client, nil, "key_rotation: 1h0m0s must be longer than key_publish_ahead"},
		{"key_publish_ahead without key_rotation", head + "key_publish_ahead: 2h\nclients:" + client, nil, "key_publish_ahead"},
		{"key_rotation with two keys", head + "key_rotation: 720h\nkeys: [{kid: k1}, {kid: k2}]\nclients:" + client, nil, "keys: with key_rotation"},
		{"key_rotation with a key file", head + "key_rotation: 720h\nkeys: [{kid: k1, alg: ES256, file: ec.pem}]\nclients:" + client, nil, "keys[0].file: with key_rotation"},
		{"bad key_rotation", head + "key_rotation: monthly\nclients:" + client, nil, "key_rotation"},
		{"malformed YAML", head + "clients: [\n  - id: a\n", nil, ".yaml:2: did not find"},
		{"bad login rate", head + "rate_limits:\n  login: 10/M\nclients:" + client, nil, "rate_limits.login"},
		{"bad redirect URI", head + "clients:" + client + "    redirect_uris: [\"http://app.example.com/cb\"]\n", nil, "clients[0].redirect_uris[0]"},
		{"relative redirect URI", head + "users:" + user + "clients:" + codeClient + "    redirect_uris: [/cb]\n", nil, "clients[0].redirect_uris[0]"},
		{"redirect URI with fragment", head + "clients:" + client + "    redirect_uris: [\"https://app.example.com/cb#x\"]\n", nil, "clients[0].redirect_uris[0]"},
		{"code client without redirect URIs", head + "users:" + user + "clients:" + codeClient, nil, "clients[0].redirect_uris"},
		{"code client without users", head + "clients:" + codeClient + "    redirect_uris: [\"https://app.example.com/cb\"]\n", nil, "users"},
		{"bad refresh_token_ttl", head + "clients:" + client + "    refresh_token_ttl: soon\n", nil, "clients[0].refresh_token_ttl"},
		{"unknown user field", head + "users:" + user + "    passwd: x\nclients:" + client, nil, "users[0].passwd"},
		{"user without username", head + "users:\n  - password: x\nclients:" + client, nil, "users[0].username"},
		{"username with a space", head + "users:\n  - username: a b\n    password: x\nclients:" + client, nil, "users[0].username"},
		{"user named like a client", head + "users:\n  - username: a\n    password: x\nclients:" + client, nil, `users[0].username: "a" is also clients[0].id`},
		{"duplicate username", head + "users:" + user + user + "clients:" + client, nil, "users[1].username"},
		{"user without password", head + "users:\n  - username: alice\nclients:" + client, nil, "users[0].password"},
		{"password and hash", head + "users:" + user + "    password_hash: x\nclients:" + client, nil, "users[0].password_hash"},
		{"bad password_hash", head + "users:\n  - username: alice\n    password_hash: nope\nclients:" + client, nil, "users[0].password_hash"},
		{"password with a control character", head + "users:\n  - username: alice\n    password: \"a\\tb\"\nclients:" + client, nil, "users[0].password"},
		{"reserved claim", head + "users:" + user + "    claims: {user_type: admin, sub: root}\nclients:" + client, nil, "users[0].claims.sub"},
		{"claim not JSON", head + "users:" + user + "    claims: {tenant: {1: a}}\nclients:" + client, nil, "users[0].claims.tenant"},
		{"claims not a map", head + "users:" + user + "    claims: [a]\nclients:" + client, nil, "users[0].claims"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			// Cancelled up front: a config wrongly accepted makes run return
			// nil at once instead of serving.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var stdout strings.Builder
			err := run(ctx, withMemory(append([]string{"-config", path}, tc.args...)), nil, &stdout, t.Output(), nil)
			switch {
			case err == nil:
				t.Fatalf("run accepted the config")
			case strings.Contains(err.Error(), "\n"):
				t.Errorf("error has several lines:\n%v", err)
			case !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q does not name %q", err, tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("printed %q before failing", stdout.String())
			}
			t.Log(err)
		})
	}
}

func TestIssuerHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ listen, bound, want string }{
		{"127.0.0.1:0", "127.0.0.1:41234", "127.0.0.1:41234"},
		{"127.0.0.1:8080", "127.0.0.1:8080", "127.0.0.1:8080"},
		{"localhost:0", "127.0.0.1:41234", "localhost:41234"},
		{":8080", "[::]:8080", "localhost:8080"},
		{"0.0.0.0:0", "0.0.0.0:41234", "localhost:41234"},
		{"[::1]:0", "[::1]:41234", "[::1]:41234"},
	} {
		if got := issuerHost(tc.listen, fakeAddr(tc.bound)); got != tc.want {
			t.Errorf("issuerHost(%q, %s) = %q, want %q", tc.listen, tc.bound, got, tc.want)
		}
	}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

// TestExampleConfigLoads keeps the shipped example file valid.
func TestExampleConfigLoads(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig("tollgate.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Clients) != 3 || cfg.Clients[0].ID != "integration" || !cfg.Clients[1].Public ||
		len(cfg.Clients[2].RedirectURIs) == 0 || cfg.Clients[2].RefreshTokenTTL == 0 {
		t.Errorf("example config clients = %+v", cfg.Clients)
	}
	if len(cfg.Users) != 1 || cfg.Users[0].Claims == nil {
		t.Errorf("example config users = %+v", cfg.Users)
	}
}
