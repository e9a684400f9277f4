package middleware_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/middleware/authtest"
)

// Hostile tokens are forged by hand: the header and claims are written
// member by member (so a name can repeat, a value can hold any bytes),
// base64url-encoded and signed with the standard library. The middleware
// trusts forgedJWKS: es-1 (ES256), ed-1 (EdDSA) and rs-1 (RS256).

var (
	forgeES   = fixedEC(0x17)
	forgeED   = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, ed25519.SeedSize))
	attackES  = fixedEC(0x66) // well-formed, never trusted
	forgeRSA  = sync.OnceValue(func() *rsa.PrivateKey { return must(rsa.GenerateKey(rand.Reader, 2048)) })
	forgeJWKS = sync.OnceValue(func() []byte {
		return must(json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: forgeES.Public(), KeyID: "es-1", Algorithm: "ES256", Use: "sig"},
			{Key: forgeED.Public(), KeyID: "ed-1", Algorithm: "EdDSA", Use: "sig"},
			{Key: forgeRSA().Public(), KeyID: "rs-1", Algorithm: "RS256", Use: "sig"},
		}}))
	})
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func fixedEC(fill byte) *ecdsa.PrivateKey {
	return must(ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{fill}, 32)))
}

// jsonObj is a JSON object written member by member.
type jsonObj []jsonMember

type jsonMember struct{ name, raw string }

// with replaces the member called name (or appends it); raw "" removes it.
func (o jsonObj) with(name, raw string) jsonObj {
	out := make(jsonObj, 0, len(o)+1)
	done := raw == ""
	for _, m := range o {
		if m.name != name {
			out = append(out, m)
		} else if !done {
			out, done = append(out, jsonMember{name, raw}), true
		}
	}
	if !done {
		out = append(out, jsonMember{name, raw})
	}
	return out
}

// plus appends a member even if its name is present: a duplicate.
func (o jsonObj) plus(name, raw string) jsonObj {
	return append(append(jsonObj(nil), o...), jsonMember{name, raw})
}

func (o jsonObj) String() string {
	parts := make([]string, len(o))
	for i, m := range o {
		parts[i] = `"` + m.name + `":` + m.raw
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// js renders a JSON value.
func js(v any) string { return string(must(json.Marshal(v))) }

func unixJS(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func forgedHeader(alg, kid string) jsonObj {
	return jsonObj{{"alg", js(alg)}, {"kid", js(kid)}, {"typ", js("at+jwt")}}
}

// forgedClaims are valid claims at testNow for the authtest defaults.
func forgedClaims() jsonObj {
	return jsonObj{
		{"iss", js(authtest.DefaultIssuer)}, {"sub", js("user-1")}, {"aud", js(authtest.DefaultAudience)},
		{"exp", unixJS(testNow.Add(time.Hour))}, {"iat", unixJS(testNow)}, {"nbf", unixJS(testNow)},
		{"jti", js("jti-1")}, {"client_id", js("client-1")}, {"scope", js("orders:read")},
	}
}

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// forge signs header.payload (raw strings, any bytes) with key under alg:
// an ecdsa, rsa or ed25519 private key, or a []byte secret for HS256.
// "none" leaves the signature empty.
func forge(alg string, key any, header, payload string) string {
	return signInput(alg, key, b64url(header)+"."+b64url(payload))
}

// signInput signs a signing input spelled exactly as given.
func signInput(alg string, key any, input string) string {
	sum := sha256.Sum256([]byte(input))
	var sig []byte
	switch alg {
	case "none":
	case "HS256":
		mac := hmac.New(sha256.New, key.([]byte))
		mac.Write([]byte(input))
		sig = mac.Sum(nil)
	case "EdDSA":
		sig = ed25519.Sign(key.(ed25519.PrivateKey), []byte(input))
	case "RS256":
		sig = must(rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, sum[:]))
	case "ES256":
		r, s := must2(ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), sum[:]))
		sig = make([]byte, 64) // JWS: fixed-size r || s (RFC 7518 §3.4), not ASN.1
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	default:
		panic("signInput: alg " + alg)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

func forgedES(h, c jsonObj) string { return forge("ES256", forgeES, h.String(), c.String()) }

// goodForged is a valid token of the trusted ES256 key.
func goodForged() string { return forgedES(forgedHeader("ES256", "es-1"), forgedClaims()) }

// withTrailingBits changes the unused low bits of a segment's last
// character: the same bytes to a lenient decoder, another spelling.
func withTrailingBits(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	unused := map[int]int{2: 0x0f, 3: 0x03}[len(seg)%4]
	if unused == 0 {
		panic("segment has no unused bits")
	}
	return seg[:len(seg)-1] + string(alphabet[strings.IndexByte(alphabet, seg[len(seg)-1])|unused])
}

// unaligned is the base64url of o padded so that its last character has
// unused bits.
func unaligned(o jsonObj) string {
	for pad := ""; ; pad += " " {
		if seg := b64url(o.with("x", js(pad)).String()); len(seg)%4 != 0 {
			return seg
		}
	}
}

// forgedMiddleware builds a Middleware trusting forgeJWKS, on the authtest
// issuer and audience, verifying at testNow; calls counts verifications
// (each reads the clock once).
func forgedMiddleware(t *testing.T, mutate func(*middleware.Config)) (mw *middleware.Middleware, calls *atomic.Int64) {
	t.Helper()
	ks, err := middleware.LocalKeys(forgeJWKS())
	if err != nil {
		t.Fatal(err)
	}
	calls = new(atomic.Int64)
	mw = newMiddleware(t, newIssuer(), func(c *middleware.Config) {
		c.Keys = ks
		c.Now = func() time.Time { calls.Add(1); return testNow }
		if mutate != nil {
			mutate(c)
		}
	})
	return mw, calls
}

// reached answers 200 "reached <sub>" once the middleware let a request in.
var reached = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := middleware.ClaimsFrom(r.Context())
	if !ok {
		http.Error(w, "no claims in the context", http.StatusInternalServerError)
		return
	}
	fmt.Fprint(w, "reached "+c.Subject)
})

