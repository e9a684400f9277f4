package handler_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// Fixtures and helpers of the tests of the user-facing grants (issue 4):
// authorization code with PKCE, refresh tokens, revocation, introspection
// and extension grants. Everything here is prefixed af.

// The af clients, added to the fixture store of testClients.
const (
	// afWebID is a confidential web app: authorization_code and
	// refresh_token, two redirect URIs (so redirect_uri cannot be
	// omitted), both API audiences.
	afWebID = "web-app"
	// afOtherWebID is another confidential app with the same grants.
	afOtherWebID = "other-web"
	// afSPAID is a public single-page app on a loopback redirect URI, with
	// its own refresh token lifetime.
	afSPAID = "spa"
	// afCodeOnlyID may use authorization_code but not refresh_token.
	afCodeOnlyID = "code-only"
	// afCCRedirectID registers a redirect URI but may only use
	// client_credentials.
	afCCRedirectID = "cc-redirect"
	// afResourceID is a resource server: confidential, client_credentials,
	// calls the introspection endpoint.
	afResourceID = "resource-server"
	// afTrustedID may use the networknt-style extension grant and
	// refresh_token; afTrustedNoRefreshID only the extension grant.
	afTrustedID          = "trusted-partner"
	afTrustedNoRefreshID = "trusted-no-refresh"

	afWebRedirect   = "https://app.example.com/callback"
	afWebRedirect2  = "https://app.example.com/settings/callback"
	afOtherRedirect = "https://other.example.com/cb"
	afSPARedirect   = "http://127.0.0.1:8765/cb"
	afCCRedirect    = "https://cc.example.com/cb"

	afSPARefreshTTL = 2 * time.Hour

	// afUserGrant is the extension grant type of the networknt example's
	// "customized flows for trusted clients".
	afUserGrant = "client_authenticated_user"

	afUser      = "alice"
	afState     = "af-state-4f9c2a7e"
	afCookie    = "af_session"
	afLoginPath = "/login"
	afIssuer    = "http://tollgate.test"

	afCodeGrant    = "authorization_code"
	afRefreshGrant = "refresh_token"
)

// afWebScopes are what afWebID may be granted; orders:read is its default.
var afWebScopes = []string{"orders:read", "orders:write", "profile", "market:id:*"}

// afSecret is the generated secret of every confidential af client (the
// fast scheme: argon2id would make the concurrency tests crawl).
var afSecret = sync.OnceValues(func() ([2]string, error) {
	plain, hash, err := handler.GenerateClientSecret()
	return [2]string{plain, hash}, err
})

// afKey is the signing key of every af server, so a second server can sign
// with the same key under another issuer.
var afKey = sync.OnceValues(func() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
})

func afSecrets(t testing.TB) (plain, hash string) {
	t.Helper()
	s, err := afSecret()
	if err != nil {
		t.Fatalf("generating the af secret: %v", err)
	}
	return s[0], s[1]
}

func afClients(hash string) []*storage.Client {
	both := []string{afCodeGrant, afRefreshGrant}
	return []*storage.Client{
		{
			ID: afWebID, SecretHash: hash, GrantTypes: both,
			Scopes: afWebScopes, DefaultScopes: []string{"orders:read"},
			Audiences: []string{apiAudience, qaAudience}, RedirectURIs: []string{afWebRedirect, afWebRedirect2},
		},
		{
			ID: afOtherWebID, SecretHash: hash, GrantTypes: both,
			Scopes: afWebScopes, DefaultScopes: []string{"orders:read"},
			Audiences: []string{apiAudience, qaAudience}, RedirectURIs: []string{afOtherRedirect},
		},
		{
			ID: afSPAID, Public: true, GrantTypes: both,
			Scopes: []string{"orders:read", "profile"}, DefaultScopes: []string{"orders:read"},
			Audiences: []string{apiAudience}, RedirectURIs: []string{afSPARedirect}, RefreshTokenTTL: afSPARefreshTTL,
		},
		{
			ID: afCodeOnlyID, SecretHash: hash, GrantTypes: []string{afCodeGrant},
			Scopes: []string{"orders:read"}, DefaultScopes: []string{"orders:read"},
			Audiences: []string{apiAudience}, RedirectURIs: []string{afWebRedirect},
		},
		{
			ID: afCCRedirectID, SecretHash: hash, GrantTypes: []string{"client_credentials"},
			Scopes: []string{"orders:read"}, DefaultScopes: []string{"orders:read"},
			Audiences: []string{apiAudience}, RedirectURIs: []string{afCCRedirect},
		},
		{
			ID: afResourceID, SecretHash: hash, GrantTypes: []string{"client_credentials"},
			Scopes: []string{"introspect"}, DefaultScopes: []string{"introspect"}, Audiences: []string{apiAudience},
			Introspector: true,
		},
		{
			ID: afTrustedID, SecretHash: hash, GrantTypes: []string{afUserGrant, afRefreshGrant},
			Scopes: []string{"orders:read", "orders:write"}, DefaultScopes: []string{"orders:read"},
			Audiences: []string{apiAudience, qaAudience},
		},
		{
			ID: afTrustedNoRefreshID, SecretHash: hash, GrantTypes: []string{afUserGrant},
			Scopes: []string{"orders:read"}, DefaultScopes: []string{"orders:read"}, Audiences: []string{apiAudience},
		},
	}
}

