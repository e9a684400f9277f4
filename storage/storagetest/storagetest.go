// Package storagetest is the conformance suite every storage implementation
// runs: one set of behaviours, many backends. An implementation's test calls
// Run with a function that returns a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store { return mystore.New(...) })
//	}
//
// The suite tests behaviour through the storage interfaces only. What it
// asks of an implementation, beyond the interface documentation:
//
//   - Isolation: every test calls NewStore once and runs in parallel with
//     the others, so each store must start empty and must not see another
//     test's records (a schema or database per store for SQL backends).
//     DeleteExpired counts are checked exactly against that empty start.
//   - Times: every time the suite stores is truncated to the microsecond,
//     and times read back are compared with time.Equal after the same
//     truncation. A store must keep at least microsecond precision
//     (PostgreSQL's timestamptz does; SQLite needs e.g. Unix microseconds or
//     RFC 3339 with six fractional digits) and the instant, not the wall
//     clock: the location may change, the moment may not.
//   - Records come back as stored, and the suite compares them whole:
//     slices in their order (nil and empty are interchangeable), Form maps
//     key for key, Session bytes byte for byte (they are not UTF-8), keys
//     and ids compared case-sensitively.
//   - A store that implements storage.ClientChanges counts every client
//     write in both ClientsVersion and ClientsWritten, and reads in
//     neither. Whether another handle's writes reach ClientsVersion is
//     the implementation's own test: the suite sees one handle.
//   - Single use is atomic: of 32 concurrent UseCode (or AdvanceFamily from
//     one generation) calls on one record exactly one returns nil, the
//     rest ErrAlreadyUsed.
//   - The revocation feed: a poller reading while revocations commit
//     concurrently must miss none (sequence numbers become visible in
//     order). Revoking the same jti or family twice leaves one entry, valid
//     until the later of the two times.
//   - Expiry: DeleteExpired(now, limit) removes what expired strictly
//     before now (a record expiring at now is kept), at most limit records
//     per call, and counts one per record removed: each code, family (once
//     both its refresh and access expiries have passed) and feed entry. A
//     family revoked but never created may count as one more record; the
//     suite does not count those.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// NewStore returns a fresh, empty store for one test. Cleanup belongs in
// t.Cleanup.
type NewStore func(t *testing.T) storage.Store

