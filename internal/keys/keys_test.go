package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// Generating RSA keys is slow, so each algorithm's key is made once.
var (
	fixtureOnce sync.Once
	fixtures    map[string]crypto.Signer
)

func fixtureKey(t testing.TB, alg string) crypto.Signer {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtures = make(map[string]crypto.Signer)
		for _, a := range Algorithms {
			k, err := Generate(a, nil)
			if err != nil {
				panic(err)
			}
			fixtures[a] = k
		}
	})
	return fixtures[alg]
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	for _, alg := range Algorithms {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			k, err := Generate(alg, nil)
			if err != nil {
				t.Fatal(err)
			}
			switch k := k.(type) {
			case *rsa.PrivateKey:
				if alg != RS256 || k.N.BitLen() < 2048 {
					t.Fatalf("%s: RSA key of %d bits", alg, k.N.BitLen())
				}
			case *ecdsa.PrivateKey:
				if alg != ES256 || k.Curve != elliptic.P256() {
					t.Fatalf("%s: ECDSA key on %s", alg, k.Curve.Params().Name)
				}
			case ed25519.PrivateKey:
				if alg != EdDSA {
					t.Fatalf("%s: Ed25519 key", alg)
				}
			default:
				t.Fatalf("%s: %T", alg, k)
			}
			// The generated key is accepted by New for its algorithm.
			if _, err := New("kid", alg, k); err != nil {
				t.Fatalf("New refuses a generated %s key: %v", alg, err)
			}
		})
	}
	if _, err := Generate("HS256", nil); err == nil {
		t.Error("Generate(HS256) succeeded")
	}
	if _, err := Generate("none", nil); err == nil {
		t.Error("Generate(none) succeeded")
	}
}

