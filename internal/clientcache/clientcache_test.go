package clientcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// fakeStore is a client store whose writes can come from "this process"
// (they move ClientsWritten and the version) or from "elsewhere" (the
// version only), and which counts what the cache asks of it.
type fakeStore struct {
	mu         sync.Mutex
	clients    map[string]*storage.Client
	version    uint64
	versionErr error
	// during, if set, runs inside GetClient after the record was read:
	// a change racing the lookup.
	during func()

	reads, versionReads atomic.Int64
	written             atomic.Uint64
}

func newFake(ids ...string) *fakeStore {
	f := &fakeStore{clients: map[string]*storage.Client{}}
	for _, id := range ids {
		f.clients[id] = &storage.Client{ID: id, SecretHash: "h1"}
	}
	return f
}

func (f *fakeStore) GetClient(_ context.Context, id string) (*storage.Client, error) {
	f.reads.Add(1)
	f.mu.Lock()
	c, ok := f.clients[id]
	during := f.during
	f.mu.Unlock()
	if during != nil {
		during()
	}
	if !ok {
		return nil, fmt.Errorf("client %q: %w", id, storage.ErrNotFound)
	}
	return c, nil
}

func (f *fakeStore) ClientsVersion(context.Context) (uint64, error) {
	f.versionReads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.version, f.versionErr
}

func (f *fakeStore) ClientsWritten() uint64 { return f.written.Load() }

// change sets (or, with hash "", deletes) a client, as another instance
// would: the version moves, this process's write count does not.
func (f *fakeStore) change(id, hash string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if hash == "" {
		delete(f.clients, id)
	} else {
		f.clients[id] = &storage.Client{ID: id, SecretHash: hash}
	}
	f.version++
}

// write is change made through this process's store value.
func (f *fakeStore) write(id, hash string) {
	f.change(id, hash)
	f.written.Add(1)
}

// clock is a test clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const staleness = time.Second

