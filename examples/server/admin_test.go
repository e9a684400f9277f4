//go:build unix

// Unix only, as instances_test.go is. It was for serviceEnv, defined there
// until it became services_test.go; the file now builds elsewhere too, but
// has not been run there.

package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// admin runs "server clients args…" and returns what it printed on stdout
// and its error. It never starts a server, so it must return promptly.
func admin(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, append([]string{"clients"}, args...), nil, &stdout, &stderr, func(addr string) {
		t.Errorf("clients %q started a server on %s", args, addr)
	})
	if stderr.Len() > 0 {
		t.Logf("clients %q stderr: %s", args, stderr.String())
	}
	return stdout.String(), err
}

// mustAdmin is admin for a command that must succeed.
func mustAdmin(t *testing.T, args ...string) string {
	t.Helper()
	out, err := admin(t, args...)
	if err != nil {
		t.Fatalf("clients %q: %v (stdout %q)", args, err, out)
	}
	return out
}

// printedClientSecret is the one generated secret a command printed.
var printedClientSecret = regexp.MustCompile(`(?m)^client_secret: (tgs_\S+)$`)

// secretOf returns the one generated secret in out.
func secretOf(t *testing.T, out string) string {
	t.Helper()
	m := printedClientSecret.FindAllStringSubmatch(out, -1)
	if len(m) != 1 || strings.Count(out, "tgs_") != 1 {
		t.Fatalf("want exactly one printed tgs_ secret in %q", out)
	}
	return m[0][1]
}

// errorContains fails unless err is a one-line error holding every want.
func errorContains(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one mentioning %q", what, want)
		return
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("%s: error %q does not mention %q", what, msg, w)
		}
	}
}

// adminStore describes a storage the admin scenario runs against.
type adminStore struct {
	spec string
	// storedHash reads a client's secret_hash straight from the database
	// ("" if there is no such row).
	storedHash func(t *testing.T, id string) string
	// raw returns what the database keeps of its clients: the SQLite
	// file's bytes, PostgreSQL's client rows as text.
	raw func(t *testing.T) []byte
}

// sqliteAdminStore is a fresh SQLite file in its own directory.
func sqliteAdminStore(t *testing.T) adminStore {
	dir := t.TempDir()
	path := filepath.Join(dir, "tollgate.db")
	return adminStore{
		spec: "sqlite:" + path,
		storedHash: func(t *testing.T, id string) string {
			t.Helper()
			db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var h string
			err = db.QueryRow("SELECT secret_hash FROM tollgate_clients WHERE id = ?", id).Scan(&h)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				t.Fatal(err)
			}
			return h
		},
		raw: func(t *testing.T) []byte { return dbFileBytes(t, path) },
	}
}

// postgresAdminStore is a fresh schema in the test PostgreSQL, dropped at
// cleanup.
func postgresAdminStore(t *testing.T) adminStore {
	dsn := postgresSchema(t)
	// A connection of the test's own to look at the rows, closed before
	// the schema is dropped.
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return adminStore{
		spec: dsn,
		storedHash: func(t *testing.T, id string) string {
			t.Helper()
			var h string
			err := db.QueryRow("SELECT secret_hash FROM tollgate_clients WHERE id = $1", id).Scan(&h)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				t.Fatal(err)
			}
			return h
		},
		// Every column of every client row, as text.
		raw: func(t *testing.T) []byte {
			t.Helper()
			var all sql.NullString
			if err := db.QueryRow("SELECT string_agg(c::text, '|') FROM tollgate_clients c").Scan(&all); err != nil {
				t.Fatal(err)
			}
			return []byte(all.String + "|")
		},
	}
}

// TestClientsAdminSQLite runs the admin scenario on a SQLite file.
func TestClientsAdminSQLite(t *testing.T) {
	t.Parallel()
	clientsAdminScenario(t, sqliteAdminStore(t))
}

// TestClientsAdminPostgres runs the admin scenario on a PostgreSQL schema.
func TestClientsAdminPostgres(t *testing.T) {
	t.Parallel()
	clientsAdminScenario(t, postgresAdminStore(t))
}

