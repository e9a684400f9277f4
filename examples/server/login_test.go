package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
)

// userConfigYAML is a config with users and authorization-code clients.
// spa's redirect URI need not answer: the tests read the Location header.
// The client "svc" is a machine: its tokens get no user claims. (A client
// may not share a user's name: TestUserNamedLikeAStoredClient.)
func userConfigYAML(t *testing.T, rateLimits string) string {
	t.Helper()
	bobHash, err := handler.HashClientSecret("bob-password")
	if err != nil {
		t.Fatal(err)
	}
	return writeConfig(t, t.TempDir(), fmt.Sprintf(`
listen: 127.0.0.1:0
keys: [{kid: k1, alg: EdDSA}]
rate_limits: {%s}
users:
  - username: alice
    password: alice-password
    claims: {user_type: admin, version: "1.0", tenant: {id: 7}}
  - username: bob
    password_hash: %q
clients:
  - id: spa
    public: true
    grant_types: [authorization_code, refresh_token]
    scopes: [orders:read, orders:write]
    audiences: [https://api.example.com]
    redirect_uris: [http://127.0.0.1:9/cb, http://localhost:9/other]
  - id: webapp
    secret: webapp-secret-value
    grant_types: [authorization_code, refresh_token]
    audiences: [https://api.example.com]
    redirect_uris: [https://app.example.com/cb]
    refresh_token_ttl: 1h
  - id: svc
    secret: svc-client-secret
    grant_types: [client_credentials]
    audiences: [https://api.example.com]
`, rateLimits, bobHash))
}

// browser keeps cookies and stops at redirects, so each hop is checked.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type reply struct {
	status int
	header http.Header
	body   string
	set    []*http.Cookie // cookies this response set
}

// setCookie returns the cookie the response set, or nil.
func (r reply) setCookie(name string) *http.Cookie {
	for _, c := range r.set {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// location is the redirect target, resolved against base.
func (r reply) location(t *testing.T, base string) *url.URL {
	t.Helper()
	loc := r.header.Get("Location")
	if loc == "" {
		t.Fatalf("status %d, no Location; body %.300q", r.status, r.body)
	}
	b, _ := url.Parse(base)
	u, err := b.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q: %v", loc, err)
	}
	return u
}

// send makes a request; a non-nil form is POSTed as a form.
func send(t *testing.T, c *http.Client, method, target string, form url.Values, cookies ...*http.Cookie) reply {
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
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b), resp.Cookies()}
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hidden returns the hidden fields of the login form in body.
func hidden(t *testing.T, body string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if !v.Has(csrfField) || !v.Has(returnToField) {
		t.Fatalf("no csrf_token and return_to fields in %q", body)
	}
	return v
}

