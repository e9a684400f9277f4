package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// What TestBrowserSignIn reads in the demo's pages, and does on them.

// submitLogin types user and password into the login form on the page,
// runs tamper, and submits; it returns the status of the page that
// follows.
func (h *headless) submitLogin(what, user, password string, tamper ...chromedp.Action[chromedp.Void]) int64 {
	h.t.Helper()
	steps := append([]chromedp.Action[chromedp.Void]{
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), user),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
	}, tamper...)
	return h.load(what, append(steps, chromedp.Click(chromedp.CSS(`button[type=submit]`)))...)
}

// probeCSP has the page load an image from its own origin, which the
// demo's CSP (default-src 'none') forbids. The browser must block it and
// say so: the policy is in force, not merely sent, and the reports the
// test fails on do reach it.
func (h *headless) probeCSP(base string) {
	h.t.Helper()
	probe := base + "/csp-probe.png"
	blocked := report{kind: "log", level: "error", source: "security", text: "Loading the image '" + probe + "' violates"}
	h.expect(blocked)
	h.expect(report{kind: "issue", level: "ContentSecurityPolicyIssue", text: `"blockedURL":"` + probe + `"`})
	ctx, cancel := context.WithTimeout(h.ctx, stepTimeout)
	defer cancel()
	entries := chromedp.Events(ctx, log.EntryAdded) // before the probe: none is missed
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](
		`document.body.append(Object.assign(document.createElement('img'), {src: '/csp-probe.png'}))`)); err != nil {
		h.t.Fatalf("adding the CSP probe: %v", err)
	}
	for ev, err := range entries {
		if err != nil {
			h.t.Fatalf("the browser did not block an image the CSP forbids (%v): is the policy in force?", err)
		}
		if logReport(ev.Entry).matches(blocked) {
			break
		}
	}
	h.noReports("the CSP probe")
	if h.stillExpected(blocked) {
		h.t.Errorf("the CSP probe was blocked, but the test's listener did not see it")
	}
}

// location is the URL the browser is on.
func (h *headless) location() *url.URL {
	h.t.Helper()
	s := get(h, "reading the location", chromedp.Location())
	u, err := url.Parse(s)
	if err != nil {
		h.t.Fatalf("location %q: %v", s, err)
	}
	return u
}

// text is the text of the first element matching css, or "" if there is
// none (so a missing element reads as a wrong text, not as a timeout).
func (h *headless) text(css string) string {
	h.t.Helper()
	return get(h, "reading "+css, chromedp.Evaluate[string](
		fmt.Sprintf(`(e => e ? e.textContent.trim() : "")(document.querySelector(%q))`, css)))
}

// loginFields is what the login form offers, read in the page.
type loginFields struct {
	Title    string `json:"title"`
	Username string `json:"username"`
	Password string `json:"password"` // its type
	Filled   string `json:"filled"`   // its value
	CSRF     bool   `json:"csrf"`     // a non-empty hidden token
	ReturnTo bool   `json:"returnTo"` // a hidden return_to
}

// wantLoginForm checks the page is the login form, username prefilled
// with username and the password empty.
func (h *headless) wantLoginForm(username string) {
	h.t.Helper()
	got := get(h, "reading the login form", chromedp.Evaluate[loginFields](`(() => {
		const f = document.querySelector('form[action="/login"]');
		const field = n => f && f.querySelector('input[name=' + n + ']');
		return {
			title: document.title,
			username: field('username') ? field('username').value : '<none>',
			password: field('password') ? field('password').type : '<none>',
			filled: field('password') ? field('password').value : '',
			csrf: !!field('csrf_token') && field('csrf_token').type === 'hidden' && field('csrf_token').value !== '',
			returnTo: !!field('return_to') && field('return_to').type === 'hidden',
		};
	})()`))
	want := loginFields{Title: "tollgate demo: Sign in", Username: username, Password: "password", CSRF: true, ReturnTo: true}
	if got != want {
		h.t.Errorf("login form: %+v, want %+v", got, want)
	}
}

// consentView is what the consent page shows, read in the page.
type consentView struct {
	Title    string   `json:"title"`
	Intro    string   `json:"intro"`
	Scopes   []string `json:"scopes"`   // the ticked boxes' values
	Unticked []string `json:"unticked"` // the others'
	Audience string   `json:"audience"`
	Warning  string   `json:"warning"` // the native-app warning, if any
	Buttons  []string `json:"buttons"`
}

func (h *headless) wantConsentPage(client, user, redirect string, scopes []string, audience string) {
	h.t.Helper()
	got := get(h, "reading the consent page", chromedp.Evaluate[consentView](`(() => {
		const all = s => [...document.querySelectorAll(s)];
		const f = document.querySelector('form[action="/consent"]');
		const audience = all('p').find(p => p.textContent.startsWith('For use at:'));
		const warning = document.querySelector('p.error');
		return {
			title: document.title,
			intro: document.querySelector('h1 + p') ? document.querySelector('h1 + p').textContent.replace(/\s+/g, ' ').trim() : '',
			scopes: all('input[name=scope]').filter(i => i.checked).map(i => i.value),
			unticked: all('input[name=scope]').filter(i => !i.checked).map(i => i.value),
			audience: audience ? audience.textContent.trim() : '',
			warning: warning ? warning.textContent.trim() : '',
			buttons: f ? [...f.querySelectorAll('button')].map(b => b.value + ':' + b.textContent) : [],
		};
	})()`))
	want := consentView{
		Title:    "tollgate demo: Allow " + client + "?",
		Intro:    client + " asks to act for you, " + user + ". It will receive the answer at " + redirect + ".",
		Scopes:   scopes,
		Unticked: []string{},
		Audience: "For use at: " + audience,
		Buttons:  []string{"allow:Allow", "deny:Deny"},
	}
	if got.Title != want.Title || got.Intro != want.Intro || !slices.Equal(got.Scopes, want.Scopes) ||
		len(got.Unticked) != 0 || got.Audience != want.Audience || got.Warning != "" || !slices.Equal(got.Buttons, want.Buttons) {
		h.t.Errorf("consent page:\n got %+v\nwant %+v", got, want)
	}
}

// wantCookie checks a cookie as the browser stored it: HttpOnly, SameSite
// Lax, Path /, and not Secure: the issuer is http://127.0.0.1, and the
// demo marks its cookies Secure only for an https issuer (a Secure cookie
// set over http is dropped by browsers that do not treat loopback as
// secure).
func wantCookie(t *testing.T, cookies map[string]*network.Cookie, name string) {
	t.Helper()
	c, ok := cookies[name]
	switch {
	case !ok:
		t.Errorf("the browser holds no %s cookie; it holds %v", name, slices.Sorted(maps.Keys(cookies)))
	case !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/" || c.Secure || c.Session:
		t.Errorf("cookie %s: HttpOnly %v, SameSite %q, Path %q, Secure %v, session-only %v; want HttpOnly, Lax, /, not Secure, with an expiry",
			name, c.HTTPOnly, c.SameSite, c.Path, c.Secure, c.Session)
	}
}

// refusal is the browser's log line for a page the demo answered at
// /login with status: an error to Chromium, expected where the test
// provokes it.
func refusal(base string, status int) report {
	return report{kind: "log", level: "error", source: "network", url: base + loginPath,
		text: fmt.Sprintf("Failed to load resource: the server responded with a status of %d (%s)", status, http.StatusText(status))}
}
