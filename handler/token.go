package handler

import (
	"log/slog"
	"net/http"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/tokenrequest"
	"github.com/tollgate-oauth/tollgate/storage"
)

// serveToken is the token endpoint, one step per line.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		e := oautherr.InvalidRequest("the token endpoint accepts POST only")
		e.Status = http.StatusMethodNotAllowed
		s.fail(w, r, e.WithHeader("Allow", http.MethodPost))
		return
	}
	ctx := r.Context()
	ip := s.ips.Key(r)
	if e := s.limitByIP(ctx, ip); e != nil {
		s.fail(w, r, e)
		return
	}
	req, e := tokenrequest.Parse(w, r, s.cfg.MaxBodyBytes)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	// Before authentication, so an unknown grant never costs a secret check.
	if !s.provider.SupportsGrant(req.GrantType) {
		s.fail(w, r, oautherr.UnsupportedGrantType("grant_type %s is not supported", oautherr.Quote(req.GrantType)))
		return
	}
	client, e := s.authenticate(ctx, req, ip)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	quota, e := s.limitByClient(ctx, client.ID)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	if !client.HasGrantType(req.GrantType) {
		s.fail(w, r, oautherr.UnauthorizedClient("this client may not use grant_type %s", oautherr.Quote(req.GrantType)))
		return
	}
	resp, err := s.provider.Token(ctx, r, req, client)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Debug, not Info: at Info every token cost a write to the log on the
	// hot path (a system call per request with a plain stderr handler).
	// Operators who keep a record of issued tokens turn Debug on for it.
	s.log.LogAttrs(ctx, slog.LevelDebug, "token issued",
		slog.String("client_id", client.ID), slog.String("grant_type", req.GrantType), slog.String("scope", resp.Scope))
	if req.GrantType != storage.GrantClientCredentials {
		s.maybePurge() // the other grants write to the token store
	}
	s.respondToken(w, resp, quota)
}
