package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/ratelimit"
	"github.com/tollgate-oauth/tollgate/storage"
)

// fileConfig is the YAML schema of the demo server (see README).
type fileConfig struct {
	Listen string `yaml:"listen"`
	Issuer string `yaml:"issuer"`
	// Storage is memory, sqlite:PATH or a postgres:// URL. Default
	// sqlite:tollgate.db.
	Storage string      `yaml:"storage"`
	Keys    []keyConfig `yaml:"keys"`
	// KeyRotation, when set, makes a new signing key every so often (e.g.
	// 720h), published KeyPublishAhead (default 1h) before it signs; the
	// keys are kept in the storage. Off by default.
	KeyRotation     duration       `yaml:"key_rotation"`
	KeyPublishAhead duration       `yaml:"key_publish_ahead"`
	RateLimits      rateConfig     `yaml:"rate_limits"`
	TrustedProxies  []string       `yaml:"trusted_proxies"`
	Clients         []clientConfig `yaml:"clients"`
	// Users sign in at the demo's /login page. Demo only: a real
	// application signs its users in itself and hands tollgate the subject.
	Users []userConfig `yaml:"users"`
	// OpsListen, when set, is a second address serving /healthz, /readyz
	// and /metrics for the operator, never the public one.
	OpsListen string `yaml:"ops_listen"`
	// Audit writes one audit event per security-relevant action
	// (handler.AuditEvent) to the log. Off by default: it is a line per
	// token request.
	Audit bool `yaml:"audit"`

	// Where the settings came from, for errors (configerr.go): the file,
	// the line of each key path, and the flags that overrode keys.
	file     string
	lines    map[string]int
	fromFlag map[string]string
}

type keyConfig struct {
	KID  string `yaml:"kid"`
	Alg  string `yaml:"alg"`
	File string `yaml:"file"`
}

type rateConfig struct {
	Token      string `yaml:"token"`
	TokenPerIP string `yaml:"token_per_ip"`
	FailedAuth string `yaml:"failed_auth"`
	Login      string `yaml:"login"` // failed sign-ins at /login, per IP and per username
	// Store holds the counters: memory (default) or a redis:// URL, shared
	// by every instance that names it.
	Store string `yaml:"store"`
	// OnStoreError is what a failing store means: open (default: allow,
	// log a warning) or closed (503).
	OnStoreError string `yaml:"on_store_error"`
}

type clientConfig struct {
	ID              string   `yaml:"id"`
	Secret          string   `yaml:"secret"`
	SecretHash      string   `yaml:"secret_hash"`
	Public          bool     `yaml:"public"`
	GrantTypes      []string `yaml:"grant_types"`
	Scopes          []string `yaml:"scopes"`
	DefaultScopes   []string `yaml:"default_scopes"`
	RequireScope    bool     `yaml:"require_scope"`
	Audiences       []string `yaml:"audiences"`
	AccessTokenTTL  duration `yaml:"access_token_ttl"`
	RedirectURIs    []string `yaml:"redirect_uris"`
	RefreshTokenTTL duration `yaml:"refresh_token_ttl"`
	Introspector    bool     `yaml:"introspector"` // may introspect any token
	// FirstParty: the operator's own app; its users are not asked to
	// consent (unless it is a native app: see consentPage).
	FirstParty bool `yaml:"first_party"`
}

type userConfig struct {
	Username     string         `yaml:"username"`
	Password     string         `yaml:"password"`
	PasswordHash string         `yaml:"password_hash"`
	Claims       map[string]any `yaml:"claims"` // added to this user's access tokens
}

// duration reads "2h", "90m", "3600s".
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration (want e.g. 2h, 90m, 3600s)", n.Line, n.Value)
	}
	*d = duration(v)
	return nil
}

// loadConfig reads and checks a config file. The error is one line that
// names the file, the line where there is one, and the key
// ("config tollgate.yaml:3: issuer: …").
func loadConfig(path string) (*fileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := parseConfig(data)
	if err != nil {
		return nil, inFile(path, err)
	}
	cfg.file = path
	// Key files are relative to the config file.
	for i := range cfg.Keys {
		if f := cfg.Keys[i].File; f != "" && !filepath.IsAbs(f) {
			cfg.Keys[i].File = filepath.Join(filepath.Dir(path), f)
		}
	}
	return cfg, nil
}

