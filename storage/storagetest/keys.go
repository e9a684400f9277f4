package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

func testKeysRoundTrip(t *testing.T, s storage.Store) {
	ctx := context.Background()
	if keys, err := s.SigningKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("SigningKeys(empty) = %v, %v", keys, err)
	}
	base := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	// Created out of order; binary private bytes (as a ciphertext is).
	// Every field set on some key: a schedule, and a key stored retired.
	in := []*storage.SigningKey{
		{ID: "k2", Algorithm: "ES256", Private: []byte{0, 1, 0xff, 0xfe}, CreatedAt: base.Add(time.Hour), ActiveFrom: base.Add(2 * time.Hour)},
		{ID: "k1", Algorithm: "RS256", Private: []byte("-----BEGIN PRIVATE KEY-----\n…"), CreatedAt: base},
		{ID: "k0", Algorithm: "EdDSA", Private: []byte{9}, CreatedAt: base.Add(time.Hour), ActiveFrom: base.Add(time.Hour), RetiredAt: base.Add(3 * time.Hour)},
	}
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
	// By time, then id; every field as stored, the private bytes as they
	// were before the caller changed its slice.
	want := []*storage.SigningKey{
		{ID: "k1", Algorithm: "RS256", Private: []byte("-----BEGIN PRIVATE KEY-----\n…"), CreatedAt: base},
		{ID: "k0", Algorithm: "EdDSA", Private: []byte{9}, CreatedAt: base.Add(time.Hour), ActiveFrom: base.Add(time.Hour), RetiredAt: base.Add(3 * time.Hour)},
		{ID: "k2", Algorithm: "ES256", Private: []byte{0, 1, 0xff, 0xfe}, CreatedAt: base.Add(time.Hour), ActiveFrom: base.Add(2 * time.Hour)},
	}
	assertRecord(t, "SigningKeys", got, want, func(ks []*storage.SigningKey) []*storage.SigningKey {
		out := make([]*storage.SigningKey, len(ks))
		for i, k := range ks {
			out[i] = normKey(k)
		}
		return out
	})
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
func testKeysRetire(t *testing.T, s storage.Store) {
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
	assertRecord(t, "SigningKeys after a retirement", got, []*storage.SigningKey{wantOld, next}, func(ks []*storage.SigningKey) []*storage.SigningKey {
		out := make([]*storage.SigningKey, len(ks))
		for i, k := range ks {
			out[i] = normKey(k)
		}
		return out
	})
	if err := s.RetireSigningKey(ctx, "nope", retired); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("RetireSigningKey(unknown) = %v, want ErrNotFound", err)
	}
}
