// Package keys holds the token signing keys: generating and parsing them,
// signing compact JWS with them, and publishing their public halves as a
// JWKS. Each key is bound to exactly one algorithm and a stable kid (RFC
// 8725 §3.1). Signing uses the standard library (sign.go); go-jose
// renders the JWKS.
package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Algorithms tollgate signs with.
const (
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// Algorithms lists the supported algorithms, default first.
var Algorithms = []string{RS256, ES256, EdDSA}

// AccessTokenType is the JWS "typ" of access tokens (RFC 9068 §2.1).
const AccessTokenType = "at+jwt"

const minRSABits = 2048

// Key is one signing key.
type Key struct {
	ID  string
	Alg string
	// ActiveFrom is when the key starts signing (Set.SigningAt); zero:
	// whenever it is in a Set.
	ActiveFrom time.Time

	private crypto.Signer
	header  string // the protected header, encoded, with its "."
}

// Generate makes a new private key for alg. r defaults to crypto/rand (the
// standard library may ignore it for RSA).
func Generate(alg string, r io.Reader) (crypto.Signer, error) {
	if r == nil {
		r = rand.Reader
	}
	switch alg {
	case RS256:
		return rsa.GenerateKey(r, minRSABits)
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), r)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(r)
		return priv, err
	}
	return nil, fmt.Errorf("keys: unknown algorithm %q (want RS256, ES256 or EdDSA)", alg)
}

// ParsePEM reads a private key from PEM: PKCS#8 ("PRIVATE KEY"), PKCS#1
// ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY").
func ParsePEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("keys: no PEM block found")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("keys: PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: parsing %s: %w", block.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keys: %T is not a signing key", key)
	}
	return signer, nil
}

// MarshalPEM writes a private key as PKCS#8 PEM.
func MarshalPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// New binds a private key to its kid and algorithm, checking that they fit:
// RS256 needs RSA of at least 2048 bits, ES256 a P-256 key, EdDSA Ed25519.
func New(id, alg string, private crypto.Signer) (*Key, error) {
	if id == "" {
		return nil, errors.New("keys: kid is required")
	}
	if err := CheckPair(alg, private); err != nil {
		return nil, fmt.Errorf("keys: key %q: %w", id, err)
	}
	header, err := protectedHeader(id, alg)
	if err != nil {
		return nil, fmt.Errorf("keys: key %q: %w", id, err)
	}
	return &Key{ID: id, Alg: alg, private: private, header: header}, nil
}

// CheckPair reports whether private can sign alg: RS256 needs RSA of at
// least 2048 bits, ES256 a P-256 key, EdDSA Ed25519.
func CheckPair(alg string, private crypto.Signer) error {
	switch k := private.(type) {
	case *rsa.PrivateKey:
		if alg != RS256 {
			return fmt.Errorf("an RSA key cannot sign %s", alg)
		}
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key has %d bits, want at least %d", k.N.BitLen(), minRSABits)
		}
	case *ecdsa.PrivateKey:
		if alg != ES256 {
			return fmt.Errorf("an ECDSA key cannot sign %s", alg)
		}
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("ES256 needs a P-256 key, got %s", k.Curve.Params().Name)
		}
	case ed25519.PrivateKey:
		if alg != EdDSA {
			return fmt.Errorf("an Ed25519 key cannot sign %s", alg)
		}
	case nil:
		return errors.New("no private key")
	default:
		return fmt.Errorf("unsupported key type %T", private)
	}
	return nil
}

// Public returns the public key.
func (k *Key) Public() crypto.PublicKey { return k.private.Public() }

// Private returns the private key, for persisting generated keys.
func (k *Key) Private() crypto.Signer { return k.private }

// Set is the ordered key set of a server: every key is published, so a
// new key can be announced before it signs and an old one kept until its
// tokens expire. Which key signs is SigningAt's choice.
type Set struct {
	keys []*Key
	algs []string
	jwks []byte
}

// NewSet checks that kids are unique and renders the JWKS once. Keys come
// newest first: SigningAt takes the first one whose ActiveFrom has come,
// so of keys without a schedule the first signs.
func NewSet(keys ...*Key) (*Set, error) {
	if len(keys) == 0 {
		return nil, errors.New("keys: at least one key is required")
	}
	set := jose.JSONWebKeySet{}
	seen := make(map[string]bool, len(keys))
	var algs []string
	for _, k := range keys {
		if seen[k.ID] {
			return nil, fmt.Errorf("keys: kid %q is used twice", k.ID)
		}
		seen[k.ID] = true
		if !slices.Contains(algs, k.Alg) {
			algs = append(algs, k.Alg)
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: k.ID, Algorithm: k.Alg, Use: "sig"})
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("keys: rendering JWKS: %w", err)
	}
	return &Set{keys: keys, algs: algs, jwks: jwks}, nil
}

// Signing returns the first key, the one that signs when no key has a
// schedule.
func (s *Set) Signing() *Key { return s.keys[0] }

// SigningAt returns the key that signs at now: the first whose ActiveFrom
// is not after now. Every instance holding the same keys switches at the
// same instant, whenever it last re-read them. If every key is still to
// come (only a clock set back can do that), the oldest signs.
func (s *Set) SigningAt(now time.Time) *Key {
	for _, k := range s.keys {
		if !k.ActiveFrom.After(now) {
			return k
		}
	}
	return s.keys[len(s.keys)-1]
}

// Keys returns every key, in the order given to NewSet.
func (s *Set) Keys() []*Key { return s.keys }

// Algorithms returns the algorithms of the keys, each once.
func (s *Set) Algorithms() []string { return s.algs }

// JWKS returns the public JSON Web Key Set (RFC 7517). The caller must not
// modify it.
func (s *Set) JWKS() []byte { return s.jwks }

// Ring holds the current Set of a server whose keys change while it runs
// (rotation): a request loads the Set once and uses that, and a new Set
// replaces the old whole, so no request sees half of each.
type Ring struct{ p atomic.Pointer[Set] }

// NewRing returns a Ring holding s.
func NewRing(s *Set) *Ring {
	r := &Ring{}
	r.p.Store(s)
	return r
}

// Load returns the current Set.
func (r *Ring) Load() *Set { return r.p.Load() }

// Store makes s the current Set.
func (r *Ring) Store(s *Set) { r.p.Store(s) }
