//go:build unix

package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// keysConfig is a config whose one signing key is generated and stored
// (EdDSA: quick to generate), with a client to get a token with.
func keysConfig(t *testing.T) string {
	t.Helper()
	return writeConfig(t, t.TempDir(), `
listen: 127.0.0.1:0
keys: [{kid: k1, alg: EdDSA}]
clients:
  - {id: svc, secret: svc-secret-value, grant_types: [client_credentials], audiences: [https://api.example.com]}
`)
}

// firstLine is the startup line a run printed.
func (s *server) firstLine() string {
	line, _, _ := strings.Cut(s.stdout, "\n")
	return line
}

// wantMode fails unless path exists with mode perm.
func wantMode(t *testing.T, path string, perm os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("%s: %v", filepath.Base(path), err)
		return
	}
	if got := fi.Mode().Perm(); got != perm {
		t.Errorf("%s: mode %#o, want %#o", filepath.Base(path), got, perm)
	}
}

// TestKeyEncryptionKeyFile: with SQLite and no TOLLGATE_KEY_ENCRYPTION_KEY,
// the first start makes tollgate.db.kek (0600) beside the database, seals
// the generated key with it and says so; the database and its -wal and
// -shm files are 0600; a restart reuses the file and the key; a corrupt,
// wrong or missing file stops start-up with an error naming it, and
// replaces nothing. Not parallel: t.Setenv.
func TestKeyEncryptionKeyFile(t *testing.T) {
	t.Setenv(kekEnv, "")
	dir := t.TempDir()
	db := filepath.Join(dir, "tollgate.db")
	kekPath := db + kekSuffix
	args := []string{"-config", keysConfig(t), "-storage", "sqlite:" + db}

	s1 := start(t, nil, args...)
	if line := s1.firstLine(); !strings.Contains(line, "keys sealed with "+kekPath+", made now: back it up with the database") {
		t.Errorf("first start: the startup line %q does not say the key file was made", line)
	}
	tok := basicToken(t, s1.url, "svc", "svc-secret-value")
	if tok.Status != 200 {
		t.Fatalf("token: %+v", tok)
	}
	// Files while the server runs: -wal and -shm exist now.
	for _, p := range []string{db, db + "-wal", db + "-shm", kekPath} {
		wantMode(t, p, 0o600)
	}
	var jwks1 jwkSet
	getJSON(t, s1.url+handler.JWKSPath, &jwks1)
	if err := s1.stop(); err != nil {
		t.Fatal(err)
	}
	kekFile, err := os.ReadFile(kekPath)
	if err != nil {
		t.Fatal(err)
	}
	kek, err := handler.ParseKeyEncryptionKey(strings.TrimSpace(string(kekFile)))
	if err != nil {
		t.Fatalf("the key file holds %q: %v", kekFile, err)
	}
	stored := storedPrivateKey(t, db)
	if !handler.KeySealed(&storage.SigningKey{Private: stored}) {
		t.Fatalf("the stored key is not sealed: %.40q", stored)
	}
	if err := opensWith(t, "sqlite:"+db, kek); err != nil {
		t.Errorf("the stored keys do not open with the key file: %v", err)
	}
	if bytes.Contains(dbFileBytes(t, db), []byte("PRIVATE KEY")) {
		t.Error("the database files hold a plain PEM key")
	}

	// A restart reads the file: same key, file untouched, no "made now".
	s2 := start(t, nil, args...)
	if line := s2.firstLine(); !strings.Contains(line, "keys sealed with "+kekPath+")") {
		t.Errorf("restart: the startup line %q does not name the key file (or says it was made)", line)
	}
	var jwks2 jwkSet
	getJSON(t, s2.url+handler.JWKSPath, &jwks2)
	if !reflect.DeepEqual(jwks1, jwks2) {
		t.Errorf("the restart changed the key:\n%v\n%v", jwks1, jwks2)
	}
	if err := s2.stop(); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(kekPath); !bytes.Equal(again, kekFile) {
		t.Error("the restart rewrote the key file")
	}

	otherKEK := make([]byte, 32)
	rand.Read(otherKEK)
	for _, tc := range []struct {
		name    string
		content []byte // nil: no file
		want    []string
	}{
		{"corrupt file", []byte("not a key\n"), []string{kekPath, "not a key"}},
		{"short key", []byte(base64.StdEncoding.EncodeToString(otherKEK[:16]) + "\n"), []string{kekPath, "32 bytes"}},
		{"another key", []byte(base64.StdEncoding.EncodeToString(otherKEK) + "\n"), []string{kekPath, "wrong key-encryption key"}},
		{"missing file", nil, []string{kekPath, "missing", kekEnv}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(kekPath)
			if tc.content != nil {
				if err := os.WriteFile(kekPath, tc.content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := runFails(t, 10*time.Second, args...)
			oneLine(t, tc.name, err)
			for _, w := range tc.want {
				errorMentions(t, tc.name, err, w)
			}
			if got, _ := os.ReadFile(kekPath); !bytes.Equal(got, tc.content) {
				t.Errorf("the refused start changed the key file to %q", got)
			}
			if got := storedPrivateKey(t, db); !bytes.Equal(got, stored) {
				t.Error("the refused start changed the stored key")
			}
		})
	}

	// The file restored from a backup: the same key again.
	if err := os.WriteFile(kekPath, kekFile, 0o600); err != nil {
		t.Fatal(err)
	}
	s3 := start(t, nil, args...)
	var jwks3 jwkSet
	getJSON(t, s3.url+handler.JWKSPath, &jwks3)
	if !reflect.DeepEqual(jwks1, jwks3) {
		t.Errorf("with the restored key file the key changed:\n%v\n%v", jwks1, jwks3)
	}
}

// TestUnsealedKeysNeedTheFlag: a generated key is stored unencrypted only
// when -allow-unsealed-keys says so. PostgreSQL without
// TOLLGATE_KEY_ENCRYPTION_KEY refuses to start (and stores nothing); a
// SQLite database holding plain keys from before the key files refuses
// too (and gets no key file, which could not open them). With the flag
// both start, and the startup line says the keys are unencrypted. Memory
// storage keeps nothing, and says nothing. Not parallel: t.Setenv.
func TestUnsealedKeysNeedTheFlag(t *testing.T) {
	t.Setenv(kekEnv, "")
	pg := postgresSchema(t)
	legacy := filepath.Join(t.TempDir(), "legacy.db")
	plainKey(t, "sqlite:"+legacy)

	for _, tc := range []struct {
		name, spec string
		want       []string // in the start-up error
	}{
		{"PostgreSQL", pg, []string{kekEnv, "-" + allowUnsealedFlag, "PostgreSQL"}},
		{"SQLite with plain keys", "sqlite:" + legacy, []string{"unencrypted", "-" + allowUnsealedFlag}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"-config", keysConfig(t), "-storage", tc.spec}
			before := storedKeys(t, tc.spec)
			err := runFails(t, 10*time.Second, args...)
			oneLine(t, tc.name, err)
			for _, w := range tc.want {
				errorMentions(t, tc.name, err, w)
			}
			if after := storedKeys(t, tc.spec); len(after) != len(before) {
				t.Errorf("the refused start stored %d keys, had %d", len(after), len(before))
			}
			if _, err := os.Stat(legacy + kekSuffix); !os.IsNotExist(err) {
				t.Errorf("a key file was made beside the legacy database: %v", err)
			}

			s := start(t, nil, append(args, "-"+allowUnsealedFlag)...)
			if line := s.firstLine(); !strings.Contains(line, "keys stored UNENCRYPTED (-"+allowUnsealedFlag+")") {
				t.Errorf("with the flag: the startup line %q does not say the keys are unencrypted", line)
			}
			if tr := basicToken(t, s.url, "svc", "svc-secret-value"); tr.Status != 200 {
				t.Errorf("token with the flag: %+v", tr)
			}
			for _, k := range storedKeys(t, tc.spec) {
				if handler.KeySealed(k) {
					t.Errorf("key %s stored sealed, want plain (no key-encryption key)", k.ID)
				}
			}
		})
	}

	t.Run("memory", func(t *testing.T) {
		s := start(t, nil, "-config", keysConfig(t), "-storage", "memory")
		if line := s.firstLine(); strings.Contains(line, "keys") {
			t.Errorf("memory storage: the startup line %q talks about stored keys", line)
		}
	})
}

