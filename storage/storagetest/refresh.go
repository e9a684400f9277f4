package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

func refreshToken(sig string, g *storage.Grant, expiresAt time.Time) *storage.RefreshToken {
	return &storage.RefreshToken{Signature: sig, Grant: g, AccessTokenID: "jti-of-" + sig, ExpiresAt: expiresAt, Active: true}
}

func testRefreshRoundTrip(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	minimal := &storage.RefreshToken{Signature: "minimal", Grant: minimalGrant("grant-min", now), ExpiresAt: now.Add(time.Hour), Active: true}
	want := []*storage.RefreshToken{
		refreshToken("pL8-_wQ2mZ7xK4vR9tY1nB5cJ3hF6sDg", fullGrant("grant-full", now), now.Add(30*24*time.Hour)),
		minimal,
	}
	for _, rt := range want {
		if err := s.CreateRefreshToken(ctx, rt); err != nil {
			t.Fatalf("CreateRefreshToken(%q): %v", rt.Signature, err)
		}
	}
	for _, w := range want {
		got, err := s.GetRefreshToken(ctx, w.Signature)
		if err != nil {
			t.Fatalf("GetRefreshToken(%q): %v", w.Signature, err)
		}
		assertRefresh(t, "GetRefreshToken("+w.Signature+")", got, w)
	}
}

func testRefreshNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	if _, err := s.GetRefreshToken(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetRefreshToken(unknown) on an empty store: error = %v, want ErrNotFound", err)
	}
	mustCreateRefresh(t, s, refreshToken("AbCdEf", fullGrant("g", now), now.Add(time.Hour)))
	for _, sig := range []string{"nope", "abcdef", "ABCDEF", "AbCdE", "AbCdEf ", ""} {
		if _, err := s.GetRefreshToken(ctx, sig); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetRefreshToken(%q): error = %v, want ErrNotFound", sig, err)
		}
		if err := s.RotateRefreshToken(ctx, sig, nil); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("RotateRefreshToken(%q): error = %v, want ErrNotFound", sig, err)
		}
	}
	if got, err := s.GetRefreshToken(ctx, "AbCdEf"); err != nil || !got.Active {
		t.Errorf("GetRefreshToken after rotating other signatures = %+v, %v; want the token, active", got, err)
	}
}

func testRefreshDuplicate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	first := refreshToken("sig", fullGrant("first", now), now.Add(time.Hour))
	mustCreateRefresh(t, s, first)
	second := refreshToken("sig", fullGrant("second", now), now.Add(2*time.Hour))
	second.AccessTokenID = "other-jti"
	if err := s.CreateRefreshToken(ctx, second); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("CreateRefreshToken(duplicate signature): error = %v, want ErrAlreadyExists", err)
	}
	got, err := s.GetRefreshToken(ctx, "sig")
	if err != nil {
		t.Fatal(err)
	}
	assertRefresh(t, "GetRefreshToken after a refused duplicate", got, first)
}

func testRefreshRotate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	rt := refreshToken("old", fullGrant("family", now), now.Add(time.Hour))
	next := refreshToken("new", fullGrant("family", now), now.Add(time.Hour))
	mustCreateRefresh(t, s, rt)
	mustCreateRefresh(t, s, next)

	if err := s.RotateRefreshToken(ctx, "old", nil); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	got, err := s.GetRefreshToken(ctx, "old")
	if err != nil {
		t.Fatalf("GetRefreshToken of a rotated token: %v (inactive tokens are kept to detect replays)", err)
	}
	inactive := *rt
	inactive.Active = false
	assertRefresh(t, "GetRefreshToken after RotateRefreshToken", got, &inactive)

	if err := s.RotateRefreshToken(ctx, "old", nil); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Errorf("second RotateRefreshToken: error = %v, want ErrAlreadyUsed", err)
	}
	if got, err := s.GetRefreshToken(ctx, "old"); err != nil || got.Active {
		t.Errorf("GetRefreshToken after a replay = %+v, %v; want the token, inactive", got, err)
	}
	got, err = s.GetRefreshToken(ctx, "new")
	if err != nil {
		t.Fatal(err)
	}
	assertRefresh(t, "the token of the same family not rotated", got, next)
}

