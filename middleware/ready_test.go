package middleware_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/middleware"
)

// TestReadyKeys: a fixed set is ready; a remote one retrying its start is
// not, saying why, until keys arrive; then it stays ready however stale
// the set grows while the issuer is down.
func TestReadyKeys(t *testing.T) {
	t.Parallel()
	if err := newIssuer().Keys().Ready(); err != nil {
		t.Errorf("LocalKeys: Ready() = %v", err)
	}

	k1 := rmNewKey(t, "ES256", "k1")
	js := rmNewJWKSServer(t, nil)
	js.setStatus(http.StatusServiceUnavailable)
	clock := newClock(rmNow)
	ks := rmRemote(t, js.URL, middleware.RemoteOptions{RetryStartup: true, Now: clock.Now})
	mw := rmMiddleware(t, ks, clock.Now, nil)
	for what, err := range map[string]error{"KeySet": ks.Ready(), "Middleware": mw.Ready()} {
		if err == nil || !strings.Contains(err.Error(), "no keys fetched yet") || !strings.Contains(err.Error(), "503") {
			t.Errorf("%s.Ready() before any key = %v, want it to say no keys were fetched, and why (503)", what, err)
		}
	}

	// The request's refetch (or the background retry, whichever comes
	// first) brings the keys.
	js.set(rmJWKS(t, k1.jwk()))
	rmWant(t, "once the issuer is up", rmGet(t, rmAPI(t, mw).URL, k1.token(t, rmNow)), http.StatusOK, "")
	if err := mw.Ready(); err != nil {
		t.Fatalf("Ready() with keys = %v", err)
	}

	js.setStatus(http.StatusServiceUnavailable)
	clock.Advance(30 * 24 * time.Hour)
	if err := mw.Ready(); err != nil {
		t.Errorf("Ready() with a stale set = %v, want nil: the last good set still verifies", err)
	}
}

// TestReadyRevocations: a fail-closed revocation set makes the Middleware
// unready exactly while requests would get 503; a fail-open one never does.
func TestReadyRevocations(t *testing.T) {
	t.Parallel()
	for _, failClosed := range []bool{true, false} {
		feed := rvNewFeed(t)
		feed.setStatus(http.StatusServiceUnavailable)
		clock := newClock(testNow)
		const maxDelay = time.Minute
		rv, err := middleware.RevocationFeed(context.Background(), feed.feedURL(), middleware.RevocationOptions{
			MaxDelay: maxDelay, FailClosed: failClosed, RetryStartup: true, Now: clock.Now, Logger: rmDiscard})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rv.Close)
		iss := newIssuer()
		mw := newMiddleware(t, iss, func(c *middleware.Config) { c.Revocations = rv; c.Now = clock.Now })
		api := serve(t, mw.Authenticate(reached))
		check := func(what string, wantReady bool) {
			t.Helper()
			err := mw.Ready()
			if (err == nil) != wantReady {
				t.Errorf("FailClosed %v, %s: Ready() = %v, want ready %v", failClosed, what, err, wantReady)
			}
			// Readiness and answers agree.
			if res := get(t, api.URL, iss.Token()); (res.Status == http.StatusOK) != wantReady {
				t.Errorf("FailClosed %v, %s: status %d with Ready() = %v", failClosed, what, res.Status, err)
			}
		}
		check("feed never read", !failClosed)
		feed.setStatus(http.StatusOK)
		if err := middleware.PollRevocations(context.Background(), rv); err != nil {
			t.Fatal(err)
		}
		check("caught up", true)
		clock.Advance(maxDelay + time.Second)
		check("behind by more than MaxDelay", !failClosed)
	}
}
