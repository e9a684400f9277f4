package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
)

// What the demo keeps on disk, and who can read it. The database holds
// client secret hashes, token digests and the generated signing keys;
// whoever reads a signing key can mint tokens for every API that trusts
// this issuer. So a generated key is never stored unencrypted without
// someone having said so:
//
//   - TOLLGATE_KEY_ENCRYPTION_KEY set: keys are sealed with it, whatever
//     the storage.
//   - SQLite: on the first start the demo makes a key-encryption key file
//     beside the database (tollgate.db.kek, mode 0600) and seals with it;
//     later starts read it. The startup line names the file. Stolen
//     together with the database it protects nothing, but a copied or
//     backed-up database alone does not give the keys away.
//   - PostgreSQL: the database is on another machine, so a file here
//     would be a second thing to share between instances; the demo
//     refuses to start without the variable unless -allow-unsealed-keys
//     says plain keys are acceptable.
//   - memory: nothing outlives the process; nothing to seal.

// kekSuffix names the key-encryption key file beside a SQLite database.
const kekSuffix = ".kek"

// allowUnsealedFlag is the flag that accepts keys stored unencrypted.
const allowUnsealedFlag = "allow-unsealed-keys"

// keySealing is how generated signing keys are kept at rest.
type keySealing struct {
	kek    []byte // nil: keys are stored as plain PEM
	source string // where kek came from (the variable or the file), for errors
	note   string // for the startup line; "" for memory storage
}

// resolveSealing decides, before any key is loaded or stored, which
// key-encryption key seals the keys of the storage spec names (see
// above). It looks at the stored keys first, so a database whose keys are
// sealed never gets a fresh (and so wrong) key file made for it.
func resolveSealing(ctx context.Context, spec string, store storage.KeyStore, allowUnsealed bool, logger *slog.Logger) (keySealing, error) {
	if spec == "memory" {
		// Nothing is stored: no key to seal, and nothing to say about one,
		// whatever the environment holds.
		return keySealing{source: kekEnv}, nil
	}
	if v := os.Getenv(kekEnv); v != "" {
		kek, err := handler.ParseKeyEncryptionKey(v)
		if err != nil {
			return keySealing{}, fmt.Errorf("%s: %w", kekEnv, err)
		}
		return keySealing{kek: kek, source: kekEnv, note: "keys sealed with " + kekEnv}, nil
	}
	unsealed := keySealing{source: kekEnv, note: "keys stored UNENCRYPTED (-" + allowUnsealedFlag + ")"}
	switch {
	case strings.HasPrefix(spec, "sqlite:"):
		path := strings.TrimPrefix(spec, "sqlite:") + kekSuffix
		kek, err := readKEKFile(path, logger)
		if err == nil {
			return keySealing{kek: kek, source: path, note: "keys sealed with " + path}, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return keySealing{}, err
		}
		sealed, plain, err := storedKinds(ctx, store)
		if err != nil {
			return keySealing{}, err
		}
		switch {
		case sealed:
			return keySealing{}, fmt.Errorf("the stored signing keys are sealed, but their key-encryption key file %s is missing: restore it from the backup of the database, or set %s", path, kekEnv)
		case plain && !allowUnsealed:
			return keySealing{}, fmt.Errorf("the database holds signing keys stored unencrypted (made before the demo kept a key-encryption key file): start with -%s to keep using them, or start on a new database", allowUnsealedFlag)
		case plain:
			logger.Warn("signing keys are stored unencrypted in the database (-" + allowUnsealedFlag + ")")
			return unsealed, nil
		}
		if kek, err = createKEKFile(path, logger); err != nil {
			return keySealing{}, err
		}
		return keySealing{kek: kek, source: path, note: "keys sealed with " + path + ", made now: back it up with the database"}, nil
	default: // PostgreSQL
		if !allowUnsealed {
			return keySealing{}, fmt.Errorf("with PostgreSQL, generated signing keys are stored sealed: set %s (32 bytes, base64; e.g. openssl rand -base64 32) on every instance, or start with -%s", kekEnv, allowUnsealedFlag)
		}
		logger.Warn("signing keys are stored unencrypted in the database (-" + allowUnsealedFlag + "); set " + kekEnv + " before the first start to seal them")
		return unsealed, nil
	}
}

// storedKinds reports whether the store holds sealed keys, plain ones, or
// both.
func storedKinds(ctx context.Context, store storage.KeyStore) (sealed, plain bool, err error) {
	all, err := store.SigningKeys(ctx)
	if err != nil {
		return false, false, fmt.Errorf("reading the stored signing keys: %w", err)
	}
	for _, k := range all {
		if handler.KeySealed(k) {
			sealed = true
		} else {
			plain = true
		}
	}
	return sealed, plain, nil
}

// readKEKFile reads a key-encryption key file: the key in base64 on one
// line, the form TOLLGATE_KEY_ENCRYPTION_KEY takes, so the file's content
// can become the variable. A missing file is fs.ErrNotExist.
func readKEKFile(path string, logger *slog.Logger) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("key-encryption key file: %w", err)
	}
	kek, err := handler.ParseKeyEncryptionKey(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("key-encryption key file %s: not a key (want 32 bytes, base64, on one line): %w", path, err)
	}
	warnIfShared(logger, path, 0o077, "the key-encryption key file is readable by other users; chmod 600 it")
	return kek, nil
}

// createKEKFile makes a new key-encryption key file, 0600. It is written
// to a temporary file, synced, and linked into place, which fails if the
// name exists: a second instance starting on the same database at the
// same moment reads the first's key instead of replacing it, and no
// instance ever reads a half-written file. The directory is synced too, so
// the file outlives a crash that the keys sealed with it survive.
func createKEKFile(path string, logger *slog.Logger) ([]byte, error) {
	kek := make([]byte, 32)
	rand.Read(kek) // never fails since Go 1.24
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("making the key-encryption key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(base64.StdEncoding.EncodeToString(kek) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	if errors.Is(err, fs.ErrExist) {
		return readKEKFile(path, logger) // another instance made it first
	}
	if err != nil {
		return nil, fmt.Errorf("making the key-encryption key file %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not every system syncs a directory
		d.Close()
	}
	return kek, nil
}

// warnSharedDatabase warns when an existing SQLite database file can be
// read by every user of the machine. sqlstore creates new files 0600 but
// leaves an existing file's mode alone: the operator may have chosen it.
func warnSharedDatabase(logger *slog.Logger, spec string) {
	if path, ok := strings.CutPrefix(spec, "sqlite:"); ok {
		warnIfShared(logger, path, 0o004, "the database file is readable by every user of this machine; chmod 600 it (and its -wal and -shm files)")
	}
}

// warnIfShared logs msg when path's mode has any of the bits in mask.
// Windows reports no such bits, so it is not checked there.
func warnIfShared(logger *slog.Logger, path string, mask fs.FileMode, msg string) {
	if runtime.GOOS == "windows" {
		return
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&mask != 0 {
		logger.Warn(msg, "file", path, "mode", fmt.Sprintf("%#o", fi.Mode().Perm()))
	}
}

// warnMemory says once, at start, what memory storage means: the server
// keeps nothing when it stops.
func warnMemory(logger *slog.Logger, spec string) {
	if spec == "memory" {
		logger.Warn("storage is memory: nothing survives a restart (clients, signing keys, refresh tokens, revocations, consents); use -storage sqlite:PATH to keep them")
	}
}
