package handler

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tollgate-oauth/tollgate/internal/refreshtoken"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// The refresh tokens' MAC key: a refresh token is its family, generation
// and an HMAC under this key (internal/refreshtoken), so every instance
// that shares a token store must hold the same key. It is kept beside the
// signing keys in the KeyStore, sealed with the key-encryption key when
// one is set, exactly as the signing keys the handler generates
// (keystore.go).

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
	key, made, err := storedKey(ctx, ks, cfg.KeyEncryptionKey,
		storage.SigningKey{ID: storage.RefreshMACKeyID, Algorithm: refreshKeyAlg, CreatedAt: cfg.Now()},
		func() ([]byte, error) { return newRefreshKey(cfg.Rand) })
	if err != nil {
		return nil, fmt.Errorf("the refresh-token MAC key: %w", err)
	}
	if len(key) != refreshtoken.KeySize {
		return nil, fmt.Errorf("the stored refresh-token MAC key is %d bytes, want %d", len(key), refreshtoken.KeySize)
	}
	if _, inMemory := ks.(*memory.Store); made && cfg.KeyEncryptionKey == nil && !inMemory {
		log.Warn("refresh-token MAC key stored unencrypted; set Config.KeyEncryptionKey before the first start to seal it",
			"kid", storage.RefreshMACKeyID)
	}
	return key, nil
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
