// Package ratelimit wraps github.com/ulule/limiter/v3 with what every
// tollgate limit shares: rates in limiter's "100-S" format (or "off"), the
// X-RateLimit-* and Retry-After headers, and the OAuth-style 429 body.
package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
)

// Off disables a limit.
const Off = "off"

// Limiter counts requests per key against one rate. A nil *Limiter allows
// everything.
type Limiter struct {
	lim    *limiter.Limiter
	prefix string
}

// ParseRate checks a rate: limiter's "<limit>-<S|M|H|D>" or "off".
func ParseRate(rate string) (limiter.Rate, bool, error) {
	if rate == Off {
		return limiter.Rate{}, false, nil
	}
	r, err := limiter.NewRateFromFormatted(rate)
	if err != nil {
		return r, false, fmt.Errorf("rate %q: want <limit>-<S|M|H|D> such as 100-S, or off", rate)
	}
	if r.Limit <= 0 {
		return r, false, fmt.Errorf("rate %q: the limit must be positive", rate)
	}
	return r, true, nil
}

// New returns a limiter over store for rate; nil (no limit) for "off".
// prefix keeps this limit's keys apart from others in a shared store.
func New(store limiter.Store, rate, prefix string) (*Limiter, error) {
	r, on, err := ParseRate(rate)
	if err != nil || !on {
		return nil, err
	}
	return &Limiter{lim: limiter.New(store, r), prefix: prefix}, nil
}

// Take counts one request for key.
func (l *Limiter) Take(ctx context.Context, key string) (limiter.Context, error) {
	if l == nil {
		return limiter.Context{}, nil
	}
	return l.lim.Get(ctx, l.prefix+key)
}

// Peek reports the state for key without counting.
func (l *Limiter) Peek(ctx context.Context, key string) (limiter.Context, error) {
	if l == nil {
		return limiter.Context{}, nil
	}
	return l.lim.Peek(ctx, l.prefix+key)
}

// Refund gives back one request counted for key by Take.
func (l *Limiter) Refund(ctx context.Context, key string) error {
	if l == nil {
		return nil
	}
	_, err := l.lim.Increment(ctx, l.prefix+key, -1)
	return err
}

// Exceeded reports whether the next request for key would be refused,
// without counting it. Peek's Reached only turns true after the count has
// gone past the limit, so compare instead.
func Exceeded(c limiter.Context) bool { return c.Limit > 0 && c.Remaining <= 0 && c.Reset > 0 }

// SetHeaders writes the X-RateLimit-* headers of c (nothing for an unlimited
// result). It runs on every limited request, so it skips what h.Set does
// per call: the keys are written in canonical form already, and the three
// values share one backing array.
func SetHeaders(h http.Header, c limiter.Context) {
	if c.Limit == 0 {
		return
	}
	v := [3]string{strconv.FormatInt(c.Limit, 10), strconv.FormatInt(c.Remaining, 10), strconv.FormatInt(c.Reset, 10)}
	vals := v[:]
	h[headerLimit] = vals[0:1:1]
	h[headerRemaining] = vals[1:2:2]
	h[headerReset] = vals[2:3:3]
}

// The X-RateLimit-* names as http.CanonicalHeaderKey writes them.
const (
	headerLimit     = "X-Ratelimit-Limit"
	headerRemaining = "X-Ratelimit-Remaining"
	headerReset     = "X-Ratelimit-Reset"
)

// TooMany is the 429 answer for c, with Retry-After and X-RateLimit-*.
// The limiter stores count in wall-clock time, so Retry-After does too.
func TooMany(c limiter.Context, what string) *oautherr.Error {
	wait := max(c.Reset-time.Now().Unix(), 1)
	e := &oautherr.Error{
		Status: http.StatusTooManyRequests, Code: oautherr.CodeTemporarilyUnavailable,
		Description: fmt.Sprintf("too many %s; retry after %d seconds", what, wait),
		Header:      make(http.Header),
	}
	SetHeaders(e.Header, c)
	e.Header.Set("X-RateLimit-Remaining", "0")
	e.Header.Set("Retry-After", strconv.FormatInt(wait, 10))
	return e
}
