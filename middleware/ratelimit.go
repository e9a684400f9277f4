package middleware

import (
	"fmt"
	"net/http"

	"github.com/ulule/limiter/v3"

	"github.com/tollgate-oauth/tollgate/internal/ratelimit"
)

// RateLimit configures a per-caller limit.
type RateLimit struct {
	// Rate in github.com/ulule/limiter's format, e.g. "100-S" or "6000-M",
	// or "off" (no limit, handy for configs). Required.
	Rate string
	// Key names the caller a request counts against. Default ByClientID.
	Key func(r *http.Request, c *Claims) string
	// Store holds the counters. Default: in-process memory. Pass a shared
	// store (limiter's Redis store) when several instances serve.
	Store limiter.Store
	// Name keeps this limit's counters apart from other limits in a shared
	// store. Default "default".
	Name string
	// FailClosed answers 503 when Store errors. Default false: the request
	// goes through and a warning is logged (fail open).
	FailClosed bool
}

// ByClientID counts requests per OAuth client (the default).
func ByClientID(_ *http.Request, c *Claims) string { return "client:" + c.ClientID }

// BySubject counts requests per token subject (the user, for user tokens).
func BySubject(_ *http.Request, c *Claims) string { return "sub:" + c.Subject }

// RateLimit returns middleware that limits each caller to rl.Rate. Over
// the limit it answers 429 with Retry-After and X-RateLimit-* headers;
// under it, the X-RateLimit-* headers show what is left. It authenticates
// the request itself when no earlier middleware did. If the store fails,
// the request goes through and a warning is logged, unless rl.FailClosed.
func (m *Middleware) RateLimit(rl RateLimit) (func(http.Handler) http.Handler, error) {
	if rl.Store == nil {
		rl.Store = ratelimit.NewMemoryStore()
	}
	if rl.Key == nil {
		rl.Key = ByClientID
	}
	if rl.Name == "" {
		rl.Name = "default"
	}
	lim, err := ratelimit.New(rl.Store, rl.Rate, "tollgate:api:"+rl.Name+":")
	if err != nil {
		return nil, fmt.Errorf("middleware: RateLimit: %w", err)
	}
	return func(next http.Handler) http.Handler {
		limited := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := m.claimsFor(r.Context())
			res, err := lim.Take(r.Context(), rl.Key(r, c))
			if err != nil {
				m.metrics.limiterFailed()
				if rl.FailClosed {
					m.cfg.Logger.ErrorContext(r.Context(), "rate limit store failed; refusing request", "error", err)
					m.refuse(w, r, &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
						Description: "the rate limiter is unavailable; retry later", Header: http.Header{"Retry-After": {"5"}},
						reason: reasonLimiterUnavailable})
					return
				}
				m.cfg.Logger.WarnContext(r.Context(), "rate limit store failed; allowing request", "error", err)
				next.ServeHTTP(w, r)
				return
			}
			if res.Reached {
				tm := ratelimit.TooMany(res, "requests")
				m.refuse(w, r, &Error{Status: tm.Status, Code: tm.Code, Description: tm.Description, Header: tm.Header,
					reason: reasonRateLimited})
				return
			}
			ratelimit.SetHeaders(w.Header(), res)
			next.ServeHTTP(w, r)
		})
		return m.Authenticate(limited)
	}, nil
}
