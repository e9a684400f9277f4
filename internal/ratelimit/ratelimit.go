// Package ratelimit wraps github.com/ulule/limiter/v3 with what every
// tollgate endpoint's limit shares: the X-RateLimit-* and Retry-After
// headers and the OAuth-style 429 body. What hosts use too (the rate
// format, the counter stores, the Limiter) is public, in the top-level
// ratelimit package; the names below lead there, so the handler and the
// middleware read as before.
package ratelimit

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/ratelimit"
)

// Limiter is [ratelimit.Limiter].
type Limiter = ratelimit.Limiter

// New is [ratelimit.New].
func New(store limiter.Store, rate, prefix string) (*Limiter, error) {
	return ratelimit.New(store, rate, prefix)
}

// ParseRate is [ratelimit.ParseRate].
func ParseRate(rate string) (limiter.Rate, bool, error) { return ratelimit.ParseRate(rate) }

// NewMemoryStore is [ratelimit.NewMemoryStore]: the store of every limit
// whose config names none.
func NewMemoryStore() limiter.Store { return ratelimit.NewMemoryStore() }

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
