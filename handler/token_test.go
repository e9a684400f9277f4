package handler_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// Good-path tests of the token endpoint: every way a client may
// authenticate, the exact response, scope and audience policy, and the
// configuration errors handler.New reports.

const (
	// gpOddID and gpOddSecret need form-urlencoding inside HTTP Basic (RFC
	// 6749 §2.3.1): a ':' that would otherwise split id from secret, '+'
	// that means a space once decoded, '%', '/', '&', a space and non-ASCII.
	gpOddID     = "partner:eu 1/ü"
	gpOddSecret = "p@ss:w+rd/=&%ü x"
	// gpGeneratedID holds a secret from handler.GenerateClientSecret (the
	// fast scheme).
	gpGeneratedID = "generated"
	// gpDefaultTTLID is confidential, sets no AccessTokenTTL and has a
	// default scope.
	gpDefaultTTLID = "default-ttl"
	// gpNoDefaultsID is public, sets no AccessTokenTTL, has no default
	// scopes and does not require a scope.
	gpNoDefaultsID = "no-defaults"

	gpMarket     = "market:id:xYZkjABcde"
	gpGrantCC    = "client_credentials"
	gpJSONType   = "application/json"
	gpJSONHeader = "application/json;charset=UTF-8"
)

// gpFixture is what the good-path tests add to the fixture store. Hashing
// is done once per test binary: argon2id is deliberately slow.
type gpFixture struct {
	clients []*storage.Client
	// generated is the plain secret of gpGeneratedID and gpDefaultTTLID,
	// from handler.GenerateClientSecret.
	generated string
}

var gpExtra = sync.OnceValues(func() (gpFixture, error) {
	oddHash, err := handler.HashClientSecret(gpOddSecret)
	if err != nil {
		return gpFixture{}, err
	}
	genPlain, genHash, err := handler.GenerateClientSecret()
	if err != nil {
		return gpFixture{}, err
	}
	return gpFixture{generated: genPlain, clients: []*storage.Client{
		{
			ID: gpOddID, SecretHash: oddHash, GrantTypes: []string{gpGrantCC},
			Scopes: []string{"market:all"}, DefaultScopes: []string{"market:all"},
			Audiences: []string{apiAudience}, AccessTokenTTL: 30 * time.Minute,
		},
		{
			ID: gpGeneratedID, SecretHash: genHash, GrantTypes: []string{gpGrantCC},
			Scopes: []string{"orders:read", "orders:write"}, DefaultScopes: []string{"orders:read"},
			Audiences: []string{qaAudience}, AccessTokenTTL: 15 * time.Minute,
		},
		{
			ID: gpDefaultTTLID, SecretHash: genHash, GrantTypes: []string{gpGrantCC},
			Scopes: []string{"market:all"}, DefaultScopes: []string{"market:all"},
			Audiences: []string{apiAudience},
		},
		{
			ID: gpNoDefaultsID, Public: true, GrantTypes: []string{gpGrantCC},
			Scopes: []string{"market:all", "market:id:*"}, Audiences: []string{apiAudience},
		},
	}}, nil
})

// gpGeneratedSecret returns the plain secret of gpGeneratedID and
// gpDefaultTTLID.
func gpGeneratedSecret(t testing.TB) string {
	t.Helper()
	fx, err := gpExtra()
	if err != nil {
		t.Fatalf("preparing clients: %v", err)
	}
	return fx.generated
}

// gpClients is a newServer mutate hook that adds gpExtra to the fixture
// store, then applies more, in order.
func gpClients(t testing.TB, more ...func(*handler.Config)) func(*handler.Config) {
	t.Helper()
	fx, err := gpExtra()
	if err != nil {
		t.Fatalf("preparing clients: %v", err)
	}
	return func(cfg *handler.Config) {
		store, ok := cfg.Clients.(*memory.Store)
		if !ok {
			t.Fatalf("fixture store is %T, want *memory.Store", cfg.Clients)
		}
		for _, c := range fx.clients {
			if err := store.CreateClient(context.Background(), c); err != nil {
				t.Fatalf("adding client %q: %v", c.ID, err)
			}
		}
		for _, m := range more {
			m(cfg)
		}
	}
}

