package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// fullFamily has every field set.
func fullFamily(id string, now time.Time) *storage.Family {
	return &storage.Family{
		Grant:           fullGrant(id, now),
		Generation:      7,
		ExpiresAt:       now.Add(30 * 24 * time.Hour),
		AccessExpiresAt: now.Add(time.Hour).In(time.FixedZone("UTC-03:00", -3*3600)),
		Revoked:         true,
	}
}

// liveFamily is a family at generation 1 that is not revoked.
func liveFamily(id string, now time.Time) *storage.Family {
	f := fullFamily(id, now)
	f.Generation, f.Revoked = 1, false
	return f
}

func mustCreateFamily(t *testing.T, s storage.Store, f *storage.Family) {
	t.Helper()
	if err := s.CreateFamily(t.Context(), f); err != nil {
		t.Fatalf("CreateFamily(%q): %v", f.Grant.ID, err)
	}
}

func mustGetFamily(t *testing.T, s storage.Store, id string) *storage.Family {
	t.Helper()
	f, err := s.GetFamily(t.Context(), id)
	if err != nil {
		t.Fatalf("GetFamily(%q): %v", id, err)
	}
	return f
}

func testFamilyRoundTrip(t *testing.T, s storage.Store) {
	now := baseTime()
	want := []*storage.Family{
		fullFamily("grant-full", now),
		liveFamily("grant-live", now),
		{Grant: minimalGrant("grant-min", now)}, // generation 0, no expiry yet
	}
	for _, f := range want {
		mustCreateFamily(t, s, f)
	}
	for _, w := range want {
		assertFamily(t, "GetFamily("+w.Grant.ID+")", mustGetFamily(t, s, w.Grant.ID), w)
	}
}

func testFamilyNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	if _, err := s.GetFamily(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetFamily(unknown) on an empty store: error = %v, want ErrNotFound", err)
	}
	mustCreateFamily(t, s, liveFamily("AbCdEf", now))
	for _, id := range []string{"nope", "abcdef", "ABCDEF", "AbCdE", "AbCdEf ", ""} {
		if _, err := s.GetFamily(ctx, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetFamily(%q): error = %v, want ErrNotFound", id, err)
		}
		if err := s.AdvanceFamily(ctx, id, 1, now, now); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("AdvanceFamily(%q): error = %v, want ErrNotFound", id, err)
		}
	}
	assertFamily(t, "the family after advancing other ids", mustGetFamily(t, s, "AbCdEf"), liveFamily("AbCdEf", now))
}

func testFamilyDuplicate(t *testing.T, s storage.Store) {
	now := baseTime()
	first := liveFamily("id", now)
	mustCreateFamily(t, s, first)
	second := fullFamily("id", now.Add(time.Hour))
	if err := s.CreateFamily(t.Context(), second); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("CreateFamily(duplicate id): error = %v, want ErrAlreadyExists", err)
	}
	assertFamily(t, "GetFamily after a refused duplicate", mustGetFamily(t, s, "id"), first)
}

func testFamilyInvalid(t *testing.T, s storage.Store) {
	now := baseTime()
	for name, f := range map[string]*storage.Family{
		"nil":      nil,
		"no grant": {Generation: 1, ExpiresAt: now},
		"no id":    {Grant: minimalGrant("", now)},
	} {
		if err := s.CreateFamily(t.Context(), f); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("CreateFamily(%s): error = %v, want ErrInvalid", name, err)
		}
	}
}

// testFamilyAdvance: a rotation moves the generation by one, sets the
// refresh expiry as given (even earlier: a client's lifetime may have been
// shortened) and only ever raises the access expiry; a stale or future
// generation is refused and changes nothing.
func testFamilyAdvance(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	want := liveFamily("f", now)
	mustCreateFamily(t, s, want)

	steps := []struct {
		name            string
		from            uint64
		expires, access time.Time
		err             error
	}{
		{"advance from 1", 1, now.Add(40 * 24 * time.Hour), now.Add(2 * time.Hour), nil},
		{"from 1 again (a replay)", 1, now.Add(50 * 24 * time.Hour), now.Add(3 * time.Hour), storage.ErrAlreadyUsed},
		{"from a generation not reached", 3, now.Add(50 * 24 * time.Hour), now.Add(3 * time.Hour), storage.ErrAlreadyUsed},
		{"from 2 with an earlier access expiry", 2, now.Add(time.Hour), now.Add(time.Minute), nil},
		{"from 0", 0, now, now, storage.ErrAlreadyUsed},
	}
	for _, st := range steps {
		err := s.AdvanceFamily(ctx, "f", st.from, st.expires, st.access)
		if !errors.Is(err, st.err) || (st.err == nil && err != nil) {
			t.Fatalf("%s: AdvanceFamily error = %v, want %v", st.name, err, st.err)
		}
		if st.err == nil {
			want.Generation++
			want.ExpiresAt = st.expires
			if st.access.After(want.AccessExpiresAt) {
				want.AccessExpiresAt = st.access
			}
		}
		assertFamily(t, "after "+st.name, mustGetFamily(t, s, "f"), want)
	}
}