// afClock is a clock the test moves.
type afClock struct{ ns atomic.Int64 }

func newAFClock() *afClock {
	c := &afClock{}
	c.ns.Store(fixedNow.UnixNano())
	return c
}

func (c *afClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *afClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// afEnv is one server under test: tollgate mounted at the root of an app
// that also serves a login page, the app's session cookie, a movable clock
// and the store behind both clients and tokens.
type afEnv struct {
	ts     *httptest.Server
	srv    *handler.Server
	clock  *afClock
	store  *memory.Store
	log    *logBuffer
	secret string
	// logins counts calls of the login hook.
	logins atomic.Int32

	mu     sync.Mutex
	claims []handler.ClaimsRequest // every call of the Claims hook
}

type afConnKey struct{}

var afConnSeq atomic.Int64

// afServer starts an af server. The default Login hook signs in whoever
// holds the afCookie session cookie (its value is the subject) and sends
// everyone else to afLoginPath, coming back to r.RequestURI. The default
// Claims hook adds the networknt example's user claims to user tokens.
// mutate runs last.
func afServer(t testing.TB, mutate func(*afEnv, *handler.Config)) *afEnv {
	t.Helper()
	plain, hash := afSecrets(t)
	key, err := afKey()
	if err != nil {
		t.Fatal(err)
	}
	store := testClients(t)
	for _, c := range afClients(hash) {
		if err := store.CreateClient(context.Background(), c); err != nil {
			t.Fatalf("adding client %q: %v", c.ID, err)
		}
	}
	env := &afEnv{clock: newAFClock(), store: store, log: &logBuffer{}, secret: plain}
	cfg := handler.Config{
		Issuer:  afIssuer,
		Clients: store,
		Tokens:  store,
		Now:     env.clock.Now,
		Logger:  slog.New(slog.NewTextHandler(env.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Keys:    []handler.SigningKey{{ID: "k1", Algorithm: "ES256", Key: key}},
		Login:   env.cookieLogin,
		Claims:  env.userClaims,
	}
	if mutate != nil {
		mutate(env, &cfg)
	}
	srv, err := handler.New(cfg)
	if err != nil {
		t.Fatalf("handler.New: %v", err)
	}
	env.srv = srv
	mux := http.NewServeMux()
	mux.HandleFunc(afLoginPath, afLoginPage)
	mux.Handle("/", srv)
	env.ts = httptest.NewUnstartedServer(mux)
	// Each connection gets an id in its context, which a wrapped store can
	// read to tell concurrent requests apart.
	env.ts.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, afConnKey{}, afConnSeq.Add(1))
	}
	env.ts.Start()
	t.Cleanup(env.ts.Close)
	return env
}

func (e *afEnv) cookieLogin(w http.ResponseWriter, r *http.Request) (string, bool) {
	e.logins.Add(1)
	if c, err := r.Cookie(afCookie); err == nil {
		return c.Value, true
	}
	http.Redirect(w, r, afLoginPath+"?return_to="+url.QueryEscape(r.RequestURI), http.StatusFound)
	return "", false
}

func (e *afEnv) userClaims(_ context.Context, req handler.ClaimsRequest) (map[string]any, error) {
	e.mu.Lock()
	e.claims = append(e.claims, req)
	e.mu.Unlock()
	if req.Subject == req.ClientID {
		return nil, nil // a client's own token: no user
	}
	return map[string]any{"user_id": req.Subject, "user_type": "customer", "version": "1.0"}, nil
}

func (e *afEnv) claimsCalls() []handler.ClaimsRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.claims)
}

