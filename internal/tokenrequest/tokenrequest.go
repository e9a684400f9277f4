// Package tokenrequest reads a token endpoint request into one normal form,
// whatever its encoding: application/x-www-form-urlencoded or application/json
// bodies, client credentials in HTTP Basic or in the body. It is the strict
// front door: a repeated parameter, a value with stray whitespace or control
// characters, malformed Basic credentials or an oversized body stop here with
// an error that names the parameter, before any client lookup or secret
// check runs.
package tokenrequest

import (
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/printable"
	"github.com/tollgate-oauth/tollgate/internal/scope"
)

// DefaultMaxBodyBytes bounds a token request body when no limit is given.
const DefaultMaxBodyBytes = 64 << 10

// Parameters that may appear more than once (RFC 8707 §2).
const paramResource = "resource"

// Request is a token request in normal form.
type Request struct {
	GrantType string
	// Scopes requested, parsed from "scope"; nil when none was sent.
	Scopes []string
	// Audiences requested through "audience" (space separated) and RFC 8707
	// "resource" (repeatable), in order, without duplicates.
	Audiences []string

	// ClientID and ClientSecret from Basic or the body. ClientSecret is ""
	// for a public client.
	ClientID     string
	ClientSecret string
	// Basic is true when the credentials came in the Authorization header.
	Basic bool

	// Params holds every other single-valued parameter (code, redirect_uri,
	// extension-grant parameters...). Credentials are not in it. Empty
	// values were dropped, as RFC 6749 §3.2 treats them as omitted.
	Params map[string]string
}

// Get returns a parameter from Params.
func (r *Request) Get(name string) string { return r.Params[name] }

// Form renders the request as the url.Values fosite reads, without the
// client secret.
func (r *Request) Form() url.Values {
	f := make(url.Values, len(r.Params)+4)
	for k, v := range r.Params {
		f.Set(k, v)
	}
	f.Set("grant_type", r.GrantType)
	if r.ClientID != "" {
		f.Set("client_id", r.ClientID)
	}
	if len(r.Scopes) > 0 {
		f.Set("scope", scope.Join(r.Scopes))
	}
	if len(r.Audiences) > 0 {
		f.Set("audience", strings.Join(r.Audiences, " "))
	}
	return f
}

// Parse reads a token request (grant_type is required). w is only used to
// close the connection when the body is too large. maxBody <= 0 means
// DefaultMaxBodyBytes.
func Parse(w http.ResponseWriter, r *http.Request, maxBody int64) (*Request, *oautherr.Error) {
	return parseRequest(w, r, maxBody, true)
}

// ParseOther reads a request to another client-authenticated endpoint
// (revocation, introspection), under the same rules but with no
// grant_type.
func ParseOther(w http.ResponseWriter, r *http.Request, maxBody int64) (*Request, *oautherr.Error) {
	return parseRequest(w, r, maxBody, false)
}

func parseRequest(w http.ResponseWriter, r *http.Request, maxBody int64, requireGrant bool) (*Request, *oautherr.Error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	if r.URL.RawQuery != "" {
		// A query Go cannot parse could still carry credentials (a pair with
		// a ';' is dropped whole): refuse it rather than guess.
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, oautherr.InvalidRequest("the request URL query is malformed")
		}
		if q.Has("client_secret") || q.Has("client_id") {
			return nil, oautherr.InvalidRequest("client credentials must not be sent in the URL (RFC 6749 section 2.3.1)")
		}
	}
	kind, perr := contentKind(r.Header.Get("Content-Type"))
	if perr != nil {
		return nil, perr
	}
	if r.ContentLength > maxBody {
		return nil, tooLarge(maxBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge(maxBody)
		}
		return nil, oautherr.InvalidRequest("the request body could not be read")
	}

	var params map[string][]string
	if kind == kindJSON {
		params, perr = decodeJSON(body)
	} else {
		params, perr = decodeForm(body)
	}
	if perr != nil {
		return nil, perr
	}
	return build(params, r.Header.Values("Authorization"), requireGrant)
}

