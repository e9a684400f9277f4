package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/internal/keys"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// defaultStorage keeps the demo's state across restarts: clients added
// with "server clients", generated signing keys, refresh tokens and
// revocations.
const defaultStorage = "sqlite:tollgate.db"

// kekEnv names the environment variable holding the key that encrypts
// generated signing keys at rest (32 bytes, base64). Unset: see
// resolveSealing.
const kekEnv = "TOLLGATE_KEY_ENCRYPTION_KEY"

func checkStorage(spec string) error {
	switch {
	case spec == "", spec == "memory", strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
	case strings.HasPrefix(spec, "sqlite:") && len(spec) > len("sqlite:"):
	default:
		return fmt.Errorf("%q: want memory, sqlite:PATH or a postgres:// URL", redactStorage(spec))
	}
	return nil
}

// openStorage opens the store a spec names. close releases it.
func openStorage(ctx context.Context, spec string) (s storage.Store, close func() error, err error) {
	if spec == "memory" {
		return memory.New(), func() error { return nil }, nil
	}
	st, err := sqlstore.Open(ctx, spec, sqlstore.Options{})
	if err != nil {
		return nil, nil, err
	}
	return st, st.Close, nil
}

// syncClients writes the config's clients into the store: the file is the
// truth for the ids it lists (created, or updated if they exist); clients
// added with "server clients add" are left alone. A client in
// createOnly is only created: the zero-config demo client keeps the secret
// printed when the database was made.
func syncClients(ctx context.Context, store storage.ClientStore, cfg *fileConfig, createOnly map[string]bool) (created map[string]bool, err error) {
	created = map[string]bool{}
	for i, c := range cfg.Clients {
		hash := ""
		if c.Secret != "" {
			if hash, err = handler.HashClientSecret(c.Secret); err != nil {
				return nil, fmt.Errorf("config: clients[%d].secret: %w", i, err)
			}
		}
		rec := c.record(hash)
		err := store.CreateClient(ctx, rec)
		switch {
		case err == nil:
			created[rec.ID] = true
		case errors.Is(err, storage.ErrAlreadyExists) && createOnly[rec.ID]:
			err = nil // it keeps the secret printed when the database was made
		case errors.Is(err, storage.ErrAlreadyExists):
			err = store.UpdateClient(ctx, rec)
		}
		if err != nil {
			return nil, fmt.Errorf("config: clients[%d].%w", i, err)
		}
	}
	return created, nil
}

// persistedKeys resolves the configured keys that have no file: the same
// kid as a stored key is that key (unsealed with seal's key-encryption
// key, if any), a new kid is generated and stored (sealed with it). Two
// instances starting together agree: the second to store reads the first's.
func persistedKeys(ctx context.Context, store storage.KeyStore, signing []handler.SigningKey, seal keySealing) ([]handler.SigningKey, error) {
	kek := seal.kek
	out := make([]handler.SigningKey, len(signing))
	for i, sk := range signing {
		out[i] = sk
		if sk.Key != nil {
			continue // from a file
		}
		for attempt := 0; attempt < 2; attempt++ {
			k, err := loadKey(ctx, store, sk.ID, kek)
			if err != nil {
				return nil, fmt.Errorf("keys[%d]: %w (the key-encryption key is read from %s)", i, err, seal.source)
			}
			if k != nil {
				if k.alg != sk.Algorithm {
					return nil, fmt.Errorf("keys[%d]: the stored key %q is %s, the config says %s", i, sk.ID, k.alg, sk.Algorithm)
				}
				out[i].Key = k.signer
				break
			}
			priv, err := keys.Generate(sk.Algorithm, rand.Reader)
			if err != nil {
				return nil, fmt.Errorf("keys[%d]: %w", i, err)
			}
			pem, err := keys.MarshalPEM(priv)
			if err != nil {
				return nil, err
			}
			sealed, err := keys.Seal(pem, kek, sk.ID)
			if err != nil {
				return nil, err
			}
			err = store.AddSigningKey(ctx, &storage.SigningKey{ID: sk.ID, Algorithm: sk.Algorithm, Private: sealed, CreatedAt: time.Now()})
			if errors.Is(err, storage.ErrAlreadyExists) {
				continue // another instance stored it first: read theirs
			}
			if err != nil {
				return nil, fmt.Errorf("keys[%d]: %w", i, err)
			}
			out[i].Key = priv
			break
		}
		if out[i].Key == nil {
			return nil, fmt.Errorf("keys[%d]: could not store or read key %q", i, sk.ID)
		}
	}
	return out, nil
}

type loadedKey struct {
	alg    string
	signer crypto.Signer
}

func loadKey(ctx context.Context, store storage.KeyStore, kid string, kek []byte) (*loadedKey, error) {
	all, err := store.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range all {
		// The store also holds the handler's refresh-token MAC key (a
		// secret HS256 key): never a signing key, never in the JWKS.
		if k.ID != kid || k.Algorithm == "HS256" || k.ID == storage.RefreshMACKeyID {
			continue
		}
		pem, err := keys.Unseal(k.Private, kek, kid)
		if err != nil {
			return nil, err
		}
		signer, err := keys.ParsePEM(pem)
		if err != nil {
			return nil, fmt.Errorf("stored key %q: %w", kid, err)
		}
		return &loadedKey{alg: k.Algorithm, signer: signer}, nil
	}
	return nil, nil
}

// checkStoredSubjects is checkSubjects against the clients in the store:
// those added with "server clients add" are not in the config.
func checkStoredSubjects(ctx context.Context, store storage.ClientStore, users []userConfig) error {
	if len(users) == 0 {
		return nil
	}
	list, err := store.ListClients(ctx)
	if err != nil {
		return fmt.Errorf("checking usernames against the stored clients: %w", err)
	}
	ids := make(map[string]bool, len(list))
	for _, c := range list {
		ids[c.ID] = true
	}
	return checkSubjects(users, func(id string) (string, bool) {
		return "the id of a client in the storage", ids[id]
	})
}