// gpPostJSON sends v as a JSON token request.
func gpPostJSON(t testing.TB, ts *httptest.Server, v map[string]any, headers ...string) result {
	t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return postRaw(t, ts, gpJSONType, string(body), headers...)
}

// gpJWT is an access token split into its decoded parts, for checking its
// shape. Signatures are verified with jwx in jwt_test.go, not here.
type gpJWT struct {
	Header map[string]any
	Claims map[string]any
}

// gpDecode decodes a compact JWS without verifying it. Numbers stay
// json.Number so that times compare exactly.
func gpDecode(t testing.TB, token string) gpJWT {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("access token has %d parts, want 3: %q", len(parts), token)
	}
	var out gpJWT
	for i, dst := range []*map[string]any{&out.Header, &out.Claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("JWT part %d is not base64url: %v", i, err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(dst); err != nil {
			t.Fatalf("JWT part %d is not a JSON object: %v: %s", i, err, raw)
		}
	}
	if parts[2] == "" {
		t.Fatal("access token has an empty signature")
	}
	return out
}

func (j gpJWT) str(t testing.TB, name string) string {
	t.Helper()
	s, ok := j.Claims[name].(string)
	if !ok {
		t.Fatalf("claim %q = %#v, want a string", name, j.Claims[name])
	}
	return s
}

func (j gpJWT) num(t testing.TB, name string) int64 {
	t.Helper()
	n, ok := j.Claims[name].(json.Number)
	if !ok {
		t.Fatalf("claim %q = %#v, want a number", name, j.Claims[name])
	}
	v, err := n.Int64()
	if err != nil {
		t.Fatalf("claim %q = %s, want an integer", name, n)
	}
	return v
}

// aud returns the aud claim as a list: RFC 7519 allows one string or an
// array.
func (j gpJWT) aud(t testing.TB) []string {
	t.Helper()
	switch v := j.Claims["aud"].(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, a := range v {
			s, ok := a.(string)
			if !ok {
				t.Fatalf("aud holds %#v, want strings", a)
			}
			out = append(out, s)
		}
		return out
	}
	t.Fatalf("aud = %#v, want a string or an array", j.Claims["aud"])
	return nil
}

// gpWant is what a successful token response must hold.
type gpWant struct {
	client string   // sub and client_id
	ttl    int64    // expires_in, exp - iat
	scope  string   // scope in the response and the token
	aud    []string // the token's audiences
}

// gpCheckToken asserts a 200 token response: exact body members, headers,
// and the token's claims.
func gpCheckToken(t testing.TB, res result, want gpWant) gpJWT {
	t.Helper()
	if res.status != 200 {
		t.Fatalf("status %d, want 200: %s", res.status, res.raw)
	}
	for name, value := range map[string]string{
		"Content-Type":  gpJSONHeader,
		"Cache-Control": "no-store",
		"Pragma":        "no-cache",
	} {
		if got := res.header.Get(name); got != value {
			t.Errorf("header %s = %q, want %q", name, got, value)
		}
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal([]byte(res.raw), &members); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, res.raw)
	}
	wantMembers := []string{"access_token", "created_at", "expires_in", "scope", "token_type"}
	if got := slices.Sorted(maps.Keys(members)); !slices.Equal(got, wantMembers) {
		t.Errorf("body members = %v, want exactly %v", got, wantMembers)
	}
	// Numbers on the wire are integers, not 7200.0 or "7200".
	if got, want := string(members["expires_in"]), strconv.FormatInt(want.ttl, 10); got != want {
		t.Errorf("expires_in = %s, want %s", got, want)
	}
	if got, want := string(members["created_at"]), strconv.FormatInt(fixedNow.Unix(), 10); got != want {
		t.Errorf("created_at = %s, want %s", got, want)
	}
	if got := string(members["scope"]); got != strconv.Quote(want.scope) {
		t.Errorf("scope = %s, want %q", got, want.scope)
	}
	if res.body.TokenType != "Bearer" {
		t.Errorf("token_type = %q, want Bearer", res.body.TokenType)
	}

	tok := gpDecode(t, res.body.AccessToken)
	if got := tok.str(t, "sub"); got != want.client {
		t.Errorf("sub = %q, want %q", got, want.client)
	}
	if got := tok.str(t, "client_id"); got != want.client {
		t.Errorf("client_id = %q, want %q", got, want.client)
	}
	if got := tok.str(t, "scope"); got != want.scope {
		t.Errorf("token scope = %q, want %q", got, want.scope)
	}
	if got := tok.aud(t); !slices.Equal(got, want.aud) {
		t.Errorf("aud = %q, want %q", got, want.aud)
	}
	iat := tok.num(t, "iat")
	if iat != fixedNow.Unix() {
		t.Errorf("iat = %d, want %d", iat, fixedNow.Unix())
	}
	if got := tok.num(t, "exp"); got != iat+want.ttl {
		t.Errorf("exp = %d, want iat+%d = %d", got, want.ttl, iat+want.ttl)
	}
	return tok
}

