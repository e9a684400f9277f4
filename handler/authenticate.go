package handler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"

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
// timing says whether a client id exists.
//
// The brute-force guard has two parts. A locked-out client id or IP is
// refused before anything else, even with the right secret. And every
// attempt that cannot be accepted cheaply counts as a failure *before* its
// slow check runs (and is refunded if it succeeds): counting after the check
// would let every guess sent in parallel through the lock.
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
		s.log.ErrorContext(ctx, "client lookup failed", logClientID(nil, req.ClientID), "error", err)
		return nil, oautherr.Unavailable("the authorization server cannot reach its storage; retry later")
	}
	if s.quickAccept(client, req) {
		return client, nil
	}
	if e := s.reserveFailedAuth(ctx, req.ClientID, ip); e != nil {
		return nil, e
	}
	if !s.checkCredentials(client, req) {
		s.log.WarnContext(ctx, "client authentication failed", logClientID(client, req.ClientID), "ip", ip, "basic", req.Basic)
		return nil, oautherr.InvalidClient(req.Basic, "client authentication failed")
	}
	s.refundFailedAuth(ctx, req.ClientID, ip)
	return client, nil
}

// quickAccept reports whether the credentials verify without a slow hash:
// the common case of a public client, a generated secret, or a secret
// verified before. False means "needs the full check", not "wrong".
func (s *Server) quickAccept(client *storage.Client, req *tokenrequest.Request) bool {
	switch {
	case client == nil:
		return false
	case client.Public:
		return req.ClientSecret == "" && !req.Basic
	case req.ClientSecret == "":
		return false
	}
	return s.verifier.Quick(client.ID, client.SecretHash, req.ClientSecret)
}

// checkCredentials is the full check; every false costs one slow hash.
func (s *Server) checkCredentials(client *storage.Client, req *tokenrequest.Request) bool {
	switch {
	case client == nil:
	case client.Public:
		// A public client has no secret to send; one that sends one (or
		// uses Basic) is misconfigured or is not that client.
	case req.ClientSecret != "":
		return s.verifier.Verify(client.ID, client.SecretHash, req.ClientSecret)
	}
	s.verifier.Fail()
	return false
}

// logClientID names the client in a log line. An id that matches no client
// may be anything the caller typed, a secret pasted into the wrong field
// included, so only a short digest of it is logged: enough to correlate
// repeated attempts, useless to whoever reads the log.
func logClientID(client *storage.Client, id string) slog.Attr {
	if client != nil {
		return slog.String("client_id", id)
	}
	sum := sha256.Sum256([]byte(id))
	return slog.String("unknown_client_id_sha256", hex.EncodeToString(sum[:6]))
}
