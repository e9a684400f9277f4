package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// rmInProcessServer is a tollgate server that is never served over the
// network: tokens are asked for through ServeHTTP.
func rmInProcessServer(t testing.TB, alg string) (srv *handler.Server, id, secret string) {
	t.Helper()
	plain, hash, err := handler.GenerateClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	store := memory.New()
	id = "in-process"
	if err := store.CreateClient(context.Background(), &storage.Client{
		ID: id, SecretHash: hash, GrantTypes: []string{"client_credentials"},
		Scopes: []string{"orders:read"}, DefaultScopes: []string{"orders:read"}, Audiences: []string{rmAudience},
	}); err != nil {
		t.Fatal(err)
	}
	srv, err = handler.New(handler.Config{Issuer: rmIssuer, Clients: store, Logger: rmDiscard,
		Keys: []handler.SigningKey{{Algorithm: alg}}})
	if err != nil {
		t.Fatalf("handler.New: %v", err)
	}
	return srv, id, plain
}

// rmInProcessToken asks srv for a client_credentials token without a
// network.
func rmInProcessToken(t testing.TB, srv http.Handler, id, secret string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, rmTokenRequest(t, "http://in-process.test", id, secret, ""))
	return rmAccessToken(t, rec.Code, rec.Body.Bytes())
}

// TestLocalKeysTollgateServer: a resource server in the same process as
// the token server verifies its tokens from Server.JWKS(), for each
// algorithm the server signs with.
func TestLocalKeysTollgateServer(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			srv, id, secret := rmInProcessServer(t, alg)
			ks, err := middleware.LocalKeys(srv.JWKS())
			if err != nil {
				t.Fatalf("LocalKeys(Server.JWKS()): %v", err)
			}
			api := rmAPI(t, rmMiddleware(t, ks, nil, nil))
			res := rmGet(t, api.URL, rmInProcessToken(t, srv, id, secret))
			rmWant(t, alg+" token", res, http.StatusOK, "")
			if res.Seen.ClientID != id || strings.Join(res.Seen.Scopes, " ") != "orders:read" {
				t.Fatalf("claims %+v, want client %s with orders:read", res.Seen, id)
			}

			// Another server with the same issuer name but its own keys.
			other, oid, osecret := rmInProcessServer(t, alg)
			rmWant(t, "token of another server", rmGet(t, api.URL, rmInProcessToken(t, other, oid, osecret)),
				http.StatusUnauthorized, "invalid_token")
		})
	}
}

func TestLocalKeysBadDocuments(t *testing.T) {
	t.Parallel()
	for _, tc := range rmBadJWKS(t) {
		if tc.maxBytes != 0 || strings.Contains(tc.name, "default") {
			continue // a local set has no size limit
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ks, err := middleware.LocalKeys(tc.body)
			if err == nil {
				t.Fatalf("LocalKeys accepted %s", tc.body)
			}
			if ks != nil {
				t.Errorf("LocalKeys returned a key set with its error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

// TestLocalKeysMixed: usable keys are kept beside unusable ones, which
// verify nothing.
func TestLocalKeysMixed(t *testing.T) {
	t.Parallel()
	ec, ed := rmNewKey(t, "ES256", "ec"), rmNewKey(t, "EdDSA", "ed")
	p384 := rmNewKey(t, "ES384", "p384")
	p384JWK := p384.jwk()
	p384JWK.Algorithm, p384JWK.Use = "", "" // P-384 without alg implies ES384
	unusable, tokens := rmUnusableKeys(t)
	ks, err := middleware.LocalKeys(rmJWKS(t, append(unusable, ec.jwk(), ed.jwk(), p384JWK)...))
	if err != nil {
		t.Fatalf("LocalKeys with usable keys among unusable ones: %v", err)
	}
	mw := rmMiddleware(t, ks, func() time.Time { return rmNow }, func(c *middleware.Config) {
		c.Algorithms = []string{"ES256", "ES384", "EdDSA", "RS256"}
	})
	api := rmAPI(t, mw)
	for _, k := range []*rmKey{ec, ed, p384} {
		rmWant(t, "usable key "+k.kid, rmGet(t, api.URL, k.token(t, rmNow)), http.StatusOK, "")
	}
	for kid, tok := range tokens {
		rmWant(t, "unusable key "+kid, rmGet(t, api.URL, tok), http.StatusUnauthorized, "invalid_token")
	}
	// The set is fixed: an unknown kid is refused at once.
	stranger := rmNewKey(t, "ES256", "stranger")
	res := rmGet(t, api.URL, stranger.token(t, rmNow))
	rmWant(t, "unknown kid", res, http.StatusUnauthorized, "invalid_token")
	if !strings.Contains(res.Err.Description, "unknown key") {
		t.Errorf("unknown kid refused for %q", res.Err.Description)
	}
	// A token without kid does not match a set whose keys all have one.
	noKid := rmSign(t, ec.priv, "ES256", "", rmClaims(rmNow, "client-a"))
	rmWant(t, "token without kid", rmGet(t, api.URL, noKid), http.StatusUnauthorized, "invalid_token")
}

// TestLocalKeysAlgBinding: a local set binds algorithms as a remote one
// does.
func TestLocalKeysAlgBinding(t *testing.T) {
	t.Parallel()
	ec := rmNewKey(t, "ES256", "ec")
	p384 := rmNewKey(t, "ES384", "")
	ks, err := middleware.LocalKeys(rmJWKS(t, ec.jwk()))
	if err != nil {
		t.Fatal(err)
	}
	mw := rmMiddleware(t, ks, func() time.Time { return rmNow }, func(c *middleware.Config) {
		c.Algorithms = []string{"ES256", "ES384"}
	})
	api := rmAPI(t, mw)
	rmWant(t, "ES256", rmGet(t, api.URL, ec.token(t, rmNow)), http.StatusOK, "")
	res := rmGet(t, api.URL, rmSign(t, p384.priv, "ES384", "ec", rmClaims(rmNow, "client-a")))
	rmWant(t, "ES384 token naming the ES256 key", res, http.StatusUnauthorized, "invalid_token")

	// The JWK's alg must fit its key: an EC P-256 key published as RS256
	// is no key at all.
	misfit := ec.jwk()
	misfit.Algorithm = "RS256"
	if _, err := middleware.LocalKeys(rmJWKS(t, misfit)); err == nil {
		t.Fatal("LocalKeys accepted a P-256 key published for RS256")
	}
	// An HMAC alg on a public key is refused the same way.
	misfit.Algorithm = "HS256"
	if _, err := middleware.LocalKeys(rmJWKS(t, misfit)); err == nil {
		t.Fatal("LocalKeys accepted a P-256 key published for HS256")
	}
}