// Run runs the whole suite against stores made by newStore, one store per
// test, tests in parallel.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, storage.Store)
	}{
		{"KeysRoundTrip", testKeysRoundTrip},
		{"KeysRetire", testKeysRetire},
		{"ClientRoundTrip", testClientRoundTrip},
		{"ClientNotFound", testClientNotFound},
		{"ClientDuplicate", testClientDuplicate},
		{"ClientUpdate", testClientUpdate},
		{"ClientDelete", testClientDelete},
		{"ClientList", testClientList},
		{"ClientInvalid", testClientInvalid},
		{"ClientIsolation", testClientIsolation},
		{"ClientConcurrent", testClientConcurrent},
		{"ClientChanges", testClientChanges},

		{"CodeRoundTrip", testCodeRoundTrip},
		{"CodeNotFound", testCodeNotFound},
		{"CodeDuplicate", testCodeDuplicate},
		{"CodeUse", testCodeUse},
		{"CodeUseConcurrent", testCodeUseConcurrent},
		{"CodeIsolation", testCodeIsolation},

		{"FamilyRoundTrip", testFamilyRoundTrip},
		{"FamilyNotFound", testFamilyNotFound},
		{"FamilyDuplicate", testFamilyDuplicate},
		{"FamilyInvalid", testFamilyInvalid},
		{"FamilyAdvance", testFamilyAdvance},
		{"FamilyAdvanceConcurrent", testFamilyAdvanceConcurrent},
		{"FamilyAdvanceRevoked", testFamilyAdvanceRevoked},
		{"FamilyRevokeBeforeCreate", testFamilyRevokeBeforeCreate},
		{"FamilyIsolation", testFamilyIsolation},
		{"RevokeFamiliesOf", testRevokeFamiliesOf},

		{"ConsentRoundTrip", testConsentRoundTrip},
		{"ConsentNotFound", testConsentNotFound},
		{"ConsentInvalid", testConsentInvalid},
		{"ConsentList", testConsentList},

		{"RevokeAccessToken", testRevokeAccessToken},
		{"RevokeFamily", testRevokeFamily},
		{"RevokeKeepsLaterUntil", testRevokeKeepsLaterUntil},
		{"RevokeConcurrent", testRevokeConcurrent},

		{"FeedEmpty", testFeedEmpty},
		{"FeedOrder", testFeedOrder},
		{"FeedPaging", testFeedPaging},
		{"FeedExpired", testFeedExpired},
		{"FeedConcurrent", testFeedConcurrent},

		{"DeleteExpired", testDeleteExpired},
		{"DeleteExpiredBatches", testDeleteExpiredBatches},
		{"DeleteExpiredEmpty", testDeleteExpiredEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// Client returns a valid confidential client with the given id.
func Client(id string) *storage.Client {
	return &storage.Client{
		ID:             id,
		SecretHash:     "$sha256$" + "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", // sha256("")
		GrantTypes:     []string{storage.GrantClientCredentials},
		Scopes:         []string{"market:all", "market:id:*"},
		DefaultScopes:  []string{"market:all"},
		Audiences:      []string{"https://api.example.com", "https://qa-api.example.com"},
		AccessTokenTTL: 2 * time.Hour,
		Introspector:   true,
	}
}

func testClientRoundTrip(t *testing.T, s storage.Store) {
	ctx := context.Background()
	want := Client("integration")
	mustCreate(t, s, want)
	pub := &storage.Client{ID: "sales-channel", Public: true, GrantTypes: []string{"client_credentials"},
		Scopes: []string{"market:id:*"}, RequireScope: true, Audiences: []string{"https://api.example.com"}}
	mustCreate(t, s, pub)
	// A web app: the fields the others leave empty.
	web := Client("web-app")
	web.GrantTypes = []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken}
	web.RedirectURIs = []string{"https://app.example.com/cb?x=1", "http://127.0.0.1:8765/cb"}
	web.RefreshTokenTTL = 36 * time.Hour
	mustCreate(t, s, web)
	for _, w := range []*storage.Client{want, pub, web} {
		got, err := s.GetClient(ctx, w.ID)
		if err != nil {
			t.Fatalf("GetClient(%q): %v", w.ID, err)
		}
		assertEqual(t, got, w)
	}
}

func testClientNotFound(t *testing.T, s storage.Store) {
	ctx := context.Background()
	if _, err := s.GetClient(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetClient(unknown) error = %v, want ErrNotFound", err)
	}
	if err := s.UpdateClient(ctx, Client("nope")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UpdateClient(unknown) error = %v, want ErrNotFound", err)
	}
	if err := s.DeleteClient(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteClient(unknown) error = %v, want ErrNotFound", err)
	}
}

func testClientDuplicate(t *testing.T, s storage.Store) {
	mustCreate(t, s, Client("a"))
	if err := s.CreateClient(context.Background(), Client("a")); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("second CreateClient error = %v, want ErrAlreadyExists", err)
	}
}

func testClientUpdate(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreate(t, s, Client("a"))
	upd := Client("a")
	upd.Scopes = []string{"orders:read"}
	upd.DefaultScopes = nil
	upd.AccessTokenTTL = time.Minute
	upd.Introspector = false
	if err := s.UpdateClient(ctx, upd); err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	got, err := s.GetClient(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, got, upd)
	bad := Client("a")
	bad.Audiences = nil
	if err := s.UpdateClient(ctx, bad); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("UpdateClient(invalid) error = %v, want ErrInvalid", err)
	}
}

