package middleware

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
)

// Error codes of RFC 6750 §3.1.
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
)

// Error is a refused request.
type Error struct {
	Status      int
	Code        string // "" when the request had no token at all
	Description string
	Scope       string // the scopes required, for insufficient_scope
	// Header holds headers the answer needs besides the challenge
	// (Retry-After, X-RateLimit-*).
	Header http.Header
	// Cause is what the host may want to know and the client must not:
	// for a refused token, the verification error with its details (both
	// issuers on an issuer mismatch, the audience looked for). A custom
	// ErrorWriter can log it; WriteError never sends it. Nil when there is
	// nothing more to say.
	Cause error

	reason reason // for metrics and traces; set where the refusal is made
}

// Unwrap returns Cause, so errors.Is sees through an *Error.
func (e *Error) Unwrap() error { return e.Cause }

func (e *Error) Error() string {
	if e.Code == "" {
		return e.Description
	}
	return e.Code + ": " + e.Description
}

// Challenge is the WWW-Authenticate value for e (RFC 6750 §3), or "" for
// answers that take none (429, 503).
func (e *Error) Challenge(realm string) string {
	if e.Status != http.StatusUnauthorized && e.Status != http.StatusForbidden && e.Status != http.StatusBadRequest {
		return ""
	}
	var b strings.Builder
	b.WriteString(`Bearer realm="` + realm + `"`)
	if e.Code != "" {
		b.WriteString(`, error="` + e.Code + `"`)
		if e.Description != "" {
			b.WriteString(`, error_description="` + oautherr.Sanitize(strings.ReplaceAll(e.Description, `"`, `'`)) + `"`)
		}
	}
	if e.Scope != "" {
		b.WriteString(`, scope="` + e.Scope + `"`)
	}
	return b.String()
}

// ErrorWriter writes a refused request. realm is the configured realm.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, e *Error, realm string)

// WriteError is the default ErrorWriter: the challenge header, the extra
// headers and a JSON body with error and error_description.
func WriteError(w http.ResponseWriter, _ *http.Request, e *Error, realm string) {
	h := w.Header()
	for k, vs := range e.Header {
		h[k] = vs
	}
	if c := e.Challenge(realm); c != "" {
		h.Set("WWW-Authenticate", c)
	}
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	body, _ := json.Marshal(struct {
		Error       string `json:"error,omitempty"`
		Description string `json:"error_description,omitempty"`
		Scope       string `json:"scope,omitempty"`
	}{e.Code, oautherr.Sanitize(e.Description), e.Scope})
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(body, '\n'))
}