// pkce returns a fresh verifier and its S256 challenge.
func pkce(t *testing.T) (verifier, challenge string) {
	b := make([]byte, 32)
	rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func authorizeURL(base, client, redirect, state, challenge string) string {
	return base + handler.AuthorizePath + "?" + url.Values{
		"response_type": {"code"}, "client_id": {client}, "redirect_uri": {redirect}, "state": {state},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}.Encode()
}

// openLoginForm opens the login page for returnTo and returns its hidden fields.
func openLoginForm(t *testing.T, b *http.Client, base, returnTo string) url.Values {
	t.Helper()
	r := send(t, b, http.MethodGet, base+loginPath+"?"+url.Values{returnToField: {returnTo}}.Encode(), nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /login: %d %s", r.status, r.header.Get("Content-Type"))
	}
	return hidden(t, r.body)
}

// signIn takes an authorization request through the login page and returns
// the redirect back to the client.
func signIn(t *testing.T, b *http.Client, base, authURL, user, password string) *url.URL {
	t.Helper()
	r := send(t, b, http.MethodGet, authURL, nil)
	if r.status != http.StatusFound {
		t.Fatalf("authorize before sign-in: %d, want 302 to the login page; body %.300q", r.status, r.body)
	}
	loginURL := r.location(t, base)
	if loginURL.Path != loginPath {
		t.Fatalf("authorize sent the browser to %s, want %s", loginURL, loginPath)
	}
	u, _ := url.Parse(authURL)
	if got := loginURL.Query().Get(returnToField); got != u.RequestURI() {
		t.Fatalf("return_to = %q, want the authorization request %q", got, u.RequestURI())
	}
	page := send(t, b, http.MethodGet, loginURL.String(), nil)
	form := hidden(t, page.body)
	form.Set("username", user)
	form.Set("password", password)
	r = send(t, b, http.MethodPost, base+loginPath, form)
	if r.status != http.StatusSeeOther {
		t.Fatalf("POST /login: %d, want 303; body %.300q", r.status, r.body)
	}
	back := r.location(t, base)
	if back.String() != base+u.RequestURI() {
		t.Fatalf("after sign-in the browser goes to %s, want %s", back, authURL)
	}
	r = send(t, b, http.MethodGet, back.String(), nil)
	if r.status == http.StatusOK && strings.Contains(r.body, `action="/consent"`) {
		r = answerConsent(t, b, base, r.body, "allow", nil)
	}
	if r.status != http.StatusFound && r.status != http.StatusSeeOther {
		t.Fatalf("authorize after sign-in: %d, want a redirect to the client; body %.300q", r.status, r.body)
	}
	return r.location(t, base)
}

func tokenRequest(t *testing.T, base string, form url.Values, id, secret string) tokenResponse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+handler.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(id, secret)
	}
	return do(t, req)
}

// claimsOf decodes an access token's payload (its signature is the
// handler tests' business).
func claimsOf(t *testing.T, jws string) map[string]any {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a JWS", jws)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
	return c
}

