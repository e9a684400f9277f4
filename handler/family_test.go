package handler_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// Refresh-token families (issue 14.1, PLAN decisions 1, 2 and 5) through
// real HTTP: what the tokens name, what a forged token can do (nothing),
// and the refresh and revocation edges of issue 9.6. Everything here is
// prefixed fm.

// TestFamilyGrantID: every access token of a grant family names it in
// grant_id (so revoking the family revokes it with no record per token),
// and the family's refresh tokens name it and their generation;
// client_credentials tokens, and extension grants that issue no refresh
// token, name none.
func TestFamilyGrantID(t *testing.T) {
	t.Parallel()
	env := afServer(t, func(_ *afEnv, c *handler.Config) { c.Grants = []handler.Grant{afUserGrantDef(nil)} })

	code := env.pair(t, afWebID, nil)
	family := fdClaim(t, code.access, "grant_id")
	if family == "" {
		t.Fatalf("an authorization_code access token has no grant_id: %v", code.access)
	}
	chain := []afPair{code}
	for i := range 3 {
		chain = append(chain, afTokens(t, "refresh", env.refresh(t, afWebID, chain[i].refresh, nil)))
	}
	for gen, p := range chain {
		if got := fdClaim(t, p.access, "grant_id"); got != family {
			t.Errorf("access token %d: grant_id %q, want the family's %q", gen+1, got, family)
		}
		prefix := "tgr_" + family + "." + string(rune('1'+gen)) + "."
		if !strings.HasPrefix(p.refresh, prefix) || len(p.refresh) != len(prefix)+43 {
			t.Errorf("refresh token %d = %q, want %s<43-character MAC>", gen+1, p.refresh, prefix)
		}
	}
	if other := env.pair(t, afWebID, nil); fdClaim(t, other.access, "grant_id") == family {
		t.Error("two grants share a grant_id")
	}

	ext := afTokens(t, "extension grant with a refresh token", env.post(t, handler.TokenPath, afTrustedID,
		url.Values{"grant_type": {afUserGrant}, "user_id": {"bob"}}))
	if id := fdClaim(t, ext.access, "grant_id"); id == "" || !strings.HasPrefix(ext.refresh, "tgr_"+id+".1.") {
		t.Errorf("extension grant: grant_id %q, refresh token %q; want a family and its first generation", id, ext.refresh)
	}
	for what, res := range map[string]afHTTP{
		"client_credentials": env.post(t, handler.TokenPath, integrationID, url.Values{"grant_type": {"client_credentials"}}),
		"extension grant without a refresh token": env.post(t, handler.TokenPath, afTrustedNoRefreshID,
			url.Values{"grant_type": {afUserGrant}, "user_id": {"bob"}}),
	} {
		p := afTokens(t, what, res)
		if _, claims := afJWT(t, p.access); claims["grant_id"] != nil {
			t.Errorf("%s: grant_id %v, want none", what, claims["grant_id"])
		}
	}
}

// TestFamilyForgedToken: a refresh token whose MAC does not verify is
// invalid_grant at the token endpoint, inactive at introspection and a
// no-op at revocation. It never touches the family: the real token still
// works afterwards.
func TestFamilyForgedToken(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	p := env.pair(t, afWebID, nil)
	family := fdClaim(t, p.access, "grant_id")
	mac := p.refresh[strings.LastIndexByte(p.refresh, '.')+1:]
	flipped := []byte(mac)
	flipped[10] ^= 'A' ^ 'B'
	forged := map[string]string{
		"MAC changed":               "tgr_" + family + ".1." + string(flipped),
		"generation moved on":       "tgr_" + family + ".2." + mac,
		"earlier generation forged": "tgr_" + family + ".1." + strings.Repeat("A", 43),
		"another family":            "tgr_" + strings.Replace(family, family[:1], "x", 1) + ".1." + mac,
	}
	for name, tok := range forged {
		afWantError(t, name, env.refresh(t, afWebID, tok, nil), 400, "invalid_grant", "invalid")
		if env.activeAs(t, afWebID, tok, "refresh_token") {
			t.Errorf("%s: introspects as active", name)
		}
		afWantStatus(t, name+": revoke", env.revoke(t, afWebID, tok, ""), 200)
	}
	if !env.active(t, p.access) {
		t.Fatal("forged refresh tokens revoked the family")
	}
	afTokens(t, "the real token after the forgeries", env.refresh(t, afWebID, p.refresh, nil))
	if got := fdGet(t, env.ts.URL, ""); len(got.Revoked) != 0 {
		t.Errorf("forged tokens reached the revocation feed: %+v", got.Revoked)
	}
}

