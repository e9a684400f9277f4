package handler_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// Signing keys the handler keeps in Config.KeyStore (keystore.go): a
// configured key with an ID and no Key is read from the store, or
// generated once and stored there, sealed like the refresh MAC key.
// Everything here is prefixed ks.

// ksServer starts a server whose key k1 (alg) is kept in store, sealed
// with kek.
func ksServer(t *testing.T, store storage.KeyStore, alg string, kek []byte) (*handler.Server, error) {
	t.Helper()
	return handler.New(handler.Config{
		Issuer: "http://tollgate.test", Clients: testClients(t), KeyStore: store, KeyEncryptionKey: kek,
		Keys: []handler.SigningKey{{ID: "k1", Algorithm: alg}},
	})
}

// TestSigningKeyStored: instances starting at once on a new store agree on
// one k1 (the losers of AddSigningKey read the winner's), stored sealed;
// a restart publishes the same key.
func TestSigningKeyStored(t *testing.T) {
	t.Parallel()
	kek := bytes.Repeat([]byte{7}, 32)
	store := sqOpen(t, "sqlite:"+filepath.Join(t.TempDir(), "k.db"), sqlstore.Options{})
	const n = 6
	jwks := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			srv, err := ksServer(t, store, "ES256", kek)
			if err != nil {
				t.Error(err)
				return
			}
			jwks[i] = srv.JWKS()
		})
	}
	wg.Wait()
	for i := range jwks[1:] {
		if !bytes.Equal(jwks[0], jwks[i+1]) {
			t.Fatalf("instances publish different keys:\n%s\n%s", jwks[0], jwks[i+1])
		}
	}
	if !strings.Contains(string(jwks[0]), `"kid":"k1"`) {
		t.Errorf("JWKS %s does not publish k1", jwks[0])
	}
	recs, err := store.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
		if !handler.KeySealed(r) || bytes.Contains(r.Private, []byte("PRIVATE KEY")) {
			t.Errorf("key %q is stored unsealed: %.40q", r.ID, r.Private)
		}
	}
	if strings.Join(ids, " ") != "k1 "+storage.RefreshMACKeyID && strings.Join(ids, " ") != storage.RefreshMACKeyID+" k1" {
		t.Errorf("stored keys %v, want k1 and the MAC key once each", ids)
	}
	again, err := ksServer(t, store, "ES256", kek)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.JWKS(), jwks[0]) {
		t.Errorf("a restart changed the key:\n%s\n%s", jwks[0], again.JWKS())
	}
}

// TestSigningKeyRefused: a stored key that does not fit the config stops
// New with an error saying why, and is left as it was.
func TestSigningKeyRefused(t *testing.T) {
	t.Parallel()
	kek, wrong := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	// Each store holds k1 and the MAC key; k1 is read first, so it is what
	// New trips on.
	sealed, plain := memory.New(), memory.New()
	if _, err := ksServer(t, sealed, "EdDSA", kek); err != nil {
		t.Fatal(err)
	}
	if _, err := ksServer(t, plain, "EdDSA", nil); err != nil {
		t.Fatal(err)
	}
	before := func(s *memory.Store) []byte {
		recs, _ := s.SigningKeys(context.Background())
		for _, r := range recs {
			if r.ID == "k1" {
				return r.Private
			}
		}
		t.Fatal("no k1 stored")
		return nil
	}
	sealedK1, plainK1 := before(sealed), before(plain)
	for _, tt := range []struct {
		name   string
		store  *memory.Store
		alg    string
		kek    []byte
		want   string
		kekErr bool
	}{
		{"sealed, no key-encryption key", sealed, "EdDSA", nil, "set the key-encryption key", true},
		{"sealed, another key-encryption key", sealed, "EdDSA", wrong, "wrong key-encryption key", true},
		{"unsealed, a key-encryption key set", plain, "EdDSA", kek, "stored unencrypted", true},
		{"another algorithm", plain, "ES256", nil, `Config.Keys[0]: the stored key "k1" is EdDSA, not ES256`, false},
	} {
		_, err := ksServer(t, tt.store, tt.alg, tt.kek)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New error %v, want one saying %q", tt.name, err, tt.want)
		}
		if got := errors.Is(err, handler.ErrKeyEncryptionKey); got != tt.kekErr {
			t.Errorf("%s: errors.Is(err, ErrKeyEncryptionKey) = %v, want %v", tt.name, got, tt.kekErr)
		}
	}
	if !bytes.Equal(before(sealed), sealedK1) || !bytes.Equal(before(plain), plainK1) {
		t.Error("a refused start changed a stored key")
	}
	_, err := handler.New(handler.Config{Issuer: "http://tollgate.test", Clients: testClients(t),
		Keys: []handler.SigningKey{{ID: storage.RefreshMACKeyID}}})
	if err == nil || !strings.Contains(err.Error(), "refresh-token MAC key") {
		t.Errorf("a signing key named %q: New error %v, want a refusal", storage.RefreshMACKeyID, err)
	}
}

// TestParseKeyEncryptionKey: the text forms of a key-encryption key.
func TestParseKeyEncryptionKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", true},
		{"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", true},
		{"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ==", false}, // 31 bytes
		{"not a key", false},
		{"", false},
	} {
		k, err := handler.ParseKeyEncryptionKey(tt.in)
		if (err == nil) != tt.ok || (tt.ok && !bytes.Equal(k, bytes.Repeat([]byte{1}, 32))) {
			t.Errorf("ParseKeyEncryptionKey(%q) = %x, %v; ok want %v", tt.in, k, err, tt.ok)
		}
	}
}