// TestSealedPostgres: with TOLLGATE_KEY_ENCRYPTION_KEY set, PostgreSQL
// starts without the flag and stores the key sealed. Not parallel:
// t.Setenv.
func TestSealedPostgres(t *testing.T) {
	kek := make([]byte, 32)
	rand.Read(kek)
	t.Setenv(kekEnv, base64.StdEncoding.EncodeToString(kek))
	pg := postgresSchema(t)
	s := start(t, nil, "-config", keysConfig(t), "-storage", pg)
	if line := s.firstLine(); !strings.Contains(line, "keys sealed with "+kekEnv) {
		t.Errorf("the startup line %q does not say the keys are sealed", line)
	}
	// Two records: the signing key k1 and the refresh-token MAC key. Both
	// must be sealed, each under its own ID.
	stored := storedKeys(t, pg)
	ids := map[string]bool{}
	for _, k := range stored {
		ids[k.ID] = true
		if !handler.KeySealed(k) {
			t.Errorf("key %s stored plain, want sealed", k.ID)
		}
	}
	if len(stored) != 2 || !ids["k1"] || !ids[storage.RefreshMACKeyID] {
		t.Errorf("stored keys %v, want k1 and %s", ids, storage.RefreshMACKeyID)
	}
	if err := opensWith(t, pg, kek); err != nil {
		t.Errorf("the stored keys do not open with %s: %v", kekEnv, err)
	}
	other := make([]byte, 32)
	rand.Read(other)
	if err := opensWith(t, pg, other); !errors.Is(err, handler.ErrKeyEncryptionKey) {
		t.Errorf("the stored keys with another key-encryption key: %v, want ErrKeyEncryptionKey", err)
	}
}

