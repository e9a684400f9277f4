package storagetest

import (
	"context"
	"testing"

	"github.com/tollgate-oauth/tollgate/storage"
)

// testClientChanges checks storage.ClientChanges, for a store that has it:
// each kind of client write moves both counters, reads move neither (a
// read that did would empty the handler's cache on every request).
func testClientChanges(t testing.TB, s storage.ClientStore) {
	ch, ok := s.(storage.ClientChanges)
	if !ok {
		t.Skip("the store does not implement storage.ClientChanges")
	}
	ctx := context.Background()
	type counts struct{ version, written uint64 }
	read := func() counts {
		t.Helper()
		v, err := ch.ClientsVersion(ctx)
		if err != nil {
			t.Fatalf("ClientsVersion: %v", err)
		}
		return counts{v, ch.ClientsWritten()}
	}
	last := read()
	step := func(what string, write func() error) {
		t.Helper()
		if err := write(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		now := read()
		if now.version <= last.version || now.written <= last.written {
			t.Errorf("after %s: ClientsVersion %d → %d, ClientsWritten %d → %d; want both to grow",
				what, last.version, now.version, last.written, now.written)
		}
		last = now
	}
	step("CreateClient", func() error { return s.CreateClient(ctx, Client("a")) })
	step("UpdateClient", func() error {
		upd := Client("a")
		upd.Scopes, upd.DefaultScopes = []string{"orders:read"}, nil
		return s.UpdateClient(ctx, upd)
	})
	if _, err := s.GetClient(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetClient(ctx, "missing"); err == nil {
		t.Fatal("GetClient(missing) found a client")
	}
	if _, err := s.ListClients(ctx); err != nil {
		t.Fatal(err)
	}
	if now := read(); now != last {
		t.Errorf("reads changed the counters: %+v → %+v", last, now)
	}
	step("DeleteClient", func() error { return s.DeleteClient(ctx, "a") })
}
