package main

import (
	"context"
	"crypto/sha256"

	"github.com/tollgate-oauth/tollgate/ratelimit"
)

// budget is one failure budget a sign-in attempt is counted against.
type budget struct {
	lim     *ratelimit.Limiter // nil: no limit
	key     string
	refusal string // what the page says when it is spent
	reset   int64  // set by reserve on the spent budget: when it refills (Unix seconds)
}

// reserve counts the attempt as a failure against every budget, in order,
// before its password is checked: counting after the check would let
// guesses sent in parallel all pass. It returns the budgets it counted,
// for refund after a success, or the first spent budget; a refused
// attempt is given back everywhere (the refusal itself costs nothing).
//
// A failing counter store fails open (the budget is skipped, and a warning
// logged) or closed (err, and nothing stays counted), as
// rate_limits.on_store_error says.
func (p *loginPage) reserve(ctx context.Context, budgets []budget) (taken []budget, spent *budget, err error) {
	for i := range budgets {
		b := &budgets[i]
		lc, err := b.lim.Take(ctx, b.key)
		if err != nil {
			if p.failClosed {
				p.log.Error("login: rate limit store", "err", err)
				p.refund(ctx, taken)
				return nil, nil, err
			}
			p.log.Warn("login: rate limit store failing; sign-in not counted", "err", err)
			continue
		}
		taken = append(taken, *b)
		if lc.Reached {
			p.refund(ctx, taken)
			b.reset = lc.Reset
			return nil, b, nil
		}
	}
	return taken, nil, nil
}

// refund gives back the attempt counted against each budget.
func (p *loginPage) refund(ctx context.Context, taken []budget) {
	for _, b := range taken {
		if err := b.lim.Refund(ctx, b.key); err != nil {
			p.log.Error("login: rate limit store", "err", err)
		}
	}
}

// userKey is the per-username budget's key: a digest of what was typed,
// never the name itself, because people type passwords into the username
// field and the keys may sit in a shared Redis. Every name gets one, known
// to the demo or not, so a 429 does not tell which usernames exist.
func userKey(name string) string {
	sum := sha256.Sum256([]byte("tollgate demo login\x00" + name))
	return b64.EncodeToString(sum[:16])
}
