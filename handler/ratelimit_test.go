package handler_test

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
)

// Every failed client authentication costs one argon2id run (~30 ms, far
// more under -race), so these tests fail authentication only as often as the
// point they make needs. Successful requests are cheap: the integration
// client's argon2id hash is verified once per server and then cached, and
// the partner client has a generated (fast-hash) secret.

const rlPartnerID = "partner"

// rlLoopback is where every test request comes from: httptest listens on it.
var rlLoopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

// rlServer starts a server whose clients are the fixture clients plus
// "partner", a confidential client with a generated secret, returned.
func rlServer(t *testing.T, mutate func(*handler.Config)) (*httptest.Server, string) {
	t.Helper()
	plain, hash, err := handler.GenerateClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	clients := testClients(t)
	if err := clients.CreateClient(context.Background(), &storage.Client{
		ID: rlPartnerID, SecretHash: hash, GrantTypes: []string{"client_credentials"},
		Scopes: []string{"market:all"}, DefaultScopes: []string{"market:all"}, Audiences: []string{apiAudience},
	}); err != nil {
		t.Fatal(err)
	}
	ts, _ := newServer(t, func(cfg *handler.Config) {
		cfg.Clients = clients
		if mutate != nil {
			mutate(cfg)
		}
	})
	return ts, plain
}

// rlToken asks for a client_credentials token with client_secret_basic
// (secret != "") or as a public client (secret == ""), from the client
// address xff when it is not empty.
func rlToken(t *testing.T, ts *httptest.Server, xff, clientID, secret string) result {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	var headers []string
	if secret == "" {
		form.Set("client_id", clientID)
		if clientID == salesChannelID {
			form.Set("scope", "market:id:xYZkjABcde")
		}
	} else {
		headers = append(headers, "Authorization", rlBasic(clientID, secret))
	}
	if xff != "" {
		headers = append(headers, "X-Forwarded-For", xff)
	}
	return postRaw(t, ts, "application/x-www-form-urlencoded", form.Encode(), headers...)
}

func rlBasic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// rlMalformed sends a token request that fails parsing (not a form, not
// JSON) from xff.
func rlMalformed(t *testing.T, ts *httptest.Server, xff string) result {
	t.Helper()
	var headers []string
	if xff != "" {
		headers = []string{"X-Forwarded-For", xff}
	}
	return postRaw(t, ts, "text/plain", "grant_type=client_credentials", headers...)
}

func rlWantStatus(t *testing.T, what string, res result, status int) {
	t.Helper()
	if res.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, res.status, status, res.raw)
	}
}

func rlWantOK(t *testing.T, what string, res result) {
	t.Helper()
	rlWantStatus(t, what, res, http.StatusOK)
	if res.body.AccessToken == "" {
		t.Fatalf("%s: no access_token: %s", what, res.raw)
	}
}

// rlWant429 checks an over-limit answer: 429, an OAuth-style JSON error and
// the rate-limit headers for a limit of limit.
func rlWant429(t *testing.T, what string, res result, limit int) {
	t.Helper()
	rlWantStatus(t, what, res, http.StatusTooManyRequests)
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	if res.body.Error == "" || res.body.Description == "" {
		t.Errorf("%s: body %s, want error and error_description", what, res.raw)
	}
	if res.body.AccessToken != "" {
		t.Errorf("%s: a refused request got a token", what)
	}
	if cc := res.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control %q", what, cc)
	}
	retry, err := strconv.Atoi(res.header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 60 {
		t.Errorf("%s: Retry-After %q, want integer seconds in 1..60", what, res.header.Get("Retry-After"))
	}
	if got := res.header.Get("X-RateLimit-Limit"); got != strconv.Itoa(limit) {
		t.Errorf("%s: X-RateLimit-Limit %q, want %d", what, got, limit)
	}
	if got := res.header.Get("X-RateLimit-Remaining"); got != "0" {
		t.Errorf("%s: X-RateLimit-Remaining %q, want 0", what, got)
	}
	rlWantReset(t, what, res)
}