// TestAuthorizationCodeFlow signs users in through the demo's login page
// and follows each grant to its tokens.
func TestAuthorizationCodeFlow(t *testing.T) {
	t.Parallel()
	s := start(t, nil, "-config", userConfigYAML(t, ""))
	b := browser(t)

	// Public client, PKCE: authorize → login → back → code → token.
	const redirect = "http://127.0.0.1:9/cb"
	verifier, challenge := pkce(t)
	cb := signIn(t, b, s.url, authorizeURL(s.url, "spa", redirect, "state-001", challenge), "alice", "alice-password")
	q := cb.Query()
	if got := cb.Scheme + "://" + cb.Host + cb.Path; got != redirect || q.Get("state") != "state-001" || q.Get("iss") != s.url || q.Get("code") == "" {
		t.Fatalf("redirect back to the client = %s, want %s with a code, state state-001 and iss %s", cb, redirect, s.url)
	}
	tr := tokenRequest(t, s.url, url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirect},
		"client_id": {"spa"}, "code_verifier": {verifier},
	}, "", "")
	if tr.Status != 200 || tr.AccessToken == "" || tr.RefreshToken == "" {
		t.Fatalf("code exchange: %+v", tr)
	}
	wantUser := func(when, token string) {
		t.Helper()
		c := claimsOf(t, token)
		if c["sub"] != "alice" || c["client_id"] != "spa" || c["user_type"] != "admin" || c["version"] != "1.0" ||
			fmt.Sprint(c["tenant"]) != "map[id:7]" {
			t.Errorf("%s: claims %v, want sub alice, client_id spa and alice's configured claims", when, c)
		}
	}
	wantUser("code exchange", tr.AccessToken)

	rt := tokenRequest(t, s.url, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}, "client_id": {"spa"}}, "", "")
	if rt.Status != 200 || rt.RefreshToken == "" || rt.RefreshToken == tr.RefreshToken {
		t.Fatalf("refresh: %+v, want a new access and refresh token", rt)
	}
	wantUser("refresh", rt.AccessToken)

	// Signed in already: the next request goes straight back to the client,
	// here a confidential one, for bob (password_hash, no claims).
	b2 := browser(t)
	verifier, challenge = pkce(t)
	cb = signIn(t, b2, s.url, authorizeURL(s.url, "webapp", "https://app.example.com/cb", "state-002", challenge), "bob", "bob-password")
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
		"redirect_uri": {"https://app.example.com/cb"}, "code_verifier": {verifier}}
	tr = tokenRequest(t, s.url, exchange, "webapp", "webapp-secret-value")
	if tr.Status != 200 || tr.RefreshToken == "" {
		t.Fatalf("confidential code exchange: %+v", tr)
	}
	if c := claimsOf(t, tr.AccessToken); c["sub"] != "bob" || c["user_type"] != nil {
		t.Errorf("bob's token claims %v, want sub bob and no custom claims", c)
	}
	// refresh_token_ttl: 1h reaches the store.
	req, _ := http.NewRequest(http.MethodPost, s.url+handler.IntrospectPath,
		strings.NewReader(url.Values{"token": {tr.RefreshToken}, "token_type_hint": {"refresh_token"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("webapp", "webapp-secret-value")
	var in struct {
		Active bool  `json:"active"`
		Exp    int64 `json:"exp"`
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&in)
	resp.Body.Close()
	if left := time.Until(time.Unix(in.Exp, 0)); !in.Active || left < 59*time.Minute || left > 61*time.Minute {
		t.Errorf("introspected refresh token: active %v, expires in %v, want active for 1h", in.Active, left)
	}

	r := send(t, b2, http.MethodGet, authorizeURL(s.url, "spa", redirect, "state-003", challenge), nil)
	if isConsentPage(r) { // spa is a native app: asked every time
		r = answerConsent(t, b2, s.url, r.body, "allow", nil)
	}
	if loc := r.location(t, s.url); r.status != http.StatusFound && r.status != http.StatusSeeOther || !strings.HasPrefix(loc.String(), redirect+"?") {
		t.Errorf("authorize while signed in: %d to %s, want a redirect to the client", r.status, loc)
	}

	// A client's token gets no user claims, and says it is a machine's.
	if cc := basicToken(t, s.url, "svc", "svc-client-secret"); cc.Status != 200 || claimsOf(t, cc.AccessToken)["user_type"] != nil ||
		claimsOf(t, cc.AccessToken)["sub_type"] != "client" {
		t.Errorf("client_credentials token of client svc: %+v, want sub_type client and no user claims", cc)
	}
}

// TestAuthorizePOSTComesBackAsGET: the authorization endpoint takes a form
// POST too; the login page brings the browser back with the same
// parameters in a GET.
func TestAuthorizePOSTComesBackAsGET(t *testing.T) {
	t.Parallel()
	s := start(t, nil, "-config", userConfigYAML(t, ""))
	_, challenge := pkce(t)
	authURL, _ := url.Parse(authorizeURL(s.url, "spa", "http://127.0.0.1:9/cb", "state-004", challenge))
	r := send(t, browser(t), http.MethodPost, s.url+handler.AuthorizePath, authURL.Query())
	loc := r.location(t, s.url)
	back, err := url.Parse(loc.Query().Get(returnToField))
	if r.status != http.StatusFound || err != nil || back.Path != handler.AuthorizePath || back.Query().Encode() != authURL.Query().Encode() {
		t.Errorf("POST authorize: %d to %s, want the login page returning to GET %s", r.status, loc, authURL.RequestURI())
	}
}

// TestLoginRefusals: what the login page must not do, and what a browser
// then still is (signed out).
func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	s := start(t, nil, "-config", userConfigYAML(t, ""))
	_, challenge := pkce(t)
	authURL := authorizeURL(s.url, "spa", "http://127.0.0.1:9/cb", "state-004", challenge)
	returnTo := strings.TrimPrefix(authURL, s.url)
	signedOut := func(t *testing.T, b *http.Client, cookies ...*http.Cookie) {
		t.Helper()
		r := send(t, b, http.MethodGet, authURL, nil, cookies...)
		if r.status != http.StatusFound || r.location(t, s.url).Path != loginPath {
			t.Errorf("authorize: %d, want 302 to the login page (signed out)", r.status)
		}
	}
	noSession := func(t *testing.T, r reply) {
		t.Helper()
		if r.setCookie(sessionCookie) != nil || r.header.Get("Location") != "" {
			t.Errorf("refused sign-in set a session or redirected: cookies %v, Location %q", r.set, r.header.Get("Location"))
		}
	}

	for _, tc := range []struct{ name, user, password string }{
		{"wrong password", "alice", "alice-passwordX"},
		{"unknown user", "carol", "alice-password"},
		{"empty password", "alice", ""},
		{"another user's password", "bob", "alice-password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := browser(t)
			form := openLoginForm(t, b, s.url, returnTo)
			form.Set("username", tc.user)
			form.Set("password", tc.password)
			r := send(t, b, http.MethodPost, s.url+loginPath, form)
			if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Wrong username or password") {
				t.Errorf("POST /login: %d, want 401 and the form again; body %.300q", r.status, r.body)
			}
			noSession(t, r)
			// The form comes back ready to retry, username kept, escaped.
			if again := hidden(t, r.body); again.Get(csrfField) != form.Get(csrfField) || again.Get(returnToField) != returnTo {
				t.Errorf("401 form fields %v, want the same csrf_token and return_to", again)
			}
			signedOut(t, b)
		})
	}

	t.Run("CSRF", func(t *testing.T) {
		t.Parallel()
		other := browser(t)
		otherForm := openLoginForm(t, other, s.url, returnTo)
		for _, tc := range []struct {
			name string
			edit func(url.Values)
			jar  bool // send the browser's CSRF cookie
		}{
			{"missing field", func(v url.Values) { v.Del(csrfField) }, true},
			{"empty field", func(v url.Values) { v.Set(csrfField, "") }, true},
			{"tampered field", func(v url.Values) { v.Set(csrfField, v.Get(csrfField)[1:]+"A") }, true},
			{"another browser's token", func(v url.Values) { v.Set(csrfField, otherForm.Get(csrfField)) }, true},
			{"no cookie", func(url.Values) {}, false},
		} {
			b := browser(t)
			form := openLoginForm(t, b, s.url, returnTo)
			tc.edit(form)
			form.Set("username", "alice")
			form.Set("password", "alice-password")
			c := b
			if !tc.jar {
				c = browser(t)
			}
			r := send(t, c, http.MethodPost, s.url+loginPath, form)
			if r.status != http.StatusForbidden {
				t.Errorf("%s: POST /login %d, want 403", tc.name, r.status)
			}
			noSession(t, r)
			signedOut(t, b)
		}
	})

	t.Run("return_to", func(t *testing.T) {
		t.Parallel()
		for _, bad := range []string{
			"https://evil.example/oauth/authorize?x=1",
			"//evil.example/oauth/authorize",
			`/\evil.example/oauth/authorize`,
			"/\\/evil.example",
			"http:/oauth/authorize",
			"javascript:alert(1)",
			"/",
			"/oauth/authorizeX?x",
			"/oauth/authorize/../../evil",
			"/oauth/token?x",
			"/oauth/authorize?x=1\r\nSet-Cookie: a=b",
			" /oauth/authorize?x",
		} {
			b := browser(t)
			r := send(t, b, http.MethodGet, s.url+loginPath+"?"+url.Values{returnToField: {bad}}.Encode(), nil)
			if r.status != http.StatusBadRequest || r.header.Get("Location") != "" || strings.Contains(r.body, "evil.example") {
				t.Errorf("GET /login?return_to=%q: %d, want 400 that does not echo it", bad, r.status)
			}
			// Posted with good credentials and a valid token: still refused.
			form := openLoginForm(t, b, s.url, returnTo)
			form.Set(returnToField, bad)
			form.Set("username", "alice")
			form.Set("password", "alice-password")
			r = send(t, b, http.MethodPost, s.url+loginPath, form)
			if r.status != http.StatusBadRequest {
				t.Errorf("POST /login return_to=%q: %d, want 400", bad, r.status)
			}
			noSession(t, r)
		}
	})

	t.Run("tampered session cookie", func(t *testing.T) {
		t.Parallel()
		b := browser(t)
		form := openLoginForm(t, b, s.url, "")
		form.Set("username", "bob")
		form.Set("password", "bob-password")
		r := send(t, b, http.MethodPost, s.url+loginPath, form)
		ck := r.setCookie(sessionCookie)
		if r.status != http.StatusOK || ck == nil || !strings.Contains(r.body, "signed in as bob") {
			t.Fatalf("sign-in with no return_to: %d, cookie %v, want 200 and a session", r.status, ck)
		}
		plain := &http.Client{CheckRedirect: b.CheckRedirect} // no jar: cookies by hand
		if r := send(t, plain, http.MethodGet, authURL, nil, ck); !isConsentPage(r) && r.location(t, s.url).Path == loginPath {
			t.Fatalf("the untampered cookie does not sign in: %d", r.status)
		}
		unknown := make([]byte, 32)
		rand.Read(unknown)
		for name, value := range map[string]string{
			"flipped first":  flip(ck.Value),
			"flipped last":   ck.Value[:len(ck.Value)-1] + flip(ck.Value[len(ck.Value)-1:]),
			"truncated":      ck.Value[:len(ck.Value)-1],
			"extra":          ck.Value + "A",
			"padded":         ck.Value + "=",
			"upper case":     strings.ToUpper(ck.Value),
			"unknown id":     base64.RawURLEncoding.EncodeToString(unknown),
			"empty":          "",
			"garbage":        "%%%.x.y",
			"user name":      "bob",
			"old format":     base64.RawURLEncoding.EncodeToString([]byte("bob")) + ".4102444800." + base64.RawURLEncoding.EncodeToString(unknown),
			"unsigned alice": base64.RawURLEncoding.EncodeToString([]byte("alice")),
		} {
			t.Run(name, func(t *testing.T) {
				signedOut(t, plain, &http.Cookie{Name: sessionCookie, Value: value})
			})
		}
	})
}