// opensWith starts a handler on the keys stored at spec, sealed with kek:
// it reads k1 and the refresh-token MAC key, each unsealed under its own
// ID, or fails with handler.ErrKeyEncryptionKey. Nothing is written when
// both are there.
func opensWith(t *testing.T, spec string, kek []byte) error {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), spec, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := handler.New(handler.Config{Issuer: "http://keys.invalid", Clients: st, Tokens: st, KeyStore: st,
		KeyEncryptionKey: kek, Keys: []handler.SigningKey{{ID: "k1", Algorithm: handler.EdDSA}}})
	if err != nil {
		return err
	}
	return srv.Close()
}

// plainKey stores an EdDSA key k1 as plain PEM, as the demo did before it
// sealed keys by default.
func plainKey(t *testing.T, spec string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.Open(context.Background(), spec, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.AddSigningKey(context.Background(), &storage.SigningKey{ID: "k1", Algorithm: handler.EdDSA, Private: pemOf(t, priv), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// storedKeys reads the signing keys stored at spec.
func storedKeys(t *testing.T, spec string) []*storage.SigningKey {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), spec, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, err := st.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// TestSharedDatabaseWarning: a database file every user may read gets a
// warning at start; one the demo made itself (0600) gets none.
func TestSharedDatabaseWarning(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mode os.FileMode // 0: no file before the start
		warn bool
	}{
		{"new file", 0, false},
		{"existing 0600", 0o600, false},
		{"existing 0640", 0o640, false},
		{"existing 0644", 0o644, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := filepath.Join(t.TempDir(), "tollgate.db")
			if tc.mode != 0 {
				// An empty file is a new database to SQLite; the chmod
				// gets past the umask.
				if err := os.WriteFile(db, nil, tc.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(db, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			var log syncBuilder
			s := startLogged(t, nil, &log, "-config", keysConfig(t), "-storage", "sqlite:"+db)
			if err := s.stop(); err != nil {
				t.Fatal(err)
			}
			warned := strings.Contains(log.String(), "readable by every user")
			if warned != tc.warn {
				t.Errorf("warned %v, want %v; log:\n%s", warned, tc.warn, log.String())
			}
			if tc.mode != 0 {
				wantMode(t, db, tc.mode) // left alone
			}
		})
	}
}