// clientsAdminScenario adds, lists, rotates and deletes clients with the
// admin command while a server runs on the same storage, and checks the
// server sees each change at once.
func clientsAdminScenario(t *testing.T, st adminStore) {
	const api, qa = "https://api.example.com", "https://qa-api.example.com"

	// A confidential client: its secret is printed once, stored as a hash.
	out := mustAdmin(t, "add", "-storage", st.spec, "-id", "partner",
		"-scopes", "orders:read,orders:write,market:id:*", "-default-scopes", "orders:read",
		"-audiences", api+","+qa, "-access-token-ttl", "30m")
	if !strings.Contains(out, "added client partner\n") {
		t.Errorf("add printed %q, want it to name the client", out)
	}
	secret1 := secretOf(t, out)
	wantHash, err := handler.HashClientSecret(secret1)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.storedHash(t, "partner"); got != wantHash || strings.Contains(got, secret1) {
		t.Errorf("stored secret_hash = %q, want %q (the hash of the printed secret, never the secret)", got, wantHash)
	}
	if raw := st.raw(t); !bytes.Contains(raw, []byte(wantHash)) || bytes.Contains(raw, []byte(secret1)) {
		t.Errorf("the database holds the printed secret, or not its hash")
	}

	// A public client with every add flag: nothing secret is printed.
	out = mustAdmin(t, "add", "-storage", st.spec, "-id", "spa", "-public",
		"-grant-types", "authorization_code, refresh_token", "-scopes", "orders:read",
		"-redirect-uris", "http://127.0.0.1:9/cb,https://app.example.com/cb",
		"-audiences", api, "-access-token-ttl", "5m", "-refresh-token-ttl", "48h", "-require-scope")
	if !strings.Contains(out, "added client spa") || strings.Contains(out, "client_secret") || strings.Contains(out, "tgs_") {
		t.Errorf("adding a public client printed %q: want no secret", out)
	}
	// A public client_credentials client that must name a scope.
	mustAdmin(t, "add", "-storage", st.spec, "-id", "storefront", "-public",
		"-scopes", "market:id:*", "-require-scope", "-audiences", api)
	// A resource server that may introspect any token.
	gatewaySecret := secretOf(t, mustAdmin(t, "add", "-storage", st.spec, "-id", "gateway", "-introspector", "-audiences", api))
	gatewayHash, _ := handler.HashClientSecret(gatewaySecret)
	if _, err := admin(t, "add", "-storage", st.spec, "-id", "public-introspector", "-public", "-introspector", "-audiences", api); err == nil ||
		!strings.Contains(err.Error(), "introspector") {
		t.Errorf("adding a public introspector: %v, want an error naming introspector", err)
	}

	// What the flags stored, read back through the storage package.
	store, err := sqlstore.Open(context.Background(), st.spec, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*storage.Client{
		{ID: "partner", SecretHash: wantHash, GrantTypes: []string{"client_credentials"},
			Scopes: []string{"orders:read", "orders:write", "market:id:*"}, DefaultScopes: []string{"orders:read"},
			Audiences: []string{api, qa}, AccessTokenTTL: 30 * time.Minute},
		{ID: "spa", Public: true, GrantTypes: []string{"authorization_code", "refresh_token"},
			Scopes: []string{"orders:read"}, RequireScope: true, Audiences: []string{api},
			RedirectURIs:   []string{"http://127.0.0.1:9/cb", "https://app.example.com/cb"},
			AccessTokenTTL: 5 * time.Minute, RefreshTokenTTL: 48 * time.Hour},
		{ID: "storefront", Public: true, GrantTypes: []string{"client_credentials"},
			Scopes: []string{"market:id:*"}, RequireScope: true, Audiences: []string{api}},
		{ID: "gateway", SecretHash: gatewayHash, GrantTypes: []string{"client_credentials"}, Audiences: []string{api},
			Introspector: true},
	} {
		got, err := store.GetClient(context.Background(), want.ID)
		if err != nil {
			t.Errorf("client %s: %v", want.ID, err)
			continue
		}
		if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", *want) {
			t.Errorf("client %s stored as\n%+v\nwant\n%+v", want.ID, *got, *want)
		}
	}
	store.Close()

	// list: a header and one row per client, no secrets.
	out = mustAdmin(t, "list", "-storage", st.spec)
	rows := listRows(out)
	if len(rows) == 0 || !slices.Equal(rows[0], []string{"ID", "TYPE", "GRANT", "TYPES", "SCOPES", "AUDIENCES"}) {
		t.Fatalf("list printed %q: want a header line first", out)
	}
	ids := map[string][]string{}
	for _, r := range rows[1:] {
		ids[r[0]] = r
	}
	for id, kind := range map[string]string{"partner": "confidential", "spa": "public", "storefront": "public",
		"gateway": "confidential,introspector"} {
		if r := ids[id]; len(r) < 2 || r[1] != kind {
			t.Errorf("list row for %s = %q, want it listed as %s; list:\n%s", id, r, kind, out)
		}
	}
	if strings.Contains(out, secret1) || strings.Contains(out, "$sha256$") {
		t.Errorf("list shows a secret or hash:\n%s", out)
	}

	// A server on the same storage serves the clients added before it.
	// (PostgreSQL with no key-encryption key needs the flag to store its
	// key; SQLite makes a key file and ignores it.)
	s := start(t, nil, "-storage", st.spec, "-listen", "127.0.0.1:0", "-"+allowUnsealedFlag)
	tr := basicToken(t, s.url, "partner", secret1)
	if tr.Status != 200 || tr.ExpiresIn != 1800 || tr.Scope != "orders:read" {
		t.Fatalf("partner's token: %+v, want 200, 30 minutes, the default scope", tr)
	}
	if c := claimsOf(t, tr.AccessToken); c["aud"] != api && fmt.Sprint(c["aud"]) != "["+api+"]" {
		t.Errorf("partner's token aud = %v, want the first audience %s", c["aud"], api)
	}
	// The introspector may read partner's token; partner may read its own.
	if got := introspectAs(t, s.url, "gateway", gatewaySecret, tr.AccessToken); got["active"] != true {
		t.Errorf("gateway (-introspector) introspecting partner's token: %v, want active", got)
	}
	storefront := func(scope string) tokenResponse {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"storefront"}}
		if scope != "" {
			form.Set("scope", scope)
		}
		return tokenRequest(t, s.url, form, "", "")
	}
	if tr := storefront("market:id:abc"); tr.Status != 200 || tr.Scope != "market:id:abc" {
		t.Errorf("storefront with a market scope: %+v", tr)
	}
	if tr := storefront(""); tr.Error != "invalid_scope" {
		t.Errorf("storefront without a scope: %+v, want invalid_scope (-require-scope)", tr)
	}

	// rotate-secret while the server runs: the old secret stops working
	// within handler.DefaultClientStaleness (the command writes through a
	// handle of its own, as from another process), the new one works.
	out = mustAdmin(t, "rotate-secret", "-storage", st.spec, "partner")
	secret2 := secretOf(t, out)
	if secret2 == secret1 {
		t.Fatal("rotate-secret printed the old secret")
	}
	refusedWithin(t, []string{s.url}, handler.DefaultClientStaleness, "the old secret after rotation", "partner", secret1)
	if tr := basicToken(t, s.url, "partner", secret2); tr.Status != 200 {
		t.Errorf("the new secret: %+v, want 200", tr)
	}
	if h := st.storedHash(t, "partner"); h == wantHash || h == "" || strings.Contains(h, secret2) {
		t.Errorf("stored hash after rotation = %q: want a new hash, not the secret", h)
	}
	if bytes.Contains(st.raw(t), []byte(secret2)) {
		t.Errorf("the database holds the rotated secret")
	}

	// delete while the server runs: the client is gone within the same
	// bound.
	if out := mustAdmin(t, "delete", "-storage", st.spec, "partner"); !strings.Contains(out, "deleted client partner") {
		t.Errorf("delete printed %q", out)
	}
	refusedWithin(t, []string{s.url}, handler.DefaultClientStaleness, "a deleted client", "partner", secret2)
	if out := mustAdmin(t, "list", "-storage", st.spec); slices.ContainsFunc(listRows(out), func(r []string) bool { return r[0] == "partner" }) {
		t.Errorf("the deleted client is still listed:\n%s", out)
	}

	// Refusals against this storage.
	out, err = admin(t, "add", "-storage", st.spec, "-id", "spa", "-audiences", api)
	errorContains(t, "add a duplicate id", err, "spa", "already exists")
	if out != "" {
		t.Errorf("a refused add printed %q: no secret may be printed for a client that was not stored", out)
	}
	if h := st.storedHash(t, "spa"); h != "" {
		t.Errorf("the refused duplicate add changed the public client spa: secret_hash %q", h)
	}
	_, err = admin(t, "rotate-secret", "-storage", st.spec, "spa")
	errorContains(t, "rotate-secret of a public client", err, "spa", "public")
	_, err = admin(t, "rotate-secret", "-storage", st.spec, "nobody")
	errorContains(t, "rotate-secret of an unknown id", err, "nobody", "not found")
	_, err = admin(t, "delete", "-storage", st.spec, "nobody")
	errorContains(t, "delete an unknown id", err, "nobody", "not found")
	_, err = admin(t, "delete", "-storage", st.spec, "partner")
	errorContains(t, "delete twice", err, "partner", "not found")
}

