// Package storage holds the small interfaces tollgate needs from a
// persistence layer, the records they exchange, and the typed errors every
// implementation returns.
//
// Interfaces are grouped by concern so an application implements only what
// the grants it enables need: ClientGetter is all the token endpoint reads on
// its hot path; ClientStore adds management; ClientChanges, optional, lets
// the handler keep clients in memory and still see changes. Authorization codes,
// refresh-token families (one record per grant, however often its refresh
// token rotates) and the revocation feed get interfaces of their own
// beside these: CodeStore, FamilyStore, RevocationStore.
//
// Implementations: storage/memory (in-process). Every implementation runs the
// conformance suite in storage/storagetest.
package storage
