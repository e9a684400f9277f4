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
// tokens' MAC key. [Store] is all of them.
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
package storage
