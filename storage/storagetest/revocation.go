package storagetest

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

func testRevokeAccessToken(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	assertRevoked(t, s, "unknown", false)
	mustRecord(t, s, "jti-1", "family", now.Add(time.Hour))
	mustRecord(t, s, "jti-2", "family", now.Add(time.Hour))
	assertRevoked(t, s, "jti-1", false)

	for range 2 { // revoking is idempotent
		if err := s.RevokeAccessToken(ctx, "jti-1", now.Add(time.Hour)); err != nil {
			t.Fatalf("RevokeAccessToken: %v", err)
		}
		assertRevoked(t, s, "jti-1", true)
	}
	// One token, not its family.
	assertRevoked(t, s, "jti-2", false)
	assertFamilyRevoked(t, s, "family", false)
	assertRevoked(t, s, "unknown", false)

	// A token never recorded (client_credentials tokens are not) can be
	// revoked by its jti alone.
	if err := s.RevokeAccessToken(ctx, "unrecorded", now.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeAccessToken(unrecorded): %v", err)
	}
	assertRevoked(t, s, "unrecorded", true)
}

func testRevokeFamily(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	mustRecord(t, s, "a-1", "family-a", now.Add(time.Hour))
	mustRecord(t, s, "a-2", "family-a", now.Add(time.Hour))
	mustRecord(t, s, "b-1", "family-b", now.Add(time.Hour))
	assertFamilyRevoked(t, s, "family-a", false)
	assertFamilyRevoked(t, s, "unknown", false)

	for range 2 { // revoking is idempotent
		if err := s.RevokeFamily(ctx, "family-a", now.Add(time.Hour)); err != nil {
			t.Fatalf("RevokeFamily: %v", err)
		}
		assertFamilyRevoked(t, s, "family-a", true)
		assertRevoked(t, s, "a-1", true)
		assertRevoked(t, s, "a-2", true)
	}
	assertFamilyRevoked(t, s, "family-b", false)
	assertRevoked(t, s, "b-1", false)
	assertRevoked(t, s, "unknown", false)

	// A family with no recorded access token (only refresh tokens) is
	// revocable too.
	if err := s.RevokeFamily(ctx, "refresh-only", now.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeFamily(refresh-only): %v", err)
	}
	assertFamilyRevoked(t, s, "refresh-only", true)
}

// testRevokeFamilyThenRecord: revoking a family revokes its tokens still to
// be issued, as a replayed code must, racing the token issued from it.
func testRevokeFamilyThenRecord(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	if err := s.RevokeFamily(ctx, "family", now.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}
	mustRecord(t, s, "late", "family", now.Add(time.Hour))
	mustRecord(t, s, "other", "other-family", now.Add(time.Hour))
	assertRevoked(t, s, "late", true)
	assertRevoked(t, s, "other", false)
	assertFamilyRevoked(t, s, "other-family", false)
}

// testRevokeKeepsLaterUntil: revoking twice keeps one entry, until the later
// of the two times, whichever order they came in. The only way to see
// "until" through the interface is DeleteExpired.
func testRevokeKeepsLaterUntil(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	early, late := now.Add(time.Minute), now.Add(time.Hour)
	for _, step := range []struct {
		name string
		fn   func() error
	}{
		{"RevokeAccessToken(extended, early)", func() error { return s.RevokeAccessToken(ctx, "extended", early) }},
		{"RevokeAccessToken(extended, late)", func() error { return s.RevokeAccessToken(ctx, "extended", late) }},
		{"RevokeAccessToken(kept, late)", func() error { return s.RevokeAccessToken(ctx, "kept", late) }},
		{"RevokeAccessToken(kept, early)", func() error { return s.RevokeAccessToken(ctx, "kept", early) }},
		{"RevokeFamily(extended, early)", func() error { return s.RevokeFamily(ctx, "family-extended", early) }},
		{"RevokeFamily(extended, late)", func() error { return s.RevokeFamily(ctx, "family-extended", late) }},
		{"RevokeFamily(kept, late)", func() error { return s.RevokeFamily(ctx, "family-kept", late) }},
		{"RevokeFamily(kept, early)", func() error { return s.RevokeFamily(ctx, "family-kept", early) }},
	} {
		if err := step.fn(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
	}
	check := func(when string, want bool) {
		t.Helper()
		for _, jti := range []string{"extended", "kept"} {
			if got, err := s.AccessTokenRevoked(ctx, jti); err != nil || got != want {
				t.Errorf("%s: AccessTokenRevoked(%q) = %v, %v; want %v", when, jti, got, err, want)
			}
		}
		for _, f := range []string{"family-extended", "family-kept"} {
			if got, err := s.FamilyRevoked(ctx, f); err != nil || got != want {
				t.Errorf("%s: FamilyRevoked(%q) = %v, %v; want %v", when, f, got, err, want)
			}
		}
	}
	mustDeleteExpired(t, s, now.Add(30*time.Minute), 0)
	check("after DeleteExpired between the two untils", true)
	mustDeleteExpired(t, s, late.Add(time.Microsecond), 4) // one entry each, though revoked twice
	check("after DeleteExpired past the later until", false)
}

// testRevokeConcurrent: concurrent revocations of one jti and one family
// (an upsert race in SQL) all succeed and keep the latest until.
func testRevokeConcurrent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	var n atomic.Int64
	errs := race(concurrency, func() error {
		i := n.Add(1) // 1..concurrency
		until := now.Add(time.Duration(i) * time.Minute)
		return errors.Join(
			s.RevokeAccessToken(ctx, "jti", until),
			s.RevokeFamily(ctx, "family", until),
			s.RecordAccessToken(ctx, fmt.Sprintf("jti-%d", i), "family", now.Add(2*time.Hour)),
		)
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	assertRevoked(t, s, "jti", true)
	assertFamilyRevoked(t, s, "family", true)
	for i := range concurrency {
		assertRevoked(t, s, fmt.Sprintf("jti-%d", i+1), true)
	}
	latest := now.Add(concurrency * time.Minute)
	mustDeleteExpired(t, s, latest, 0) // expiring at now is not expired
	assertRevoked(t, s, "jti", true)
	assertFamilyRevoked(t, s, "family", true)
	mustDeleteExpired(t, s, latest.Add(time.Microsecond), 2)
	assertRevoked(t, s, "jti", false)
	assertFamilyRevoked(t, s, "family", false)
}

func mustRecord(t *testing.T, s storage.Store, jti, family string, expiresAt time.Time) {
	t.Helper()
	if err := s.RecordAccessToken(t.Context(), jti, family, expiresAt); err != nil {
		t.Fatalf("RecordAccessToken(%q, %q): %v", jti, family, err)
	}
}

func assertRevoked(t *testing.T, s storage.Store, jti string, want bool) {
	t.Helper()
	got, err := s.AccessTokenRevoked(t.Context(), jti)
	if err != nil || got != want {
		t.Errorf("AccessTokenRevoked(%q) = %v, %v; want %v, nil", jti, got, err, want)
	}
}

func assertFamilyRevoked(t *testing.T, s storage.Store, family string, want bool) {
	t.Helper()
	got, err := s.FamilyRevoked(t.Context(), family)
	if err != nil || got != want {
		t.Errorf("FamilyRevoked(%q) = %v, %v; want %v, nil", family, got, err, want)
	}
}
