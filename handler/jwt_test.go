package handler_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/tollgate-oauth/tollgate/handler"
)

// The access token itself: its RFC 9068 shape, its signature checked with
// an independent library (lestrrat-go/jwx, not the go-jose code the server
// signs with) against the JWKS the server publishes, and the custom-claims
// hook.

// gpKeys are signing keys made once per test binary: 2048-bit RSA
// generation is slow under -race.
var gpKeys = sync.OnceValues(func() (gpKeySet, error) {
	var ks gpKeySet
	var err error
	if ks.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return ks, err
	}
	if ks.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return ks, err
	}
	_, ks.ed, err = ed25519.GenerateKey(rand.Reader)
	return ks, err
})

type gpKeySet struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
}

func gpSigners(t testing.TB) gpKeySet {
	t.Helper()
	ks, err := gpKeys()
	if err != nil {
		t.Fatalf("generating keys: %v", err)
	}
	return ks
}

// gpGet fetches path from the server.
func gpGet(t testing.TB, ts *httptest.Server, method, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, body
}

// gpFetchJWKS GETs the JWKS and parses it with jwx.
func gpFetchJWKS(t testing.TB, ts *httptest.Server) (jwk.Set, []byte) {
	t.Helper()
	resp, body := gpGet(t, ts, http.MethodGet, handler.JWKSPath)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d: %s", handler.JWKSPath, resp.StatusCode, body)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		t.Fatalf("jwk.Parse of the served JWKS: %v\n%s", err, body)
	}
	return set, body
}

// gpToken gets a token for the integration client; extra form parameters
// may be added.
func gpToken(t testing.TB, ts *httptest.Server, extra url.Values) string {
	t.Helper()
	form := url.Values{"grant_type": {gpGrantCC}}
	for k, v := range extra {
		form[k] = v
	}
	res := postForm(t, ts, form, integrationID+":"+integrationSecret)
	if res.status != 200 || res.body.AccessToken == "" {
		t.Fatalf("token request: status %d: %s", res.status, res.raw)
	}
	return res.body.AccessToken
}

func gpClock(t time.Time) jwt.Clock { return jwt.ClockFunc(func() time.Time { return t }) }

func TestAccessTokenClaims(t *testing.T) {
	t.Parallel()
	ts, _ := newServer(t, gpClients(t))
	tests := []struct {
		name   string
		form   url.Values
		basic  string // "id:secret" for HTTP Basic; ids without ':'
		client string
		scope  string
		aud    any // as on the wire
		ttl    int64
	}{
		{"integration, defaults", url.Values{}, integrationID + ":" + integrationSecret,
			integrationID, "market:all", apiAudience, 7200},
		{"integration, several scopes and audiences", url.Values{"scope": {"market:all " + gpMarket}, "audience": {apiAudience + " " + qaAudience}},
			integrationID + ":" + integrationSecret, integrationID, "market:all " + gpMarket, []any{apiAudience, qaAudience}, 7200},
		{"sales channel (public)", url.Values{"client_id": {salesChannelID}, "scope": {gpMarket}}, "",
			salesChannelID, gpMarket, apiAudience, 14400},
		{"client id that needs escaping", url.Values{"client_id": {gpOddID}, "client_secret": {gpOddSecret}}, "",
			gpOddID, "market:all", apiAudience, 1800},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.form.Set("grant_type", gpGrantCC)
			var res result
			if tt.basic != "" {
				res = postForm(t, ts, tt.form, tt.basic)
			} else {
				res = postForm(t, ts, tt.form)
			}
			if res.status != 200 {
				t.Fatalf("status %d: %s", res.status, res.raw)
			}
			tok := gpDecode(t, res.body.AccessToken)

			wantHeader := map[string]any{"alg": "ES256", "kid": "k1", "typ": "at+jwt"}
			if !reflect.DeepEqual(tok.Header, wantHeader) {
				t.Errorf("header = %v, want exactly %v", tok.Header, wantHeader)
			}
			wantNames := []string{"aud", "client_id", "exp", "iat", "iss", "jti", "nbf", "scope", "sub", "sub_type"}
			if got := slices.Sorted(maps.Keys(tok.Claims)); !slices.Equal(got, wantNames) {
				t.Errorf("claims = %v, want exactly %v", got, wantNames)
			}
			for name, want := range map[string]string{"iss": "http://tollgate.test", "sub": tt.client, "sub_type": "client", "client_id": tt.client, "scope": tt.scope} {
				if got := tok.str(t, name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if !reflect.DeepEqual(tok.Claims["aud"], tt.aud) {
				t.Errorf("aud = %#v, want %#v", tok.Claims["aud"], tt.aud)
			}
			now := fixedNow.Unix()
			for name, want := range map[string]int64{"iat": now, "nbf": now, "exp": now + tt.ttl} {
				if got := tok.num(t, name); got != want {
					t.Errorf("%s = %d, want %d", name, got, want)
				}
			}
			// 128 random bits, base64url without padding.
			if jti, err := base64.RawURLEncoding.DecodeString(tok.str(t, "jti")); err != nil || len(jti) != 16 {
				t.Errorf("jti = %q: want 16 bytes of base64url (err %v)", tok.str(t, "jti"), err)
			}
		})
	}
}

