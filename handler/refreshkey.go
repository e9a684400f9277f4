package handler

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tollgate-oauth/tollgate/internal/keys"
	"github.com/tollgate-oauth/tollgate/internal/refreshtoken"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// The refresh tokens' MAC key: a refresh token is its family, generation
// and an HMAC under this key (internal/refreshtoken), so every instance
// that shares a token store must hold the same key. It is kept beside the
// signing keys in the KeyStore, sealed with the key-encryption key when
// one is set, exactly as the demo server keeps its signing keys.

// refreshKeyTimeout bounds New's reading and storing of the key.
const refreshKeyTimeout = 10 * time.Second

// refreshKeyAlg marks the record: not a signing algorithm, so code that
// loads signing keys from the store can skip it.
const refreshKeyAlg = "HS256"

// refreshKey returns the key from ks, or a new one stored there. Of two
// instances storing at once, the loser reads the winner's. Without a
// KeyStore, the key is random, for this process only.
func refreshKey(cfg Config, ks storage.KeyStore, log *slog.Logger) ([]byte, error) {
	if ks == nil {
		log.Warn("no KeyStore: the refresh-token MAC key is this process's own; its refresh tokens die with it and other instances refuse them (set Config.KeyStore)")
		return newRefreshKey(cfg.Rand)
	}
	ctx, cancel := context.WithTimeout(context.Background(), refreshKeyTimeout)
	defer cancel()
	for range 2 {
		key, err := loadRefreshKey(ctx, ks, cfg.KeyEncryptionKey)
		if err != nil || key != nil {
			return key, err
		}
		if key, err = newRefreshKey(cfg.Rand); err != nil {
			return nil, err
		}
		sealed, err := keys.Seal(key, cfg.KeyEncryptionKey, storage.RefreshMACKeyID)
		if err != nil {
			return nil, err
		}
		err = ks.AddSigningKey(ctx, &storage.SigningKey{ID: storage.RefreshMACKeyID, Algorithm: refreshKeyAlg, Private: sealed, CreatedAt: cfg.Now()})
		if errors.Is(err, storage.ErrAlreadyExists) {
			continue // another instance stored its key first: use that one
		}
		if err != nil {
			return nil, fmt.Errorf("storing the refresh-token MAC key: %w", err)
		}
		if _, inMemory := ks.(*memory.Store); cfg.KeyEncryptionKey == nil && !inMemory {
			log.Warn("refresh-token MAC key stored unencrypted; set Config.KeyEncryptionKey before the first start to seal it",
				"kid", storage.RefreshMACKeyID)
		}
		return key, nil
	}
	return nil, errors.New("the refresh-token MAC key could be neither stored nor read")
}

// loadRefreshKey returns the stored key, or nil if there is none.
func loadRefreshKey(ctx context.Context, ks storage.KeyStore, kek []byte) ([]byte, error) {
	all, err := ks.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the refresh-token MAC key: %w", err)
	}
	for _, k := range all {
		if k.ID != storage.RefreshMACKeyID {
			continue
		}
		if k.Algorithm != refreshKeyAlg {
			return nil, fmt.Errorf("the key %q is a %s signing key, not the refresh-token MAC key", k.ID, k.Algorithm)
		}
		key, err := keys.Unseal(k.Private, kek, k.ID)
		if err != nil {
			return nil, fmt.Errorf("the refresh-token MAC key: %w (Config.KeyEncryptionKey)", err)
		}
		if len(key) != refreshtoken.KeySize {
			return nil, fmt.Errorf("the stored refresh-token MAC key is %d bytes, want %d", len(key), refreshtoken.KeySize)
		}
		return key, nil
	}
	return nil, nil
}

func newRefreshKey(r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	key := make([]byte, refreshtoken.KeySize)
	if _, err := io.ReadFull(r, key); err != nil {
		return nil, fmt.Errorf("generating the refresh-token MAC key: %w", err)
	}
	return key, nil
}
