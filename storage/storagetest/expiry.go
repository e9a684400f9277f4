package storagetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// testDeleteExpired stores records of each kind on each side of now (and
// at now exactly, which is not expired), purges, and checks each record is
// gone or kept, whole; then purges far in the future and checks nothing is
// left.
func testDeleteExpired(t testing.TB, s storage.TokenStore) {
	ctx := t.Context()
	now := baseTime()
	past, future := now.Add(-time.Second), now.Add(time.Hour)

	// Codes: expired (one used, one not), expiring at now, live.
	mustCreateCode(t, s, &storage.AuthorizationCode{Signature: "code-expired", Grant: fullGrant("g1", now), ExpiresAt: past})
	mustCreateCode(t, s, &storage.AuthorizationCode{Signature: "code-expired-used", Grant: fullGrant("g2", now), ExpiresAt: now.Add(-time.Microsecond)})
	mustCreateCode(t, s, &storage.AuthorizationCode{Signature: "code-at-now", Grant: fullGrant("g3", now), ExpiresAt: now})
	mustCreateCode(t, s, &storage.AuthorizationCode{Signature: "code-live", Grant: fullGrant("g4", now), ExpiresAt: future})
	for _, sig := range []string{"code-expired-used", "code-live"} {
		if err := s.UseCode(ctx, sig); err != nil {
			t.Fatalf("UseCode(%q): %v", sig, err)
		}
	}
	// Families: expired only when both the refresh and the access expiry
	// have passed.
	family := func(id string, refresh, access time.Time) *storage.Family {
		f := liveFamily(id, now)
		f.ExpiresAt, f.AccessExpiresAt = refresh, access
		return f
	}
	kept := []*storage.Family{
		family("refresh-live", future, past),
		family("access-live", past, future), // a refresh lifetime shorter than the access one
		family("at-now", now, past),
	}
	mustCreateFamily(t, s, family("expired", past, now.Add(-time.Microsecond)))
	mustCreateFamily(t, s, family("expired-revoked", past, past))
	for _, f := range kept {
		mustCreateFamily(t, s, f)
	}
	// Feed entries (the revoked family's entry is kept until its access
	// expiry, past).
	for _, step := range []struct {
		name string
		err  error
	}{
		{"RevokeFamily(expired-revoked)", s.RevokeFamily(ctx, "expired-revoked", past)},
		{"RevokeAccessToken(jti-expired)", s.RevokeAccessToken(ctx, "jti-expired", past)},
		{"RevokeAccessToken(jti-at-now)", s.RevokeAccessToken(ctx, "jti-at-now", now)},
		{"RevokeAccessToken(jti-live)", s.RevokeAccessToken(ctx, "jti-live", future)},
	} {
		if step.err != nil {
			t.Fatalf("%s: %v", step.name, step.err)
		}
	}

	// 2 codes + 2 families + 2 entries.
	mustDeleteExpired(t, s, now, 6)

	for _, sig := range []string{"code-expired", "code-expired-used"} {
		if _, err := s.GetCode(ctx, sig); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetCode(%q) after DeleteExpired: error = %v, want ErrNotFound", sig, err)
		}
	}
	for _, id := range []string{"expired", "expired-revoked"} {
		if _, err := s.GetFamily(ctx, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetFamily(%q) after DeleteExpired: error = %v, want ErrNotFound", id, err)
		}
	}
	assertRevoked(t, s, "jti-expired", "", false)
	assertRevoked(t, s, "x", "expired-revoked", false)

	for _, want := range []*storage.AuthorizationCode{
		{Signature: "code-at-now", Grant: fullGrant("g3", now), ExpiresAt: now},
		{Signature: "code-live", Grant: fullGrant("g4", now), ExpiresAt: future, Used: true},
	} {
		got, err := s.GetCode(ctx, want.Signature)
		if err != nil {
			t.Errorf("GetCode(%q) after DeleteExpired: %v, want it kept", want.Signature, err)
			continue
		}
		assertCode(t, "kept "+want.Signature, got, want)
	}
	for _, want := range kept {
		assertFamily(t, "kept family "+want.Grant.ID, mustGetFamily(t, s, want.Grant.ID), want)
	}
	assertFeed(t, s, 0, now, []storage.Revocation{{JTI: "jti-at-now", ExpiresAt: now}, {JTI: "jti-live", ExpiresAt: future}})

	mustDeleteExpired(t, s, now, 0) // nothing more expired at the same now

	// 2 codes + 3 families + 2 entries.
	mustDeleteExpired(t, s, now.Add(24*time.Hour), 7)
	for _, sig := range []string{"code-at-now", "code-live"} {
		if _, err := s.GetCode(ctx, sig); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetCode(%q) after the final DeleteExpired: error = %v, want ErrNotFound", sig, err)
		}
	}
	for _, f := range kept {
		if _, err := s.GetFamily(ctx, f.Grant.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetFamily(%q) after the final DeleteExpired: error = %v, want ErrNotFound", f.Grant.ID, err)
		}
	}
	for _, jti := range []string{"jti-at-now", "jti-live"} {
		assertRevoked(t, s, jti, "", false)
	}
	mustDeleteExpired(t, s, now.Add(24*time.Hour), 0)
}

