package handler

import (
	"context"

	"github.com/ulule/limiter/v3"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/ratelimit"
)

// storeFailed decides what a rate-limit store error means for the request:
// by default nothing (fail open, with a warning: an outage of the limiter
// must not become an outage of the token endpoint); with
// RateLimits.FailClosed, 503.
func (s *Server) storeFailed(ctx context.Context, limit string, err error) *oautherr.Error {
	if s.cfg.RateLimits.FailClosed {
		s.log.ErrorContext(ctx, "rate limit store failed; refusing request", "limit", limit, "error", err)
		return oautherr.Unavailable("the rate limiter is unavailable; retry later")
	}
	s.log.WarnContext(ctx, "rate limit store failed; allowing request", "limit", limit, "error", err)
	return nil
}

// limitByIP counts the request against its IP before anything is parsed.
func (s *Server) limitByIP(ctx context.Context, ip string) *oautherr.Error {
	c, err := s.limitIP.Take(ctx, ip)
	if err != nil {
		return s.storeFailed(ctx, "token_per_ip", err)
	}
	if c.Reached {
		return ratelimit.TooMany(c, "token requests from this address")
	}
	return nil
}

// limitByClient counts a token request against the authenticated client and
// returns the quota for the response headers.
func (s *Server) limitByClient(ctx context.Context, clientID string) (limiter.Context, *oautherr.Error) {
	c, err := s.limitClient.Take(ctx, clientID)
	if err != nil {
		return limiter.Context{}, s.storeFailed(ctx, "token", err)
	}
	if c.Reached {
		return c, ratelimit.TooMany(c, "token requests for this client; cache tokens until they expire")
	}
	return c, nil
}

// Failed-auth counter keys: one per address, one per client id.
func failedAuthIP(ip string) string     { return "ip:" + ip }
func failedAuthClient(id string) string { return "client:" + id }

// guardAddress refuses a request from an address that has failed
// authentication too often, before any client is looked up. It only reads
// the counter.
func (s *Server) guardAddress(ctx context.Context, ip string) *oautherr.Error {
	c, err := s.limitFailed.Peek(ctx, failedAuthIP(ip))
	if err != nil {
		return s.storeFailed(ctx, "failed_auth", err)
	}
	if ratelimit.Exceeded(c) {
		return ratelimit.TooMany(c, "failed client authentications")
	}
	return nil
}

// reserveFailedAuth counts an attempt that needs a slow check as failed,
// against its address and then its client id, before the check runs. Past
// the address's limit the attempt is refused (parallel guesses from one
// address). Past the client id's limit it is refused too, and that count
// given back so the refusal does not eat into the window; the address's
// count stays, so a guesser cannot spray refused attempts for free.
//
// lockedOut tells, per allowance (lockoutIP, lockoutClient), whether this
// attempt used up its last unit: if the check then fails, this failure is
// the one that locks the address or the client id out. Exactly one
// attempt per window sees that, however many run at once.
func (s *Server) reserveFailedAuth(ctx context.Context, clientID, ip string) (lockedOut [numLockoutScopes]bool, _ *oautherr.Error) {
	c, err := s.limitFailed.Take(ctx, failedAuthIP(ip))
	if err != nil {
		if e := s.storeFailed(ctx, "failed_auth", err); e != nil {
			return lockedOut, e
		}
	} else if c.Reached {
		return lockedOut, ratelimit.TooMany(c, "failed client authentications")
	}
	lockedOut[lockoutIP] = lastOne(c)
	c, err = s.limitFailed.Take(ctx, failedAuthClient(clientID))
	if err != nil {
		if e := s.storeFailed(ctx, "failed_auth", err); e != nil {
			s.refund(ctx, failedAuthIP(ip))
			return lockedOut, e
		}
	} else if c.Reached {
		s.refund(ctx, failedAuthClient(clientID))
		return lockedOut, ratelimit.TooMany(c, "failed client authentications")
	}
	lockedOut[lockoutClient] = lastOne(c)
	return lockedOut, nil
}

// lastOne reports whether the count c reports is exactly the limit: the
// attempt took the last unit of its window.
func lastOne(c limiter.Context) bool { return c.Limit > 0 && !c.Reached && c.Remaining == 0 }

// refundFailedAuth gives back a reservation whose check succeeded (or did
// not run).
func (s *Server) refundFailedAuth(ctx context.Context, clientID, ip string) {
	s.refund(ctx, failedAuthIP(ip), failedAuthClient(clientID))
}

func (s *Server) refund(ctx context.Context, keys ...string) {
	for _, key := range keys {
		if err := s.limitFailed.Refund(ctx, key); err != nil {
			s.log.WarnContext(ctx, "rate limit store failed", "limit", "failed_auth", "error", err)
		}
	}
}
