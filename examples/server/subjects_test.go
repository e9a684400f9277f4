package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 9 §10: a user may not be named like a client, wherever the client
// is defined: a client_credentials token's sub is its client id, a user's
// token's sub is the username. The config case is in
// TestInvalidConfigStopsStartup; these are the clients kept in the storage.
func TestUserNamedLikeAStoredClient(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := "sqlite:" + filepath.Join(dir, "tollgate.db")
	mustAdmin(t, "add", "-storage", spec, "-id", "alice", "-audiences", "https://api.example.com")
	cfgPath := writeConfig(t, dir, fmt.Sprintf(`
listen: 127.0.0.1:0
storage: %q
users: [{username: alice, password: alice-password}, {username: bob, password: bob-password}]
`, spec))

	// The server refuses to start, naming the user and why.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout strings.Builder
	// A config wrongly accepted stops once ready, returning nil.
	err := run(ctx, []string{"-config", cfgPath}, nil, &stdout, t.Output(), func(string) { cancel() })
	if err == nil || !strings.Contains(err.Error(), `users[0].username: "alice" is also the id of a client in the storage`) ||
		!strings.Contains(err.Error(), "same sub") {
		t.Errorf("starting with user alice beside client alice: %v; want an error naming users[0].username and the clash", err)
	}

	// clients add with the config refuses the clash up front.
	_, err = admin(t, "add", "-config", cfgPath, "-id", "bob", "-audiences", "https://api.example.com")
	if err == nil || !strings.Contains(err.Error(), `users[1].username: "bob" is also the id of this new client`) {
		t.Errorf("clients add -id bob beside user bob: %v; want it refused", err)
	}
	mustAdmin(t, "add", "-config", cfgPath, "-id", "carol", "-audiences", "https://api.example.com")
}

// The zero-config demo's user is not named like any of its clients.
func TestZeroConfigUserIsNoClient(t *testing.T) {
	t.Parallel()
	cfg, d, err := demoConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuer = "http://127.0.0.1:8080"
	d.addUserFlow(cfg)
	if err := cfg.check(); err != nil {
		t.Fatalf("the zero-config demo does not pass its own checks: %v", err)
	}
}