// gpCheckError asserts an OAuth error response.
func gpCheckError(t testing.TB, res result, status int, code string) {
	t.Helper()
	if res.status != status || res.body.Error != code {
		t.Fatalf("got %d %q, want %d %q: %s", res.status, res.body.Error, status, code, res.raw)
	}
	if res.body.AccessToken != "" {
		t.Errorf("error response carries an access token: %s", res.raw)
	}
	if res.body.Description == "" {
		t.Errorf("error response has no error_description: %s", res.raw)
	}
	if got := res.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
}

// gpBasic is an Authorization header value built exactly as RFC 6749
// §2.3.1 says: each part form-urlencoded, then joined by ':' and base64.
func gpBasic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func TestClientCredentialsAuthMethods(t *testing.T) {
	t.Parallel()
	ts, _ := newServer(t, gpClients(t))
	integration := gpWant{client: integrationID, ttl: 7200, scope: "market:all", aud: []string{apiAudience}}
	sales := gpWant{client: salesChannelID, ttl: 14400, scope: gpMarket, aud: []string{apiAudience}}
	odd := gpWant{client: gpOddID, ttl: 1800, scope: "market:all", aud: []string{apiAudience}}

	tests := []struct {
		name string
		send func(t *testing.T) result
		want gpWant
	}{
		{"basic/form", func(t *testing.T) result {
			return postForm(t, ts, url.Values{"grant_type": {gpGrantCC}}, integrationID+":"+integrationSecret)
		}, integration},
		{"basic/form with matching client_id in body", func(t *testing.T) result {
			return postForm(t, ts, url.Values{"grant_type": {gpGrantCC}, "client_id": {integrationID}}, integrationID+":"+integrationSecret)
		}, integration},
		{"basic/json", func(t *testing.T) result {
			return gpPostJSON(t, ts, map[string]any{"grant_type": gpGrantCC}, "Authorization", gpBasic(integrationID, integrationSecret))
		}, integration},
		{"basic/form-urlencoded id and secret", func(t *testing.T) result {
			return postRaw(t, ts, "application/x-www-form-urlencoded", "grant_type=client_credentials",
				"Authorization", gpBasic(gpOddID, gpOddSecret))
		}, odd},
		{"basic/hand-encoded id and secret", func(t *testing.T) result {
			// Spelled out so the test does not depend on url.QueryEscape:
			// ':' is %3A, ' ' is '+', 'ü' is %C3%BC, '+' is %2B.
			creds := "partner%3Aeu+1%2F%C3%BC:p%40ss%3Aw%2Brd%2F%3D%26%25%C3%BC+x"
			return postRaw(t, ts, "application/x-www-form-urlencoded", "grant_type=client_credentials",
				"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(creds)))
		}, odd},
		{"basic/lower-case scheme", func(t *testing.T) result {
			return postRaw(t, ts, "application/x-www-form-urlencoded", "grant_type=client_credentials",
				"Authorization", "basic "+base64.StdEncoding.EncodeToString([]byte(integrationID+":"+integrationSecret)))
		}, integration},
		{"basic/generated secret", func(t *testing.T) result {
			return postForm(t, ts, url.Values{"grant_type": {gpGrantCC}}, gpGeneratedID+":"+gpGeneratedSecret(t))
		}, gpWant{client: gpGeneratedID, ttl: 900, scope: "orders:read", aud: []string{qaAudience}}},
		{"post/form", func(t *testing.T) result {
			return postForm(t, ts, url.Values{"grant_type": {gpGrantCC}, "client_id": {integrationID}, "client_secret": {integrationSecret}})
		}, integration},
		{"post/form odd id and secret", func(t *testing.T) result {
			return postForm(t, ts, url.Values{"grant_type": {gpGrantCC}, "client_id": {gpOddID}, "client_secret": {gpOddSecret}})
		}, odd},
		{"post/form with charset", func(t *testing.T) result {
			body := url.Values{"grant_type": {gpGrantCC}, "client_id": {integrationID}, "client_secret": {integrationSecret}}.Encode()
			return postRaw(t, ts, "application/x-www-form-urlencoded; charset=UTF-8", body)
		}, integration},
		{"post/json", func(t *testing.T) result {
			return gpPostJSON(t, ts, map[string]any{"grant_type": gpGrantCC, "client_id": integrationID, "client_secret": integrationSecret})
		}, integration},
		{"post/json odd id and secret", func(t *testing.T) result {
			return gpPostJSON(t, ts, map[string]any{"grant_type": gpGrantCC, "client_id": gpOddID, "client_secret": gpOddSecret})
		}, odd},
		{"post/json with charset", func(t *testing.T) result {
			return postRaw(t, ts, "application/json; charset=utf-8",
				`{"grant_type":"client_credentials","client_id":"integration","client_secret":"a-long-secret-value"}`)
		}, integration},
		{"none/json (seed 002 sales channel)", func(t *testing.T) result {
			return postRaw(t, ts, gpJSONType, `{
  "grant_type": "client_credentials",
  "client_id": "sales-channel",
  "scope": "market:id:xYZkjABcde"
}`, "Accept", "application/json")
		}, sales},
		{"none/form", func(t *testing.T) result {
			return postForm(t, ts, url.Values{"grant_type": {gpGrantCC}, "client_id": {salesChannelID}, "scope": {gpMarket}})
		}, sales},
		{"none/json null secret", func(t *testing.T) result {
			return postRaw(t, ts, gpJSONType, `{"grant_type":"client_credentials","client_id":"sales-channel","client_secret":null,"scope":"market:id:xYZkjABcde"}`)
		}, sales},
		{"none/form empty secret", func(t *testing.T) result {
			// RFC 6749 §3.2: a parameter sent without a value is omitted.
			return postRaw(t, ts, "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=sales-channel&client_secret=&scope=market%3Aid%3AxYZkjABcde")
		}, sales},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gpCheckToken(t, tt.send(t), tt.want)
		})
	}
}

func TestTokenResponseShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*handler.Config)
		form   url.Values
		basic  string
		want   gpWant
	}{
		{"integration: its own 2h", nil, url.Values{}, integrationID + ":" + integrationSecret,
			gpWant{client: integrationID, ttl: 7200, scope: "market:all", aud: []string{apiAudience}}},
		{"sales channel: its own 4h", nil, url.Values{"client_id": {salesChannelID}, "scope": {gpMarket}}, "",
			gpWant{client: salesChannelID, ttl: 14400, scope: gpMarket, aud: []string{apiAudience}}},
		{"no client TTL: server default 1h", nil, url.Values{}, gpDefaultTTLID + ":" + gpGeneratedSecret(t),
			gpWant{client: gpDefaultTTLID, ttl: 3600, scope: "market:all", aud: []string{apiAudience}}},
		{"no client TTL: Config.AccessTokenTTL 15m, not 899", func(c *handler.Config) { c.AccessTokenTTL = 15 * time.Minute },
			url.Values{}, gpDefaultTTLID + ":" + gpGeneratedSecret(t),
			gpWant{client: gpDefaultTTLID, ttl: 900, scope: "market:all", aud: []string{apiAudience}}},
		{"client TTL wins over Config.AccessTokenTTL", func(c *handler.Config) { c.AccessTokenTTL = 15 * time.Minute },
			url.Values{}, integrationID + ":" + integrationSecret,
			gpWant{client: integrationID, ttl: 7200, scope: "market:all", aud: []string{apiAudience}}},
		{"no default scopes: scope present and empty", nil, url.Values{"client_id": {gpNoDefaultsID}}, "",
			gpWant{client: gpNoDefaultsID, ttl: 3600, scope: "", aud: []string{apiAudience}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, _ := newServer(t, gpClients(t, func(c *handler.Config) {
				if tt.mutate != nil {
					tt.mutate(c)
				}
			}))
			tt.form.Set("grant_type", gpGrantCC)
			var res result
			if tt.basic != "" {
				res = postForm(t, ts, tt.form, tt.basic)
			} else {
				res = postForm(t, ts, tt.form)
			}
			tok := gpCheckToken(t, res, tt.want)
			if tt.want.scope == "" {
				// RFC 9068 §2.2.3: scope is there when granted; ours is
				// always present, as a string.
				if v, ok := tok.Claims["scope"]; !ok || v != "" {
					t.Errorf("token scope claim = %#v (present %v), want \"\"", v, ok)
				}
			}
		})
	}
}