func parseConfig(data []byte) (*fileConfig, error) {
	var cfg fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(err, data)
	}
	cfg.lines = keyLines(data)
	if err := cfg.check(); err != nil {
		return nil, cfg.atLine(err)
	}
	return &cfg, nil
}

var (
	unknownField = regexp.MustCompile(`^line (\d+): field (.*) not found in type main\.\w+$`) // an empty key ('':) has an empty name
	atLine       = regexp.MustCompile(`^line (\d+): (.*)$`)
)

// yamlError turns yaml.v3's report, possibly several lines, into its first
// problem, naming the field by its path ("clients[1].secret"): the decoder
// itself only gives a line and a Go type.
func yamlError(err error, data []byte) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = wrongType.ReplaceAllStringFunc(msg, wrongTypeText)
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil { // not YAML at all: no fields to name
		return lineFrom(firstLine(msg))
	}
	var fields []fieldAt
	fieldPaths(&doc, "", &fields)
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		for _, f := range fields {
			if strconv.Itoa(f.line) == m[1] && f.name == m[2] {
				return unknownKey(m[1], f.path)
			}
		}
		return unknownKey(m[1], m[2])
	}
	if m := atLine.FindStringSubmatch(msg); m != nil {
		for _, f := range fields {
			if strconv.Itoa(f.line) == m[1] {
				return lineFrom(fmt.Sprintf("line %s: %s: %s", m[1], f.path, m[2]))
			}
		}
	}
	return lineFrom(firstLine(msg))
}

// wrongType is yaml.v3's report of a value of the wrong kind, which names
// the Go type ("cannot unmarshal !!str `abc` into []main.clientConfig").
// A tag may hold any character but a newline ("!\t" is one).
var wrongType = regexp.MustCompile("cannot unmarshal (!.*?)(?: `(.*)`)? into (\\S+)")

// wrongTypeText says it in the operator's terms: "want a list, not a
// string (abc)".
func wrongTypeText(s string) string {
	m := wrongType.FindStringSubmatch(s)
	got := map[string]string{"!!str": "a string", "!!seq": "a list", "!!map": "a mapping", "!!int": "a number", "!!float": "a number",
		"!!bool": "true or false", "!!null": "null", "!!timestamp": "a timestamp", "!!binary": "binary data"}[m[1]]
	if got == "" {
		got = "a value tagged " + strconv.Quote(m[1])
	}
	if m[2] != "" {
		got += " (" + m[2] + ")"
	}
	want := "a value of another kind"
	switch t := m[3]; {
	case strings.HasPrefix(t, "[]"):
		want = "a list"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "main."):
		want = "a mapping"
	case t == "string":
		want = "a string"
	case t == "bool":
		want = "true or false"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "float"):
		want = "a number"
	}
	return "want " + want + ", not " + got
}

// fieldAt is a mapping key of the document and its path.
type fieldAt struct {
	line       int
	name, path string
}

