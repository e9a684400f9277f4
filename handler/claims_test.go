package handler_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
)

// TestReservedClaimAgreesWithIssuance: every name ReservedClaim reports
// fails a token request whose Claims hook returns it, and every name it
// does not report ends up in the token, so a host that checks its claim
// names with it at start never meets the server_error later.
func TestReservedClaimAgreesWithIssuance(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		reserved bool
	}{
		{"iss", true}, {"sub", true}, {"aud", true}, {"exp", true}, {"iat", true}, {"nbf", true},
		{"jti", true}, {"client_id", true}, {"scope", true}, {"grant_id", true}, {"sub_type", true},
		{"tenant", false}, {"ISS", false}, {"scp", false}, {"roles", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := handler.ReservedClaim(tt.name); got != tt.reserved {
				t.Fatalf("ReservedClaim(%q) = %v, want %v", tt.name, got, tt.reserved)
			}
			ts, _ := newServer(t, func(c *handler.Config) {
				c.Claims = func(context.Context, handler.ClaimsRequest) (map[string]any, error) {
					return map[string]any{tt.name: "from-the-host"}, nil
				}
			})
			res := postForm(t, ts, url.Values{"grant_type": {"client_credentials"}}, integrationID+":"+integrationSecret)
			if tt.reserved {
				if res.status != 500 || res.body.Error != "server_error" {
					t.Errorf("a reserved claim from the hook: %d %s, want 500 server_error", res.status, res.raw)
				}
				return
			}
			if res.status != 200 {
				t.Fatalf("token: %d %s", res.status, res.raw)
			}
			if _, claims := afJWT(t, res.body.AccessToken); claims[tt.name] != "from-the-host" {
				t.Errorf("claim %q in the token = %v, want the hook's value", tt.name, claims[tt.name])
			}
		})
	}
}