// flip changes the first character of a base64url string.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

// TestLoginRateLimit: past rate_limits.login failures from one IP, even
// the right password is not checked.
func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	s := start(t, nil, "-config", userConfigYAML(t, "login: 2-M"))
	b := browser(t)
	form := openLoginForm(t, b, s.url, "")
	form.Set("username", "alice")
	for i, tc := range []struct {
		password string
		want     int
	}{{"wrong", 401}, {"wrong", 401}, {"alice-password", 429}} {
		form.Set("password", tc.password)
		r := send(t, b, http.MethodPost, s.url+loginPath, form)
		if r.status != tc.want {
			t.Errorf("attempt %d: %d, want %d", i+1, r.status, tc.want)
		}
		if r.status == http.StatusTooManyRequests && (r.header.Get("Retry-After") == "" || r.setCookie(sessionCookie) != nil) {
			t.Errorf("429 with Retry-After %q and cookies %v, want a delay and no session", r.header.Get("Retry-After"), r.set)
		}
	}
}

// TestCookieAttributes: HttpOnly, SameSite=Lax, Path; Secure when the
// issuer is https (the listener here is plain http behind a pretend TLS
// proxy, so cookies go by hand: a jar would not send Secure ones).
func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		issuer string
		secure bool
	}{{"", false}, {"https://auth.example.com", true}} {
		path := userConfigYAML(t, "")
		if tc.issuer != "" {
			cfg, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			path = writeConfig(t, t.TempDir(), "issuer: "+tc.issuer+"\n"+string(cfg))
		}
		s := start(t, nil, "-config", path)
		c := &http.Client{}
		r := send(t, c, http.MethodGet, s.url+loginPath, nil)
		csrf := r.setCookie(csrfCookie)
		form := hidden(t, r.body)
		form.Set("username", "alice")
		form.Set("password", "alice-password")
		r = send(t, c, http.MethodPost, s.url+loginPath, form, csrf)
		sess := r.setCookie(sessionCookie)
		if r.status != http.StatusOK || csrf == nil || sess == nil {
			t.Fatalf("issuer %q: sign-in %d, cookies %v", tc.issuer, r.status, r.set)
		}
		for _, ck := range []struct {
			c      *http.Cookie
			path   string
			maxAge int
		}{{csrf, "/", int(csrfTTL / time.Second)}, {sess, "/", 8 * 3600}} {
			if !ck.c.HttpOnly || ck.c.SameSite != http.SameSiteLaxMode || ck.c.Secure != tc.secure || ck.c.Path != ck.path || ck.c.MaxAge != ck.maxAge {
				t.Errorf("issuer %q: cookie %s, want HttpOnly, SameSite=Lax, Secure %v, Path %s, Max-Age %d", tc.issuer, ck.c, tc.secure, ck.path, ck.maxAge)
			}
		}
	}
}

