package handler

import (
	"fmt"

	"github.com/tollgate-oauth/tollgate/internal/secret"
)

// CheckSecretHash reports whether hash is a stored secret hash tollgate
// can verify: "$sha256$…" from [GenerateClientSecret], argon2id from
// [HashClientSecret], or bcrypt ("$2a$", "$2b$", "$2y$") from another
// system. A config loader can then refuse a mangled hash at start, not at
// the first sign-in.
func CheckSecretHash(hash string) error { return secret.CheckFormat(hash) }

// SecretVerifier checks secrets against hashes from [HashClientSecret] and
// [GenerateClientSecret] the way the token endpoint checks client secrets,
// for a host that keeps secrets of its own in that format (the demo
// server's user passwords):
//
//   - Every failure costs one slow hash, an unknown id's included, so the
//     time of an answer does not tell which ids exist.
//   - A slow hash (argon2id, bcrypt) runs once per id and secret: after it
//     succeeds, an HMAC of the secret under a key drawn at start is kept
//     and compared in constant time. Nothing kept is a secret.
//   - At most 2 × runtime.NumCPU() slow hashes run at once (each argon2id
//     run holds 19 MiB); more wait for a turn.
//
// It is safe for concurrent use.
type SecretVerifier struct{ v *secret.Verifier }

// NewSecretVerifier returns a SecretVerifier with a key of its own.
func NewSecretVerifier() (*SecretVerifier, error) {
	v, err := secret.New(secret.Options{})
	if err != nil {
		return nil, fmt.Errorf("handler: %w", err)
	}
	return &SecretVerifier{v: v}, nil
}

// Verify reports whether presented matches hash, the stored hash of id.
// An empty hash means id is unknown: the answer is false, after the work
// a wrong secret costs.
func (sv *SecretVerifier) Verify(id, hash, presented string) bool {
	if hash == "" {
		sv.v.Fail()
		return false
	}
	return sv.v.Verify(id, hash, presented)
}
