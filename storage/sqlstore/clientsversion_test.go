package sqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
	"github.com/tollgate-oauth/tollgate/storage/storagetest"
)

// TestClientsVersionSeesEveryWriter checks that ClientsVersion counts the
// changes no method of this handle made: another handle's (another
// instance, the admin CLI) and raw SQL's, which the triggers of migration
// 0006 count. ClientsWritten, this handle's own count, must not move for
// them: it is how the handler tells its own writes.
func TestClientsVersionSeesEveryWriter(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.empty(t)
			ctx := context.Background()
			reader := mustOpen(t, db.dsn, sqlstore.Options{})
			other := mustOpen(t, db.dsn, sqlstore.Options{})
			last, err := reader.ClientsVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			change := func(what string, write func() error) {
				t.Helper()
				if err := write(); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				v, err := reader.ClientsVersion(ctx)
				if err != nil {
					t.Fatalf("ClientsVersion after %s: %v", what, err)
				}
				if v <= last {
					t.Errorf("after %s ClientsVersion = %d, was %d: want it to grow", what, v, last)
				}
				last = v
			}
			raw := func(query string) func() error {
				return func() error { _, err := db.raw.Exec(query); return err }
			}
			change("another handle's CreateClient", func() error { return other.CreateClient(ctx, storagetest.Client("a")) })
			change("another handle's UpdateClient", func() error {
				c := storagetest.Client("a")
				c.Introspector = false
				return other.UpdateClient(ctx, c)
			})
			change("another handle's DeleteClient", func() error { return other.DeleteClient(ctx, "a") })
			change("another handle's CreateClient", func() error { return other.CreateClient(ctx, storagetest.Client("b")) })
			change("a raw UPDATE", raw("UPDATE tollgate_clients SET secret_hash = 'x' WHERE id = 'b'"))
			change("a raw DELETE without WHERE", raw("DELETE FROM tollgate_clients"))
			if strings.HasPrefix(db.dsn, "postgres") {
				change("another handle's CreateClient", func() error { return other.CreateClient(ctx, storagetest.Client("c")) })
				change("TRUNCATE", raw("TRUNCATE tollgate_clients"))
			}
			if n := reader.ClientsWritten(); n != 0 {
				t.Errorf("the reading handle's ClientsWritten = %d after others' writes, want 0", n)
			}
			// Other tables are not the clients': writing them must not
			// empty every server's client cache.
			if err := other.AddSigningKey(ctx, &storage.SigningKey{ID: "k1", Algorithm: "ES256", Private: []byte("pem"), CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if v, err := reader.ClientsVersion(ctx); err != nil || v != last {
				t.Errorf("after a key write ClientsVersion = %d, %v; want %d", v, err, last)
			}
		})
	}
}
