// Package clientip finds the address a request came from, for rate limits.
//
// X-Forwarded-For is believed only as far as it was written by configured
// trusted proxies: the chain is walked from the right (the entry the
// nearest proxy appended) and the first address that is not a trusted proxy
// is the client. Anything left of it was written by the client and could be
// anything. Without trusted proxies the header is ignored. (ulule/limiter's
// own helper takes the leftmost entry, which any client can set.)
package clientip

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds client addresses behind a set of trusted proxies.
type Resolver struct {
	Trusted []netip.Prefix
}

// Addr returns the client address of r: RemoteAddr, or the last untrusted
// hop of X-Forwarded-For when RemoteAddr is a trusted proxy. An invalid
// entry ends the walk at the last hop vouched for.
func (res Resolver) Addr(r *http.Request) netip.Addr {
	remote := parseRemote(r.RemoteAddr)
	if !remote.IsValid() || !res.trusted(remote) {
		return remote
	}
	client := remote
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		list := hops[i]
		for list != "" {
			var entry string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				entry, list = list[j+1:], list[:j]
			} else {
				entry, list = list, ""
			}
			addr, err := netip.ParseAddr(strings.TrimSpace(entry))
			if err != nil {
				return client
			}
			client = addr.Unmap()
			if !res.trusted(client) {
				return client
			}
		}
	}
	return client
}

// Key returns the rate-limit key for r's client: the address, or its /64
// for IPv6, since one host usually holds a whole /64.
func (res Resolver) Key(r *http.Request) string {
	a := res.Addr(r)
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func (res Resolver) trusted(a netip.Addr) bool {
	for _, p := range res.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func parseRemote(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}