func build(params map[string][]string, authorization []string, requireGrant bool) (*Request, *oautherr.Error) {
	req := &Request{Params: make(map[string]string, len(params))}
	var resources []string
	// Sorted, so that of two bad parameters the same one is always named.
	for _, name := range slices.Sorted(maps.Keys(params)) {
		values := params[name]
		if len(values) > 1 && name != paramResource {
			return nil, oautherr.InvalidRequest("parameter %s is repeated", oautherr.Quote(name))
		}
		for _, v := range values {
			if p := printable.Problem(v); p != "" {
				return nil, oautherr.InvalidRequest("parameter %s %s", oautherr.Quote(name), p)
			}
		}
		switch {
		case name == paramResource:
			resources = values
		case values[0] != "":
			req.Params[name] = values[0]
		}
	}

	req.GrantType = take(req.Params, "grant_type")
	if req.GrantType == "" && requireGrant {
		return nil, oautherr.InvalidRequest("the grant_type parameter is missing")
	}
	if perr := req.parseScopeAndAudience(take(req.Params, "scope"), take(req.Params, "audience"), resources); perr != nil {
		return nil, perr
	}
	if perr := req.parseCredentials(authorization); perr != nil {
		return nil, perr
	}
	return req, nil
}

func (req *Request) parseScopeAndAudience(scopes, audience string, resources []string) *oautherr.Error {
	var err error
	if req.Scopes, err = scope.Parse(scopes); err != nil {
		return oautherr.InvalidScope("the scope parameter must be scope tokens separated by single spaces")
	}
	if audience != "" {
		for a := range strings.SplitSeq(audience, " ") {
			if a == "" || printable.HasSpace(a) {
				return oautherr.InvalidRequest("the audience parameter must be values separated by single spaces, with no other whitespace")
			}
			req.addAudience(a)
		}
	}
	for _, res := range resources {
		if res == "" {
			continue
		}
		if u, err := url.Parse(res); err != nil || !u.IsAbs() || strings.Contains(res, "#") || printable.HasSpace(res) {
			return oautherr.InvalidTarget("resource %s is not an absolute URI without a fragment", oautherr.Quote(res))
		}
		req.addAudience(res)
	}
	return nil
}

func (req *Request) addAudience(a string) {
	for _, have := range req.Audiences {
		if have == a {
			return
		}
	}
	req.Audiences = append(req.Audiences, a)
}

// parseCredentials applies RFC 6749 §2.3.1: Basic or body, never both.
func (req *Request) parseCredentials(authorization []string) *oautherr.Error {
	bodyID, bodySecret := take(req.Params, "client_id"), take(req.Params, "client_secret")
	switch len(authorization) {
	case 0:
		if bodySecret != "" && bodyID == "" {
			return oautherr.InvalidRequest("client_secret was sent without client_id")
		}
		req.ClientID, req.ClientSecret = bodyID, bodySecret
		return nil
	case 1:
	default:
		return oautherr.InvalidRequest("the Authorization header is repeated")
	}
	id, secret, perr := parseBasic(authorization[0])
	if perr != nil {
		return perr
	}
	if bodySecret != "" {
		return oautherr.InvalidRequest("client credentials were sent both in the Authorization header and in the body; use one method")
	}
	if bodyID != "" && bodyID != id {
		return oautherr.InvalidRequest("client_id in the body does not match the Authorization header")
	}
	req.ClientID, req.ClientSecret, req.Basic = id, secret, true
	return nil
}

func take(m map[string]string, key string) string {
	v := m[key]
	delete(m, key)
	return v
}

type bodyKind int

const (
	kindForm bodyKind = iota
	kindJSON
)

func contentKind(header string) (bodyKind, *oautherr.Error) {
	const want = "the Content-Type must be application/x-www-form-urlencoded or application/json"
	if header == "" {
		return 0, oautherr.InvalidRequest("%s", want)
	}
	mt, params, err := mime.ParseMediaType(header)
	if err != nil {
		return 0, oautherr.InvalidRequest("%s", want)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return 0, oautherr.InvalidRequest("the request body must be UTF-8")
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		return kindForm, nil
	case "application/json":
		return kindJSON, nil
	}
	return 0, oautherr.InvalidRequest("%s", want)
}

func tooLarge(limit int64) *oautherr.Error {
	e := oautherr.InvalidRequest("the request body is larger than %d bytes", limit)
	e.Status = http.StatusRequestEntityTooLarge
	return e
}
