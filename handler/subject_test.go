package handler_test

import (
	"context"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
)

// Issue 9 §10: a machine token's sub is its client id (RFC 9068 §2.2),
// which may equal a user's subject. Machine tokens say so with
// "sub_type": "client"; users' tokens carry no sub_type, and no host hook
// can add one.
func TestMachineTokensSaySo(t *testing.T) {
	t.Parallel()
	env := afServer(t, func(env *afEnv, _ *handler.Config) {
		_, hash := afSecrets(t)
		// A client named like the signed-in user, alice.
		if err := env.store.CreateClient(context.Background(), &storage.Client{
			ID: afUser, SecretHash: hash, GrantTypes: []string{"client_credentials"}, Audiences: []string{apiAudience},
		}); err != nil {
			t.Fatal(err)
		}
	})
	machine := afTokens(t, "alice's client_credentials token", env.post(t, handler.TokenPath, afUser,
		map[string][]string{"grant_type": {"client_credentials"}})).access
	user := env.pair(t, afWebID, nil).access // signed in as alice
	for _, tc := range []struct {
		name, token, subType string
	}{
		{"machine token", machine, "client"},
		{"user token", user, ""},
	} {
		_, claims := afJWT(t, tc.token)
		if claims["sub"] != afUser {
			t.Fatalf("%s: sub %v, want %q", tc.name, claims["sub"], afUser)
		}
		got, present := claims["sub_type"]
		switch {
		case tc.subType == "" && present:
			t.Errorf("%s: sub_type %v, want none", tc.name, got)
		case tc.subType != "" && got != tc.subType:
			t.Errorf("%s: sub_type %v, want %q", tc.name, got, tc.subType)
		}
	}
}