// Two tokens issued in the same second for the same client differ only in
// jti; the jti must differ.
func TestAccessTokenJTIUnique(t *testing.T) {
	t.Parallel()
	ts, _ := newServer(t, nil)
	seen := make(map[string]bool)
	for i := range 3 {
		tok := gpDecode(t, gpToken(t, ts, nil))
		jti := tok.str(t, "jti")
		if seen[jti] {
			t.Fatalf("request %d: jti %q was issued before", i, jti)
		}
		seen[jti] = true
		if got := tok.num(t, "iat"); got != fixedNow.Unix() {
			t.Fatalf("iat = %d, want the injected clock %d", got, fixedNow.Unix())
		}
	}
}

// Each algorithm's token verifies against the served JWKS with jwx, and its
// claims validate with jwx at the injected time.
func TestAccessTokenVerifiesAgainstJWKS(t *testing.T) {
	t.Parallel()
	ks := gpSigners(t)
	tests := []struct {
		name    string
		keys    []handler.SigningKey
		alg     string
		kid     string // "" : the RFC 7638 thumbprint, checked with jwx
		kty     string
		crv     string
		rsaBits int
	}{
		{"RS256 given key", []handler.SigningKey{{ID: "rsa-1", Algorithm: "RS256", Key: ks.rsa}}, "RS256", "rsa-1", "RSA", "", 2048},
		{"RS256 is the default algorithm", []handler.SigningKey{{ID: "rsa-gen"}}, "RS256", "rsa-gen", "RSA", "", 2048},
		{"no Keys: one generated RS256 key, thumbprint kid", nil, "RS256", "", "RSA", "", 2048},
		{"ES256 given key", []handler.SigningKey{{ID: "ec-1", Algorithm: "ES256", Key: ks.ec}}, "ES256", "ec-1", "EC", "P-256", 0},
		{"ES256 generated key", []handler.SigningKey{{ID: "ec-gen", Algorithm: "ES256"}}, "ES256", "ec-gen", "EC", "P-256", 0},
		{"EdDSA given key", []handler.SigningKey{{ID: "ed-1", Algorithm: "EdDSA", Key: ks.ed}}, "EdDSA", "ed-1", "OKP", "Ed25519", 0},
		{"EdDSA generated key, thumbprint kid", []handler.SigningKey{{Algorithm: "EdDSA"}}, "EdDSA", "", "OKP", "Ed25519", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, _ := newServer(t, func(c *handler.Config) { c.Keys = tt.keys })
			token := gpToken(t, ts, url.Values{"scope": {"market:all " + gpMarket}, "audience": {qaAudience}})
			set, raw := gpFetchJWKS(t, ts)

			// The JWKS: one public key, as the server says.
			if set.Len() != 1 {
				t.Fatalf("JWKS has %d keys, want 1: %s", set.Len(), raw)
			}
			key, _ := set.Key(0)
			kid, _ := key.KeyID()
			if tt.kid != "" && kid != tt.kid {
				t.Errorf("JWKS kid = %q, want %q", kid, tt.kid)
			}
			if tt.kid == "" {
				tp, err := key.Thumbprint(crypto.SHA256)
				if err != nil {
					t.Fatal(err)
				}
				if want := base64.RawURLEncoding.EncodeToString(tp); kid != want {
					t.Errorf("default kid = %q, want the RFC 7638 thumbprint %q", kid, want)
				}
			}
			if alg, _ := key.Algorithm(); alg.String() != tt.alg {
				t.Errorf("JWKS alg = %q, want %q", alg, tt.alg)
			}
			if use, _ := key.KeyUsage(); use != "sig" {
				t.Errorf("JWKS use = %q, want sig", use)
			}
			if private, err := jwk.IsPrivateKey(key); err != nil || private {
				t.Errorf("JWKS publishes a private key (err %v): %s", err, raw)
			}
			gpCheckJWKMembers(t, raw, tt.kty, tt.crv)
			if tt.rsaBits != 0 {
				var pub rsa.PublicKey
				if err := jwk.Export(key, &pub); err != nil {
					t.Fatal(err)
				}
				if pub.N.BitLen() != tt.rsaBits {
					t.Errorf("RSA key has %d bits, want %d", pub.N.BitLen(), tt.rsaBits)
				}
			}

			// The signature, with jws.Verify over the served set.
			payload, err := jws.Verify([]byte(token), jws.WithKeySet(set))
			if err != nil {
				t.Fatalf("jws.Verify against the served JWKS: %v", err)
			}
			msg, err := jws.Parse([]byte(token))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(msg.Payload(), payload) {
				t.Error("verified payload differs from the token's payload")
			}
			hdr := msg.Signatures()[0].ProtectedHeaders()
			if alg, _ := hdr.Algorithm(); alg.String() != tt.alg {
				t.Errorf("header alg = %q, want %q", alg, tt.alg)
			}
			if hkid, _ := hdr.KeyID(); hkid != kid {
				t.Errorf("header kid = %q, want %q", hkid, kid)
			}
			if typ, _ := hdr.Type(); typ != "at+jwt" {
				t.Errorf("header typ = %q, want at+jwt", typ)
			}

			// The claims, with jwt.Parse: signature, time and values.
			claims, err := jwt.Parse([]byte(token), jwt.WithKeySet(set),
				jwt.WithClock(gpClock(fixedNow)), jwt.WithAcceptableSkew(0),
				jwt.WithIssuer("http://tollgate.test"), jwt.WithSubject(integrationID), jwt.WithAudience(qaAudience),
				jwt.WithClaimValue("client_id", integrationID), jwt.WithClaimValue("scope", "market:all "+gpMarket),
				jwt.WithRequiredClaim("jti"), jwt.WithRequiredClaim("nbf"), jwt.WithRequiredClaim("iat"), jwt.WithRequiredClaim("exp"))
			if err != nil {
				t.Fatalf("jwt.Parse: %v", err)
			}
			if exp, _ := claims.Expiration(); !exp.Equal(fixedNow.Add(2 * time.Hour)) {
				t.Errorf("exp = %v, want %v", exp, fixedNow.Add(2*time.Hour))
			}
			if iat, _ := claims.IssuedAt(); !iat.Equal(fixedNow) {
				t.Errorf("iat = %v, want %v", iat, fixedNow)
			}
			if nbf, _ := claims.NotBefore(); !nbf.Equal(fixedNow) {
				t.Errorf("nbf = %v, want %v", nbf, fixedNow)
			}
			if aud, _ := claims.Audience(); !slices.Equal(aud, []string{qaAudience}) {
				t.Errorf("aud = %q, want [%q]", aud, qaAudience)
			}

			// The validation really uses the clock and the key.
			for _, at := range []time.Time{fixedNow.Add(2*time.Hour + time.Second), fixedNow.Add(-time.Minute)} {
				if _, err := jwt.Parse([]byte(token), jwt.WithKeySet(set), jwt.WithClock(gpClock(at)), jwt.WithAcceptableSkew(0)); err == nil {
					t.Errorf("token validates at %v, outside [nbf, exp]", at)
				}
			}
			other, _ := newServer(t, func(c *handler.Config) { c.Keys = []handler.SigningKey{{ID: kid, Algorithm: tt.alg}} })
			otherSet, _ := gpFetchJWKS(t, other)
			if _, err := jws.Verify([]byte(token), jws.WithKeySet(otherSet)); err == nil {
				t.Error("token verifies against another server's key with the same kid")
			}
		})
	}
}

