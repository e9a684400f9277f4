// Package clientcache keeps the clients a server has read in memory, for a
// store that can tell when its clients change ([storage.ClientChanges]):
// the token endpoint then reads no storage for a client it has seen.
//
// Two signals empty the cache. The store's count of its own writes
// (ClientsWritten) is read on every lookup, so a change this process made
// through that store value is seen at once. The store's version
// (ClientsVersion, which counts every writer: other instances, the admin
// CLI, SQL typed by hand) is read in the background, started by a lookup
// at most every Staleness/4; when it moved, everything is dropped.
//
// Staleness is a bound, not a hope: an entry is served only while the last
// successful version read began less than Staleness ago. When the version
// cannot be read (the database is down) the cache stops answering after
// that bound and every lookup goes to the store, which fails the way it
// would without a cache: a client deleted during an outage does not keep
// working from memory.
//
// No refresh runs without lookups, and none outlives its one read, so the
// cache needs no Close. After an idle spell the first lookup goes to the
// store and starts a refresh.
//
// Unknown ids are not cached, so ids sprayed at the token endpoint cannot
// grow the cache; found clients are bounded by MaxEntries.
package clientcache

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// DefaultMaxEntries bounds the clients kept when Options.MaxEntries is 0.
const DefaultMaxEntries = 10_000

// Options configure a Cache.
type Options struct {
	// Staleness bounds how long a change made outside this store value
	// may go unseen. Must be positive.
	Staleness time.Duration
	// MaxEntries bounds the clients kept; past it a random one is
	// dropped. Default DefaultMaxEntries.
	MaxEntries int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger is told when the version cannot be read, and when it can
	// again. Default slog.Default().
	Logger *slog.Logger
	// OnLookup, if set, is told of every lookup: hit if it was answered
	// from memory, else it went to the store (metrics count them).
	OnLookup func(hit bool)
}

// Cache is a storage.ClientGetter in front of a store. It is safe for
// concurrent use. The clients it returns are shared between callers, who
// must not modify them (as storage.ClientGetter already asks).
type Cache struct {
	store    storage.ClientGetter
	changes  storage.ClientChanges
	opts     Options
	interval time.Duration

	refreshing atomic.Bool

	mu      sync.RWMutex
	entries map[string]*storage.Client
	// gen grows whenever entries are dropped; 0 until the first version
	// read, and nothing is kept under 0. A lookup inserts what it read
	// only if gen has not moved since before its read: a read that raced
	// a drop may have fetched what the drop was for.
	gen     uint64
	written uint64    // changes.ClientsWritten() when entries were last dropped for it
	version uint64    // changes.ClientsVersion() the entries are valid for
	checked time.Time // when the last successful version read began
	failing bool      // the last version read failed (logged once per outage)
}

// New returns a cache in front of store, which changes describes (usually
// the same value).
func New(store storage.ClientGetter, changes storage.ClientChanges, opts Options) *Cache {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Cache{store: store, changes: changes, opts: opts, interval: opts.Staleness / 4, entries: map[string]*storage.Client{}}
}

// GetClient implements storage.ClientGetter.
func (c *Cache) GetClient(ctx context.Context, id string) (*storage.Client, error) {
	w := c.changes.ClientsWritten()
	now := c.opts.Now()
	c.mu.RLock()
	client, hit := c.entries[id]
	gen, written, age := c.gen, c.written, now.Sub(c.checked)
	c.mu.RUnlock()
	if age >= c.interval {
		c.startRefresh()
	}
	if w > written {
		gen, written = c.dropOwn(w)
		hit = false
	}
	hit = hit && gen != 0 && w == written && age < c.opts.Staleness
	if c.opts.OnLookup != nil {
		c.opts.OnLookup(hit)
	}
	if hit {
		return client, nil
	}
	client, err := c.store.GetClient(ctx, id)
	if err != nil || gen == 0 || w != written {
		return client, err
	}
	c.mu.Lock()
	if c.gen == gen {
		if _, ok := c.entries[id]; !ok && len(c.entries) >= c.opts.MaxEntries {
			for k := range c.entries { // map order is random: a random victim
				delete(c.entries, k)
				break
			}
		}
		c.entries[id] = client
	}
	c.mu.Unlock()
	return client, nil
}

// dropOwn empties the cache for this process's own write number w, unless
// a lookup that saw it first already did. It returns the generation and
// write count in force.
func (c *Cache) dropOwn(w uint64) (gen, written uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w > c.written {
		clear(c.entries)
		c.written = w
		if c.gen != 0 {
			c.gen++
		}
	}
	return c.gen, c.written
}

// startRefresh reads the version in the background unless a read runs.
func (c *Cache) startRefresh() {
	if c.refreshing.Load() || !c.refreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer c.refreshing.Store(false)
		c.refresh()
	}()
}

// refresh reads the version and drops everything if it moved. The time
// kept is when the read began: a change committed after that may be
// missing from the answer, so the bound runs from there.
func (c *Cache) refresh() {
	start := c.opts.Now()
	// Past Staleness the answer is too late to serve from anyway.
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Staleness)
	defer cancel()
	v, err := c.changes.ClientsVersion(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if !c.failing {
			c.opts.Logger.Warn("cannot read the clients' version: clients are read from storage on every request until it can be read",
				"error", err)
		}
		c.failing = true
		return
	}
	if c.failing {
		c.opts.Logger.Info("the clients' version can be read again: serving clients from memory")
		c.failing = false
	}
	if c.gen == 0 || v != c.version {
		clear(c.entries)
		c.gen++
		c.version = v
	}
	if start.After(c.checked) {
		c.checked = start
	}
}
