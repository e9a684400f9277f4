package handler_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/internal/testservices"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// The client cache (Config.ClientStaleness) through real HTTP, on memory,
// SQLite and PostgreSQL: what it saves, and that no change outlives it
// past its bound. Everything here is prefixed cc.

const (
	ccFastID   = "cc-fast" // a generated secret: checked by one SHA-256
	ccSlowID   = "cc-slow" // a human-chosen secret: argon2id, then the verifier's cache
	ccSlowPass = "correct horse battery staple"
)

var ccSlowHash = sync.OnceValues(func() (string, error) { return handler.HashClientSecret(ccSlowPass) })

// ccBackend opens a store and, for the SQL ones, a second handle on the
// same database: another instance, or the admin CLI.
type ccBackend struct {
	name string
	open func(t *testing.T) (store, other storage.Store)
}

func ccBackends() []ccBackend {
	return []ccBackend{
		{"memory", func(*testing.T) (storage.Store, storage.Store) { return memory.New(), nil }},
		{"SQLite", func(t *testing.T) (storage.Store, storage.Store) {
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "tollgate.db")
			return sqOpen(t, dsn, sqlstore.Options{}), sqOpen(t, dsn, sqlstore.Options{})
		}},
		{"Postgres", func(t *testing.T) (storage.Store, storage.Store) {
			dsn := testservices.PostgresSchema(t)
			return sqOpen(t, dsn, sqlstore.Options{}), sqOpen(t, dsn, sqlstore.Options{})
		}},
	}
}

// ccClient is a client_credentials client of id with the given secret hash.
func ccClient(id, hash string) *storage.Client {
	return &storage.Client{ID: id, SecretHash: hash, GrantTypes: []string{"client_credentials"}, Audiences: []string{apiAudience}}
}