// afLoginPage is the host app's login page: it signs the user in (the
// user parameter, default afUser) and sends the browser back.
func afLoginPage(w http.ResponseWriter, r *http.Request) {
	back := r.URL.Query().Get("return_to")
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") {
		http.Error(w, "bad return_to", http.StatusBadRequest)
		return
	}
	user := r.URL.Query().Get("user")
	if user == "" {
		user = afUser
	}
	http.SetCookie(w, &http.Cookie{Name: afCookie, Value: user, Path: "/", HttpOnly: true})
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// afHTTP is one HTTP exchange: status, headers, body, and the body as
// JSON when it is JSON.
type afHTTP struct {
	status int
	header http.Header
	raw    string
	json   map[string]any
}

func (r afHTTP) str(name string) string {
	s, _ := r.json[name].(string)
	return s
}

func (r afHTTP) String() string {
	raw := strings.TrimSpace(r.raw)
	if len(raw) > 300 {
		raw = raw[:300] + "..."
	}
	return fmt.Sprintf("%d %s", r.status, raw)
}

// afNoFollow is a client that never follows redirects: the tests look at
// each one.
var afNoFollow = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       30 * time.Second,
}

func afSend(req *http.Request) (afHTTP, error) {
	resp, err := afNoFollow.Do(req)
	if err != nil {
		return afHTTP{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return afHTTP{}, err
	}
	out := afHTTP{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&out.json); err != nil {
			return out, fmt.Errorf("response is not a JSON object: %v: %s", err, raw)
		}
	}
	return out, nil
}

func afDo(t testing.TB, req *http.Request) afHTTP {
	t.Helper()
	res, err := afSend(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return res
}

// afAuthorizeParams is a valid authorization request of client (PKCE
// S256 with verifier) to redirectURI.
func afAuthorizeParams(clientID, redirectURI, verifier string) url.Values {
	v := url.Values{
		"response_type": {"code"},
		"client_id":     {clientID},
		"state":         {afState},
		"scope":         {"orders:read profile"},
	}
	if redirectURI != "" {
		v.Set("redirect_uri", redirectURI)
	}
	if verifier != "" {
		v.Set("code_challenge", afS256(verifier))
		v.Set("code_challenge_method", "S256")
	}
	return v
}

// afAuthorizeRaw sends GET /oauth/authorize?rawQuery with the given
// session cookie (nil: none).
func (e *afEnv) afAuthorizeRaw(t testing.TB, rawQuery string, session *string) afHTTP {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+handler.AuthorizePath+"?"+rawQuery, nil)
	if session != nil {
		req.AddCookie(&http.Cookie{Name: afCookie, Value: *session})
	}
	return afDo(t, req)
}

// authorize sends a signed-in user's authorization request.
func (e *afEnv) authorize(t testing.TB, params url.Values) afHTTP {
	t.Helper()
	user := afUser
	return e.afAuthorizeRaw(t, params.Encode(), &user)
}

// afRedirect is a redirect back to the client, parsed.
type afRedirect struct {
	base     string     // scheme://host/path
	query    url.Values // the query parameters
	fragment string
}

// afRedirectTo checks res is a 303 back to redirectURI and parses it.
func afRedirectTo(t testing.TB, what string, res afHTTP, redirectURI string) afRedirect {
	t.Helper()
	if res.status != http.StatusSeeOther {
		t.Fatalf("%s: got %s, want 303 to %s", what, res, redirectURI)
	}
	loc, err := url.Parse(res.header.Get("Location"))
	if err != nil {
		t.Fatalf("%s: Location %q: %v", what, res.header.Get("Location"), err)
	}
	base := *loc
	base.RawQuery, base.Fragment, base.RawFragment = "", "", ""
	if base.String() != redirectURI {
		t.Fatalf("%s: redirected to %q, want %q", what, base.String(), redirectURI)
	}
	return afRedirect{base: base.String(), query: loc.Query(), fragment: loc.Fragment}
}

// afWantRedirectError checks res is an error redirect to redirectURI:
// error, state (afState) and iss in the query (the only response mode
// offered), nothing in the fragment, no code.
func afWantRedirectError(t testing.TB, what string, res afHTTP, redirectURI, code string) afRedirect {
	t.Helper()
	return afWantRedirectErrorState(t, what, res, redirectURI, code, afState)
}

