package middleware

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	stdjson "encoding/json"
	"log/slog"
	"testing"

	"github.com/tollgate-oauth/tollgate/internal/keys"
)

// jwksSeeds are documents a key set may meet: tollgate's own, and keys of
// every kind parseJWKS must skip or refuse.
func jwksSeeds(f *testing.F) []string {
	var ks []*keys.Key
	for _, alg := range []string{keys.RS256, keys.ES256, keys.EdDSA} {
		priv, err := keys.Generate(alg, nil)
		if err != nil {
			f.Fatal(err)
		}
		k, err := keys.New("k-"+alg, alg, priv)
		if err != nil {
			f.Fatal(err)
		}
		ks = append(ks, k)
	}
	set, err := keys.NewSet(ks...)
	if err != nil {
		f.Fatal(err)
	}
	const ec = `"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"`
	return []string{
		string(set.JWKS()),
		`{"keys":[{` + ec + `,"kid":"a"}]}`,
		`{"keys":[{` + ec + `,"kid":"a","alg":"RS256"}]}`,
		`{"keys":[{` + ec + `,"kid":"a","use":"enc"}]}`,
		`{"keys":[{` + ec + `,"kid":"a"},{` + ec + `,"kid":"a"}]}`,
		`{"keys":[{` + ec + `,"kid":"a","d":"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"}]}`,
		`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h","alg":"HS256"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"}]}`,
		`{"keys":[{"kty":"RSA","n":"sXch","e":"AQAB","kid":"small"}]}`,
		`{"keys":[]}`, `{"keys":null}`, `{}`, `[]`, `{"keys":[1,"x",null]}`, "",
	}
}

// FuzzParseJWKS: parseJWKS never panics, and a set it accepts holds only
// public keys of the kinds tokens are verified with, each bound to an
// algorithm that fits it, under kids the document names.
func FuzzParseJWKS(f *testing.F) {
	for _, s := range jwksSeeds(f) {
		f.Add([]byte(s))
	}
	quiet := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseJWKS(data, quiet)
		if err != nil {
			if m != nil {
				t.Fatalf("a set and an error %v together", err)
			}
			return
		}
		if len(m.byKID) == 0 {
			t.Fatal("accepted a set with no key")
		}
		var doc struct {
			Keys []struct {
				KID string `json:"kid"`
			} `json:"keys"`
		}
		if err := stdjson.Unmarshal(data, &doc); err != nil {
			t.Fatalf("accepted a set encoding/json cannot read: %v", err)
		}
		named := map[string]bool{}
		for _, k := range doc.Keys {
			named[k.KID] = true
		}
		for kid, k := range m.byKID {
			if !named[kid] {
				t.Fatalf("kid %q is not in the document", kid)
			}
			if problem := unusableKey(k.Public, k.Alg); problem != "" {
				t.Fatalf("kid %q (%s): %s", kid, k.Alg, problem)
			}
		}
	})
}

// unusableKey says why pub cannot verify alg tokens, or "".
func unusableKey(pub any, alg string) string {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		switch {
		case alg != "RS256" && alg != "RS384" && alg != "RS512" && alg != "PS256" && alg != "PS384" && alg != "PS512":
			return "an RSA key bound to another algorithm"
		case pub.N == nil || pub.N.BitLen() < 2048:
			return "an RSA modulus under 2048 bits"
		case pub.E < 3 || pub.E%2 == 0:
			return "an unusable RSA exponent"
		}
	case *ecdsa.PublicKey:
		if want := map[elliptic.Curve]string{elliptic.P256(): "ES256", elliptic.P384(): "ES384", elliptic.P521(): "ES512"}[pub.Curve]; want == "" || alg != want {
			return "an EC key on a curve that does not fit the algorithm"
		}
		if _, err := pub.ECDH(); err != nil {
			return "an EC point not on its curve: " + err.Error()
		}
	case ed25519.PublicKey:
		if alg != "EdDSA" || len(pub) != ed25519.PublicKeySize {
			return "an Ed25519 key bound to another algorithm, or of the wrong size"
		}
	default:
		return "not a public key of an asymmetric signature scheme"
	}
	return ""
}
