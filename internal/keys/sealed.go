package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// sealedPrefix marks a private key encrypted at rest.
var sealedPrefix = []byte("tollgate-sealed:v1:")

// ParseSealingKey reads a key-encryption key: 32 bytes, base64 (standard
// or URL alphabet, padded or not), as kept in an environment variable.
func ParseSealingKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, errors.New("keys: the key-encryption key must be 32 bytes, base64")
}

// Seal encrypts a private key (PEM) with AES-256-GCM under kek, binding it
// to kid so a sealed key cannot be passed off as another. A nil kek
// returns pem unchanged: sealing is optional.
func Seal(pem []byte, kek []byte, kid string) ([]byte, error) {
	if kek == nil {
		return pem, nil
	}
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	sealed := aead.Seal(nonce, nonce, pem, []byte(kid))
	return append(bytes.Clone(sealedPrefix), base64.RawStdEncoding.AppendEncode(nil, sealed)...), nil
}

// IsSealed reports whether data is a key sealed by Seal, as opposed to a
// plain PEM key: a store can be checked for keys that need a key-encryption
// key before one is chosen.
func IsSealed(data []byte) bool { return bytes.HasPrefix(data, sealedPrefix) }

// Unseal reverses Seal. A plain PEM comes back as is when kek is nil; a
// sealed key without kek, or with the wrong one, is an error.
func Unseal(data []byte, kek []byte, kid string) ([]byte, error) {
	if !IsSealed(data) {
		if kek != nil {
			return nil, fmt.Errorf("keys: key %q is stored unencrypted although a key-encryption key is set", kid)
		}
		return data, nil
	}
	if kek == nil {
		return nil, fmt.Errorf("keys: key %q is encrypted: set the key-encryption key", kid)
	}
	raw, err := base64.RawStdEncoding.DecodeString(string(data[len(sealedPrefix):]))
	if err != nil {
		return nil, fmt.Errorf("keys: key %q: bad sealed encoding", kid)
	}
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	if len(raw) < aead.NonceSize() {
		return nil, fmt.Errorf("keys: key %q: sealed data too short", kid)
	}
	pem, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("keys: key %q: wrong key-encryption key or corrupted data", kid)
	}
	return pem, nil
}

func newAEAD(kek []byte) (cipher.AEAD, error) {
	if len(kek) != 32 {
		return nil, errors.New("keys: the key-encryption key must be 32 bytes")
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
