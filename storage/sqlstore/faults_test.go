package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/internal/testservices"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
	"github.com/tollgate-oauth/tollgate/storage/storagetest"
)

// Faults: a database that stops answering makes every call fail with
// storage.ErrUnavailable within about Options.QueryTimeout, and the store
// recovers by itself, without being reopened, when the database answers
// again.

const (
	faultQueryTimeout = time.Second
	// faultBound is how long a call may take while the database does not
	// answer: the query timeout plus room for a loaded CI machine and -race.
	faultBound = 4 * time.Second
)

// faultOp is one store call; key makes the records it touches its own.
type faultOp struct {
	name  string
	write bool // takes SQLite's write lock
	call  func(ctx context.Context, s *sqlstore.Store, key string) error
}

func faultGrant(key string) *storage.Grant {
	return &storage.Grant{ID: "family-" + key, ClientID: "seed", Subject: "alice", RequestedAt: time.Now().Truncate(time.Microsecond),
		GrantedScopes: []string{"market:all"}, Session: []byte(`{"sub":"alice"}`)}
}

// faultSeed writes the records the operations of faultOps read, under key.
func faultSeed(t testing.TB, s *sqlstore.Store, key string) {
	t.Helper()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for _, id := range []string{"client-" + key, "doomed-" + key} {
		if err := s.CreateClient(ctx, storagetest.Client(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateCode(ctx, &storage.AuthorizationCode{Signature: "code-" + key, Grant: faultGrant(key), ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"family-" + key, "family2-" + key} {
		g := faultGrant(key)
		g.ID = id
		if err := s.CreateFamily(ctx, &storage.Family{Grant: g, Generation: 1, ExpiresAt: exp, AccessExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
}

// faultOps is every method of the store.
func faultOps() []faultOp {
	exp := time.Now().Add(time.Hour)
	return []faultOp{
		{"GetClient", false, func(ctx context.Context, s *sqlstore.Store, k string) error {
			_, err := s.GetClient(ctx, "client-"+k)
			return err
		}},
		{"ListClients", false, func(ctx context.Context, s *sqlstore.Store, k string) error {
			_, err := s.ListClients(ctx)
			return err
		}},
		{"CreateClient", true, func(ctx context.Context, s *sqlstore.Store, k string) error {
			return s.CreateClient(ctx, storagetest.Client("new-"+k))
		}},
		{"UpdateClient", true, func(ctx context.Context, s *sqlstore.Store, k string) error {
			c := storagetest.Client("client-" + k)
			c.AccessTokenTTL = time.Minute
			return s.UpdateClient(ctx, c)
		}},
		{"DeleteClient", true, func(ctx context.Context, s *sqlstore.Store, k string) error {
			return s.DeleteClient(ctx, "doomed-"+k)
		}},
		{"CreateCode", true, func(ctx context.Context, s *sqlstore.Store, k string) error {
			return s.CreateCode(ctx, &storage.AuthorizationCode{Signature: "newcode-" + k, Grant: faultGrant(k), ExpiresAt: exp})
		}},
		{"GetCode", false, func(ctx context.Context, s *sqlstore.Store, k string) error {
			_, err := s.GetCode(ctx, "code-"+k)
			return err
		}},
		{"UseCode", true, func(ctx context.Context, s *sqlstore.Store, k string) error {
			return s.UseCode(ctx, "code-"+k)
		}},
		{"CreateFamily", true, func(ctx context.Context, s *sqlstore.Store, k string) error {
			g := faultGrant(k)
			g.ID = "newfamily-" + k
			return s.CreateFamily(ctx, &storage.Family{Grant: g, Generation: 1, ExpiresAt: exp, AccessExpiresAt: exp})
		}},
		{"GetFamily", false, func(ctx context.Context, s *sqlstore.Store, k string) error {
			_, err := s.GetFamily(ctx, "family2-"+k)
			return err
		}},
		{"AdvanceFamily", true, func(ctx context.Context, s *sqlstore.Store, k string) error {
			return s.AdvanceFamily(ctx, "family-"+k, 1, exp, exp)
		}},
		{"RevokeAccessToken", true, func(ctx context.Context, s *sqlstore.Store, k string) error {
			return s.RevokeAccessToken(ctx, "revoked-jti-"+k, exp)
		}},
		{"RevokeFamily", true, func(ctx context.Context, s *sqlstore.Store, k string) error {
			return s.RevokeFamily(ctx, "revoked-family-"+k, exp)
		}},
		{"AccessTokenRevoked", false, func(ctx context.Context, s *sqlstore.Store, k string) error {
			_, err := s.AccessTokenRevoked(ctx, "jti-"+k, "family2-"+k)
			return err
		}},
		{"Revocations", false, func(ctx context.Context, s *sqlstore.Store, k string) error {
			_, err := s.Revocations(ctx, 0, time.Now(), 100)
			return err
		}},
		{"AddSigningKey", true, func(ctx context.Context, s *sqlstore.Store, k string) error {
			return s.AddSigningKey(ctx, &storage.SigningKey{ID: "key-" + k, Algorithm: "ES256", Private: []byte("sealed"), CreatedAt: time.Now()})
		}},
		{"SigningKeys", false, func(ctx context.Context, s *sqlstore.Store, k string) error {
			_, err := s.SigningKeys(ctx)
			return err
		}},
		{"DeleteExpired", true, func(ctx context.Context, s *sqlstore.Store, k string) error {
			_, err := s.DeleteExpired(ctx, time.Now(), 100)
			return err
		}},
	}
}

type faultResult struct {
	op      string
	err     error
	elapsed time.Duration
}

// runOps runs ops concurrently against s, each on key's records.
func runOps(s *sqlstore.Store, ops []faultOp, key string) []faultResult {
	out := make([]faultResult, len(ops))
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Go(func() {
			start := time.Now()
			err := op.call(context.Background(), s, key)
			out[i] = faultResult{op.name, err, time.Since(start)}
		})
	}
	wg.Wait()
	return out
}

// wantUnavailable checks every call failed with ErrUnavailable in time.
func wantUnavailable(t *testing.T, results []faultResult) {
	t.Helper()
	for _, r := range results {
		if !errors.Is(r.err, storage.ErrUnavailable) {
			t.Errorf("%s with the database not answering: error %v, want ErrUnavailable", r.op, r.err)
		}
		if r.elapsed > faultBound {
			t.Errorf("%s with the database not answering took %v; QueryTimeout is %v", r.op, r.elapsed, faultQueryTimeout)
		}
	}
}

// wantWorking checks every call succeeded.
func wantWorking(t *testing.T, what string, results []faultResult) {
	t.Helper()
	for _, r := range results {
		if r.err != nil {
			t.Errorf("%s: %s: %v", what, r.op, r.err)
		}
	}
}

// openProxiedPostgres opens a store in a schema of its own, reaching
// PostgreSQL through a fault proxy.
func openProxiedPostgres(t *testing.T) (*sqlstore.Store, *testservices.Proxy) {
	t.Helper()
	proxied, p := testservices.ProxyPostgres(t, testservices.PostgresSchema(t))
	return mustOpen(t, proxied, sqlstore.Options{QueryTimeout: faultQueryTimeout}), p
}

func TestFaultPostgresStopsAnswering(t *testing.T) {
	t.Parallel()
	s, proxy := openProxiedPostgres(t)
	for _, key := range []string{"before", "during", "after"} {
		faultSeed(t, s, key)
	}
	wantWorking(t, "before the pause", runOps(s, faultOps(), "before"))

	proxy.Pause()
	wantUnavailable(t, runOps(s, faultOps(), "during"))
	// And again: a pool emptied by the first round must not change that.
	start := time.Now()
	if _, err := s.GetClient(context.Background(), "client-during"); !errors.Is(err, storage.ErrUnavailable) || time.Since(start) > faultBound {
		t.Errorf("GetClient, second round of the pause: %v after %v, want ErrUnavailable within %v", err, time.Since(start), faultBound)
	}

	proxy.Resume()
	// The first call after the database returns works: nothing broken was
	// left in the pool.
	if _, err := s.GetClient(context.Background(), "client-after"); err != nil {
		t.Fatalf("GetClient right after the database returned: %v", err)
	}
	wantWorking(t, "after the pause", runOps(s, faultOps(), "after"))
}

// TestFaultPostgresPausedManyCallers: more callers than the pool holds
// connections while the database does not answer: those queued for a
// connection are bounded by QueryTimeout too.
func TestFaultPostgresPausedManyCallers(t *testing.T) {
	t.Parallel()
	s, proxy := openProxiedPostgres(t)
	faultSeed(t, s, "k")
	proxy.Pause()
	const callers = 50 // the pool holds 20
	var wg sync.WaitGroup
	results := make([]faultResult, callers)
	for i := range callers {
		wg.Go(func() {
			start := time.Now()
			_, err := s.GetClient(context.Background(), "client-k")
			results[i] = faultResult{fmt.Sprintf("GetClient %d", i), err, time.Since(start)}
		})
	}
	wg.Wait()
	wantUnavailable(t, results)
	proxy.Resume()
	if _, err := s.GetClient(context.Background(), "client-k"); err != nil {
		t.Fatalf("GetClient after the database returned: %v", err)
	}
}

// TestFaultPostgresRestart drops every connection, as a database restart
// does: calls on the dead connections fail with ErrUnavailable (never
// anything else) and the pool replaces them by itself.
func TestFaultPostgresRestart(t *testing.T) {
	t.Parallel()
	s, proxy := openProxiedPostgres(t)
	faultSeed(t, s, "k")
	// Several idle connections in the pool.
	wantWorking(t, "warming the pool", runOps(s, faultOps()[:4], "k"))

	proxy.DropConnections()
	const attempts = 5
	ok := false
	for i := range attempts {
		_, err := s.GetClient(context.Background(), "client-k")
		if err == nil {
			ok = true
			break
		}
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("GetClient %d after the restart: %v, want ErrUnavailable or success", i+1, err)
		}
	}
	if !ok {
		t.Fatalf("GetClient still failing %d calls after the database restarted", attempts)
	}
	faultSeed(t, s, "k2")
	wantWorking(t, "after the restart", runOps(s, faultOps(), "k2"))
}

// TestFaultSQLiteLocked: another process holds SQLite's write lock (BEGIN
// EXCLUSIVE) for longer than a call may wait. Writes fail with
// ErrUnavailable within about QueryTimeout; reads go on (WAL: readers never
// wait for the writer); writes work again once the lock is released.
func TestFaultSQLiteLocked(t *testing.T) {
	t.Parallel()
	db := emptySQLite(t)
	s := mustOpen(t, db.dsn, sqlstore.Options{QueryTimeout: faultQueryTimeout})
	for _, key := range []string{"during", "after"} {
		faultSeed(t, s, key)
	}
	ctx := context.Background()
	locker, err := db.raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	if _, err := locker.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	var writes, reads []faultOp
	for _, op := range faultOps() {
		if op.write {
			writes = append(writes, op)
		} else {
			reads = append(reads, op)
		}
	}
	wantUnavailable(t, runOps(s, writes, "during"))
	wantWorking(t, "reading while another connection holds the write lock", runOps(s, reads, "during"))

	if _, err := locker.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	wantWorking(t, "after the lock is released", runOps(s, faultOps(), "after"))
}