// refusedWithin asks each instance for a token as id until every one
// has refused it (401 invalid_client). A request sent more than bound
// after the change (the call) must be refused: the server looked the
// client up later still, when its bound had passed. One sent earlier may
// be answered 200, however late the answer comes on a loaded machine;
// nothing else.
func refusedWithin(t *testing.T, instances []string, bound time.Duration, what, id, secret string) {
	t.Helper()
	change := time.Now()
	lastAccepted := map[string]time.Duration{}
	refused := map[string]time.Duration{}
	for len(refused) < len(instances) {
		for _, base := range instances {
			if _, ok := refused[base]; ok {
				continue
			}
			sent := time.Since(change)
			switch tr := basicToken(t, base, id, secret); {
			case tr.Status == http.StatusUnauthorized && tr.Error == "invalid_client":
				refused[base] = sent
			case tr.Status != http.StatusOK:
				t.Fatalf("%s at %s: %+v, want 200 until refused, then 401 invalid_client", what, base, tr)
			case sent > bound:
				t.Fatalf("%s: accepted by %s in a request sent %v after the change (bound %v)", what, base, sent.Round(time.Millisecond), bound)
			default:
				lastAccepted[base] = sent
			}
		}
		time.Sleep(10 * time.Millisecond) // pacing only: the loop ends on the answers
	}
	t.Logf("%s: last accepted in requests sent at %v, first refused at %v after the change", what, lastAccepted, refused)
}

