package middleware_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/middleware"
)

// mtFetches returns the jwks_fetches_total series: want holds the
// non-zero ones as "trigger/result".
func mtFetches(want map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, trigger := range []string{"start", "refresh", "unknown_kid"} {
		for _, result := range []string{"ok", "error"} {
			out[`tollgate_middleware_jwks_fetches_total{result="`+result+`",trigger="`+trigger+`"}`] = want[trigger+"/"+result]
		}
	}
	return out
}

// TestMetricsJWKS: every fetch is counted under its trigger and result,
// and jwks_age_seconds is the time since the last good fetch, on the key
// set's clock; the oldest of two sets; gone once they are closed.
func TestMetricsJWKS(t *testing.T) {
	t.Parallel()
	ms := mtNew(t)
	k1, k2, k3 := rmNewKey(t, "ES256", "k1"), rmNewKey(t, "ES256", "k2"), rmNewKey(t, "ES256", "k3")
	js := rmNewJWKSServer(t, rmJWKS(t, k1.jwk()))
	clock := newClock(rmNow)
	const interval = 30 * time.Second
	ks, err := middleware.RemoteJWKS(context.Background(), js.URL, middleware.RemoteOptions{
		Now: clock.Now, MissRefetchInterval: interval, Logger: rmDiscard, Metrics: ms.metrics})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.Close) // closed below too: Close is idempotent
	ms.want(t, mtFetches(map[string]float64{"start/ok": 1}))
	ms.want(t, map[string]float64{"tollgate_middleware_jwks_age_seconds": 0})
	clock.Advance(10 * time.Second)
	ms.want(t, map[string]float64{"tollgate_middleware_jwks_age_seconds": 10})

	api := rmAPI(t, rmMiddleware(t, ks, clock.Now, nil))
	js.set(rmJWKS(t, k1.jwk(), k2.jwk()))
	rmWant(t, "a token of a new key", rmGet(t, api.URL, k2.token(t, rmNow)), http.StatusOK, "")
	ms.want(t, mtFetches(map[string]float64{"start/ok": 1, "unknown_kid/ok": 1}))
	ms.want(t, map[string]float64{"tollgate_middleware_jwks_age_seconds": 0})

	js.setStatus(http.StatusInternalServerError)
	clock.Advance(interval)
	rmWant(t, "a token of a key the issuer cannot serve", rmGet(t, api.URL, k3.token(t, rmNow)), http.StatusUnauthorized, "invalid_token")
	ms.want(t, mtFetches(map[string]float64{"start/ok": 1, "unknown_kid/ok": 1, "unknown_kid/error": 1}))
	ms.want(t, map[string]float64{"tollgate_middleware_jwks_age_seconds": interval.Seconds()})

	// A second set on the same Metrics, fetched later: the gauge shows
	// the older one until it is closed.
	js.set(rmJWKS(t, k1.jwk()))
	clock.Advance(5 * time.Second)
	ks2, err := middleware.RemoteJWKS(context.Background(), js.URL, middleware.RemoteOptions{
		Now: clock.Now, Logger: rmDiscard, Metrics: ms.metrics})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks2.Close)
	ms.want(t, map[string]float64{"tollgate_middleware_jwks_age_seconds": interval.Seconds() + 5})
	ks.Close()
	ms.want(t, map[string]float64{"tollgate_middleware_jwks_age_seconds": 0})
	ks2.Close()
	got := ms.has(t, mtFetches(map[string]float64{"start/ok": 2, "unknown_kid/ok": 1, "unknown_kid/error": 1}))
	if _, ok := got["tollgate_middleware_jwks_age_seconds"]; ok {
		t.Errorf("jwks_age_seconds still reported after every set closed")
	}
}

// TestMetricsRevocationFeed: polls by result, the set's lag behind the
// feed on its clock, its size; the gauges go at Close.
func TestMetricsRevocationFeed(t *testing.T) {
	t.Parallel()
	ms := mtNew(t)
	s := rvStart(t, func(o *middleware.RevocationOptions) { o.Metrics = ms.metrics })
	polls := func(ok, failed float64) map[string]float64 {
		return map[string]float64{
			`tollgate_middleware_revocation_polls_total{result="ok"}`:    ok,
			`tollgate_middleware_revocation_polls_total{result="error"}`: failed,
		}
	}
	gauges := func(lag time.Duration, entries float64) map[string]float64 {
		return map[string]float64{"tollgate_middleware_revocation_lag_seconds": lag.Seconds(), "tollgate_middleware_revocation_entries": entries}
	}
	ms.want(t, polls(1, 0))
	ms.want(t, gauges(0, 0))

	s.feed.revokeJTI("a", testNow.Add(time.Hour))
	s.feed.revokeGrant("g", testNow.Add(time.Hour))
	s.clock.Advance(40 * time.Second)
	ms.want(t, gauges(40*time.Second, 0))
	s.poll(t)
	ms.want(t, polls(2, 0))
	ms.want(t, gauges(0, 2))

	s.feed.setStatus(http.StatusInternalServerError)
	s.clock.Advance(15 * time.Second)
	if err := middleware.PollRevocations(context.Background(), s.rv); err == nil {
		t.Fatal("a poll of a failing feed succeeded")
	}
	ms.want(t, polls(2, 1))
	ms.want(t, gauges(15*time.Second, 2))

	s.rv.Close()
	got := ms.has(t, polls(2, 1))
	for _, name := range []string{"tollgate_middleware_revocation_lag_seconds", "tollgate_middleware_revocation_entries"} {
		if _, ok := got[name]; ok {
			t.Errorf("%s still reported after Close", name)
		}
	}
}

// TestMetricsRevocationFeedNeverCaughtUp: before its first good poll the
// lag counts from when the set was made.
func TestMetricsRevocationFeedNeverCaughtUp(t *testing.T) {
	t.Parallel()
	ms := mtNew(t)
	feed := rvNewFeed(t)
	feed.setStatus(http.StatusServiceUnavailable)
	clock := newClock(testNow)
	rv, err := middleware.RevocationFeed(context.Background(), feed.feedURL(), middleware.RevocationOptions{
		MaxDelay: time.Hour, RetryStartup: true, Now: clock.Now, Logger: rmDiscard, Metrics: ms.metrics})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rv.Close)
	clock.Advance(3 * time.Second)
	// The background retry (after 1 s of real time) may have failed again:
	// at least the start's poll is counted, and no success.
	got := ms.has(t, map[string]float64{
		`tollgate_middleware_revocation_polls_total{result="ok"}`: 0,
		"tollgate_middleware_revocation_lag_seconds":              3,
	})
	if n := got[`tollgate_middleware_revocation_polls_total{result="error"}`]; n < 1 {
		t.Errorf("failed polls %v, want at least the start's", n)
	}
}
