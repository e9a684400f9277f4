package clientip

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestAddr(t *testing.T) {
	t.Parallel()
	trusted := Resolver{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	tests := []struct {
		name   string
		res    Resolver
		remote string
		xff    []string
		want   string
	}{
		{"no proxies: header ignored", Resolver{}, "203.0.113.7:5000", []string{"1.2.3.4"}, "203.0.113.7"},
		{"untrusted remote: header ignored", trusted, "203.0.113.7:5000", []string{"1.2.3.4"}, "203.0.113.7"},
		{"one trusted proxy", trusted, "10.0.0.1:5000", []string{"198.51.100.9"}, "198.51.100.9"},
		{"spoofed leftmost entry", trusted, "10.0.0.1:5000", []string{"6.6.6.6, 198.51.100.9"}, "198.51.100.9"},
		{"two trusted proxies", trusted, "10.0.0.1:5000", []string{"6.6.6.6, 198.51.100.9, 10.1.1.1"}, "198.51.100.9"},
		{"several header lines", trusted, "10.0.0.1:5000", []string{"6.6.6.6", "198.51.100.9, 10.1.1.1"}, "198.51.100.9"},
		{"garbage stops the walk", trusted, "10.0.0.1:5000", []string{"198.51.100.9, garbage, 10.2.2.2"}, "10.2.2.2"},
		{"all trusted", trusted, "10.0.0.1:5000", []string{"10.3.3.3"}, "10.3.3.3"},
		{"no header", trusted, "10.0.0.1:5000", nil, "10.0.0.1"},
		{"ipv6 remote", Resolver{}, "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"mapped ipv4", Resolver{}, "[::ffff:192.0.2.1]:443", nil, "192.0.2.1"},
		{"ipv6 behind proxy", trusted, "[fd00::1]:443", []string{"2001:db8::5"}, "2001:db8::5"},
		{"bad remote", Resolver{}, "pipe", nil, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tt.res.Addr(r).String(); got != tt.want {
				t.Errorf("Addr = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestKeyGroupsIPv6By64(t *testing.T) {
	t.Parallel()
	r1 := httptest.NewRequest("POST", "/", nil)
	r1.RemoteAddr = "[2001:db8:1:2::1]:1"
	r2 := httptest.NewRequest("POST", "/", nil)
	r2.RemoteAddr = "[2001:db8:1:2:ffff::9]:1"
	if k1, k2 := (Resolver{}).Key(r1), (Resolver{}).Key(r2); k1 != k2 || k1 != "2001:db8:1:2::/64" {
		t.Errorf("keys %q, %q; want one /64", k1, k2)
	}
}

func FuzzAddr(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "1.2.3.4, 10.0.0.1", ",,,", "[::1]", "10.0.0.1,garbage", ""} {
		f.Add("10.0.0.1:1", s)
	}
	res := Resolver{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		_ = res.Key(r)
	})
}