// rlWantReset checks X-RateLimit-Reset: unix seconds, in the coming minute.
// The limiter's store counts in wall-clock time, not the injected clock.
func rlWantReset(t *testing.T, what string, res result) {
	t.Helper()
	reset, err := strconv.ParseInt(res.header.Get("X-RateLimit-Reset"), 10, 64)
	now := time.Now().Unix()
	if err != nil || reset < now || reset > now+61 {
		t.Errorf("%s: X-RateLimit-Reset %q, want unix seconds in (now, now+60], now = %d", what, res.header.Get("X-RateLimit-Reset"), now)
	}
}

func rlNoLimitHeaders(t *testing.T, what string, res result) {
	t.Helper()
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"} {
		if v := res.header.Get(h); v != "" {
			t.Errorf("%s: %s: %q with the limit off", what, h, v)
		}
	}
}

func TestRateLimitPerClient(t *testing.T) {
	t.Parallel()
	ts, partnerSecret := rlServer(t, func(cfg *handler.Config) {
		cfg.RateLimits.Token = "3-M"
	})

	for i := range 3 {
		what := "integration request " + strconv.Itoa(i+1)
		res := rlToken(t, ts, "", integrationID, integrationSecret)
		rlWantOK(t, what, res)
		if got := res.header.Get("X-RateLimit-Limit"); got != "3" {
			t.Errorf("%s: X-RateLimit-Limit %q, want 3", what, got)
		}
		if got, want := res.header.Get("X-RateLimit-Remaining"), strconv.Itoa(2-i); got != want {
			t.Errorf("%s: X-RateLimit-Remaining %q, want %s", what, got, want)
		}
		rlWantReset(t, what, res)
		if res.header.Get("Retry-After") != "" {
			t.Errorf("%s: Retry-After on a success", what)
		}
	}
	rlWant429(t, "4th integration request", rlToken(t, ts, "", integrationID, integrationSecret), 3)
	// JSON bodies and client_secret_post are the same client.
	res := postRaw(t, ts, "application/json",
		`{"grant_type":"client_credentials","client_id":"`+integrationID+`","client_secret":"`+integrationSecret+`"}`)
	rlWant429(t, "5th integration request (JSON, client_secret_post)", res, 3)

	// Other clients keep their own quota, from the same address.
	res = rlToken(t, ts, "", rlPartnerID, partnerSecret)
	rlWantOK(t, "partner after integration is limited", res)
	if got := res.header.Get("X-RateLimit-Remaining"); got != "2" {
		t.Errorf("partner: X-RateLimit-Remaining %q, want 2", got)
	}
	res = rlToken(t, ts, "", salesChannelID, "")
	rlWantOK(t, "public client after integration is limited", res)
	if got := res.header.Get("X-RateLimit-Remaining"); got != "2" {
		t.Errorf("sales channel: X-RateLimit-Remaining %q, want 2", got)
	}
}

