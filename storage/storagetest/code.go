package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

func testCodeRoundTrip(t testing.TB, s storage.TokenStore) {
	ctx := t.Context()
	now := baseTime()
	want := codeFixtures(now)
	for _, c := range want {
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode(%q): %v", c.Signature, err)
		}
	}
	for _, w := range want {
		got, err := s.GetCode(ctx, w.Signature)
		if err != nil {
			t.Fatalf("GetCode(%q): %v", w.Signature, err)
		}
		assertCode(t, "GetCode("+w.Signature+")", got, w)
	}
	// A code stored used is used: it cannot be redeemed.
	for _, w := range want {
		if err := s.UseCode(ctx, w.Signature); w.Used && !errors.Is(err, storage.ErrAlreadyUsed) || !w.Used && err != nil {
			t.Errorf("UseCode(%q) of a code stored with Used %v: error = %v", w.Signature, w.Used, err)
		}
	}
}

func testCodeNotFound(t testing.TB, s storage.TokenStore) {
	ctx := t.Context()
	now := baseTime()
	if _, err := s.GetCode(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetCode(unknown) on an empty store: error = %v, want ErrNotFound", err)
	}
	mustCreateCode(t, s, &storage.AuthorizationCode{Signature: "AbCdEf", Grant: fullGrant("g", now), ExpiresAt: now.Add(time.Minute)})
	// Signatures are base64url: case matters, and a prefix is not a match.
	for _, sig := range []string{"nope", "abcdef", "ABCDEF", "AbCdE", "AbCdEf ", ""} {
		if _, err := s.GetCode(ctx, sig); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetCode(%q): error = %v, want ErrNotFound", sig, err)
		}
		if err := s.UseCode(ctx, sig); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("UseCode(%q): error = %v, want ErrNotFound", sig, err)
		}
	}
	if got, err := s.GetCode(ctx, "AbCdEf"); err != nil || got.Used {
		t.Errorf("GetCode after UseCode of other signatures = %+v, %v; want the code, unused", got, err)
	}
}

func testCodeDuplicate(t testing.TB, s storage.TokenStore) {
	ctx := t.Context()
	now := baseTime()
	first := &storage.AuthorizationCode{Signature: "sig", Grant: fullGrant("first", now), ExpiresAt: now.Add(time.Minute)}
	mustCreateCode(t, s, first)
	second := &storage.AuthorizationCode{Signature: "sig", Grant: fullGrant("second", now), ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateCode(ctx, second); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("CreateCode(duplicate signature): error = %v, want ErrAlreadyExists", err)
	}
	got, err := s.GetCode(ctx, "sig")
	if err != nil {
		t.Fatal(err)
	}
	assertCode(t, "GetCode after a refused duplicate", got, first)
}

func testCodeUse(t testing.TB, s storage.TokenStore) {
	ctx := t.Context()
	now := baseTime()
	code := &storage.AuthorizationCode{Signature: "code", Grant: fullGrant("g1", now), ExpiresAt: now.Add(10 * time.Minute)}
	other := &storage.AuthorizationCode{Signature: "other", Grant: fullGrant("g2", now), ExpiresAt: now.Add(10 * time.Minute)}
	mustCreateCode(t, s, code)
	mustCreateCode(t, s, other)

	if err := s.UseCode(ctx, "code"); err != nil {
		t.Fatalf("UseCode: %v", err)
	}
	got, err := s.GetCode(ctx, "code")
	if err != nil {
		t.Fatalf("GetCode of a used code: %v (a used code is kept to detect replays)", err)
	}
	used := *code
	used.Used = true
	assertCode(t, "GetCode after UseCode", got, &used)

	if err := s.UseCode(ctx, "code"); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Errorf("second UseCode: error = %v, want ErrAlreadyUsed", err)
	}
	if got, err := s.GetCode(ctx, "code"); err != nil || !got.Used {
		t.Errorf("GetCode after a replay = %+v, %v; want the code, used", got, err)
	}
	got, err = s.GetCode(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	assertCode(t, "the code not used", got, other)
}

func testCodeUseConcurrent(t testing.TB, s storage.TokenStore) {
	ctx := t.Context()
	now := baseTime()
	mustCreateCode(t, s, &storage.AuthorizationCode{Signature: "contended", Grant: fullGrant("g", now), ExpiresAt: now.Add(time.Minute)})
	errs := race(concurrency, func() error { return s.UseCode(ctx, "contended") })
	assertOneWinner(t, "UseCode", errs)
	if got, err := s.GetCode(ctx, "contended"); err != nil || !got.Used {
		t.Errorf("GetCode after the race = %+v, %v; want the code, used", got, err)
	}
}

// testCodeIsolation checks that the store copies codes: changing what was
// passed in or handed out, down to the grant's slices, map and session
// bytes, must not change what is stored.
func testCodeIsolation(t testing.TB, s storage.TokenStore) {
	ctx := t.Context()
	now := baseTime()
	in := &storage.AuthorizationCode{Signature: "sig", Grant: fullGrant("g", now), ExpiresAt: now.Add(time.Minute)}
	mustCreateCode(t, s, in)
	want := &storage.AuthorizationCode{Signature: "sig", Grant: fullGrant("g", now), ExpiresAt: now.Add(time.Minute)}

	in.Used = true
	in.ExpiresAt = in.ExpiresAt.Add(time.Hour)
	mutateGrant(in.Grant)
	got, err := s.GetCode(ctx, "sig")
	if err != nil {
		t.Fatal(err)
	}
	assertCode(t, "after changing the code passed to CreateCode", got, want)

	got.Used = true
	got.ExpiresAt = got.ExpiresAt.Add(time.Hour)
	mutateGrant(got.Grant)
	again, err := s.GetCode(ctx, "sig")
	if err != nil {
		t.Fatal(err)
	}
	assertCode(t, "after changing the code GetCode returned", again, want)
}

func mustCreateCode(t testing.TB, s storage.TokenStore, c *storage.AuthorizationCode) {
	t.Helper()
	if err := s.CreateCode(t.Context(), c); err != nil {
		t.Fatalf("CreateCode(%q): %v", c.Signature, err)
	}
}
