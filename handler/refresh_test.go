package handler_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
)

// Refresh tokens (RFC 6749 §6, RFC 9700 §4.14): rotation on every use,
// reuse revokes the family, scope and audience can only narrow, lifetimes.

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	p1 := env.pair(t, afWebID, nil)
	p2 := afTokens(t, "first refresh", env.refresh(t, afWebID, p1.refresh, nil))
	p3 := afTokens(t, "second refresh", env.refresh(t, afWebID, p2.refresh, nil))
	for _, p := range []afPair{p1, p2, p3} {
		if !strings.HasPrefix(p.refresh, "tgr_") {
			t.Fatalf("refresh token %q", p.refresh)
		}
	}
	if p1.refresh == p2.refresh || p2.refresh == p3.refresh || p1.access == p2.access || p2.access == p3.access {
		t.Fatal("a refresh did not rotate both tokens")
	}
	for i, p := range []afPair{p1, p2, p3} {
		if !env.active(t, p.access) {
			t.Errorf("access token %d inactive before any reuse", i+1)
		}
	}
	// The newest refresh token is the only live one: it introspects as
	// active, the rotated ones do not.
	if env.activeAs(t, afWebID, p1.refresh, "refresh_token") || env.activeAs(t, afWebID, p2.refresh, "refresh_token") {
		t.Error("a rotated refresh token introspects as active")
	}
	if !env.activeAs(t, afWebID, p3.refresh, "refresh_token") {
		t.Fatal("the newest refresh token is not active")
	}

	// A rotated token comes back: an attacker or a confused client holds
	// it. Refused, and the whole family goes (RFC 9700 §4.14.2).
	afWantError(t, "reuse of the first refresh token", env.refresh(t, afWebID, p1.refresh, nil), 400, "invalid_grant", "already used")
	afWantError(t, "the newest refresh token after the reuse", env.refresh(t, afWebID, p3.refresh, nil), 400, "invalid_grant", "")
	for i, p := range []afPair{p1, p2, p3} {
		if env.active(t, p.access) {
			t.Errorf("access token %d still active after the family was revoked", i+1)
		}
	}
	if env.activeAs(t, afWebID, p3.refresh, "refresh_token") {
		t.Error("the newest refresh token introspects as active after the family was revoked")
	}
	// Another grant of the same user and client lives on.
	other := env.pair(t, afWebID, nil)
	afTokens(t, "refresh of an unrelated grant", env.refresh(t, afWebID, other.refresh, nil))
}

func TestRefreshScopeNarrowing(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	full := "orders:read orders:write profile"
	p := env.pair(t, afWebID, afSet("scope", full))
	if p.scope != full {
		t.Fatalf("granted %q, want %q", p.scope, full)
	}

	narrowed := afTokens(t, "narrowing refresh", env.refresh(t, afWebID, p.refresh, url.Values{"scope": {"orders:read"}}))
	if narrowed.scope != "orders:read" {
		t.Errorf("narrowed response scope %q, want orders:read", narrowed.scope)
	}
	if _, claims := afJWT(t, narrowed.access); claims["scope"] != "orders:read" {
		t.Errorf("narrowed access token scope %v, want orders:read", claims["scope"])
	}
	// The refresh token keeps the whole grant (RFC 6749 §6).
	back := afTokens(t, "refresh without scope", env.refresh(t, afWebID, narrowed.refresh, nil))
	if back.scope != full {
		t.Errorf("scope after a narrowed refresh %q, want the original %q", back.scope, full)
	}
	if _, claims := afJWT(t, back.access); claims["scope"] != full {
		t.Errorf("access token scope %v, want %q", claims["scope"], full)
	}

	// Widening is refused, and the refused request does not spend the
	// token.
	for _, wide := range []string{
		"orders:read admin",       // never the client's
		"market:id:xYZkjABcde",    // the client's, but not granted
		"orders:read market:id:*", // a pattern
	} {
		afWantError(t, "refresh with scope "+wide, env.refresh(t, afWebID, back.refresh, url.Values{"scope": {wide}}), 400, "invalid_scope", "")
	}
	afTokens(t, "refresh after refused widenings", env.refresh(t, afWebID, back.refresh, url.Values{"scope": {"profile orders:write"}}))
}

