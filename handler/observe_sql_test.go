package handler_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// Observation over storage/sqlstore: real storage failures counted by
// operation, and the stores the server finds on Config.Tokens
// (storage.KeyStore, storage.ConsentStore) still used when the server is
// observed.

// TestObservedStorageErrors: the token store stops answering; each
// request's failed store call is counted under its operation, its span
// is marked, and the requests are counted unavailable.
func TestObservedStorageErrors(t *testing.T) {
	t.Parallel()
	clients, tokens, proxy := sqPostgresPair(t)
	sinks := newObSinks(t)
	e := sqServerWith(t, clients, tokens, sqSeed(t, clients), func(c *handler.Config) {
		sinks.apply(t, c)
		c.PurgeInterval = -1 // no purge to fail in the background
	})
	access, _ := sqWantTokens(t, "client_credentials before", e.clientCredentials(t), false)
	_, refresh := sqWantTokens(t, "extension grant before", e.userGrant(t), true)
	code, verifier := e.code(t)

	proxy.Pause()
	for _, rq := range []struct {
		name     string
		path, id string
		form     url.Values
	}{
		{"refresh_token", handler.TokenPath, sqPartnerID, sqRefreshForm(refresh)},
		{"authorization_code", handler.TokenPath, sqWebID, sqRedeemForm(code, verifier)},
		{"revoke an access token", handler.RevokePath, sqCCID, url.Values{"token": {access}}},
	} {
		r, err := sqSend(e.sqRequest(rq.path, rq.id, rq.form))
		if err != nil {
			t.Fatalf("%s: %v", rq.name, err)
		}
		sqWantUnavailable(t, rq.name, r, proxy.Addr())
	}
	proxy.Resume()

	got, _ := sinks.scrape(t)
	obWantSeries(t, "storage errors", got, "tollgate_handler_storage_errors_total", map[string]float64{
		obCounter("storage_errors_total", "operation", "get_family"):          1,
		obCounter("storage_errors_total", "operation", "get_code"):            1,
		obCounter("storage_errors_total", "operation", "revoke_access_token"): 1,
	})
	for _, s := range []string{obReq("token", afRefreshGrant, "unavailable"), obReq("token", afCodeGrant, "unavailable"), obReq("revoke", "none", "unavailable")} {
		if got[s] != 1 {
			t.Errorf("%s = %v, want 1", s, got[s])
		}
	}
	failed := map[string]string{}
	for _, s := range sinks.spans.Ended() {
		if s.Status().Description != "" {
			failed[s.Name()] = s.Status().Description
		}
	}
	for _, n := range []string{"tollgate.store.get_family", "tollgate.store.get_code", "tollgate.store.revoke_access_token", "tollgate.token", "tollgate.revoke"} {
		if failed[n] != "unavailable" {
			t.Errorf("span %s: status %q, want unavailable", n, failed[n])
		}
	}
}

// TestObservedKeysAndConsents: observed, a server over one sqlstore still
// keeps its rotated signing keys and its users' consents there.
func TestObservedKeysAndConsents(t *testing.T) {
	t.Parallel()
	store := sqOpen(t, "sqlite:"+filepath.Join(t.TempDir(), "tollgate.db"), sqlstore.Options{})
	sinks := newObSinks(t)
	e := sqServerWith(t, store, store, sqSeed(t, store), func(c *handler.Config) {
		sinks.apply(t, c)
		c.KeyRotation = handler.KeyRotation{Every: 24 * time.Hour}
		c.Keys = nil
		c.Consent = func(_ http.ResponseWriter, _ *http.Request, req handler.ConsentRequest) (handler.ConsentDecision, bool) {
			return handler.ConsentDecision{Scopes: req.RequestedScopes, Remember: true}, true
		}
	})
	srv := e.srv
	t.Cleanup(func() { srv.Close() })
	ctx := context.Background()
	key, err := srv.RotateKeys(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := store.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range stored {
		found = found || k.ID == key.ID
	}
	if !found {
		t.Errorf("the rotated key %s is not in the sqlstore", key.ID)
	}

	e.code(t) // through e's server: consent given and remembered
	if _, err := store.GetConsent(ctx, "alice", sqWebID); err != nil {
		t.Fatalf("the consent is not in the sqlstore: %v", err)
	}
	if err := srv.RevokeConsent(ctx, "alice", sqWebID); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetConsent(ctx, "alice", sqWebID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("after RevokeConsent the consent is still in the sqlstore (%v)", err)
	}
	seen := map[string]bool{}
	for _, s := range sinks.spans.Ended() {
		seen[s.Name()] = true
	}
	for _, n := range []string{"tollgate.keys.rotate", "tollgate.store.add_signing_key", "tollgate.store.signing_keys",
		"tollgate.store.get_consent", "tollgate.store.save_consent", "tollgate.consent.revoke", "tollgate.store.delete_consent"} {
		if !seen[n] {
			t.Errorf("no %s span", n)
		}
	}
}
