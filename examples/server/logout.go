package main

import "net/http"

const logoutPath = "/logout"

// serveLogoutForm shows a sign-out button. GET never signs anybody out: a
// link or an image on another site could send it.
func (p *loginPage) serveLogoutForm(w http.ResponseWriter, r *http.Request) {
	name, ok := p.signer.session(r)
	if !ok {
		render(w, p.log, http.StatusOK, page{Title: "Sign out", Message: "You are not signed in."})
		return
	}
	nonce, ok := p.signer.csrfFor(w, r, p.log, "logout")
	if !ok {
		return
	}
	render(w, p.log, http.StatusOK, page{Title: "Sign out", Message: "You are signed in as " + name + ".",
		Logout: &csrfForm{CSRF: p.signer.csrfToken(nonce)}})
}

// serveLogout ends the browser's session (POST, with the CSRF token: a
// page on another site must not sign the user out either). The session is
// forgotten by the server, so its cookie is refused from then on, even
// replayed from a copy. Signing out while signed out is not an error.
func (p *loginPage) serveLogout(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.signer.postedForm(w, r, p.log, "Sign out"); !ok {
		return
	}
	if name, ok := p.signer.session(r); ok {
		p.log.Info("logout: signed out", "user", name)
	}
	p.signer.endSession(w, r)
	render(w, p.log, http.StatusOK, page{Title: "Signed out", Message: "You are signed out."})
}
