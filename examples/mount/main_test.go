package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
)

const testPassword = "correct horse battery staple"

// testApp is the app over real HTTP.
type testApp struct {
	*httptest.Server
	issuer        string
	reportsSecret string
}

func newTestApp(t *testing.T) *testApp {
	t.Helper()
	// The app needs its own URL before it serves: the listener exists
	// before Start.
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	us, err := newUsers(map[string]userRow{"alice": {Name: "Alice Liddell", Password: testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	secret, hash, err := handler.GenerateClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	app, err := newApp(base, us, hash, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = app
	ts.Start()
	t.Cleanup(ts.Close)
	return &testApp{Server: ts, issuer: base + "/auth", reportsSecret: secret}
}

// browser keeps cookies and stops at every redirect, so each step of a
// flow is seen.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// do sends a request (a form body when form is not nil, then headers as
// name, value pairs) and returns the response with its body read.
func do(t *testing.T, c *http.Client, method, target string, form url.Values, header ...string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func login(t *testing.T, a *testApp, c *http.Client, password, returnTo string, header ...string) *http.Response {
	t.Helper()
	resp, _ := do(t, c, http.MethodPost, a.URL+"/login",
		url.Values{"username": {"alice"}, "password": {password}, "return_to": {returnTo}}, header...)
	return resp
}

func sessionSet(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			return c
		}
	}
	return nil
}

var returnToField = regexp.MustCompile(`name="return_to" value="([^"]*)"`)

// formReturnTo is the return_to the login form will post.
func formReturnTo(t *testing.T, page string) string {
	t.Helper()
	m := returnToField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no return_to field in the login page:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

// TestMetadataUnderAuth: the metadata under /auth names every endpoint
// under the /auth issuer, and they answer there.
func TestMetadataUnderAuth(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	resp, body := do(t, http.DefaultClient, http.MethodGet, a.URL+"/auth/.well-known/oauth-authorization-server", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metadata: %d %s", resp.StatusCode, body)
	}
	var md struct {
		Issuer                string   `json:"issuer"`
		Token                 string   `json:"token_endpoint"`
		Authorization         string   `json:"authorization_endpoint"`
		Revocation            string   `json:"revocation_endpoint"`
		Introspection         string   `json:"introspection_endpoint"`
		JWKS                  string   `json:"jwks_uri"`
		GrantTypes            []string `json:"grant_types_supported"`
		CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
		ScopesSupported       []string `json:"scopes_supported"`
		ResponseTypeSupported []string `json:"response_types_supported"`
	}
	if err := json.Unmarshal([]byte(body), &md); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"issuer": a.issuer, "token_endpoint": a.issuer + "/oauth/token",
		"authorization_endpoint": a.issuer + "/oauth/authorize", "revocation_endpoint": a.issuer + "/oauth/revoke",
		"introspection_endpoint": a.issuer + "/oauth/introspect", "jwks_uri": a.issuer + "/.well-known/jwks.json",
	}
	got := map[string]string{
		"issuer": md.Issuer, "token_endpoint": md.Token, "authorization_endpoint": md.Authorization,
		"revocation_endpoint": md.Revocation, "introspection_endpoint": md.Introspection, "jwks_uri": md.JWKS,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, g := range []string{"authorization_code", "refresh_token", "client_credentials"} {
		if !slices.Contains(md.GrantTypes, g) {
			t.Errorf("grant_types_supported %v lacks %s", md.GrantTypes, g)
		}
	}
	if !slices.Contains(md.CodeChallengeMethods, "S256") || !slices.Contains(md.ScopesSupported, "profile:read") {
		t.Errorf("metadata = %+v", md)
	}
	if resp, body := do(t, http.DefaultClient, http.MethodGet, md.JWKS, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"keys"`) {
		t.Errorf("jwks at %s: %d %s", md.JWKS, resp.StatusCode, body)
	}
}

// TestAuthorizationCodeFlow walks the user flow as a browser and a client
// would: authorize → the app's login page → sign in → back to authorize →
// code at the callback page → token with PKCE → the app's API.
func TestAuthorizationCodeFlow(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			b := browser(t)
			verifier, state := rand.Text()+rand.Text(), rand.Text()
			sum := sha256.Sum256([]byte(verifier))
			params := url.Values{
				"response_type": {"code"}, "client_id": {"playground"}, "redirect_uri": {a.URL + "/callback"},
				"state": {state}, "scope": {"profile:read"},
				"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
			}
			authorize := "/auth/oauth/authorize?" + params.Encode()

			// Nobody is signed in: the app's login page, with the way back
			// (the /auth prefix kept; a POSTed request comes back as GET).
			var resp *http.Response
			if method == http.MethodGet {
				resp, _ = do(t, b, method, a.URL+authorize, nil)
			} else {
				resp, _ = do(t, b, method, a.issuer+"/oauth/authorize", params)
			}
			loc, wantLoc := resp.Header.Get("Location"), "/login?"+url.Values{"return_to": {authorize}}.Encode()
			if resp.StatusCode != http.StatusSeeOther || loc != wantLoc {
				t.Fatalf("authorize, signed out: %d Location %q", resp.StatusCode, loc)
			}
			resp, page := do(t, b, http.MethodGet, a.URL+loc, nil)
			if resp.StatusCode != http.StatusOK || formReturnTo(t, page) != authorize {
				t.Fatalf("login page: %d, return_to %q", resp.StatusCode, formReturnTo(t, page))
			}

			// Signing in goes back to the authorization request...
			resp = login(t, a, b, testPassword, formReturnTo(t, page))
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != authorize || sessionSet(resp) == nil {
				t.Fatalf("login: %d Location %q cookies %v", resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
			}
			// ...which now sends the code to the client's redirect URI.
			resp, body := do(t, b, http.MethodGet, a.URL+authorize, nil)
			cb, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("authorize, signed in: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), body)
			}
			q := cb.Query()
			if cb.Scheme+"://"+cb.Host+cb.Path != a.URL+"/callback" || q.Get("state") != state || q.Get("iss") != a.issuer || q.Get("code") == "" {
				t.Fatalf("redirect to %s", cb)
			}
			code := q.Get("code")
			if resp, page := do(t, b, http.MethodGet, cb.String(), nil); resp.StatusCode != http.StatusOK || !strings.Contains(page, code) {
				t.Fatalf("callback page: %d\n%s", resp.StatusCode, page)
			}

			// The client redeems the code with its PKCE verifier.
			resp, body = do(t, http.DefaultClient, http.MethodPost, a.issuer+"/oauth/token", url.Values{
				"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {a.URL + "/callback"},
				"client_id": {"playground"}, "code_verifier": {verifier},
			})
			var tok struct {
				AccessToken  string `json:"access_token"`
				RefreshToken string `json:"refresh_token"`
				Scope        string `json:"scope"`
			}
			if err := json.Unmarshal([]byte(body), &tok); err != nil || resp.StatusCode != http.StatusOK ||
				tok.AccessToken == "" || tok.RefreshToken == "" || tok.Scope != "profile:read" {
				t.Fatalf("token: %d %s", resp.StatusCode, body)
			}

			// The app's API knows the user.
			resp, body = do(t, http.DefaultClient, http.MethodGet, a.URL+"/api/profile", nil, "Authorization", "Bearer "+tok.AccessToken)
			var p struct {
				Subject  string         `json:"subject"`
				ClientID string         `json:"client_id"`
				Claims   map[string]any `json:"claims"`
			}
			if err := json.Unmarshal([]byte(body), &p); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("/api/profile: %d %s", resp.StatusCode, body)
			}
			if p.Subject != "alice" || p.ClientID != "playground" || p.Claims["sub"] != "alice" ||
				p.Claims["name"] != "Alice Liddell" || p.Claims["iss"] != a.issuer {
				t.Errorf("/api/profile = %s", body)
			}
			// A user's token does not open the integration's route.
			if resp, body := do(t, http.DefaultClient, http.MethodGet, a.URL+"/api/reports", nil, "Authorization", "Bearer "+tok.AccessToken); resp.StatusCode != http.StatusForbidden {
				t.Errorf("/api/reports with a user token: %d %s", resp.StatusCode, body)
			}
		})
	}
}

// TestAPIRefusals: the API answers per RFC 6750, route by route.
func TestAPIRefusals(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	resp, body := do(t, http.DefaultClient, http.MethodPost, a.issuer+"/oauth/token",
		url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic("reports", a.reportsSecret))
	var tok struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal([]byte(body), &tok); err != nil || resp.StatusCode != http.StatusOK || tok.Scope != "reports:read" {
		t.Fatalf("client_credentials: %d %s", resp.StatusCode, body)
	}
	for _, tc := range []struct {
		name, path, auth string
		status           int
		challenge        []string // parts the WWW-Authenticate header must hold
	}{
		{"no token", "/api/profile", "", http.StatusUnauthorized, []string{`Bearer realm="api"`}},
		{"not a token", "/api/profile", "Bearer not-a-jwt", http.StatusUnauthorized, []string{"Bearer ", `error="invalid_token"`}},
		{"machine token lacks profile:read", "/api/profile", "Bearer " + tok.AccessToken, http.StatusForbidden,
			[]string{"Bearer ", `error="insufficient_scope"`, `scope="profile:read"`}},
		{"machine token on its own route", "/api/reports", "Bearer " + tok.AccessToken, http.StatusOK, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var header []string
			if tc.auth != "" {
				header = []string{"Authorization", tc.auth}
			}
			resp, body := do(t, http.DefaultClient, http.MethodGet, a.URL+tc.path, nil, header...)
			challenge := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %s (WWW-Authenticate %q), want %d", resp.StatusCode, body, challenge, tc.status)
			}
			if tc.challenge == nil && challenge != "" {
				t.Errorf("WWW-Authenticate %q on success", challenge)
			}
			for _, part := range tc.challenge {
				if !strings.HasPrefix(challenge, "Bearer ") || !strings.Contains(challenge, part) {
					t.Errorf("WWW-Authenticate %q, want it to hold %q", challenge, part)
				}
			}
		})
	}
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(user)+":"+url.QueryEscape(password)))
}

// TestAppPages: the app's own pages keep working beside the kit.
func TestAppPages(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := browser(t)
	page := func(path string, wantStatus int, wantText string) {
		t.Helper()
		resp, body := do(t, b, http.MethodGet, a.URL+path, nil)
		if resp.StatusCode != wantStatus || !strings.Contains(body, wantText) {
			t.Errorf("GET %s: %d, want %d with %q:\n%s", path, resp.StatusCode, wantStatus, wantText, body)
		}
	}
	page("/", http.StatusOK, `<a href="/login">Log in</a>`)
	page("/login", http.StatusOK, `<form method="post" action="/login">`)
	page("/no-such-page", http.StatusNotFound, "")
	page("/callback?error=access_denied&error_description=no", http.StatusOK, "<b>access_denied</b>")
	// The callback page offers a shell command: a crafted "code" is not put in it.
	page("/callback?code=%24%28id%29", http.StatusOK, "No authorization code here.")

	for _, pw := range []string{"wrong", ""} {
		if resp := login(t, a, b, pw, "/"); resp.StatusCode != http.StatusUnauthorized || sessionSet(resp) != nil {
			t.Errorf("login with password %q: %d, cookies %v", pw, resp.StatusCode, resp.Cookies())
		}
	}
	resp := login(t, a, b, testPassword, "/")
	session := sessionSet(resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || session == nil ||
		!session.HttpOnly || session.SameSite != http.SameSiteLaxMode {
		t.Fatalf("login: %d Location %q cookie %+v", resp.StatusCode, resp.Header.Get("Location"), session)
	}
	page("/", http.StatusOK, "Signed in as alice.")

	if resp, _ := do(t, b, http.MethodPost, a.URL+"/logout", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	page("/", http.StatusOK, "Log in")
	// The session is over on the server too, not just in this browser.
	resp, body := do(t, http.DefaultClient, http.MethodGet, a.URL+"/", nil, "Cookie", session.String())
	if !strings.Contains(body, "Log in") {
		t.Errorf("home with the old session cookie: %d\n%s", resp.StatusCode, body)
	}
}

// TestLoginRateLimit: after ten failed logins from one IP, the form is
// refused before any password is hashed, even the right one.
func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := browser(t)
	for i := range 10 {
		if resp := login(t, a, b, "guess", "/"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failed login %d: %d", i+1, resp.StatusCode)
		}
	}
	if resp := login(t, a, b, testPassword, "/"); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || sessionSet(resp) != nil {
		t.Fatalf("login after 10 failures: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// TestLoginCSRF: a login form posted from another origin is refused, so no
// site can sign a visitor in as someone else (login CSRF) or out.
func TestLoginCSRF(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	for _, tc := range []struct {
		name   string
		header []string
		status int
	}{
		{"cross-site", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"same-site, another origin", []string{"Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
		{"foreign Origin, older browser", []string{"Origin", "http://evil.example"}, http.StatusForbidden},
		{"same origin", []string{"Sec-Fetch-Site", "same-origin"}, http.StatusSeeOther},
		{"same Origin", []string{"Origin", a.URL}, http.StatusSeeOther},
		{"not a browser", nil, http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := browser(t)
			resp := login(t, a, b, testPassword, "/", tc.header...)
			if resp.StatusCode != tc.status || (sessionSet(resp) != nil) != (tc.status == http.StatusSeeOther) {
				t.Fatalf("login: %d cookies %v, want %d", resp.StatusCode, resp.Cookies(), tc.status)
			}
			if tc.status != http.StatusSeeOther {
				return
			}
			// Signed in: a cross-site logout is refused too.
			resp, _ = do(t, b, http.MethodPost, a.URL+"/logout", url.Values{}, "Sec-Fetch-Site", "cross-site")
			if _, home := do(t, b, http.MethodGet, a.URL+"/", nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(home, "Signed in") {
				t.Errorf("cross-site logout: %d", resp.StatusCode)
			}
		})
	}
}

// TestLoginReturnTo: the login page sends the browser back to paths on this
// site only (no open redirect), from the form and from its own URL.
func TestLoginReturnTo(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	for _, tc := range []struct{ returnTo, want string }{
		{"/auth/oauth/authorize?client_id=playground&state=x", "/auth/oauth/authorize?client_id=playground&state=x"},
		{"/", "/"},
		{"", "/"},
		{"https://evil.example/", "/"},
		{"//evil.example/", "/"},
		{`/\evil.example/`, "/"},
		{"/\t/evil.example/", "/"},
		{"evil.example", "/"},
		{"javascript:alert(1)", "/"},
	} {
		t.Run(tc.returnTo, func(t *testing.T) {
			t.Parallel()
			_, page := do(t, http.DefaultClient, http.MethodGet, a.URL+"/login?"+url.Values{"return_to": {tc.returnTo}}.Encode(), nil)
			if got := formReturnTo(t, page); got != tc.want {
				t.Errorf("login page for return_to %q: form return_to %q, want %q", tc.returnTo, got, tc.want)
			}
			resp := login(t, a, browser(t), testPassword, tc.returnTo)
			if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || got != tc.want {
				t.Errorf("login with return_to %q: %d Location %q, want %q", tc.returnTo, resp.StatusCode, got, tc.want)
			}
		})
	}
}
