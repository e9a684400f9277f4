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

// failedAuthKeys are the counters a failed authentication adds to.
func failedAuthKeys(clientID, ip string) [2]string {
	return [2]string{"client:" + clientID, "ip:" + ip}
}

// guardFailedAuth refuses a request whose client id or IP has failed
// authentication too often, before any secret is looked at. It only reads
// the counters.
func (s *Server) guardFailedAuth(ctx context.Context, clientID, ip string) *oautherr.Error {
	for _, key := range failedAuthKeys(clientID, ip) {
		c, err := s.limitFailed.Peek(ctx, key)
		if err != nil {
			if e := s.storeFailed(ctx, "failed_auth", err); e != nil {
				return e
			}
			continue
		}
		if ratelimit.Exceeded(c) {
			return ratelimit.TooMany(c, "failed client authentications")
		}
	}
	return nil
}

// reserveFailedAuth counts an attempt as failed before its secret is
// checked. If that takes a counter past its limit the attempt is refused
// (and its counts given back, so the refusal itself costs nothing).
func (s *Server) reserveFailedAuth(ctx context.Context, clientID, ip string) *oautherr.Error {
	keys := failedAuthKeys(clientID, ip)
	for i, key := range keys {
		c, err := s.limitFailed.Take(ctx, key)
		if err != nil {
			if e := s.storeFailed(ctx, "failed_auth", err); e != nil {
				s.refund(ctx, keys[:i])
				return e
			}
			continue
		}
		if c.Reached {
			s.refund(ctx, keys[:i+1])
			return ratelimit.TooMany(c, "failed client authentications")
		}
	}
	return nil
}

// refundFailedAuth gives back a reservation whose check succeeded.
func (s *Server) refundFailedAuth(ctx context.Context, clientID, ip string) {
	keys := failedAuthKeys(clientID, ip)
	s.refund(ctx, keys[:])
}

func (s *Server) refund(ctx context.Context, keys []string) {
	for _, key := range keys {
		if err := s.limitFailed.Refund(ctx, key); err != nil {
			s.log.WarnContext(ctx, "rate limit store failed", "limit", "failed_auth", "error", err)
		}
	}
}