// testRefreshCreatedInactive: CreateRefreshToken stores Active as given.
func testRefreshCreatedInactive(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	rt := refreshToken("inactive", fullGrant("g", now), now.Add(time.Hour))
	rt.Active = false
	mustCreateRefresh(t, s, rt)
	got, err := s.GetRefreshToken(ctx, "inactive")
	if err != nil {
		t.Fatal(err)
	}
	assertRefresh(t, "GetRefreshToken of a token created inactive", got, rt)
	if err := s.RotateRefreshToken(ctx, "inactive", nil); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Errorf("RotateRefreshToken of a token created inactive: error = %v, want ErrAlreadyUsed", err)
	}
}

func testRefreshRotateConcurrent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	mustCreateRefresh(t, s, refreshToken("contended", fullGrant("g", now), now.Add(time.Hour)))
	errs := race(concurrency, func() error { return s.RotateRefreshToken(ctx, "contended", nil) })
	assertOneWinner(t, "RotateRefreshToken", errs)
	if got, err := s.GetRefreshToken(ctx, "contended"); err != nil || got.Active {
		t.Errorf("GetRefreshToken after the race = %+v, %v; want the token, inactive", got, err)
	}
}

// testRefreshIsolation checks that the store copies refresh tokens, down to
// the grant's slices, map and session bytes.
func testRefreshIsolation(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	in := refreshToken("sig", fullGrant("g", now), now.Add(time.Hour))
	mustCreateRefresh(t, s, in)
	want := refreshToken("sig", fullGrant("g", now), now.Add(time.Hour))

	in.Active = false
	in.AccessTokenID = "mutated"
	in.ExpiresAt = in.ExpiresAt.Add(time.Hour)
	mutateGrant(in.Grant)
	got, err := s.GetRefreshToken(ctx, "sig")
	if err != nil {
		t.Fatal(err)
	}
	assertRefresh(t, "after changing the token passed to CreateRefreshToken", got, want)

	got.Active = false
	got.AccessTokenID = "mutated"
	got.ExpiresAt = got.ExpiresAt.Add(time.Hour)
	mutateGrant(got.Grant)
	again, err := s.GetRefreshToken(ctx, "sig")
	if err != nil {
		t.Fatal(err)
	}
	assertRefresh(t, "after changing the token GetRefreshToken returned", again, want)
}

func mustCreateRefresh(t *testing.T, s storage.Store, rt *storage.RefreshToken) {
	t.Helper()
	if err := s.CreateRefreshToken(t.Context(), rt); err != nil {
		t.Fatalf("CreateRefreshToken(%q): %v", rt.Signature, err)
	}
}

// testRefreshRotateWithNext: the rotation stores the next token in the
// same step; a rotation that loses (the token was used) stores nothing;
// of concurrent rotations, each with its own next token, exactly one next
// token exists afterwards.
func testRefreshRotateWithNext(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	mustCreateRefresh(t, s, refreshToken("first", fullGrant("family", now), now.Add(time.Hour)))
	next := refreshToken("second", fullGrant("family", now), now.Add(2*time.Hour))
	if err := s.RotateRefreshToken(ctx, "first", next); err != nil {
		t.Fatalf("RotateRefreshToken with next: %v", err)
	}
	got, err := s.GetRefreshToken(ctx, "second")
	if err != nil {
		t.Fatalf("the next token was not stored: %v", err)
	}
	assertRefresh(t, "next token", got, next)
	late := refreshToken("third", fullGrant("family", now), now.Add(3*time.Hour))
	if err := s.RotateRefreshToken(ctx, "first", late); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Fatalf("rotating a used token: %v, want ErrAlreadyUsed", err)
	}
	if _, err := s.GetRefreshToken(ctx, "third"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a losing rotation stored its next token: %v", err)
	}

	mustCreateRefresh(t, s, refreshToken("contended-next", fullGrant("family-2", now), now.Add(time.Hour)))
	var n atomicCounter
	errs := race(concurrency, func() error {
		sig := fmt.Sprintf("candidate-%d", n.next())
		return s.RotateRefreshToken(ctx, "contended-next", refreshToken(sig, fullGrant("family-2", now), now.Add(time.Hour)))
	})
	assertOneWinner(t, "RotateRefreshToken with next", errs)
	stored := 0
	for i := range concurrency {
		if _, err := s.GetRefreshToken(ctx, fmt.Sprintf("candidate-%d", i)); err == nil {
			stored++
		}
	}
	if stored != 1 {
		t.Errorf("%d next tokens stored by %d concurrent rotations, want exactly 1", stored, concurrency)
	}
}

type atomicCounter struct {
	mu sync.Mutex
	n  int
}

func (c *atomicCounter) next() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n - 1
}
