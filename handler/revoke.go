package handler

import (
	"net/http"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/provider"
	"github.com/tollgate-oauth/tollgate/internal/tokenrequest"
	"github.com/tollgate-oauth/tollgate/storage"
)

// serveRevoke is the revocation endpoint (RFC 7009): the client
// authenticates as at the token endpoint and names a token it holds. The
// answer is 200 whether or not the token was known (§2.2).
func (s *Server) serveRevoke(w http.ResponseWriter, r *http.Request) (answer, error) {
	client, req, e := s.clientRequest(r, w, epRevoke)
	if e != nil {
		return answer{}, e
	}
	a := answer{client: client.ID}
	rv, err := s.provider.Revoke(r.Context(), client, req.Get("token"), req.Get("token_type_hint"))
	if err != nil {
		return a, err
	}
	s.obs.revoked(r.Context(), r, client, rv)
	s.maybePurge()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
	return a, nil
}

// serveIntrospect is the introspection endpoint (RFC 7662), for
// confidential clients (resource servers) only, each answered only about
// the tokens [mayIntrospect] lets it see.
func (s *Server) serveIntrospect(w http.ResponseWriter, r *http.Request) (answer, error) {
	client, req, e := s.clientRequest(r, w, epIntrospect)
	if e != nil {
		return answer{}, e
	}
	a := answer{client: client.ID}
	if client.Public {
		return a, oautherr.InvalidClient(req.Basic, "introspection requires a confidential client")
	}
	in, err := s.provider.Introspect(r.Context(), client, req.Get("token"), req.Get("token_type_hint"))
	if err != nil {
		return a, err
	}
	if !mayIntrospect(client, in) {
		in = &provider.Introspection{Active: false}
	}
	writeJSON(w, http.StatusOK, in)
	return a, nil
}

// clientRequest is the revocation and introspection endpoints' start: the
// token endpoint's prelude, then a token parameter.
func (s *Server) clientRequest(r *http.Request, w http.ResponseWriter, ep endpoint) (*storage.Client, *tokenrequest.Request, *oautherr.Error) {
	client, req, _, e := s.prelude(w, r, ep, tokenrequest.ParseOther, nil)
	if e != nil {
		return nil, nil, e
	}
	if req.Get("token") == "" {
		return nil, nil, oautherr.InvalidRequest("the token parameter is missing")
	}
	return client, req, nil
}
