package middleware_test

import (
	"context"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/middleware"
)

// TestMetricsPerReason sends a table of requests over real HTTP to
// Middlewares that share one Metrics, and checks every counter exactly:
// each refusal under its reason, every reason present (at zero when
// unused), accepted counted once per request however many of the
// instance's checks it passes, and the cache's lookups.
func TestMetricsPerReason(t *testing.T) {
	t.Parallel()
	ms := mtNew(t)
	feed := rvNewFeed(t)
	feed.revokeJTI("jti-revoked", testNow.Add(time.Hour))
	rv, err := middleware.RevocationFeed(context.Background(), feed.feedURL(), middleware.RevocationOptions{
		MaxDelay: time.Hour, Now: func() time.Time { return testNow }, Logger: rmDiscard, Metrics: ms.metrics})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rv.Close)
	local := func(c *middleware.Config) {
		c.Keys = must(middleware.LocalKeys(forgeJWKS()))
		c.Metrics = ms.metrics
	}
	mw := newMiddleware(t, newIssuer(), func(c *middleware.Config) { local(c); c.Revocations = rv })

	// Keys that never arrive, and a fail-closed revocation set whose feed
	// never answered: both answer 503.
	jwks := rmNewJWKSServer(t, nil)
	jwks.setStatus(http.StatusServiceUnavailable)
	down := newMiddleware(t, newIssuer(), func(c *middleware.Config) {
		c.Keys = rmRemote(t, jwks.URL, middleware.RemoteOptions{RetryStartup: true, MissRefetchInterval: time.Hour})
		c.Metrics = ms.metrics
	})
	deadFeed := rvNewFeed(t)
	deadFeed.setStatus(http.StatusServiceUnavailable)
	stale, err := middleware.RevocationFeed(context.Background(), deadFeed.feedURL(), middleware.RevocationOptions{
		MaxDelay: time.Hour, FailClosed: true, RetryStartup: true, Now: func() time.Time { return testNow }, Logger: rmDiscard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stale.Close)
	strict := newMiddleware(t, newIssuer(), func(c *middleware.Config) { local(c); c.Revocations = stale })

	limit := must(mw.RateLimit(middleware.RateLimit{Rate: "2-M"}))
	openLimit := must(mw.RateLimit(middleware.RateLimit{Rate: "1-M", Store: &rlFailingStore{}, Name: "open"}))
	closedLimit := must(mw.RateLimit(middleware.RateLimit{Rate: "1-M", Store: &rlFailingStore{}, Name: "closed", FailClosed: true}))
	mux := http.NewServeMux()
	mux.Handle("/orders", mw.RequireScopes("orders:read")(limit(reached)))
	mux.Handle("/open-limiter", openLimit(reached))
	mux.Handle("/closed-limiter", closedLimit(reached))
	mux.Handle("/keys-down", down.Authenticate(reached))
	mux.Handle("/strict", strict.Authenticate(reached))
	api := serve(t, mux)

	ok := forgedHeader("ES256", "es-1")
	c := forgedClaims()
	good := goodForged()
	busy := forgedES(ok, c.with("client_id", js("busy")).with("jti", js("jti-busy")))
	tests := []struct {
		name     string
		path     string
		auth     string // the Authorization header; "" for none
		status   int
		reason   string // "" when the request passed
		accepted bool   // the token verified (the request may be refused later)
		cache    string // "hit", "miss", or "" when no token reached the cache
	}{
		{"good token", "/orders", "Bearer " + good, 200, "", true, "miss"},
		{"good token again", "/orders", "Bearer " + good, 200, "", true, "hit"},
		{"no token", "/orders", "", 401, "missing_token", false, ""},
		{"Basic scheme", "/orders", "Basic dXNlcjpwYXNz", 401, "missing_token", false, ""},
		{"two spaces", "/orders", "Bearer  " + good, 400, "invalid_request", false, "miss"},
		{"not a b64token", "/orders", "Bearer " + good + "!", 400, "invalid_request", false, "miss"},
		{"garbage", "/orders", "Bearer not.a.jwt", 401, "malformed_token", false, "miss"},
		{"alg of another key", "/orders", "Bearer " + forge("RS256", forgeRSA(), ok.with("alg", js("RS256")).String(), c.String()), 401, "algorithm_not_allowed", false, "miss"},
		{"typ JWT", "/orders", "Bearer " + forgedES(ok.with("typ", js("JWT")), c), 401, "wrong_type", false, "miss"},
		{"unknown kid", "/orders", "Bearer " + forgedES(ok.with("kid", js("nope")), c), 401, "unknown_kid", false, "miss"},
		{"bad signature", "/orders", "Bearer " + forge("ES256", attackES, ok.String(), c.String()), 401, "bad_signature", false, "miss"},
		{"wrong issuer", "/orders", "Bearer " + forgedES(ok, c.with("iss", js("https://evil.test"))), 401, "wrong_issuer", false, "miss"},
		{"wrong audience", "/orders", "Bearer " + forgedES(ok, c.with("aud", js("https://other.test"))), 401, "wrong_audience", false, "miss"},
		{"expired", "/orders", "Bearer " + forgedES(ok, c.with("exp", unixJS(testNow.Add(-time.Hour)))), 401, "expired", false, "miss"},
		{"not yet valid", "/orders", "Bearer " + forgedES(ok, c.with("nbf", unixJS(testNow.Add(time.Hour)))), 401, "not_yet_valid", false, "miss"},
		{"revoked via the feed", "/orders", "Bearer " + forgedES(ok, c.with("jti", js("jti-revoked"))), 401, "revoked", false, "miss"},
		{"wrong scope", "/orders", "Bearer " + forgedES(ok, c.with("scope", js("other"))), 403, "insufficient_scope", true, "miss"},
		{"busy 1", "/orders", "Bearer " + busy, 200, "", true, "miss"},
		{"busy 2", "/orders", "Bearer " + busy, 200, "", true, "hit"},
		{"busy 3, over the limit", "/orders", "Bearer " + busy, 429, "rate_limited", true, "hit"},
		{"limiter store down, fail open", "/open-limiter", "Bearer " + good, 200, "", true, "hit"},
		{"limiter store down, fail closed", "/closed-limiter", "Bearer " + good, 503, "limiter_unavailable", true, "hit"},
		{"keys not fetched", "/keys-down", "Bearer " + good, 503, "keys_unavailable", false, "miss"},
		{"revocation set stale, fail closed", "/strict", "Bearer " + good, 503, "revocations_stale", false, "miss"},
	}
	refused := map[string]float64{}
	var accepted, hits, misses float64
	for _, tc := range tests {
		req, _ := http.NewRequest(http.MethodGet, api.URL+tc.path, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		if res := do(t, req); res.Status != tc.status {
			t.Fatalf("%s: status %d, want %d: %s", tc.name, res.Status, tc.status, res.Raw)
		}
		if tc.reason != "" {
			refused[tc.reason]++
		}
		if tc.accepted {
			accepted++
		}
		switch tc.cache {
		case "hit":
			hits++
		case "miss":
			misses++
		}
	}
	want := mtRefused(refused)
	maps.Copy(want, map[string]float64{
		"tollgate_middleware_accepted_total":                         accepted,
		"tollgate_middleware_token_cache_hits_total":                 hits,
		"tollgate_middleware_token_cache_misses_total":               misses,
		"tollgate_middleware_ratelimit_store_errors_total":           2,
		`tollgate_middleware_revocation_polls_total{result="ok"}`:    1,
		`tollgate_middleware_revocation_polls_total{result="error"}`: 0,
		"tollgate_middleware_revocation_entries":                     1,
		"tollgate_middleware_revocation_lag_seconds":                 0,
	})
	ms.want(t, want)
	for _, r := range mtRefusalReasons {
		if r != "invalid_token" && refused[r] == 0 {
			t.Errorf("no request of the table was refused as %s", r)
		}
	}
}