// listRows splits list's table into its words, line by line.
func listRows(out string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows = append(rows, f)
		}
	}
	return rows
}

// TestClientsAdminRefusals: bad commands and clients fail with an error
// naming the problem, and store nothing.
func TestClientsAdminRefusals(t *testing.T) {
	t.Parallel()
	st := sqliteAdminStore(t)
	for _, tc := range []struct {
		name string
		args []string
		want []string // substrings of the error
	}{
		{"add without -id", []string{"add", "-storage", st.spec, "-audiences", "https://api.example.com"}, []string{"id", "required"}},
		{"no audiences", []string{"add", "-storage", st.spec, "-id", "x"}, []string{"audiences"}},
		{"negative TTL", []string{"add", "-storage", st.spec, "-id", "x", "-audiences", "a", "-access-token-ttl", "-5m"}, []string{"access_token_ttl"}},
		{"default scope not allowed", []string{"add", "-storage", st.spec, "-id", "x", "-audiences", "a", "-scopes", "a:b", "-default-scopes", "c"}, []string{"default_scopes"}},
		{"http redirect off loopback", []string{"add", "-storage", st.spec, "-id", "x", "-public", "-audiences", "a",
			"-grant-types", "authorization_code", "-redirect-uris", "http://app.example.com/cb"}, []string{"redirect_uris"}},
		{"authorization_code without redirect", []string{"add", "-storage", st.spec, "-id", "x", "-public", "-audiences", "a",
			"-grant-types", "authorization_code"}, []string{"redirect_uris"}},
		{"grant type typo", []string{"add", "-storage", st.spec, "-id", "x", "-audiences", "a", "-grant-types", "client_credential"},
			[]string{"grant_types[0]", `did you mean "client_credentials"?`}},
		{"extension grant the demo lacks", []string{"add", "-storage", st.spec, "-id", "x", "-audiences", "a", "-grant-types", "urn:x:partner"},
			[]string{"grant_types[0]", "not a grant type this server supports"}},
		{"unknown add flag", []string{"add", "-storage", st.spec, "-id", "x", "-audiences", "a", "-secret", "chosen"}, []string{"secret"}},
		{"memory storage", []string{"list", "-storage", "memory"}, []string{"memory"}},
		{"memory storage, add", []string{"add", "-storage", "memory", "-id", "x", "-audiences", "a"}, []string{"memory"}},
		{"unknown storage", []string{"list", "-storage", "mysql://db"}, []string{"mysql://db"}},
		{"unknown subcommand", []string{"frobnicate", "-storage", st.spec}, []string{"frobnicate", "usage"}},
		{"no subcommand", nil, []string{"usage", "list", "add", "rotate-secret", "delete"}},
		{"rotate-secret without id", []string{"rotate-secret", "-storage", st.spec}, []string{"rotate-secret ID"}},
		{"delete with two ids", []string{"delete", "-storage", st.spec, "a", "b"}, []string{"delete ID"}},
		{"missing config", []string{"list", "-config", filepath.Join(t.TempDir(), "none.yaml")}, []string{"none.yaml"}},
	} {
		out, err := admin(t, tc.args...)
		errorContains(t, tc.name, err, tc.want...)
		if strings.Contains(out, "tgs_") {
			t.Errorf("%s: printed a secret: %q", tc.name, out)
		}
	}
	// Nothing was stored by any of them.
	if out := mustAdmin(t, "list", "-storage", st.spec); len(listRows(out)) != 1 {
		t.Errorf("after refused commands the storage lists:\n%s", out)
	}
}

