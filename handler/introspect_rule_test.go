package handler_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
)

// Issue 9 §5: a confidential client may introspect a token only if it is
// the token's client, its client id is one of the token's audiences, or
// its record marks it as an introspector. Anyone else learns nothing:
// {"active":false}, as for a token that does not exist.
func TestIntrospectionCallerRule(t *testing.T) {
	t.Parallel()
	env := afServer(t, func(env *afEnv, _ *handler.Config) {
		_, hash := afSecrets(t)
		// A resource server whose client id is its audience.
		if err := env.store.CreateClient(context.Background(), &storage.Client{
			ID: apiAudience, SecretHash: hash, GrantTypes: []string{"client_credentials"}, Audiences: []string{apiAudience},
		}); err != nil {
			t.Fatal(err)
		}
	})
	user := env.pair(t, afWebID, nil) // aud https://api.example.com
	machine := env.ccToken(t)         // the integration's, aud https://qa-api.example.com
	tests := []struct {
		name, caller, token string
		active              bool
	}{
		{"an introspector, a user token", afResourceID, user.access, true},
		{"an introspector, a machine token", afResourceID, machine, true},
		{"the token's client, its user token", afWebID, user.access, true},
		{"the token's client, its machine token", integrationID, machine, true},
		{"a client named by the token's aud", apiAudience, user.access, true},
		{"a client not named by the token's aud", apiAudience, machine, false},
		{"another confidential client, a user token", afOtherWebID, user.access, false},
		{"another confidential client, a machine token", afOtherWebID, machine, false},
		{"a client with the token's audience, not its id", afCodeOnlyID, user.access, false},
		{"another client, a refresh token", afOtherWebID, user.refresh, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := env.postRequest(handler.IntrospectPath, "", url.Values{"token": {tt.token}})
			secret := env.secret
			if tt.caller == integrationID {
				secret = integrationSecret
			}
			// Not postRequest's Basic: the caller's id may hold a ':'.
			req.SetBasicAuth(url.QueryEscape(tt.caller), url.QueryEscape(secret))
			res := afDo(t, req)
			if res.status != http.StatusOK {
				t.Fatalf("introspection as %s: %s", tt.caller, res)
			}
			if got := res.json["active"]; got != tt.active {
				t.Errorf("%s introspecting: active %v, want %v: %s", tt.caller, got, tt.active, res.raw)
			}
			if !tt.active && len(res.json) != 1 {
				t.Errorf("a refused caller learnt more than active:false: %s", res.raw)
			}
		})
	}
}
