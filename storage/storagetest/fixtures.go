package storagetest

import (
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// The records the suite stores and compares whole. Between them they set
// every field of every storage type to a non-zero value, with values a
// careless store would mangle: times in non-UTC zones, slices whose order
// matters, URLs with queries, non-ASCII text, bytes that are not UTF-8.
// TestFixturesSetEveryField fails when a field added to a storage type is
// left zero here, so the suite never passes a store that drops it.

// baseTime is the suite's "now": microsecond precision, as SQL stores keep
// (see the package documentation).
func baseTime() time.Time { return time.Now().Truncate(time.Microsecond) }

// Client returns a valid confidential client with the given id, for tests
// that need a client and do not care which: client_credentials, two
// scopes, two audiences.
func Client(id string) *storage.Client {
	return &storage.Client{
		ID:             id,
		SecretHash:     "$sha256$" + "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", // sha256("")
		GrantTypes:     []string{storage.GrantClientCredentials},
		Scopes:         []string{"market:all", "market:id:*"},
		DefaultScopes:  []string{"market:all"},
		Audiences:      []string{"https://api.example.com", "https://qa-api.example.com"},
		AccessTokenTTL: 2 * time.Hour,
		Introspector:   true,
	}
}

// fullClient sets every field but Public: a public client has no secret
// and cannot introspect, so publicClient sets that one.
func fullClient(id string) *storage.Client {
	c := Client(id)
	c.GrantTypes = []string{storage.GrantAuthorizationCode, storage.GrantClientCredentials, storage.GrantRefreshToken}
	c.Scopes = []string{"orders:write", "market:id:*", "market:all", "orders:read"}
	c.DefaultScopes = []string{"orders:read", "market:all"}
	c.RequireScope = true
	c.AccessTokenTTL = 2*time.Hour + 250*time.Millisecond
	c.RedirectURIs = []string{"https://app.example.com/cb?x=1&y=%20", "http://127.0.0.1:8765/cb", "com.example.app:/oauth"}
	c.RefreshTokenTTL = 36*time.Hour + time.Second
	return c
}

// publicClient is a storefront: no secret, must name a scope.
func publicClient(id string) *storage.Client {
	return &storage.Client{
		ID: id, Public: true,
		GrantTypes:     []string{storage.GrantClientCredentials},
		Scopes:         []string{"market:id:*"},
		RequireScope:   true,
		Audiences:      []string{"https://api.example.com"},
		AccessTokenTTL: 4 * time.Hour,
	}
}

// clientFixtures are the clients ClientRoundTrip stores and reads back.
func clientFixtures() []*storage.Client {
	return []*storage.Client{fullClient("web-app"), publicClient("sales-channel"), Client("Integration")}
}

// fullGrant has every field set.
func fullGrant(id string, at time.Time) *storage.Grant {
	return &storage.Grant{
		ID:                id,
		ClientID:          "third-party-app",
		Subject:           "user-42",
		RequestedAt:       at.In(time.FixedZone("UTC+05:30", 5*3600+30*60)),
		RequestedScopes:   []string{"openid", "orders:write", "orders:read"},
		GrantedScopes:     []string{"orders:read", "openid"},
		RequestedAudience: []string{"https://qa-api.example.com", "https://api.example.com"},
		GrantedAudience:   []string{"https://api.example.com"},
		Form: map[string]string{
			"redirect_uri":          "https://app.example.com/cb?x=1&y=%20",
			"code_challenge":        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
			"code_challenge_method": "S256",
			"nonce":                 "ünïcødé ✓",
		},
		Session: []byte{0x00, 0xff, 0xfe, '{', '"', '\n', 0x80, 0x00, 'x'},
	}
}

// minimalGrant leaves every optional field empty: the store must accept it
// and give back empty values (nil or empty, either will do).
func minimalGrant(id string, at time.Time) *storage.Grant {
	return &storage.Grant{ID: id, ClientID: "third-party-app", RequestedAt: at}
}

// codeFixtures are the codes CodeRoundTrip stores and reads back: one
// stored already used (a store keeps Used as given, as every field), one
// not, one with a minimal grant.
func codeFixtures(now time.Time) []*storage.AuthorizationCode {
	return []*storage.AuthorizationCode{
		{Signature: "kZ3-_Qm9xR2vT8wLpY4nB6cJ1hF0sDgA", Grant: fullGrant("grant-full", now), ExpiresAt: now.Add(10 * time.Minute).In(time.FixedZone("UTC-03:00", -3*3600)), Used: true},
		{Signature: "unused", Grant: fullGrant("grant-unused", now), ExpiresAt: now.Add(5 * time.Minute)},
		{Signature: "minimal", Grant: minimalGrant("grant-min", now), ExpiresAt: now.Add(time.Minute)},
	}
}

// fullFamily has every field set.
func fullFamily(id string, now time.Time) *storage.Family {
	return &storage.Family{
		Grant:           fullGrant(id, now),
		Generation:      7,
		ExpiresAt:       now.Add(30 * 24 * time.Hour),
		AccessExpiresAt: now.Add(time.Hour).In(time.FixedZone("UTC-03:00", -3*3600)),
		Revoked:         true,
	}
}

// liveFamily is a family at generation 1 that is not revoked.
func liveFamily(id string, now time.Time) *storage.Family {
	f := fullFamily(id, now)
	f.Generation, f.Revoked = 1, false
	return f
}

// familyFixtures are the families FamilyRoundTrip stores and reads back.
func familyFixtures(now time.Time) []*storage.Family {
	return []*storage.Family{
		fullFamily("grant-full", now),
		liveFamily("grant-live", now),
		{Grant: minimalGrant("grant-min", now)}, // generation 0, no expiry yet
	}
}

// fullConsent has every field set, slices in an order a store must keep.
func fullConsent(subject, clientID string, at time.Time) *storage.Consent {
	return &storage.Consent{
		Subject: subject, ClientID: clientID,
		Scopes:    []string{"orders:write", "openid", "orders:read"},
		Audience:  []string{"https://qa-api.example.com", "https://api.example.com"},
		GrantedAt: at.In(time.FixedZone("UTC-03:00", -3*3600)),
	}
}

// keyFixtures are the keys KeysRoundTrip stores, out of order, with
// binary private bytes (as a ciphertext is): a scheduled key, a plain
// one, and one stored retired, which sets every field.
func keyFixtures(base time.Time) []*storage.SigningKey {
	return []*storage.SigningKey{
		{ID: "k2", Algorithm: "ES256", Private: []byte{0, 1, 0xff, 0xfe}, CreatedAt: base.Add(time.Hour), ActiveFrom: base.Add(2 * time.Hour)},
		{ID: "k1", Algorithm: "RS256", Private: []byte("-----BEGIN PRIVATE KEY-----\n…"), CreatedAt: base},
		{ID: "k0", Algorithm: "EdDSA", Private: []byte{9}, CreatedAt: base.Add(time.Hour), ActiveFrom: base.Add(time.Hour), RetiredAt: base.Add(3 * time.Hour).In(time.FixedZone("UTC+01:00", 3600))},
	}
}

// feedFixtures are the feed entries FeedOrder expects after revoking an
// access token, a family whose access tokens outlive the caller's until,
// and another access token, in that order. Seq is the store's to choose
// (readFeed checks it), so it is left zero here and in the comparison.
func feedFixtures(exp time.Time) []storage.Revocation {
	return []storage.Revocation{{JTI: "a", ExpiresAt: exp}, {GrantID: "g", ExpiresAt: exp.Add(time.Hour)}, {JTI: "b", ExpiresAt: exp}}
}
