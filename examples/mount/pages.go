package main

import (
	"bytes"
	"context"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ulule/limiter/v3"
	limitermemory "github.com/ulule/limiter/v3/drivers/store/memory"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
)

// site is the app's own part: users, sessions and pages, plus the two hooks
// it lends tollgate.
type site struct {
	base     string
	users    users
	sessions *sessions
	// failedLogins counts failed logins per client IP. Each attempt costs
	// an argon2id hash (19 MiB), so guessing is slowed and memory bounded.
	failedLogins *limiter.Limiter
	log          *slog.Logger
}

func newSite(base string, us users, logger *slog.Logger) *site {
	return &site{
		base:         base,
		users:        us,
		sessions:     &sessions{secure: strings.HasPrefix(base, "https://"), byID: map[string]session{}},
		failedLogins: limiter.New(limitermemory.NewStore(), limiter.Rate{Period: time.Minute, Limit: 10}),
		log:          logger,
	}
}

// authorizeUser is tollgate's Login hook, called by /auth/oauth/authorize
// once the request itself is valid: the user of the app's own session, or
// a redirect to the app's login page that comes back here.
func (s *site) authorizeUser(w http.ResponseWriter, r *http.Request) (string, bool) {
	if username, ok := s.sessions.user(r); ok {
		return username, true
	}
	// http.StripPrefix took /auth off r.URL but not off r.RequestURI, the
	// URL as the browser sent it: that is the way back.
	back := r.RequestURI
	if r.Method == http.MethodPost && r.ParseForm() == nil {
		// A POSTed request has its parameters in the body: come back with
		// the equivalent GET.
		path, _, _ := strings.Cut(back, "?")
		back = path + "?" + r.Form.Encode()
	}
	http.Redirect(w, r, "/login?"+url.Values{"return_to": {back}}.Encode(), http.StatusSeeOther)
	return "", false
}

// userClaims is tollgate's Claims hook: a user's tokens carry their display
// name; the machine client's carry nothing more.
func (s *site) userClaims(_ context.Context, req handler.ClaimsRequest) (map[string]any, error) {
	if req.GrantType == storage.GrantClientCredentials {
		return nil, nil
	}
	if u, ok := s.users[req.Subject]; ok {
		return map[string]any{"name": u.Name}, nil
	}
	return nil, nil
}

func (s *site) home(w http.ResponseWriter, r *http.Request) {
	username, _ := s.sessions.user(r)
	s.render(w, http.StatusOK, "home", map[string]any{"User": username})
}

func (s *site) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "login", map[string]any{"ReturnTo": localPath(r.URL.Query().Get("return_to"))})
}

// login checks the form and, on success, starts a session and goes back to
// return_to (the authorization request, when tollgate sent the user here).
func (s *site) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	username, back := r.PostForm.Get("username"), localPath(r.PostForm.Get("return_to"))
	// Behind a proxy, RemoteAddr is the proxy: key on the client's IP there.
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	if lc, err := s.failedLogins.Peek(r.Context(), ip); err == nil && lc.Remaining == 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(max(lc.Reset-time.Now().Unix(), 1), 10))
		http.Error(w, "too many failed logins; try again later", http.StatusTooManyRequests)
		return
	}
	if _, ok := s.users.check(username, r.PostForm.Get("password")); !ok {
		_, _ = s.failedLogins.Increment(r.Context(), ip, 1)
		s.log.InfoContext(r.Context(), "login failed", "ip", ip) // never the password
		s.render(w, http.StatusUnauthorized, "login", map[string]any{"ReturnTo": back, "Username": username, "Failed": true})
		return
	}
	s.sessions.start(w, r, username)
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (s *site) logout(w http.ResponseWriter, r *http.Request) {
	s.sessions.end(w, r)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// callback is the playground client's redirect URI: it shows the code (or
// the error) and the curl that redeems it. A real client would check state
// and iss, then redeem the code itself.
func (s *site) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	code := q.Get("code")
	if strings.ContainsFunc(code, func(c rune) bool { return !urlSafe(c) }) {
		code = "" // the page offers a shell command: only token characters go in it
	}
	s.render(w, http.StatusOK, "callback", map[string]any{
		"Code": code, "State": q.Get("state"), "Issuer": q.Get("iss"),
		"Error": q.Get("error"), "Description": q.Get("error_description"),
		"TokenURL": s.base + authPrefix + handler.TokenPath, "RedirectURI": s.base + "/callback",
	})
}

func urlSafe(c rune) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("-._~", c)
}

// localPath returns target if it is a path on this site, else "/". The
// login page sends a freshly signed-in browser there, so anything else
// would be an open redirect: to a browser "//evil.example" and
// "/\evil.example" are other hosts, and tabs and newlines are dropped
// before the URL is read.
func localPath(target string) string {
	if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") ||
		strings.ContainsFunc(target, func(c rune) bool { return c == '\\' || c < 0x20 || c == 0x7f }) {
		return "/"
	}
	return target
}

// render writes a page. Pages are never cached or framed (clickjacking on
// the login form) and send no Referer (the callback page's URL holds a
// code).
func (s *site) render(w http.ResponseWriter, status int, name string, data any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		s.log.Error("rendering page", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

var pages = template.Must(template.New("").Parse(`
{{define "top"}}<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Example app</title>
<body><h1>Example app</h1>{{end}}

{{define "home"}}{{template "top"}}
{{if .User}}<p>Signed in as {{.User}}.</p>
<form method="post" action="/logout"><button>Log out</button></form>
{{else}}<p><a href="/login">Log in</a></p>{{end}}
<p>Third-party apps sign our users in through <code>/auth</code>
and call <code>/api/profile</code> with the tokens they get.</p>
{{end}}

{{define "login"}}{{template "top"}}
{{if .Failed}}<p role="alert">Wrong username or password.</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="return_to" value="{{.ReturnTo}}">
<label>Username <input name="username" value="{{.Username}}" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button>Log in</button>
</form>
{{end}}

{{define "callback"}}{{template "top"}}
{{if .Error}}<p>The authorization server answered <b>{{.Error}}</b>: {{.Description}}</p>
{{else if not .Code}}<p>No authorization code here.</p>
{{else}}<p>Authorization code (state {{.State}}, from {{.Issuer}}):</p>
<pre id="code">{{.Code}}</pre>
<p>Redeem it within 10 minutes, with the verifier whose challenge you sent:</p>
<pre>curl -s {{.TokenURL}} -d grant_type=authorization_code -d client_id=playground \
  --data-urlencode redirect_uri={{.RedirectURI}} -d code={{.Code}} -d code_verifier="$VERIFIER"</pre>
{{end}}{{end}}
`))
