package handler_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// Signing-key rotation (Config.KeyRotation, rotation.go), on an injected
// clock, through real HTTP. Everything here is prefixed kr.

// krClock is a clock the test moves.
type krClock struct{ ns atomic.Int64 }

func newKRClock(t time.Time) *krClock {
	c := &krClock{}
	c.set(t)
	return c
}
func (c *krClock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *krClock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *krClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// krEnv is one instance: its server over HTTP, on a shared clock and
// store.
type krEnv struct {
	srv *handler.Server
	ts  *httptest.Server
}

// The rotation schedule of these tests: a key signs for a day, is
// published an hour ahead; tokens live 4 h at most (the sales channel's),
// so a key retires 4 h 5 min (+ one re-read period, 1 min) after its
// successor starts.
const (
	krEvery   = 24 * time.Hour
	krAhead   = time.Hour
	krRetire  = 4*time.Hour + 5*time.Minute + time.Minute
	krAlg     = "ES256"
	krTimeout = 10 * time.Second
)

func krServer(t *testing.T, clock *krClock, ks storage.KeyStore, kek []byte) *krEnv {
	t.Helper()
	testClients(t) // computes integrationHash once
	srv, err := krNew(clock, ks, kek, handler.KeyRotation{Every: krEvery, PublishAhead: krAhead, Algorithm: krAlg})
	if err != nil {
		t.Fatalf("handler.New: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &krEnv{srv: srv, ts: ts}
}

func krNew(clock *krClock, ks storage.KeyStore, kek []byte, rot handler.KeyRotation) (*handler.Server, error) {
	clients := memory.New()
	for _, c := range []*storage.Client{
		{ID: integrationID, SecretHash: integrationHash, GrantTypes: []string{"client_credentials"},
			Scopes: []string{"market:all"}, DefaultScopes: []string{"market:all"}, Audiences: []string{apiAudience}, AccessTokenTTL: 2 * time.Hour},
		{ID: salesChannelID, Public: true, GrantTypes: []string{"client_credentials"},
			Scopes: []string{"market:id:*"}, Audiences: []string{apiAudience}, AccessTokenTTL: 4 * time.Hour},
	} {
		if err := clients.CreateClient(context.Background(), c); err != nil {
			return nil, err
		}
	}
	return handler.New(handler.Config{
		Issuer: "http://tollgate.test", Clients: clients, KeyStore: ks, KeyEncryptionKey: kek,
		KeyRotation: rot, Now: clock.now, Logger: slog.New(slog.DiscardHandler),
	})
}

// kids are the key ids the instance's JWKS publishes, sorted.
func (e *krEnv) kids(t *testing.T) []string {
	t.Helper()
	set, _ := gpFetchJWKS(t, e.ts)
	var out []string
	for i := range set.Len() {
		k, _ := set.Key(i)
		kid, _ := k.KeyID()
		out = append(out, kid)
	}
	slices.Sort(out)
	return out
}

// signer gets a token and returns the kid it is signed with, after
// checking it verifies against the instance's JWKS at now.
func (e *krEnv) signer(t *testing.T, now time.Time) string {
	t.Helper()
	res := postForm(t, e.ts, url.Values{"grant_type": {"client_credentials"}}, integrationID+":"+integrationSecret)
	if res.status != 200 {
		t.Fatalf("token: %d %s", res.status, res.raw)
	}
	set, _ := gpFetchJWKS(t, e.ts)
	if _, err := jwt.Parse([]byte(res.body.AccessToken), jwt.WithKeySet(set), jwt.WithClock(gpClock(now))); err != nil {
		t.Fatalf("the token does not verify against the JWKS served beside it: %v", err)
	}
	msg, err := jws.Parse([]byte(res.body.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := msg.Signatures()[0].ProtectedHeaders().KeyID()
	return kid
}

func krRefresh(t *testing.T, envs ...*krEnv) {
	t.Helper()
	for _, e := range envs {
		if err := handler.RefreshKeys(e.srv); err != nil {
			t.Fatalf("RefreshKeys: %v", err)
		}
	}
}

func krWant(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: %v, want %v", what, got, want)
	}
}

// TestKeyRotationSchedule: the next key is published an hour before it
// signs, signs from its time at both instances (the second started late,
// on the same store), and the old key is retired once its tokens have all
// expired.
func TestKeyRotationSchedule(t *testing.T) {
	t.Parallel()
	t0 := fixedNow
	clock := newKRClock(t0)
	store := memory.New()
	a := krServer(t, clock, store, nil)
	krWant(t, "JWKS at start", a.kids(t), "k1")
	if got := a.signer(t, clock.now()); got != "k1" {
		t.Fatalf("signer at start = %q, want k1", got)
	}

	next := "k" + t0.Add(krEvery).Format("20060102T150405Z")
	clock.set(t0.Add(krEvery - krAhead - time.Second))
	krRefresh(t, a)
	krWant(t, "JWKS a second before the next key is due", a.kids(t), "k1")

	clock.set(t0.Add(krEvery - krAhead))
	krRefresh(t, a)
	krWant(t, "JWKS once the next key is due", a.kids(t), "k1", next)
	if got := a.signer(t, clock.now()); got != "k1" {
		t.Errorf("signer while the next key is only published = %q, want k1", got)
	}
	b := krServer(t, clock, store, nil)
	krWant(t, "JWKS of an instance started then", b.kids(t), "k1", next)

	clock.set(t0.Add(krEvery - time.Nanosecond))
	for _, e := range []*krEnv{a, b} {
		if got := e.signer(t, clock.now()); got != "k1" {
			t.Errorf("signer just before the switch = %q, want k1", got)
		}
	}
	// The switch needs no re-read: each token picks its key by time.
	clock.set(t0.Add(krEvery))
	for _, e := range []*krEnv{a, b} {
		if got := e.signer(t, clock.now()); got != next {
			t.Errorf("signer at the switch = %q, want %s", got, next)
		}
	}

	clock.set(t0.Add(krEvery + krRetire))
	krRefresh(t, a, b)
	krWant(t, "JWKS as the last k1 token may still be in use", a.kids(t), "k1", next)
	clock.add(time.Second)
	krRefresh(t, a, b)
	krWant(t, "JWKS of a after retirement", a.kids(t), next)
	krWant(t, "JWKS of b after retirement", b.kids(t), next)
	recs, err := store.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.ID == "k1" && !r.RetiredAt.Equal(clock.now()) {
			t.Errorf("k1 retired at %v, want %v", r.RetiredAt, clock.now())
		}
	}
}

// TestKeyRotationConcurrent: instances starting at once when the next key
// is due make it once between them (the kid is the same at each), sealed,
// and publish the same keys.
func TestKeyRotationConcurrent(t *testing.T) {
	t.Parallel()
	kek := make([]byte, 32)
	clock := newKRClock(fixedNow)
	store := sqOpen(t, "sqlite:"+filepath.Join(t.TempDir(), "kr.db"), sqlstore.Options{})
	first := krServer(t, clock, store, kek)
	clock.add(krEvery - krAhead + time.Minute)
	const n = 4
	envs := make([]*krEnv, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { envs[i] = krServer(t, clock, store, kek) })
	}
	wg.Wait()
	krRefresh(t, first)
	want := first.kids(t)
	if len(want) != 2 {
		t.Fatalf("JWKS = %v, want k1 and the next key", want)
	}
	for _, e := range envs {
		krWant(t, "JWKS of an instance started with the others", e.kids(t), want...)
	}
	recs, err := store.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 { // k1, the next key, the refresh MAC key
		t.Errorf("stored %d keys, want 3", len(recs))
	}
	for _, r := range recs {
		if !handler.KeySealed(r) {
			t.Errorf("key %q stored unsealed", r.ID)
		}
	}
}

// TestRotateAndRetireByHand: RotateKeys publishes a key that signs an
// hour later, or at once; RetireKey takes a key out of the JWKS, but not
// the one that signs, nor one that does not exist.
func TestRotateAndRetireByHand(t *testing.T) {
	t.Parallel()
	clock := newKRClock(fixedNow)
	a := krServer(t, clock, memory.New(), nil)
	ctx := context.Background()
	ahead, err := a.srv.RotateKeys(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !ahead.ActiveFrom.Equal(fixedNow.Add(krAhead)) || ahead.Signing || ahead.Algorithm != krAlg {
		t.Errorf("RotateKeys = %+v, want an %s key signing from %v", ahead, krAlg, fixedNow.Add(krAhead))
	}
	krWant(t, "JWKS after a rotation", a.kids(t), "k1", ahead.ID)
	if got := a.signer(t, clock.now()); got != "k1" {
		t.Errorf("signer before the new key's time = %q, want k1", got)
	}
	if err := a.srv.RetireKey(ctx, "k1"); err == nil {
		t.Error("RetireKey of the signing key succeeded")
	}

	clock.add(time.Minute)
	now, err := a.srv.RotateKeys(ctx, clock.now())
	if err != nil {
		t.Fatal(err)
	}
	if got := a.signer(t, clock.now()); got != now.ID || !now.Signing {
		t.Errorf("signer after RotateKeys(now) = %q (%+v), want %s", got, now, now.ID)
	}
	for _, kid := range []string{"k1", ahead.ID} {
		if err := a.srv.RetireKey(ctx, kid); err != nil {
			t.Fatalf("RetireKey(%s): %v", kid, err)
		}
	}
	krWant(t, "JWKS after retiring by hand", a.kids(t), now.ID)
	if err := a.srv.RetireKey(ctx, "k1"); err != nil {
		t.Errorf("RetireKey of a retired key: %v", err)
	}
	if err := a.srv.RetireKey(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("RetireKey(unknown) = %v, want ErrNotFound", err)
	}
	infos, err := a.srv.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var retired []string
	for _, in := range infos {
		if !in.RetiredAt.IsZero() {
			retired = append(retired, in.ID)
		}
	}
	krWant(t, "retired keys listed", retired, "k1", ahead.ID)

	_, srv := newServer(t, nil)
	if _, err := srv.RotateKeys(ctx, time.Time{}); !errors.Is(err, handler.ErrRotationOff) {
		t.Errorf("RotateKeys without rotation = %v, want ErrRotationOff", err)
	}
}

// TestKeyRotationConfig: a rotation New cannot honour is refused, saying
// why.
func TestKeyRotationConfig(t *testing.T) {
	t.Parallel()
	testClients(t) // computes integrationHash once
	clock := newKRClock(fixedNow)
	for _, tt := range []struct {
		name string
		rot  handler.KeyRotation
		ks   storage.KeyStore
		want string
	}{
		{"every not longer than publish-ahead", handler.KeyRotation{Every: time.Hour}, memory.New(), "must be longer than KeyRotation.PublishAhead"},
		{"negative", handler.KeyRotation{Every: krEvery, PublishAhead: -time.Hour}, memory.New(), "must not be negative"},
		{"bad algorithm", handler.KeyRotation{Every: krEvery, Algorithm: "HS256"}, memory.New(), `Algorithm: "HS256"`},
	} {
		_, err := krNew(clock, tt.ks, nil, tt.rot)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New error %v, want one saying %q", tt.name, err, tt.want)
		}
	}
	_, err := handler.New(handler.Config{Issuer: "http://tollgate.test", Clients: memory.New(),
		Tokens: struct{ storage.TokenStore }{memory.New()}, KeyRotation: handler.KeyRotation{Every: krEvery}})
	if err == nil || !strings.Contains(err.Error(), "needs a Config.KeyStore") {
		t.Errorf("rotation without a KeyStore: New error %v", err)
	}
	_, err = handler.New(handler.Config{Issuer: "http://tollgate.test", Clients: memory.New(),
		Keys: []handler.SigningKey{{ID: "a"}, {ID: "b"}}, KeyRotation: handler.KeyRotation{Every: krEvery}})
	if err == nil || !strings.Contains(err.Error(), "only the first key") {
		t.Errorf("rotation with two configured keys: New error %v", err)
	}
}
