// Package storage holds the small interfaces tollgate needs from a
// persistence layer, the records they exchange, and the typed errors every
// implementation returns.
//
// Interfaces are grouped by concern so an application implements only what
// the grants it enables need: [ClientGetter] is all the token endpoint reads
// on its hot path; [ClientStore] adds management; [ClientChanges],
// optional, lets the handler keep clients in memory and still see changes.
// Authorization codes, refresh-token families (one record per grant,
// however often its refresh token rotates) and the revocation feed get
// interfaces of their own beside these: [CodeStore], [FamilyStore], [RevocationStore], together
// [TokenStore]. [KeyStore] keeps persisted signing keys and the refresh
// tokens' MAC key. [ConsentStore] remembers users' consents. [Store] is
// all of them.
//
// Implementations:
//
//   - [github.com/tollgate-oauth/tollgate/storage/memory]: in process,
//     lost at exit; the default of the handler's Config.Tokens.
//   - [github.com/tollgate-oauth/tollgate/storage/sqlstore]: PostgreSQL and
//     SQLite on database/sql, its schema embedded and migrated on Open; for
//     restarts and for several instances sharing one database.
//
// Both implement [Store], and both pass the conformance suite in
// [github.com/tollgate-oauth/tollgate/storage/storagetest], which every
// implementation, an application's own included, runs unchanged.
//
// # Writing your own store in 50 lines
//
// A store of your own is worth it when the data already lives somewhere:
// client registrations in your application's database, or in a file
// under version control. Start from the grants you enable, and implement
// only what the handler reads for them:
//
//   - client_credentials only: a [ClientGetter], passed as the handler's
//     Config.Clients. Codes, families and revocations then stay in
//     memory (the handler's default Config.Tokens).
//   - Managing clients from code or a CLI: a [ClientStore]. Add
//     [ClientChanges] so that the handler keeps clients in memory and
//     still sees each change, whoever makes it, within its
//     Config.ClientStaleness.
//   - Users (authorization_code, refresh tokens), revocation shared by
//     several instances, or anything that must survive a restart: a
//     [TokenStore] and a [KeyStore] (Config.Tokens, Config.KeyStore), and
//     a [ConsentStore] with a consent page. Here sqlstore is usually the
//     better answer: these have atomicity rules (single use, ordered
//     feed) that take more than 50 lines to get right.
//
// Whatever the interface, a store:
//
//   - returns errors that wrap [ErrNotFound] for an unknown record (an
//     unknown client is then invalid_client, not a 500) and
//     [ErrUnavailable] when its backend cannot answer (the token endpoint
//     says 503 temporarily_unavailable and the client retries);
//   - refuses an invalid record with the *[ValidationError] of
//     [Client.Validate], at write or at load, so a bad registration is
//     caught before a request meets it;
//   - is safe for concurrent use: every request calls it;
//   - gives back every field it was given, byte for byte; the suite
//     compares whole records, so a field added to [Client] next release
//     fails a store that drops it.
//
// ExampleClientGetter is such a store in 40 lines (48 with its package
// clause and imports): client registrations read from a JSON file once,
// checked with [Client.Validate], served from a map. Its test is one call:
//
//	func TestFileClientsConformance(t *testing.T) {
//		storagetest.RunClientGetter(t, func(t *testing.T, clients []*storage.Client) storage.ClientGetter {
//			// write clients to a file in t.TempDir(), then:
//			s, err := loadClients(path)
//			...
//			return s
//		})
//	}
//
// storagetest has one runner per interface (RunClientGetter, RunClients,
// RunTokens, RunKeys, RunConsents), and storagetest.Run calls each runner
// whose interface the store's type has.
package storage
