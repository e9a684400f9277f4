package ratelimit

import (
	"net/http"
	"net/netip"

	"github.com/tollgate-oauth/tollgate/internal/clientip"
)

// ClientIP finds the address a request came from, by the rule the token
// endpoint applies with handler.Config.TrustedProxies: the TCP peer, or,
// when the peer is a trusted proxy, X-Forwarded-For walked from the right
// (the entry the nearest proxy appended) to the first address that is not
// a trusted proxy. Anything left of that was written by the client and
// could be anything. (limiter's own helper takes the leftmost entry, which
// any client can set.) The zero value trusts no proxy and ignores the
// header.
type ClientIP struct {
	// TrustedProxies are the networks whose X-Forwarded-For entries are
	// believed.
	TrustedProxies []netip.Prefix
}

// Addr returns the client address of r. An unparsable entry in
// X-Forwarded-For ends the walk at the last hop vouched for; an
// unparsable RemoteAddr gives the zero Addr.
func (c ClientIP) Addr(r *http.Request) netip.Addr { return c.resolver().Addr(r) }

// Key returns the key to count r's client under: its address, or the /64
// an IPv6 address is in (one host usually holds a whole /64), or
// "unknown" when there is no address. The token endpoint's per-IP limits
// count under the same keys.
func (c ClientIP) Key(r *http.Request) string { return c.resolver().Key(r) }

func (c ClientIP) resolver() clientip.Resolver { return clientip.Resolver{Trusted: c.TrustedProxies} }
