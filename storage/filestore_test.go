package storage_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/storagetest"
)

// TestFileClientsConformance runs ExampleClientGetter's store through the
// conformance cases a read-only client store must pass: the suite hands
// over the clients, the test writes them to a file, the store reads it.
func TestFileClientsConformance(t *testing.T) {
	storagetest.RunClientGetter(t, func(t *testing.T, clients []*storage.Client) storage.ClientGetter {
		data, err := json.Marshal(clients)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "clients.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := loadClients(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestFileClientsRefusesBadFiles: a file with an invalid or a repeated
// client is refused whole, at load.
func TestFileClientsRefusesBadFiles(t *testing.T) {
	t.Parallel()
	for name, clients := range map[string][]*storage.Client{
		"invalid":  {storagetest.Client("a"), {ID: "no-grant", Public: true, Audiences: []string{"https://api.example.com"}}},
		"repeated": {storagetest.Client("a"), storagetest.Client("a")},
	} {
		data, _ := json.Marshal(clients)
		path := filepath.Join(t.TempDir(), name+".json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := loadClients(path); err == nil {
			t.Errorf("%s: loadClients = %v, want an error", name, s)
		}
	}
}