func TestRateLimitPerIP(t *testing.T) {
	t.Parallel()

	t.Run("counted before parsing", func(t *testing.T) {
		t.Parallel()
		ts, _ := rlServer(t, func(cfg *handler.Config) { cfg.RateLimits.TokenPerIP = "2-M" })
		rlWantStatus(t, "malformed 1", rlMalformed(t, ts, ""), http.StatusBadRequest)
		rlWantStatus(t, "malformed 2", rlMalformed(t, ts, ""), http.StatusBadRequest)
		// The third request from the address is refused before it is read,
		// however good it is.
		rlWant429(t, "good request after two malformed", rlToken(t, ts, "", salesChannelID, ""), 2)
		rlWant429(t, "malformed 3", rlMalformed(t, ts, ""), 2)
		unsupported := postForm(t, ts, url.Values{"grant_type": {"password"}})
		rlWant429(t, "unsupported grant", unsupported, 2)
	})

	t.Run("trusted proxy: keyed by the rightmost untrusted entry", func(t *testing.T) {
		t.Parallel()
		ts, _ := rlServer(t, func(cfg *handler.Config) {
			cfg.RateLimits.TokenPerIP = "2-M"
			cfg.TrustedProxies = rlLoopback
		})
		rlWantOK(t, "198.51.100.9 #1", rlToken(t, ts, "198.51.100.9", salesChannelID, ""))
		rlWantStatus(t, "198.51.100.9 #2 (malformed)", rlMalformed(t, ts, "198.51.100.9"), http.StatusBadRequest)
		rlWant429(t, "198.51.100.9 #3", rlToken(t, ts, "198.51.100.9", salesChannelID, ""), 2)

		// A client cannot get a fresh quota by writing its own leftmost
		// entries: the proxy appended the real address on the right.
		for _, xff := range []string{"6.6.6.6, 198.51.100.9", "7.7.7.7,198.51.100.9", "203.0.113.77, 6.6.6.6, 198.51.100.9"} {
			rlWant429(t, "spoofed "+xff, rlToken(t, ts, xff, salesChannelID, ""), 2)
		}
		// Two header lines are one list: the last line's last entry counts.
		res := postRaw(t, ts, "application/x-www-form-urlencoded",
			url.Values{"grant_type": {"client_credentials"}, "client_id": {salesChannelID}, "scope": {"market:id:a"}}.Encode(),
			"X-Forwarded-For", "6.6.6.6", "X-Forwarded-For", "198.51.100.9")
		rlWant429(t, "spoofed on a header line of its own", res, 2)

		// Other client addresses behind the same proxy have their own quota.
		rlWantOK(t, "203.0.113.5", rlToken(t, ts, "203.0.113.5", salesChannelID, ""))
		rlWantOK(t, "6.6.6.6", rlToken(t, ts, "6.6.6.6", salesChannelID, ""))
		rlWantOK(t, "198.51.100.10, trusted hop appended", rlToken(t, ts, "198.51.100.10, 127.0.0.1", salesChannelID, ""))
		// And so does the proxy itself, for requests it sends on its own.
		rlWantOK(t, "no X-Forwarded-For", rlToken(t, ts, "", salesChannelID, ""))
	})

	t.Run("trusted proxy: IPv6 clients counted per /64", func(t *testing.T) {
		t.Parallel()
		ts, _ := rlServer(t, func(cfg *handler.Config) {
			cfg.RateLimits.TokenPerIP = "2-M"
			cfg.TrustedProxies = rlLoopback
		})
		rlWantOK(t, "2001:db8:1:2::1", rlToken(t, ts, "2001:db8:1:2::1", salesChannelID, ""))
		rlWantOK(t, "2001:db8:1:2::2", rlToken(t, ts, "2001:db8:1:2::2", salesChannelID, ""))
		rlWant429(t, "2001:db8:1:2:ffff::3, same /64", rlToken(t, ts, "2001:db8:1:2:ffff::3", salesChannelID, ""), 2)
		rlWantOK(t, "2001:db8:1:3::1, next /64", rlToken(t, ts, "2001:db8:1:3::1", salesChannelID, ""))
	})

	t.Run("no trusted proxies: X-Forwarded-For ignored", func(t *testing.T) {
		t.Parallel()
		ts, _ := rlServer(t, func(cfg *handler.Config) { cfg.RateLimits.TokenPerIP = "2-M" })
		rlWantOK(t, "claims 198.51.100.1", rlToken(t, ts, "198.51.100.1", salesChannelID, ""))
		rlWantOK(t, "claims 198.51.100.2", rlToken(t, ts, "198.51.100.2", salesChannelID, ""))
		// All of them came from 127.0.0.1.
		rlWant429(t, "claims 198.51.100.3", rlToken(t, ts, "198.51.100.3", salesChannelID, ""), 2)
		rlWant429(t, "no header", rlToken(t, ts, "", salesChannelID, ""), 2)
	})

	t.Run("remote address not a trusted proxy: X-Forwarded-For ignored", func(t *testing.T) {
		t.Parallel()
		ts, _ := rlServer(t, func(cfg *handler.Config) {
			cfg.RateLimits.TokenPerIP = "2-M"
			cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		})
		rlWantOK(t, "claims 198.51.100.1", rlToken(t, ts, "198.51.100.1", salesChannelID, ""))
		rlWantOK(t, "claims 198.51.100.2", rlToken(t, ts, "198.51.100.2", salesChannelID, ""))
		rlWant429(t, "claims 198.51.100.3", rlToken(t, ts, "198.51.100.3", salesChannelID, ""), 2)
	})
}

