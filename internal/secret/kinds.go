package secret

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// maxKinds bounds the kinds remembered; a store holding more distinct hash
// parameters than this is not one anybody runs.
const maxKinds = 64

// kinds learns which kinds of slow hash (algorithm and parameters) the
// store holds, from the hashes the Verifier checks, so that a failure with
// no stored hash to check (unknown client) spends a run of a kind the
// store really has: a store of bcrypt at cost 12 makes an unknown id cost a
// bcrypt run at cost 12, not the default argon2id.
//
// A dummy hash needs no run to make: it is the kind's parameter string with
// random salt and digest bytes, which nothing will ever match, and the
// comparison against it costs exactly one run of that kind.
type kinds struct {
	base     *kind  // default argon2id: the dummy until anything is learned
	bcrypt   string // a valid bcrypt hash of random bytes; its cost is rewritten per kind
	salt     []byte // random, shared by the argon2id dummies
	digest   []byte // random, the argon2id dummies' "keys" (up to 64 bytes)
	maxOwned int

	mu     sync.Mutex
	byName map[string]*kind
	owner  map[string]*kind // client id → kind of its stored hash
	list   []*kind          // kinds with clients, by name: the draw's order
	total  int              // clients in list
}

type kind struct {
	name, dummy string
	clients     int
}

func (ks *kinds) init(r io.Reader, maxOwned int) error {
	ks.salt, ks.digest = make([]byte, 16), make([]byte, 64)
	pw := make([]byte, 16)
	for _, b := range [][]byte{ks.salt, ks.digest, pw} {
		if _, err := io.ReadFull(r, b); err != nil {
			return fmt.Errorf("secret: reading entropy: %w", err)
		}
	}
	h, err := bcrypt.GenerateFromPassword(pw, bcrypt.MinCost)
	if err != nil {
		return fmt.Errorf("secret: making the bcrypt template: %w", err)
	}
	ks.bcrypt = string(h)
	ks.maxOwned = maxOwned
	ks.byName = map[string]*kind{}
	ks.owner = map[string]*kind{}
	ks.base = ks.argon2Kind(defaultArgon2, 32)
	return nil
}

func (ks *kinds) argon2Kind(p argon2Params, keyLen int) *kind {
	return &kind{
		name: fmt.Sprintf("argon2id:m=%d,t=%d,p=%d,len=%d", p.memory, p.time, p.threads, keyLen),
		dummy: fmt.Sprintf("%sv=%d$m=%d,t=%d,p=%d$%s$%s", argon2Prefix, argon2.Version, p.memory, p.time, p.threads,
			base64.RawStdEncoding.EncodeToString(ks.salt), base64.RawStdEncoding.EncodeToString(ks.digest[:keyLen])),
	}
}

// describe returns the kind of a slow stored hash, new (not yet
// registered), or nil for a hash no slow scheme can read.
func (ks *kinds) describe(hash string) *kind {
	switch {
	case strings.HasPrefix(hash, argon2Prefix):
		p, _, key, err := parseArgon2id(hash)
		if err != nil {
			return nil
		}
		return ks.argon2Kind(p, len(key))
	case isBcrypt(hash):
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return nil
		}
		// "$2a$04$…": the cost is the two digits after the version.
		return &kind{name: fmt.Sprintf("bcrypt:cost=%d", cost), dummy: fmt.Sprintf("%s%02d%s", ks.bcrypt[:4], cost, ks.bcrypt[6:])}
	}
	return nil
}

// learn records that client id's stored hash is of hash's kind and returns
// that kind.
func (ks *kinds) learn(id, hash string) *kind {
	k := ks.describe(hash)
	if k == nil {
		return ks.base // unreadable: compare fails at once, nothing to learn
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if known, ok := ks.byName[k.name]; ok {
		k = known
	} else if len(ks.byName) < maxKinds {
		ks.byName[k.name] = k
	} else {
		return k // used, not remembered
	}
	old := ks.owner[id]
	if old == k {
		return k
	}
	if old != nil {
		old.clients--
	} else if len(ks.owner) >= ks.maxOwned {
		for other, was := range ks.owner { // map order is random: forgets a random client
			was.clients--
			delete(ks.owner, other)
			break
		}
	}
	ks.owner[id] = k
	k.clients++
	ks.list = ks.list[:0]
	ks.total = 0
	for _, name := range slices.Sorted(maps.Keys(ks.byName)) {
		if c := ks.byName[name]; c.clients > 0 {
			ks.list = append(ks.list, c)
			ks.total += c.clients
		}
	}
	return k
}

// pick returns the kind a failure for id spends: drawn from id under key,
// weighted by clients, so one id always draws the same kind while the
// store's mix does not change; the default argon2id before anything is
// learned.
func (ks *kinds) pick(key []byte, id string) *kind {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("dummy kind\x00"))
	m.Write([]byte(id))
	n := binary.BigEndian.Uint64(m.Sum(nil))
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.total == 0 {
		return ks.base
	}
	n %= uint64(ks.total)
	for _, k := range ks.list {
		if n < uint64(k.clients) {
			return k
		}
		n -= uint64(k.clients)
	}
	return ks.base // not reached
}
