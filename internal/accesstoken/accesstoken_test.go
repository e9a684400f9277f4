package accesstoken

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tollgate-oauth/tollgate/internal/keys"
)

var (
	issued = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	expiry = issued.Add(2 * time.Hour)
)

func baseClaims() *Claims {
	return &Claims{
		Issuer:   "http://tollgate.test",
		Subject:  "integration",
		Audience: []string{"https://api.example.com"},
		ClientID: "integration",
		Scopes:   []string{"market:all", "market:id:xYZ"},
		IssuedAt: issued,
		Expiry:   expiry,
		ID:       "jti-1",
	}
}

// decode marshals c and reads it back as generic JSON, keeping numbers
// exact.
func decode(t *testing.T, c *Claims) map[string]any {
	t.Helper()
	b, err := c.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	if !json.Valid(b) {
		t.Fatalf("MarshalJSON wrote invalid JSON: %s", b)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMarshalJSONRegistered(t *testing.T) {
	t.Parallel()
	m := decode(t, baseClaims())
	want := map[string]any{
		"iss":       "http://tollgate.test",
		"sub":       "integration",
		"aud":       "https://api.example.com", // one audience: a string
		"exp":       json.Number(strconv.FormatInt(expiry.Unix(), 10)),
		"iat":       json.Number(strconv.FormatInt(issued.Unix(), 10)),
		"nbf":       json.Number(strconv.FormatInt(issued.Unix(), 10)), // nbf = iat
		"jti":       "jti-1",
		"client_id": "integration",
		"scope":     "market:all market:id:xYZ",
	}
	if len(m) != len(want) {
		t.Errorf("claims %v, want exactly %v", m, want)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
}

func TestMarshalJSONAudience(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		aud  []string
		want string
	}{
		{"one", []string{"https://a"}, `"https://a"`},
		{"several", []string{"https://a", "https://b"}, `["https://a","https://b"]`},
	}
	for _, tt := range tests {
		c := baseClaims()
		c.Audience = tt.aud
		b, err := c.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if string(m["aud"]) != tt.want {
			t.Errorf("%s: aud = %s, want %s", tt.name, m["aud"], tt.want)
		}
	}
}

func TestMarshalJSONScope(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		scopes []string
		want   string
	}{
		{nil, ""},
		{[]string{"a"}, "a"},
		{[]string{"market:all", "market:id:*", "read"}, "market:all market:id:* read"},
	} {
		c := baseClaims()
		c.Scopes = tt.scopes
		if got := decode(t, c)["scope"]; got != tt.want {
			t.Errorf("scopes %q: scope = %q, want %q", tt.scopes, got, tt.want)
		}
	}
}

func TestMarshalJSONExtra(t *testing.T) {
	t.Parallel()
	c := baseClaims()
	c.Extra = map[string]any{
		"tenant": "acme",
		"roles":  []string{"reader", "writer"},
		"nested": map[string]any{"level": 2},
	}
	m := decode(t, c)
	if m["tenant"] != "acme" {
		t.Errorf("tenant = %#v", m["tenant"])
	}
	if roles, ok := m["roles"].([]any); !ok || len(roles) != 2 || roles[0] != "reader" {
		t.Errorf("roles = %#v", m["roles"])
	}
	if nested, ok := m["nested"].(map[string]any); !ok || nested["level"] != json.Number("2") {
		t.Errorf("nested = %#v (custom claims are top-level, not under ext)", m["nested"])
	}
	if _, ok := m["ext"]; ok {
		t.Error("custom claims nested under ext")
	}
	// The registered claims are all still there.
	for _, k := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope"} {
		if _, ok := m[k]; !ok {
			t.Errorf("%s missing next to custom claims", k)
		}
	}

	// An empty Extra adds nothing.
	c = baseClaims()
	c.Extra = map[string]any{}
	if m := decode(t, c); len(m) != 9 {
		t.Errorf("empty Extra: %d claims, want 9", len(m))
	}
}

func TestMarshalJSONReservedExtra(t *testing.T) {
	t.Parallel()
	for name := range Reserved {
		c := baseClaims()
		c.Extra = map[string]any{"ok": 1, name: "evil"}
		b, err := c.MarshalJSON()
		if err == nil {
			t.Errorf("Extra[%q]: MarshalJSON = %s, want an error", name, b)
			continue
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("Extra[%q]: error %q does not name the claim", name, err)
		}
	}
	// Mint refuses too, without signing anything.
	c := baseClaims()
	c.Extra = map[string]any{"sub": "admin"}
	if tok, err := Mint(mustKey(t), c); err == nil {
		t.Errorf("Mint with a reserved custom claim = %q", tok)
	}
}

func TestMarshalJSONBadExtra(t *testing.T) {
	t.Parallel()
	c := baseClaims()
	c.Extra = map[string]any{"f": math.Inf(1)}
	if b, err := c.MarshalJSON(); err == nil {
		t.Errorf("unencodable custom claim: %s", b)
	}
}

func TestMint(t *testing.T) {
	t.Parallel()
	k := mustKey(t)
	c := baseClaims()
	c.Extra = map[string]any{"tenant": "acme"}
	token, err := Mint(k, c)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	if h := jws.Signatures[0].Header; h.KeyID != "k1" || h.ExtraHeaders["typ"] != keys.AccessTokenType {
		t.Errorf("header kid %q typ %v", h.KeyID, h.ExtraHeaders["typ"])
	}
	payload, err := jws.Verify(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := c.MarshalJSON()
	if !bytes.Equal(payload, want) {
		t.Errorf("payload %s, want %s", payload, want)
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 1000 {
		id, err := NewID(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != 22 { // 16 bytes, base64url without padding
			t.Fatalf("id %q has %d characters, want 22", id, len(id))
		}
		b, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(b) != 16 {
			t.Fatalf("id %q is not 128 bits of base64url: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
	}
}

func TestNewIDReadsGivenReader(t *testing.T) {
	t.Parallel()
	entropy := bytes.Repeat([]byte{0xAB}, 16)
	id, err := NewID(bytes.NewReader(entropy))
	if err != nil {
		t.Fatal(err)
	}
	if want := base64.RawURLEncoding.EncodeToString(entropy); id != want {
		t.Errorf("NewID = %q, want %q from the given reader", id, want)
	}

	// Short or failing entropy is an error, never a weak id.
	if id, err := NewID(bytes.NewReader(entropy[:15])); err == nil {
		t.Errorf("NewID with 15 bytes of entropy = %q", id)
	}
	boom := errors.New("boom")
	if _, err := NewID(failingReader{boom}); !errors.Is(err, boom) {
		t.Errorf("NewID with a failing reader: %v, want it wrapped", err)
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

var _ io.Reader = failingReader{}

func mustKey(t *testing.T) *keys.Key {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	k, err := keys.New("k1", keys.EdDSA, priv)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSubjectType(t *testing.T) {
	t.Parallel()
	c := baseClaims()
	if m := decode(t, c); m["sub_type"] != nil {
		t.Errorf("a user token carries sub_type %v", m["sub_type"])
	}
	c.SubjectType = SubjectClient
	if m := decode(t, c); m["sub_type"] != "client" {
		t.Errorf("sub_type = %#v, want \"client\"", m["sub_type"])
	}
}