// newCache returns a cache on f whose version has been read once, at the
// clock's time, so lookups within staleness/4 start no refresh: the test
// decides when the version is read again (c.refresh).
func newCache(t *testing.T, f *fakeStore) (*Cache, *clock) {
	t.Helper()
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	c := New(f, f, Options{Staleness: staleness, Now: clk.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	c.refresh()
	return c, clk
}

// get looks id up and waits for the version read the lookup may have
// started, so that the next step of a test does not race it.
func get(t *testing.T, c *Cache, id string) *storage.Client {
	t.Helper()
	cl, err := c.GetClient(context.Background(), id)
	settle(t, c)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("GetClient(%q): %v", id, err)
	}
	return cl
}

func settle(t *testing.T, c *Cache) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.refreshing.Load() {
		if time.Now().After(deadline) {
			t.Fatal("a version read did not end within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func wantReads(t *testing.T, f *fakeStore, n int64, after string) {
	t.Helper()
	if got := f.reads.Load(); got != n {
		t.Errorf("after %s: %d store reads, want %d", after, got, n)
	}
}

func TestServesFromMemory(t *testing.T) {
	f := newFake("a")
	c, _ := newCache(t, f)
	for range 3 {
		if cl := get(t, c, "a"); cl == nil || cl.ID != "a" {
			t.Fatalf("GetClient(a) = %+v", cl)
		}
	}
	wantReads(t, f, 1, "three lookups of one client")
	// An unknown id is asked every time: misses are not kept, so ids
	// sprayed at the endpoint cannot grow the cache.
	for range 3 {
		if cl := get(t, c, "nobody"); cl != nil {
			t.Fatalf("GetClient(nobody) = %+v", cl)
		}
	}
	wantReads(t, f, 4, "three lookups of an unknown id")
	if n := len(c.entries); n != 1 {
		t.Errorf("the cache holds %d entries, want 1", n)
	}
}

func TestOwnWriteSeenAtOnce(t *testing.T) {
	f := newFake("a")
	c, _ := newCache(t, f)
	get(t, c, "a")
	f.write("a", "h2")
	if cl := get(t, c, "a"); cl == nil || cl.SecretHash != "h2" {
		t.Fatalf("after this process's update GetClient(a) = %+v, want hash h2", cl)
	}
	f.write("a", "")
	if cl := get(t, c, "a"); cl != nil {
		t.Fatalf("after this process's delete GetClient(a) = %+v, want not found", cl)
	}
}

func TestOtherWriteSeenAtNextVersionRead(t *testing.T) {
	f := newFake("a")
	c, _ := newCache(t, f)
	get(t, c, "a")
	f.change("a", "h2")
	// Until the version is read again the old record is served: that is
	// the staleness the bound allows.
	if cl := get(t, c, "a"); cl.SecretHash != "h1" {
		t.Fatalf("before the version read GetClient(a) = %+v, want the cached h1", cl)
	}
	c.refresh()
	if cl := get(t, c, "a"); cl == nil || cl.SecretHash != "h2" {
		t.Fatalf("after the version read GetClient(a) = %+v, want h2", cl)
	}
	f.change("a", "")
	c.refresh()
	if cl := get(t, c, "a"); cl != nil {
		t.Fatalf("after another instance's delete GetClient(a) = %+v, want not found", cl)
	}
}

// TestLookupsStartVersionReads: no goroutine polls on its own; a lookup
// past staleness/4 starts one read, however many lookups there are.
func TestLookupsStartVersionReads(t *testing.T) {
	f := newFake("a")
	c, clk := newCache(t, f)
	get(t, c, "a")
	if n := f.versionReads.Load(); n != 1 {
		t.Fatalf("%d version reads within staleness/4, want 1 (New's)", n)
	}
	f.change("a", "h2")
	clk.Add(staleness / 4)
	get(t, c, "a")
	if n := f.versionReads.Load(); n != 2 {
		t.Fatalf("%d version reads after a lookup past staleness/4, want 2", n)
	}
	if cl := get(t, c, "a"); cl.SecretHash != "h2" {
		t.Fatalf("after the background version read GetClient(a) = %+v, want h2", cl)
	}
}

// TestUnreadableVersionStopsTheCache: when the version cannot be read the
// cache serves nothing past the bound, so a client deleted during a
// database outage does not keep working from memory.
func TestUnreadableVersionStopsTheCache(t *testing.T) {
	f := newFake("a")
	c, clk := newCache(t, f)
	get(t, c, "a")
	f.mu.Lock()
	f.versionErr = errors.New("connection refused")
	f.mu.Unlock()
	f.change("a", "")
	clk.Add(staleness - time.Millisecond)
	c.refresh()
	if cl := get(t, c, "a"); cl == nil {
		t.Fatal("within the bound the cached client is not served")
	}
	wantReads(t, f, 1, "a lookup within the bound")
	clk.Add(time.Millisecond)
	if cl := get(t, c, "a"); cl != nil {
		t.Fatalf("past the bound with the version unreadable GetClient(a) = %+v, want the store's answer (not found)", cl)
	}
	wantReads(t, f, 2, "a lookup past the bound")
	// Readable again: served from memory again.
	f.mu.Lock()
	f.versionErr = nil
	f.mu.Unlock()
	f.change("a", "h3")
	c.refresh()
	get(t, c, "a")
	if cl := get(t, c, "a"); cl == nil || cl.SecretHash != "h3" {
		t.Fatalf("after recovery GetClient(a) = %+v, want h3", cl)
	}
	wantReads(t, f, 3, "two lookups after recovery")
}

// TestRacingChangeNotKept: a lookup whose read raced a change must not
// keep what it read: the change may have come after the read, and the
// drop it caused before the insert.
func TestRacingChangeNotKept(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(c *Cache, f *fakeStore)
	}{
		{"another instance's", func(c *Cache, f *fakeStore) { f.change("a", "h2"); c.refresh() }},
		{"this process's", func(_ *Cache, f *fakeStore) { f.write("a", "h2") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake("a")
			c, _ := newCache(t, f)
			f.during = func() {
				f.during = nil
				tt.change(c, f)
			}
			if cl := get(t, c, "a"); cl.SecretHash != "h1" {
				t.Fatalf("the racing lookup returned %+v, want what it read (h1)", cl)
			}
			if cl := get(t, c, "a"); cl.SecretHash != "h2" {
				t.Fatalf("the next lookup returned %+v, want h2: the racing read was kept", cl)
			}
		})
	}
}

func TestBounded(t *testing.T) {
	f := newFake("a", "b", "c", "d")
	c, _ := newCache(t, f)
	c.opts.MaxEntries = 2
	for _, id := range []string{"a", "b", "c", "d", "a"} {
		get(t, c, id)
	}
	if n := len(c.entries); n != 2 {
		t.Errorf("the cache holds %d entries, want its bound 2", n)
	}
}
