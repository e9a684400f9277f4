package handler_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// Issue 9 §7. Timing is tested by counting which slow hash ran, never by
// measuring: an unknown client id must spend a run of the same kind
// (algorithm and parameters) as a wrong secret for a client the store
// holds, whatever that kind is.

const shDefaultKind = "argon2id:m=19456,t=2,p=1,len=32"

// shArgon2id makes an argon2id hash with the given parameters, as another
// system (or an older tollgate) might have stored it.
func shArgon2id(t *testing.T, plain string, memory, time uint32, keyLen int) string {
	t.Helper()
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(plain), salt, time, memory, 1, uint32(keyLen))
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=1$%s$%s", memory, time,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func shBcrypt(t *testing.T, plain string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(plain), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// shRecorder collects the slow hashes a server runs.
type shRecorder struct {
	mu   sync.Mutex
	runs []handler.SlowHash
}

func (r *shRecorder) record(h handler.SlowHash) {
	r.mu.Lock()
	r.runs = append(r.runs, h)
	r.mu.Unlock()
}

// take returns what ran since the last call.
func (r *shRecorder) take() []handler.SlowHash {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.runs
	r.runs = nil
	return out
}

func TestUnknownClientCostsTheStoresKindOfHash(t *testing.T) {
	t.Parallel()
	const plain = "a-human-chosen-secret"
	tests := []struct {
		name string
		hash func(t *testing.T) string
		kind string
	}{
		{"argon2id, default parameters", func(t *testing.T) string { h, _ := handler.HashClientSecret(plain); return h }, shDefaultKind},
		{"argon2id, other parameters", func(t *testing.T) string { return shArgon2id(t, plain, 8*1024, 1, 16) }, "argon2id:m=8192,t=1,p=1,len=16"},
		{"bcrypt, cost 4", func(t *testing.T) string { return shBcrypt(t, plain, 4) }, "bcrypt:cost=4"},
		{"bcrypt, cost 6", func(t *testing.T) string { return shBcrypt(t, plain, 6) }, "bcrypt:cost=6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := memory.New()
			for _, c := range []*storage.Client{
				{ID: "x", SecretHash: tt.hash(t), GrantTypes: []string{"client_credentials"}, Audiences: []string{apiAudience}},
				{ID: "pub", Public: true, GrantTypes: []string{"client_credentials"}, Audiences: []string{apiAudience}},
			} {
				if err := store.CreateClient(context.Background(), c); err != nil {
					t.Fatal(err)
				}
			}
			ts, srv := newServer(t, func(cfg *handler.Config) { cfg.Clients = store; cfg.RateLimits.FailedAuth = "off" })
			rec := &shRecorder{}
			handler.SetSlowHashHook(srv, rec.record)
			fail := func(what string, res result, want handler.SlowHash) {
				t.Helper()
				rlWantStatus(t, what, res, http.StatusUnauthorized)
				if got := rec.take(); !slices.Equal(got, []handler.SlowHash{want}) {
					t.Errorf("%s: slow hashes %+v, want %+v", what, got, want)
				}
			}
			// Before the server has met the store's kind, failures spend the
			// default argon2id.
			fail("unknown client, nothing met yet", rlToken(t, ts, "", "ghost", "guess"), handler.SlowHash{Kind: shDefaultKind, Dummy: true})
			// A wrong secret runs the stored hash; from then on, failures
			// with no hash to check spend a run of that kind.
			fail("wrong secret", rlToken(t, ts, "", "x", "guess"), handler.SlowHash{Kind: tt.kind})
			fail("unknown client", rlToken(t, ts, "", "ghost", "guess"), handler.SlowHash{Kind: tt.kind, Dummy: true})
			fail("another unknown client, no secret", rlToken(t, ts, "", "ghost-2", ""), handler.SlowHash{Kind: tt.kind, Dummy: true})
			fail("confidential client, no secret", rlToken(t, ts, "", "x", ""), handler.SlowHash{Kind: tt.kind})
			fail("public client sending a secret", rlToken(t, ts, "", "pub", "guess"), handler.SlowHash{Kind: tt.kind, Dummy: true})
			fail("generated-looking secret for x", rlToken(t, ts, "", "x", "tgs_"+base64.RawURLEncoding.EncodeToString(make([]byte, 32))), handler.SlowHash{Kind: tt.kind})

			rlWantOK(t, "right secret", rlToken(t, ts, "", "x", plain))
			rlWantOK(t, "right secret, cached", rlToken(t, ts, "", "x", plain))
			if got := rec.take(); len(got) != 1 {
				t.Errorf("a right secret ran %d slow hashes, want 1 (then cached): %+v", len(got), got)
			}
		})
	}
}

