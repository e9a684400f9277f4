package main

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The demo's consent page and /consents (issue 9 §2) through real HTTP,
// driven as a browser would.

var (
	consentHidden = regexp.MustCompile(`<input type="hidden" name="(csrf_token|ticket)" value="([^"]*)">`)
	consentScope  = regexp.MustCompile(`<input type="checkbox" name="scope" value="([^"]*)" checked>`)
)

// consentFields reads the consent form in body: its hidden fields and the
// scopes offered.
func consentFields(t *testing.T, body string) (form url.Values, scopes []string) {
	t.Helper()
	form = url.Values{}
	for _, m := range consentHidden.FindAllStringSubmatch(body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get(csrfField) == "" || form.Get(ticketField) == "" {
		t.Fatalf("no consent form in %.500q", body)
	}
	for _, m := range consentScope.FindAllStringSubmatch(body, -1) {
		scopes = append(scopes, html.UnescapeString(m[1]))
	}
	return form, scopes
}

// answerConsent submits the consent page in body with action (allow or
// deny) and scopes (nil: all offered), remember on, and follows the
// redirect back to the authorization endpoint: it returns the endpoint's
// answer.
func answerConsent(t *testing.T, b *http.Client, base, body, action string, scopes []string) reply {
	t.Helper()
	form, offered := consentFields(t, body)
	if scopes == nil {
		scopes = offered
	}
	form["scope"] = scopes
	form.Set("action", action)
	form.Set("remember", "on")
	r := send(t, b, http.MethodPost, base+consentPath, form)
	if r.status != http.StatusSeeOther {
		t.Fatalf("POST /consent: %d, want 303; body %.300q", r.status, r.body)
	}
	return send(t, b, http.MethodGet, r.location(t, base).String(), nil)
}

// consentConfigYAML: webapp is third-party, first is first-party, spa is
// a first-party public app on loopback (a native app: asked anyway).
func consentConfigYAML(t *testing.T) string {
	return writeConfig(t, t.TempDir(), `
listen: 127.0.0.1:0
keys: [{kid: k1, alg: EdDSA}]
users:
  - {username: alice, password: alice-password}
clients:
  - id: webapp
    secret: webapp-secret-value
    grant_types: [authorization_code, refresh_token]
    scopes: [orders:read, orders:write]
    default_scopes: [orders:read]
    audiences: [https://api.example.com]
    redirect_uris: [https://app.example.com/cb]
  - id: first
    secret: first-secret-value
    first_party: true
    grant_types: [authorization_code, refresh_token]
    audiences: [https://api.example.com]
    redirect_uris: [https://first.example.com/cb]
  - id: spa
    public: true
    first_party: true
    grant_types: [authorization_code, refresh_token]
    audiences: [https://api.example.com]
    redirect_uris: [http://127.0.0.1:9/cb]
`)
}

// consentServer starts the demo on consentConfigYAML and returns it, a
// browser and a PKCE challenge.
func consentServer(t *testing.T) (s *server, b *http.Client, challenge string) {
	t.Helper()
	_, challenge = pkce(t)
	return start(t, nil, "-config", consentConfigYAML(t)), browser(t), challenge
}

func withScope(u, scope string) string { return u + "&" + url.Values{"scope": {scope}}.Encode() }

// consentStart signs alice in through an authorization request and
// returns the endpoint's answer once signed in (a consent page, or the
// redirect to the client).
func consentStart(t *testing.T, b *http.Client, base, authURL string) reply {
	t.Helper()
	r := send(t, b, http.MethodGet, authURL, nil)
	if r.status == http.StatusFound && r.location(t, base).Path == loginPath {
		page := send(t, b, http.MethodGet, r.location(t, base).String(), nil)
		form := hidden(t, page.body)
		form.Set("username", "alice")
		form.Set("password", "alice-password")
		if r = send(t, b, http.MethodPost, base+loginPath, form); r.status != http.StatusSeeOther {
			t.Fatalf("POST /login: %d", r.status)
		}
		r = send(t, b, http.MethodGet, r.location(t, base).String(), nil)
	}
	return r
}

func isConsentPage(r reply) bool {
	return r.status == http.StatusOK && strings.Contains(r.body, `action="/consent"`)
}

// TestConsentPage: a third-party client gets the page, listing client,
// scopes and audience; fewer scopes granted give a token with fewer; the
// remembered consent skips the page next time; a first-party client never
// sees it; a native public client always does.
func TestConsentPage(t *testing.T) {
	t.Parallel()
	s := start(t, nil, "-config", consentConfigYAML(t))
	b := browser(t)
	verifier, challenge := pkce(t)
	auth := withScope(authorizeURL(s.url, "webapp", "https://app.example.com/cb", "state-c01", challenge), "orders:read orders:write")

	r := consentStart(t, b, s.url, auth)
	if !isConsentPage(r) {
		t.Fatalf("a third-party client's request after sign-in: %d, want the consent page; body %.300q", r.status, r.body)
	}
	for _, want := range []string{"webapp", "orders:read", "orders:write", "https://api.example.com", "https://app.example.com/cb", "Deny"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the consent page does not show %q", want)
		}
	}
	r = answerConsent(t, b, s.url, r.body, "allow", []string{"orders:read"})
	cb := r.location(t, s.url)
	if cb.Query().Get("code") == "" || cb.Query().Get("state") != "state-c01" {
		t.Fatalf("after allowing: %s, want a code", cb)
	}
	tr := tokenRequest(t, s.url, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
		"redirect_uri": {"https://app.example.com/cb"}, "code_verifier": {verifier}}, "webapp", "webapp-secret-value")
	if tr.Status != http.StatusOK || tr.Scope != "orders:read" {
		t.Fatalf("token after granting orders:read only: %+v", tr)
	}

	// Remembered: the same request again goes straight back.
	_, challenge = pkce(t)
	r = send(t, b, http.MethodGet, withScope(authorizeURL(s.url, "webapp", "https://app.example.com/cb", "state-c02", challenge), "orders:read"), nil)
	if r.status != http.StatusSeeOther || r.location(t, s.url).Query().Get("code") == "" {
		t.Errorf("a request covered by the remembered consent: %d %.200q, want a code at once", r.status, r.body)
	}
	// More than remembered: asked again.
	r = send(t, b, http.MethodGet, withScope(authorizeURL(s.url, "webapp", "https://app.example.com/cb", "state-c03", challenge), "orders:write"), nil)
	if !isConsentPage(r) {
		t.Errorf("a request for a scope not remembered: %d, want the consent page", r.status)
	}

	// First-party: no page.
	r = send(t, b, http.MethodGet, authorizeURL(s.url, "first", "https://first.example.com/cb", "state-c04", challenge), nil)
	if r.status != http.StatusSeeOther || r.location(t, s.url).Query().Get("code") == "" {
		t.Errorf("a first-party client: %d, want a code without a consent page", r.status)
	}

	// A native public client, first-party and remembered: asked every time.
	spa := authorizeURL(s.url, "spa", "http://127.0.0.1:9/cb", "state-c05", challenge)
	for i := range 2 {
		r = send(t, b, http.MethodGet, spa, nil)
		if !isConsentPage(r) || !strings.Contains(r.body, "any program on it can use this name") {
			t.Fatalf("native client, request %d: %d, want the consent page with its warning", i+1, r.status)
		}
		r = answerConsent(t, b, s.url, r.body, "allow", nil)
		if r.location(t, s.url).Query().Get("code") == "" {
			t.Fatalf("native client, request %d: no code after allowing", i+1)
		}
	}
}