func testFamilyAdvanceConcurrent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	want := liveFamily("contended", now)
	want.Generation = 41
	mustCreateFamily(t, s, want)
	exp := now.Add(time.Hour)
	errs := race(concurrency, func() error { return s.AdvanceFamily(ctx, "contended", 41, exp, now) })
	assertOneWinner(t, "AdvanceFamily", errs)
	want.Generation, want.ExpiresAt = 42, exp
	assertFamily(t, "GetFamily after the race", mustGetFamily(t, s, "contended"), want)
}

// testFamilyAdvanceRevoked: a revoked family never advances.
func testFamilyAdvanceRevoked(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	want := liveFamily("f", now)
	mustCreateFamily(t, s, want)
	if err := s.RevokeFamily(ctx, "f", now.Add(time.Minute)); err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}
	want.Revoked = true
	assertFamily(t, "GetFamily after RevokeFamily", mustGetFamily(t, s, "f"), want)
	if err := s.AdvanceFamily(ctx, "f", 1, now.Add(time.Hour), now.Add(time.Hour)); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Errorf("AdvanceFamily of a revoked family: error = %v, want ErrAlreadyUsed", err)
	}
	assertFamily(t, "GetFamily after the refused advance", mustGetFamily(t, s, "f"), want)
}

// testFamilyRevokeBeforeCreate: a replayed code can revoke the grant
// before the redemption it races creates the family. The family is then
// created revoked, never advances, and the feed entry lasts as long as
// its access tokens.
func testFamilyRevokeBeforeCreate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	if err := s.RevokeFamily(ctx, "early", now.Add(time.Minute)); err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}
	if _, err := s.GetFamily(ctx, "early"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetFamily of a family revoked but not created: error = %v, want ErrNotFound", err)
	}
	f := liveFamily("early", now)
	mustCreateFamily(t, s, f)
	f.Revoked = true
	assertFamily(t, "GetFamily of a family revoked before it was created", mustGetFamily(t, s, "early"), f)
	if err := s.AdvanceFamily(ctx, "early", 1, now.Add(time.Hour), now.Add(time.Hour)); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Errorf("AdvanceFamily of it: error = %v, want ErrAlreadyUsed", err)
	}
	assertRevoked(t, s, "any-jti", "early", true)
	assertFeed(t, s, 0, now, []storage.Revocation{{GrantID: "early", ExpiresAt: f.AccessExpiresAt}})
	// Another family is untouched.
	mustCreateFamily(t, s, liveFamily("other", now))
	assertFamily(t, "an unrelated family", mustGetFamily(t, s, "other"), liveFamily("other", now))
}

// testFamilyIsolation checks that the store copies families, down to the
// grant's slices, map and session bytes.
func testFamilyIsolation(t *testing.T, s storage.Store) {
	now := baseTime()
	in := liveFamily("f", now)
	mustCreateFamily(t, s, in)
	want := liveFamily("f", now)

	in.Generation = 99
	in.Revoked = true
	in.ExpiresAt = in.ExpiresAt.Add(time.Hour)
	mutateGrant(in.Grant)
	got := mustGetFamily(t, s, "f")
	assertFamily(t, "after changing the family passed to CreateFamily", got, want)

	got.Generation = 99
	got.AccessExpiresAt = got.AccessExpiresAt.Add(time.Hour)
	mutateGrant(got.Grant)
	assertFamily(t, "after changing the family GetFamily returned", mustGetFamily(t, s, "f"), want)
}
