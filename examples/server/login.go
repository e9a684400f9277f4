package main

import (
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/internal/clientip"
	"github.com/tollgate-oauth/tollgate/internal/printable"
	"github.com/tollgate-oauth/tollgate/internal/ratelimit"
)

const (
	loginPath     = "/login"
	csrfField     = "csrf_token"
	returnToField = "return_to"
	// maxLoginForm bounds a POST /login body: a few short fields and an
	// authorization URL.
	maxLoginForm = 16 << 10
)

// loginPage is the demo's sign-in page (GET and POST /login) and the
// handler's Login hook that sends the browser there. No consent screen: a
// signed-in user is taken to have approved every request.
type loginPage struct {
	users  *users
	signer *signer
	failed *ratelimit.Limiter // failed sign-ins per client IP; nil when off
	ips    clientip.Resolver
	log    *slog.Logger
}

// hook is handler.Config.Login: the signed-in user, or a redirect to the
// sign-in page that comes back to this authorization request.
func (p *loginPage) hook(w http.ResponseWriter, r *http.Request) (string, bool) {
	if name, ok := p.signer.session(r); ok && p.users.exists(name) {
		return name, true
	}
	// r.URL.RequestURI rather than r.RequestURI: the latter may be the
	// absolute form ("http://host/oauth/authorize?…") a proxy-style client
	// sent, which returnTo rightly refuses.
	back := r.URL.RequestURI()
	if r.Method == http.MethodPost {
		// The authorization endpoint also takes a form POST; the browser
		// comes back with GET, so the parameters move into the query.
		back = handler.AuthorizePath + "?" + r.PostForm.Encode()
	}
	http.Redirect(w, r, loginPath+"?"+url.Values{returnToField: {back}}.Encode(), http.StatusFound)
	return "", false
}

// validReturn accepts only this server's authorization endpoint, as a path
// with its query: anything else would make the login page an open
// redirect ("//evil.example" and "/\evil.example" are other hosts to a
// browser). Empty is allowed: signing in with nowhere to go back to.
func validReturn(s string) bool {
	return s == "" || (s == handler.AuthorizePath || strings.HasPrefix(s, handler.AuthorizePath+"?")) &&
		printable.Problem(s) == "" && !printable.HasSpace(s)
}

func (p *loginPage) serveForm(w http.ResponseWriter, r *http.Request) {
	returnTo := r.URL.Query().Get(returnToField)
	if !validReturn(returnTo) {
		p.badReturn(w)
		return
	}
	nonce, err := p.signer.csrfNonce(w, r)
	if err != nil {
		p.log.Error("login: drawing a CSRF nonce", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	p.form(w, http.StatusOK, nonce, returnTo, "", "")
}

// serveLogin checks, in order: the CSRF token (403), where to go back to
// (400), the failure budget of the client's IP (429), the credentials
// (401); then signs the user in and sends the browser back (303).
func (p *loginPage) serveLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginForm)
	if err := r.ParseForm(); err != nil {
		render(w, p.log, http.StatusBadRequest, page{Title: "Sign in", Error: "The form could not be read."})
		return
	}
	nonce, ok := p.signer.checkCSRF(r)
	if !ok {
		render(w, p.log, http.StatusForbidden, page{Title: "Sign in",
			Error: "This form expired or was not sent from the sign-in page. Go back to the application and start again."})
		return
	}
	returnTo := r.PostForm.Get(returnToField)
	if !validReturn(returnTo) {
		p.badReturn(w)
		return
	}
	// Each attempt counts as a failure before its password is checked, and
	// is given back if it succeeds: counting after the check would let
	// guesses sent in parallel all pass the budget.
	ctx, ip := r.Context(), p.ips.Key(r)
	lc, err := p.failed.Take(ctx, ip)
	if err != nil {
		p.log.Error("login: rate limit store", "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	if lc.Reached {
		_ = p.failed.Refund(ctx, ip) // the refusal itself costs nothing
		w.Header().Set("Retry-After", strconv.FormatInt(max(lc.Reset-time.Now().Unix(), 1), 10))
		p.form(w, http.StatusTooManyRequests, nonce, returnTo, "", "Too many failed sign-ins from your address. Wait a minute and try again.")
		return
	}
	name := r.PostForm.Get("username")
	if !p.users.authenticate(name, r.PostForm.Get("password")) {
		// The IP, never the username: people type passwords into it.
		p.log.Warn("login: failed sign-in", "ip", ip)
		p.form(w, http.StatusUnauthorized, nonce, returnTo, name, "Wrong username or password.")
		return
	}
	if err := p.failed.Refund(ctx, ip); err != nil {
		p.log.Error("login: rate limit store", "err", err)
	}
	p.signer.startSession(w, name)
	p.log.Info("login: signed in", "user", name)
	if returnTo == "" {
		render(w, p.log, http.StatusOK, page{Title: "Signed in",
			Message: "You are signed in as " + name + ". Client applications can now send you to the authorization endpoint."})
		return
	}
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

func (p *loginPage) form(w http.ResponseWriter, status int, nonce, returnTo, username, problem string) {
	render(w, p.log, status, page{Title: "Sign in", Error: problem,
		Login: &loginForm{CSRF: p.signer.csrfToken(nonce), ReturnTo: returnTo, Username: username}})
}

func (p *loginPage) badReturn(w http.ResponseWriter) {
	render(w, p.log, http.StatusBadRequest, page{Title: "Sign in",
		Error: "return_to must be an authorization request to this server (" + handler.AuthorizePath + "?…)."})
}