// afWantRedirectErrorState is afWantRedirectError for a request whose
// state was state. Code "*" accepts any error code.
func afWantRedirectErrorState(t testing.TB, what string, res afHTTP, redirectURI, code, state string) afRedirect {
	t.Helper()
	rd := afRedirectTo(t, what, res, redirectURI)
	q := rd.query
	if got := q.Get("error"); got != code && (code != "*" || got == "") {
		t.Errorf("%s: error = %q, want %q (Location %s)", what, got, code, res.header.Get("Location"))
	}
	if got := q.Get("state"); got != state {
		t.Errorf("%s: state = %q, want %q", what, got, state)
	}
	if got := q.Get("iss"); got != afIssuer {
		t.Errorf("%s: iss = %q, want %q", what, got, afIssuer)
	}
	if q.Has("code") {
		t.Errorf("%s: an error redirect carries a code", what)
	}
	if rd.fragment != "" {
		t.Errorf("%s: parameters in the fragment %q; only the query response mode is offered", what, rd.fragment)
	}
	return rd
}

// afWantShown checks an authorization error is shown to the user, not
// redirected: JSON error, no Location.
func afWantShown(t testing.TB, what string, res afHTTP, status int, code string) {
	t.Helper()
	if res.status != status || res.str("error") != code {
		t.Errorf("%s: got %s, want %d %s", what, res, status, code)
	}
	if loc := res.header.Get("Location"); loc != "" {
		t.Errorf("%s: Location %q on an error shown directly (open redirect)", what, loc)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want JSON", what, ct)
	}
}

// code runs an authorization request of a signed-in user and returns the
// code, with the PKCE verifier it was bound to.
func (e *afEnv) code(t testing.TB, clientID, redirectURI string, mutate func(url.Values)) (code, verifier string) {
	t.Helper()
	verifier = afVerifier(t)
	params := afAuthorizeParams(clientID, redirectURI, verifier)
	if mutate != nil {
		mutate(params)
	}
	rd := afRedirectTo(t, "authorization request", e.authorize(t, params), redirectURI)
	if rd.query.Get("error") != "" || rd.query.Get("code") == "" {
		t.Fatalf("authorization request: Location query %v, want a code", rd.query)
	}
	return rd.query.Get("code"), verifier
}

// pair runs the whole authorization code flow for afUser (S256) and
// returns the tokens; mutate changes the authorization request.
func (e *afEnv) pair(t testing.TB, clientID string, mutate func(url.Values)) afPair {
	t.Helper()
	redirect := map[string]string{afWebID: afWebRedirect, afOtherWebID: afOtherRedirect, afSPAID: afSPARedirect, afCodeOnlyID: afWebRedirect}[clientID]
	if redirect == "" {
		t.Fatalf("no redirect URI for %s", clientID)
	}
	code, verifier := e.code(t, clientID, redirect, mutate)
	return afTokens(t, "redeeming the code of "+clientID, e.redeem(t, clientID, code, verifier, redirect))
}

// post sends a form to an endpoint as client: HTTP Basic for a
// confidential client, client_id in the body for a public one, no
// credentials for "".
func (e *afEnv) post(t testing.TB, path, clientID string, form url.Values) afHTTP {
	t.Helper()
	req := e.postRequest(path, clientID, form)
	return afDo(t, req)
}

func (e *afEnv) postRequest(path, clientID string, form url.Values) *http.Request {
	form = afClone(form)
	var basic string
	switch clientID {
	case "":
	case afSPAID, salesChannelID:
		form.Set("client_id", clientID)
	case integrationID:
		basic = clientID + ":" + integrationSecret
	default:
		basic = clientID + ":" + e.secret
	}
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != "" {
		id, secret, _ := strings.Cut(basic, ":")
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret))))
	}
	return req
}

