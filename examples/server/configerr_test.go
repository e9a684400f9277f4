package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
)

// goField is a Go name the operator never wrote.
var goField = regexp.MustCompile(`Config\.|main\.|\b(Issuer|RateLimits|KeyRotation|Keys|ScopesSupported|TrustedProxies)\b`)

// TestUnknownKeySuggestions: a misspelt key, at any depth of the schema,
// is refused with its line and, when a known key of the same mapping is
// close, that key.
func TestUnknownKeySuggestions(t *testing.T) {
	t.Parallel()
	const client = "clients:\n  - id: a\n    secret: s3cret-s3cret\n    grant_types: [client_credentials]\n    audiences: [x]\n"
	for _, tc := range []struct {
		name, yaml string
		want       string // "" for no suggestion
	}{
		{"top level typo", "listn: 127.0.0.1:0\n", "line 1: unknown field listn; did you mean listen?"},
		{"top level swap", "isuser: https://as.example\n", "unknown field isuser; did you mean issuer?"},
		{"singular of a list", "trusted_proxy: [10.0.0.0/8]\n", "unknown field trusted_proxy; did you mean trusted_proxies?"},
		{"singular of a section", "rate_limit:\n  token: 10-S\n", "unknown field rate_limit; did you mean rate_limits?"},
		{"nested in rate_limits", "rate_limits:\n  tokens_per_ip: 10-S\n", "line 2: unknown field rate_limits.tokens_per_ip; did you mean token_per_ip?"},
		{"dash for underscore", "rate_limits:\n  on-store-error: closed\n", "unknown field rate_limits.on-store-error; did you mean on_store_error?"},
		{"redirect_uri", client + "    redirect_uri: [https://app.example/cb]\n", "line 6: unknown field clients[0].redirect_uri; did you mean redirect_uris?"},
		{"camelCase", client + "    redirectURIs: [https://app.example/cb]\n", "unknown field clients[0].redirectURIs; did you mean redirect_uris?"},
		{"grant_type", "clients:\n  - id: a\n    grant_type: client_credentials\n", "line 3: unknown field clients[0].grant_type; did you mean grant_types?"},
		{"client-id", "clients:\n  - client-id: a\n", "line 2: unknown field clients[0].client-id; did you mean id?"},
		{"client_secret", client + "    client_secret: x\n", "unknown field clients[0].client_secret; did you mean secret?"},
		{"one slip in a client key", client + "    acces_token_ttl: 1h\n", "unknown field clients[0].acces_token_ttl; did you mean access_token_ttl?"},
		{"scope", client + "    scope: [read]\n", "unknown field clients[0].scope; did you mean scopes?"},
		{"second client", client + "  - id: b\n    secrett: x\n", "line 7: unknown field clients[1].secrett; did you mean secret?"},
		{"keys", "keys:\n  - kid: k1\n    algorithm: ES256\n", "line 3: unknown field keys[0].algorithm; did you mean alg?"},
		{"users", "users:\n  - username: alice\n    pasword: x\n", "line 3: unknown field users[0].pasword; did you mean password?"},
		{"users camelCase", "users:\n  - username: alice\n    passwordHash: x\n", "unknown field users[0].passwordHash; did you mean password_hash?"},
		{"nothing close", "frobnicate: 1\n", "line 1: unknown field frobnicate"},
		{"nothing close in a client", client + "    colour: blue\n", "unknown field clients[0].colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseConfig([]byte(tc.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "line ") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want %q", msg, tc.want)
			}
			if strings.HasSuffix(tc.want, "?") != strings.Contains(msg, "did you mean") {
				t.Errorf("error %q: a suggestion where none is close, or none where one is", msg)
			}
		})
	}
}

// TestErrorsNameTheSetting: every refusal of a setting names it as the
// operator wrote it, the file and line, or the flag, and no Go field:
// the values the handler itself refuses (its *handler.ConfigError mapped
// to the YAML key), the demo's own checks, and the flags that override
// keys. Each is refused before anything is made in the directory.
func TestErrorsNameTheSetting(t *testing.T) {
	t.Parallel()
	const client = "clients:\n  - id: a\n    secret: s3cret-s3cret\n    grant_types: [client_credentials]\n    audiences: [x]\n"
	for _, tc := range []struct {
		name, yaml string
		args       []string
		want       string // after the config file's name, or the whole error for a flag
	}{
		{"issuer without a scheme", "listen: 127.0.0.1:0\nissuer: localhost:8080\n" + client, nil,
			`.yaml:2: issuer: "localhost:8080" is not an absolute URL; did you mean "https://localhost:8080"?`},
		{"issuer with a query", "issuer: https://as.example?x=1\n" + client, nil, `.yaml:1: issuer: "https://as.example?x=1" must have no query`},
		{"a client's problem", "listen: 127.0.0.1:0\n" + client + "  - id: p\n    public: true\n    secret: s\n", nil,
			".yaml:9: clients[1].secret: a public client must not have a secret"},
		{"a default scope", client + "    scopes: [read]\n    default_scopes: [write]\n", nil, ".yaml:7: clients[0].default_scopes[0]"},
		{"a rate", "rate_limits:\n  token: 100-X\n" + client, nil, ".yaml:2: rate_limits.token"},
		{"storage", "storage: sqlite://tollgate.db\n" + client, nil, `.yaml:1: storage: "sqlite://tollgate.db": "sqlite://" takes no host`},
		{"-issuer", client, []string{"-issuer", "localhost:8080"}, `-issuer: "localhost:8080" is not an absolute URL; did you mean "https://localhost:8080"?`},
		{"-issuer over a good one", "issuer: https://as.example\n" + client, []string{"-issuer", "ftp://as.example"}, `-issuer: "ftp://as.example" must be an absolute http(s) URL`},
		{"-listen", client, []string{"-listen", "localhost"}, `-listen: "localhost" is not host:port`},
		{"-storage", client, []string{"-storage", "sqlite://tollgate.db"}, `-storage: "sqlite://tollgate.db": "sqlite://" takes no host`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "tollgate.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"-config", path}, tc.args...)
			if !strings.Contains(tc.yaml, "storage:") && !strings.Contains(strings.Join(tc.args, " "), "-storage") {
				args = append(args, "-storage", "sqlite:"+filepath.Join(dir, "t.db"))
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a config wrongly accepted returns at once
			var stdout strings.Builder
			err := run(ctx, args, nil, &stdout, t.Output(), nil)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			want := "config " + filepath.Join(dir, "tollgate") + tc.want
			if strings.HasPrefix(tc.want, "-") {
				want = tc.want
			}
			if !strings.HasPrefix(msg, want) {
				t.Errorf("error\n%s\nwant it to start\n%s", msg, want)
			}
			if goField.MatchString(msg) || strings.Contains(msg, "\n") {
				t.Errorf("error %q is not one line in the operator's terms", msg)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("the refused start made files: %v", entries)
			}
		})
	}
}

