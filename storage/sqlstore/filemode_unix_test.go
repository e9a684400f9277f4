//go:build unix

package sqlstore_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// TestSQLiteFileModes: a database Open creates is 0600, and so are the -wal
// and -shm files SQLite makes beside it once something is written; a file
// that already exists keeps its mode. The umask is opened up for the test
// (0), so nothing but Open and SQLite decide the modes. Not parallel: the
// umask belongs to the whole process.
func TestSQLiteFileModes(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })

	for _, tc := range []struct {
		name     string
		existing fs.FileMode // 0: no file before Open
		want     fs.FileMode
	}{
		{"new file", 0, 0o600},
		{"existing 0640 file", 0o640, 0o640},
		{"existing 0644 file", 0o644, 0o644},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tollgate.db")
			if tc.existing != 0 {
				// An empty file is a new database to SQLite.
				if err := os.WriteFile(path, nil, tc.existing); err != nil {
					t.Fatal(err)
				}
			}
			s, err := sqlstore.Open(context.Background(), "sqlite:"+path, sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Writes, with the store still open: the -wal and -shm files
			// exist now (a clean close removes them).
			ctx := context.Background()
			if err := s.CreateClient(ctx, &storage.Client{ID: "c", SecretHash: "$sha256$47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU",
				GrantTypes: []string{storage.GrantClientCredentials}, Audiences: []string{"https://api.example.com"}}); err != nil {
				t.Fatal(err)
			}
			if err := s.AddSigningKey(ctx, &storage.SigningKey{ID: "k1", Algorithm: "EdDSA", Private: []byte("pem"), CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Errorf("%s: %v", filepath.Base(p), err)
					continue
				}
				if got := fi.Mode().Perm(); got != tc.want {
					t.Errorf("%s: mode %#o, want %#o", filepath.Base(p), got, tc.want)
				}
			}
		})
	}
}

// TestSQLiteMissingDirectory: a path in a directory that does not exist is
// a clear error from Open, and creates nothing.
func TestSQLiteMissingDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "missing")
	s, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(dir, "tollgate.db"), sqlstore.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded in a directory that does not exist")
	}
	if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
		t.Errorf("Open made %s: %v", dir, statErr)
	}
}
