// Package oautherr is the protocol error every failure a client can cause
// becomes (RFC 6749 §5.2, RFC 7009, RFC 7662, RFC 8707), and the one place
// that writes it.
package oautherr

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Error codes (RFC 6749 §5.2, §4.1.2.1; RFC 8707 §2).
const (
	CodeInvalidRequest         = "invalid_request"
	CodeInvalidClient          = "invalid_client"
	CodeInvalidGrant           = "invalid_grant"
	CodeUnauthorizedClient     = "unauthorized_client"
	CodeUnsupportedGrantType   = "unsupported_grant_type"
	CodeInvalidScope           = "invalid_scope"
	CodeInvalidTarget          = "invalid_target"
	CodeServerError            = "server_error"
	CodeTemporarilyUnavailable = "temporarily_unavailable"
)

// Error is an OAuth error response.
type Error struct {
	Status      int    // HTTP status
	Code        string // "error"
	Description string // "error_description": safe to show, never holds a secret
	// Header is added to the response (WWW-Authenticate, Allow, Retry-After).
	Header http.Header
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// WithHeader returns e with a response header added.
func (e *Error) WithHeader(key, value string) *Error {
	if e.Header == nil {
		e.Header = make(http.Header)
	}
	e.Header.Add(key, value)
	return e
}

func newf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}

// InvalidRequest is a malformed request: 400 invalid_request.
func InvalidRequest(format string, args ...any) *Error {
	return newf(http.StatusBadRequest, CodeInvalidRequest, format, args...)
}

// InvalidClient is a failed client authentication: 401 invalid_client. When
// the client used HTTP Basic, basic adds the WWW-Authenticate challenge RFC
// 6749 §5.2 requires.
func InvalidClient(basic bool, format string, args ...any) *Error {
	e := newf(http.StatusUnauthorized, CodeInvalidClient, format, args...)
	if basic {
		e.WithHeader("WWW-Authenticate", `Basic realm="tollgate", charset="UTF-8"`)
	}
	return e
}

// InvalidGrant: 400 invalid_grant.
func InvalidGrant(format string, args ...any) *Error {
	return newf(http.StatusBadRequest, CodeInvalidGrant, format, args...)
}

// UnauthorizedClient: 400 unauthorized_client.
func UnauthorizedClient(format string, args ...any) *Error {
	return newf(http.StatusBadRequest, CodeUnauthorizedClient, format, args...)
}

// UnsupportedGrantType: 400 unsupported_grant_type.
func UnsupportedGrantType(format string, args ...any) *Error {
	return newf(http.StatusBadRequest, CodeUnsupportedGrantType, format, args...)
}

// InvalidScope: 400 invalid_scope.
func InvalidScope(format string, args ...any) *Error {
	return newf(http.StatusBadRequest, CodeInvalidScope, format, args...)
}

// InvalidTarget: 400 invalid_target (RFC 8707).
func InvalidTarget(format string, args ...any) *Error {
	return newf(http.StatusBadRequest, CodeInvalidTarget, format, args...)
}

// ServerError is an internal failure. Its description is fixed: the cause
// goes to the log, never to the client.
func ServerError() *Error {
	return &Error{Status: http.StatusInternalServerError, Code: CodeServerError,
		Description: "the server could not complete the request"}
}

// Unavailable is a dependency that is down or slow: 503.
func Unavailable(format string, args ...any) *Error {
	return newf(http.StatusServiceUnavailable, CodeTemporarilyUnavailable, format, args...)
}

// StorageDown is the description of every 503 for a store that does not
// answer, whichever endpoint or grant met it.
const StorageDown = "the authorization server cannot reach its storage; retry later"

// Unreachable is the 503 of a store that does not answer.
func Unreachable() *Error { return Unavailable("%s", StorageDown) }

// Write sends e as JSON with the no-store headers of RFC 6749 §5.1.
func Write(w http.ResponseWriter, e *Error) {
	h := w.Header()
	for k, vs := range e.Header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.Code, Sanitize(e.Description)})
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(body, '\n'))
}

// Sanitize limits an error description to the characters RFC 6749 §5.2
// allows (%x20-21 / %x23-5B / %x5D-7E): a double quote becomes a single
// quote, anything else outside the set becomes '?'. Descriptions quote client input, so this also
// keeps them one short, printable line.
func Sanitize(s string) string {
	const max = 300
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteByte('\'')
		case c < 0x20 || c > 0x7e || c == '\\':
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Quote renders client input for a description: single-quoted, shortened.
func Quote(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "..."
	}
	return "'" + s + "'"
}
