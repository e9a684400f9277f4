package storage

import (
	"context"
	"slices"
	"time"
)

// SigningKey is a persisted token-signing key, so that a restart (or a
// second instance) signs with and publishes the same keys.
type SigningKey struct {
	ID        string // kid
	Algorithm string // RS256, ES256, EdDSA; HS256 for the refresh MAC key
	// Private is the private key as PEM, or as the ciphertext the caller
	// encrypted it to: stores keep it byte for byte.
	Private   []byte
	CreatedAt time.Time
	// ActiveFrom is when the key starts signing; zero: from when it is
	// stored. A key is published (in the JWKS) from when it is stored, so
	// a later ActiveFrom announces it ahead of use.
	ActiveFrom time.Time
	// RetiredAt is when the key left the JWKS, once no token it signed is
	// unexpired; zero while it is published.
	RetiredAt time.Time
}

// Clone returns a deep copy.
func (k *SigningKey) Clone() *SigningKey {
	out := *k
	out.Private = slices.Clone(k.Private)
	return &out
}

// RefreshMACKeyID is the ID of the record, Algorithm "HS256", that holds
// the server's refresh-token MAC key beside the signing keys, so instances
// sharing a store verify each other's refresh tokens. It is a secret key,
// not a signing key: code that loads signing keys from a KeyStore must
// skip it, and it never appears in a JWKS.
const RefreshMACKeyID = "refresh-mac-1"

// KeyStore keeps signing keys (and the refresh MAC key, RefreshMACKeyID).
type KeyStore interface {
	// AddSigningKey stores a key; ErrAlreadyExists if its ID is taken (two
	// instances generating the same kid at once: the loser reads the
	// winner's).
	AddSigningKey(ctx context.Context, k *SigningKey) error
	// SigningKeys returns every key, retired ones too, oldest first (then
	// by ID).
	SigningKeys(ctx context.Context) ([]*SigningKey, error)
	// RetireSigningKey marks the key retired at at: it is kept, but no
	// longer published. ErrNotFound if there is no such key. A key already
	// retired keeps its first RetiredAt, so instances retiring it at once
	// agree.
	RetireSigningKey(ctx context.Context, id string, at time.Time) error
}
