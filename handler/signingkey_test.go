package handler_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
)

// TestSigningKeyValidate: Validate finds in one key exactly what New
// refuses in it, so a program that checks its keys first (to name the
// setting they came from) neither lets through a key New refuses nor
// refuses one New takes.
func TestSigningKeyValidate(t *testing.T) {
	t.Parallel()
	ks, err := gpKeys()
	if err != nil {
		t.Fatal(err)
	}
	weakRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	store := testClients(t)
	for _, tt := range []struct {
		name string
		key  handler.SigningKey
		want string // in Validate's error; "" for a valid key
	}{
		{"RSA, RS256", handler.SigningKey{ID: "k", Algorithm: handler.RS256, Key: ks.rsa}, ""},
		{"RSA, default algorithm", handler.SigningKey{ID: "k", Key: ks.rsa}, ""},
		{"P-256, ES256", handler.SigningKey{ID: "k", Algorithm: handler.ES256, Key: ks.ec}, ""},
		{"Ed25519, EdDSA", handler.SigningKey{ID: "k", Algorithm: handler.EdDSA, Key: ks.ed}, ""},
		{"no key: generated", handler.SigningKey{ID: "k", Algorithm: handler.ES256}, ""},
		{"no ID: the thumbprint", handler.SigningKey{Algorithm: handler.EdDSA, Key: ks.ed}, ""},
		{"unknown algorithm", handler.SigningKey{ID: "k", Algorithm: "HS256"}, `algorithm "HS256"`},
		{"lower-case algorithm", handler.SigningKey{ID: "k", Algorithm: "es256", Key: ks.ec}, `algorithm "es256"`},
		{"the MAC key's ID", handler.SigningKey{ID: storage.RefreshMACKeyID, Algorithm: handler.ES256}, "refresh-token MAC key"},
		{"RSA under 2048 bits", handler.SigningKey{ID: "k", Algorithm: handler.RS256, Key: weakRSA}, "1024 bits"},
		{"RSA key for ES256", handler.SigningKey{ID: "k", Algorithm: handler.ES256, Key: ks.rsa}, "RSA key cannot sign ES256"},
		{"P-384 for ES256", handler.SigningKey{ID: "k", Algorithm: handler.ES256, Key: p384}, "P-256"},
		{"Ed25519 for RS256 by default", handler.SigningKey{ID: "k", Key: ks.ed}, "Ed25519 key cannot sign RS256"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.key.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.want)
			}
			srv, newErr := handler.New(handler.Config{Issuer: "https://auth.example.com", Clients: store, Keys: []handler.SigningKey{tt.key}})
			if srv != nil {
				srv.Close()
			}
			if (err == nil) != (newErr == nil) {
				t.Errorf("Validate says %v but New says %v", err, newErr)
			}
		})
	}
}

// TestParseSigningKeyPEM reads each PEM form a key file may come in, and
// refuses what is not a private key.
func TestParseSigningKeyPEM(t *testing.T) {
	t.Parallel()
	ks, err := gpKeys()
	if err != nil {
		t.Fatal(err)
	}
	block := func(typ string, der []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	}
	pkcs8 := func(k crypto.Signer) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		return block("PRIVATE KEY", der, err)
	}
	sec1, err := x509.MarshalECPrivateKey(ks.ec)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(ks.ec.Public())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		pem  []byte
		alg  string // the algorithm the parsed key must sign; "" for an error
	}{
		{"PKCS #8 RSA", pkcs8(ks.rsa), handler.RS256},
		{"PKCS #8 P-256", pkcs8(ks.ec), handler.ES256},
		{"PKCS #8 Ed25519", pkcs8(ks.ed), handler.EdDSA},
		{"PKCS #1 RSA", block("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(ks.rsa), nil), handler.RS256},
		{"SEC 1 P-256", block("EC PRIVATE KEY", sec1, nil), handler.ES256},
		{"a public key", block("PUBLIC KEY", spki, nil), ""},
		{"a corrupt key", block("PRIVATE KEY", []byte("not DER"), nil), ""},
		{"no PEM at all", []byte("-----BEGIN nothing"), ""},
		{"empty", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, err := handler.ParseSigningKeyPEM(tt.pem)
			if tt.alg == "" {
				if err == nil {
					t.Fatalf("parsed %T, want an error", key)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := (handler.SigningKey{ID: "k", Algorithm: tt.alg, Key: key}).Validate(); err != nil {
				t.Errorf("the parsed key does not sign %s: %v", tt.alg, err)
			}
		})
	}
}
