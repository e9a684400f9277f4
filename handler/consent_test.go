package handler_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// The consent step (issue 9 §2) through real HTTP: what Config.Consent
// sees, what its answers do to the code and the tokens, remembered
// consents, native apps, and RevokeConsent. Everything here is prefixed cs.

// csHook is a Config.Consent that records every request and answers with
// decide.
type csHook struct {
	mu     sync.Mutex
	seen   []handler.ConsentRequest
	decide func(w http.ResponseWriter, req handler.ConsentRequest) (handler.ConsentDecision, bool)
}

func (h *csHook) hook(w http.ResponseWriter, _ *http.Request, req handler.ConsentRequest) (handler.ConsentDecision, bool) {
	h.mu.Lock()
	h.seen = append(h.seen, req)
	h.mu.Unlock()
	return h.decide(w, req)
}

func (h *csHook) last(t *testing.T) handler.ConsentRequest {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.seen) == 0 {
		t.Fatal("the consent hook was not called")
	}
	return h.seen[len(h.seen)-1]
}

// csServer is an af server whose consent hook answers with decide.
func csServer(t *testing.T, decide func(http.ResponseWriter, handler.ConsentRequest) (handler.ConsentDecision, bool)) (*afEnv, *csHook) {
	h := &csHook{decide: decide}
	env := afServer(t, func(_ *afEnv, cfg *handler.Config) { cfg.Consent = h.hook })
	return env, h
}

// csApprove grants everything requested and remembers it.
func csApprove(_ http.ResponseWriter, req handler.ConsentRequest) (handler.ConsentDecision, bool) {
	return handler.ConsentDecision{Scopes: req.RequestedScopes, Remember: true}, true
}

func csScope(scopes string) func(url.Values) {
	return func(v url.Values) { v.Set("scope", scopes) }
}

func TestConsentHookSeesUserClientScopesAudience(t *testing.T) {
	t.Parallel()
	env, h := csServer(t, csApprove)
	env.pair(t, afWebID, func(v url.Values) {
		v.Set("scope", "orders:write orders:read")
		v.Set("audience", qaAudience)
	})
	want := handler.ConsentRequest{
		Subject:           afUser,
		Client:            handler.ConsentClient{ID: afWebID, RedirectURI: afWebRedirect},
		RequestedScopes:   []string{"orders:write", "orders:read"},
		RequestedAudience: []string{qaAudience},
	}
	if got := h.last(t); !reflect.DeepEqual(got, want) {
		t.Errorf("the hook saw\n%+v\nwant\n%+v", got, want)
	}

	// No scope named: the hook sees the client's defaults and first
	// audience, what the tokens would carry.
	env.pair(t, afWebID, func(v url.Values) { v.Del("scope") })
	got := h.last(t)
	if !slices.Equal(got.RequestedScopes, []string{"orders:read"}) || !slices.Equal(got.RequestedAudience, []string{apiAudience}) {
		t.Errorf("without scope and audience the hook saw %v, %v; want the defaults [orders:read], [%s]", got.RequestedScopes, got.RequestedAudience, apiAudience)
	}
}

// TestConsentFewerScopes: the code, the access token and every refreshed
// token carry only what the user granted.
func TestConsentFewerScopes(t *testing.T) {
	t.Parallel()
	env, _ := csServer(t, func(http.ResponseWriter, handler.ConsentRequest) (handler.ConsentDecision, bool) {
		return handler.ConsentDecision{Scopes: []string{"orders:read"}}, true
	})
	p := env.pair(t, afWebID, csScope("orders:read orders:write profile"))
	if p.scope != "orders:read" {
		t.Errorf("token response scope = %q, want orders:read", p.scope)
	}
	if _, claims := afJWT(t, p.access); claims["scope"] != "orders:read" {
		t.Errorf("access token scope claim = %v, want orders:read", claims["scope"])
	}
	r := afTokens(t, "refreshing", env.refresh(t, afWebID, p.refresh, nil))
	if r.scope != "orders:read" {
		t.Errorf("refreshed scope = %q, want orders:read", r.scope)
	}
	// Asking the refresh for a scope the user did not grant is refused.
	afWantError(t, "refreshing with an ungranted scope", env.refresh(t, afWebID, r.refresh, url.Values{"scope": {"orders:write"}}),
		http.StatusBadRequest, oautherr.CodeInvalidScope, "")
}

func TestConsentDenied(t *testing.T) {
	t.Parallel()
	env, _ := csServer(t, func(http.ResponseWriter, handler.ConsentRequest) (handler.ConsentDecision, bool) {
		return handler.ConsentDecision{Denied: true, Scopes: []string{"orders:read"}, Remember: true}, true
	})
	res := env.authorize(t, afAuthorizeParams(afWebID, afWebRedirect, afVerifier(t)))
	afWantRedirectError(t, "a denied request", res, afWebRedirect, "access_denied")
	if list, err := env.srv.Consents(t.Context(), afUser); err != nil || len(list) != 0 {
		t.Errorf("after a denial Consents = %v, %v; want none remembered", list, err)
	}
}

