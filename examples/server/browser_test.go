package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/tollgate-oauth/tollgate/handler"
)

// browserConfig is the demo with one user and one third-party web app
// (a secret, not first_party: it gets the consent page) whose redirect URI
// is the demo's own callback page at addr.
func browserConfig(t *testing.T, addr string) string {
	return writeConfig(t, t.TempDir(), fmt.Sprintf(`
listen: %[1]s
issuer: http://%[1]s
storage: memory
keys: [{kid: k1, alg: ES256}]
users:
  - {username: alice, password: alice-password}
clients:
  - id: web-shop
    secret: web-shop-secret-value
    grant_types: [authorization_code]
    scopes: [orders:read, orders:write]
    audiences: [https://api.example.com]
    redirect_uris: [http://%[1]s/callback]
`, addr))
}

// TestBrowserSignIn walks the demo's sign-in in headless Chromium, against
// the demo running as its own process: the authorization URL sends the
// browser to the login form; a wrong password is refused on the page; a
// form whose CSRF token was removed or altered, or whose CSRF cookie is
// gone, is refused even with the right password; the right one leads to
// the consent page, where the user unticks a scope and allows; the
// callback page shows the code, which the test redeems with the PKCE
// verifier. Along the way it reads what the browser stored (cookie flags)
// and what it reported: any console message, exception, log entry or
// DevTools issue (a CSP violation, a refused cookie) fails the test,
// except those it provokes (an error status, a probe showing the CSP is
// enforced).
func TestBrowserSignIn(t *testing.T) {
	t.Parallel()
	h := startHeadless(t)
	addr := freeAddr(t)
	base := "http://" + addr
	if got := startProcess(t, []string{"TOLLGATE_RUN_MAIN=-config " + browserConfig(t, addr)}); got != base {
		t.Fatalf("demo started at %q, want %q", got, base)
	}
	const client, secret = "web-shop", "web-shop-secret-value"
	redirect := base + callbackPath
	verifier, challenge := pkce(t)
	state := rand.Text()
	authURL := withScope(authorizeURL(base, client, redirect, state, challenge), "orders:read orders:write")

	// The authorization request: not signed in, so the login form.
	if status := get(h, "opening the authorization URL", chromedp.NavigateResponse(authURL)).Status; status != http.StatusOK {
		t.Fatalf("authorization URL: the browser ended on status %d, want 200 (the login page)", status)
	}
	loginURL := h.location()
	if want, _ := url.Parse(authURL); loginURL.Path != loginPath || loginURL.Query().Get(returnToField) != want.RequestURI() {
		t.Fatalf("the authorization URL led to %s, want %s?return_to=<the authorization request>", loginURL, loginPath)
	}
	h.snapshot("login")
	h.wantLoginForm("")
	h.noReports("the login page")
	h.probeCSP(base)
	cookies := h.cookies(base)
	wantCookie(t, cookies, csrfCookie)
	if c, ok := cookies[sessionCookie]; ok {
		t.Errorf("a %s cookie before signing in", c.Name)
	}
	// HttpOnly as the browser enforces it: script on the page sees none.
	if got := get(h, "reading document.cookie", chromedp.Evaluate[string](`document.cookie`)); got != "" {
		t.Errorf("document.cookie = %q, want empty: the cookies must be HttpOnly", got)
	}
	// Reading document.cookie is a performance issue to Chromium.
	h.expect(report{kind: "issue", level: "PerformanceIssue", text: `"performanceIssueType":"DocumentCookie"`})

	// A wrong password: refused on the page, the username kept.
	h.expect(refusal(base, http.StatusUnauthorized))
	status := h.submitLogin("posting a wrong password", "alice", "wrong-password")
	h.snapshot("wrong-password")
	if status != http.StatusUnauthorized {
		t.Errorf("wrong password: status %d, want 401", status)
	}
	if got := h.text(`p.error`); got != "Wrong username or password." {
		t.Errorf("wrong password: the page says %q", got)
	}
	h.wantLoginForm("alice")
	h.noReports("the wrong-password page")
	if c, ok := h.cookies(base)[sessionCookie]; ok {
		t.Errorf("a %s cookie after a wrong password", c.Name)
	}

	// The CSRF token is required: the right password on a tampered form
	// is refused, and nobody is signed in.
	for _, tc := range []struct {
		name   string
		tamper chromedp.Action[chromedp.Void]
	}{
		{"csrf-field-removed", chromedp.Evaluate[chromedp.Void](`document.querySelector('input[name=csrf_token]').remove()`)},
		{"csrf-field-altered", chromedp.Evaluate[chromedp.Void](`(f => { f.value = 'A' + f.value })(document.querySelector('input[name=csrf_token]'))`)},
		// The field intact, its cookie gone: the token alone proves nothing.
		{"csrf-cookie-deleted", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.DeleteCookies, network.DeleteCookiesParams{Name: csrfCookie, URL: base + "/"})
			return err
		})},
	} {
		h.do("opening the login page", chromedp.Navigate(loginURL.String()))
		h.expect(refusal(base, http.StatusForbidden))
		status := h.submitLogin(tc.name, "alice", "alice-password", tc.tamper)
		h.snapshot(tc.name)
		if status != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tc.name, status)
		}
		if got := h.text(`p.error`); !strings.HasPrefix(got, "This form expired or was not sent from this server's page.") {
			t.Errorf("%s: the page says %q", tc.name, got)
		}
		h.noReports(tc.name)
		if c, ok := h.cookies(base)[sessionCookie]; ok {
			t.Fatalf("%s: signed in anyway: the browser holds a %s cookie", tc.name, c.Name)
		}
	}

	// The right password: signed in, back at the authorization request,
	// which asks for consent (web-shop is not first-party).
	h.do("opening the login page", chromedp.Navigate(loginURL.String()))
	status = h.submitLogin("signing in", "alice", "alice-password")
	h.snapshot("consent")
	if status != http.StatusOK || h.location().Path != handler.AuthorizePath {
		t.Fatalf("after signing in: status %d at %s, want 200 at the authorization endpoint (the consent page)", status, h.location())
	}
	h.wantConsentPage(client, "alice", redirect, []string{"orders:read", "orders:write"}, "https://api.example.com")
	h.noReports("the consent page")
	cookies = h.cookies(base)
	wantCookie(t, cookies, sessionCookie)
	wantCookie(t, cookies, csrfCookie)

	// Untick orders:write, allow: the callback page shows the code.
	status = h.load("allowing",
		chromedp.Click(chromedp.CSS(`input[name=scope][value="orders:write"]`)),
		chromedp.Click(chromedp.CSS(`button[value=allow]`)))
	h.snapshot("callback")
	back := h.location()
	if status != http.StatusOK || back.Path != callbackPath {
		t.Fatalf("after allowing: status %d at %s, want 200 at %s", status, back, redirect)
	}
	q := back.Query()
	if title := get(h, "reading the title", chromedp.Title()); title != "tollgate demo: Authorization code received" {
		t.Errorf("callback page title %q", title)
	}
	code := h.text(`#code`)
	if code == "" || code != q.Get("code") || h.text(`#state`) != state || q.Get("state") != state || q.Get("iss") != base {
		t.Errorf("callback page shows code %q, state %q; the redirect carried %v; want its code, state %q and iss %s",
			code, h.text(`#state`), q, state, base)
	}
	h.noReports("the callback page")
	h.finish()

	// The client redeems the code with the verifier: a token for alice,
	// with the one scope she left ticked.
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
	tok := tokenRequest(t, base, form, client, secret)
	if tok.Status != http.StatusOK || tok.AccessToken == "" || tok.Scope != "orders:read" {
		t.Fatalf("redeeming the code: %d %+v, want 200 with scope orders:read", tok.Status, tok)
	}
	if c := claimsOf(t, tok.AccessToken); c["sub"] != "alice" || c["client_id"] != client {
		t.Errorf("access token claims %v, want sub alice and client_id %s", c, client)
	}
	if again := tokenRequest(t, base, form, client, secret); again.Status != http.StatusBadRequest || again.Error != "invalid_grant" {
		t.Errorf("the code redeemed twice: %d %q, want 400 invalid_grant", again.Status, again.Error)
	}
}