// TestSlowHashCap fills Config.MaxSlowHashes with a hook that blocks, not
// with load: past the cap a request that needs a slow hash gets 503 at
// once (no queue, so no unbounded memory); cheap credentials still pass.
func TestSlowHashCap(t *testing.T) {
	t.Parallel()
	partnerSecret, partnerHash, err := handler.GenerateClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	clients := testClients(t)
	if err := clients.CreateClient(context.Background(), &storage.Client{
		ID: rlPartnerID, SecretHash: partnerHash, GrantTypes: []string{"client_credentials"}, Audiences: []string{apiAudience},
	}); err != nil {
		t.Fatal(err)
	}
	ts, srv := newServer(t, func(cfg *handler.Config) {
		cfg.Clients = clients
		cfg.MaxSlowHashes = 1
		cfg.RateLimits.FailedAuth = "1-M"
		cfg.TrustedProxies = rlLoopback
	})
	entered, release := make(chan struct{}), make(chan struct{})
	var runs atomic.Int32
	handler.SetSlowHashHook(srv, func(handler.SlowHash) {
		if runs.Add(1) == 1 {
			close(entered)
			<-release // holds the only slot
		}
	})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the server closes, which waits for requests

	first := make(chan result, 1)
	go func() { first <- rlToken(t, ts, "198.51.100.1", rlPartnerID, "guess") }()
	<-entered

	for _, tc := range []struct{ what, ip, id, secret string }{
		{"unknown client", "198.51.100.2", "ghost", "guess"},
		{"right but never verified argon2id secret", "198.51.100.3", integrationID, integrationSecret},
		{"public client sending a secret", "198.51.100.4", salesChannelID, "guess"},
	} {
		res := rlToken(t, ts, tc.ip, tc.id, tc.secret)
		rlWantStatus(t, tc.what+" at the cap", res, http.StatusServiceUnavailable)
		if res.body.Error != "temporarily_unavailable" || res.header.Get("Retry-After") != "1" ||
			res.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s at the cap: error %q, Retry-After %q, Cache-Control %q; want temporarily_unavailable, 1, no-store",
				tc.what, res.body.Error, res.header.Get("Retry-After"), res.header.Get("Cache-Control"))
		}
	}
	// Cheap credentials need no slot.
	rlWantOK(t, "generated secret at the cap", rlToken(t, ts, "203.0.113.1", rlPartnerID, partnerSecret))
	rlWantOK(t, "public client at the cap", rlToken(t, ts, "203.0.113.2", salesChannelID, ""))

	unblock()
	rlWantStatus(t, "the request that held the slot", <-first, http.StatusUnauthorized)
	// A refusal at the cap checked nothing, so it counted as no failure:
	// with failed_auth 1-M its address and client id are still free.
	rlWantStatus(t, "a guess from a refused address", rlToken(t, ts, "198.51.100.2", "ghost-2", "guess"), http.StatusUnauthorized)
	rlWantOK(t, "the refused right secret, now", rlToken(t, ts, "198.51.100.3", integrationID, integrationSecret))
	if n := runs.Load(); n != 3 {
		t.Errorf("%d slow hashes ran, want 3 (the held one, the later guess, the right secret)", n)
	}
}

// The workers of one integration often start together, each presenting the
// same secret this server has not verified yet. They share one slow hash
// instead of filling the cap and being refused as busy.
func TestWorkersStartingTogetherShareOneSlowHash(t *testing.T) {
	t.Parallel()
	ts, srv := newServer(t, func(cfg *handler.Config) {
		cfg.MaxSlowHashes = 1
		cfg.TrustedProxies = rlLoopback
	})
	entered, release := make(chan struct{}), make(chan struct{})
	var runs atomic.Int32
	handler.SetSlowHashHook(srv, func(handler.SlowHash) {
		if runs.Add(1) == 1 {
			close(entered)
			<-release // holds the only slot until the others are on their way
		}
	})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)

	const workers = 8
	results := make(chan result, workers)
	go func() { results <- rlToken(t, ts, "198.51.100.10", integrationID, integrationSecret) }()
	<-entered
	var started sync.WaitGroup
	for i := range workers - 1 {
		started.Add(1)
		go func() {
			started.Done()
			results <- rlToken(t, ts, fmt.Sprintf("198.51.100.%d", 11+i), integrationID, integrationSecret)
		}()
	}
	started.Wait()
	for range 1000 { // without sharing, a worker reaching the cap now is refused at once
		runtime.Gosched()
	}
	unblock()
	for i := range workers {
		rlWantOK(t, fmt.Sprintf("worker %d", i), <-results)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("%d slow hashes ran for %d workers with one secret, want 1", n, workers)
	}
}
