package ratelimit_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/tollgate-oauth/tollgate/ratelimit"
)

// TestClientIPOverHTTP: through a real connection (peer 127.0.0.1),
// X-Forwarded-For counts only when the peer is trusted, and then only
// from the right: the leftmost entry, which any client writes, never
// decides.
func TestClientIPOverHTTP(t *testing.T) {
	t.Parallel()
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	proxies := append([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, loopback...)
	for _, tt := range []struct {
		name    string
		trusted []netip.Prefix
		xff     []string
		want    string
	}{
		{"no trusted proxy: the peer", nil, []string{"198.51.100.9"}, "127.0.0.1"},
		{"trusted peer: the entry it appended", loopback, []string{"198.51.100.9"}, "198.51.100.9"},
		{"spoofed leftmost entry ignored", loopback, []string{"6.6.6.6, 198.51.100.9"}, "198.51.100.9"},
		{"a chain of trusted proxies", proxies, []string{"6.6.6.6, 198.51.100.9, 10.1.1.1"}, "198.51.100.9"},
		{"untrusted hop ends the walk", loopback, []string{"198.51.100.9, 10.1.1.1"}, "10.1.1.1"},
		{"garbage ends the walk at the last hop vouched for", loopback, []string{"198.51.100.9, not-an-ip"}, "127.0.0.1"},
		{"IPv6 counted per /64", loopback, []string{"2001:db8:1:2:ffff::9"}, "2001:db8:1:2::/64"},
		{"no header", loopback, nil, "127.0.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ips := ratelimit.ClientIP{TrustedProxies: tt.trusted}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, ips.Key(r))
			}))
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			for _, v := range tt.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			got, _ := io.ReadAll(res.Body)
			if string(got) != tt.want {
				t.Errorf("Key = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestClientIPNoAddress: a request without a parsable peer is counted
// under one key, not under whatever it claims.
func TestClientIPNoAddress(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "@"
	r.Header.Set("X-Forwarded-For", "198.51.100.9")
	ips := ratelimit.ClientIP{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}
	if a, k := ips.Addr(r), ips.Key(r); a.IsValid() || k != "unknown" {
		t.Errorf("Addr, Key = %v, %q; want the zero Addr and \"unknown\"", a, k)
	}
}
