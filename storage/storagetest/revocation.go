package storagetest

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

func testRevokeAccessToken(t testing.TB, s storage.TokenStore) {
	ctx := t.Context()
	now := baseTime()
	mustCreateFamily(t, s, liveFamily("family", now))
	assertRevoked(t, s, "jti-1", "", false)
	assertRevoked(t, s, "jti-1", "family", false)

	for range 2 { // revoking is idempotent
		if err := s.RevokeAccessToken(ctx, "jti-1", now.Add(time.Hour)); err != nil {
			t.Fatalf("RevokeAccessToken: %v", err)
		}
		assertRevoked(t, s, "jti-1", "", true)
		assertRevoked(t, s, "jti-1", "family", true)
	}
	// One token, not its family.
	assertRevoked(t, s, "jti-2", "family", false)
	assertFamily(t, "the family of a revoked access token", mustGetFamily(t, s, "family"), liveFamily("family", now))
	assertRevoked(t, s, "unknown", "", false)
	assertFeed(t, s, 0, now, []storage.Revocation{{JTI: "jti-1", ExpiresAt: now.Add(time.Hour)}})
}

// testRevokeFamily: a revoked family revokes every access token that names
// it, and its entry lasts until the family's latest access expiry even if
// the caller's until is earlier (the client's lifetime was shortened since
// the tokens were issued).
func testRevokeFamily(t testing.TB, s storage.TokenStore) {
	ctx := t.Context()
	now := baseTime()
	a := liveFamily("family-a", now)
	a.AccessExpiresAt = now.Add(2 * time.Hour)
	mustCreateFamily(t, s, a)
	mustCreateFamily(t, s, liveFamily("family-b", now))

	for range 2 { // revoking is idempotent
		if err := s.RevokeFamily(ctx, "family-a", now.Add(time.Minute)); err != nil {
			t.Fatalf("RevokeFamily: %v", err)
		}
		assertRevoked(t, s, "any-jti", "family-a", true)
		assertRevoked(t, s, "other-jti", "family-a", true)
	}
	assertRevoked(t, s, "any-jti", "family-b", false)
	assertRevoked(t, s, "any-jti", "", false)
	a.Revoked = true
	assertFamily(t, "the revoked family", mustGetFamily(t, s, "family-a"), a)
	assertFamily(t, "the other family", mustGetFamily(t, s, "family-b"), liveFamily("family-b", now))
	assertFeed(t, s, 0, now, []storage.Revocation{{GrantID: "family-a", ExpiresAt: a.AccessExpiresAt}})

	// Past the caller's until, before the family's access expiry: still
	// revoked after a purge.
	mustDeleteExpired(t, s, now.Add(time.Hour), 0)
	assertRevoked(t, s, "any-jti", "family-a", true)
}

// testRevokeKeepsLaterUntil: revoking twice keeps one entry, until the later
// of the two times, whichever order they came in.
func testRevokeKeepsLaterUntil(t testing.TB, s storage.TokenStore) {
	ctx := t.Context()
	now := baseTime()
	early, late := now.Add(time.Minute), now.Add(time.Hour)
	for _, step := range []struct {
		name string
		fn   func() error
	}{
		{"RevokeAccessToken(kept, late)", func() error { return s.RevokeAccessToken(ctx, "kept", late) }},
		{"RevokeAccessToken(extended, early)", func() error { return s.RevokeAccessToken(ctx, "extended", early) }},
		{"RevokeAccessToken(extended, late)", func() error { return s.RevokeAccessToken(ctx, "extended", late) }},
		{"RevokeAccessToken(kept, early)", func() error { return s.RevokeAccessToken(ctx, "kept", early) }},
	} {
		if err := step.fn(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
	}
	// The extended entry moved behind kept: a poller must learn its new
	// expiry. kept's second revocation changed nothing.
	assertFeed(t, s, 0, now, []storage.Revocation{{JTI: "kept", ExpiresAt: late}, {JTI: "extended", ExpiresAt: late}})
	check := func(when string, want bool) {
		t.Helper()
		for _, jti := range []string{"extended", "kept"} {
			assertRevoked(t, s, jti, "", want)
		}
	}
	mustDeleteExpired(t, s, now.Add(30*time.Minute), 0)
	check("after DeleteExpired between the two untils", true)
	mustDeleteExpired(t, s, late.Add(time.Microsecond), 2) // one entry each, though revoked twice
	check("after DeleteExpired past the later until", false)
}

// testRevokeConcurrent: concurrent revocations of one jti and one family
// (an upsert race in SQL) all succeed and keep the latest until.
func testRevokeConcurrent(t testing.TB, s storage.TokenStore) {
	ctx := t.Context()
	now := baseTime()
	f := liveFamily("family", now)
	f.ExpiresAt, f.AccessExpiresAt = now, now
	mustCreateFamily(t, s, f)
	var n atomic.Int64
	errs := race(concurrency, func() error {
		i := n.Add(1) // 1..concurrency
		until := now.Add(time.Duration(i) * time.Minute)
		return errors.Join(
			s.RevokeAccessToken(ctx, "jti", until),
			s.RevokeFamily(ctx, "family", until),
			s.RevokeAccessToken(ctx, fmt.Sprintf("jti-%d", i), now.Add(2*time.Hour)),
		)
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	assertRevoked(t, s, "jti", "", true)
	assertRevoked(t, s, "x", "family", true)
	for i := range concurrency {
		assertRevoked(t, s, fmt.Sprintf("jti-%d", i+1), "", true)
	}
	latest := now.Add(concurrency * time.Minute)
	mustDeleteExpired(t, s, latest, 1) // the family (expired at now); the entries expiring at latest are not expired
	assertRevoked(t, s, "jti", "", true)
	assertRevoked(t, s, "x", "family", true)
	mustDeleteExpired(t, s, latest.Add(time.Microsecond), 2)
	assertRevoked(t, s, "jti", "", false)
	assertRevoked(t, s, "x", "family", false)
}

func assertRevoked(t testing.TB, s storage.TokenStore, jti, grantID string, want bool) {
	t.Helper()
	got, err := s.AccessTokenRevoked(t.Context(), jti, grantID)
	if err != nil || got != want {
		t.Errorf("AccessTokenRevoked(%q, %q) = %v, %v; want %v, nil", jti, grantID, got, err, want)
	}
}
