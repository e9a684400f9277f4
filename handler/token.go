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
const (
	spanLimitIP      = "tollgate.token.limit_ip"
	spanParse        = "tollgate.token.parse"
	spanAuthenticate = "tollgate.token.authenticate"
	spanLimitClient  = "tollgate.token.limit_client"
	spanIssue        = "tollgate.token.issue"
	spanRespond      = "tollgate.token.respond"
)

// serveToken is the token endpoint, one step per line; each step that
// reads or waits on something has its span.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) (a answer, _ error) {
	if e := allowOnly(r, http.MethodPost); e != nil {
		return a, e
	}
	ctx := r.Context()
	ip := s.ips.Key(r)
	sctx, span := s.obs.step(ctx, spanLimitIP)
	e := s.limitByIP(sctx, ip)
	stepDone(span, e)
	if e != nil {
		return a, e
	}
	_, span = s.obs.step(ctx, spanParse)
	req, e := tokenrequest.Parse(w, r, s.cfg.MaxBodyBytes)
	stepDone(span, e)
	if e != nil {
		return a, e
	}
	a.grant = req.GrantType
	// Before authentication, so an unknown grant never costs a secret check.
	if !s.provider.SupportsGrant(req.GrantType) {
		return a, oautherr.UnsupportedGrantType("grant_type %s is not supported", oautherr.Quote(req.GrantType))
	}
	sctx, span = s.obs.step(ctx, spanAuthenticate)
	client, e := s.authenticate(sctx, r, epToken, req, ip)
	stepDone(span, e)
	if e != nil {
		return a, e
	}
	a.client = client.ID
	sctx, span = s.obs.step(ctx, spanLimitClient)
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
