package handler

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"

	"github.com/tollgate-oauth/tollgate/internal/keys"
	"github.com/tollgate-oauth/tollgate/storage"
)

// Keys the handler keeps in Config.KeyStore: the refresh tokens' MAC key
// (refreshkey.go) and the signing keys it generates. Both are read and
// stored here, one way: sealed with Config.KeyEncryptionKey (AES-256-GCM,
// bound to the key's ID, internal/keys.Seal) when it is set, and of two
// instances storing the same ID at once, the loser reads the winner's.

// ErrKeyEncryptionKey is matched (errors.Is) by New's error when a key in
// Config.KeyStore does not fit Config.KeyEncryptionKey: it is sealed and
// no key-encryption key is set, or another one is, or it is stored
// unsealed although one is set. A program can then name where its
// key-encryption key comes from.
var ErrKeyEncryptionKey = errors.New("handler: a stored key does not fit Config.KeyEncryptionKey")

// kekError is an unsealing error that says it is ErrKeyEncryptionKey
// while keeping its own message, which tells which of the cases it is.
type kekError struct{ err error }

func (e kekError) Error() string        { return e.err.Error() }
func (e kekError) Unwrap() error        { return e.err }
func (e kekError) Is(target error) bool { return target == ErrKeyEncryptionKey }

// storedKey returns the key material stored under tmpl.ID, unsealed, or
// else the material generate makes, stored (sealed with kek when set) in
// a record like tmpl; stored tells which (the loser of a race to store
// reads the winner's). A stored record of another algorithm is an error.
func storedKey(ctx context.Context, ks storage.KeyStore, kek []byte, tmpl storage.SigningKey, generate func() ([]byte, error)) (material []byte, stored bool, err error) {
	for range 2 {
		rec, err := findStoredKey(ctx, ks, tmpl.ID)
		if err != nil {
			return nil, false, err
		}
		if rec != nil {
			if rec.Algorithm != tmpl.Algorithm {
				return nil, false, fmt.Errorf("the stored key %q is %s, not %s", rec.ID, rec.Algorithm, tmpl.Algorithm)
			}
			material, err := unsealKey(rec, kek)
			return material, false, err
		}
		material, err := generate()
		if err != nil {
			return nil, false, err
		}
		rec = &tmpl
		if rec.Private, err = keys.Seal(material, kek, rec.ID); err != nil {
			return nil, false, err
		}
		err = ks.AddSigningKey(ctx, rec)
		if errors.Is(err, storage.ErrAlreadyExists) {
			continue // another instance stored it first: read theirs
		}
		if err != nil {
			return nil, false, fmt.Errorf("storing key %q: %w", tmpl.ID, err)
		}
		return material, true, nil
	}
	return nil, false, fmt.Errorf("the key %q could be neither stored nor read", tmpl.ID)
}

// findStoredKey returns the record stored under id, or nil.
func findStoredKey(ctx context.Context, ks storage.KeyStore, id string) (*storage.SigningKey, error) {
	all, err := ks.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the stored keys: %w", err)
	}
	for _, k := range all {
		if k.ID == id {
			return k, nil
		}
	}
	return nil, nil
}

// unsealKey opens a stored record's key material with kek.
func unsealKey(rec *storage.SigningKey, kek []byte) ([]byte, error) {
	material, err := keys.Unseal(rec.Private, kek, rec.ID)
	if err != nil {
		return nil, kekError{err}
	}
	return material, nil
}

// storedSigningKey is storedKey for a signing key: PKCS#8 PEM at rest.
// What comes back is always parsed from the PEM, generated or read: a
// loser of the race to store gets the winner's key, not its own.
func storedSigningKey(ctx context.Context, ks storage.KeyStore, kek []byte, tmpl storage.SigningKey, r io.Reader) (_ crypto.Signer, stored bool, _ error) {
	pem, stored, err := storedKey(ctx, ks, kek, tmpl, func() ([]byte, error) {
		priv, err := keys.Generate(tmpl.Algorithm, r)
		if err != nil {
			return nil, err
		}
		return keys.MarshalPEM(priv)
	})
	if err != nil {
		return nil, false, err
	}
	priv, err := parseStoredSigningKey(tmpl.ID, pem)
	return priv, stored, err
}

// parseStoredSigningKey reads a stored signing key's unsealed PEM.
func parseStoredSigningKey(id string, pem []byte) (crypto.Signer, error) {
	priv, err := keys.ParsePEM(pem)
	if err != nil {
		return nil, fmt.Errorf("the stored key %q: %w", id, err)
	}
	return priv, nil
}

// ParseKeyEncryptionKey reads a Config.KeyEncryptionKey kept as text, as
// in an environment variable or a file: 32 bytes in base64 (standard or
// URL alphabet, padded or not).
func ParseKeyEncryptionKey(s string) ([]byte, error) { return keys.ParseSealingKey(s) }

// KeySealed reports whether a record in a KeyStore is sealed with a
// key-encryption key, so a program can find out, before it chooses one,
// whether a store already needs one.
func KeySealed(k *storage.SigningKey) bool { return k != nil && keys.IsSealed(k.Private) }