func afClone(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// redeem exchanges a code at the token endpoint; empty verifier and
// redirectURI are left out.
func (e *afEnv) redeem(t testing.TB, clientID, code, verifier, redirectURI string) afHTTP {
	t.Helper()
	return e.post(t, handler.TokenPath, clientID, afRedeemForm(code, verifier, redirectURI))
}

func afRedeemForm(code, verifier, redirectURI string) url.Values {
	form := url.Values{"grant_type": {afCodeGrant}, "code": {code}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	if redirectURI != "" {
		form.Set("redirect_uri", redirectURI)
	}
	return form
}

// refresh uses a refresh token; extra adds parameters (scope, audience).
func (e *afEnv) refresh(t testing.TB, clientID, refreshToken string, extra url.Values) afHTTP {
	t.Helper()
	return e.post(t, handler.TokenPath, clientID, afRefreshForm(refreshToken, extra))
}

func afRefreshForm(refreshToken string, extra url.Values) url.Values {
	form := afClone(extra)
	form.Set("grant_type", afRefreshGrant)
	form.Set("refresh_token", refreshToken)
	return form
}

func (e *afEnv) revoke(t testing.TB, clientID, token, hint string) afHTTP {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return e.post(t, handler.RevokePath, clientID, form)
}

func (e *afEnv) introspect(t testing.TB, clientID, token, hint string) afHTTP {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return e.post(t, handler.IntrospectPath, clientID, form)
}

// active introspects token as the resource server and reports "active".
func (e *afEnv) active(t testing.TB, token string) bool {
	t.Helper()
	return e.activeAs(t, afResourceID, token, "")
}

func (e *afEnv) activeAs(t testing.TB, clientID, token, hint string) bool {
	t.Helper()
	res := e.introspect(t, clientID, token, hint)
	if res.status != http.StatusOK {
		t.Fatalf("introspection as %s: %s", clientID, res)
	}
	active, ok := res.json["active"].(bool)
	if !ok {
		t.Fatalf("introspection: no boolean active: %s", res.raw)
	}
	if !active && len(res.json) != 1 {
		t.Errorf("inactive introspection says more than active:false: %s", res.raw)
	}
	return active
}

// afPair is a successful token response.
type afPair struct {
	access, refresh, scope string
	expiresIn              int64
}

// afTokens checks res is a successful token response and returns it.
func afTokens(t testing.TB, what string, res afHTTP) afPair {
	t.Helper()
	if res.status != http.StatusOK {
		t.Fatalf("%s: got %s, want 200", what, res)
	}
	for _, h := range [][2]string{{"Cache-Control", "no-store"}, {"Pragma", "no-cache"}} {
		if got := res.header.Get(h[0]); got != h[1] {
			t.Errorf("%s: %s = %q, want %q", what, h[0], got, h[1])
		}
	}
	p := afPair{access: res.str("access_token"), refresh: res.str("refresh_token"), scope: res.str("scope")}
	if n, ok := res.json["expires_in"].(json.Number); ok {
		p.expiresIn, _ = n.Int64()
	}
	if p.access == "" || res.str("token_type") != "Bearer" {
		t.Fatalf("%s: no Bearer access token: %s", what, res.raw)
	}
	return p
}

// afWantError checks a JSON protocol error: status, code, and (if not
// empty) a substring of the description.
func afWantError(t testing.TB, what string, res afHTTP, status int, code, desc string) {
	t.Helper()
	if res.status != status || res.str("error") != code {
		t.Errorf("%s: got %s, want %d %s", what, res, status, code)
		return
	}
	if desc != "" && !strings.Contains(res.str("error_description"), desc) {
		t.Errorf("%s: error_description %q, want it to contain %q", what, res.str("error_description"), desc)
	}
	if got := res.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, got)
	}
}

// afJWT decodes an access token without verifying it (the middleware and
// introspection verify).
func afJWT(t testing.TB, token string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("access token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("JWT part %d: %v", i, err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(dst); err != nil {
			t.Fatalf("JWT part %d: %v: %s", i, err, raw)
		}
	}
	return header, claims
}

// afNum reads a numeric claim.
func afNum(t testing.TB, m map[string]any, name string) int64 {
	t.Helper()
	n, ok := m[name].(json.Number)
	if !ok {
		t.Fatalf("%s = %#v, want a number", name, m[name])
	}
	v, err := n.Int64()
	if err != nil {
		t.Fatalf("%s = %s: %v", name, n, err)
	}
	return v
}

// afAud returns the aud claim as a list.
func afAud(m map[string]any) []string {
	switch a := m["aud"].(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, v := range a {
			s, _ := v.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func afVerifier(t testing.TB) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]) // 43 characters
}

func afS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// afParallel sends the same request n times at once and returns the
// answers; a transport error is reported, not fatal.
func afParallel(t testing.TB, n int, build func() *http.Request) []afHTTP {
	t.Helper()
	out := make([]afHTTP, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		req := build()
		wg.Go(func() {
			<-start
			out[i], errs[i] = afSend(req)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	return out
}

// afCount tallies answers by "status error".
func afCount(res []afHTTP) map[string]int {
	m := map[string]int{}
	for _, r := range res {
		m[fmt.Sprintf("%d %s", r.status, r.str("error"))]++
	}
	return m
}
