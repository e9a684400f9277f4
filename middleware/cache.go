package middleware

import (
	"crypto/sha256"
	"sync"
	"time"
)

// tokenCache remembers verified tokens, keyed by the SHA-256 of the token
// so the cache never holds a bearer credential. An entry serves only while
// the token is unexpired (no leeway) and the key set is the generation that
// verified it; when full, a random entry makes room.
type tokenCache struct {
	max int
	mu  sync.RWMutex
	m   map[[sha256.Size]byte]cacheEntry
}

type cacheEntry struct {
	claims  *Claims
	version uint64
}

func newTokenCache(max int) *tokenCache {
	if max <= 0 {
		return nil
	}
	return &tokenCache{max: max, m: make(map[[sha256.Size]byte]cacheEntry)}
}

func (c *tokenCache) get(key [sha256.Size]byte, now time.Time, version uint64) *Claims {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || e.version != version || !now.Before(e.claims.Expiry) {
		return nil
	}
	return e.claims
}

func (c *tokenCache) put(key [sha256.Size]byte, claims *Claims, version uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		for k := range c.m { // random order: evicts a random entry
			delete(c.m, k)
			break
		}
	}
	c.m[key] = cacheEntry{claims: claims, version: version}
}
