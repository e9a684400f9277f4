// Package secret generates client secrets, hashes them for storage and
// verifies presented secrets against stored hashes.
//
// Two schemes, chosen by what the secret is:
//
//   - Secrets tollgate generates ("tgs_" + 43 base64url characters, 256 bits
//     from crypto/rand) are stored as "$sha256$<digest>". With 256 bits of
//     entropy nobody can search for a preimage, so a slow KDF would only
//     burn CPU on every token request (bcrypt is ~99% of a fosite token
//     request at its default cost).
//   - Any other secret may be human-chosen and guessable, so it is stored as
//     argon2id (PHC string, OWASP parameters m=19 MiB, t=2, p=1). bcrypt
//     hashes ("$2a$", "$2b$", "$2y$") from other systems are verified but
//     never produced.
//
// The Verifier keeps the token endpoint off the slow path anyway: after a
// slow hash verifies once, it remembers an HMAC of the secret under a
// process-random key and compares against that in constant time.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/tollgate-oauth/tollgate/internal/printable"
)

// GeneratedPrefix starts every secret Generate returns.
const GeneratedPrefix = "tgs_"

const (
	generatedBytes = 32
	generatedLen   = len(GeneratedPrefix) + 43 // base64url of 32 bytes, unpadded
	fastPrefix     = "$sha256$"
)

// ErrFormat reports a stored hash in no format this package knows.
var ErrFormat = errors.New("secret: unrecognised hash format")

// Generate returns a new random secret and its storage hash. r defaults to
// crypto/rand.
func Generate(r io.Reader) (plain, hash string, err error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, generatedBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", "", fmt.Errorf("secret: reading entropy: %w", err)
	}
	plain = GeneratedPrefix + base64.RawURLEncoding.EncodeToString(b)
	return plain, fastHash(plain), nil
}

// IsGenerated reports whether plain has the exact shape of a secret from
// Generate, and so may use the fast scheme.
func IsGenerated(plain string) bool {
	if len(plain) != generatedLen || !strings.HasPrefix(plain, GeneratedPrefix) {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(plain[len(GeneratedPrefix):])
	return err == nil && len(b) == generatedBytes
}

// Hash returns the storage form of plain: the fast scheme for a generated
// secret, argon2id for anything else. r (salt entropy) defaults to
// crypto/rand.
func Hash(plain string, r io.Reader) (string, error) {
	if plain == "" {
		return "", errors.New("secret: empty secret")
	}
	if p := printable.Problem(plain); p != "" {
		// The token endpoint refuses such values, so the secret could never
		// be presented.
		return "", fmt.Errorf("secret: the secret %s", p)
	}
	if IsGenerated(plain) {
		return fastHash(plain), nil
	}
	return hashArgon2id(plain, defaultArgon2, r)
}

// CheckFormat reports whether hash is a stored hash this package can verify.
func CheckFormat(hash string) error {
	switch {
	case strings.HasPrefix(hash, fastPrefix):
		if b, err := base64.RawURLEncoding.DecodeString(hash[len(fastPrefix):]); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("%w: bad $sha256$ digest", ErrFormat)
		}
		return nil
	case strings.HasPrefix(hash, argon2Prefix):
		_, _, _, err := parseArgon2id(hash)
		return err
	case isBcrypt(hash):
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return fmt.Errorf("%w: %v", ErrFormat, err)
		}
		return nil
	}
	return ErrFormat
}

// isSlow reports whether verifying hash costs a KDF run.
func isSlow(hash string) bool { return !strings.HasPrefix(hash, fastPrefix) }

// compare verifies plain against hash with no caching.
func compare(hash, plain string) bool {
	switch {
	case strings.HasPrefix(hash, fastPrefix):
		want, err := base64.RawURLEncoding.DecodeString(hash[len(fastPrefix):])
		if err != nil {
			return false
		}
		got := sha256.Sum256([]byte(plain))
		return subtle.ConstantTimeCompare(got[:], want) == 1
	case strings.HasPrefix(hash, argon2Prefix):
		return compareArgon2id(hash, plain)
	case isBcrypt(hash):
		// bcrypt reads only the first 72 bytes; a longer secret would
		// verify against a hash of its prefix, so it fails, but only after
		// the same bcrypt run, so its answer takes no less time.
		if len(plain) > 72 {
			_ = bcrypt.CompareHashAndPassword([]byte(hash), []byte(plain[:72]))
			return false
		}
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(plain)) == nil
	}
	return false
}

func fastHash(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return fastPrefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

func isBcrypt(hash string) bool {
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
}