// TestFailedAuthLocksClient: a client id's failures bound the slow checks
// of secrets that have not verified on this server yet. (Credentials that
// verify cheaply are never refused this way: lockout_test.go.)
func TestFailedAuthLocksClient(t *testing.T) {
	t.Parallel()
	ts, partnerSecret := rlServer(t, func(cfg *handler.Config) {
		cfg.RateLimits.FailedAuth = "3-M"
		cfg.TrustedProxies = rlLoopback
	})
	// Three guesses, each from its own address, so no address reaches the
	// limit: only the client's count does.
	for i, ip := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		res := rlToken(t, ts, ip, integrationID, "wrong-guess-"+strconv.Itoa(i))
		rlWantStatus(t, "wrong secret from "+ip, res, http.StatusUnauthorized)
		if res.body.Error != "invalid_client" {
			t.Fatalf("wrong secret: error %q", res.body.Error)
		}
	}
	// Locked for slow checks: the integration's argon2id secret has never
	// verified here, so even the right one is refused before it is checked,
	// and a brute force cannot learn it has won.
	rlWant429(t, "correct, never verified secret after 3 failures", rlToken(t, ts, "198.51.100.4", integrationID, integrationSecret), 3)
	res := postForm(t, ts, url.Values{"grant_type": {"client_credentials"}, "client_id": {integrationID}, "client_secret": {integrationSecret}})
	rlWant429(t, "correct secret in the body", res, 3)
	rlWant429(t, "a 4th guess", rlToken(t, ts, "198.51.100.5", integrationID, "wrong-guess-3"), 3)

	// Other clients, from other addresses, are not affected.
	rlWantOK(t, "partner", rlToken(t, ts, "203.0.113.2", rlPartnerID, partnerSecret))
	rlWantOK(t, "sales channel", rlToken(t, ts, "203.0.113.3", salesChannelID, ""))
}

func TestFailedAuthLocksIP(t *testing.T) {
	t.Parallel()
	ts, partnerSecret := rlServer(t, func(cfg *handler.Config) {
		cfg.RateLimits.FailedAuth = "3-M"
		cfg.TrustedProxies = rlLoopback
	})
	const attacker = "198.51.100.66"
	// One failure for each of three client ids, two of them unknown: no
	// client id reaches the limit, the address does.
	for _, f := range []struct{ id, secret string }{
		{"ghost-1", "guess"}, {"ghost-2", "guess"}, {rlPartnerID, "guess"},
	} {
		rlWantStatus(t, "failure for "+f.id, rlToken(t, ts, attacker, f.id, f.secret), http.StatusUnauthorized)
	}
	rlWant429(t, "partner, right secret, from the attacker's address", rlToken(t, ts, attacker, rlPartnerID, partnerSecret), 3)
	rlWant429(t, "integration, right secret, from the attacker's address", rlToken(t, ts, attacker, integrationID, integrationSecret), 3)
	rlWant429(t, "public client from the attacker's address", rlToken(t, ts, attacker, salesChannelID, ""), 3)
	// The attacker's leftmost entries do not get it out.
	rlWant429(t, "attacker with a spoofed entry", rlToken(t, ts, "203.0.113.9, "+attacker, rlPartnerID, partnerSecret), 3)

	// The same clients from elsewhere still work.
	rlWantOK(t, "partner from elsewhere", rlToken(t, ts, "203.0.113.10", rlPartnerID, partnerSecret))
	rlWantOK(t, "integration from elsewhere", rlToken(t, ts, "203.0.113.11", integrationID, integrationSecret))
}

