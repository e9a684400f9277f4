package ratelimit

import (
	"context"

	"github.com/ulule/limiter/v3"
)

// Limiter counts requests per key against one rate, in a store that
// other limits may share: the counting every tollgate limit does, for a
// host's own (the demo server counts failed sign-ins with two). A nil
// *Limiter, what [New] returns for [Off], allows everything, so a limit
// switched off in a config needs no branch at the call site.
type Limiter struct {
	lim    *limiter.Limiter
	prefix string
}

// New returns a limiter over store for rate (see [ParseRate]), nil for
// [Off]. prefix starts every key it counts under, keeping this limit's
// counts apart from the others in a shared store: tollgate's own limits
// use prefixes starting "tollgate:", so a host's should not.
func New(store limiter.Store, rate, prefix string) (*Limiter, error) {
	r, on, err := ParseRate(rate)
	if err != nil || !on {
		return nil, err
	}
	return &Limiter{lim: limiter.New(store, r), prefix: prefix}, nil
}

// Take counts one request for key and reports the state after it:
// Reached when this request is past the limit, which the caller refuses.
// A refused request stays counted; [Limiter.Refund] gives it back.
func (l *Limiter) Take(ctx context.Context, key string) (limiter.Context, error) {
	if l == nil {
		return limiter.Context{}, nil
	}
	return l.lim.Get(ctx, l.prefix+key)
}

// Peek reports the state for key without counting. Its Reached turns true
// only once a Take has gone past the limit: Remaining 0 already says the
// next Take will be refused.
func (l *Limiter) Peek(ctx context.Context, key string) (limiter.Context, error) {
	if l == nil {
		return limiter.Context{}, nil
	}
	return l.lim.Peek(ctx, l.prefix+key)
}

// Refund gives back one request counted for key by Take: count attempts
// before checking them (so parallel ones cannot all slip through), then
// refund those that turn out not to count, such as a good password. A
// refund after the window has passed gives back nothing.
func (l *Limiter) Refund(ctx context.Context, key string) error {
	if l == nil {
		return nil
	}
	_, err := l.lim.Increment(ctx, l.prefix+key, -1)
	return err
}
