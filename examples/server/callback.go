package main

import (
	"log/slog"
	"net/http"
	"net/url"
)

const callbackPath = "/callback"

// callbackData is what the authorization endpoint sent back to the
// redirect URI, and (zero-config demo) the curl line that redeems it.
type callbackData struct {
	Code, State, Issuer, Error, Description string
	Curl                                    string
}

// callbackPage stands in for a client application at a redirect URI on the
// demo server itself, so a curl-driven walkthrough needs no second program:
// it only shows what came back. With the zero-config demo it knows the
// demo client and its PKCE verifier, so it also prints the token request.
type callbackPage struct {
	demo *demo // nil unless zero-config
	log  *slog.Logger
}

func (c callbackPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := &callbackData{
		Code: q.Get("code"), State: q.Get("state"), Issuer: q.Get("iss"),
		Error: q.Get("error"), Description: q.Get("error_description"),
	}
	if c.demo != nil && d.Code != "" {
		// Escaped: a crafted link could otherwise put a quote, and so a
		// command, into the line the user pastes into a shell.
		d.Curl = c.demo.exchangeCurl(url.QueryEscape(d.Code))
	}
	title := "Authorization code received"
	if d.Code == "" {
		title = "No authorization code"
	}
	render(w, c.log, http.StatusOK, page{Title: title, Result: d})
}
