package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// testDeleteExpired stores one record of each kind on each side of now (and
// one at now exactly, which is not expired), purges, and checks each record
// is gone or kept; then purges far in the future and checks nothing is left.
func testDeleteExpired(t *testing.T, s storage.Store) {
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
	// Refresh tokens: expired (one rotated, one not), expiring at now, live.
	mustCreateRefresh(t, s, refreshToken("rt-expired", fullGrant("g5", now), past))
	mustCreateRefresh(t, s, refreshToken("rt-expired-rotated", fullGrant("g6", now), now.Add(-time.Microsecond)))
	mustCreateRefresh(t, s, refreshToken("rt-at-now", fullGrant("g7", now), now))
	mustCreateRefresh(t, s, refreshToken("rt-live", fullGrant("g8", now), future))
	for _, sig := range []string{"rt-expired-rotated", "rt-live"} {
		if err := s.RotateRefreshToken(ctx, sig, nil); err != nil {
			t.Fatalf("RotateRefreshToken(%q): %v", sig, err)
		}
	}
	// Revocations and recorded tokens.
	for _, step := range []struct {
		name string
		err  error
	}{
		{"RevokeAccessToken(jti-expired)", s.RevokeAccessToken(ctx, "jti-expired", past)},
		{"RevokeAccessToken(jti-at-now)", s.RevokeAccessToken(ctx, "jti-at-now", now)},
		{"RevokeAccessToken(jti-live)", s.RevokeAccessToken(ctx, "jti-live", future)},
		{"RevokeFamily(family-expired)", s.RevokeFamily(ctx, "family-expired", past)},
		{"RevokeFamily(family-live)", s.RevokeFamily(ctx, "family-live", future)},
		{"RecordAccessToken(recorded-expired)", s.RecordAccessToken(ctx, "recorded-expired", "family-live", past)},
		{"RecordAccessToken(recorded-live)", s.RecordAccessToken(ctx, "recorded-live", "family-live", future)},
	} {
		if step.err != nil {
			t.Fatalf("%s: %v", step.name, step.err)
		}
	}

	// 2 codes + 2 refresh tokens + 1 revoked jti + 1 revoked family + 1
	// recorded jti.
	mustDeleteExpired(t, s, now, 7)

	for _, sig := range []string{"code-expired", "code-expired-used"} {
		if _, err := s.GetCode(ctx, sig); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetCode(%q) after DeleteExpired: error = %v, want ErrNotFound", sig, err)
		}
	}
	for _, sig := range []string{"rt-expired", "rt-expired-rotated"} {
		if _, err := s.GetRefreshToken(ctx, sig); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetRefreshToken(%q) after DeleteExpired: error = %v, want ErrNotFound", sig, err)
		}
	}
	assertRevoked(t, s, "jti-expired", false)
	assertFamilyRevoked(t, s, "family-expired", false)

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
	atNow := refreshToken("rt-at-now", fullGrant("g7", now), now)
	live := refreshToken("rt-live", fullGrant("g8", now), future)
	live.Active = false
	for _, want := range []*storage.RefreshToken{atNow, live} {
		got, err := s.GetRefreshToken(ctx, want.Signature)
		if err != nil {
			t.Errorf("GetRefreshToken(%q) after DeleteExpired: %v, want it kept", want.Signature, err)
			continue
		}
		assertRefresh(t, "kept "+want.Signature, got, want)
	}
	assertRevoked(t, s, "jti-at-now", true)
	assertRevoked(t, s, "jti-live", true)
	assertFamilyRevoked(t, s, "family-live", true)
	assertRevoked(t, s, "recorded-live", true) // its mapping to family-live was kept

	mustDeleteExpired(t, s, now, 0) // nothing more expired at the same now

	// 2 codes + 2 refresh tokens + 2 revoked jtis + 1 revoked family + 1
	// recorded jti.
	mustDeleteExpired(t, s, now.Add(24*time.Hour), 8)
	for _, sig := range []string{"code-at-now", "code-live"} {
		if _, err := s.GetCode(ctx, sig); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetCode(%q) after the final DeleteExpired: error = %v, want ErrNotFound", sig, err)
		}
	}
	for _, sig := range []string{"rt-at-now", "rt-live"} {
		if _, err := s.GetRefreshToken(ctx, sig); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetRefreshToken(%q) after the final DeleteExpired: error = %v, want ErrNotFound", sig, err)
		}
	}
	for _, jti := range []string{"jti-at-now", "jti-live", "recorded-live"} {
		assertRevoked(t, s, jti, false)
	}
	assertFamilyRevoked(t, s, "family-live", false)
	mustDeleteExpired(t, s, now.Add(24*time.Hour), 0)
}

func testDeleteExpiredEmpty(t *testing.T, s storage.Store) {
	mustDeleteExpired(t, s, baseTime(), 0)
	// Clients never expire.
	mustCreate(t, s, Client("a"))
	mustDeleteExpired(t, s, baseTime().Add(100*365*24*time.Hour), 0)
	if _, err := s.GetClient(t.Context(), "a"); err != nil {
		t.Errorf("GetClient after DeleteExpired: %v", err)
	}
}

// mustDeleteExpired runs DeleteExpired(now) and checks the count. Each test
// starts from an empty store, so the count is exact.
func mustDeleteExpired(t *testing.T, s storage.Store, now time.Time, want int) {
	t.Helper()
	n, err := s.DeleteExpired(t.Context(), now)
	if err != nil {
		t.Fatalf("DeleteExpired(%v): %v", now, err)
	}
	if n != want {
		t.Errorf("DeleteExpired(%v) = %d, want %d", now, n, want)
	}
}
