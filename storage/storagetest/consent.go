package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

func assertConsents(t testing.TB, what string, got, want []*storage.Consent) {
	t.Helper()
	assertRecord(t, what, got, want)
}

func mustSaveConsent(t testing.TB, s storage.ConsentStore, c *storage.Consent) {
	t.Helper()
	if err := s.SaveConsent(t.Context(), c); err != nil {
		t.Fatalf("SaveConsent(%q, %q): %v", c.Subject, c.ClientID, err)
	}
}

func mustGetConsent(t testing.TB, s storage.ConsentStore, subject, clientID string) *storage.Consent {
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
func testConsentRoundTrip(t testing.TB, s storage.ConsentStore) {
	now := baseTime()
	want := fullConsent("user-42", "third-party-app", now)
	mustSaveConsent(t, s, want)
	got := mustGetConsent(t, s, "user-42", "third-party-app")
	assertRecord(t, "GetConsent", got, want)

	if len(got.Scopes) > 0 && len(got.Audience) > 0 { // else reported above
		got.Scopes[0], got.Audience[0] = "admin", "https://evil.example"
	}
	assertRecord(t, "GetConsent after changing the returned record", mustGetConsent(t, s, "user-42", "third-party-app"), want)

	fewer := &storage.Consent{Subject: "user-42", ClientID: "third-party-app", Scopes: []string{"openid"}, GrantedAt: now.Add(time.Minute)}
	mustSaveConsent(t, s, fewer)
	fewer.Scopes[0] = "admin"
	assertRecord(t, "GetConsent after a second save", mustGetConsent(t, s, "user-42", "third-party-app"),
		&storage.Consent{Subject: "user-42", ClientID: "third-party-app", Scopes: []string{"openid"}, GrantedAt: now.Add(time.Minute)})
}

func testConsentNotFound(t testing.TB, s storage.ConsentStore) {
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

func testConsentInvalid(t testing.TB, s storage.ConsentStore) {
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
func testConsentList(t testing.TB, s storage.ConsentStore) {
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
	assertRecord(t, "the other user's consent", mustGetConsent(t, s, "user-43", "a-app"), fullConsent("user-43", "a-app", now))
	if list, err := s.ListConsents(ctx, "nobody"); err != nil || len(list) != 0 {
		t.Errorf("ListConsents(nobody) = %v, %v; want none", list, err)
	}
}
