package handler_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// Metrics (issue 11 §1) through real HTTP: each scenario runs on its own
// server and registry, then the registry is scraped and every non-zero
// series of the families it touches must be exactly the ones listed.

const obCC = "client_credentials"

// obWrongSecret is a client_credentials request of client with a wrong
// secret.
func obWrongSecret(t *testing.T, e *afEnv, client string) afHTTP {
	t.Helper()
	req := e.postRequest(handler.TokenPath, "", url.Values{"grant_type": {obCC}})
	req.SetBasicAuth(client, "not-the-secret")
	return afDo(t, req)
}

func obCCToken(t *testing.T, e *afEnv) afHTTP {
	t.Helper()
	return e.post(t, handler.TokenPath, afResourceID, url.Values{"grant_type": {obCC}})
}

// obDownFeed is a token store whose revocation feed cannot be read.
type obDownFeed struct{ *memory.Store }

func (obDownFeed) Revocations(context.Context, uint64, time.Time, int) (*storage.RevocationPage, error) {
	return nil, storage.ErrUnavailable
}

func TestMetricsScenarios(t *testing.T) {
	const req, fail, lock = "tollgate_handler_requests_total", "tollgate_handler_client_auth_failures_total", "tollgate_handler_lockouts_total"
	const replay, revoc, store = "tollgate_handler_replays_total", "tollgate_handler_revocations_total", "tollgate_handler_storage_errors_total"
	type want struct {
		prefix string
		series map[string]float64
	}
	cases := []struct {
		name   string
		mutate func(*afEnv, *handler.Config)
		run    func(t *testing.T, e *afEnv)
		want   []want
	}{
		{"client_credentials issued", nil, func(t *testing.T, e *afEnv) {
			afTokens(t, "token", obCCToken(t, e))
		}, []want{
			{req, map[string]float64{obReq("token", obCC, "issued"): 1}},
			{"tollgate_handler_request_duration_seconds", map[string]float64{
				"tollgate_handler_request_duration_seconds_count{endpoint=token,grant_type=client_credentials}": 1}},
			{fail, nil}, {lock, nil}, {store, nil},
		}},
		{"wrong secret and unknown client", nil, func(t *testing.T, e *afEnv) {
			afWantError(t, "wrong secret", obWrongSecret(t, e, afResourceID), http.StatusUnauthorized, "invalid_client", "")
			afWantError(t, "unknown client", obWrongSecret(t, e, "nobody"), http.StatusUnauthorized, "invalid_client", "")
		}, []want{
			{req, map[string]float64{obReq("token", obCC, "invalid_client"): 2}},
			{fail, map[string]float64{obCounter("client_auth_failures_total", "reason", "bad_credentials"): 1,
				obCounter("client_auth_failures_total", "reason", "unknown_client"): 1}},
			{lock, nil},
		}},
		{"lockout", func(_ *afEnv, c *handler.Config) { c.RateLimits.FailedAuth = "3-M" }, func(t *testing.T, e *afEnv) {
			for range 3 {
				afWantError(t, "wrong secret", obWrongSecret(t, e, afResourceID), http.StatusUnauthorized, "invalid_client", "")
			}
			afWantError(t, "the right secret from the locked-out address", obCCToken(t, e), http.StatusTooManyRequests, "temporarily_unavailable", "")
		}, []want{
			{req, map[string]float64{obReq("token", obCC, "invalid_client"): 3, obReq("token", obCC, "rate_limited"): 1}},
			{fail, map[string]float64{obCounter("client_auth_failures_total", "reason", "bad_credentials"): 3}},
			// The third failure used up both the address's allowance and
			// the client id's: one lockout each, not one per refusal.
			{lock, map[string]float64{obCounter("lockouts_total", "scope", "ip"): 1, obCounter("lockouts_total", "scope", "client"): 1}},
		}},
		{"rate limited", func(_ *afEnv, c *handler.Config) { c.RateLimits.Token = "1-M" }, func(t *testing.T, e *afEnv) {
			afTokens(t, "first token", obCCToken(t, e))
			afWantError(t, "second token", obCCToken(t, e), http.StatusTooManyRequests, "temporarily_unavailable", "")
		}, []want{
			{req, map[string]float64{obReq("token", obCC, "issued"): 1, obReq("token", obCC, "rate_limited"): 1}},
		}},
		{"code replay", nil, func(t *testing.T, e *afEnv) {
			code, verifier := e.code(t, afWebID, afWebRedirect, nil)
			afTokens(t, "redeem", e.redeem(t, afWebID, code, verifier, afWebRedirect))
			afWantError(t, "replay", e.redeem(t, afWebID, code, verifier, afWebRedirect), http.StatusBadRequest, "invalid_grant", "")
		}, []want{
			{req, map[string]float64{obReq("authorize", "none", "issued"): 1,
				obReq("token", afCodeGrant, "issued"): 1, obReq("token", afCodeGrant, "invalid_grant"): 1}},
			{replay, map[string]float64{obCounter("replays_total", "token_type", "authorization_code"): 1}},
			{revoc, nil}, {store, nil},
		}},
		{"refresh reuse", nil, func(t *testing.T, e *afEnv) {
			p := e.pair(t, afWebID, nil)
			afTokens(t, "refresh", e.refresh(t, afWebID, p.refresh, nil))
			afWantError(t, "reuse", e.refresh(t, afWebID, p.refresh, nil), http.StatusBadRequest, "invalid_grant", "already used")
		}, []want{
			{req, map[string]float64{obReq("authorize", "none", "issued"): 1, obReq("token", afCodeGrant, "issued"): 1,
				obReq("token", afRefreshGrant, "issued"): 1, obReq("token", afRefreshGrant, "invalid_grant"): 1}},
			{replay, map[string]float64{obCounter("replays_total", "token_type", "refresh_token"): 1}},
		}},
		{"revocations", nil, func(t *testing.T, e *afEnv) {
			access := afTokens(t, "token", obCCToken(t, e)).access
			if res := e.revoke(t, afResourceID, access, ""); res.status != http.StatusOK {
				t.Fatalf("revoking the access token: %s", res)
			}
			p := e.pair(t, afWebID, nil)
			if res := e.revoke(t, afWebID, p.refresh, ""); res.status != http.StatusOK {
				t.Fatalf("revoking the refresh token: %s", res)
			}
			// Unknown to the server: 200, and nothing revoked.
			if res := e.revoke(t, afWebID, "tgr_nothing.1.x", ""); res.status != http.StatusOK {
				t.Fatalf("revoking an unknown token: %s", res)
			}
		}, []want{
			{req, map[string]float64{obReq("token", obCC, "issued"): 1, obReq("authorize", "none", "issued"): 1,
				obReq("token", afCodeGrant, "issued"): 1, obReq("revoke", "none", "ok"): 3}},
			{revoc, map[string]float64{obCounter("revocations_total", "token_type", "access_token"): 1,
				obCounter("revocations_total", "token_type", "refresh_token"): 1}},
		}},
		{"login, consent and the public documents", func(e *afEnv, c *handler.Config) {
			c.Consent = func(w http.ResponseWriter, _ *http.Request, _ handler.ConsentRequest) (handler.ConsentDecision, bool) {
				http.Error(w, "consent page", http.StatusOK)
				return handler.ConsentDecision{}, false
			}
		}, func(t *testing.T, e *afEnv) {
			params := afAuthorizeParams(afWebID, afWebRedirect, afVerifier(t))
			if res := e.afAuthorizeRaw(t, params.Encode(), nil); res.status != http.StatusFound {
				t.Errorf("signed out: %s, want the login redirect", res)
			}
			if res := e.authorize(t, params); res.status != http.StatusOK {
				t.Errorf("signed in: %s, want the consent page", res)
			}
			for _, path := range []string{handler.JWKSPath, handler.MetadataPath, handler.RevocationsPath} {
				res := afDo(t, obGet(t, e.ts.URL+path))
				if res.status != http.StatusOK {
					t.Errorf("GET %s: %s", path, res)
				}
			}
			req, _ := http.NewRequest(http.MethodPut, e.ts.URL+handler.JWKSPath, nil)
			afWantError(t, "PUT jwks", afDo(t, req), http.StatusMethodNotAllowed, "invalid_request", "")
		}, []want{
			{req, map[string]float64{obReq("authorize", "none", "login"): 1, obReq("authorize", "none", "consent"): 1,
				obReq("jwks", "none", "ok"): 1, obReq("metadata", "none", "ok"): 1, obReq("revocations", "none", "ok"): 1,
				obReq("jwks", "none", "method_not_allowed"): 1}},
		}},
		{"storage error", func(e *afEnv, c *handler.Config) { c.Tokens = obDownFeed{e.store} }, func(t *testing.T, e *afEnv) {
			afWantError(t, "feed", afDo(t, obGet(t, e.ts.URL+handler.RevocationsPath)), http.StatusServiceUnavailable, "temporarily_unavailable", "")
		}, []want{
			{req, map[string]float64{obReq("revocations", "none", "unavailable"): 1}},
			{store, map[string]float64{obCounter("storage_errors_total", "operation", "revocations"): 1}},
		}},
		{"extension grant", func(_ *afEnv, c *handler.Config) { c.Grants = []handler.Grant{afUserGrantDef(nil)} }, func(t *testing.T, e *afEnv) {
			form := url.Values{"grant_type": {afUserGrant}, "user_id": {"bob"}}
			afTokens(t, "extension grant", e.post(t, handler.TokenPath, afTrustedID, form))
			form.Set("user_id", "explode")
			afWantError(t, "failing extension grant", e.post(t, handler.TokenPath, afTrustedID, form), http.StatusInternalServerError, "server_error", "")
		}, []want{
			{req, map[string]float64{obReq("token", afUserGrant, "issued"): 1, obReq("token", afUserGrant, "server_error"): 1}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, sinks := obAF(t, tc.mutate)
			tc.run(t, env)
			got, _ := sinks.scrape(t)
			for _, w := range tc.want {
				obWantSeries(t, tc.name, got, w.prefix, w.series)
			}
		})
	}
}

func obGet(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestMetricsLabelsBounded: request text never becomes a label value.
// 100 requests with random grant types and random client ids add no
// series beyond the fixed ones, and none of the random strings appears in
// the scrape.
func TestMetricsLabelsBounded(t *testing.T) {
	t.Parallel()
	env, sinks := obAF(t, func(_ *afEnv, c *handler.Config) { c.RateLimits.FailedAuth = "off" })
	var sent []string
	random := func() string {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		s := "rnd" + hex.EncodeToString(b)
		sent = append(sent, s)
		return s
	}
	for i := range 100 {
		if i%2 == 0 {
			res := env.post(t, handler.TokenPath, afResourceID, url.Values{"grant_type": {random()}})
			afWantError(t, "random grant type", res, http.StatusBadRequest, "unsupported_grant_type", "")
		} else {
			afWantError(t, "random client", obWrongSecret(t, env, random()), http.StatusUnauthorized, "invalid_client", "")
		}
	}
	got, text := sinks.scrape(t)
	obWantSeries(t, "after 100 random requests", got, "tollgate_handler_requests_total", map[string]float64{
		obReq("token", "other", "unsupported_grant_type"): 50, obReq("token", obCC, "invalid_client"): 50,
	})
	obWantSeries(t, "after 100 random requests", got, "tollgate_handler_request_duration_seconds", map[string]float64{
		"tollgate_handler_request_duration_seconds_count{endpoint=token,grant_type=other}":              50,
		"tollgate_handler_request_duration_seconds_count{endpoint=token,grant_type=client_credentials}": 50,
	})
	for _, s := range sent {
		if strings.Contains(text, s) {
			t.Fatalf("the scrape holds %q, which a request sent", s)
		}
	}
	// Every series of the registry, zero or not, has its labels from the
	// fixed sets.
	allowed := map[string]bool{}
	for _, v := range strings.Fields(`token authorize revoke introspect revocations jwks metadata
		none other authorization_code client_credentials refresh_token
		issued ok login consent invalid_request invalid_client invalid_grant unauthorized_client
		unsupported_grant_type unsupported_response_type invalid_scope invalid_target access_denied
		method_not_allowed rate_limited unavailable server_error other_error
		unknown_client bad_credentials ip client hit miss access_token consent
		get_client clients_version list_clients create_code get_code use_code create_family get_family
		advance_family revoke_families_of revoke_access_token revoke_family access_token_revoked revocations
		delete_expired legacy_refresh_family add_signing_key signing_keys retire_signing_key get_consent
		save_consent delete_consent list_consents`) {
		allowed[v] = true
	}
	for series := range got {
		_, labels, _ := strings.Cut(strings.TrimSuffix(series, "}"), "{")
		for _, l := range strings.Split(labels, ",") {
			if _, v, _ := strings.Cut(l, "="); !allowed[v] {
				t.Errorf("series %s: label value %q is not of the fixed sets", series, v)
			}
		}
	}
}

// TestMetricsClientCache: every client lookup is a hit or a miss, and
// once the cache has read the store's version, lookups are hits.
func TestMetricsClientCache(t *testing.T) {
	t.Parallel()
	env, sinks := obAF(t, nil)
	hit, miss := obCounter("client_cache_lookups_total", "result", "hit"), obCounter("client_cache_lookups_total", "result", "miss")
	// The first lookup starts the cache's first version read, in the
	// background; until it is done lookups go to the store. Each request
	// here is one lookup (the grant reads no other client).
	for n := 1; ; n++ {
		afTokens(t, "token", obCCToken(t, env))
		got, _ := sinks.scrape(t)
		if got[hit]+got[miss] != float64(n) {
			t.Fatalf("after %d requests: %v hits + %v misses", n, got[hit], got[miss])
		}
		if got[hit] > 0 {
			break
		}
		if n == 200 {
			t.Fatal("no cache hit after 200 requests")
		}
	}
}

// TestNewMetrics: the collectors go to the registry given, and only once;
// they pass Prometheus's naming lint.
func TestNewMetrics(t *testing.T) {
	t.Parallel()
	if _, err := handler.NewMetrics(nil); err == nil {
		t.Error("NewMetrics(nil) succeeded")
	}
	reg := prometheus.NewRegistry()
	if _, err := handler.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	var already prometheus.AlreadyRegisteredError
	if _, err := handler.NewMetrics(reg); !errors.As(err, &already) {
		t.Errorf("a second NewMetrics on one registry = %v, want AlreadyRegisteredError", err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	// Nothing went to the global registry.
	if n, err := testutil.GatherAndCount(prometheus.DefaultGatherer, "tollgate_handler_requests_total"); err != nil || n != 0 {
		t.Errorf("the default registry holds %d tollgate series (%v)", n, err)
	}
}
