package handler

import (
	"crypto"
	"errors"
	"fmt"

	"github.com/tollgate-oauth/tollgate/internal/keys"
	"github.com/tollgate-oauth/tollgate/storage"
)

// The algorithms a [SigningKey] signs with.
const (
	RS256 = keys.RS256 // RSA PKCS #1 v1.5 with SHA-256, the default
	ES256 = keys.ES256 // ECDSA on P-256 with SHA-256
	EdDSA = keys.EdDSA // Ed25519
)

// ParseSigningKeyPEM reads a private key for [SigningKey.Key] from PEM:
// PKCS #8 ("PRIVATE KEY", as openssl genpkey writes it), PKCS #1 ("RSA
// PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"). It does not check that the
// key suits an algorithm: [SigningKey.Validate] does.
func ParseSigningKeyPEM(data []byte) (crypto.Signer, error) { return keys.ParsePEM(data) }

// Validate reports what [New] would refuse in this key alone, so that a
// program can name the setting it came from: an algorithm other than
// [RS256] (what "" means), [ES256] and [EdDSA]; an ID taken by the
// refresh-token MAC key; a Key that cannot sign its algorithm (RS256 needs
// RSA of 2048 bits or more, ES256 a P-256 key, EdDSA an Ed25519 key). A
// nil Key is not checked: it is generated, or read from Config.KeyStore.
func (k SigningKey) Validate() error {
	alg := k.Algorithm
	if alg == "" {
		alg = RS256
	}
	var errs []error
	if !validAlg(alg) {
		errs = append(errs, fmt.Errorf("algorithm %q: want RS256, ES256 or EdDSA", alg))
	}
	if k.ID == storage.RefreshMACKeyID {
		errs = append(errs, fmt.Errorf("ID %q is the refresh-token MAC key's, not a signing key's", k.ID))
	}
	if k.Key != nil && validAlg(alg) {
		if err := keys.CheckPair(alg, k.Key); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