// TestConsentHookAnswersItself: ok false passes the hook's own answer (a
// consent page) through, and no code is issued.
func TestConsentHookAnswersItself(t *testing.T) {
	t.Parallel()
	env, _ := csServer(t, func(w http.ResponseWriter, req handler.ConsentRequest) (handler.ConsentDecision, bool) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("approve " + req.Client.ID + "?"))
		return handler.ConsentDecision{}, false
	})
	res := env.authorize(t, afAuthorizeParams(afWebID, afWebRedirect, afVerifier(t)))
	if res.status != http.StatusOK || string(res.raw) != "approve "+afWebID+"?" || res.header.Get("Location") != "" {
		t.Errorf("got %s; want the hook's page", res)
	}
}

// TestConsentScopeNotRequested: a hook granting more than was requested
// is a bug; the request fails with server_error at the redirect URI
// rather than grant it.
func TestConsentScopeNotRequested(t *testing.T) {
	t.Parallel()
	env, _ := csServer(t, func(http.ResponseWriter, handler.ConsentRequest) (handler.ConsentDecision, bool) {
		return handler.ConsentDecision{Scopes: []string{"orders:read", "orders:write"}}, true
	})
	res := env.authorize(t, afAuthorizeParams(afWebID, afWebRedirect, afVerifier(t)))
	afWantRedirectError(t, "a grant of an unrequested scope", res, afWebRedirect, "server_error")
	if !strings.Contains(env.log.String(), "not requested") {
		t.Errorf("the log does not name the hook's mistake:\n%s", env.log.String())
	}
}

// TestConsentRemembered: a remembered consent reaches the hook, Covered
// says whether it approves the request, and a request for more is not
// covered.
func TestConsentRemembered(t *testing.T) {
	t.Parallel()
	pages := 0
	env, h := csServer(t, func(_ http.ResponseWriter, req handler.ConsentRequest) (handler.ConsentDecision, bool) {
		if req.Covered() {
			return handler.ConsentDecision{Scopes: req.RequestedScopes}, true
		}
		pages++ // the user is asked, and approves
		return handler.ConsentDecision{Scopes: req.RequestedScopes, Remember: true}, true
	})
	env.pair(t, afWebID, csScope("orders:read profile"))
	if got := h.last(t); got.Remembered != nil {
		t.Fatalf("first request: Remembered = %+v, want nil", got.Remembered)
	}
	list, err := env.srv.Consents(t.Context(), afUser)
	if err != nil || len(list) != 1 || list[0].ClientID != afWebID || !slices.Equal(list[0].Scopes, []string{"orders:read", "profile"}) ||
		!slices.Equal(list[0].Audience, []string{apiAudience}) || !list[0].GrantedAt.Equal(env.clock.Now()) {
		t.Fatalf("Consents after a remembered approval = %+v, %v", list, err)
	}

	p := env.pair(t, afWebID, csScope("profile"))
	if got := h.last(t); got.Remembered == nil || !got.Covered() || pages != 1 {
		t.Errorf("a request within the remembered consent: Remembered %+v, Covered %v, pages %d; want covered, 1 page", got.Remembered, got.Covered(), pages)
	}
	if p.scope != "profile" {
		t.Errorf("scope = %q, want profile", p.scope)
	}
	env.pair(t, afWebID, csScope("orders:read orders:write"))
	if got := h.last(t); got.Covered() || pages != 2 {
		t.Errorf("a request for more: Covered %v, pages %d; want not covered, 2 pages", got.Covered(), pages)
	}
	env.pair(t, afWebID, func(v url.Values) { v.Set("scope", "orders:read"); v.Set("audience", qaAudience) })
	if got := h.last(t); got.Covered() {
		t.Errorf("a request for another audience was covered by %+v", got.Remembered)
	}
	// Another user, or another client, has nothing remembered.
	env.pair(t, afOtherWebID, nil)
	if got := h.last(t); got.Remembered != nil {
		t.Errorf("another client: Remembered = %+v, want nil", got.Remembered)
	}
}