// gpCheckJWKMembers checks the raw JWKS: one key of kty (and crv) with kid,
// alg and use, and none of the private members of RFC 7518 §6.
func gpCheckJWKMembers(t testing.TB, raw []byte, kty, crv string) {
	t.Helper()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	for _, k := range doc.Keys {
		if k["kty"] != kty {
			t.Errorf("kty = %v, want %s", k["kty"], kty)
		}
		if crv != "" && k["crv"] != crv {
			t.Errorf("crv = %v, want %s", k["crv"], crv)
		}
		for _, name := range []string{"kid", "alg", "use"} {
			if _, ok := k[name].(string); !ok {
				t.Errorf("JWK has no %q: %v", name, k)
			}
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("JWK publishes private member %q", private)
			}
		}
	}
}

// Several keys: the first signs, all are published (so resource servers
// know a key before it signs and after it stops).
func TestSeveralKeysFirstSignsAllPublished(t *testing.T) {
	t.Parallel()
	ks := gpSigners(t)
	tests := []struct {
		name string
		keys []handler.SigningKey
	}{
		{"ES256 first", []handler.SigningKey{
			{ID: "2026-11", Algorithm: "ES256", Key: ks.ec}, {ID: "2026-05", Algorithm: "RS256", Key: ks.rsa}, {ID: "ed", Algorithm: "EdDSA", Key: ks.ed}}},
		{"RS256 first", []handler.SigningKey{
			{ID: "2026-05", Algorithm: "RS256", Key: ks.rsa}, {ID: "2026-11", Algorithm: "ES256", Key: ks.ec}}},
		{"EdDSA first, generated keys after", []handler.SigningKey{
			{ID: "ed", Algorithm: "EdDSA", Key: ks.ed}, {ID: "next-ec", Algorithm: "ES256"}, {ID: "next-rsa"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, srv := newServer(t, func(c *handler.Config) { c.Keys = tt.keys })
			set, raw := gpFetchJWKS(t, ts)
			if !bytes.Equal(raw, srv.JWKS()) {
				t.Errorf("served JWKS differs from Server.JWKS()")
			}
			if set.Len() != len(tt.keys) {
				t.Fatalf("JWKS has %d keys, want %d: %s", set.Len(), len(tt.keys), raw)
			}
			for i, sk := range tt.keys {
				key, _ := set.Key(i)
				kid, _ := key.KeyID()
				alg, _ := key.Algorithm()
				wantAlg := sk.Algorithm
				if wantAlg == "" {
					wantAlg = "RS256"
				}
				if kid != sk.ID || alg.String() != wantAlg {
					t.Errorf("JWKS key %d = %s/%s, want %s/%s (configured order)", i, kid, alg, sk.ID, wantAlg)
				}
			}

			token := gpToken(t, ts, nil)
			tok := gpDecode(t, token)
			if tok.Header["kid"] != tt.keys[0].ID || tok.Header["alg"] != tt.keys[0].Algorithm {
				t.Errorf("token header = %v, want kid %q alg %q (the first key)", tok.Header, tt.keys[0].ID, tt.keys[0].Algorithm)
			}
			if _, err := jwt.Parse([]byte(token), jwt.WithKeySet(set), jwt.WithClock(gpClock(fixedNow))); err != nil {
				t.Fatalf("jwt.Parse against the full JWKS: %v", err)
			}
			// Only the first key verifies: without it, the rest of the set
			// does not.
			first, _ := set.LookupKeyID(tt.keys[0].ID)
			rest, err := set.Clone()
			if err != nil {
				t.Fatal(err)
			}
			if err := rest.RemoveKey(first); err != nil {
				t.Fatal(err)
			}
			if _, err := jws.Verify([]byte(token), jws.WithKeySet(rest, jws.WithRequireKid(false))); err == nil {
				t.Error("token verifies without the first key")
			}
		})
	}
}

func TestCustomClaims(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		form      url.Values
		basic     string
		wantReq   handler.ClaimsRequest
		wantExtra map[string]any // nil: no custom claims
	}{
		{"integration: claims added (seed 001 user_type, version)", url.Values{}, integrationID + ":" + integrationSecret,
			handler.ClaimsRequest{ClientID: integrationID, Subject: integrationID, GrantType: gpGrantCC, Scopes: []string{"market:all"}, Audience: []string{apiAudience}},
			map[string]any{"user_type": "admin", "version": "1.0", "tenant": map[string]any{"id": json.Number("7")}, "roles": []any{"orders", "stock"}}},
		{"integration: hook sees requested scopes and audiences", url.Values{"scope": {gpMarket + " market:all"}, "audience": {qaAudience + " " + apiAudience}},
			integrationID + ":" + integrationSecret,
			handler.ClaimsRequest{ClientID: integrationID, Subject: integrationID, GrantType: gpGrantCC, Scopes: []string{gpMarket, "market:all"}, Audience: []string{qaAudience, apiAudience}},
			map[string]any{"user_type": "admin", "version": "1.0", "tenant": map[string]any{"id": json.Number("7")}, "roles": []any{"orders", "stock"}}},
		{"sales channel: hook adds nothing", url.Values{"client_id": {salesChannelID}, "scope": {gpMarket}}, "",
			handler.ClaimsRequest{ClientID: salesChannelID, Subject: salesChannelID, GrantType: gpGrantCC, Scopes: []string{gpMarket}, Audience: []string{apiAudience}},
			nil},
		{"no-defaults client: hook returns an empty map", url.Values{"client_id": {gpNoDefaultsID}}, "",
			handler.ClaimsRequest{ClientID: gpNoDefaultsID, Subject: gpNoDefaultsID, GrantType: gpGrantCC, Scopes: nil, Audience: []string{apiAudience}},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu  sync.Mutex
				got []handler.ClaimsRequest
			)
			hook := func(ctx context.Context, req handler.ClaimsRequest) (map[string]any, error) {
				if ctx == nil {
					return nil, errors.New("nil context")
				}
				mu.Lock()
				got = append(got, req)
				mu.Unlock()
				switch req.ClientID {
				case integrationID:
					return map[string]any{"user_type": "admin", "version": "1.0", "tenant": map[string]int{"id": 7}, "roles": []string{"orders", "stock"}}, nil
				case gpNoDefaultsID:
					return map[string]any{}, nil
				}
				return nil, nil
			}
			ts, _ := newServer(t, gpClients(t, func(c *handler.Config) { c.Claims = hook }))
			tt.form.Set("grant_type", gpGrantCC)
			var res result
			if tt.basic != "" {
				res = postForm(t, ts, tt.form, tt.basic)
			} else {
				res = postForm(t, ts, tt.form)
			}
			if res.status != 200 {
				t.Fatalf("status %d: %s", res.status, res.raw)
			}
			mu.Lock()
			calls := slices.Clone(got)
			mu.Unlock()
			if len(calls) != 1 {
				t.Fatalf("hook called %d times, want 1", len(calls))
			}
			if !gpSameClaimsRequest(calls[0], tt.wantReq) {
				t.Errorf("hook got %+v, want %+v", calls[0], tt.wantReq)
			}

			tok := gpDecode(t, res.body.AccessToken)
			registered := []string{"aud", "client_id", "exp", "iat", "iss", "jti", "nbf", "scope", "sub", "sub_type"} // client_credentials
			want := slices.Sorted(slices.Values(append(slices.Clone(registered), slices.Collect(maps.Keys(tt.wantExtra))...)))
			if names := slices.Sorted(maps.Keys(tok.Claims)); !slices.Equal(names, want) {
				t.Errorf("claims = %v, want %v", names, want)
			}
			for name, want := range tt.wantExtra {
				if !reflect.DeepEqual(tok.Claims[name], want) {
					t.Errorf("claim %q = %#v, want %#v", name, tok.Claims[name], want)
				}
			}
			if sub := tok.str(t, "sub"); sub != tt.wantReq.ClientID {
				t.Errorf("sub = %q, want %q", sub, tt.wantReq.ClientID)
			}
			if tt.wantExtra != nil {
				// And an independent parser sees them as top-level claims.
				parsed, err := jwt.ParseInsecure([]byte(res.body.AccessToken))
				if err != nil {
					t.Fatal(err)
				}
				var userType string
				if err := parsed.Get("user_type", &userType); err != nil || userType != "admin" {
					t.Errorf("jwx: user_type = %q (%v), want admin", userType, err)
				}
			}
		})
	}
}