func TestGenerateUsesReader(t *testing.T) {
	t.Parallel()
	// Ed25519 keys are a pure function of the seed read from r.
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	a, err := Generate(EdDSA, bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(EdDSA, bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	if !a.(ed25519.PrivateKey).Equal(b) {
		t.Error("the same entropy gave two different Ed25519 keys: the reader was not used")
	}
	if _, err := Generate(EdDSA, bytes.NewReader(nil)); err == nil {
		t.Error("Generate with an empty reader succeeded")
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		id   string
		alg  string
		key  crypto.Signer
		want string // in the error
	}{
		{"empty kid", "", RS256, fixtureKey(t, RS256), "kid"},
		{"RSA for ES256", "k", ES256, fixtureKey(t, RS256), "RSA"},
		{"RSA for EdDSA", "k", EdDSA, fixtureKey(t, RS256), "RSA"},
		{"ECDSA for RS256", "k", RS256, fixtureKey(t, ES256), "ECDSA"},
		{"Ed25519 for ES256", "k", ES256, fixtureKey(t, EdDSA), "Ed25519"},
		{"Ed25519 for RS256", "k", RS256, fixtureKey(t, EdDSA), "Ed25519"},
		{"unknown alg", "k", "HS256", fixtureKey(t, RS256), "HS256"},
		{"RSA 1024", "k", RS256, rsa1024, "1024"},
		{"P-384 for ES256", "k", ES256, p384, "P-384"},
		{"nil key", "k", RS256, nil, "no private key"},
		{"foreign signer", "k", RS256, foreignSigner{}, "unsupported key type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := New(tt.id, tt.alg, tt.key)
			if err == nil {
				t.Fatalf("New = %+v, want an error", k)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestParsePEM(t *testing.T) {
	t.Parallel()
	rsaKey := fixtureKey(t, RS256).(*rsa.PrivateKey)
	ecKey := fixtureKey(t, ES256).(*ecdsa.PrivateKey)
	edKey := fixtureKey(t, EdDSA).(ed25519.PrivateKey)

	pkcs8 := func(k crypto.Signer) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(rsaKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	dh, err := x509.MarshalPKCS8PrivateKey(mustX25519(t))
	if err != nil {
		t.Fatal(err)
	}

	good := []struct {
		name string
		pem  []byte
		want crypto.Signer
	}{
		{"PKCS#8 RSA", pkcs8(rsaKey), rsaKey},
		{"PKCS#8 EC", pkcs8(ecKey), ecKey},
		{"PKCS#8 Ed25519", pkcs8(edKey), edKey},
		{"PKCS#1 RSA", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), rsaKey},
		{"SEC 1 EC", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), ecKey},
		{"text around the block", append(append([]byte("comment\n"), pkcs8(edKey)...), "trailer\n"...), edKey},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePEM(tt.pem)
			if err != nil {
				t.Fatal(err)
			}
			if !got.(interface{ Equal(crypto.PrivateKey) bool }).Equal(tt.want) {
				t.Errorf("parsed key differs from the one encoded")
			}
		})
	}

	bad := []struct {
		name string
		pem  []byte
		want string
	}{
		{"empty", nil, "no PEM block"},
		{"garbage", []byte("not a key at all"), "no PEM block"},
		{"public key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), "not a private key"},
		{"certificate type", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}), "not a private key"},
		{"garbage PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("garbage")}), "PRIVATE KEY"},
		{"garbage PKCS#1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("garbage")}), "RSA PRIVATE KEY"},
		{"garbage SEC 1", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("garbage")}), "EC PRIVATE KEY"},
		{"PKCS#1 in a PKCS#8 block", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), "PRIVATE KEY"},
		{"X25519 (not a signer)", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: dh}), "not a signing key"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := ParsePEM(tt.pem)
			if err == nil {
				t.Fatalf("ParsePEM = %T, want an error", k)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestMarshalPEMRoundTrip(t *testing.T) {
	t.Parallel()
	for _, alg := range Algorithms {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			k := fixtureKey(t, alg)
			data, err := MarshalPEM(k)
			if err != nil {
				t.Fatal(err)
			}
			if block, _ := pem.Decode(data); block == nil || block.Type != "PRIVATE KEY" {
				t.Fatalf("MarshalPEM wrote %q", data)
			}
			back, err := ParsePEM(data)
			if err != nil {
				t.Fatal(err)
			}
			if !back.(interface{ Equal(crypto.PrivateKey) bool }).Equal(k) {
				t.Error("round trip changed the key")
			}
			if _, err := New("k", alg, back); err != nil {
				t.Errorf("the parsed key no longer fits %s: %v", alg, err)
			}
		})
	}
}

func TestSign(t *testing.T) {
	t.Parallel()
	payload := []byte(`{"sub":"integration","scope":"market:all"}`)
	for _, alg := range Algorithms {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			k, err := New("kid-"+alg, alg, fixtureKey(t, alg))
			if err != nil {
				t.Fatal(err)
			}
			if k.ID != "kid-"+alg || k.Alg != alg {
				t.Fatalf("key %q %q", k.ID, k.Alg)
			}
			if !k.Private().(interface{ Equal(crypto.PrivateKey) bool }).Equal(fixtureKey(t, alg)) {
				t.Error("Private does not return the key given to New")
			}
			token, err := k.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(token, ".")
			if len(parts) != 3 || parts[2] == "" {
				t.Fatalf("not a compact JWS: %q", token)
			}

			// The header, read raw: exactly what RFC 9068 asks for.
			raw, err := base64.RawURLEncoding.DecodeString(parts[0])
			if err != nil {
				t.Fatal(err)
			}
			var header map[string]any
			if err := json.Unmarshal(raw, &header); err != nil {
				t.Fatal(err)
			}
			if header["alg"] != alg || header["kid"] != k.ID || header["typ"] != AccessTokenType {
				t.Errorf("header %v, want alg %s, kid %s, typ %s", header, alg, k.ID, AccessTokenType)
			}
			if _, ok := header["jwk"]; ok {
				t.Error("header embeds the key")
			}

			// Verified by go-jose on its own, against the public key only.
			jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			got, err := jws.Verify(k.Public())
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if !bytes.Equal(got, payload) {
				t.Errorf("payload %q, want %q", got, payload)
			}

			// A changed payload does not verify.
			tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2]
			if jws, err := jose.ParseSignedCompact(tampered, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)}); err == nil {
				if _, err := jws.Verify(k.Public()); err == nil {
					t.Error("a tampered token verifies")
				}
			}
			// Nor does it against another key of the same algorithm.
			other, err := Generate(alg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jws.Verify(other.Public()); err == nil {
				t.Error("the token verifies against a different key")
			}
		})
	}
}