func testClientDelete(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreate(t, s, Client("a"))
	if err := s.DeleteClient(ctx, "a"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	if _, err := s.GetClient(ctx, "a"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetClient after delete error = %v, want ErrNotFound", err)
	}
	mustCreate(t, s, Client("a")) // the id is free again
}

func testClientList(t *testing.T, s storage.Store) {
	ctx := context.Background()
	if list, err := s.ListClients(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListClients(empty) = %v, %v", list, err)
	}
	for _, id := range []string{"b", "c", "a"} {
		mustCreate(t, s, Client(id))
	}
	list, err := s.ListClients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Errorf("ListClients ids = %q, want [a b c]", ids)
	}
}

func testClientInvalid(t *testing.T, s storage.Store) {
	for name, mutate := range map[string]func(*storage.Client){
		"no id":              func(c *storage.Client) { c.ID = "" },
		"public with secret": func(c *storage.Client) { c.Public = true },
		"no secret":          func(c *storage.Client) { c.SecretHash = "" },
		"bad hash":           func(c *storage.Client) { c.SecretHash = "plaintext" },
		"no grant types":     func(c *storage.Client) { c.GrantTypes = nil },
		"no audience":        func(c *storage.Client) { c.Audiences = nil },
		"wildcard default":   func(c *storage.Client) { c.DefaultScopes = []string{"market:id:*"} },
		"default not allowed": func(c *storage.Client) {
			c.DefaultScopes = []string{"orders:read"}
		},
		"bad scope":    func(c *storage.Client) { c.Scopes = []string{"market id"} },
		"negative ttl": func(c *storage.Client) { c.AccessTokenTTL = -time.Second },
		"id newline":   func(c *storage.Client) { c.ID = "a\n" },
		"public introspector": func(c *storage.Client) {
			c.SecretHash, c.Public = "", true
		},
	} {
		c := Client("x")
		mutate(c)
		err := s.CreateClient(context.Background(), c)
		var verr *storage.ValidationError
		if !errors.Is(err, storage.ErrInvalid) || !errors.As(err, &verr) || verr.Field == "" {
			t.Errorf("%s: CreateClient error = %v, want a *ValidationError", name, err)
		}
	}
	if _, err := s.GetClient(context.Background(), "x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("an invalid client was stored: %v", err)
	}
}

// testClientIsolation checks that the store copies records: changing what
// was passed in or handed out must not change what is stored.
func testClientIsolation(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := Client("a")
	mustCreate(t, s, c)
	c.Scopes[0] = "mutated"
	got, err := s.GetClient(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Scopes[0] != "market:all" {
		t.Fatalf("store shares the slice passed to CreateClient")
	}
	got.Audiences[0] = "mutated"
	again, _ := s.GetClient(ctx, "a")
	if again.Audiences[0] != "https://api.example.com" {
		t.Fatalf("store shares the slice returned by GetClient")
	}
}

func testClientConcurrent(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreate(t, s, Client("shared"))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Go(func() {
			id := fmt.Sprintf("c%d", i)
			if err := s.CreateClient(ctx, Client(id)); err != nil {
				errs <- err
			}
			for range 20 {
				if _, err := s.GetClient(ctx, "shared"); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := s.ListClients(ctx)
	if err != nil || len(list) != 17 {
		t.Errorf("ListClients after concurrent creates = %d clients, %v; want 17", len(list), err)
	}
}

func mustCreate(t *testing.T, s storage.ClientStore, c *storage.Client) {
	t.Helper()
	if err := s.CreateClient(context.Background(), c); err != nil {
		t.Fatalf("CreateClient(%q): %v", c.ID, err)
	}
}

// assertEqual compares whole records, so a field added to storage.Client
// is checked without anyone remembering to. Nil and empty lists are the
// same record.
func assertEqual(t *testing.T, got, want *storage.Client) {
	t.Helper()
	assertRecord(t, "client round trip", got, want, normClient)
}