// wantInvalidToken asserts the RFC 6750 answer to a bad token.
func wantInvalidToken(t *testing.T, res response, reason string) {
	t.Helper()
	if res.Status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401: %s", res.Status, res.Raw)
	}
	want := `Bearer realm="api", error="invalid_token", error_description="` + reason + `"`
	if got := res.Header.Get("WWW-Authenticate"); got != want {
		t.Errorf("WWW-Authenticate\n got %s\nwant %s", got, want)
	}
	if got := res.Header.Values("WWW-Authenticate"); len(got) != 1 {
		t.Errorf("%d WWW-Authenticate headers", len(got))
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if res.Body.Error != "invalid_token" || res.Body.Description != reason || res.Body.Scope != "" {
		t.Errorf("body %+v, want invalid_token %q", res.Body, reason)
	}
}

// The client-safe reasons (jwtverify's error messages).
const (
	reasonMalformed = "the token is malformed"
	reasonAlg       = "the token's algorithm is not accepted"
	reasonTyp       = "the token is not an access token (typ)"
	reasonUnknown   = "the token is signed by an unknown key"
	reasonSignature = "the token's signature is invalid"
	reasonIssuer    = "the token is from another issuer"
	reasonAudience  = "the token is for another audience"
	reasonExpired   = "the token has expired"
	reasonNotYet    = "the token is not valid yet"
)

