package middleware

import "context"

// claimsContext is a context carrying one verification. It replaces the
// context.WithValue node a plain value would need, so the hot path
// allocates no more than before; the outer verifications stay reachable
// through the parent.
type claimsContext struct {
	context.Context
	claims *Claims
	by     *Middleware // nil when put by WithClaims
}

type claimsKey struct{}

// Value returns c itself for claimsKey, so a lookup finds the innermost
// claimsContext; other keys go to the parent.
func (c *claimsContext) Value(key any) any {
	if _, ok := key.(claimsKey); ok {
		return c
	}
	return c.Context.Value(key)
}

// innermost returns the innermost claimsContext in ctx, or nil.
func innermost(ctx context.Context) *claimsContext {
	c, _ := ctx.Value(claimsKey{}).(*claimsContext)
	return c
}

// ClaimsFrom returns the claims verified for this request by the
// innermost [Middleware] that verified it (or put in by [WithClaims]).
// Behind nested instances of different audiences, each instance's own
// checks read its own claims; see [Middleware.Authenticate].
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	if c := innermost(ctx); c != nil {
		return c.claims, true
	}
	return nil, false
}

// WithClaims returns ctx carrying c, for tests of handlers that read
// [ClaimsFrom] without a token. Claims put in this way are trusted by every
// [Middleware] (its Authenticate lets the request through, its scope checks
// read them), so never call it with claims a request supplied.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return &claimsContext{Context: ctx, claims: c}
}

// claimsFor returns the claims m verified for this request, or those put in
// by WithClaims, whichever is innermost; claims of other instances are
// skipped.
func (m *Middleware) claimsFor(ctx context.Context) (*Claims, bool) {
	for c := innermost(ctx); c != nil; c = innermost(c.Context) {
		if c.by == m || c.by == nil {
			return c.claims, true
		}
	}
	return nil, false
}

// withClaims returns ctx carrying the claims m verified.
func (m *Middleware) withClaims(ctx context.Context, c *Claims) context.Context {
	return &claimsContext{Context: ctx, claims: c, by: m}
}
