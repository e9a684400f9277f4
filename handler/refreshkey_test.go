package handler_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// The refresh tokens' MAC key (Config.KeyStore, Config.KeyEncryptionKey):
// instances that share a store share the key, so each verifies the
// others' refresh tokens; it is sealed at rest when a key-encryption key
// is set. Everything here is prefixed rk.

// rkServer is an af server whose tokens (and key, unless ks is set) are in
// tokens.
func rkServer(t *testing.T, tokens storage.TokenStore, ks storage.KeyStore) *afEnv {
	t.Helper()
	return afServer(t, func(_ *afEnv, c *handler.Config) { c.Tokens, c.KeyStore = tokens, ks })
}

// TestRefreshKeyShared: a refresh token issued by one instance rotates at
// another that shares its store, and back; an instance holding another key
// refuses it without touching the family.
func TestRefreshKeyShared(t *testing.T) {
	t.Parallel()
	shared := memory.New()
	a, b := rkServer(t, shared, nil), rkServer(t, shared, nil)
	p := a.pair(t, afWebID, nil)
	p = afTokens(t, "rotation at the second instance", b.refresh(t, afWebID, p.refresh, nil))
	p = afTokens(t, "rotation back at the first", a.refresh(t, afWebID, p.refresh, nil))

	// Same families, another key: the token is as good as forged there.
	other := rkServer(t, shared, memory.New())
	afWantError(t, "an instance with another key", other.refresh(t, afWebID, p.refresh, nil), 400, "invalid_grant", "invalid")
	// No KeyStore at all (Tokens is not one): a key of its own, per process.
	alone := rkServer(t, struct{ storage.TokenStore }{shared}, nil)
	afWantError(t, "an instance without a KeyStore", alone.refresh(t, afWebID, p.refresh, nil), 400, "invalid_grant", "invalid")
	afTokens(t, "the token at its own instance afterwards", a.refresh(t, afWebID, p.refresh, nil))
}

// TestRefreshKeyConcurrentStart: instances starting at once on a new
// store agree on one key: the losers of AddSigningKey read the winner's.
func TestRefreshKeyConcurrentStart(t *testing.T) {
	t.Parallel()
	store := sqOpen(t, "sqlite:"+filepath.Join(t.TempDir(), "t.db"), sqlstore.Options{})
	const n = 6
	envs := make([]*afEnv, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { envs[i] = rkServer(t, store, nil) })
	}
	wg.Wait()
	p := envs[0].pair(t, afWebID, nil)
	for i, env := range envs[1:] {
		p = afTokens(t, "rotation at instance "+string(rune('2'+i)), env.refresh(t, afWebID, p.refresh, nil))
	}
	keys, err := store.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID != storage.RefreshMACKeyID || keys[0].Algorithm != "HS256" {
		t.Errorf("stored keys = %+v, want the one refresh-mac-1 HS256 record", keys)
	}
}

// TestRefreshKeySealed: with Config.KeyEncryptionKey the stored key is
// sealed; starting again needs the same key-encryption key, and a key
// stored unsealed is refused once one is set.
func TestRefreshKeySealed(t *testing.T) {
	t.Parallel()
	kek, wrong := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	newServer := func(store storage.Store, kek []byte) error {
		_, err := handler.New(handler.Config{Issuer: afIssuer, Clients: store, Tokens: store, KeyEncryptionKey: kek})
		return err
	}
	sealed := sqOpen(t, "sqlite:"+filepath.Join(t.TempDir(), "sealed.db"), sqlstore.Options{})
	if err := newServer(sealed, kek); err != nil {
		t.Fatal(err)
	}
	keys, err := sealed.SigningKeys(context.Background())
	if err != nil || len(keys) != 1 || !bytes.HasPrefix(keys[0].Private, []byte("tollgate-sealed:v1:")) {
		t.Fatalf("stored key = %+v, %v; want it sealed", keys, err)
	}
	if err := newServer(sealed, kek); err != nil {
		t.Errorf("restart with the same key-encryption key: %v", err)
	}
	plain := memory.New()
	if err := newServer(plain, nil); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		store storage.Store
		kek   []byte
		want  string
	}{
		{"sealed key, no key-encryption key", sealed, nil, "set the key-encryption key"},
		{"sealed key, another key-encryption key", sealed, wrong, "wrong key-encryption key"},
		{"plain key, a key-encryption key set", plain, kek, "stored unencrypted"},
		{"a key-encryption key of 16 bytes", memory.New(), kek[:16], "KeyEncryptionKey: is 16 bytes"},
	} {
		err := newServer(tt.store, tt.kek)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New error %v, want one saying %q", tt.name, err, tt.want)
		}
	}
}
