package storagetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// testClientRoundTrip: every client comes back whole, each field as it
// was stored.
func testClientRoundTrip(t testing.TB, get getterOf) {
	want := clientFixtures()
	s := get(clientFixtures()...)
	for _, w := range want {
		got, err := s.GetClient(t.Context(), w.ID)
		if err != nil {
			t.Fatalf("GetClient(%q): %v", w.ID, err)
		}
		assertRecord(t, "GetClient("+w.ID+")", got, w)
	}
}

// testClientNotFound: ids are compared exactly; anything else is
// ErrNotFound, not another client.
func testClientNotFound(t testing.TB, get getterOf) {
	s := get(Client("Integration"))
	for _, id := range []string{"nope", "integration", "INTEGRATION", "Integratio", "Integration ", " Integration", ""} {
		if c, err := s.GetClient(t.Context(), id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetClient(%q) = %v, %v; want ErrNotFound", id, c, err)
		}
	}
	if _, err := get().GetClient(t.Context(), "Integration"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetClient on a store with no clients: error = %v, want ErrNotFound", err)
	}
}

// testClientGetConcurrent: many readers at once each get the whole record.
func testClientGetConcurrent(t testing.TB, get getterOf) {
	want := clientFixtures()
	s := get(clientFixtures()...)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 20 {
				w := want[(i+j)%len(want)]
				got, err := s.GetClient(t.Context(), w.ID)
				if err != nil {
					t.Errorf("GetClient(%q): %v", w.ID, err)
					return
				}
				assertRecord(t, "concurrent GetClient("+w.ID+")", got, w)
			}
		})
	}
	wg.Wait()
}

func testClientWriteNotFound(t testing.TB, s storage.ClientStore) {
	ctx := t.Context()
	if err := s.UpdateClient(ctx, Client("nope")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UpdateClient(unknown) error = %v, want ErrNotFound", err)
	}
	if err := s.DeleteClient(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteClient(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.GetClient(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetClient after UpdateClient(unknown): error = %v, want ErrNotFound (an update must not create)", err)
	}
}

func testClientDuplicate(t testing.TB, s storage.ClientStore) {
	first := fullClient("a")
	mustCreate(t, s, first)
	if err := s.CreateClient(t.Context(), publicClient("a")); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("second CreateClient error = %v, want ErrAlreadyExists", err)
	}
	got, err := s.GetClient(t.Context(), "a")
	if err != nil {
		t.Fatal(err)
	}
	assertRecord(t, "GetClient after a refused duplicate", got, first)
}

// testClientUpdate: an update replaces the whole record, fields set to
// zero included, both ways.
func testClientUpdate(t testing.TB, s storage.ClientStore) {
	ctx := t.Context()
	mustCreate(t, s, fullClient("a"))
	for _, upd := range []*storage.Client{publicClient("a"), fullClient("a"), Client("a")} {
		if err := s.UpdateClient(ctx, upd); err != nil {
			t.Fatalf("UpdateClient: %v", err)
		}
		got, err := s.GetClient(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		assertRecord(t, "GetClient after UpdateClient", got, upd)
	}
	bad := Client("a")
	bad.Audiences = nil
	if err := s.UpdateClient(ctx, bad); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("UpdateClient(invalid) error = %v, want ErrInvalid", err)
	}
	got, err := s.GetClient(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	assertRecord(t, "GetClient after a refused update", got, Client("a"))
}

func testClientDelete(t testing.TB, s storage.ClientStore) {
	ctx := t.Context()
	mustCreate(t, s, Client("a"))
	mustCreate(t, s, Client("b"))
	if err := s.DeleteClient(ctx, "a"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	if _, err := s.GetClient(ctx, "a"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetClient after delete error = %v, want ErrNotFound", err)
	}
	if _, err := s.GetClient(ctx, "b"); err != nil {
		t.Errorf("GetClient of another client after a delete: %v", err)
	}
	mustCreate(t, s, fullClient("a")) // the id is free again, for another record
	got, err := s.GetClient(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	assertRecord(t, "GetClient of a re-created client", got, fullClient("a"))
}

func testClientList(t testing.TB, s storage.ClientStore) {
	ctx := t.Context()
	if list, err := s.ListClients(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListClients(empty) = %v, %v", list, err)
	}
	want := clientFixtures()
	for _, c := range want {
		mustCreate(t, s, c)
	}
	slices.SortFunc(want, func(a, b *storage.Client) int { return cmp.Compare(a.ID, b.ID) })
	list, err := s.ListClients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	assertRecord(t, "ListClients (every client, by id)", list, want)
}

func testClientInvalid(t testing.TB, s storage.ClientStore) {
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
		err := s.CreateClient(t.Context(), c)
		var verr *storage.ValidationError
		if !errors.Is(err, storage.ErrInvalid) || !errors.As(err, &verr) || verr.Field == "" {
			t.Errorf("%s: CreateClient error = %v, want a *ValidationError", name, err)
		}
	}
	if _, err := s.GetClient(t.Context(), "x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("an invalid client was stored: %v", err)
	}
}

// testClientIsolation checks that the store copies records: changing what
// was passed in or handed out must not change what is stored.
func testClientIsolation(t testing.TB, s storage.ClientStore) {
	ctx := t.Context()
	c := fullClient("a")
	mustCreate(t, s, c)
	mutateClient(c)
	got, err := s.GetClient(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	assertRecord(t, "GetClient after changing the client passed to CreateClient", got, fullClient("a"))
	mutateClient(got)
	again, err := s.GetClient(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	assertRecord(t, "GetClient after changing the client GetClient returned", again, fullClient("a"))
}

// mutateClient changes c in place, down to its slices' elements.
func mutateClient(c *storage.Client) {
	for _, s := range [][]string{c.GrantTypes, c.Scopes, c.DefaultScopes, c.Audiences, c.RedirectURIs} {
		if len(s) > 0 {
			s[0] = "mutated"
		}
	}
	c.AccessTokenTTL++
	c.Introspector = !c.Introspector
}

func testClientConcurrent(t testing.TB, s storage.ClientStore) {
	ctx := t.Context()
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

func mustCreate(t testing.TB, s storage.ClientStore, c *storage.Client) {
	t.Helper()
	if err := s.CreateClient(context.Background(), c); err != nil {
		t.Fatalf("CreateClient(%q): %v", c.ID, err)
	}
}