func TestFailedAuthUnknownClientCounts(t *testing.T) {
	t.Parallel()
	ts, _ := rlServer(t, func(cfg *handler.Config) {
		cfg.RateLimits.FailedAuth = "2-M"
		cfg.TrustedProxies = rlLoopback
	})
	rlWantStatus(t, "ghost #1", rlToken(t, ts, "198.51.100.1", "ghost", "guess"), http.StatusUnauthorized)
	// A public-style request (no secret) for an unknown id fails too.
	rlWantStatus(t, "ghost #2", rlToken(t, ts, "198.51.100.2", "ghost", ""), http.StatusUnauthorized)
	rlWant429(t, "ghost #3", rlToken(t, ts, "198.51.100.3", "ghost", "guess"), 2)
}

func TestFailedAuthIgnoresSuccesses(t *testing.T) {
	t.Parallel()
	ts, partnerSecret := rlServer(t, func(cfg *handler.Config) { cfg.RateLimits.FailedAuth = "1-M" })
	// With a limit of one failure, a success that counted would lock the
	// next request.
	for i := range 3 {
		rlWantOK(t, "partner "+strconv.Itoa(i), rlToken(t, ts, "", rlPartnerID, partnerSecret))
		rlWantOK(t, "integration "+strconv.Itoa(i), rlToken(t, ts, "", integrationID, integrationSecret))
		rlWantOK(t, "sales channel "+strconv.Itoa(i), rlToken(t, ts, "", salesChannelID, ""))
	}
	// Nor do requests refused before authentication.
	rlWantStatus(t, "malformed", rlMalformed(t, ts, ""), http.StatusBadRequest)
	rlWantStatus(t, "no client", postForm(t, ts, url.Values{"grant_type": {"client_credentials"}}), http.StatusUnauthorized)
	rlWantOK(t, "partner after those", rlToken(t, ts, "", rlPartnerID, partnerSecret))
	// The guard is live: one failure locks.
	rlWantStatus(t, "partner, wrong secret", rlToken(t, ts, "", rlPartnerID, "guess"), http.StatusUnauthorized)
	rlWant429(t, "partner after the failure", rlToken(t, ts, "", rlPartnerID, partnerSecret), 1)
}

// A client store outage is the server's failure, not the client's: it must
// not lock clients or addresses out once storage is back.
func TestFailedAuthIgnoresStorageOutage(t *testing.T) {
	t.Parallel()
	ts, partnerSecret := rlServer(t, func(cfg *handler.Config) {
		cfg.RateLimits.FailedAuth = "1-M"
		cfg.Clients = rlOutage{cfg.Clients}
	})
	for i := range 2 {
		res := rlToken(t, ts, "", rlOutageID, "any-secret")
		rlWantStatus(t, "lookup failure "+strconv.Itoa(i), res, http.StatusServiceUnavailable)
	}
	rlWantOK(t, "partner from the same address", rlToken(t, ts, "", rlPartnerID, partnerSecret))
}

const rlOutageID = "outage"

// rlOutage fails every lookup of rlOutageID as a broken database would.
type rlOutage struct{ storage.ClientGetter }

func (o rlOutage) GetClient(ctx context.Context, id string) (*storage.Client, error) {
	if id == rlOutageID {
		return nil, errors.New("database is down")
	}
	return o.ClientGetter.GetClient(ctx, id)
}

// TestFailedAuthConcurrentGuesses sends guesses at once. The limit is a
// number of failures per window; a guard that only checks the count before
// the (slow) secret check, and counts after it, lets every guess in flight
// through, so an attacker gets as many guesses as it can send in parallel.
func TestFailedAuthConcurrentGuesses(t *testing.T) {
	t.Parallel()
	const limit, guesses = 2, 6
	ts, _ := rlServer(t, func(cfg *handler.Config) {
		cfg.RateLimits.FailedAuth = strconv.Itoa(limit) + "-M"
		cfg.TrustedProxies = rlLoopback
	})
	statuses := make([]int, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() {
			// Each guess from its own address: only the client's count can
			// stop them.
			res := rlToken(t, ts, "198.51.100."+strconv.Itoa(i+1), rlPartnerID, "guess-"+strconv.Itoa(i))
			statuses[i] = res.status
		})
	}
	wg.Wait()
	checked := 0
	for _, s := range statuses {
		switch s {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("statuses %v: want only 401 and 429", statuses)
		}
	}
	if checked > limit {
		t.Errorf("%d of %d concurrent wrong secrets were checked (401), limit %d failures: statuses %v", checked, guesses, limit, statuses)
	}
}

