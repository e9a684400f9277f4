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
func (s *Server) serveRevoke(w http.ResponseWriter, r *http.Request) {
	client, req, ok := s.clientRequest(w, r)
	if !ok {
		return
	}
	if err := s.provider.Revoke(r.Context(), client, req.Get("token"), req.Get("token_type_hint")); err != nil {
		s.fail(w, r, err)
		return
	}
	s.maybePurge()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
}

// serveIntrospect is the introspection endpoint (RFC 7662), for
// confidential clients (resource servers) only, each answered only about
// the tokens [mayIntrospect] lets it see.
func (s *Server) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	client, req, ok := s.clientRequest(w, r)
	if !ok {
		return
	}
	if client.Public {
		s.fail(w, r, oautherr.InvalidClient(req.Basic, "introspection requires a confidential client"))
		return
	}
	in, err := s.provider.Introspect(r.Context(), client, req.Get("token"), req.Get("token_type_hint"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !mayIntrospect(client, in) {
		in = &provider.Introspection{Active: false}
	}
	writeJSON(w, http.StatusOK, in)
}

// clientRequest runs the steps the revocation and introspection endpoints
// share with the token endpoint: POST, limit by IP, strict parsing, client
// authentication (with its brute-force guard), and a token parameter.
func (s *Server) clientRequest(w http.ResponseWriter, r *http.Request) (*storage.Client, *tokenrequest.Request, bool) {
	if r.Method != http.MethodPost {
		e := oautherr.InvalidRequest("this endpoint accepts POST only")
		e.Status = http.StatusMethodNotAllowed
		s.fail(w, r, e.WithHeader("Allow", http.MethodPost))
		return nil, nil, false
	}
	ctx := r.Context()
	ip := s.ips.Key(r)
	if e := s.limitByIP(ctx, ip); e != nil {
		s.fail(w, r, e)
		return nil, nil, false
	}
	req, e := tokenrequest.ParseOther(w, r, s.cfg.MaxBodyBytes)
	if e != nil {
		s.fail(w, r, e)
		return nil, nil, false
	}
	client, e := s.authenticate(ctx, req, ip)
	if e != nil {
		s.fail(w, r, e)
		return nil, nil, false
	}
	if req.Get("token") == "" {
		s.fail(w, r, oautherr.InvalidRequest("the token parameter is missing"))
		return nil, nil, false
	}
	return client, req, true
}