// TestFamilyRaceLoserRevokes: of concurrent uses of one refresh token
// exactly one rotates it; every other is treated as a replay, so the
// family is revoked, the winner's new tokens with it (PLAN decision 5).
func TestFamilyRaceLoserRevokes(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	p := env.pair(t, afWebID, nil)
	res := afParallel(t, 8, func() *http.Request {
		return env.postRequest(handler.TokenPath, afWebID, afRefreshForm(p.refresh, nil))
	})
	var winner afPair
	for _, r := range res {
		if r.status == 200 {
			winner = afTokens(t, "the winner", r)
		} else {
			afWantError(t, "a loser", r, 400, "invalid_grant", "every token of its grant is now revoked")
		}
	}
	if winner.refresh == "" {
		t.Fatalf("no winner among %v", afCount(res))
	}
	afWantError(t, "the winner's refresh token", env.refresh(t, afWebID, winner.refresh, nil), 400, "invalid_grant", "revoked")
	for what, tok := range map[string]string{"the first access token": p.access, "the winner's access token": winner.access} {
		if env.active(t, tok) {
			t.Errorf("%s is active after the race", what)
		}
	}
}

// TestFamilyRefreshChecksCurrentAudiences: a refresh grants only
// audiences the client still has (issue 9.6), as it does for scopes; the
// refused request does not spend the token.
func TestFamilyRefreshChecksCurrentAudiences(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	p := env.pair(t, afWebID, afSet("audience", apiAudience+" "+qaAudience))
	c, err := env.store.GetClient(context.Background(), afWebID)
	if err != nil {
		t.Fatal(err)
	}
	c.Audiences = []string{apiAudience}
	if err := env.store.UpdateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	afWantError(t, "refresh keeping an audience the client lost", env.refresh(t, afWebID, p.refresh, nil), 400, "invalid_target", "no longer allowed")
	afWantError(t, "refresh naming it", env.refresh(t, afWebID, p.refresh, url.Values{"audience": {qaAudience}}), 400, "invalid_target", "no longer allowed")
	narrowed := afTokens(t, "refresh narrowed to the audience kept", env.refresh(t, afWebID, p.refresh, url.Values{"audience": {apiAudience}}))
	if _, claims := afJWT(t, narrowed.access); !slices.Equal(afAud(claims), []string{apiAudience}) {
		t.Errorf("aud %q, want only %q", afAud(claims), apiAudience)
	}
}

// TestFamilyRevocationOutlivesShortenedLifetime (issue 9.6): a grant is
// revoked after its client's token lifetimes were shortened. The
// revocation must last as long as the tokens issued under the old,
// longer lifetimes: a purge after the new lifetime has passed must not
// bring the old access token or the refresh token back. On the memory
// store and on SQLite.
func TestFamilyRevocationOutlivesShortenedLifetime(t *testing.T) {
	for _, backend := range []string{"memory", "SQLite"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			var tokens storage.TokenStore
			env := afServer(t, func(_ *afEnv, c *handler.Config) {
				c.AccessTokenTTL = time.Minute // the server's default is short; the client's was long
				if backend == "SQLite" {
					s, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "t.db"), sqlstore.Options{})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { s.Close() })
					c.Tokens = s
				}
				tokens = c.Tokens
			})
			ctx := context.Background()
			setTTLs := func(access, refresh time.Duration) {
				c, err := env.store.GetClient(ctx, afWebID)
				if err != nil {
					t.Fatal(err)
				}
				c.AccessTokenTTL, c.RefreshTokenTTL = access, refresh
				if err := env.store.UpdateClient(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			setTTLs(time.Hour, 24*time.Hour)
			p := env.pair(t, afWebID, nil) // access token until now+1h
			p = afTokens(t, "a rotation", env.refresh(t, afWebID, p.refresh, nil))

			setTTLs(time.Minute, 2*time.Minute)
			afWantStatus(t, "revoking the grant", env.revoke(t, afWebID, p.refresh, ""), 200)
			if env.active(t, p.access) {
				t.Fatal("the access token is active right after the revocation")
			}

			// Past the new lifetimes, well before the old access token expires;
			// the store is purged as the server would.
			env.clock.Advance(10 * time.Minute)
			if _, err := tokens.DeleteExpired(ctx, env.clock.Now(), 1000); err != nil {
				t.Fatal(err)
			}
			if env.active(t, p.access) {
				t.Error("the revoked access token came back once the shortened lifetime had passed")
			}
			afWantError(t, "the revoked refresh token after the purge", env.refresh(t, afWebID, p.refresh, nil), 400, "invalid_grant", "")
			_, claims := afJWT(t, p.access)
			feed := fdGet(t, env.ts.URL, "")
			if len(feed.Revoked) != 1 || feed.Revoked[0].GrantID != fdClaim(t, p.access, "grant_id") || feed.Revoked[0].Exp < afNum(t, claims, "exp") {
				t.Errorf("the feed = %+v, want the grant until at least %d", feed.Revoked, afNum(t, claims, "exp"))
			}
		})
	}
}
