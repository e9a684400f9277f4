package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

func mustCreateFamily(t testing.TB, s storage.TokenStore, f *storage.Family) {
	t.Helper()
	if err := s.CreateFamily(t.Context(), f); err != nil {
		t.Fatalf("CreateFamily(%q): %v", f.Grant.ID, err)
	}
}

func mustGetFamily(t testing.TB, s storage.TokenStore, id string) *storage.Family {
	t.Helper()
	f, err := s.GetFamily(t.Context(), id)
	if err != nil {
		t.Fatalf("GetFamily(%q): %v", id, err)
	}
	return f
}

func testFamilyRoundTrip(t testing.TB, s storage.TokenStore) {
	now := baseTime()
	want := familyFixtures(now)
	for _, f := range want {
		mustCreateFamily(t, s, f)
	}
	for _, w := range want {
		assertFamily(t, "GetFamily("+w.Grant.ID+")", mustGetFamily(t, s, w.Grant.ID), w)
	}
}

func testFamilyNotFound(t testing.TB, s storage.TokenStore) {
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

func testFamilyDuplicate(t testing.TB, s storage.TokenStore) {
	now := baseTime()
	first := liveFamily("id", now)
	mustCreateFamily(t, s, first)
	second := fullFamily("id", now.Add(time.Hour))
	if err := s.CreateFamily(t.Context(), second); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("CreateFamily(duplicate id): error = %v, want ErrAlreadyExists", err)
	}
	assertFamily(t, "GetFamily after a refused duplicate", mustGetFamily(t, s, "id"), first)
}

func testFamilyInvalid(t testing.TB, s storage.TokenStore) {
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
func testFamilyAdvance(t testing.TB, s storage.TokenStore) {
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

func testFamilyAdvanceConcurrent(t testing.TB, s storage.TokenStore) {
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
func testFamilyAdvanceRevoked(t testing.TB, s storage.TokenStore) {
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
func testFamilyRevokeBeforeCreate(t testing.TB, s storage.TokenStore) {
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
func testFamilyIsolation(t testing.TB, s storage.TokenStore) {
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

// grantOf is a live family of subject's grant to clientID.
func grantOf(id, subject, clientID string, now time.Time) *storage.Family {
	f := liveFamily(id, now)
	f.Grant.Subject, f.Grant.ClientID = subject, clientID
	return f
}

// testRevokeFamiliesOf: every family and code of one user's grants to one
// client is revoked, and nothing of another user's or another client's;
// only families live before the call are counted.
func testRevokeFamiliesOf(t testing.TB, s storage.TokenStore) {
	ctx := t.Context()
	now := baseTime()
	mine1, mine2, revoked := grantOf("mine-1", "user-42", "app", now), grantOf("mine-2", "user-42", "app", now), grantOf("mine-old", "user-42", "app", now)
	revoked.Revoked = true
	mine2.AccessExpiresAt = now.Add(3 * time.Hour)
	others := []*storage.Family{grantOf("other-client", "user-42", "other-app", now), grantOf("other-user", "user-43", "app", now)}
	for _, f := range append([]*storage.Family{mine1, mine2, revoked}, others...) {
		mustCreateFamily(t, s, f)
	}
	code := &storage.AuthorizationCode{Signature: "code-mine", Grant: grantOf("code-grant", "user-42", "app", now).Grant, ExpiresAt: now.Add(time.Minute)}
	otherCode := &storage.AuthorizationCode{Signature: "code-other", Grant: grantOf("other-code-grant", "user-43", "app", now).Grant, ExpiresAt: now.Add(time.Minute)}
	mustCreateCode(t, s, code)
	mustCreateCode(t, s, otherCode)

	until := now.Add(time.Hour)
	n, err := s.RevokeFamiliesOf(ctx, "user-42", "app", until)
	if err != nil || n != 2 {
		t.Fatalf("RevokeFamiliesOf = %d, %v; want 2, nil", n, err)
	}
	for _, f := range []*storage.Family{mine1, mine2} {
		f.Revoked = true
		assertFamily(t, "a revoked family", mustGetFamily(t, s, f.Grant.ID), f)
		assertRevoked(t, s, "any-jti", f.Grant.ID, true)
	}
	for _, f := range others {
		assertFamily(t, "another's family", mustGetFamily(t, s, f.Grant.ID), f)
		assertRevoked(t, s, "any-jti", f.Grant.ID, false)
	}
	// The code can no longer be redeemed, and a redemption already past
	// UseCode creates its family revoked.
	if err := s.UseCode(ctx, code.Signature); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Errorf("UseCode of the user's code after RevokeFamiliesOf: %v; want ErrAlreadyUsed", err)
	}
	mustCreateFamily(t, s, grantOf("code-grant", "user-42", "app", now))
	if f := mustGetFamily(t, s, "code-grant"); !f.Revoked {
		t.Error("the family of the user's code was created unrevoked after RevokeFamiliesOf")
	}
	if err := s.UseCode(ctx, otherCode.Signature); err != nil {
		t.Errorf("UseCode of another user's code: %v", err)
	}
	// Each revoked family is on the feed until its latest access expiry
	// or until, whichever is later.
	page := readFeed(t, s, 0, now, 100)
	exp := map[string]time.Time{}
	for _, e := range page.Entries {
		exp[e.GrantID] = e.ExpiresAt
	}
	for id, want := range map[string]time.Time{"mine-1": until, "mine-2": mine2.AccessExpiresAt} {
		if !normTime(exp[id]).Equal(normTime(want)) {
			t.Errorf("feed entry of %s expires %v; want %v (entries %+v)", id, exp[id], want, page.Entries)
		}
	}
	if n, err := s.RevokeFamiliesOf(ctx, "user-42", "app", until); err != nil || n != 0 {
		t.Errorf("RevokeFamiliesOf again = %d, %v; want 0, nil", n, err)
	}
	if n, err := s.RevokeFamiliesOf(ctx, "nobody", "app", until); err != nil || n != 0 {
		t.Errorf("RevokeFamiliesOf(nobody) = %d, %v; want 0, nil", n, err)
	}
}
