package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// defaultStorage keeps the demo's state across restarts: clients added
// with "server clients", the signing keys the handler generated, refresh
// tokens and revocations.
const defaultStorage = "sqlite:tollgate.db"

// kekEnv names the environment variable holding the key that encrypts
// generated signing keys at rest (32 bytes, base64). Unset: see
// resolveSealing.
const kekEnv = "TOLLGATE_KEY_ENCRYPTION_KEY"

// openStorage opens the store a spec names. close releases it.
func openStorage(ctx context.Context, spec string) (s storage.Store, close func() error, err error) {
	if spec == "memory" {
		return memory.New(), func() error { return nil }, nil
	}
	st, err := sqlstore.Open(ctx, spec, sqlstore.Options{})
	if err != nil {
		return nil, nil, storageError(err)
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
