package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
)

// DefaultCacheSize bounds the Verifier's cache of verified slow secrets.
const DefaultCacheSize = 10_000

// Verifier checks presented client secrets against stored hashes.
//
// A slow hash (argon2id, bcrypt) is run once per client and secret: after it
// succeeds the Verifier keeps HMAC-SHA256(k, secret) under a key k drawn at
// start, tied to the stored hash it verified against, and later requests
// compare against that in constant time. Rotating the stored hash drops the
// entry; a failed verification never touches the cache. The cache holds no
// secret: only MACs under a key that never leaves the process.
//
// Every failed verification costs one argon2id run, whatever the reason
// (unknown client, wrong secret, a fast-scheme mismatch): the time of a
// failure tells an attacker nothing about whether the client exists.
type Verifier struct {
	key   [32]byte
	dummy string // an argon2id hash of a random secret, compared on failures
	max   int

	mu    sync.RWMutex
	cache map[string]entry
}

type entry struct {
	hash string
	mac  [sha256.Size]byte
}

// NewVerifier returns a Verifier whose cache holds at most size entries
// (DefaultCacheSize when size <= 0). r defaults to crypto/rand.
func NewVerifier(size int, r io.Reader) (*Verifier, error) {
	if r == nil {
		r = rand.Reader
	}
	if size <= 0 {
		size = DefaultCacheSize
	}
	v := &Verifier{max: size, cache: make(map[string]entry)}
	if _, err := io.ReadFull(r, v.key[:]); err != nil {
		return nil, fmt.Errorf("secret: reading verifier key: %w", err)
	}
	dummy, err := hashArgon2id("tollgate-dummy", defaultArgon2, r)
	if err != nil {
		return nil, err
	}
	v.dummy = dummy
	return v, nil
}

// Verify reports whether presented matches hash, the stored hash of the
// client id. A false result has already paid for one slow hash.
func (v *Verifier) Verify(id, hash, presented string) bool {
	if v.Quick(id, hash, presented) {
		return true
	}
	if !isSlow(hash) {
		v.Fail()
		return false
	}
	if !compare(hash, presented) {
		return false
	}
	mac := v.mac(id, presented)
	v.mu.Lock()
	if len(v.cache) >= v.max {
		for k := range v.cache { // map order is random: evicts a random entry
			delete(v.cache, k)
			break
		}
	}
	v.cache[id] = entry{hash: hash, mac: mac}
	v.mu.Unlock()
	return true
}

// Quick reports whether presented verifies without running a slow hash: a
// fast-scheme secret that matches, or a slow-scheme secret verified before.
// False means "not decided cheaply", not "wrong": call Verify.
func (v *Verifier) Quick(id, hash, presented string) bool {
	if !isSlow(hash) {
		return compare(hash, presented)
	}
	mac := v.mac(id, presented)
	v.mu.RLock()
	e, ok := v.cache[id]
	v.mu.RUnlock()
	return ok && e.hash == hash && hmac.Equal(e.mac[:], mac[:])
}

// Fail spends the time of one slow verification, for failures that had no
// hash to check (unknown client, missing secret).
func (v *Verifier) Fail() { compare(v.dummy, "") }

func (v *Verifier) mac(id, presented string) (out [sha256.Size]byte) {
	m := hmac.New(sha256.New, v.key[:])
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(presented))
	m.Sum(out[:0])
	return out
}
