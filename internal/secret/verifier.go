package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/singleflight"
)

// DefaultCacheSize bounds the Verifier's cache of verified slow secrets.
const DefaultCacheSize = 10_000

// ErrBusy reports that a check needed a slow hash while the Verifier's cap
// of concurrent slow hashes was reached: nothing was checked.
var ErrBusy = errors.New("secret: too many slow hashes running")

// Verifier checks presented client secrets against stored hashes.
//
// A slow hash (argon2id, bcrypt) is run once per client and secret: after it
// succeeds the Verifier keeps HMAC-SHA256(k, secret) under a key k drawn at
// start, tied to the stored hash it verified against, and later requests
// compare against that in constant time. Rotating the stored hash drops the
// entry; a failed verification never touches the cache. The cache holds no
// secret: only MACs under a key that never leaves the process.
//
// Every failed verification costs one slow hash of the kind the store
// holds, whatever the reason (unknown client, wrong secret, a fast-scheme
// mismatch), so the time of a failure tells an attacker nothing about
// whether the client exists: see [Verifier.Dummy].
//
// Slow hashes are capped: at most Options.MaxSlow run at once (argon2id
// takes 19 MiB each). [Verifier.Check] and [Verifier.Dummy] refuse with
// [ErrBusy] past the cap; [Verifier.Verify] and [Verifier.Fail] wait.
//
// Identical checks that arrive together share one slow hash and its
// answer: the workers of one integration starting at once present the
// same unverified secret, and without this all but the first few would be
// refused as busy, while a flood of one repeated guess would hold every
// slot. Identical means the same client id, stored hash and presented
// secret, compared by their MAC under the Verifier's key.
type Verifier struct {
	key    [32]byte
	max    int
	slots  chan struct{}
	hook   atomic.Pointer[func(Run)]
	kinds  kinds
	flight singleflight.Group
	// macs holds keyed HMAC states for reuse: hmac.New allocates two
	// SHA-256 states and pads the key on every call, about a microsecond
	// on the path every cached check takes.
	macs sync.Pool

	mu    sync.RWMutex
	cache map[string]entry
}

type entry struct {
	hash string
	mac  [sha256.Size]byte
}

// Options configure a Verifier. The zero value is the default.
type Options struct {
	// CacheSize bounds the verified-secret cache. Default DefaultCacheSize.
	CacheSize int
	// MaxSlow bounds the slow hashes running at once. Default twice
	// runtime.NumCPU().
	MaxSlow int
	// Rand is the entropy for the cache key and dummy hashes. Default
	// crypto/rand.
	Rand io.Reader
}

// Run describes one slow hash, for [Verifier.SetHook].
type Run struct {
	// Kind names the algorithm and parameters, e.g.
	// "argon2id:m=19456,t=2,p=1,len=32" or "bcrypt:cost=10".
	Kind string
	// Dummy is true for the run a failure spends without a stored hash to
	// check (unknown client, public client, generated-secret mismatch).
	Dummy bool
}