func TestRefreshAudienceNarrowing(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	both := env.pair(t, afWebID, afSet("audience", apiAudience+" "+qaAudience))
	if _, claims := afJWT(t, both.access); !slices.Equal(afAud(claims), []string{apiAudience, qaAudience}) {
		t.Fatalf("granted aud %q", afAud(claims))
	}
	qa := afTokens(t, "refresh for qa only", env.refresh(t, afWebID, both.refresh, url.Values{"audience": {qaAudience}}))
	if _, claims := afJWT(t, qa.access); !slices.Equal(afAud(claims), []string{qaAudience}) {
		t.Errorf("narrowed aud %q, want %q", afAud(claims), qaAudience)
	}
	again := afTokens(t, "refresh without audience", env.refresh(t, afWebID, qa.refresh, nil))
	if _, claims := afJWT(t, again.access); !slices.Equal(afAud(claims), []string{apiAudience, qaAudience}) {
		t.Errorf("aud after a narrowed refresh %q, want both", afAud(claims))
	}

	one := env.pair(t, afWebID, nil) // the default: the first audience only
	afWantError(t, "widening the audience", env.refresh(t, afWebID, one.refresh, url.Values{"audience": {qaAudience}}), 400, "invalid_target", "")
	afWantError(t, "an audience the client never had", env.refresh(t, afWebID, one.refresh, url.Values{"audience": {"https://evil.example.com"}}), 400, "invalid_target", "")
	afTokens(t, "refresh after refused widenings", env.refresh(t, afWebID, one.refresh, nil))
}

// A refresh token lives Config.RefreshTokenTTL (30 days by default) or
// the client's RefreshTokenTTL, from its issue; each rotation starts the
// lifetime again.
func TestRefreshExpiry(t *testing.T) {
	t.Parallel()
	if handler.DefaultRefreshTokenTTL != 30*24*time.Hour {
		t.Fatalf("DefaultRefreshTokenTTL = %v, want 30 days", handler.DefaultRefreshTokenTTL)
	}
	tests := []struct {
		name   string
		cfgTTL time.Duration // Config.RefreshTokenTTL
		client string
		ttl    time.Duration // the lifetime that must apply
	}{
		{"Config default", 0, afWebID, handler.DefaultRefreshTokenTTL},
		{"Config.RefreshTokenTTL", time.Hour, afWebID, time.Hour},
		{"client RefreshTokenTTL over the default", 0, afSPAID, afSPARefreshTTL},
		{"client RefreshTokenTTL over Config's", time.Hour, afSPAID, afSPARefreshTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := afServer(t, func(_ *afEnv, c *handler.Config) { c.RefreshTokenTTL = tt.cfgTTL })
			p := env.pair(t, tt.client, nil)
			if tt.client == afWebID {
				// The owner can see the expiry.
				res := env.introspect(t, afWebID, p.refresh, "refresh_token")
				if got, want := afNum(t, res.json, "exp"), env.clock.Now().Add(tt.ttl).Unix(); got != want {
					t.Errorf("introspected exp %d, want %d (now + %v)", got, want, tt.ttl)
				}
			}
			// Just before the end it refreshes, and the new token lives a
			// whole lifetime from now.
			env.clock.Advance(tt.ttl - time.Second)
			p = afTokens(t, "refresh just before expiry", env.refresh(t, tt.client, p.refresh, nil))
			env.clock.Advance(tt.ttl - time.Second)
			p = afTokens(t, "refresh of the rotated token just before its expiry", env.refresh(t, tt.client, p.refresh, nil))
			env.clock.Advance(tt.ttl)
			afWantError(t, "refresh at expiry", env.refresh(t, tt.client, p.refresh, nil), 400, "invalid_grant", "")
		})
	}
}

// A refresh token works only for the client it was issued to; another
// client's attempt does not spend it.
func TestRefreshOtherClient(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	p := env.pair(t, afWebID, nil)
	afWantError(t, "another confidential client", env.refresh(t, afOtherWebID, p.refresh, nil), 400, "invalid_grant", "")
	afWantError(t, "a public client", env.refresh(t, afSPAID, p.refresh, nil), 400, "invalid_grant", "")
	if !env.active(t, p.access) {
		t.Error("another client's attempt revoked the grant")
	}
	afTokens(t, "the owner afterwards", env.refresh(t, afWebID, p.refresh, nil))
}

