package main

import (
	"crypto/rand"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
)

const (
	consentPath  = "/consent"
	consentsPath = "/consents"
	ticketField  = "ticket"
)

// consentPage is the demo's consent step (handler.Config.Consent) and the
// /consents page where a signed-in user revokes what they approved.
//
// The page is shown for every client not marked first_party, unless the
// user's remembered consent covers the request; always for a public
// client on a loopback or private-use redirect URI, first-party or not:
// any local program can use such a client's id and receive its redirect
// (RFC 8252 §8.6), so neither first_party nor a remembered consent says
// the user is talking to the real app.
//
// The form posts to /consent with a ticket, a random id the server keeps
// with what was asked (user, client, scopes, the authorization request to
// go back to). Answering spends the ticket and leaves the decision for
// that user and that authorization request, which the hook takes (once)
// when the browser comes back: a replayed form finds no ticket, and a
// decision cannot be carried to another request or user.
type consentPage struct {
	signer     *signer
	firstParty map[string]bool
	srv        *handler.Server // set once built: RevokeConsent, Consents
	log        *slog.Logger

	mu        sync.Mutex
	tickets   map[string]*consentTicket
	decisions map[string]consentAnswer // by user and return URL (answerKey)
}

type consentTicket struct {
	user, client, returnTo string
	scopes                 []string
	exp                    time.Time
}

type consentAnswer struct {
	decision handler.ConsentDecision
	exp      time.Time
}

// maxTicketsPerUser bounds the table as maxSessionsPerUser does the
// sessions: each page view adds a ticket.
const maxTicketsPerUser = 32

func newConsentPage(s *signer, clients []clientConfig, log *slog.Logger) *consentPage {
	p := &consentPage{signer: s, firstParty: map[string]bool{}, log: log,
		tickets: map[string]*consentTicket{}, decisions: map[string]consentAnswer{}}
	for _, c := range clients {
		p.firstParty[c.ID] = c.FirstParty
	}
	return p
}

func (p *consentPage) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+consentPath, p.serveAnswer)
	mux.HandleFunc("GET "+consentsPath, p.serveList)
	mux.HandleFunc("POST "+consentsPath, p.serveRevoke)
}

func answerKey(user, returnTo string) string { return user + "\x00" + returnTo }

// hook is handler.Config.Consent.
func (p *consentPage) hook(w http.ResponseWriter, r *http.Request, req handler.ConsentRequest) (handler.ConsentDecision, bool) {
	all := handler.ConsentDecision{Scopes: req.RequestedScopes}
	if !req.AlwaysAsk && (p.firstParty[req.Client.ID] || req.Covered()) {
		return all, true
	}
	back := comeBackURL(r)
	now := p.signer.now()
	p.mu.Lock()
	a, ok := p.decisions[answerKey(req.Subject, back)]
	delete(p.decisions, answerKey(req.Subject, back))
	p.mu.Unlock()
	if ok && now.Before(a.exp) {
		return a.decision, true
	}
	nonce, ok := p.signer.csrfFor(w, r, p.log, "consent")
	if !ok {
		return handler.ConsentDecision{}, false
	}
	id := rand.Text()
	p.mu.Lock()
	p.addTicket(id, &consentTicket{user: req.Subject, client: req.Client.ID, returnTo: back,
		scopes: slices.Clone(req.RequestedScopes), exp: now.Add(csrfTTL)}, now)
	p.mu.Unlock()
	render(w, p.log, http.StatusOK, page{Title: "Allow " + req.Client.ID + "?", Consent: &consentForm{
		CSRF: p.signer.csrfToken(nonce), Ticket: id, Client: req.Client.ID, User: req.Subject,
		RedirectURI: req.Client.RedirectURI, Native: req.AlwaysAsk,
		Scopes: req.RequestedScopes, Audience: req.RequestedAudience,
	}})
	return handler.ConsentDecision{}, false
}

// addTicket stores t under id, dropping expired tickets and decisions and
// the user's oldest ticket past maxTicketsPerUser. p.mu is held.
func (p *consentPage) addTicket(id string, t *consentTicket, now time.Time) {
	var oldest string
	count := 0
	for k, v := range p.tickets {
		switch {
		case !now.Before(v.exp):
			delete(p.tickets, k)
		case v.user == t.user:
			if count == 0 || v.exp.Before(p.tickets[oldest].exp) {
				oldest = k
			}
			count++
		}
	}
	if count >= maxTicketsPerUser {
		delete(p.tickets, oldest)
	}
	for k, v := range p.decisions {
		if !now.Before(v.exp) {
			delete(p.decisions, k)
		}
	}
	p.tickets[id] = t
}

