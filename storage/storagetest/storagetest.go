// Package storagetest is the conformance suite every storage implementation
// runs: one set of behaviours, many backends. An implementation's test calls
// Run with a function that returns a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store { return mystore.New(...) })
//	}
//
// Run runs every runner whose interface the function's result type has, so
// a store that keeps only some of tollgate's data runs what applies to it.
// Each runner can also be called alone:
//
//   - [RunClientGetter]: a read-only [storage.ClientGetter] (a clients
//     file, a directory service), built by the test from the clients the
//     suite hands it;
//   - [RunClients]: a [storage.ClientStore], and [storage.ClientChanges]
//     if the store has it;
//   - [RunTokens]: a [storage.TokenStore] (codes, families, the revocation
//     feed, expiry);
//   - [RunKeys]: a [storage.KeyStore];
//   - [RunConsents]: a [storage.ConsentStore].
//
// The suite tests behaviour through the storage interfaces only. What it
// asks of an implementation, beyond the interface documentation:
//
//   - Isolation: every test makes its own store and runs in parallel with
//     the others, so each store must start empty and must not see another
//     test's records (a schema or database per store for SQL backends).
//     DeleteExpired counts are checked exactly against that empty start.
//   - Records come back as stored, every field of them: the suite compares
//     whole records by reflection, a field added to a storage type
//     included, and its fixtures set every field. A store may change only
//     what does not change the record: nil and empty slices or maps are
//     the same; times are compared as instants at microsecond precision.
//     Everything else counts: slices in their order, Form maps key for
//     key, Session and Private bytes byte for byte (they are not UTF-8),
//     keys and ids case-sensitively.
//   - Times: every time the suite stores is truncated to the microsecond.
//     A store must keep at least microsecond precision (PostgreSQL's
//     timestamptz does; SQLite needs e.g. Unix microseconds or RFC 3339
//     with six fractional digits) and the instant, not the wall clock: the
//     location may change, the moment may not.
//   - A store that implements storage.ClientChanges counts every client
//     write in both ClientsVersion and ClientsWritten, and reads in
//     neither. Whether another handle's writes reach ClientsVersion is
//     the implementation's own test: the suite sees one handle.
//   - Single use is atomic: of 32 concurrent UseCode (or AdvanceFamily from
//     one generation) calls on one record exactly one returns nil, the
//     rest ErrAlreadyUsed.
//   - The revocation feed: a poller reading while revocations commit
//     concurrently must miss none (sequence numbers become visible in
//     order). Revoking the same jti or family twice leaves one entry, valid
//     until the later of the two times.
//   - Expiry: DeleteExpired(now, limit) removes what expired strictly
//     before now (a record expiring at now is kept), at most limit records
//     per call, and counts one per record removed: each code, family (once
//     both its refresh and access expiries have passed) and feed entry. A
//     family revoked but never created may count as one more record; the
//     suite does not count those.
package storagetest

import (
	"reflect"
	"testing"

	"github.com/tollgate-oauth/tollgate/storage"
)

// NewStore returns a fresh, empty store for one test. Cleanup belongs in
// t.Cleanup. Run takes it, as it takes any func(*testing.T) S.
type NewStore func(t *testing.T) storage.Store

// Run runs, against stores made by newStore (one store per test, tests in
// parallel), every runner whose interface S has: [RunClients] for a
// [storage.ClientStore], [RunTokens] for a [storage.TokenStore], [RunKeys]
// for a [storage.KeyStore], [RunConsents] for a [storage.ConsentStore].
// For a [storage.Store] that is all of them. S is newStore's result type,
// as declared: a store returned as storage.Store runs everything, one
// returned as *mystore.Store runs what that type implements.
//
// A store that only reads clients ([storage.ClientGetter] without
// ClientStore) cannot be filled through its interface: its test calls
// [RunClientGetter] with a constructor that takes the clients. Run fails
// when S has none of the interfaces above.
func Run[S any](t *testing.T, newStore func(t *testing.T) S) {
	t.Helper()
	ran := false
	if has[S, storage.ClientStore]() {
		RunClients(t, as[S, storage.ClientStore](newStore))
		ran = true
	} else if has[S, storage.ClientGetter]() {
		t.Logf("storagetest: %s reads clients but cannot store them: test that with RunClientGetter", reflect.TypeFor[S]())
	}
	if has[S, storage.TokenStore]() {
		RunTokens(t, as[S, storage.TokenStore](newStore))
		ran = true
	}
	if has[S, storage.KeyStore]() {
		RunKeys(t, as[S, storage.KeyStore](newStore))
		ran = true
	}
	if has[S, storage.ConsentStore]() {
		RunConsents(t, as[S, storage.ConsentStore](newStore))
		ran = true
	}
	if !ran {
		t.Fatalf("storagetest.Run: %s implements none of storage.ClientStore, TokenStore, KeyStore, ConsentStore (a read-only client store runs RunClientGetter)", reflect.TypeFor[S]())
	}
}

// has reports whether type S has the methods of interface I.
func has[S, I any]() bool { return reflect.TypeFor[S]().Implements(reflect.TypeFor[I]()) }

// as narrows a constructor of S to one of I; has[S, I] must hold.
func as[S, I any](newStore func(*testing.T) S) func(*testing.T) I {
	return func(t *testing.T) I { return any(newStore(t)).(I) }
}

// testCase is one behaviour, run against a fresh store. It takes a
// testing.TB so that the suite's own tests can run it against a store
// that breaks a rule and check that it fails.
type testCase[S any] struct {
	name string
	fn   func(testing.TB, S)
}