func TestClientCredentialsScopes(t *testing.T) {
	t.Parallel()
	ts, _ := newServer(t, gpClients(t))
	integration := integrationID + ":" + integrationSecret
	tests := []struct {
		name      string
		client    string // "id:secret" for Basic, or a public client id
		scope     *string
		wantScope string // granted, when wantError is ""
		wantError string
	}{
		{"no scope: default scopes", integration, nil, "market:all", ""},
		{"empty scope: default scopes", integration, new(""), "market:all", ""},
		{"the default scope by name", integration, new("market:all"), "market:all", ""},
		{"wildcard grants a concrete market", integration, new(gpMarket), gpMarket, ""},
		{"several scopes, in request order", integration, new(gpMarket + " market:all"), gpMarket + " market:all", ""},
		{"several markets", integration, new("market:id:aaa market:id:bbb market:all"), "market:id:aaa market:id:bbb market:all", ""},
		{"duplicate scope granted once", integration, new("market:all market:all"), "market:all", ""},
		{"public client names its market", salesChannelID, new(gpMarket), gpMarket, ""},
		{"public client without defaults, no scope", gpNoDefaultsID, nil, "", ""},
		{"public client without defaults, a scope", gpNoDefaultsID, new("market:all"), "market:all", ""},

		{"require_scope client without scope", salesChannelID, nil, "", "invalid_scope"},
		{"require_scope client with empty scope", salesChannelID, new(""), "", "invalid_scope"},
		{"requesting the wildcard itself", integration, new("market:id:*"), "", "invalid_scope"},
		{"public client requesting the wildcard", salesChannelID, new("market:id:*"), "", "invalid_scope"},
		{"a scope not allowed", integration, new("admin"), "", "invalid_scope"},
		{"a scope allowed to another client only", salesChannelID, new("market:all"), "", "invalid_scope"},
		{"one allowed, one not", integration, new("market:all admin"), "", "invalid_scope"},
		{"wildcard covers exactly one segment (too few)", integration, new("market:id"), "", "invalid_scope"},
		{"wildcard covers exactly one segment (too many)", integration, new("market:id:a:b"), "", "invalid_scope"},
		{"wildcard segment must not be empty", integration, new("market:id:"), "", "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			form := url.Values{"grant_type": {gpGrantCC}}
			if tt.scope != nil {
				form.Set("scope", *tt.scope)
			}
			var res result
			id, _, confidential := strings.Cut(tt.client, ":")
			if confidential {
				res = postForm(t, ts, form, tt.client)
			} else {
				form.Set("client_id", id)
				res = postForm(t, ts, form)
			}
			if tt.wantError != "" {
				gpCheckError(t, res, 400, tt.wantError)
				return
			}
			ttl := map[string]int64{integrationID: 7200, salesChannelID: 14400, gpNoDefaultsID: 3600}[id]
			gpCheckToken(t, res, gpWant{client: id, ttl: ttl, scope: tt.wantScope, aud: []string{apiAudience}})
		})
	}
}

