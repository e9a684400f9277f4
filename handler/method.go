package handler

import (
	"net/http"
	"slices"
	"strings"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
)

// allowOnly is every endpoint's method check: nil when r's method is one
// of methods, else the one 405 answer, with its Allow header, that every
// endpoint gives.
func allowOnly(r *http.Request, methods ...string) *oautherr.Error {
	if slices.Contains(methods, r.Method) {
		return nil
	}
	e := oautherr.InvalidRequest("this endpoint accepts %s only", strings.Join(methods, " and "))
	e.Status = http.StatusMethodNotAllowed
	return e.WithHeader("Allow", strings.Join(methods, ", "))
}