func TestHostileTokens(t *testing.T) {
	t.Parallel()
	ok := forgedHeader("ES256", "es-1")
	c := forgedClaims()
	parts := strings.Split(goodForged(), ".")
	rsPub := &forgeRSA().PublicKey
	pkixDER := must(x509.MarshalPKIXPublicKey(rsPub))
	esDER := must(x509.MarshalPKIXPublicKey(forgeES.Public()))
	untyped := func(cfg *middleware.Config) { cfg.AllowUntypedTokens = true }
	attackJWK := js(jose.JSONWebKey{Key: attackES.Public(), KeyID: "es-1", Algorithm: "ES256", Use: "sig"})
	longKid := strings.Repeat("k", 4000)

	tests := []struct {
		name   string
		token  string
		mutate func(*middleware.Config)
		reason string // "" means accepted
	}{
		{name: "control: a good token", token: goodForged()},
		{name: "control: EdDSA", token: forge("EdDSA", forgeED, forgedHeader("EdDSA", "ed-1").String(), c.String())},
		{name: "control: RS256", token: forge("RS256", forgeRSA(), forgedHeader("RS256", "rs-1").String(), c.String())},

		// alg none and algorithm confusion.
		{name: "alg none, empty signature", token: forge("none", nil, ok.with("alg", js("none")).String(), c.String()), reason: reasonMalformed},
		{name: "alg none, with a signature", token: b64url(ok.with("alg", js("none")).String()) + "." + parts[1] + "." + parts[2], reason: reasonAlg},
		{name: "alg NONE, with a signature", token: b64url(ok.with("alg", js("NONE")).String()) + "." + parts[1] + "." + parts[2], reason: reasonAlg},
		{name: "HS256 keyed with the RSA public key, PEM PKIX", token: forge("HS256", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkixDER}), forgedHeader("HS256", "rs-1").String(), c.String()), reason: reasonAlg},
		{name: "HS256 keyed with the RSA public key, PEM PKCS1", token: forge("HS256", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rsPub)}), forgedHeader("HS256", "rs-1").String(), c.String()), reason: reasonAlg},
		{name: "HS256 keyed with the RSA public key, DER", token: forge("HS256", pkixDER, forgedHeader("HS256", "rs-1").String(), c.String()), reason: reasonAlg},
		{name: "HS256 keyed with the RSA public key, JWK JSON", token: forge("HS256", []byte(js(jose.JSONWebKey{Key: rsPub, KeyID: "rs-1", Algorithm: "RS256", Use: "sig"})), forgedHeader("HS256", "rs-1").String(), c.String()), reason: reasonAlg},
		{name: "HS256 keyed with the EC public key, DER", token: forge("HS256", esDER, forgedHeader("HS256", "es-1").String(), c.String()), reason: reasonAlg},
		{name: "HS256 keyed with the JWKS document", token: forge("HS256", forgeJWKS(), forgedHeader("HS256", "es-1").String(), c.String()), reason: reasonAlg},
		{name: "RS256 header on the ES256 key", token: forge("RS256", forgeRSA(), ok.with("alg", js("RS256")).String(), c.String()), reason: reasonAlg},
		{name: "EdDSA header on the ES256 key", token: forge("EdDSA", forgeED, ok.with("alg", js("EdDSA")).String(), c.String()), reason: reasonAlg},
		{name: "ES256 header on the RS256 key", token: forge("ES256", forgeES, forgedHeader("ES256", "rs-1").String(), c.String()), reason: reasonAlg},

		// kid and headers naming keys elsewhere.
		{name: "kid a path", token: forgedES(ok.with("kid", js("../../etc/passwd")), c), reason: reasonUnknown},
		{name: "kid a URL", token: forgedES(ok.with("kid", js("https://evil.test/key.pem")), c), reason: reasonUnknown},
		{name: "kid empty", token: forgedES(ok.with("kid", js("")), c), reason: reasonUnknown},
		{name: "kid absent", token: forgedES(ok.with("kid", ""), c), reason: reasonUnknown},
		{name: "kid very long", token: forgedES(ok.with("kid", js(longKid)), c), reason: reasonUnknown},
		{name: "kid SQL", token: forgedES(ok.with("kid", js("' OR '1'='1")), c), reason: reasonUnknown},
		{name: "jwk header: attacker key embedded, known kid", token: forge("ES256", attackES, ok.with("jwk", attackJWK).String(), c.String()), reason: reasonSignature},
		{name: "jku header to the attacker's set", token: forge("ES256", attackES, ok.with("jku", js("https://evil.test/jwks.json")).String(), c.String()), reason: reasonSignature},
		{name: "x5u header to the attacker's cert", token: forge("ES256", attackES, ok.with("x5u", js("https://evil.test/c.pem")).String(), c.String()), reason: reasonSignature},
		{name: "jku on a genuine token is ignored", token: forgedES(ok.with("jku", js("https://evil.test/jwks.json")), c)},
		{name: "unknown key, known kid (re-signed)", token: forge("ES256", attackES, ok.String(), c.String()), reason: reasonSignature},
		{name: "crit header", token: forgedES(ok.with("crit", js([]string{"exp"})).with("exp", "1"), c), reason: reasonMalformed},

		// typ.
		{name: "typ JWT", token: forgedES(ok.with("typ", js("JWT")), c), reason: reasonTyp},
		{name: "typ id_token+jwt", token: forgedES(ok.with("typ", js("id_token+jwt")), c), reason: reasonTyp},
		{name: "typ absent", token: forgedES(ok.with("typ", ""), c), reason: reasonTyp},
		{name: "typ AT+JWT", token: forgedES(ok.with("typ", js("AT+JWT")), c)},
		{name: "typ application/at+jwt", token: forgedES(ok.with("typ", js("application/at+jwt")), c)},
		{name: "typ Application/AT+JWT", token: forgedES(ok.with("typ", js("Application/AT+JWT")), c)},
		{name: "untyped allowed: typ JWT", token: forgedES(ok.with("typ", js("JWT")), c), mutate: untyped},
		{name: "untyped allowed: typ absent", token: forgedES(ok.with("typ", ""), c), mutate: untyped},
		{name: "untyped allowed: typ id_token+jwt still refused", token: forgedES(ok.with("typ", js("id_token+jwt")), c), mutate: untyped, reason: reasonTyp},

		// Time, with the default 30 s leeway.
		{name: "expired beyond leeway", token: forgedES(ok, c.with("exp", unixJS(testNow.Add(-31*time.Second)))), reason: reasonExpired},
		{name: "expired exactly leeway ago", token: forgedES(ok, c.with("exp", unixJS(testNow.Add(-30*time.Second)))), reason: reasonExpired},
		{name: "expired within leeway", token: forgedES(ok, c.with("exp", unixJS(testNow.Add(-29*time.Second))))},
		{name: "nbf beyond leeway", token: forgedES(ok, c.with("nbf", unixJS(testNow.Add(31*time.Second)))), reason: reasonNotYet},
		{name: "nbf within leeway", token: forgedES(ok, c.with("nbf", unixJS(testNow.Add(30*time.Second))))},
		{name: "iat beyond leeway", token: forgedES(ok, c.with("iat", unixJS(testNow.Add(31*time.Second)))), reason: reasonNotYet},
		{name: "iat within leeway", token: forgedES(ok, c.with("iat", unixJS(testNow.Add(20*time.Second))))},
		{name: "leeway 0: expired by 1 s", token: forgedES(ok, c.with("exp", unixJS(testNow.Add(-time.Second)))),
			mutate: func(cfg *middleware.Config) { cfg.Leeway = time.Nanosecond }, reason: reasonExpired},
		{name: "leeway 2 min: expired 100 s ago", token: forgedES(ok, c.with("exp", unixJS(testNow.Add(-100*time.Second)))),
			mutate: func(cfg *middleware.Config) { cfg.Leeway = 2 * time.Minute }},
		{name: "exp missing", token: forgedES(ok, c.with("exp", "")), reason: reasonMalformed},
		{name: "exp a string", token: forgedES(ok, c.with("exp", js(unixJS(testNow.Add(time.Hour))))), reason: reasonMalformed},
		{name: "exp 1e300", token: forgedES(ok, c.with("exp", "1e300")), reason: reasonMalformed},
		{name: "exp negative", token: forgedES(ok, c.with("exp", "-1")), reason: reasonMalformed},
		{name: "exp NaN", token: forgedES(ok, c.with("exp", "NaN")), reason: reasonMalformed},
		{name: "exp \"NaN\"", token: forgedES(ok, c.with("exp", js("NaN"))), reason: reasonMalformed},
		{name: "exp Infinity", token: forgedES(ok, c.with("exp", "Infinity")), reason: reasonMalformed},
		{name: "exp 1e400", token: forgedES(ok, c.with("exp", "1e400")), reason: reasonMalformed},

		// Issuer and audience.
		{name: "wrong issuer", token: forgedES(ok, c.with("iss", js("https://evil.test"))), reason: reasonIssuer},
		{name: "issuer with a trailing slash", token: forgedES(ok, c.with("iss", js(authtest.DefaultIssuer+"/"))), reason: reasonIssuer},
		{name: "issuer missing", token: forgedES(ok, c.with("iss", "")), reason: reasonIssuer},
		{name: "wrong audience", token: forgedES(ok, c.with("aud", js("https://other.test"))), reason: reasonAudience},
		{name: "aud array containing the audience", token: forgedES(ok, c.with("aud", js([]string{"https://other.test", authtest.DefaultAudience})))},
		{name: "aud array without the audience", token: forgedES(ok, c.with("aud", js([]string{"https://other.test"}))), reason: reasonAudience},
		{name: "aud missing", token: forgedES(ok, c.with("aud", "")), reason: reasonAudience},

		// RFC 9068 §2.2 claims.
		{name: "sub missing", token: forgedES(ok, c.with("sub", "")), reason: reasonMalformed},
		{name: "client_id missing", token: forgedES(ok, c.with("client_id", "")), reason: reasonMalformed},
		{name: "untyped allowed: typ JWT, no sub nor client_id", token: forgedES(ok.with("typ", js("JWT")), c.with("sub", "").with("client_id", "")), mutate: untyped},

		// Shape and encoding.
		{name: "header cut", token: parts[0][:len(parts[0])-3] + "." + parts[1] + "." + parts[2], reason: reasonMalformed},
		{name: "payload cut", token: parts[0] + "." + parts[1][:len(parts[1])-3] + "." + parts[2], reason: reasonSignature},
		{name: "signature cut to 84 characters", token: parts[0] + "." + parts[1] + "." + parts[2][:84], reason: reasonSignature},
		{name: "signature cut by one (impossible length)", token: parts[0] + "." + parts[1] + "." + parts[2][:85], reason: reasonMalformed},
		{name: "two segments", token: parts[0] + "." + parts[1], reason: reasonMalformed},
		{name: "four segments", token: goodForged() + "." + parts[2], reason: reasonMalformed},
		{name: "empty header", token: "." + parts[1] + "." + parts[2], reason: reasonMalformed},
		{name: "empty payload, signed", token: signInput("ES256", forgeES, parts[0]+"."), reason: reasonMalformed},
		{name: "empty signature", token: parts[0] + "." + parts[1] + ".", reason: reasonMalformed},
		{name: "only dots", token: "..", reason: reasonMalformed},
		{name: "padding after the signature", token: goodForged() + "==", reason: reasonMalformed},
		{name: "'+' (standard base64) in the header", token: "+" + parts[0][1:] + "." + parts[1] + "." + parts[2], reason: reasonMalformed},
		{name: "'/' in the payload, signed", token: signInput("ES256", forgeES, parts[0]+".ey/"+parts[1][3:]), reason: reasonMalformed},
		{name: "'~' in the signature", token: parts[0] + "." + parts[1] + ".~" + parts[2][1:], reason: reasonMalformed},
		{name: "non-zero trailing bits in the header", token: signInput("ES256", forgeES, withTrailingBits(unaligned(ok))+"."+parts[1]), reason: reasonMalformed},
		{name: "non-zero trailing bits in the payload, signed", token: signInput("ES256", forgeES, parts[0]+"."+withTrailingBits(unaligned(c))), reason: reasonMalformed},
		{name: "non-zero trailing bits in the signature", token: parts[0] + "." + parts[1] + "." + withTrailingBits(parts[2]), reason: reasonMalformed},

		// JSON.
		{name: "header not JSON", token: b64url("alg=ES256") + "." + parts[1] + "." + parts[2], reason: reasonMalformed},
		{name: "payload not JSON", token: forge("ES256", forgeES, ok.String(), "iss=me"), reason: reasonMalformed},
		{name: "payload a JSON array", token: forge("ES256", forgeES, ok.String(), "["+c.String()+"]"), reason: reasonMalformed},
		{name: "header with two alg", token: forgedES(ok.plus("alg", js("none")), c), reason: reasonMalformed},
		{name: "header with two kid", token: forgedES(ok.plus("kid", js("rs-1")), c), reason: reasonMalformed},
		{name: "payload with two sub", token: forgedES(ok, c.plus("sub", js("admin"))), reason: reasonMalformed},
		{name: "payload with two aud", token: forgedES(ok, c.plus("aud", js("https://other.test"))), reason: reasonMalformed},
		{name: "payload with two exp", token: forgedES(ok, c.plus("exp", unixJS(testNow.Add(1000*time.Hour)))), reason: reasonMalformed},
		{name: "payload with two scope", token: forgedES(ok, c.plus("scope", js("admin"))), reason: reasonMalformed},
		{name: "invalid UTF-8 in sub", token: forgedES(ok, c.with("sub", "\"user-\xff\"")), reason: reasonMalformed},
		{name: "invalid UTF-8 in a custom claim", token: forgedES(ok, c.with("name", "\"\xc3\x28\"")), reason: reasonMalformed},
		{name: "lone surrogate in sub", token: forgedES(ok, c.with("sub", `"\udc00"`)), reason: reasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mw, _ := forgedMiddleware(t, tc.mutate)
			ts := serve(t, mw.Authenticate(reached))
			res := get(t, ts.URL, tc.token)
			if tc.reason == "" {
				if res.Status != http.StatusOK || !strings.HasPrefix(res.Raw, "reached ") {
					t.Fatalf("status %d %q, want the token accepted", res.Status, res.Raw)
				}
				return
			}
			wantInvalidToken(t, res, tc.reason)
			for _, leak := range []string{tc.token, longKid, "../", "evil.test"} {
				if strings.Contains(res.Raw, leak) || strings.Contains(res.Header.Get("WWW-Authenticate"), leak) {
					t.Errorf("answer echoes %.40q", leak)
				}
			}
		})
	}
}

