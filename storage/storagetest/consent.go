package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// fullConsent has every field set, slices in an order a store must keep.
func fullConsent(subject, clientID string, at time.Time) *storage.Consent {
	return &storage.Consent{
		Subject: subject, ClientID: clientID,
		Scopes:    []string{"orders:write", "openid", "orders:read"},
		Audience:  []string{"https://qa-api.example.com", "https://api.example.com"},
		GrantedAt: at.In(time.FixedZone("UTC-03:00", -3*3600)),
	}
}

func normConsent(c *storage.Consent) *storage.Consent {
	if c == nil {
		return nil
	}
	out := c.Clone()
	normFields(out)
	return out
}

func assertConsents(t *testing.T, what string, got, want []*storage.Consent) {
	t.Helper()
	assertRecord(t, what, got, want, func(cs []*storage.Consent) []*storage.Consent {
		out := make([]*storage.Consent, 0, len(cs))
		for _, c := range cs {
			out = append(out, normConsent(c))
		}
		return out
	})
}

func mustSaveConsent(t *testing.T, s storage.Store, c *storage.Consent) {
	t.Helper()
	if err := s.SaveConsent(t.Context(), c); err != nil {
		t.Fatalf("SaveConsent(%q, %q): %v", c.Subject, c.ClientID, err)
	}
}

func mustGetConsent(t *testing.T, s storage.Store, subject, clientID string) *storage.Consent {
	t.Helper()
	c, err := s.GetConsent(t.Context(), subject, clientID)
	if err != nil {
		t.Fatalf("GetConsent(%q, %q): %v", subject, clientID, err)
	}
	return c
}

// testConsentRoundTrip: a consent comes back whole, a second save
// replaces the first, and neither the caller's record nor the returned one
// shares memory with the store.
func testConsentRoundTrip(t *testing.T, s storage.Store) {
	now := baseTime()
	want := fullConsent("user-42", "third-party-app", now)
	mustSaveConsent(t, s, want)
	got := mustGetConsent(t, s, "user-42", "third-party-app")
	assertRecord(t, "GetConsent", got, want, normConsent)

	got.Scopes[0], got.Audience[0] = "admin", "https://evil.example"
	assertRecord(t, "GetConsent after changing the returned record", mustGetConsent(t, s, "user-42", "third-party-app"), want, normConsent)

	fewer := &storage.Consent{Subject: "user-42", ClientID: "third-party-app", Scopes: []string{"openid"}, GrantedAt: now.Add(time.Minute)}
	mustSaveConsent(t, s, fewer)
	fewer.Scopes[0] = "admin"
	assertRecord(t, "GetConsent after a second save", mustGetConsent(t, s, "user-42", "third-party-app"),
		&storage.Consent{Subject: "user-42", ClientID: "third-party-app", Scopes: []string{"openid"}, GrantedAt: now.Add(time.Minute)}, normConsent)
}

func testConsentNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustSaveConsent(t, s, fullConsent("user-42", "third-party-app", baseTime()))
	for _, k := range [][2]string{{"user-42", "other-app"}, {"user-43", "third-party-app"}, {"USER-42", "third-party-app"}, {"", ""}} {
		if c, err := s.GetConsent(ctx, k[0], k[1]); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetConsent(%q, %q) = %v, %v; want ErrNotFound", k[0], k[1], c, err)
		}
		if err := s.DeleteConsent(ctx, k[0], k[1]); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("DeleteConsent(%q, %q) = %v; want ErrNotFound", k[0], k[1], err)
		}
	}
}

func testConsentInvalid(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		c     *storage.Consent
		field string
	}{
		{nil, "consent"},
		{&storage.Consent{ClientID: "app"}, "subject"},
		{&storage.Consent{Subject: "user"}, "client_id"},
	} {
		err := s.SaveConsent(ctx, tc.c)
		var ve *storage.ValidationError
		if !errors.Is(err, storage.ErrInvalid) || !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("SaveConsent(%+v) = %v; want a *ValidationError for %s", tc.c, err, tc.field)
		}
	}
	if list, err := s.ListConsents(ctx, ""); err != nil || len(list) != 0 {
		t.Errorf("after refused saves, ListConsents(\"\") = %v, %v; want none", list, err)
	}
}

// testConsentList: one user's consents, by client id, and only theirs;
// a deleted one is gone.
func testConsentList(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := baseTime()
	b, a, c := fullConsent("user-42", "b-app", now), fullConsent("user-42", "a-app", now), fullConsent("user-42", "c-app", now)
	for _, rec := range []*storage.Consent{b, a, c, fullConsent("user-43", "a-app", now)} {
		mustSaveConsent(t, s, rec)
	}
	list, err := s.ListConsents(ctx, "user-42")
	if err != nil {
		t.Fatalf("ListConsents: %v", err)
	}
	assertConsents(t, "ListConsents(user-42)", list, []*storage.Consent{a, b, c})

	if err := s.DeleteConsent(ctx, "user-42", "b-app"); err != nil {
		t.Fatalf("DeleteConsent: %v", err)
	}
	list, err = s.ListConsents(ctx, "user-42")
	if err != nil {
		t.Fatalf("ListConsents: %v", err)
	}
	assertConsents(t, "ListConsents(user-42) after deleting b-app", list, []*storage.Consent{a, c})
	if _, err := s.GetConsent(ctx, "user-42", "b-app"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetConsent of the deleted consent: %v; want ErrNotFound", err)
	}
	assertRecord(t, "the other user's consent", mustGetConsent(t, s, "user-43", "a-app"), fullConsent("user-43", "a-app", now), normConsent)
	if list, err := s.ListConsents(ctx, "nobody"); err != nil || len(list) != 0 {
		t.Errorf("ListConsents(nobody) = %v, %v; want none", list, err)
	}
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
func testRevokeFamiliesOf(t *testing.T, s storage.Store) {
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
			t.Errorf("feed entry of %s expires %v; want %v (entries %s)", id, exp[id], want, show(page.Entries))
		}
	}
	if n, err := s.RevokeFamiliesOf(ctx, "user-42", "app", until); err != nil || n != 0 {
		t.Errorf("RevokeFamiliesOf again = %d, %v; want 0, nil", n, err)
	}
	if n, err := s.RevokeFamiliesOf(ctx, "nobody", "app", until); err != nil || n != 0 {
		t.Errorf("RevokeFamiliesOf(nobody) = %d, %v; want 0, nil", n, err)
	}
}