// ccSeed adds the two cc clients to s and returns the fast one's secret.
func ccSeed(t *testing.T, s storage.ClientStore) string {
	t.Helper()
	plain, hash, err := handler.GenerateClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	slow, err := ccSlowHash()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*storage.Client{ccClient(ccFastID, hash), ccClient(ccSlowID, slow)} {
		if err := s.CreateClient(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	return plain
}

// countedClients counts the client reads that reach the store.
type countedClients struct {
	storage.ClientStore
	reads atomic.Int64
}

func (c *countedClients) GetClient(ctx context.Context, id string) (*storage.Client, error) {
	c.reads.Add(1)
	return c.ClientStore.GetClient(ctx, id)
}

// countedChanges is countedClients that tells about changes, as the store
// under it does.
type countedChanges struct {
	*countedClients
	storage.ClientChanges
}

// ccServer serves from clients, with tokens in tokens.
func ccServer(t *testing.T, clients storage.ClientGetter, tokens storage.TokenStore, staleness time.Duration) *httptest.Server {
	t.Helper()
	srv, err := handler.New(handler.Config{
		Issuer: "http://tollgate.test", Clients: clients, Tokens: tokens, ClientStaleness: staleness,
		Logger: slog.New(slog.DiscardHandler), Keys: []handler.SigningKey{{ID: "k1", Algorithm: "ES256"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

// ccStatus is the status of a client_credentials request as id.
func ccStatus(t *testing.T, ts *httptest.Server, id, secret string) int {
	t.Helper()
	return postForm(t, ts, url.Values{"grant_type": {"client_credentials"}}, id+":"+secret).status
}

// ccWarm sends requests until one is answered without reading the store:
// the first lookups go to the store while the first version read runs.
func ccWarm(t *testing.T, ts *httptest.Server, counted *countedClients, id, secret string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		before := counted.reads.Load()
		if r := postForm(t, ts, url.Values{"grant_type": {"client_credentials"}}, id+":"+secret); r.status != http.StatusOK {
			t.Fatalf("warming the cache: %s got %d %s, want 200", id, r.status, r.raw)
		}
		if counted.reads.Load() == before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s every request of %s still reads the store", id)
		}
		// Pacing only (the loop ends on the count): back-to-back requests
		// would reach the client's rate limit while a reconnecting pool
		// delays the version read.
		time.Sleep(5 * time.Millisecond)
	}
}

// TestClientCacheServesFromMemory: once read, a client is served without
// a store read; an unknown id is read every time (not kept); a change made
// through the server's own store is seen by the very next request.
func TestClientCacheServesFromMemory(t *testing.T) {
	t.Parallel()
	for _, b := range ccBackends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			store, _ := b.open(t)
			fast := ccSeed(t, store)
			counted := &countedClients{ClientStore: store}
			ts := ccServer(t, countedChanges{counted, store.(storage.ClientChanges)}, store, 0)

			ccWarm(t, ts, counted, ccFastID, fast)
			ccWarm(t, ts, counted, ccSlowID, ccSlowPass)
			before := counted.reads.Load()
			for range 20 {
				if got := ccStatus(t, ts, ccFastID, fast); got != http.StatusOK {
					t.Fatalf("cached client: %d, want 200", got)
				}
			}
			if n := counted.reads.Load() - before; n > 1 {
				// One read is allowed: a version read that found a change
				// (the warm-up's own) may drop the cache once.
				t.Errorf("20 requests of a cached client read the store %d times, want at most 1", n)
			}
			before = counted.reads.Load()
			for range 2 {
				if got := ccStatus(t, ts, "cc-nobody", "x"); got != http.StatusUnauthorized {
					t.Fatalf("unknown client: %d, want 401", got)
				}
			}
			if n := counted.reads.Load() - before; n != 2 {
				t.Errorf("2 requests of an unknown client read the store %d times, want 2: misses must not be kept", n)
			}

			// Changes through the store the server reads: seen at once.
			ctx := context.Background()
			newPlain, newHash, _ := handler.GenerateClientSecret()
			if err := store.UpdateClient(ctx, ccClient(ccFastID, newHash)); err != nil {
				t.Fatal(err)
			}
			if got := ccStatus(t, ts, ccFastID, fast); got != http.StatusUnauthorized {
				t.Errorf("the old secret right after its rotation: %d, want 401", got)
			}
			if got := ccStatus(t, ts, ccFastID, newPlain); got != http.StatusOK {
				t.Errorf("the new secret right after the rotation: %d, want 200", got)
			}
			if err := store.DeleteClient(ctx, ccSlowID); err != nil {
				t.Fatal(err)
			}
			if got := ccStatus(t, ts, ccSlowID, ccSlowPass); got != http.StatusUnauthorized {
				t.Errorf("a client right after its deletion: %d, want 401", got)
			}
		})
	}
}

// TestClientCacheSeesAnotherInstance: a change made through another
// handle on the database (another instance, the admin CLI) stops the old
// credentials within ClientStaleness. The slow secret's rotation also
// checks that the verifier's cache of verified secrets, keyed by the
// stored hash, does not keep the old secret alive.
func TestClientCacheSeesAnotherInstance(t *testing.T) {
	t.Parallel()
	const staleness = 200 * time.Millisecond
	for _, b := range ccBackends()[1:] {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			store, other := b.open(t)
			fast := ccSeed(t, store)
			counted := &countedClients{ClientStore: store}
			ts := ccServer(t, countedChanges{counted, store.(storage.ClientChanges)}, store, staleness)
			ccWarm(t, ts, counted, ccFastID, fast)
			ccWarm(t, ts, counted, ccSlowID, ccSlowPass)

			ctx := context.Background()
			_, newHash, _ := handler.GenerateClientSecret()
			ccRefusedWithin(t, ts, staleness, "the slow secret rotated elsewhere", ccSlowID, ccSlowPass, func() {
				if err := other.UpdateClient(ctx, ccClient(ccSlowID, newHash)); err != nil {
					t.Fatal(err)
				}
			})
			// The rotation dropped every cached client: keep this one again.
			ccWarm(t, ts, counted, ccFastID, fast)
			ccRefusedWithin(t, ts, staleness, "a client deleted elsewhere", ccFastID, fast, func() {
				if err := other.DeleteClient(ctx, ccFastID); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// ccRefusedWithin makes change and sends id's requests until one is
// refused. A request sent more than bound after the change must be: the
// server looked the client up later still. One sent earlier may be
// answered 200, however late the answer on a loaded machine.
func ccRefusedWithin(t *testing.T, ts *httptest.Server, bound time.Duration, what, id, secret string, change func()) {
	t.Helper()
	change()
	start := time.Now()
	for {
		sent := time.Since(start)
		got := ccStatus(t, ts, id, secret)
		switch {
		case got == http.StatusUnauthorized:
			t.Logf("%s: refused in a request sent %v after the change (bound %v)", what, sent.Round(time.Millisecond), bound)
			return
		case got != http.StatusOK:
			t.Fatalf("%s: %d, want 200 until refused, then 401", what, got)
		case sent > bound:
			t.Fatalf("%s: accepted in a request sent %v after the change (bound %v)", what, sent.Round(time.Millisecond), bound)
		}
		time.Sleep(10 * time.Millisecond) // pacing only: the loop ends on the answer
	}
}

// TestClientCacheOff: a store that cannot tell about changes, or a
// negative ClientStaleness, keeps the behaviour without a cache: every
// request reads the store, and a change is seen by the next request.
func TestClientCacheOff(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		clients   func(*countedClients, *memory.Store) storage.ClientGetter
		staleness time.Duration
	}{
		{"store without ClientChanges", func(c *countedClients, _ *memory.Store) storage.ClientGetter { return c }, 0},
		{"negative ClientStaleness", func(c *countedClients, s *memory.Store) storage.ClientGetter { return countedChanges{c, s} }, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := memory.New()
			fast := ccSeed(t, store)
			counted := &countedClients{ClientStore: store}
			ts := ccServer(t, tt.clients(counted, store), store, tt.staleness)
			for i := range 5 {
				if got := ccStatus(t, ts, ccFastID, fast); got != http.StatusOK {
					t.Fatalf("request %d: %d, want 200", i, got)
				}
			}
			if n := counted.reads.Load(); n != 5 {
				t.Errorf("5 requests read the store %d times, want 5", n)
			}
		})
	}
}

// TestClientCacheDatabaseDown: when the change counter cannot be read,
// nothing is served from memory past ClientStaleness: requests go to the
// store and get its 503, so a client deleted during the outage (which the
// server could not learn of) is not accepted from memory.
func TestClientCacheDatabaseDown(t *testing.T) {
	t.Parallel()
	const staleness = 200 * time.Millisecond
	direct, proxied, proxy := sqPostgresPair(t)
	fast := ccSeed(t, direct)
	counted := &countedClients{ClientStore: proxied}
	ts := ccServer(t, countedChanges{counted, proxied}, proxied, staleness)
	ccWarm(t, ts, counted, ccFastID, fast)

	proxy.Pause()
	start := time.Now()
	for {
		// A request sent past the bound must not be served from memory:
		// no version read that began after the pause can have succeeded.
		sent := time.Since(start)
		got := ccStatus(t, ts, ccFastID, fast)
		if got == http.StatusServiceUnavailable {
			t.Logf("503 for a request sent %v after the pause", sent.Round(time.Millisecond))
			break
		}
		if got != http.StatusOK {
			t.Fatalf("with the database paused: %d, want 200 from memory, then 503", got)
		}
		if sent > staleness {
			t.Fatalf("served from memory in a request sent %v after the database stopped answering (bound %v)", sent.Round(time.Millisecond), staleness)
		}
		time.Sleep(10 * time.Millisecond) // pacing only
	}
	proxy.Resume()
	ccWarm(t, ts, counted, ccFastID, fast)
}