// TestLoginPageEscapes: everything the page echoes is escaped.
func TestLoginPageEscapes(t *testing.T) {
	t.Parallel()
	s := start(t, nil, "-config", userConfigYAML(t, ""))
	b := browser(t)
	const evil = `"><script>alert(1)</script>`
	returnTo := handler.AuthorizePath + "?state=" + url.QueryEscape(evil) + "&x=" + evil
	form := openLoginForm(t, b, s.url, returnTo)
	form.Set("username", evil)
	form.Set("password", "x")
	r := send(t, b, http.MethodPost, s.url+loginPath, form)
	if r.status != http.StatusUnauthorized || strings.Contains(r.body, "<script>") {
		t.Errorf("401 page echoes markup: %.500q", r.body)
	}
	if got := hidden(t, r.body).Get(returnToField); got != returnTo {
		t.Errorf("return_to round trip = %q, want %q", got, returnTo)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || r.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("security headers: CSP %q, X-Frame-Options %q", csp, r.header.Get("X-Frame-Options"))
	}
	cb := send(t, b, http.MethodGet, s.url+callbackPath+"?code="+url.QueryEscape(evil)+"&state="+url.QueryEscape(evil), nil)
	if cb.status != 200 || strings.Contains(cb.body, "<script>") || !strings.Contains(cb.body, html.EscapeString(evil)) {
		t.Errorf("callback page does not escape: %.500q", cb.body)
	}
}

