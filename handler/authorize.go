package handler

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/printable"
	"github.com/tollgate-oauth/tollgate/internal/provider"
)

// serveAuthorize is the authorization endpoint (RFC 6749 §4.1.1), served
// when Config.Login is set. Before fosite sees the request, its
// parameters are held to the token endpoint's rules (none repeated, RFC
// 6749 §3.1; no stray whitespace or control characters); such errors are
// shown here, never redirected, since the redirect URI is not trusted yet.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) (answer, error) {
	if e := allowOnly(r, http.MethodGet, http.MethodPost); e != nil {
		return answer{}, e
	}
	if e := s.limitByIP(r.Context(), s.ips.Key(r)); e != nil {
		return answer{}, e
	}
	params, e := authorizeParams(r, s.cfg.MaxBodyBytes, w)
	if e != nil {
		return answer{}, e
	}
	for name, values := range params {
		if len(values) > 1 {
			return answer{}, oautherr.InvalidRequest("parameter %s is repeated", oautherr.Quote(name))
		}
		if p := printable.Problem(values[0]); p != "" {
			return answer{}, oautherr.InvalidRequest("parameter %s %s", oautherr.Quote(name), p)
		}
	}
	var consent provider.ConsentFunc
	if s.cfg.Consent != nil {
		consent = s.askConsent
	}
	switch res, status := s.provider.Authorize(w, r, provider.LoginFunc(s.cfg.Login), consent); res {
	case provider.AuthorizeIssued:
		return answer{outcome: outIssued}, nil
	case provider.AuthorizeLogin:
		return answer{outcome: outLogin}, nil
	case provider.AuthorizeConsent:
		return answer{outcome: outConsent}, nil
	default:
		return answer{outcome: classify(status, res)}, nil
	}
}

// authorizeParams returns every parameter fosite will read: the query and,
// for POST, the form body, together. fosite reads r.Form, which is both
// (the body's values first), so a parameter in each is a repeat, and a
// check of one half only would let the other through unchecked. fosite
// also parses a multipart body, for GET too, which is refused here: no
// authorization request needs one, and it would be one more half.
func authorizeParams(r *http.Request, maxBody int64, w http.ResponseWriter) (url.Values, *oautherr.Error) {
	ct := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Type")))
	if strings.HasPrefix(ct, "multipart/") {
		return nil, oautherr.InvalidRequest("a multipart body is not accepted: send the parameters in the query or as application/x-www-form-urlencoded")
	}
	all, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, oautherr.InvalidRequest("the request URL query is malformed")
	}
	if r.Method == http.MethodGet {
		return all, nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		return nil, oautherr.InvalidRequest("the request body is not a valid form")
	}
	for name, values := range r.PostForm {
		all[name] = append(all[name], values...)
	}
	return all, nil
}