// New returns a Verifier.
func New(o Options) (*Verifier, error) {
	r := o.Rand
	if r == nil {
		r = rand.Reader
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.MaxSlow <= 0 {
		o.MaxSlow = 2 * runtime.NumCPU()
	}
	v := &Verifier{max: o.CacheSize, slots: make(chan struct{}, o.MaxSlow), cache: make(map[string]entry)}
	if _, err := io.ReadFull(r, v.key[:]); err != nil {
		return nil, fmt.Errorf("secret: reading verifier key: %w", err)
	}
	if err := v.kinds.init(r, o.CacheSize); err != nil {
		return nil, err
	}
	v.macs.New = func() any { return hmac.New(sha256.New, v.key[:]) }
	return v, nil
}

// NewVerifier is New with a cache size and entropy source, the other
// options at their defaults.
func NewVerifier(size int, r io.Reader) (*Verifier, error) {
	return New(Options{CacheSize: size, Rand: r})
}

// SetHook makes f see every slow hash, called with its slot held just
// before the hash runs. For tests: count which kind ran, or block to fill
// the cap. nil removes it.
func (v *Verifier) SetHook(f func(Run)) {
	if f == nil {
		v.hook.Store(nil)
		return
	}
	v.hook.Store(&f)
}

// Check reports whether presented matches hash, the stored hash of client
// id. A false result has paid for one slow hash: the stored hash's own if
// it is slow (an empty secret included), else the dummy [Verifier.Dummy]
// spends. Past the cap of concurrent slow hashes it returns ErrBusy without
// checking.
func (v *Verifier) Check(id, hash, presented string) (bool, error) {
	return v.check(id, hash, presented, false)
}

// Dummy spends the time of a failed check for client id when there is no
// stored hash to check (unknown or public client): one slow hash of a kind
// the Verifier has met in the store. Which kind is drawn from id under the
// Verifier's key, weighted by how many clients hold each kind, so a given
// unknown id always costs what an existing client of that kind costs. It
// returns ErrBusy past the cap.
func (v *Verifier) Dummy(id, presented string) error {
	_, err := v.dummy(id, presented, false)
	return err
}

// Verify is Check, waiting for a free slot instead of failing with ErrBusy.
func (v *Verifier) Verify(id, hash, presented string) bool {
	ok, _ := v.check(id, hash, presented, true)
	return ok
}

// Fail is Dummy for an anonymous caller, waiting for a free slot.
func (v *Verifier) Fail() { _, _ = v.dummy("", "", true) }

func (v *Verifier) check(id, hash, presented string, wait bool) (bool, error) {
	if presented != "" && v.Quick(id, hash, presented) {
		return true, nil
	}
	if !isSlow(hash) {
		return v.dummy(id, presented, wait)
	}
	k := v.kinds.learn(id, hash)
	mac := v.mac(id, presented)
	return v.shared(wait, "check\x00"+hash, mac, func() (bool, error) {
		ok, err := v.run(k, false, wait, func() bool {
			// Compared even when empty, so a missing secret costs a wrong one.
			return compare(hash, presented) && presented != ""
		})
		if ok && err == nil {
			// Before the shared run ends, so a caller arriving just after
			// it finds the entry instead of hashing again.
			v.remember(id, hash, mac)
		}
		return ok, err
	})
}

// remember caches a verified secret's MAC for client id.
func (v *Verifier) remember(id, hash string, mac [sha256.Size]byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.cache) >= v.max {
		for k := range v.cache { // map order is random: evicts a random entry
			delete(v.cache, k)
			break
		}
	}
	v.cache[id] = entry{hash: hash, mac: mac}
}

func (v *Verifier) dummy(id, presented string, wait bool) (bool, error) {
	k := v.kinds.pick(v.key[:], id)
	// Shared like a real check, so that a repeated guess costs an unknown
	// client what it costs an existing one.
	_, err := v.shared(wait, "dummy", v.mac(id, presented), func() (bool, error) {
		return v.run(k, true, wait, func() bool { return compare(k.dummy, presented) })
	})
	return false, err
}

// shared runs f once for all callers that ask with the same what and mac
// while it runs, and gives each its result. Callers that wait for a slot
// never share with callers that do not: those may get ErrBusy, which a
// waiting caller must never see.
func (v *Verifier) shared(wait bool, what string, mac [sha256.Size]byte, f func() (bool, error)) (bool, error) {
	key := what + "\x00" + string(mac[:])
	if wait {
		key = "wait\x00" + key
	}
	r, err, _ := v.flight.Do(key, func() (any, error) {
		ok, err := f()
		return ok, err
	})
	return r.(bool), err
}

// run runs f, one slow hash of kind k, in a slot.
func (v *Verifier) run(k *kind, dummy, wait bool, f func() bool) (bool, error) {
	if wait {
		v.slots <- struct{}{}
	} else {
		select {
		case v.slots <- struct{}{}:
		default:
			return false, ErrBusy
		}
	}
	defer func() { <-v.slots }()
	if h := v.hook.Load(); h != nil {
		(*h)(Run{Kind: k.name, Dummy: dummy})
	}
	return f(), nil
}

// Quick reports whether presented verifies without running a slow hash: a
// fast-scheme secret that matches, or a slow-scheme secret verified before.
// False means "not decided cheaply", not "wrong": call Check.
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

func (v *Verifier) mac(id, presented string) (out [sha256.Size]byte) {
	m := v.macs.Get().(hash.Hash)
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(presented))
	m.Sum(out[:0])
	m.Reset() // back to the keyed state, ready for the next caller
	v.macs.Put(m)
	return out
}