// TestClientsAdminConfigStorage: -config FILE means the file's storage;
// -storage overrides it; a file naming memory is refused.
func TestClientsAdminConfigStorage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fromFile := sqliteAdminStore(t)
	other := sqliteAdminStore(t)
	cfg := writeConfig(t, dir, fmt.Sprintf(`
storage: %q
keys: [{kid: k1, alg: EdDSA}]
clients:
  - {id: from-yaml, secret: a-long-secret-value, grant_types: [client_credentials], audiences: [https://api.example.com]}
`, fromFile.spec))

	out := mustAdmin(t, "add", "-config", cfg, "-id", "via-config", "-audiences", "https://api.example.com")
	secretOf(t, out)
	if fromFile.storedHash(t, "via-config") == "" {
		t.Errorf("add -config %s did not store into the file's storage %s", cfg, fromFile.spec)
	}
	if rows := listRows(mustAdmin(t, "list", "-config", cfg)); len(rows) != 2 || rows[1][0] != "via-config" {
		t.Errorf("list -config = %q, want the one client added there (the admin command does not sync the file's clients)", rows)
	}
	// -storage wins over the file's.
	mustAdmin(t, "add", "-config", cfg, "-storage", other.spec, "-id", "via-flag", "-audiences", "https://api.example.com")
	if other.storedHash(t, "via-flag") == "" || fromFile.storedHash(t, "via-flag") != "" {
		t.Errorf("add -config FILE -storage SPEC did not store into SPEC only")
	}

	memCfg := filepath.Join(t.TempDir(), "memory.yaml")
	if err := os.WriteFile(memCfg, []byte("storage: memory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := admin(t, "list", "-config", memCfg)
	errorContains(t, "-config naming memory", err, "memory")

	badCfg := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badCfg, []byte("storage: \"sqlite:\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = admin(t, "list", "-config", badCfg)
	errorContains(t, "-config with an empty sqlite path", err, "storage")
}

// TestClientsAdminArgumentOrder: the usage shows "rotate-secret ID" and
// "every command takes -storage", so an operator writes the flag after the
// id. That must act on the named storage or fail; it must never fall back
// to ./tollgate.db (creating it in the working directory, or listing an
// empty one as if it were the named storage). Not parallel: it changes
// the working directory to see what lands there.
func TestClientsAdminArgumentOrder(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)
	st := sqliteAdminStore(t)
	secret := secretOf(t, mustAdmin(t, "add", "-storage", st.spec, "-id", "partner", "-audiences", "https://api.example.com"))
	hash := st.storedHash(t, "partner")

	noStrayDB := func(what string) {
		t.Helper()
		entries, _ := os.ReadDir(cwd)
		for _, e := range entries {
			t.Errorf("%s: created %s in the working directory", what, e.Name())
			os.Remove(filepath.Join(cwd, e.Name()))
		}
	}

	// list with a stray argument must not list another database.
	out, err := admin(t, "list", "extra", "-storage", st.spec)
	if err == nil {
		t.Errorf("clients list extra -storage %s: listed %q, want an error (the storage flag after the argument was ignored)", st.spec, out)
	}
	noStrayDB("list extra -storage SPEC")

	// Flags after the id: honoured, or refused without touching anything.
	out, err = admin(t, "rotate-secret", "partner", "-storage", st.spec)
	switch {
	case err == nil:
		if s := secretOf(t, out); s == secret || st.storedHash(t, "partner") == hash {
			t.Errorf("rotate-secret ID -storage SPEC succeeded but SPEC's client was not rotated")
		}
	case st.storedHash(t, "partner") != hash:
		t.Errorf("rotate-secret ID -storage SPEC failed (%v) yet changed the client", err)
	}
	noStrayDB("rotate-secret ID -storage SPEC")

	_, err = admin(t, "delete", "partner", "-storage", st.spec)
	if err == nil && st.storedHash(t, "partner") != "" {
		t.Errorf("delete ID -storage SPEC succeeded but SPEC still has the client")
	}
	noStrayDB("delete ID -storage SPEC")

	// Usage mistakes are found before any storage is opened.
	for _, args := range [][]string{{"frobnicate"}, {"delete"}, {"rotate-secret"}, {"rotate-secret", "a", "b"}} {
		if _, err := admin(t, args...); err == nil {
			t.Errorf("clients %q: no error", args)
		}
		noStrayDB(fmt.Sprintf("clients %q", args))
	}
}

// TestClientsAddDefaultScopes: clients add without -default-scopes makes
// the concrete scopes the defaults and says so, so a request naming no
// scope never gets "scope":""; only patterns is refused with the reason.
func TestClientsAddDefaultScopes(t *testing.T) {
	t.Parallel()
	st := sqliteAdminStore(t)
	out := mustAdmin(t, "add", "-storage", st.spec, "-id", "shop", "-audiences", "https://api.example.com",
		"-scopes", "orders:read,orders:write,market:id:*")
	if !strings.Contains(out, "default_scopes: orders:read,orders:write (every concrete scope") {
		t.Errorf("clients add printed %q, want the defaults it chose", out)
	}
	out = mustAdmin(t, "add", "-storage", st.spec, "-id", "market", "-public", "-audiences", "https://api.example.com",
		"-scopes", "market:id:*", "-require-scope")
	if strings.Contains(out, "default_scopes") {
		t.Errorf("a client that must name its scope got defaults: %q", out)
	}
	if _, err := admin(t, "add", "-storage", st.spec, "-id", "patterns", "-public", "-audiences", "https://api.example.com",
		"-scopes", "market:id:*"); err == nil || !strings.Contains(err.Error(), "all patterns, which a request must name") {
		t.Errorf("patterns only, no -require-scope: %v", err)
	}
	store, err := sqlstore.Open(context.Background(), st.spec, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	c, err := store.GetClient(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.DefaultScopes, " ") != "orders:read orders:write" {
		t.Errorf("stored default scopes %q", c.DefaultScopes)
	}
}

// Each change the clients command makes is an audit record on stderr, in
// the handler's schema, and none holds the secret it printed.
func TestClientsAdminAudit(t *testing.T) {
	t.Parallel()
	st := sqliteAdminStore(t)
	adminLog := func(args ...string) (stdout, stderr string) {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(context.Background(), append([]string{"clients"}, args...), nil, &out, &errOut, nil); err != nil {
			t.Fatalf("clients %q: %v", args, err)
		}
		return out.String(), errOut.String()
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"add", "-storage", st.spec, "-id", "audited", "-scopes", "orders:read", "-audiences", "https://api.example.com"}, "event=client.added client_id=audited reason=cli"},
		{[]string{"rotate-secret", "-storage", st.spec, "audited"}, "event=client.changed client_id=audited reason=cli"},
		{[]string{"delete", "-storage", st.spec, "audited"}, "event=client.deleted client_id=audited reason=cli"},
	} {
		stdout, stderr := adminLog(tc.args...)
		if !strings.Contains(stderr, "msg=audit "+tc.want) || strings.Count(stderr, "msg=audit") != 1 {
			t.Errorf("clients %s logged %q, want one audit record with %q", tc.args[0], stderr, tc.want)
		}
		if m := printedClientSecret.FindStringSubmatch(stdout); m != nil && strings.Contains(stderr, m[1]) {
			t.Errorf("clients %s: the audit record holds the secret", tc.args[0])
		}
	}
}