// TestHandlerErrorsNamedByKey: what handler.New itself refuses reaches the
// operator under the YAML key the demo filled the field from, at its line:
// a stored signing key whose algorithm the config changed.
func TestHandlerErrorsNamedByKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "k.db")
	write := func(alg string) string {
		return writeConfig(t, dir, fmt.Sprintf("listen: 127.0.0.1:0\nstorage: %q\nkeys:\n  - kid: k1\n    alg: %s\nclients: []\n", db, alg))
	}
	s := start(t, nil, "-config", write("EdDSA"), "-storage", db) // start adds -storage memory otherwise
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	// Not cancelled: the store must open for the handler to read the key;
	// a start wrongly accepted is caught by the ready callback.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := write("ES256")
	err := run(ctx, []string{"-config", path}, nil, &strings.Builder{}, t.Output(), func(string) { cancel(); t.Error("started") })
	want := "config " + path + `:4: keys[0]: the stored key "k1" is EdDSA, not ES256`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// TestSettingErrorMapsEveryField: each handler.Config field the demo fills
// from YAML is named by its key; an error of another field is passed on
// as the handler wrote it.
func TestSettingErrorMapsEveryField(t *testing.T) {
	t.Parallel()
	cfg, err := parseConfig([]byte("issuer: https://as.example\nrate_limits:\n  token: 1-S\n  token_per_ip: 1-S\n  failed_auth: 1-S\nkey_rotation: 720h\nkey_publish_ahead: 2h\nkeys:\n  - kid: k1\ntrusted_proxies: [10.0.0.0/8]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.file = "t.yaml"
	problem := errors.New("bad")
	for field, want := range map[string]string{
		"Issuer":                   "config t.yaml:1: issuer: bad",
		"RateLimits.Token":         "config t.yaml:3: rate_limits.token: bad",
		"RateLimits.TokenPerIP":    "config t.yaml:4: rate_limits.token_per_ip: bad",
		"RateLimits.FailedAuth":    "config t.yaml:5: rate_limits.failed_auth: bad",
		"KeyRotation":              "config t.yaml:6: key_rotation: bad",
		"KeyRotation.Every":        "config t.yaml:6: key_rotation: bad",
		"KeyRotation.Algorithm":    "config t.yaml:6: key_rotation: bad",
		"KeyRotation.PublishAhead": "config t.yaml:7: key_publish_ahead: bad",
		"Keys":                     "config t.yaml:8: keys: bad",
		"Keys[0]":                  "config t.yaml:9: keys[0]: bad",
		"Keys[0].ID":               "config t.yaml:9: keys[0].kid: bad",
		"Keys[0].Algorithm":        "config t.yaml:9: keys[0].alg: bad",
		"TrustedProxies[0]":        "config t.yaml:10: trusted_proxies[0]: bad",
		"ScopesSupported[3]":       "config t.yaml: clients[].scopes: bad",
		"Clients":                  "handler: Config.Clients: bad",
	} {
		got := cfg.settingError(fmt.Errorf("wrapped: %w", &handler.ConfigError{Field: field, Err: problem}))
		if field == "Clients" {
			if !errors.Is(got, problem) || !strings.Contains(got.Error(), want) {
				t.Errorf("%s: %v, want the handler's own error", field, got)
			}
			continue
		}
		if got.Error() != want {
			t.Errorf("%s: %q, want %q", field, got, want)
		}
	}
	cfg.fromFlag = map[string]string{"issuer": "-issuer"}
	if got := cfg.settingError(&handler.ConfigError{Field: "Issuer", Err: problem}).Error(); got != "-issuer: bad" {
		t.Errorf("issuer from the flag: %q, want -issuer: bad", got)
	}
}