// runCases runs each case in a parallel subtest on a store of its own.
func runCases[S any](t *testing.T, newStore func(*testing.T) S, cases []testCase[S]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// RunClientGetter runs the cases a read-only client store must pass:
// every client comes back whole, unknown ids (other case, a prefix, with
// a space) are storage.ErrNotFound, concurrent reads agree. newGetter
// returns a store holding exactly the given clients, for one test; it may
// write them wherever the store reads from (a file in t.TempDir(), a
// test database).
func RunClientGetter(t *testing.T, newGetter func(t *testing.T, clients []*storage.Client) storage.ClientGetter) {
	t.Helper()
	runCases(t, func(t *testing.T) getterOf {
		return func(clients ...*storage.Client) storage.ClientGetter { return newGetter(t, clients) }
	}, getterCases)
}

// RunClients runs the client cases against a storage.ClientStore: the
// RunClientGetter cases, filled through CreateClient, then creation,
// update, deletion, listing, validation, copying, concurrency and, if the
// store implements it, storage.ClientChanges.
func RunClients(t *testing.T, newStore func(t *testing.T) storage.ClientStore) {
	t.Helper()
	runCases(t, func(t *testing.T) getterOf {
		return func(clients ...*storage.Client) storage.ClientGetter {
			s := newStore(t)
			for _, c := range clients {
				mustCreate(t, s, c)
			}
			return s
		}
	}, getterCases)
	runCases(t, newStore, clientCases)
}

// RunTokens runs the token cases against a storage.TokenStore:
// authorization codes, refresh-token families, revocations and their feed,
// and expiry.
func RunTokens(t *testing.T, newStore func(t *testing.T) storage.TokenStore) {
	t.Helper()
	runCases(t, newStore, tokenCases)
}

// RunKeys runs the signing-key cases against a storage.KeyStore.
func RunKeys(t *testing.T, newStore func(t *testing.T) storage.KeyStore) {
	t.Helper()
	runCases(t, newStore, keyCases)
}

// RunConsents runs the consent cases against a storage.ConsentStore.
func RunConsents(t *testing.T, newStore func(t *testing.T) storage.ConsentStore) {
	t.Helper()
	runCases(t, newStore, consentCases)
}

// getterOf builds a read-only client store holding the given clients.
type getterOf func(clients ...*storage.Client) storage.ClientGetter

// The cases of each runner. Names are unique across runners, so Run's
// subtests keep one flat list (go test -run 'Conformance/CodeUse').
var (
	getterCases = []testCase[getterOf]{
		{"ClientRoundTrip", testClientRoundTrip},
		{"ClientNotFound", testClientNotFound},
		{"ClientGetConcurrent", testClientGetConcurrent},
	}
	clientCases = []testCase[storage.ClientStore]{
		{"ClientWriteNotFound", testClientWriteNotFound},
		{"ClientDuplicate", testClientDuplicate},
		{"ClientUpdate", testClientUpdate},
		{"ClientDelete", testClientDelete},
		{"ClientList", testClientList},
		{"ClientInvalid", testClientInvalid},
		{"ClientIsolation", testClientIsolation},
		{"ClientConcurrent", testClientConcurrent},
		{"ClientChanges", testClientChanges},
	}
	tokenCases = []testCase[storage.TokenStore]{
		{"CodeRoundTrip", testCodeRoundTrip},
		{"CodeNotFound", testCodeNotFound},
		{"CodeDuplicate", testCodeDuplicate},
		{"CodeUse", testCodeUse},
		{"CodeUseConcurrent", testCodeUseConcurrent},
		{"CodeIsolation", testCodeIsolation},

		{"FamilyRoundTrip", testFamilyRoundTrip},
		{"FamilyNotFound", testFamilyNotFound},
		{"FamilyDuplicate", testFamilyDuplicate},
		{"FamilyInvalid", testFamilyInvalid},
		{"FamilyAdvance", testFamilyAdvance},
		{"FamilyAdvanceConcurrent", testFamilyAdvanceConcurrent},
		{"FamilyAdvanceRevoked", testFamilyAdvanceRevoked},
		{"FamilyRevokeBeforeCreate", testFamilyRevokeBeforeCreate},
		{"FamilyIsolation", testFamilyIsolation},
		{"RevokeFamiliesOf", testRevokeFamiliesOf},

		{"RevokeAccessToken", testRevokeAccessToken},
		{"RevokeFamily", testRevokeFamily},
		{"RevokeKeepsLaterUntil", testRevokeKeepsLaterUntil},
		{"RevokeConcurrent", testRevokeConcurrent},

		{"FeedEmpty", testFeedEmpty},
		{"FeedOrder", testFeedOrder},
		{"FeedPaging", testFeedPaging},
		{"FeedExpired", testFeedExpired},
		{"FeedConcurrent", testFeedConcurrent},

		{"DeleteExpired", testDeleteExpired},
		{"DeleteExpiredBatches", testDeleteExpiredBatches},
		{"DeleteExpiredEmpty", testDeleteExpiredEmpty},
	}
	keyCases = []testCase[storage.KeyStore]{
		{"KeysRoundTrip", testKeysRoundTrip},
		{"KeysRetire", testKeysRetire},
	}
	consentCases = []testCase[storage.ConsentStore]{
		{"ConsentRoundTrip", testConsentRoundTrip},
		{"ConsentNotFound", testConsentNotFound},
		{"ConsentInvalid", testConsentInvalid},
		{"ConsentList", testConsentList},
	}
)
