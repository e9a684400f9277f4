package handler

import (
	"context"
	"errors"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/tokenrequest"
	"github.com/tollgate-oauth/tollgate/storage"
)

// authenticate establishes which client is calling (RFC 6749 §2.3):
// client_secret_basic, client_secret_post, or none for public clients.
//
// Every failure looks the same from outside (401 invalid_client, one
// description) and costs the same time: an unknown client, a missing secret
// and a wrong one each spend one slow hash, so neither the answer nor its
// timing says whether a client id exists. Failures count toward the
// brute-force limit, which is checked before any of this work.
func (s *Server) authenticate(ctx context.Context, req *tokenrequest.Request, ip string) (*storage.Client, *oautherr.Error) {
	if req.ClientID == "" {
		return nil, oautherr.InvalidClient(false, "client authentication is required: send HTTP Basic credentials or client_id in the body")
	}
	if e := s.guardFailedAuth(ctx, req.ClientID, ip); e != nil {
		return nil, e
	}
	client, err := s.clients.GetClient(ctx, req.ClientID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		client = nil
	case err != nil:
		s.log.ErrorContext(ctx, "client lookup failed", "client_id", req.ClientID, "error", err)
		return nil, oautherr.Unavailable("the authorization server cannot reach its storage; retry later")
	}
	if !s.checkCredentials(client, req) {
		s.countFailedAuth(ctx, req.ClientID, ip)
		s.log.WarnContext(ctx, "client authentication failed", "client_id", req.ClientID, "ip", ip, "basic", req.Basic)
		return nil, oautherr.InvalidClient(req.Basic, "client authentication failed")
	}
	return client, nil
}

func (s *Server) checkCredentials(client *storage.Client, req *tokenrequest.Request) bool {
	switch {
	case client == nil:
	case client.Public:
		if req.ClientSecret == "" && !req.Basic {
			return true
		}
		// A public client has no secret to send; one that sends one (or
		// uses Basic) is misconfigured or is not that client.
	case req.ClientSecret != "":
		return s.verifier.Verify(client.ID, client.SecretHash, req.ClientSecret)
	}
	s.verifier.Fail()
	return false
}