func TestClientCredentialsAudience(t *testing.T) {
	t.Parallel()
	ts, _ := newServer(t, gpClients(t))
	const evil = "https://evil.example.com"
	tests := []struct {
		name      string
		form      url.Values // nil: send json
		json      map[string]any
		wantAud   []string
		wantError string
	}{
		{"none: the client's first audience", url.Values{}, nil, []string{apiAudience}, ""},
		{"audience: the first", url.Values{"audience": {apiAudience}}, nil, []string{apiAudience}, ""},
		{"audience: the second (test environment)", url.Values{"audience": {qaAudience}}, nil, []string{qaAudience}, ""},
		{"audience: two, space separated", url.Values{"audience": {qaAudience + " " + apiAudience}}, nil, []string{qaAudience, apiAudience}, ""},
		{"audience: repeated value granted once", url.Values{"audience": {qaAudience + " " + qaAudience}}, nil, []string{qaAudience}, ""},
		{"resource: one", url.Values{"resource": {qaAudience}}, nil, []string{qaAudience}, ""},
		{"resource: repeated", url.Values{"resource": {apiAudience, qaAudience}}, nil, []string{apiAudience, qaAudience}, ""},
		{"audience and resource together", url.Values{"audience": {qaAudience}, "resource": {apiAudience, qaAudience}}, nil, []string{qaAudience, apiAudience}, ""},
		{"json: audience string", nil, map[string]any{"audience": qaAudience}, []string{qaAudience}, ""},
		{"json: audience space separated", nil, map[string]any{"audience": apiAudience + " " + qaAudience}, []string{apiAudience, qaAudience}, ""},
		{"json: audience array of one", nil, map[string]any{"audience": []string{qaAudience}}, []string{qaAudience}, ""},
		{"json: audience array of two", nil, map[string]any{"audience": []string{qaAudience, apiAudience}}, []string{qaAudience, apiAudience}, ""},
		{"json: resource array", nil, map[string]any{"resource": []string{qaAudience}}, []string{qaAudience}, ""},
		{"json: resource string", nil, map[string]any{"resource": qaAudience}, []string{qaAudience}, ""},

		{"audience not allowed", url.Values{"audience": {evil}}, nil, nil, "invalid_target"},
		{"audience: one allowed, one not", url.Values{"audience": {apiAudience + " " + evil}}, nil, nil, "invalid_target"},
		{"audience: a prefix of an allowed one is not it", url.Values{"audience": {"https://api.example.com/v1"}}, nil, nil, "invalid_target"},
		{"audience: compared exactly, trailing slash", url.Values{"audience": {apiAudience + "/"}}, nil, nil, "invalid_target"},
		{"resource not allowed", url.Values{"resource": {apiAudience, evil}}, nil, nil, "invalid_target"},
		{"json: audience array with one not allowed", nil, map[string]any{"audience": []string{apiAudience, evil}}, nil, "invalid_target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var res result
			if tt.form != nil {
				tt.form.Set("grant_type", gpGrantCC)
				res = postForm(t, ts, tt.form, integrationID+":"+integrationSecret)
			} else {
				tt.json["grant_type"] = gpGrantCC
				tt.json["client_id"] = integrationID
				tt.json["client_secret"] = integrationSecret
				res = gpPostJSON(t, ts, tt.json)
			}
			if tt.wantError != "" {
				gpCheckError(t, res, 400, tt.wantError)
				return
			}
			tok := gpCheckToken(t, res, gpWant{client: integrationID, ttl: 7200, scope: "market:all", aud: tt.wantAud})
			// One audience is a string, as RFC 9068's examples have it.
			if _, isString := tok.Claims["aud"].(string); isString != (len(tt.wantAud) == 1) {
				t.Errorf("aud = %#v: want a string for one audience, an array for several", tok.Claims["aud"])
			}
		})
	}
}