func fieldPaths(n *yaml.Node, path string, out *[]fieldAt) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			fieldPaths(c, path, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			fieldPaths(c, fmt.Sprintf("%s[%d]", path, i), out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			*out = append(*out, fieldAt{k.Line, k.Value, p})
			fieldPaths(n.Content[i+1], p, out)
		}
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// check validates what the YAML decoder cannot. It stops at the first
// problem so the operator gets one line to act on.
func (cfg *fileConfig) check() error {
	if cfg.Listen != "" {
		if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
			return fmt.Errorf("listen: %q is not host:port", cfg.Listen)
		}
	}
	if cfg.OpsListen != "" {
		if _, _, err := net.SplitHostPort(cfg.OpsListen); err != nil {
			return fmt.Errorf("ops_listen: %q is not host:port", cfg.OpsListen)
		}
	}
	if err := checkIssuer(cfg.Issuer); err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	kids := map[string]bool{}
	for i, k := range cfg.Keys {
		field := fmt.Sprintf("keys[%d]", i)
		switch {
		case k.KID == "":
			return fmt.Errorf("%s.kid: is required", field)
		case kids[k.KID]:
			return fmt.Errorf("%s.kid: %q is used twice", field, k.KID)
		case k.Alg != "" && k.Alg != handler.RS256 && k.Alg != handler.ES256 && k.Alg != handler.EdDSA:
			return fmt.Errorf("%s.alg: unknown algorithm %q (want RS256, ES256 or EdDSA)", field, k.Alg)
		}
		kids[k.KID] = true
	}
	if err := cfg.checkRotation(); err != nil {
		return err
	}
	if err := checkStorage(cfg.Storage); err != nil {
		return fmt.Errorf("storage: %v", err)
	}
	switch rs := cfg.RateLimits.Store; {
	case rs == "", rs == "memory", strings.HasPrefix(rs, "redis://"), strings.HasPrefix(rs, "rediss://"):
	default:
		return fmt.Errorf("rate_limits.store: %q: want memory or a redis:// URL", rs)
	}
	switch cfg.RateLimits.OnStoreError {
	case "", "open", "closed":
	default:
		return fmt.Errorf("rate_limits.on_store_error: %q: want open or closed", cfg.RateLimits.OnStoreError)
	}
	for _, r := range []struct{ name, rate string }{
		{"token", cfg.RateLimits.Token}, {"token_per_ip", cfg.RateLimits.TokenPerIP}, {"failed_auth", cfg.RateLimits.FailedAuth},
		{"login", cfg.RateLimits.Login},
	} {
		if r.rate == "" {
			continue
		}
		if _, _, err := ratelimit.ParseRate(r.rate); err != nil {
			return fmt.Errorf("rate_limits.%s: %v", r.name, err)
		}
	}
	for i, p := range cfg.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			return fmt.Errorf("trusted_proxies[%d]: %q is not an IP address or CIDR range", i, p)
		}
	}
	ids := map[string]bool{}
	for i, c := range cfg.Clients {
		field := fmt.Sprintf("clients[%d]", i)
		switch {
		case ids[c.ID] && c.ID != "":
			return fmt.Errorf("%s.id: %q is used twice", field, c.ID)
		case c.Public && c.Secret != "":
			return fmt.Errorf("%s.secret: a public client must not have a secret", field)
		case c.Public && c.SecretHash != "":
			return fmt.Errorf("%s.secret_hash: a public client must not have a secret", field)
		case c.Secret != "" && c.SecretHash != "":
			return fmt.Errorf("%s.secret_hash: give secret or secret_hash, not both", field)
		case !c.Public && c.Secret == "" && c.SecretHash == "":
			return fmt.Errorf("%s.secret: a confidential client needs secret or secret_hash (or public: true)", field)
		}
		ids[c.ID] = true
		// The storage record validates everything else; hash nothing yet.
		probe := c.record("")
		if c.Secret != "" {
			probe.SecretHash = "$sha256$47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
		}
		if err := probe.Validate(); err != nil {
			return fmt.Errorf("%s.%w", field, err)
		}
		// The demo registers no extension grant.
		if err := probe.CheckGrantTypes(storage.StandardGrantTypes); err != nil {
			return fmt.Errorf("%s.%w", field, err)
		}
	}
	if err := cfg.checkUsers(); err != nil {
		return err
	}
	return checkSubjects(cfg.Users, func(id string) (string, bool) {
		for i, c := range cfg.Clients {
			if c.ID == id {
				return fmt.Sprintf("clients[%d].id", i), true
			}
		}
		return "", false
	})
}

// checkRotation checks key_rotation against the keys: a rotating server
// makes its keys and keeps them in the storage, so it starts from one
// generated key at most.
func (cfg *fileConfig) checkRotation() error {
	every, ahead := time.Duration(cfg.KeyRotation), time.Duration(cfg.KeyPublishAhead)
	if every == 0 {
		if ahead != 0 {
			return errors.New("key_publish_ahead: only means something with key_rotation")
		}
		return nil
	}
	if ahead == 0 {
		ahead = handler.DefaultPublishAhead
	}
	switch {
	case every <= ahead:
		return fmt.Errorf("key_rotation: %v must be longer than key_publish_ahead (%v): each key signs for key_rotation minus key_publish_ahead before the next is published", every, ahead)
	case len(cfg.Keys) > 1:
		return errors.New("keys: with key_rotation, list one key at most (the first; the rotation makes the others)")
	case len(cfg.Keys) == 1 && cfg.Keys[0].File != "":
		return errors.New("keys[0].file: with key_rotation the keys are generated and kept in the storage; a key from a file cannot rotate")
	}
	return nil
}

