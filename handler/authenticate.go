package handler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/tokenrequest"
	"github.com/tollgate-oauth/tollgate/storage"
)

// authenticate establishes which client is calling (RFC 6749 §2.3):
// client_secret_basic, client_secret_post, or none for public clients.
//
// Every failure looks the same from outside (401 invalid_client, one
// description) and costs the same time: an unknown client, a missing secret
// and a wrong one each spend one slow hash of the kind the store holds (see
// [secret.Verifier]), so neither the answer nor its timing says whether a
// client id exists.
//
// The brute-force guard is built so that knowing a client id is not enough
// to shut that client out (issue 9 §1). In order:
//
//  1. An address that failed too often is refused, even with good
//     credentials: it is the guesser's address, and refusing it there is
//     what bounds a guesser, whichever client it names.
//  2. Credentials that verify cheaply are accepted at once: a public client
//     sending no secret, a generated secret, a slow secret already verified
//     on this server. Nobody else's failures can refuse them.
//  3. Anything else needs a slow check. Only now does the client id's count
//     of failures apply, bounding slow checks of secrets that have not
//     verified here yet. The attempt is counted against its address and its
//     client id *before* the check (counting after would let every guess
//     sent in parallel through) and given back if it succeeds. An attempt
//     the client id's count refuses still counts against its address.
//
// So a guess that happens to be right for a verified secret passes cheaply
// while wrong ones are refused unchecked: such a secret is protected by the
// per-address limit alone (the README's "Brute force" section has the
// numbers).
//
// A failure is told to the observer (metrics, audit), with the lockouts it
// started. r is the request, for the audit's address; ep the endpoint.
func (s *Server) authenticate(ctx context.Context, r *http.Request, ep endpoint, req *tokenrequest.Request, ip string) (*storage.Client, *oautherr.Error) {
	if req.ClientID == "" {
		return nil, oautherr.InvalidClient(false, "client authentication is required: send HTTP Basic credentials or client_id in the body")
	}
	if e := s.guardAddress(ctx, ip); e != nil {
		return nil, e
	}
	client, err := s.clients.GetClient(ctx, req.ClientID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		client = nil
	case err != nil:
		s.log.ErrorContext(ctx, "client lookup failed", logClientID(nil, req.ClientID), "error", err)
		return nil, oautherr.Unreachable()
	}
	if s.quickAccept(client, req) {
		return client, nil
	}
	lockedOut, e := s.reserveFailedAuth(ctx, req.ClientID, ip)
	if e != nil {
		return nil, e
	}
	ok, err := s.checkCredentials(client, req)
	if err != nil {
		// Not checked, so not a failure: the reservation goes back. Logged
		// (at debug, like a 429) by fail, not here: a flood must not
		// become a flood of warnings.
		s.refundFailedAuth(ctx, req.ClientID, ip)
		return nil, oautherr.Unavailable("the authorization server is busy; retry later").WithHeader("Retry-After", "1")
	}
	if !ok {
		s.log.WarnContext(ctx, "client authentication failed", logClientID(client, req.ClientID), "ip", ip, "basic", req.Basic)
		s.obs.authFailed(ctx, r, ep, client, req.ClientID, lockedOut)
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
// It fails with [secret.ErrBusy], having checked nothing, when
// [Config.MaxSlowHashes] checks already run.
func (s *Server) checkCredentials(client *storage.Client, req *tokenrequest.Request) (bool, error) {
	switch {
	case client == nil:
	case client.Public:
		// A public client has no secret to send; one that sends one (or
		// uses Basic) is misconfigured or is not that client.
	default:
		// An empty secret still costs the client's own kind of hash.
		return s.verifier.Check(client.ID, client.SecretHash, req.ClientSecret)
	}
	return false, s.verifier.Dummy(req.ClientID, req.ClientSecret)
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
