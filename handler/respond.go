package handler

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/ulule/limiter/v3"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/provider"
	"github.com/tollgate-oauth/tollgate/internal/ratelimit"
)

// respondToken writes a successful token response (RFC 6749 §5.1) with the
// client's remaining quota, so well-behaved clients can see the limit
// coming.
func (s *Server) respondToken(w http.ResponseWriter, resp *provider.Response, quota limiter.Context) {
	h := w.Header()
	// One backing array for the three values instead of three Header.Set
	// calls: the keys are canonical already, and the token path saves two
	// allocations. Each value gets a full-capacity slice, so an Add to one
	// cannot overwrite the next.
	v := [3]string{"application/json;charset=UTF-8", "no-store", "no-cache"}
	h["Content-Type"] = v[0:1:1]
	h["Cache-Control"] = v[1:2:2]
	h["Pragma"] = v[2:3:3]
	ratelimit.SetHeaders(h, quota)
	w.WriteHeader(http.StatusOK)
	size := len(resp.AccessToken) + len(resp.Scope) + len(resp.RefreshToken) + 128 // the names and numbers
	_, _ = w.Write(append(resp.AppendJSON(make([]byte, 0, size)), '\n'))
}

// fail answers with the protocol error of err, and returns it. Errors
// that are the server's own are logged with their cause and answered with
// a bare server_error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) *oautherr.Error {
	e, ok := errors.AsType[*oautherr.Error](err)
	if !ok {
		e = oautherr.ServerError()
		s.log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "error", err)
	} else {
		s.log.DebugContext(r.Context(), "request refused", "path", r.URL.Path, "status", e.Status, "error", e.Code, "description", e.Description)
	}
	oautherr.Write(w, e)
	return e
}

// writeJSON writes v as a no-store JSON answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		oautherr.Write(w, oautherr.ServerError())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