// checkSubjects refuses a user named like a client. A client_credentials
// token's sub is its client id and a user's token's sub is the username,
// so a resource API that reads only sub could not tell the two apart
// (tollgate marks machine tokens "sub_type": "client", but an API may not
// look). client finds a client by id and says where it is defined.
func checkSubjects(users []userConfig, client func(id string) (where string, ok bool)) error {
	for i, u := range users {
		if where, ok := client(u.Username); ok {
			return fmt.Errorf("users[%d].username: %q is also %s: tokens for the user and for the client would have the same sub; rename one",
				i, u.Username, where)
		}
	}
	return nil
}

// checkUsers validates the demo's users, which no storage type checks.
func (cfg *fileConfig) checkUsers() error {
	names := map[string]bool{}
	for i, u := range cfg.Users {
		field := fmt.Sprintf("users[%d]", i)
		switch {
		case u.Username == "":
			return fmt.Errorf("%s.username: is required", field)
		case textProblem(u.Username) != "" || hasSpace(u.Username):
			return fmt.Errorf("%s.username: %q holds whitespace or control characters", field, u.Username)
		case names[u.Username]:
			return fmt.Errorf("%s.username: %q is used twice", field, u.Username)
		case u.Password != "" && u.PasswordHash != "":
			return fmt.Errorf("%s.password_hash: give password or password_hash, not both", field)
		case u.Password == "" && u.PasswordHash == "":
			return fmt.Errorf("%s.password: a user needs password or password_hash", field)
		case textProblem(u.Password) != "":
			// The login form would never deliver such a password intact.
			return fmt.Errorf("%s.password: %s", field, textProblem(u.Password))
		}
		names[u.Username] = true
		if u.PasswordHash != "" {
			if err := handler.CheckSecretHash(u.PasswordHash); err != nil {
				return fmt.Errorf("%s.password_hash: %v", field, err)
			}
		}
		// Caught here rather than as a server_error on the user's first token.
		for _, name := range slices.Sorted(maps.Keys(u.Claims)) {
			if handler.ReservedClaim(name) {
				return fmt.Errorf("%s.claims.%s: tollgate sets this claim itself", field, name)
			}
			if _, err := json.Marshal(u.Claims[name]); err != nil {
				return fmt.Errorf("%s.claims.%s: not representable in JSON (%v)", field, name, err)
			}
		}
	}
	// Without a user nobody can sign in, and the authorization endpoint is
	// only served when someone can.
	for i, c := range cfg.Clients {
		if len(cfg.Users) == 0 && slices.Contains(c.GrantTypes, storage.GrantAuthorizationCode) {
			return fmt.Errorf("users: clients[%d] uses authorization_code, so at least one user is needed to sign in", i)
		}
	}
	return nil
}

// record is the storage form of a configured client, with hash as its
// secret hash when it has a plain secret.
func (c clientConfig) record(hash string) *storage.Client {
	rec := &storage.Client{
		ID: c.ID, SecretHash: c.SecretHash, Public: c.Public, GrantTypes: c.GrantTypes,
		Scopes: c.Scopes, DefaultScopes: c.DefaultScopes, RequireScope: c.RequireScope,
		Audiences: c.Audiences, AccessTokenTTL: time.Duration(c.AccessTokenTTL),
		RedirectURIs: c.RedirectURIs, RefreshTokenTTL: time.Duration(c.RefreshTokenTTL),
		Introspector: c.Introspector,
	}
	if c.Secret != "" {
		rec.SecretHash = hash
	}
	return rec
}

func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// signingKeys loads or generates the configured keys.
func (cfg *fileConfig) signingKeys() ([]handler.SigningKey, error) {
	var out []handler.SigningKey
	list := cfg.Keys
	if len(list) == 0 {
		// The default key gets a kid, so it is stored and kept across
		// restarts (and shared by instances) like a configured one.
		list = []keyConfig{{KID: "k1", Alg: handler.RS256}}
	}
	for i, k := range list {
		sk := handler.SigningKey{ID: k.KID, Algorithm: k.Alg}
		if sk.Algorithm == "" {
			sk.Algorithm = handler.RS256
		}
		if k.File != "" {
			pemBytes, err := os.ReadFile(k.File)
			if err != nil {
				return nil, fmt.Errorf("keys[%d].file: %w", i, err)
			}
			if sk.Key, err = handler.ParseSigningKeyPEM(pemBytes); err != nil {
				return nil, fmt.Errorf("keys[%d].file: %w", i, err)
			}
			if err := sk.Validate(); err != nil {
				return nil, fmt.Errorf("keys[%d].file: %w", i, err)
			}
		}
		out = append(out, sk)
	}
	return out, nil
}