// TestZeroConfigWalkthrough follows the printed sign-in walkthrough: the
// URL, the printed user, the curl line the callback page shows, the
// refresh line.
func TestZeroConfigWalkthrough(t *testing.T) {
	t.Parallel()
	s := start(t, nil, "-listen", "127.0.0.1:0")
	user := regexp.MustCompile(`(?m)^\s*username:\s+(\S+)$`).FindStringSubmatch(s.stdout)
	password := regexp.MustCompile(`(?m)^\s*password:\s+(\S+)`).FindStringSubmatch(s.stdout)
	authURL := regexp.MustCompile(`(?m)^\s*(http\S+/oauth/authorize\?\S+)$`).FindStringSubmatch(s.stdout)
	pair := regexp.MustCompile(`code_verifier (\S+)\s+code_challenge (\S+)`).FindStringSubmatch(s.stdout)
	curls := printedCurl.FindAllStringSubmatch(s.stdout, -1)
	if user == nil || password == nil || authURL == nil || pair == nil || len(curls) != 4 {
		t.Fatalf("no user, password, authorization URL, PKCE pair or curl lines in:\n%s", s.stdout)
	}
	if sum := sha256.Sum256([]byte(pair[1])); base64.RawURLEncoding.EncodeToString(sum[:]) != pair[2] || !strings.Contains(authURL[1], "code_challenge="+pair[2]) {
		t.Errorf("printed PKCE pair %s / %s does not match, or is not the URL's", pair[1], pair[2])
	}

	b := browser(t)
	cb := signIn(t, b, s.url, authURL[1], user[1], password[1])
	if cb.Path != callbackPath || !strings.HasPrefix(cb.String(), s.url) {
		t.Fatalf("redirected to %s, want the server's own %s", cb, callbackPath)
	}
	page := send(t, b, http.MethodGet, cb.String(), nil)
	line := regexp.MustCompile(`<pre id="curl">([^<]+)</pre>`).FindStringSubmatch(page.body)
	if page.status != 200 || line == nil {
		t.Fatalf("callback page: %d, no curl line in %.500q", page.status, page.body)
	}
	exchange := html.UnescapeString(line[1])
	if want := strings.Replace(curls[2][1], "<code>", cb.Query().Get("code"), 1); exchange != want {
		t.Errorf("callback curl line\n%s\nis not the printed one with the code filled in\n%s", exchange, want)
	}
	tr := do(t, curlRequest(t, exchange))
	if tr.Status != 200 || tr.RefreshToken == "" {
		t.Fatalf("printed code exchange: %+v", tr)
	}
	if c := claimsOf(t, tr.AccessToken); c["sub"] != user[1] || c["user_type"] != "customer" {
		t.Errorf("demo user's token claims %v", c)
	}
	refresh := strings.Replace(curls[3][1], "<refresh_token>", tr.RefreshToken, 1)
	if tr := do(t, curlRequest(t, refresh)); tr.Status != 200 || tr.RefreshToken == "" || claimsOf(t, tr.AccessToken)["user_type"] != "customer" {
		t.Errorf("printed refresh: %+v", tr)
	}
}