// testDeleteExpiredBatches: a purge in steps of limit removes at most
// limit per call, and everything in the end.
func testDeleteExpiredBatches(t testing.TB, s storage.TokenStore) {
	ctx := t.Context()
	now := baseTime()
	past := now.Add(-time.Minute)
	const each = 9
	for i := range each {
		mustCreateCode(t, s, &storage.AuthorizationCode{Signature: fmt.Sprintf("code-%d", i), Grant: minimalGrant("g", now), ExpiresAt: past})
		mustCreateFamily(t, s, &storage.Family{Grant: minimalGrant(fmt.Sprintf("family-%d", i), now), ExpiresAt: past, AccessExpiresAt: past})
		if err := s.RevokeAccessToken(ctx, fmt.Sprintf("jti-%d", i), past); err != nil {
			t.Fatal(err)
		}
	}
	var got []int
	for range 3 * each {
		n, err := s.DeleteExpired(ctx, now, 10)
		if err != nil {
			t.Fatalf("DeleteExpired: %v", err)
		}
		got = append(got, n)
		if n < 10 {
			break
		}
	}
	total := 0
	for _, n := range got {
		total += n
	}
	if total != 3*each || got[len(got)-1] >= 10 {
		t.Errorf("DeleteExpired by 10 removed %v (total %d), want batches of 10 then fewer, %d in all", got, total, 3*each)
	}
	mustDeleteExpired(t, s, now, 0)
}

func testDeleteExpiredEmpty(t testing.TB, s storage.TokenStore) {
	mustDeleteExpired(t, s, baseTime(), 0)
	// Clients never expire, in a store that keeps them too.
	cs, ok := s.(storage.ClientStore)
	if !ok {
		return
	}
	mustCreate(t, cs, Client("a"))
	mustDeleteExpired(t, s, baseTime().Add(100*365*24*time.Hour), 0)
	if _, err := cs.GetClient(t.Context(), "a"); err != nil {
		t.Errorf("GetClient after DeleteExpired: %v", err)
	}
}

// purgeLimit is the batch size the suite's purges use: larger than any
// test's record count, so one call removes everything expired.
const purgeLimit = 1000

// mustDeleteExpired runs DeleteExpired(now) and checks the count. Each test
// starts from an empty store, so the count is exact.
func mustDeleteExpired(t testing.TB, s storage.TokenStore, now time.Time, want int) {
	t.Helper()
	n, err := s.DeleteExpired(t.Context(), now, purgeLimit)
	if err != nil {
		t.Fatalf("DeleteExpired(%v): %v", now, err)
	}
	if n != want {
		t.Errorf("DeleteExpired(%v) = %d, want %d", now, n, want)
	}
}