// TestConsentAlwaysAskNative: a public client on a loopback redirect URI
// is asked every time, a remembered consent notwithstanding; a
// confidential client on the same kind of URI is not marked.
func TestConsentAlwaysAskNative(t *testing.T) {
	t.Parallel()
	env, h := csServer(t, csApprove)
	for i := range 2 {
		env.pair(t, afSPAID, nil)
		got := h.last(t)
		if !got.AlwaysAsk || got.Covered() || !got.Client.Public || got.Client.RedirectURI != afSPARedirect {
			t.Errorf("request %d of the native public client: AlwaysAsk %v, Covered %v, Client %+v; want asked every time", i+1, got.AlwaysAsk, got.Covered(), got.Client)
		}
		if i == 1 && got.Remembered == nil {
			t.Error("the second request did not carry the remembered consent")
		}
	}
	env.pair(t, afWebID, nil)
	env.pair(t, afWebID, nil)
	if got := h.last(t); got.AlwaysAsk || !got.Covered() {
		t.Errorf("a confidential web client: AlwaysAsk %v, Covered %v; want false, true", got.AlwaysAsk, got.Covered())
	}
}

// TestRevokeConsent: revoking a consent forgets it, refuses the refresh
// tokens of its grants (invalid_grant), puts their access tokens' grant on
// the revocation feed, and makes an unredeemed code useless; another
// client's grant lives on.
func TestRevokeConsent(t *testing.T) {
	t.Parallel()
	env, _ := csServer(t, csApprove)
	first := env.pair(t, afWebID, nil)
	second := env.pair(t, afWebID, nil)
	code, verifier := env.code(t, afWebID, afWebRedirect, nil)
	other := env.pair(t, afOtherWebID, nil)

	if err := env.srv.RevokeConsent(t.Context(), afUser, afWebID); err != nil {
		t.Fatalf("RevokeConsent: %v", err)
	}
	for _, p := range []afPair{first, second} {
		afWantError(t, "refreshing after the consent was revoked", env.refresh(t, afWebID, p.refresh, nil),
			http.StatusBadRequest, oautherr.CodeInvalidGrant, "")
		if env.active(t, p.access) {
			t.Error("an access token of the revoked consent is still active")
		}
	}
	afWantError(t, "redeeming a code issued before the revocation", env.redeem(t, afWebID, code, verifier, afWebRedirect),
		http.StatusBadRequest, oautherr.CodeInvalidGrant, "")

	feed := fdIDs(fdGet(t, env.ts.URL, ""))
	for _, p := range []afPair{first, second} {
		_, claims := afJWT(t, p.access)
		if g, _ := claims["grant_id"].(string); g == "" || !slices.Contains(feed, "grant:"+g) {
			t.Errorf("the feed %q lacks the grant %q of a revoked access token", feed, g)
		}
	}
	_, claims := afJWT(t, other.access)
	if slices.Contains(feed, "grant:"+claims["grant_id"].(string)) {
		t.Errorf("the feed %q holds another client's grant", feed)
	}
	afTokens(t, "refreshing another client's token", env.refresh(t, afOtherWebID, other.refresh, nil))
	if list, err := env.srv.Consents(t.Context(), afUser); err != nil || len(list) != 1 || list[0].ClientID != afOtherWebID {
		t.Errorf("Consents after revoking %s = %+v, %v; want only %s", afWebID, list, err, afOtherWebID)
	}
	// Revoking again, or a consent never given, is not an error.
	if err := env.srv.RevokeConsent(t.Context(), afUser, afWebID); err != nil {
		t.Errorf("RevokeConsent again: %v", err)
	}
}

func TestConsentConfig(t *testing.T) {
	t.Parallel()
	_, err := handler.New(handler.Config{Issuer: afIssuer, Clients: memory.New(), Consent: csApprove2})
	if err == nil || !strings.Contains(err.Error(), "Config.Consent: needs Config.Login") {
		t.Errorf("New with Consent and no Login: %v", err)
	}
}

func csApprove2(w http.ResponseWriter, _ *http.Request, req handler.ConsentRequest) (handler.ConsentDecision, bool) {
	return csApprove(w, req)
}

// csDownConsents is a consent store that cannot be reached.
type csDownConsents struct{ storage.ConsentStore }

func (csDownConsents) GetConsent(context.Context, string, string) (*storage.Consent, error) {
	return nil, fmt.Errorf("consents: %w", storage.ErrUnavailable)
}

// TestConsentStoreDown: a consent store that cannot answer fails the
// request with temporarily_unavailable at the redirect URI, never a 500,
// and the hook is not asked on a guess.
func TestConsentStoreDown(t *testing.T) {
	t.Parallel()
	h := &csHook{decide: csApprove}
	env := afServer(t, func(_ *afEnv, cfg *handler.Config) {
		cfg.Consent = h.hook
		cfg.Consents = csDownConsents{memory.New()}
	})
	res := env.authorize(t, afAuthorizeParams(afWebID, afWebRedirect, afVerifier(t)))
	afWantRedirectError(t, "consent store down", res, afWebRedirect, "temporarily_unavailable")
	if len(h.seen) != 0 {
		t.Errorf("the hook was asked %d times without the remembered consent", len(h.seen))
	}
}
