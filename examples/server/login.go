package main

import (
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/ratelimit"
)

const (
	loginPath     = "/login"
	csrfField     = "csrf_token"
	returnToField = "return_to"
	// maxForm bounds a POSTed form: a few short fields and an
	// authorization URL.
	maxForm = 16 << 10
)

// loginPage is the demo's sign-in and sign-out pages (/login, /logout) and
// the handler's Login hook that sends the browser to sign in. Consent is
// consentPage's.
type loginPage struct {
	users  *users
	signer *signer
	// Failed sign-ins are counted per client IP and per username typed
	// (known or not), in the shared rate-limit store when there is one.
	// nil when off.
	failedIP, failedUser *ratelimit.Limiter
	failClosed           bool // a failing counter store refuses sign-ins (503) instead of allowing them
	ips                  ratelimit.ClientIP
	log                  *slog.Logger
}

// routes serves the pages on mux.
func (p *loginPage) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+loginPath, p.serveForm)
	mux.HandleFunc("POST "+loginPath, p.serveLogin)
	mux.HandleFunc("GET "+logoutPath, p.serveLogoutForm)
	mux.HandleFunc("POST "+logoutPath, p.serveLogout)
}

// hook is handler.Config.Login: the signed-in user, or a redirect to the
// sign-in page that comes back to this authorization request.
func (p *loginPage) hook(w http.ResponseWriter, r *http.Request) (string, bool) {
	if name, ok := p.signer.session(r); ok && p.users.exists(name) {
		return name, true
	}
	http.Redirect(w, r, loginPath+"?"+url.Values{returnToField: {comeBackURL(r)}}.Encode(), http.StatusFound)
	return "", false
}

// validReturn accepts only this server's authorization endpoint, as a path
// with its query: anything else would make the login page an open
// redirect ("//evil.example" and "/\evil.example" are other hosts to a
// browser). Empty is allowed: signing in with nowhere to go back to.
//
// The string must also be what net/url reads back unchanged, with a query
// url.ParseQuery reads: the redirect goes through net/url, and the
// authorization endpoint refuses a malformed query anyway. hook never
// produces a fragment (browsers do not send one), so "#" is refused
// rather than reasoned about ("/oauth/authorize?#%" once passed).
func validReturn(s string) bool {
	if s == "" {
		return true
	}
	if path, _, _ := strings.Cut(s, "?"); path != handler.AuthorizePath ||
		strings.Contains(s, "#") || textProblem(s) != "" || hasSpace(s) {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.String() != s {
		return false
	}
	_, err = url.ParseQuery(u.RawQuery)
	return err == nil
}

func (p *loginPage) serveForm(w http.ResponseWriter, r *http.Request) {
	returnTo := r.URL.Query().Get(returnToField)
	if !validReturn(returnTo) {
		p.badReturn(w)
		return
	}
	nonce, ok := p.signer.csrfFor(w, r, p.log, "login")
	if !ok {
		return
	}
	p.form(w, http.StatusOK, nonce, returnTo, "", "")
}

// serveLogin checks, in order: the CSRF token (403), where to go back to
// (400), the failure budgets of the client's IP and of the username (429),
// the credentials (401); then signs the user in and sends the browser back
// (303).
func (p *loginPage) serveLogin(w http.ResponseWriter, r *http.Request) {
	nonce, ok := p.signer.postedForm(w, r, p.log, "Sign in")
	if !ok {
		return
	}
	returnTo := r.PostForm.Get(returnToField)
	if !validReturn(returnTo) {
		p.badReturn(w)
		return
	}
	ctx, ip, name := r.Context(), p.ips.Key(r), r.PostForm.Get("username")
	budgets := []budget{
		{lim: p.failedIP, key: ip, refusal: "Too many failed sign-ins from your address. Wait a minute and try again."},
		{lim: p.failedUser, key: userKey(name), refusal: "Too many failed sign-ins for this username. Wait a minute and try again."},
	}
	taken, spent, err := p.reserve(ctx, budgets)
	if err != nil {
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	if spent != nil {
		w.Header().Set("Retry-After", strconv.FormatInt(max(spent.reset-time.Now().Unix(), 1), 10))
		p.form(w, http.StatusTooManyRequests, nonce, returnTo, name, spent.refusal)
		return
	}
	if !p.users.authenticate(name, r.PostForm.Get("password")) {
		// The IP, never the username: people type passwords into it.
		p.log.Warn("login: failed sign-in", "ip", ip)
		p.form(w, http.StatusUnauthorized, nonce, returnTo, name, "Wrong username or password.")
		return
	}
	p.refund(ctx, taken)
	if err := p.signer.startSession(w, r, name); err != nil {
		p.log.Error("login: starting a session", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	p.log.Info("login: signed in", "user", name)
	if returnTo == "" {
		render(w, p.log, http.StatusOK, page{Title: "Signed in",
			Message: "You are signed in as " + name + ". Client applications can now send you to the authorization endpoint.",
			Logout:  &csrfForm{CSRF: p.signer.csrfToken(nonce)}})
		return
	}
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// postedForm reads a POSTed form and checks its CSRF token, answering 400
// or 403 itself. It returns the CSRF cookie's nonce, to render a form
// again with.
func (s *signer) postedForm(w http.ResponseWriter, r *http.Request, log *slog.Logger, title string) (nonce string, ok bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		render(w, log, http.StatusBadRequest, page{Title: title, Error: "The form could not be read."})
		return "", false
	}
	nonce, ok = s.checkCSRF(r)
	if !ok {
		render(w, log, http.StatusForbidden, page{Title: title,
			Error: "This form expired or was not sent from this server's page. Go back to the application and start again."})
	}
	return nonce, ok
}

func (p *loginPage) form(w http.ResponseWriter, status int, nonce, returnTo, username, problem string) {
	render(w, p.log, status, page{Title: "Sign in", Error: problem,
		Login: &loginForm{CSRF: p.signer.csrfToken(nonce), ReturnTo: returnTo, Username: username}})
}

func (p *loginPage) badReturn(w http.ResponseWriter) {
	render(w, p.log, http.StatusBadRequest, page{Title: "Sign in",
		Error: "return_to must be an authorization request to this server (" + handler.AuthorizePath + "?…)."})
}