// comeBackURL is where the browser comes back to after the login or the
// consent page: the authorization request as a GET (the endpoint also
// takes a form POST, whose parameters move into the query).
// r.URL.RequestURI rather than r.RequestURI: the latter may be the
// absolute form ("http://host/oauth/authorize?…") a proxy-style client
// sent, which validReturn rightly refuses.
func comeBackURL(r *http.Request) string {
	if r.Method == http.MethodPost {
		return handler.AuthorizePath + "?" + r.PostForm.Encode()
	}
	return r.URL.RequestURI()
}

// serveAnswer takes the consent form: CSRF (403), a live ticket of the
// signed-in user (400, 403), scopes among those asked (400); then leaves
// the decision for the hook and sends the browser back (303).
func (p *consentPage) serveAnswer(w http.ResponseWriter, r *http.Request) {
	const title = "Allow access"
	if _, ok := p.signer.postedForm(w, r, p.log, title); !ok {
		return
	}
	user, signedIn := p.signer.session(r)
	now := p.signer.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	id := r.PostForm.Get(ticketField)
	t, ok := p.tickets[id]
	switch {
	case !ok || !now.Before(t.exp):
		render(w, p.log, http.StatusBadRequest, page{Title: title,
			Error: "This consent request expired or was already answered. Go back to the application and start again."})
		return
	case !signedIn || user != t.user:
		render(w, p.log, http.StatusForbidden, page{Title: title,
			Error: "This consent request was made for another sign-in. Go back to the application and start again."})
		return
	}
	granted := r.PostForm["scope"]
	for _, s := range granted {
		if !slices.Contains(t.scopes, s) {
			render(w, p.log, http.StatusBadRequest, page{Title: title,
				Error: "The scope " + s + " was not requested; it cannot be granted here."})
			return
		}
	}
	delete(p.tickets, id)
	d := handler.ConsentDecision{Denied: r.PostForm.Get("action") != "allow"}
	if !d.Denied {
		d.Scopes, d.Remember = granted, r.PostForm.Get("remember") == "on"
	}
	p.decisions[answerKey(user, t.returnTo)] = consentAnswer{decision: d, exp: now.Add(csrfTTL)}
	p.log.Info("consent: answered", "user", user, "client_id", t.client, "denied", d.Denied)
	http.Redirect(w, r, t.returnTo, http.StatusSeeOther)
}

// serveList shows the signed-in user's remembered consents, each with a
// Revoke button.
func (p *consentPage) serveList(w http.ResponseWriter, r *http.Request) {
	p.list(w, r, "")
}

func (p *consentPage) list(w http.ResponseWriter, r *http.Request, message string) {
	const title = "Your consents"
	user, ok := p.signedIn(w, r, title)
	if !ok {
		return
	}
	list, err := p.srv.Consents(r.Context(), user)
	if err != nil {
		p.log.Error("consents: listing", "err", err)
		render(w, p.log, http.StatusServiceUnavailable, page{Title: title, Error: "The consents cannot be read now; try again later."})
		return
	}
	nonce, ok := p.signer.csrfFor(w, r, p.log, "consents")
	if !ok {
		return
	}
	view := &consentList{CSRF: p.signer.csrfToken(nonce)}
	for _, c := range list {
		view.Items = append(view.Items, consentItem{Client: c.ClientID, Scopes: c.Scopes, Audience: c.Audience,
			GrantedAt: c.GrantedAt.UTC().Format(time.RFC3339)})
	}
	render(w, p.log, http.StatusOK, page{Title: title, Message: message, Consents: view})
}

// signedIn returns the signed-in user, or answers 401 itself.
func (p *consentPage) signedIn(w http.ResponseWriter, r *http.Request, title string) (string, bool) {
	user, ok := p.signer.session(r)
	if !ok {
		render(w, p.log, http.StatusUnauthorized, page{Title: title, Error: "Sign in first: nobody is signed in in this browser."})
	}
	return user, ok
}

// serveRevoke revokes one consent of the signed-in user, and every token
// it issued.
func (p *consentPage) serveRevoke(w http.ResponseWriter, r *http.Request) {
	const title = "Your consents"
	if _, ok := p.signer.postedForm(w, r, p.log, title); !ok {
		return
	}
	user, ok := p.signedIn(w, r, title)
	if !ok {
		return
	}
	client := r.PostForm.Get("client_id")
	if client == "" || textProblem(client) != "" {
		render(w, p.log, http.StatusBadRequest, page{Title: title, Error: "The form names no client."})
		return
	}
	if err := p.srv.RevokeConsent(r.Context(), user, client); err != nil {
		p.log.Error("consents: revoking", "client_id", client, "err", err)
		render(w, p.log, http.StatusServiceUnavailable, page{Title: title, Error: "The consent could not be revoked now; try again later."})
		return
	}
	p.log.Info("consents: revoked", "user", user, "client_id", client)
	p.list(w, r, "Revoked "+client+": its tokens no longer work.")
}