func TestNewSet(t *testing.T) {
	t.Parallel()
	var list []*Key
	for _, alg := range Algorithms {
		k, err := New("k-"+alg, alg, fixtureKey(t, alg))
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, k)
	}
	set, err := NewSet(list...)
	if err != nil {
		t.Fatal(err)
	}
	if set.Signing() != list[0] {
		t.Error("the first key does not sign")
	}
	if got := set.Keys(); len(got) != len(list) {
		t.Errorf("Keys() has %d keys, want %d", len(got), len(list))
	}

	// The raw JSON: use, alg and kid on each key, and no private member.
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(set.JWKS(), &raw); err != nil {
		t.Fatalf("JWKS %s: %v", set.JWKS(), err)
	}
	if len(raw.Keys) != len(list) {
		t.Fatalf("JWKS has %d keys, want %d", len(raw.Keys), len(list))
	}
	for i, k := range raw.Keys {
		if k["use"] != "sig" || k["alg"] != list[i].Alg || k["kid"] != list[i].ID {
			t.Errorf("key %d: use %v, alg %v, kid %v; want sig, %s, %s", i, k["use"], k["alg"], k["kid"], list[i].Alg, list[i].ID)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %d (%s) publishes private member %q", i, list[i].Alg, private)
			}
		}
	}

	// Parsed by go-jose: public keys that verify what the set signs.
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(set.JWKS(), &jwks); err != nil {
		t.Fatal(err)
	}
	for _, k := range list {
		found := jwks.Key(k.ID)
		if len(found) != 1 || !found[0].IsPublic() || !found[0].Valid() {
			t.Fatalf("kid %s: %+v", k.ID, found)
		}
		token, err := k.Sign([]byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(k.Alg)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jws.Verify(found[0]); err != nil {
			t.Errorf("kid %s: the published key does not verify: %v", k.ID, err)
		}
	}
}

func TestNewSetRefuses(t *testing.T) {
	t.Parallel()
	if _, err := NewSet(); err == nil {
		t.Error("NewSet() with no key succeeded")
	}
	a, _ := New("same", ES256, fixtureKey(t, ES256))
	b, _ := New("same", EdDSA, fixtureKey(t, EdDSA))
	_, err := NewSet(a, b)
	if err == nil || !strings.Contains(err.Error(), `"same"`) {
		t.Errorf("NewSet with a duplicate kid: %v", err)
	}
}

// foreignSigner is a crypto.Signer of a type New does not know (an HSM
// handle, say).
type foreignSigner struct{}

func (foreignSigner) Public() crypto.PublicKey { return nil }
func (foreignSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, nil
}

func mustX25519(t *testing.T) crypto.PrivateKey {
	t.Helper()
	// An X25519 key is a valid PKCS#8 private key that cannot sign.
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// BenchmarkSign measures the bare signature, the floor under the token
// endpoint's cost for each algorithm.
func BenchmarkSign(b *testing.B) {
	payload := []byte(`{"iss":"http://127.0.0.1:8080","sub":"integration","aud":"https://api.example.com",` +
		`"exp":1795003200,"iat":1794996000,"nbf":1794996000,"jti":"0123456789abcdefghijkl","client_id":"integration","scope":"market:all"}`)
	for _, alg := range Algorithms {
		b.Run(alg, func(b *testing.B) {
			k, err := New("k1", alg, fixtureKey(b, alg))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Sign(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