// TestOversizedToken: a token over MaxTokenBytes is refused before any
// verification (the clock, read once per verification, is never read).
func TestOversizedToken(t *testing.T) {
	t.Parallel()
	big := forgedES(forgedHeader("ES256", "unknown-kid"), forgedClaims().with("pad", js(strings.Repeat("x", 100<<10))))
	if len(big) < 100<<10 {
		t.Fatalf("token of %d bytes", len(big))
	}
	mw, calls := forgedMiddleware(t, nil)
	ts := serve(t, mw.Authenticate(reached))
	wantInvalidToken(t, get(t, ts.URL, big), reasonMalformed)
	if n := calls.Load(); n != 0 {
		t.Errorf("%d verifications of an oversized token, want 0", n)
	}

	// The bound is MaxTokenBytes exactly.
	good := goodForged()
	for _, tc := range []struct {
		max    int
		status int
	}{{len(good), http.StatusOK}, {len(good) - 1, http.StatusUnauthorized}} {
		mw, _ := forgedMiddleware(t, func(c *middleware.Config) { c.MaxTokenBytes = tc.max })
		ts := serve(t, mw.Authenticate(reached))
		if res := get(t, ts.URL, good); res.Status != tc.status {
			t.Errorf("MaxTokenBytes %d, token of %d: status %d, want %d", tc.max, len(good), res.Status, tc.status)
		}
	}
}

// TestHostileBytesNeverPanic sends arbitrary bytes as the token through
// every middleware: the answer is always a 4xx, never a 500.
func TestHostileBytesNeverPanic(t *testing.T) {
	t.Parallel()
	mw, _ := forgedMiddleware(t, nil)
	ts := serve(t, mw.RequireScopes("orders:read")(reached))
	good := goodForged()
	inputs := []string{"", ".", "..", "...", "a.b.c", "=", "==", "e30.e30.e30", "e30.e30.", good[:len(good)/2], good + good}
	for i := 0; i < 64; i++ {
		b := []byte(good)
		if j := (i * 37) % len(b); b[j]^byte(1+i%7) < 0x7f { // DEL cannot be sent
			b[j] ^= byte(1 + i%7)
			inputs = append(inputs, string(b))
		}
	}
	for _, in := range inputs {
		req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
		req.Header["Authorization"] = []string{"Bearer " + in}
		res := do(t, req)
		if res.Status < 400 || res.Status >= 500 {
			if res.Status == http.StatusOK && in == good {
				continue
			}
			t.Errorf("token %.60q: status %d", in, res.Status)
		}
	}
}
