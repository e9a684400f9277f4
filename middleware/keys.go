package middleware

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/go-jose/go-jose/v4"

	"github.com/tollgate-oauth/tollgate/internal/jwtverify"
)

// KeySet holds the public keys tokens are verified with: fixed
// (LocalKeys) or fetched from an issuer and kept fresh (RemoteJWKS,
// IssuerMetadata). It is safe for concurrent use.
type KeySet struct {
	current atomic.Pointer[keyMap]
	remote  *remote // nil for a fixed set
}

// keyMap is one immutable generation of the set.
type keyMap struct {
	byKID   map[string]jwtverify.Key
	version uint64
}

// LocalKeys builds a fixed key set from a JWKS document (RFC 7517), such as
// handler.Server.JWKS() for a resource server in the same process.
func LocalKeys(jwks []byte) (*KeySet, error) {
	m, err := parseJWKS(jwks, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	ks := &KeySet{}
	ks.current.Store(m)
	return ks, nil
}

// key returns the key for kid, refetching a remote set once (rate limited)
// when kid is unknown.
func (ks *KeySet) key(ctx context.Context, kid string) (jwtverify.Key, error) {
	if m := ks.current.Load(); m != nil {
		if k, ok := m.byKID[kid]; ok {
			return k, nil
		}
	}
	if ks.remote == nil {
		return jwtverify.Key{}, fmt.Errorf("%w: kid %q", jwtverify.ErrUnknownKey, kid)
	}
	return ks.remote.missed(ctx, ks, kid)
}

// version identifies the current generation: verified tokens cached under
// an older one are checked again, so a key removed from the set stops
// working at once.
func (ks *KeySet) version() uint64 {
	if m := ks.current.Load(); m != nil {
		return m.version
	}
	return 0
}

// Close stops a remote set's background refresh. It is a no-op for a
// fixed set.
func (ks *KeySet) Close() {
	if ks.remote != nil {
		ks.remote.close()
	}
}

var versions atomic.Uint64 // versions are unique across sets

// parseJWKS reads the usable signing keys of a JWKS. Keys that cannot sign
// access tokens (encryption keys, symmetric keys, unknown types, RSA under
// 2048 bits, private keys published by mistake) are skipped with a log
// line rather than failing the whole set: an issuer may publish keys for
// other uses beside its signing keys.
func parseJWKS(data []byte, log *slog.Logger) (*keyMap, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("middleware: JWKS is not a JSON key set: %w", err)
	}
	m := &keyMap{byKID: make(map[string]jwtverify.Key, len(doc.Keys)), version: versions.Add(1)}
	for i, raw := range doc.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			log.Warn("skipping unreadable JWK", "index", i, "error", err)
			continue
		}
		k, err := signingKey(&jwk)
		if err != nil {
			log.Warn("skipping JWK", "index", i, "kid", jwk.KeyID, "reason", err)
			continue
		}
		if _, dup := m.byKID[jwk.KeyID]; dup {
			return nil, fmt.Errorf("middleware: JWKS has kid %q twice", jwk.KeyID)
		}
		m.byKID[jwk.KeyID] = k
	}
	if len(m.byKID) == 0 {
		return nil, errors.New("middleware: JWKS has no usable signing key")
	}
	return m, nil
}

// signingKey checks a JWK and binds it to its algorithm: the JWK's "alg"
// when set, else the one its key type implies.
func signingKey(jwk *jose.JSONWebKey) (jwtverify.Key, error) {
	if _, symmetric := jwk.Key.([]byte); symmetric {
		return jwtverify.Key{}, errors.New("is a symmetric key")
	}
	if !jwk.IsPublic() {
		return jwtverify.Key{}, errors.New("holds private key material")
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return jwtverify.Key{}, fmt.Errorf("use %q is not sig", jwk.Use)
	}
	alg := jwk.Algorithm
	switch pub := jwk.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return jwtverify.Key{}, fmt.Errorf("RSA key of %d bits", pub.N.BitLen())
		}
		// An even or tiny exponent verifies nothing (crypto/rsa refuses it
		// at every check): refuse the key here, where it can be named.
		if pub.E < 3 || pub.E%2 == 0 {
			return jwtverify.Key{}, fmt.Errorf("RSA exponent %d is not usable", pub.E)
		}
		alg = defaultAlg(alg, "RS256", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
	case *ecdsa.PublicKey:
		want := map[elliptic.Curve]string{elliptic.P256(): "ES256", elliptic.P384(): "ES384", elliptic.P521(): "ES512"}[pub.Curve]
		alg = defaultAlg(alg, want, want)
	case ed25519.PublicKey:
		alg = defaultAlg(alg, "EdDSA", "EdDSA")
	default:
		return jwtverify.Key{}, fmt.Errorf("key type %T cannot verify access tokens", jwk.Key)
	}
	if alg == "" {
		return jwtverify.Key{}, fmt.Errorf("alg %q does not fit the key", jwk.Algorithm)
	}
	return jwtverify.Key{Public: jwk.Key, Alg: alg}, nil
}

// defaultAlg returns alg if it is one of fits, def if alg is empty, and ""
// (unusable) otherwise.
func defaultAlg(alg, def string, fits ...string) string {
	if alg == "" {
		return def
	}
	for _, f := range fits {
		if f == alg && f != "" {
			return alg
		}
	}
	return ""
}
