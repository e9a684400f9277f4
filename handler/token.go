package handler

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/tokenrequest"
	"github.com/tollgate-oauth/tollgate/storage"
)

// The spans of the token request's steps (internal/provider adds policy,
// mint and sign inside issue).
// (prelude.go's steps have theirs: tollgate.token.limit_ip, .parse,
// .authenticate.)
const (
	spanLimitClient = "tollgate.token.limit_client"
	spanIssue       = "tollgate.token.issue"
	spanRespond     = "tollgate.token.respond"
)

// knownGrant refuses a grant type the server does not serve, before
// authentication, so an unknown grant never costs a secret check.
func (s *Server) knownGrant(req *tokenrequest.Request) *oautherr.Error {
	if !s.provider.SupportsGrant(req.GrantType) {
		return oautherr.UnsupportedGrantType("grant_type %s is not supported", oautherr.Quote(req.GrantType))
	}
	return nil
}

// serveToken is the token endpoint, one step per line; each step that
// reads or waits on something has its span.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) (a answer, _ error) {
	client, req, _, e := s.prelude(w, r, epToken, tokenrequest.Parse, s.knownGrant)
	if req != nil {
		a.grant = req.GrantType
	}
	if e != nil {
		return a, e
	}
	a.client = client.ID
	ctx := r.Context()
	sctx, span := s.obs.step(ctx, spanLimitClient)
	quota, e := s.limitByClient(sctx, client.ID)
	stepDone(span, e)
	if e != nil {
		return a, e
	}
	if !client.HasGrantType(req.GrantType) {
		return a, oautherr.UnauthorizedClient("this client may not use grant_type %s", oautherr.Quote(req.GrantType))
	}
	if s.obs.auditing() {
		// For the audit of a replay, which the provider finds deep down.
		ctx = context.WithValue(ctx, auditRequestKey{}, r)
	}
	sctx, span = s.obs.step(ctx, spanIssue)
	resp, err := s.provider.Token(sctx, r, req, client)
	span.End() // the provider's steps inside say why it failed
	if err != nil {
		return a, err
	}
	// Debug, not Info: at Info every token cost a write to the log on the
	// hot path (a system call per request with a plain stderr handler).
	// Operators who keep a record of issued tokens turn Debug on for it,
	// or set Config.AuditLogger.
	s.log.LogAttrs(ctx, slog.LevelDebug, "token issued",
		slog.String("client_id", client.ID), slog.String("grant_type", req.GrantType), slog.String("scope", resp.Scope))
	s.obs.tokenIssued(ctx, r, client, req.GrantType, resp)
	if req.GrantType != storage.GrantClientCredentials {
		s.maybePurge() // the other grants write to the token store
	}
	_, span = s.obs.step(ctx, spanRespond)
	s.respondToken(w, resp, quota)
	span.End()
	a.outcome = outIssued
	return a, nil
}