func TestConsentDeny(t *testing.T) {
	t.Parallel()
	s, b, challenge := consentServer(t)
	r := consentStart(t, b, s.url, authorizeURL(s.url, "webapp", "https://app.example.com/cb", "state-d01", challenge))
	r = answerConsent(t, b, s.url, r.body, "deny", nil)
	cb := r.location(t, s.url)
	if cb.Host != "app.example.com" || cb.Query().Get("error") != "access_denied" || cb.Query().Get("state") != "state-d01" || cb.Query().Has("code") {
		t.Errorf("after denying: %s, want error=access_denied with the state", cb)
	}
	// A denial is not remembered.
	r = send(t, b, http.MethodGet, authorizeURL(s.url, "webapp", "https://app.example.com/cb", "state-d02", challenge), nil)
	if !isConsentPage(r) {
		t.Errorf("after a denial the next request: %d, want the consent page", r.status)
	}
}

// TestConsentFormRefusals: what the consent POST refuses, each with a
// clear page and never a 500: no CSRF token, a scope not asked for, an
// unknown ticket, a replayed form, another user's ticket.
func TestConsentFormRefusals(t *testing.T) {
	t.Parallel()
	s, b, challenge := consentServer(t)
	page := consentStart(t, b, s.url, authorizeURL(s.url, "webapp", "https://app.example.com/cb", "state-r01", challenge))
	form, _ := consentFields(t, page.body)
	form.Set("action", "allow")
	post := func(f url.Values, c *http.Client) reply { return send(t, c, http.MethodPost, s.url+consentPath, f) }
	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vs := range form {
			f[key] = slices.Clone(vs)
		}
		f.Set(k, v)
		return f
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		says   string
	}{
		{"no CSRF token", with(csrfField, ""), http.StatusForbidden, "expired or was not sent"},
		{"a scope not requested", with("scope", "admin"), http.StatusBadRequest, "was not requested"},
		{"an unknown ticket", with(ticketField, "nope"), http.StatusBadRequest, "expired or was already answered"},
	} {
		r := post(tc.form, b)
		if r.status != tc.status || !strings.Contains(r.body, tc.says) {
			t.Errorf("%s: %d %.200q; want %d saying %q", tc.name, r.status, r.body, tc.status, tc.says)
		}
	}
	// Another browser (not signed in, its own CSRF cookie) cannot answer
	// alice's ticket even with a valid token of its own.
	other := browser(t)
	otherForm := hidden(t, send(t, other, http.MethodGet, s.url+loginPath, nil).body)
	if r := post(with(csrfField, otherForm.Get(csrfField)), other); r.status != http.StatusForbidden {
		t.Errorf("another browser answering alice's ticket: %d, want 403", r.status)
	}
	// Answered once; the same form again finds no ticket.
	if r := post(form, b); r.status != http.StatusSeeOther {
		t.Fatalf("the genuine answer: %d %.200q", r.status, r.body)
	}
	if r := post(form, b); r.status != http.StatusBadRequest || !strings.Contains(r.body, "already answered") {
		t.Errorf("the replayed form: %d %.200q; want 400", r.status, r.body)
	}
}