func gpSameClaimsRequest(a, b handler.ClaimsRequest) bool {
	return a.ClientID == b.ClientID && a.Subject == b.Subject && a.GrantType == b.GrantType &&
		slices.Equal(a.Scopes, b.Scopes) && slices.Equal(a.Audience, b.Audience)
}

// A hook that fails, or that would replace a claim tollgate sets, fails the
// request with a bare 500 server_error: nothing of the hook's error or
// claims reaches the client, and no token is issued.
func TestCustomClaimsFailure(t *testing.T) {
	t.Parallel()
	const leak = "ldap://10.0.0.7 bind as cn=admin password hunter2 refused"
	type hookResult struct {
		claims map[string]any
		err    error
	}
	tests := []struct {
		name    string
		ret     hookResult
		wantLog string // in the server's error log
	}{
		{"hook error", hookResult{err: errors.New(leak)}, "custom claims hook"},
		{"unencodable claim", hookResult{claims: map[string]any{"ch": make(chan int)}}, "custom claims"},
	}
	for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "sub_type"} {
		tests = append(tests, struct {
			name    string
			ret     hookResult
			wantLog string
		}{"reserved claim " + name, hookResult{claims: map[string]any{"user_type": "admin", name: leak}}, `custom claim \"` + name + `\" would replace`})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs logBuffer
			ts, _ := newServer(t, func(c *handler.Config) {
				c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
				c.Claims = func(context.Context, handler.ClaimsRequest) (map[string]any, error) { return tt.ret.claims, tt.ret.err }
			})
			res := postForm(t, ts, url.Values{"grant_type": {gpGrantCC}}, integrationID+":"+integrationSecret)
			if res.status != 500 || res.body.Error != "server_error" {
				t.Fatalf("got %d %q, want 500 server_error: %s", res.status, res.body.Error, res.raw)
			}
			if res.body.Description != "the server could not complete the request" {
				t.Errorf("error_description = %q, want the generic one", res.body.Description)
			}
			for _, secret := range []string{"hunter2", "ldap", "10.0.0.7", "hook", "claim"} {
				if strings.Contains(res.raw, secret) {
					t.Errorf("response leaks %q: %s", secret, res.raw)
				}
			}
			if res.body.AccessToken != "" {
				t.Errorf("a token was issued: %s", res.raw)
			}
			if got := res.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			log := logs.String()
			if !strings.Contains(log, `"level":"ERROR"`) || !strings.Contains(log, tt.wantLog) {
				t.Errorf("want an ERROR log naming %q, got:\n%s", tt.wantLog, log)
			}
		})
	}
}