// TestDemoWithoutLoopback: an issuer a plain-http redirect URI may not
// use still serves client_credentials, without the sign-in demo.
func TestDemoWithoutLoopback(t *testing.T) {
	t.Parallel()
	cfg, d, err := demoConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuer = "http://192.0.2.1:8080"
	d.addUserFlow(cfg)
	if d.redirectURI != "" || len(cfg.Users) != 0 || len(cfg.Clients) != 2 {
		t.Errorf("non-loopback issuer: redirect %q, %d users, %d clients; want no sign-in demo", d.redirectURI, len(cfg.Users), len(cfg.Clients))
	}
	if err := cfg.check(); err != nil {
		t.Error(err)
	}
	var out strings.Builder
	printDemo(&out, d)
	if strings.Contains(out.String(), "/oauth/authorize") || !strings.Contains(out.String(), "no sign-in demo") {
		t.Errorf("printed:\n%s", out.String())
	}
}

// TestSessionExpiry checks the server-side expiry on an injected clock.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := newSigner(false, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := s.startSession(rec, httptest.NewRequest(http.MethodPost, loginPath, nil), "alice"); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(rec.Result().Cookies()[0])
	for _, tc := range []struct {
		after time.Duration
		ok    bool
	}{{0, true}, {sessionTTL - time.Second, true}, {sessionTTL, false}, {48 * time.Hour, false}} {
		now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(tc.after)
		if user, ok := s.session(req); ok != tc.ok || ok && user != "alice" {
			t.Errorf("after %v: session = %q, %v; want %v", tc.after, user, ok, tc.ok)
		}
	}
	// Another process (a restart) knows nobody.
	other, _ := newSigner(false, func() time.Time { return now.Add(-time.Hour) })
	if _, ok := other.session(req); ok {
		t.Error("a session of another process is accepted")
	}
}