func TestRefreshBadRequests(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	p := env.pair(t, afWebID, nil)
	tests := []struct {
		name   string
		client string
		form   url.Values
		status int
		code   string
	}{
		{"missing refresh_token", afWebID, url.Values{"grant_type": {afRefreshGrant}}, 400, "invalid_request"},
		{"unknown refresh token", afWebID, afRefreshForm("tgr_"+strings.Repeat("A", 43), nil), 400, "invalid_grant"},
		{"an access token as refresh token", afWebID, afRefreshForm(p.access, nil), 400, "invalid_grant"},
		{"refresh_token repeated", afWebID, url.Values{"grant_type": {afRefreshGrant}, "refresh_token": {p.refresh, p.refresh}}, 400, "invalid_request"},
		{"refresh_token with a trailing space", afWebID, afRefreshForm(p.refresh+" ", nil), 400, "invalid_request"},
		{"no client authentication", "", afRefreshForm(p.refresh, nil), 401, "invalid_client"},
		{"client without the refresh_token grant", afCodeOnlyID, afRefreshForm(p.refresh, nil), 400, "unauthorized_client"},
	}
	for _, tt := range tests {
		afWantError(t, tt.name, env.post(t, handler.TokenPath, tt.client, tt.form), tt.status, tt.code, "")
	}
	afTokens(t, "the token after the bad requests", env.refresh(t, afWebID, p.refresh, nil))
}

// A client that may not use refresh_token gets no refresh token.
func TestRefreshTokenOnlyForClientsWithTheGrant(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	res := env.redeemFresh(t, afCodeOnlyID, afWebRedirect)
	p := afTokens(t, "code-only client", res)
	if p.refresh != "" || strings.Contains(res.raw, "refresh_token") {
		t.Errorf("a client without refresh_token got one: %s", res.raw)
	}
	if env.active(t, p.access) != true {
		t.Error("its access token is inactive")
	}
}

func (e *afEnv) redeemFresh(t testing.TB, clientID, redirect string) afHTTP {
	t.Helper()
	code, verifier := e.code(t, clientID, redirect, afSet("scope", "orders:read"))
	return e.redeem(t, clientID, code, verifier, redirect)
}

// Of 32 concurrent uses of one refresh token exactly one succeeds; the
// others get invalid_grant, never a 500, and (each treated as a replay)
// revoke the family, the winner's new tokens included.
func TestRefreshConcurrentUse(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	for _, client := range []string{afWebID, afSPAID} {
		p := env.pair(t, client, nil)
		res := afParallel(t, 32, func() *http.Request {
			return env.postRequest(handler.TokenPath, client, afRefreshForm(p.refresh, nil))
		})
		if got := afCount(res); got["200 "] != 1 || got["400 invalid_grant"] != 31 {
			t.Errorf("%s: answers %v, want one 200 and 31 400 invalid_grant", client, got)
		}
		for _, r := range res {
			if r.status == 200 {
				afWantError(t, client+": the winner's refresh token", env.refresh(t, client, afTokens(t, "winner", r).refresh, nil), 400, "invalid_grant", "")
			}
		}
	}
}

// afRefreshBarrier holds every connection's first read of a refresh
// token's family until n connections have read it, so that all of them
// find the token live and only the atomic rotation can pick the winner.
type afRefreshBarrier struct {
	storage.TokenStore
	n       int
	mu      sync.Mutex
	seen    map[int64]bool
	arrived int
	all     chan struct{}
}

func (b *afRefreshBarrier) GetFamily(ctx context.Context, id string) (*storage.Family, error) {
	f, err := b.TokenStore.GetFamily(ctx, id)
	conn, _ := ctx.Value(afConnKey{}).(int64)
	b.mu.Lock()
	first := !b.seen[conn]
	if first {
		b.seen[conn] = true
		b.arrived++
		if b.arrived == b.n {
			close(b.all)
		}
	}
	b.mu.Unlock()
	if first {
		afWait(b.all)
	}
	return f, err
}

// The worst case of concurrent use: all 32 requests have found the token
// active before any rotates it.
func TestRefreshConcurrentUseAfterReads(t *testing.T) {
	t.Parallel()
	const n = 32
	var barrier *afRefreshBarrier
	env := afServer(t, func(env *afEnv, c *handler.Config) {
		barrier = &afRefreshBarrier{TokenStore: c.Tokens, n: n, seen: map[int64]bool{}, all: make(chan struct{})}
		c.Tokens = barrier
	})
	p := env.pair(t, afWebID, nil)
	res := afParallel(t, n, func() *http.Request {
		return env.postRequest(handler.TokenPath, afWebID, afRefreshForm(p.refresh, nil))
	})
	if got := afCount(res); got["200 "] != 1 || got["400 invalid_grant"] != n-1 {
		t.Errorf("answers %v, want one 200 and %d 400 invalid_grant", got, n-1)
	}
	barrier.mu.Lock()
	defer barrier.mu.Unlock()
	if barrier.arrived != n {
		t.Errorf("the barrier saw %d readers, want %d", barrier.arrived, n)
	}
}
