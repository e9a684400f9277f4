package main

import (
	"bytes"
	"html/template"
	"log/slog"
	"net/http"
)

// page is what the demo's HTML pages show; html/template escapes every
// field for where it lands (text, attribute, URL).
type page struct {
	Title    string
	Error    string
	Message  string
	Login    *loginForm    // the sign-in form, on /login
	Logout   *csrfForm     // a sign-out button, for a signed-in user
	Result   *callbackData // what came back to /callback
	Consent  *consentForm  // the consent form, at the authorization endpoint
	Consents *consentList  // the user's remembered consents, on /consents
}

// consentForm asks the user to approve a client. Native: the client is
// public on a loopback or private-use redirect URI, which any program on
// the user's machine can claim.
type consentForm struct {
	CSRF, Ticket, Client, User, RedirectURI string
	Native                                  bool
	Scopes, Audience                        []string
}

type consentList struct {
	CSRF  string
	Items []consentItem
}

type consentItem struct {
	Client, GrantedAt string
	Scopes, Audience  []string
}

type loginForm struct {
	CSRF, ReturnTo, Username string
}

// csrfForm is a form whose only field is the CSRF token.
type csrfForm struct {
	CSRF string
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>tollgate demo: {{.Title}}</title>
<style>body{font:16px system-ui,sans-serif;max-width:44em;margin:3em auto;padding:0 1em}
label{display:block;margin:.8em 0}input{font:inherit}.error{color:#a00}
pre{background:#eee;padding:.5em;white-space:pre-wrap;overflow-wrap:anywhere}</style>
</head><body><h1>{{.Title}}</h1>
{{with .Error}}<p class="error">{{.}}</p>{{end}}
{{with .Message}}<p>{{.}}</p>{{end}}
{{with .Login}}<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<input type="hidden" name="return_to" value="{{.ReturnTo}}">
<label>Username <input name="username" value="{{.Username}}" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>{{end}}
{{with .Logout}}<form method="post" action="/logout">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<button type="submit">Sign out</button>
</form>{{end}}
{{with .Consent}}<p><strong>{{.Client}}</strong> asks to act for you, <strong>{{.User}}</strong>.
It will receive the answer at <code>{{.RedirectURI}}</code>.</p>
{{if .Native}}<p class="error">This is an application on your device: any program on it can use this name.
Allow only if you started this from {{.Client}} just now.</p>{{end}}
<form method="post" action="/consent">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<input type="hidden" name="ticket" value="{{.Ticket}}">
{{with .Scopes}}<p>Access (untick what you do not want to grant):</p>
{{range .}}<label><input type="checkbox" name="scope" value="{{.}}" checked> {{.}}</label>
{{end}}{{end}}{{with .Audience}}<p>For use at: {{range $i, $a := .}}{{if $i}}, {{end}}<code>{{$a}}</code>{{end}}</p>{{end}}
<label><input type="checkbox" name="remember" checked> Remember this decision</label>
<button type="submit" name="action" value="allow">Allow</button>
<button type="submit" name="action" value="deny">Deny</button>
</form>{{end}}
{{with .Consents}}{{if .Items}}<table>
<tr><th>Application</th><th>Access</th><th>For use at</th><th>Since</th><th></th></tr>
{{range .Items}}<tr><td>{{.Client}}</td><td>{{range .Scopes}}{{.}} {{end}}</td><td>{{range .Audience}}{{.}} {{end}}</td><td>{{.GrantedAt}}</td>
<td><form method="post" action="/consents"><input type="hidden" name="csrf_token" value="{{$.Consents.CSRF}}">
<input type="hidden" name="client_id" value="{{.Client}}"><button type="submit">Revoke</button></form></td></tr>
{{end}}</table>{{else}}<p>You have not allowed any application yet.</p>{{end}}{{end}}
{{with .Result}}<dl>
{{with .Code}}<dt>code</dt><dd><pre id="code">{{.}}</pre></dd>{{end}}
{{with .State}}<dt>state</dt><dd><pre id="state">{{.}}</pre></dd>{{end}}
{{with .Issuer}}<dt>iss</dt><dd><pre>{{.}}</pre></dd>{{end}}
{{with .Error}}<dt>error</dt><dd><pre id="error">{{.}}</pre></dd>{{end}}
{{with .Description}}<dt>error_description</dt><dd><pre>{{.}}</pre></dd>{{end}}
</dl>
{{with .Curl}}<p>Redeem the code (once, within its lifetime) with the PKCE verifier printed at start:</p>
<pre id="curl">{{.}}</pre>{{end}}{{end}}
</body></html>
`))

// render writes p with status. The headers keep the pages out of frames
// (clickjacking the sign-in form), caches and Referer headers (the callback
// URL holds a code); no script runs on them at all. No form-action
// directive: browsers apply it to the whole redirect chain after the POST,
// which ends at the client's redirect URI on another origin.
func render(w http.ResponseWriter, log *slog.Logger, status int, p page) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		log.Error("rendering page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