// TestSessionTable: a user's sessions are capped (the oldest ends first),
// expired ones are dropped when the next one starts, and signing in again
// in one browser ends that browser's previous session.
func TestSessionTable(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := newSigner(false, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	signIn := func(user string, prev *http.Cookie) *http.Cookie {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, loginPath, nil)
		if prev != nil {
			req.AddCookie(prev)
		}
		rec := httptest.NewRecorder()
		if err := s.startSession(rec, req, user); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second) // an order to "oldest"
		return rec.Result().Cookies()[0]
	}
	valid := func(c *http.Cookie) bool {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(c)
		_, ok := s.session(req)
		return ok
	}
	var alice []*http.Cookie
	for range maxSessionsPerUser + 2 {
		alice = append(alice, signIn("alice", nil))
	}
	bob := signIn("bob", nil)
	for i, c := range alice {
		if want := i >= 2; valid(c) != want {
			t.Errorf("alice's session %d valid = %v, want %v (the cap is %d, oldest out first)", i, !want, want, maxSessionsPerUser)
		}
	}
	if !valid(bob) {
		t.Error("bob's session ended by alice's cap")
	}
	again := signIn("bob", bob)
	if valid(bob) || !valid(again) {
		t.Errorf("signing in again: old session valid %v, new %v; want false, true", valid(bob), valid(again))
	}
	now = now.Add(sessionTTL)
	signIn("carol", nil)
	s.mu.Lock()
	n := len(s.sessions)
	s.mu.Unlock()
	if n != 1 {
		t.Errorf("%d sessions after all but one expired, want 1", n)
	}
}

// FuzzValidReturn: whatever validReturn accepts is this server's
// authorization endpoint, to net/url and to a browser (no backslash, no
// scheme, no authority), with a query url.ParseQuery reads. Findings stay
// in testdata/fuzz/FuzzValidReturn.
func FuzzValidReturn(f *testing.F) {
	for _, s := range []string{"", "/oauth/authorize", "/oauth/authorize?a=b", "//evil", `/\evil`, "https://x/oauth/authorize", "/oauth/authorize#x",
		"/oauth/authorize?#%", "/oauth/authorize?a=%zz", "/oauth/authorize?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !validReturn(s) || s == "" {
			return
		}
		path, _, _ := strings.Cut(s, "?")
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Path != handler.AuthorizePath || path != handler.AuthorizePath ||
			u.Fragment != "" || u.String() != s {
			t.Fatalf("validReturn accepted %q (parsed %+v, %v)", s, u, err)
		}
		if _, err := url.ParseQuery(u.RawQuery); err != nil {
			t.Fatalf("validReturn accepted %q, whose query does not parse: %v", s, err)
		}
	})
}

// TestValidReturn: the authorization requests hook sends to /login pass;
// what is not one of them, or is not plain to net/url, does not.
func TestValidReturn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"", true},
		{"/oauth/authorize", true},
		{"/oauth/authorize?", true},
		{"/oauth/authorize?response_type=code&client_id=web&state=%22x%22", true},
		{"/oauth/authorize?#%", false}, // FuzzValidReturn's finding: url.Parse fails on the fragment
		{"/oauth/authorize#x", false},
		{"/oauth/authorize?a=b#c", false},
		{"/oauth/authorize?a=%zz", false},
		{"/oauth/authorize?a=b;c=d", false},
		{"/oauth/authorize%3Fa=b", false},
		{"//evil.example/oauth/authorize", false},
		{"/oauth/authorize?a=b\r\n", false},
	} {
		if got := validReturn(tc.in); got != tc.ok {
			t.Errorf("validReturn(%q) = %v, want %v", tc.in, got, tc.ok)
		}
	}
}

// FuzzSessionCookie: no cookie value but the one the server handed out
// signs anyone in, and none makes the parser panic.
func FuzzSessionCookie(f *testing.F) {
	s, err := newSigner(false, time.Now)
	if err != nil {
		f.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := s.startSession(rec, httptest.NewRequest(http.MethodPost, loginPath, nil), "alice"); err != nil {
		f.Fatal(err)
	}
	good := rec.Result().Cookies()[0].Value
	for _, v := range []string{good, "", "..", "a.b.c", good + "x", strings.ToUpper(good)} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Cookie", sessionCookie+"="+v)
		c, err := req.Cookie(sessionCookie)
		if _, ok := s.session(req); ok && (err != nil || c.Value != good) {
			t.Fatalf("cookie %q signs in", v)
		}
	})
}
