package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var csrfInput = regexp.MustCompile(`<input type="hidden" name="csrf_token" value="([^"]*)">`)

// logoutToken opens GET /logout in b and returns the sign-out form's
// CSRF token ("" when the page has no form: not signed in).
func logoutToken(t *testing.T, b *http.Client, base string) string {
	t.Helper()
	r := send(t, b, http.MethodGet, base+logoutPath, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /logout: %d", r.status)
	}
	m := csrfInput.FindStringSubmatch(r.body)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestLogout: POST /logout with the CSRF token ends the session: the
// browser is told to drop the cookie, and a copy of the cookie replayed
// later is refused (the server forgot the session). Without the token
// nothing happens. Other browsers of the same user stay signed in.
func TestLogout(t *testing.T) {
	t.Parallel()
	s := start(t, nil, "-config", userConfigYAML(t, ""))
	_, challenge := pkce(t)
	authURL := authorizeURL(s.url, "spa", "http://127.0.0.1:9/cb", "state-logout", challenge)
	base, _ := url.Parse(s.url)
	signedIn := func(t *testing.T, c *http.Client, cookies ...*http.Cookie) bool {
		t.Helper()
		r := send(t, c, http.MethodGet, authURL, nil, cookies...)
		if isConsentPage(r) { // only a signed-in user is asked
			return true
		}
		loc := r.location(t, s.url)
		return loc.Path != loginPath
	}

	b, other := browser(t), browser(t)
	signIn(t, b, s.url, authURL, "alice", "alice-password")
	signIn(t, other, s.url, authURL, "alice", "alice-password")
	var copied *http.Cookie
	for _, c := range b.Jar.Cookies(base) {
		if c.Name == sessionCookie {
			copied = c
		}
	}
	if copied == nil || !signedIn(t, b) {
		t.Fatal("no session after signing in")
	}
	token := logoutToken(t, b, s.url)
	if token == "" {
		t.Fatal("GET /logout while signed in shows no sign-out form")
	}

	// Refused: the session goes on.
	otherToken := logoutToken(t, other, s.url)
	for _, tc := range []struct {
		name string
		form url.Values
	}{
		{"no token", url.Values{}},
		{"empty token", url.Values{csrfField: {""}}},
		{"tampered token", url.Values{csrfField: {flip(token)}}},
		{"another browser's token", url.Values{csrfField: {otherToken}}},
	} {
		r := send(t, b, http.MethodPost, s.url+logoutPath, tc.form)
		if r.status != http.StatusForbidden || r.setCookie(sessionCookie) != nil {
			t.Errorf("%s: POST /logout %d, cookies %v; want 403 and the cookie left alone", tc.name, r.status, r.set)
		}
		if !signedIn(t, b) {
			t.Fatalf("%s: a refused sign-out signed the browser out", tc.name)
		}
	}
	// GET never signs out.
	send(t, b, http.MethodGet, s.url+logoutPath+"?"+url.Values{csrfField: {token}}.Encode(), nil)
	if !signedIn(t, b) {
		t.Fatal("GET /logout signed the browser out")
	}

	r := send(t, b, http.MethodPost, s.url+logoutPath, url.Values{csrfField: {token}})
	dropped := r.setCookie(sessionCookie)
	if r.status != http.StatusOK || !strings.Contains(r.body, "signed out") || dropped == nil || dropped.MaxAge >= 0 || dropped.Path != "/" {
		t.Fatalf("POST /logout: %d, session cookie %v; want 200 and the cookie expired", r.status, dropped)
	}
	if signedIn(t, b) {
		t.Error("the browser is still signed in after signing out")
	}
	plain := &http.Client{CheckRedirect: b.CheckRedirect} // no jar: the copy by hand
	if signedIn(t, plain, copied) {
		t.Error("the session cookie, replayed after signing out, still signs in")
	}
	if logoutToken(t, b, s.url) != "" {
		t.Error("GET /logout after signing out still offers a sign-out form")
	}
	if !signedIn(t, other) {
		t.Error("signing out in one browser signed the user's other browser out")
	}
	// Signing out again is harmless.
	if r := send(t, b, http.MethodPost, s.url+logoutPath, url.Values{csrfField: {token}}); r.status != http.StatusOK {
		t.Errorf("second sign-out: %d, want 200", r.status)
	}
}

// TestSignedInPageSignsOut: the page shown after signing in with nowhere
// to go back to has a working sign-out button.
func TestSignedInPageSignsOut(t *testing.T) {
	t.Parallel()
	s := start(t, nil, "-config", userConfigYAML(t, ""))
	b := browser(t)
	form := openLoginForm(t, b, s.url, "")
	form.Set("username", "bob")
	form.Set("password", "bob-password")
	r := send(t, b, http.MethodPost, s.url+loginPath, form)
	m := csrfInput.FindAllStringSubmatch(r.body, -1)
	if r.status != http.StatusOK || len(m) != 1 || !strings.Contains(r.body, `action="/logout"`) {
		t.Fatalf("signed-in page: %d, want one form, to /logout: %.500q", r.status, r.body)
	}
	r = send(t, b, http.MethodPost, s.url+logoutPath, url.Values{csrfField: {m[0][1]}})
	if r.status != http.StatusOK || r.setCookie(sessionCookie) == nil {
		t.Errorf("sign-out from the signed-in page: %d, cookies %v", r.status, r.set)
	}
	if logoutToken(t, b, s.url) != "" {
		t.Error("still signed in")
	}
}
