package handler_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
)

// Issue 9 §1: knowing a client id must not be enough to shut that client
// out. Credentials that verify cheaply (a public client sending no secret,
// a generated secret, a slow secret already verified on this server) are
// never refused because somebody else failed with the client id; the
// guesser's own address is.

const lkHumanID = "c2" // a confidential client with a human-chosen (argon2id) secret

// lkServer is rlServer with failed_auth 3-M, X-Forwarded-For believed from
// loopback, and the client c2 holding the integration's argon2id hash.
func lkServer(t *testing.T) (ts *httptest.Server, partnerSecret string) {
	t.Helper()
	var store storage.ClientStore
	srv, partner := rlServer(t, func(cfg *handler.Config) {
		cfg.RateLimits.FailedAuth = "3-M"
		cfg.TrustedProxies = rlLoopback
		store = cfg.Clients.(storage.ClientStore)
	})
	c2 := &storage.Client{
		ID: lkHumanID, SecretHash: integrationHash, GrantTypes: []string{"client_credentials"},
		Scopes: []string{"market:all"}, DefaultScopes: []string{"market:all"}, Audiences: []string{apiAudience},
	}
	if err := store.CreateClient(context.Background(), c2); err != nil {
		t.Fatal(err)
	}
	return srv, partner
}

// The first scenario: three wrong secrets for c2 from one address,
// after c2 got a token from another, must not shut c2 out there.
func TestLockoutVerifiedSecretNotShutOut(t *testing.T) {
	t.Parallel()
	ts, _ := lkServer(t)
	const owner, guesser = "203.0.113.20", "198.51.100.7"
	rlWantOK(t, "c2 from its own address", rlToken(t, ts, owner, lkHumanID, integrationSecret))
	for i := range 3 {
		res := rlToken(t, ts, guesser, lkHumanID, "wrong-"+strconv.Itoa(i))
		rlWantStatus(t, "wrong secret "+strconv.Itoa(i), res, http.StatusUnauthorized)
	}
	rlWantOK(t, "c2's right secret from its own address after the guesses", rlToken(t, ts, owner, lkHumanID, integrationSecret))
	rlWantOK(t, "c2's right secret from an address never seen", rlToken(t, ts, "203.0.113.21", lkHumanID, integrationSecret))
	// The guesser's address is the one refused, good credentials or not.
	rlWant429(t, "c2's right secret from the guesser's address", rlToken(t, ts, guesser, lkHumanID, integrationSecret), 3)
	// A fourth guess from a fresh address is refused before any check: the
	// client's count is full. Only a right secret that verified before
	// passes.
	rlWant429(t, "a fourth guess from a fresh address", rlToken(t, ts, "198.51.100.8", lkHumanID, "wrong-3"), 3)
}

// The second scenario: a public client named with a secret six
// times from one address must keep serving its users everywhere else.
func TestLockoutPublicClientNotShutOut(t *testing.T) {
	t.Parallel()
	ts, _ := lkServer(t)
	const guesser = "198.51.100.7"
	for i := range 6 {
		res := rlToken(t, ts, guesser, salesChannelID, "guess")
		want := http.StatusUnauthorized
		if i >= 3 {
			want = http.StatusTooManyRequests // the guesser's address
		}
		rlWantStatus(t, "public client with a secret #"+strconv.Itoa(i+1), res, want)
	}
	for _, ip := range []string{"203.0.113.20", "203.0.113.21", "2001:db8::1"} {
		rlWantOK(t, "public client, no secret, from "+ip, rlToken(t, ts, ip, salesChannelID, ""))
	}
	rlWant429(t, "public client, no secret, from the guesser's address", rlToken(t, ts, guesser, salesChannelID, ""), 3)
}

// A generated secret is always accepted cheaply, so failures with its id
// never refuse it.
func TestLockoutGeneratedSecretNotShutOut(t *testing.T) {
	t.Parallel()
	ts, partnerSecret := lkServer(t)
	for i, ip := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"} {
		want := http.StatusUnauthorized
		if i == 3 {
			want = http.StatusTooManyRequests // the client's count is full: not even checked
		}
		rlWantStatus(t, "guess from "+ip, rlToken(t, ts, ip, rlPartnerID, "tgs_guess"), want)
	}
	rlWantOK(t, "partner's generated secret", rlToken(t, ts, "203.0.113.20", rlPartnerID, partnerSecret))
}

// A slow secret that has not verified on this server yet needs its slow
// check, and slow checks per client id are bounded: after three failures
// from three addresses, a fourth address is refused even with the right
// secret. Each refusal counts against the address that sent it.
func TestLockoutUnverifiedSlowSecretBounded(t *testing.T) {
	t.Parallel()
	ts, partnerSecret := lkServer(t)
	for _, ip := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		rlWantStatus(t, "guess from "+ip, rlToken(t, ts, ip, lkHumanID, "guess"), http.StatusUnauthorized)
	}
	const late = "203.0.113.30"
	for i := range 3 {
		rlWant429(t, "right, never verified secret #"+strconv.Itoa(i+1), rlToken(t, ts, late, lkHumanID, integrationSecret), 3)
	}
	// Three refusals filled the address's own count.
	rlWant429(t, "partner from the refused address", rlToken(t, ts, late, rlPartnerID, partnerSecret), 3)
	rlWantOK(t, "partner from elsewhere", rlToken(t, ts, "203.0.113.31", rlPartnerID, partnerSecret))
}

// The same rule holds at the revocation endpoint, which shares the
// authentication step.
func TestLockoutRevocationEndpoint(t *testing.T) {
	t.Parallel()
	ts, _ := lkServer(t)
	revoke := func(ip, secret string) result {
		form := url.Values{"token": {"not-a-token"}}
		headers := []string{"X-Forwarded-For", ip}
		if secret == "" {
			form.Set("client_id", salesChannelID)
		} else {
			headers = append(headers, "Authorization", rlBasic(salesChannelID, secret))
		}
		req, _ := http.NewRequest(http.MethodPost, ts.URL+handler.RevokePath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		return do(t, req)
	}
	for _, ip := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		rlWantStatus(t, "revocation with a guessed secret from "+ip, revoke(ip, "guess"), http.StatusUnauthorized)
	}
	rlWantStatus(t, "revocation by the public client", revoke("203.0.113.40", ""), http.StatusOK)
}