// TestConsentsPageRevoke: /consents lists what alice allowed; Revoke
// (POST, CSRF) ends the consent and its refresh tokens, and the next
// request asks again.
func TestConsentsPageRevoke(t *testing.T) {
	t.Parallel()
	s := start(t, nil, "-config", consentConfigYAML(t))
	b := browser(t)
	verifier, challenge := pkce(t)
	const redirect = "https://app.example.com/cb"
	r := consentStart(t, b, s.url, authorizeURL(s.url, "webapp", redirect, "state-v01", challenge))
	cb := answerConsent(t, b, s.url, r.body, "allow", nil).location(t, s.url)
	tr := tokenRequest(t, s.url, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
		"redirect_uri": {redirect}, "code_verifier": {verifier}}, "webapp", "webapp-secret-value")
	if tr.RefreshToken == "" {
		t.Fatalf("code exchange: %+v", tr)
	}

	list := send(t, b, http.MethodGet, s.url+consentsPath, nil)
	if list.status != http.StatusOK || !strings.Contains(list.body, "<td>webapp</td>") {
		t.Fatalf("GET /consents: %d %.300q; want webapp listed", list.status, list.body)
	}
	csrf := hidden(t, send(t, b, http.MethodGet, s.url+loginPath, nil).body).Get(csrfField)
	if r := send(t, b, http.MethodPost, s.url+consentsPath, url.Values{"client_id": {"webapp"}}); r.status != http.StatusForbidden {
		t.Errorf("revoking without a CSRF token: %d, want 403", r.status)
	}
	if r := send(t, b, http.MethodPost, s.url+consentsPath, url.Values{csrfField: {csrf}}); r.status != http.StatusBadRequest {
		t.Errorf("revoking without a client: %d, want 400", r.status)
	}
	r = send(t, b, http.MethodPost, s.url+consentsPath, url.Values{csrfField: {csrf}, "client_id": {"webapp"}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "Revoked webapp") || strings.Contains(r.body, "<td>webapp</td>") {
		t.Fatalf("POST /consents: %d %.300q; want webapp revoked", r.status, r.body)
	}
	rt := tokenRequest(t, s.url, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}, "webapp", "webapp-secret-value")
	if rt.Status != http.StatusBadRequest || rt.Error != "invalid_grant" {
		t.Errorf("refreshing after the revocation: %+v, want invalid_grant", rt)
	}
	if r := send(t, b, http.MethodGet, authorizeURL(s.url, "webapp", redirect, "state-v02", challenge), nil); !isConsentPage(r) {
		t.Errorf("after the revocation the next request: %d, want the consent page", r.status)
	}
	if r := send(t, browser(t), http.MethodGet, s.url+consentsPath, nil); r.status != http.StatusUnauthorized {
		t.Errorf("GET /consents signed out: %d, want 401", r.status)
	}
}
