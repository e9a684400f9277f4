package ratelimit_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"

	"github.com/tollgate-oauth/tollgate/ratelimit"
)

// A host's own page limited the way the token endpoint is: a rate from
// the host's config ("off" would make failed a nil Limiter that allows
// everything), a store (NewRedisStore to share the count between
// instances), and the client's address behind the host's proxy.
func Example() {
	failed, err := ratelimit.New(ratelimit.NewMemoryStore(), "2-M", "login:")
	if err != nil {
		panic(err)
	}
	ips := ratelimit.ClientIP{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}

	r := httptest.NewRequest("POST", "/login", nil)
	r.RemoteAddr = "10.0.0.2:41000" // the proxy
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.9")
	for range 3 {
		c, _ := failed.Take(context.Background(), ips.Key(r))
		fmt.Println(ips.Key(r), "remaining", c.Remaining, "refused", c.Reached)
	}
	// Output:
	// 198.51.100.9 remaining 1 refused false
	// 198.51.100.9 remaining 0 refused false
	// 198.51.100.9 remaining 0 refused true
}

func ExampleParseRate() {
	for _, s := range []string{"100-S", "off", "100/s"} {
		r, on, err := ratelimit.ParseRate(s)
		fmt.Println(r.Limit, r.Period, on, err)
	}
	// Output:
	// 100 1s true <nil>
	// 0 0s false <nil>
	// 0 0s false rate "100/s": want <limit>-<S|M|H|D> such as 100-S, or off
}
