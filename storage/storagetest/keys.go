package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

func testKeysRoundTrip(t testing.TB, s storage.KeyStore) {
	ctx := context.Background()
	if keys, err := s.SigningKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("SigningKeys(empty) = %v, %v", keys, err)
	}
	base := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	in := keyFixtures(base)
	for _, k := range in {
		if err := s.AddSigningKey(ctx, k); err != nil {
			t.Fatalf("AddSigningKey(%s): %v", k.ID, err)
		}
	}
	in[0].Private[0] = 42 // the store must have copied
	got, err := s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Oldest first, then by id; every field as stored, the private bytes
	// as they were before the caller changed its slice.
	fx := keyFixtures(base)
	assertRecord(t, "SigningKeys", got, []*storage.SigningKey{fx[1], fx[2], fx[0]})
	err = s.AddSigningKey(ctx, &storage.SigningKey{ID: "k1", Algorithm: "RS256", Private: []byte("x"), CreatedAt: base})
	if !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("AddSigningKey(duplicate) = %v, want ErrAlreadyExists", err)
	}
	if err := s.AddSigningKey(ctx, &storage.SigningKey{ID: "", Private: []byte("x")}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("AddSigningKey(no id) = %v, want ErrInvalid", err)
	}
}

// testKeysRetire: a retired key is kept, with its retirement time, and
// every other field as it was; retiring it again keeps the first time (two
// instances retiring at once agree); an unknown key is ErrNotFound.
func testKeysRetire(t testing.TB, s storage.KeyStore) {
	ctx := context.Background()
	base := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	old := &storage.SigningKey{ID: "old", Algorithm: "ES256", Private: []byte("old"), CreatedAt: base}
	next := &storage.SigningKey{ID: "next", Algorithm: "ES256", Private: []byte("next"), CreatedAt: base.Add(time.Minute), ActiveFrom: base.Add(time.Hour)}
	for _, k := range []*storage.SigningKey{old, next} {
		if err := s.AddSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	retired := base.Add(3 * time.Hour)
	if err := s.RetireSigningKey(ctx, "old", retired); err != nil {
		t.Fatalf("RetireSigningKey: %v", err)
	}
	if err := s.RetireSigningKey(ctx, "old", retired.Add(time.Hour)); err != nil {
		t.Fatalf("RetireSigningKey again: %v", err)
	}
	got, err := s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantOld := old.Clone()
	wantOld.RetiredAt = retired
	assertRecord(t, "SigningKeys after a retirement", got, []*storage.SigningKey{wantOld, next})
	if err := s.RetireSigningKey(ctx, "nope", retired); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("RetireSigningKey(unknown) = %v, want ErrNotFound", err)
	}
}