func TestRateLimitsOff(t *testing.T) {
	t.Parallel()

	t.Run("token", func(t *testing.T) {
		t.Parallel()
		ts, partnerSecret := rlServer(t, func(cfg *handler.Config) { cfg.RateLimits.Token = "off" })
		for i := range 5 {
			res := rlToken(t, ts, "", rlPartnerID, partnerSecret)
			rlWantOK(t, "partner "+strconv.Itoa(i), res)
			rlNoLimitHeaders(t, "partner "+strconv.Itoa(i), res)
		}
	})

	t.Run("token per IP", func(t *testing.T) {
		t.Parallel()
		store := newRLStore()
		ts, _ := rlServer(t, func(cfg *handler.Config) {
			cfg.RateLimits.TokenPerIP = "off"
			cfg.RateLimits.Store = store
		})
		// Nothing but the per-IP limit runs before the request is parsed.
		for i := range 5 {
			rlWantStatus(t, "malformed "+strconv.Itoa(i), rlMalformed(t, ts, ""), http.StatusBadRequest)
		}
		if n := store.calls(); n != 0 {
			t.Errorf("%d store calls for malformed requests with TokenPerIP off; keys %v", n, store.keys())
		}
	})

	t.Run("failed auth", func(t *testing.T) {
		t.Parallel()
		store := newRLStore()
		ts, partnerSecret := rlServer(t, func(cfg *handler.Config) {
			cfg.RateLimits.FailedAuth = "off"
			cfg.RateLimits.Store = store
		})
		rlWantStatus(t, "ghost", rlToken(t, ts, "", "ghost", "guess"), http.StatusUnauthorized)
		rlWantOK(t, "partner", rlToken(t, ts, "", rlPartnerID, partnerSecret))
		for _, k := range store.keys() {
			if strings.Contains(k, "ghost") {
				t.Errorf("failed authentication counted under %q with FailedAuth off", k)
			}
		}
	})

	t.Run("all", func(t *testing.T) {
		t.Parallel()
		store := newRLStore()
		ts, partnerSecret := rlServer(t, func(cfg *handler.Config) {
			cfg.RateLimits = handler.RateLimits{Token: "off", TokenPerIP: "off", FailedAuth: "off", Store: store}
		})
		rlWantStatus(t, "partner, wrong secret", rlToken(t, ts, "", rlPartnerID, "guess"), http.StatusUnauthorized)
		for i := range 5 {
			res := rlToken(t, ts, "", rlPartnerID, partnerSecret)
			rlWantOK(t, "partner "+strconv.Itoa(i), res)
			rlNoLimitHeaders(t, "partner "+strconv.Itoa(i), res)
			rlWantStatus(t, "malformed "+strconv.Itoa(i), rlMalformed(t, ts, ""), http.StatusBadRequest)
		}
		if n := store.calls(); n != 0 {
			t.Errorf("%d store calls with every limit off; keys %v", n, store.keys())
		}
	})
}