// A public client with several audiences picks with resource, like a
// confidential one.
func TestClientCredentialsAudiencePublicClient(t *testing.T) {
	t.Parallel()
	ts, _ := newServer(t, func(cfg *handler.Config) {
		err := cfg.Clients.(*memory.Store).CreateClient(context.Background(), &storage.Client{
			ID: "storefront-eu", Public: true, GrantTypes: []string{gpGrantCC}, Scopes: []string{"market:id:*"},
			RequireScope: true, Audiences: []string{qaAudience, apiAudience}, AccessTokenTTL: 4 * time.Hour,
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	res := postForm(t, ts, url.Values{"grant_type": {gpGrantCC}, "client_id": {"storefront-eu"}, "scope": {gpMarket}, "resource": {apiAudience}})
	gpCheckToken(t, res, gpWant{client: "storefront-eu", ttl: 14400, scope: gpMarket, aud: []string{apiAudience}})
	res = postForm(t, ts, url.Values{"grant_type": {gpGrantCC}, "client_id": {"storefront-eu"}, "scope": {gpMarket}})
	gpCheckToken(t, res, gpWant{client: "storefront-eu", ttl: 14400, scope: gpMarket, aud: []string{qaAudience}})
}

func TestNewConfigErrors(t *testing.T) {
	t.Parallel()
	store := testClients(t)
	weakRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	valid := func() handler.Config {
		return handler.Config{Issuer: "https://auth.example.com", Clients: store, Keys: []handler.SigningKey{{ID: "k1", Algorithm: "ES256", Key: p256}}}
	}
	tests := []struct {
		name   string
		mutate func(*handler.Config)
		want   []string // each must appear in the error, which is one line
	}{
		{"missing issuer", func(c *handler.Config) { c.Issuer = "" }, []string{"Config.Issuer: is required"}},
		{"issuer not a URL", func(c *handler.Config) { c.Issuer = "auth.example.com" }, []string{`Config.Issuer: "auth.example.com"`}},
		{"issuer not http(s)", func(c *handler.Config) { c.Issuer = "ftp://auth.example.com" }, []string{`Config.Issuer: "ftp://auth.example.com"`}},
		{"issuer with query", func(c *handler.Config) { c.Issuer = "https://auth.example.com?tenant=1" }, []string{"Config.Issuer"}},
		{"issuer with fragment", func(c *handler.Config) { c.Issuer = "https://auth.example.com#x" }, []string{"Config.Issuer"}},
		{"issuer with user info", func(c *handler.Config) { c.Issuer = "https://me:pw@auth.example.com" }, []string{"Config.Issuer"}},
		{"missing clients", func(c *handler.Config) { c.Clients = nil }, []string{"Config.Clients: is required"}},
		{"unknown key algorithm", func(c *handler.Config) { c.Keys = []handler.SigningKey{{ID: "k1", Algorithm: "HS256"}} },
			[]string{`Config.Keys[0].Algorithm: "HS256"`}},
		{"unknown algorithm of the second key", func(c *handler.Config) {
			c.Keys = append(c.Keys, handler.SigningKey{ID: "k2", Algorithm: "none"})
		}, []string{`Config.Keys[1].Algorithm: "none"`}},
		{"bad token rate", func(c *handler.Config) { c.RateLimits.Token = "100/S" }, []string{"Config.RateLimits.Token"}},
		{"bad per-IP rate", func(c *handler.Config) { c.RateLimits.TokenPerIP = "lots" }, []string{"Config.RateLimits.TokenPerIP"}},
		{"bad failed-auth rate", func(c *handler.Config) { c.RateLimits.FailedAuth = "10-Y" }, []string{"Config.RateLimits.FailedAuth"}},
		{"RSA key under 2048 bits", func(c *handler.Config) { c.Keys = []handler.SigningKey{{ID: "weak", Algorithm: "RS256", Key: weakRSA}} },
			[]string{"Config.Keys[0]", "1024 bits"}},
		{"RSA key for ES256", func(c *handler.Config) { c.Keys = []handler.SigningKey{{ID: "k", Algorithm: "ES256", Key: weakRSA}} },
			[]string{"Config.Keys[0]", "ES256"}},
		{"P-384 key for ES256", func(c *handler.Config) { c.Keys = []handler.SigningKey{{ID: "k", Algorithm: "ES256", Key: p384}} },
			[]string{"Config.Keys[0]", "P-256"}},
		{"P-256 key with the default algorithm (RS256)", func(c *handler.Config) { c.Keys = []handler.SigningKey{{ID: "k", Key: p256}} },
			[]string{"Config.Keys[0]", "RS256"}},
		{"two keys with the same kid", func(c *handler.Config) {
			c.Keys = []handler.SigningKey{{ID: "k1", Algorithm: "ES256", Key: p256}, {ID: "k1", Algorithm: "EdDSA"}}
		}, []string{"Config.Keys", `kid "k1"`}},
		{"negative AccessTokenTTL", func(c *handler.Config) { c.AccessTokenTTL = -time.Second }, []string{"Config.AccessTokenTTL"}},
		{"negative MaxBodyBytes", func(c *handler.Config) { c.MaxBodyBytes = -1 }, []string{"Config.MaxBodyBytes"}},
		{"negative MaxSlowHashes", func(c *handler.Config) { c.MaxSlowHashes = -1 }, []string{"Config.MaxSlowHashes"}},
		{"bad ScopesSupported", func(c *handler.Config) { c.ScopesSupported = []string{"market:all", "two words"} },
			[]string{`Config.ScopesSupported[1]: "two words"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid()
			tt.mutate(&cfg)
			srv, err := handler.New(cfg)
			if err == nil {
				t.Fatalf("New returned a server (%v), want an error naming %q", srv != nil, tt.want)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not name %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "handler: ") {
				t.Errorf("error is not one line starting with \"handler: \":\n%s", msg)
			}
		})
	}

	// The valid base config really is valid, so each case fails for its
	// own reason.
	if _, err := handler.New(valid()); err != nil {
		t.Fatalf("base config: %v", err)
	}
}

// New reports every problem of a config at once, one per line (errors.Join),
// so a deployer fixes them in one round.
func TestNewReportsEveryProblem(t *testing.T) {
	t.Parallel()
	weakRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  handler.Config
		want []string // one line of the error each, in order
	}{
		{"config problems", handler.Config{
			RateLimits: handler.RateLimits{Token: "fast"},
			Keys:       []handler.SigningKey{{ID: "k1", Algorithm: "HS512"}},
		}, []string{"Config.Issuer: is required", "Config.Clients: is required", "Config.RateLimits.Token", `Config.Keys[0].Algorithm: "HS512"`}},
		{"two bad keys", handler.Config{
			Issuer: "https://auth.example.com", Clients: testClients(t),
			Keys: []handler.SigningKey{{ID: "weak", Algorithm: "RS256", Key: weakRSA}, {ID: "ec", Algorithm: "EdDSA", Key: p256}},
		}, []string{`Config.Keys[0]: keys: key "weak": RSA key has 1024 bits`, `Config.Keys[1]: keys: key "ec"`}},
		{"config and key problems", handler.Config{
			Clients: testClients(t),
			Keys:    []handler.SigningKey{{ID: "weak", Algorithm: "RS256", Key: weakRSA}},
		}, []string{"Config.Issuer: is required", `Config.Keys[0]: keys: key "weak": RSA key has 1024 bits`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := handler.New(tt.cfg)
			if err == nil {
				t.Fatalf("New succeeded, want %d problems", len(tt.want))
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("error has %d lines, want %d (one per problem):\n%s", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				if i >= len(lines) || !strings.HasPrefix(lines[i], "handler: ") || !strings.Contains(lines[i], w) {
					t.Errorf("line %d does not name %q:\n%s", i, w, err)
				}
			}
		})
	}
}

// New reads its Config and keeps its own copy: the caller's slices are not
// written, so one Config (or one Keys slice) may be shared by several
// servers built concurrently, as parallel tests and multi-tenant apps do.
func TestNewDoesNotModifyConfig(t *testing.T) {
	t.Parallel()
	keys := []handler.SigningKey{{ID: "default-alg"}, {ID: "ec", Algorithm: "ES256"}}
	cfg := handler.Config{Issuer: "https://auth.example.com/", Clients: testClients(t), Keys: keys}
	if _, err := handler.New(cfg); err != nil {
		t.Fatal(err)
	}
	if keys[0].Algorithm != "" || keys[0].Key != nil || keys[1].Key != nil {
		t.Errorf("New wrote into the caller's Config.Keys: %+v", keys)
	}
	if cfg.Issuer != "https://auth.example.com/" {
		t.Errorf("New changed the caller's Issuer to %q", cfg.Issuer)
	}
}