func TestRateLimitCustomStore(t *testing.T) {
	t.Parallel()
	store := newRLStore()
	ts, partnerSecret := rlServer(t, func(cfg *handler.Config) {
		cfg.RateLimits = handler.RateLimits{Token: "2-M", TokenPerIP: "100-M", FailedAuth: "5-M", Store: store}
	})
	rlWantOK(t, "partner #1", rlToken(t, ts, "", rlPartnerID, partnerSecret))
	if store.calls() == 0 {
		t.Fatal("the configured store was not used")
	}
	var byClient, byIP bool
	for _, k := range store.keys() {
		byClient = byClient || strings.Contains(k, rlPartnerID)
		byIP = byIP || strings.Contains(k, "127.0.0.1")
	}
	if !byClient || !byIP {
		t.Errorf("store keys %v: want one naming the client and one naming the address", store.keys())
	}
	rlWantOK(t, "partner #2", rlToken(t, ts, "", rlPartnerID, partnerSecret))
	rlWant429(t, "partner #3", rlToken(t, ts, "", rlPartnerID, partnerSecret), 2)

	// Instances sharing a store share the counts (the reason to plug in
	// Redis): one request on each of two servers uses a quota of two.
	shared := newRLStore()
	a, secretA := rlServer(t, func(cfg *handler.Config) { cfg.RateLimits = handler.RateLimits{Token: "2-M", Store: shared} })
	b, _ := rlServer(t, func(cfg *handler.Config) { cfg.RateLimits = handler.RateLimits{Token: "2-M", Store: shared} })
	rlWantOK(t, "integration on A", rlToken(t, a, "", integrationID, integrationSecret))
	rlWantOK(t, "integration on B", rlToken(t, b, "", integrationID, integrationSecret))
	rlWant429(t, "integration on A again", rlToken(t, a, "", integrationID, integrationSecret), 2)
	rlWantOK(t, "partner on A", rlToken(t, a, "", rlPartnerID, secretA))
}

func TestRateLimitStoreErrorsFailOpen(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	ts, partnerSecret := rlServer(t, func(cfg *handler.Config) {
		cfg.RateLimits = handler.RateLimits{Token: "1-M", TokenPerIP: "1-M", FailedAuth: "1-M", Store: rlBrokenStore{}}
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	for i := range 3 {
		rlWantOK(t, "partner "+strconv.Itoa(i), rlToken(t, ts, "", rlPartnerID, partnerSecret))
		rlWantOK(t, "sales channel "+strconv.Itoa(i), rlToken(t, ts, "", salesChannelID, ""))
	}
	// A failure is still a plain 401, and does not lock anything.
	rlWantStatus(t, "partner, wrong secret", rlToken(t, ts, "", rlPartnerID, "guess"), http.StatusUnauthorized)
	rlWantOK(t, "partner after the failure", rlToken(t, ts, "", rlPartnerID, partnerSecret))
	rlWantStatus(t, "malformed", rlMalformed(t, ts, ""), http.StatusBadRequest)

	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "redis: connection refused") {
		t.Errorf("store failures were not logged as warnings:\n%s", out)
	}
	if strings.Contains(out, partnerSecret) {
		t.Error("the log holds a client secret")
	}
}

// rlStore wraps limiter's memory store and records every call.
type rlStore struct {
	limiter.Store
	mu   sync.Mutex
	seen []string
}

func newRLStore() *rlStore { return &rlStore{Store: memory.NewStore()} }

func (s *rlStore) record(key string) {
	s.mu.Lock()
	s.seen = append(s.seen, key)
	s.mu.Unlock()
}

func (s *rlStore) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

func (s *rlStore) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func (s *rlStore) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	s.record(key)
	return s.Store.Get(ctx, key, rate)
}

func (s *rlStore) Peek(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	s.record(key)
	return s.Store.Peek(ctx, key, rate)
}

func (s *rlStore) Reset(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	s.record(key)
	return s.Store.Reset(ctx, key, rate)
}

func (s *rlStore) Increment(ctx context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	s.record(key)
	return s.Store.Increment(ctx, key, count, rate)
}

// rlBrokenStore is a store whose backend is down.
type rlBrokenStore struct{}

var errRLStoreDown = errors.New("redis: connection refused")

func (rlBrokenStore) Get(context.Context, string, limiter.Rate) (limiter.Context, error) {
	return limiter.Context{}, errRLStoreDown
}

func (rlBrokenStore) Peek(context.Context, string, limiter.Rate) (limiter.Context, error) {
	return limiter.Context{}, errRLStoreDown
}

func (rlBrokenStore) Reset(context.Context, string, limiter.Rate) (limiter.Context, error) {
	return limiter.Context{}, errRLStoreDown
}

func (rlBrokenStore) Increment(context.Context, string, int64, limiter.Rate) (limiter.Context, error) {
	return limiter.Context{}, errRLStoreDown
}
