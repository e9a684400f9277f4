package jwtverify_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tollgate-oauth/tollgate/internal/jwtverify"
)

// now is the verification time of every test.
var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const (
	issuer   = "https://issuer.test"
	audience = "https://api.test"
)

// Fixed keys, so a fuzz crasher saved in testdata reproduces: its
// signature still verifies in the next run.
var (
	edKey  = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, ed25519.SeedSize))
	esKey  = mustEC(elliptic.P256(), 0x17)
	es3Key = mustEC(elliptic.P384(), 0x23)
	// The attacker's keys: well-formed, but not in the trusted set.
	evilED = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x66}, ed25519.SeedSize))
	evilES = mustEC(elliptic.P256(), 0x66)
)

// rsaKey is generated once per test binary (RSA keys have no cheap fixed
// encoding; fuzzing uses EdDSA and ES256 only).
var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func mustEC(c elliptic.Curve, fill byte) *ecdsa.PrivateKey {
	size := (c.Params().BitSize + 7) / 8
	raw := bytes.Repeat([]byte{fill}, size)
	k, err := ecdsa.ParseRawPrivateKey(c, raw)
	if err != nil {
		panic(err)
	}
	return k
}

// trusted is the key set: kid → key bound to one algorithm.
func trusted() map[string]jwtverify.Key {
	return map[string]jwtverify.Key{
		"ed-1": {Public: edKey.Public(), Alg: "EdDSA"},
		"es-1": {Public: esKey.Public(), Alg: "ES256"},
		"rs-1": {Public: rsaKey().Public(), Alg: "RS256"},
		"ps-1": {Public: rsaKey().Public(), Alg: "PS256"},
	}
}

// counting returns a KeyFunc over keys and the number of its calls.
func counting(keys map[string]jwtverify.Key) (jwtverify.KeyFunc, *int) {
	var mu sync.Mutex
	n := new(int)
	return func(_ context.Context, kid string) (jwtverify.Key, error) {
		mu.Lock()
		*n++
		mu.Unlock()
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return jwtverify.Key{}, fmt.Errorf("%w: kid %q", jwtverify.ErrUnknownKey, kid)
	}, n
}

func policy() *jwtverify.Policy {
	return &jwtverify.Policy{
		Issuer: issuer, Audience: audience, Leeway: 30 * time.Second, MaxBytes: 8 << 10,
		Algorithms: []string{"RS256", "PS256", "ES256", "EdDSA"},
	}
}

// obj is a JSON object written member by member, so a test can repeat a
// name or put any raw bytes in a value.
type obj []member

type member struct{ name, raw string }

// with replaces the first member called name (removing the others), or
// appends it; raw "" removes name.
func (o obj) with(name, raw string) obj {
	out := make(obj, 0, len(o)+1)
	done := raw == ""
	for _, m := range o {
		if m.name != name {
			out = append(out, m)
		} else if !done {
			out = append(out, member{name, raw})
			done = true
		}
	}
	if !done {
		out = append(out, member{name, raw})
	}
	return out
}

// plus appends a member even if the name is present (a duplicate).
func (o obj) plus(name, raw string) obj {
	return append(append(obj(nil), o...), member{name, raw})
}

func (o obj) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + m.name + `"`) // raw: a test may escape a name itself
		b.WriteByte(':')
		b.WriteString(m.raw)
	}
	b.WriteByte('}')
	return b.String()
}

// q renders a JSON value.
func q(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// hdr is a well-formed protected header for alg and kid.
func hdr(alg, kid string) obj {
	return obj{{"alg", q(alg)}, {"kid", q(kid)}, {"typ", q("at+jwt")}}
}

// claims is a valid RFC 9068 claim set at now.
func claims() obj {
	return obj{
		{"iss", q(issuer)}, {"sub", q("user-1")}, {"aud", q(audience)},
		{"exp", unix(now.Add(time.Hour))}, {"iat", unix(now)}, {"nbf", unix(now)},
		{"jti", q("jti-1")}, {"client_id", q("client-1")}, {"scope", q("orders:read market:id:xYZ")},
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// jws builds a compact JWS of header and payload (any bytes) signed with
// key under alg: an ecdsa/rsa/ed25519 private key, or []byte for HS256.
// alg "none" gives an empty signature.
func jws(alg string, key any, header, payload string) string {
	input := b64(header) + "." + b64(payload)
	return input + "." + base64.RawURLEncoding.EncodeToString(rawSign(alg, key, []byte(input)))
}

func rawSign(alg string, key any, input []byte) []byte {
	sum256 := sha256.Sum256(input)
	switch alg {
	case "none":
		return nil
	case "HS256":
		mac := hmac.New(sha256.New, key.([]byte))
		mac.Write(input)
		return mac.Sum(nil)
	case "EdDSA":
		return ed25519.Sign(key.(ed25519.PrivateKey), input)
	case "RS512":
		sum := sha512.Sum512(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA512, sum[:])
		if err != nil {
			panic(err)
		}
		return sig
	case "RS256":
		sig, err := rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, sum256[:])
		if err != nil {
			panic(err)
		}
		return sig
	case "PS256":
		sig, err := rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, sum256[:],
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) // RFC 7518 §3.5
		if err != nil {
			panic(err)
		}
		return sig
	case "ES256", "ES384":
		k := key.(*ecdsa.PrivateKey)
		digest := sum256[:]
		if alg == "ES384" {
			s := sha512.Sum384(input)
			digest = s[:]
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			panic(err)
		}
		n := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*n) // JWS: fixed-size r || s, not ASN.1
		r.FillBytes(out[:n])
		s.FillBytes(out[n:])
		return out
	}
	panic("rawSign: unknown alg " + alg)
}

// good is a valid ES256 token.
func good() string { return jws("ES256", esKey, hdr("ES256", "es-1").String(), claims().String()) }

// flipLastBits changes the unused low bits of a segment's last character,
// which a lenient decoder ignores: the same bytes, another spelling.
func flipLastBits(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, seg[len(seg)-1])
	unused := map[int]int{2: 0x0f, 3: 0x03}[len(seg)%4]
	if unused == 0 {
		panic("segment has no unused bits")
	}
	return seg[:len(seg)-1] + string(alphabet[i|unused])
}

// publicForms are the encodings of the RSA public key an attacker would
// try as an HMAC secret.
func publicForms(t *testing.T) map[string][]byte {
	t.Helper()
	pub := &rsaKey().PublicKey
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := json.Marshal(jose.JSONWebKey{Key: pub, KeyID: "rs-1", Algorithm: "RS256", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"PEM PKIX":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"PEM PKCS1": pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)}),
		"DER PKIX":  pkix,
		"JWK JSON":  jwk,
	}
}

// selfSigned is a certificate of the attacker's key, for an x5c header.
func selfSigned(t *testing.T) string {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: issuer},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, evilES.Public(), evilES)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

func evilJWK(t *testing.T, kid string) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: evilES.Public(), KeyID: kid, Algorithm: "ES256", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var sentinels = []error{
	jwtverify.ErrMalformed, jwtverify.ErrAlgorithm, jwtverify.ErrType, jwtverify.ErrUnknownKey,
	jwtverify.ErrSignature, jwtverify.ErrIssuer, jwtverify.ErrAudience, jwtverify.ErrExpired,
	jwtverify.ErrNotYetValid, jwtverify.ErrKeysUnavailable,
}

// checkErr asserts err wraps want and no other sentinel, and that Reason
// gives want's message.
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("Verify succeeded, want %v", want)
	}
	for _, s := range sentinels {
		if s != want && errors.Is(err, s) {
			t.Errorf("error %q also wraps %q", err, s)
		}
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %q does not wrap %q", err, want)
	}
	if got := jwtverify.Reason(err); got != want.Error() {
		t.Errorf("Reason = %q, want %q", got, want.Error())
	}
}

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	es := func(h, c obj) string { return jws("ES256", esKey, h.String(), c.String()) }
	tests := []struct {
		name   string
		token  string
		policy func(*jwtverify.Policy)
		check  func(t *testing.T, c *jwtverify.Claims)
	}{
		{name: "ES256", token: good()},
		{name: "EdDSA", token: jws("EdDSA", edKey, hdr("EdDSA", "ed-1").String(), claims().String()),
			check: func(t *testing.T, c *jwtverify.Claims) {
				if c.KeyID != "ed-1" {
					t.Errorf("KeyID = %q", c.KeyID)
				}
			}},
		{name: "RS256", token: jws("RS256", rsaKey(), hdr("RS256", "rs-1").String(), claims().String())},
		{name: "PS256", token: jws("PS256", rsaKey(), hdr("PS256", "ps-1").String(), claims().String())},
		{name: "typ upper case", token: es(hdr("ES256", "es-1").with("typ", q("AT+JWT")), claims())},
		{name: "typ media type", token: es(hdr("ES256", "es-1").with("typ", q("application/at+jwt")), claims())},
		{name: "typ media type mixed case", token: es(hdr("ES256", "es-1").with("typ", q("Application/At+Jwt")), claims())},
		{name: "untyped: typ JWT", token: es(hdr("ES256", "es-1").with("typ", q("JWT")), claims()),
			policy: func(p *jwtverify.Policy) { p.AllowUntyped = true }},
		{name: "untyped: typ jwt", token: es(hdr("ES256", "es-1").with("typ", q("jwt")), claims()),
			policy: func(p *jwtverify.Policy) { p.AllowUntyped = true }},
		{name: "untyped: typ absent, no sub nor client_id",
			token:  es(hdr("ES256", "es-1").with("typ", ""), claims().with("sub", "").with("client_id", "")),
			policy: func(p *jwtverify.Policy) { p.AllowUntyped = true },
			check: func(t *testing.T, c *jwtverify.Claims) {
				if c.Subject != "" || c.ClientID != "" {
					t.Errorf("sub %q client_id %q, want empty", c.Subject, c.ClientID)
				}
			}},
		{name: "untyped policy still takes at+jwt", token: good(),
			policy: func(p *jwtverify.Policy) { p.AllowUntyped = true }},
		{name: "aud array containing the audience", token: es(hdr("ES256", "es-1"), claims().with("aud", q([]string{"https://other.test", audience}))),
			check: func(t *testing.T, c *jwtverify.Claims) {
				if strings.Join(c.Audience, " ") != "https://other.test "+audience {
					t.Errorf("Audience = %q", c.Audience)
				}
			}},
		{name: "exp past, within leeway", token: es(hdr("ES256", "es-1"), claims().with("exp", unix(now.Add(-29*time.Second))))},
		{name: "exp past by 1s", token: es(hdr("ES256", "es-1"), claims().with("exp", unix(now.Add(-time.Second))))},
		{name: "nbf future, at leeway", token: es(hdr("ES256", "es-1"), claims().with("nbf", unix(now.Add(30*time.Second))))},
		{name: "iat future, within leeway", token: es(hdr("ES256", "es-1"), claims().with("iat", unix(now.Add(29*time.Second))))},
		{name: "no nbf nor iat", token: es(hdr("ES256", "es-1"), claims().with("nbf", "").with("iat", ""))},
		{name: "nbf and iat null", token: es(hdr("ES256", "es-1"), claims().with("nbf", "null").with("iat", "null"))},
		{name: "fractional exp", token: es(hdr("ES256", "es-1"), claims().with("exp", unix(now.Add(time.Hour))+".5")),
			check: func(t *testing.T, c *jwtverify.Claims) {
				if want := now.Add(time.Hour + 500*time.Millisecond); !c.Expiry.Equal(want) {
					t.Errorf("Expiry = %v, want %v", c.Expiry, want)
				}
			}},
		{name: "exp at the 1e11 bound", token: es(hdr("ES256", "es-1"), claims().with("exp", "1e11")),
			check: func(t *testing.T, c *jwtverify.Claims) {
				if c.Expiry.Unix() != 1e11 {
					t.Errorf("Expiry = %v", c.Expiry)
				}
			}},
		{name: "scope as an array (legacy)", token: es(hdr("ES256", "es-1"), claims().with("scope", q([]string{"a", "b:c"}))),
			check: func(t *testing.T, c *jwtverify.Claims) {
				if strings.Join(c.Scopes, "|") != "a|b:c" {
					t.Errorf("Scopes = %q", c.Scopes)
				}
			}},
		{name: "scope with extra spaces", token: es(hdr("ES256", "es-1"), claims().with("scope", q(" a  b "))),
			check: func(t *testing.T, c *jwtverify.Claims) {
				if strings.Join(c.Scopes, "|") != "a|b" {
					t.Errorf("Scopes = %q", c.Scopes)
				}
			}},
		{name: "no scope", token: es(hdr("ES256", "es-1"), claims().with("scope", "")),
			check: func(t *testing.T, c *jwtverify.Claims) {
				if len(c.Scopes) != 0 {
					t.Errorf("Scopes = %q", c.Scopes)
				}
			}},
		{name: "jku/x5u are ignored on a genuine token",
			token: es(hdr("ES256", "es-1").with("jku", q("https://evil.test/jwks")).with("x5u", q("https://evil.test/cert")), claims())},
		{name: "custom claims and unknown header members",
			token: es(hdr("ES256", "es-1").with("x-trace", q("abc")), claims().with("tenant", q("acme")).with("roles", q([]string{"admin"})))},
		{name: "grant_id", token: es(hdr("ES256", "es-1"), claims().with("grant_id", q("fam-7"))),
			check: func(t *testing.T, c *jwtverify.Claims) {
				if c.GrantID != "fam-7" {
					t.Errorf("GrantID = %q", c.GrantID)
				}
			}},
		{name: "grant_id null", token: es(hdr("ES256", "es-1"), claims().with("grant_id", "null")),
			check: func(t *testing.T, c *jwtverify.Claims) {
				if c.GrantID != "" {
					t.Errorf("GrantID = %q", c.GrantID)
				}
			}},
		{name: "token exactly MaxBytes long", token: good(),
			policy: func(p *jwtverify.Policy) { p.MaxBytes = len(good()) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := policy()
			if tc.policy != nil {
				tc.policy(p)
			}
			kf, _ := counting(trusted())
			c, err := jwtverify.Verify(context.Background(), tc.token, kf, p, now)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Issuer != issuer {
				t.Errorf("Issuer = %q", c.Issuer)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestVerifyClaims(t *testing.T) {
	t.Parallel()
	token := jws("ES256", esKey, hdr("ES256", "es-1").String(),
		claims().with("aud", q([]string{audience, "https://b.test"})).with("nbf", unix(now.Add(-time.Minute))).String())
	kf, _ := counting(trusted())
	c, err := jwtverify.Verify(context.Background(), token, kf, policy(), now)
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != issuer || c.Subject != "user-1" || c.ClientID != "client-1" || c.ID != "jti-1" || c.KeyID != "es-1" {
		t.Errorf("iss %q sub %q client_id %q jti %q kid %q", c.Issuer, c.Subject, c.ClientID, c.ID, c.KeyID)
	}
	if strings.Join(c.Audience, " ") != audience+" https://b.test" {
		t.Errorf("Audience = %q", c.Audience)
	}
	if strings.Join(c.Scopes, " ") != "orders:read market:id:xYZ" {
		t.Errorf("Scopes = %q", c.Scopes)
	}
	for name, got := range map[string]time.Time{"Expiry": c.Expiry, "IssuedAt": c.IssuedAt, "NotBefore": c.NotBefore} {
		want := map[string]time.Time{"Expiry": now.Add(time.Hour), "IssuedAt": now, "NotBefore": now.Add(-time.Minute)}[name]
		if !got.Equal(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	es := func(h, c obj) string { return jws("ES256", esKey, h.String(), c.String()) }
	ok := hdr("ES256", "es-1")
	parts := strings.Split(good(), ".")
	rs := jws("RS256", rsaKey(), hdr("RS256", "rs-1").String(), claims().String())
	rsParts := strings.Split(rs, ".")
	type tcase struct {
		name   string
		token  string
		policy func(*jwtverify.Policy)
		want   error
	}
	tests := []tcase{
		// Algorithms.
		{"alg none, empty signature", jws("none", nil, ok.with("alg", q("none")).String(), claims().String()), nil, jwtverify.ErrMalformed},
		{"alg none, with a signature", b64(ok.with("alg", q("none")).String()) + "." + parts[1] + "." + parts[2], nil, jwtverify.ErrAlgorithm},
		{"alg None", es(ok.with("alg", q("None")), claims()), nil, jwtverify.ErrAlgorithm},
		{"alg absent", es(ok.with("alg", ""), claims()), nil, jwtverify.ErrAlgorithm},
		{"alg empty", es(ok.with("alg", q("")), claims()), nil, jwtverify.ErrAlgorithm},
		{"alg not a string", es(ok.with("alg", "256"), claims()), nil, jwtverify.ErrMalformed},
		{"alg es256 lower case", es(ok.with("alg", q("es256")), claims()), nil, jwtverify.ErrAlgorithm},
		{"alg RS256 header on the ES256 key", jws("RS256", rsaKey(), ok.with("alg", q("RS256")).String(), claims().String()), nil, jwtverify.ErrAlgorithm},
		{"alg EdDSA header on the ES256 key", jws("EdDSA", edKey, ok.with("alg", q("EdDSA")).String(), claims().String()), nil, jwtverify.ErrAlgorithm},
		{"alg PS256 on the RS256-bound key", jws("PS256", rsaKey(), hdr("PS256", "rs-1").String(), claims().String()), nil, jwtverify.ErrAlgorithm},
		{"alg ES384 not allowed", jws("ES384", es3Key, hdr("ES384", "es-1").String(), claims().String()), nil, jwtverify.ErrAlgorithm},
		{"alg ES384 allowed but key bound to ES256", jws("ES384", es3Key, hdr("ES384", "es-1").String(), claims().String()),
			func(p *jwtverify.Policy) { p.Algorithms = append(p.Algorithms, "ES384") }, jwtverify.ErrAlgorithm},
		// Untrusted header values.
		{"kid a path", es(ok.with("kid", q("../../etc/passwd")), claims()), nil, jwtverify.ErrUnknownKey},
		{"kid a URL", es(ok.with("kid", q("https://evil.test/key.pem")), claims()), nil, jwtverify.ErrUnknownKey},
		{"kid empty", es(ok.with("kid", q("")), claims()), nil, jwtverify.ErrUnknownKey},
		{"kid absent", es(ok.with("kid", ""), claims()), nil, jwtverify.ErrUnknownKey},
		{"kid very long", es(ok.with("kid", q(strings.Repeat("k", 4000))), claims()), nil, jwtverify.ErrUnknownKey},
		{"kid not a string", es(ok.with("kid", "1"), claims()), nil, jwtverify.ErrMalformed},
		{"kid with NUL", es(ok.with("kid", q("es-1\x00")), claims()), nil, jwtverify.ErrUnknownKey},
		{"attacker key, known kid (re-signed)", jws("ES256", evilES, ok.String(), claims().String()), nil, jwtverify.ErrSignature},
		{"attacker key, its own kid", jws("ES256", evilES, hdr("ES256", "evil").String(), claims().String()), nil, jwtverify.ErrUnknownKey},
		{"attacker EdDSA key, known kid", jws("EdDSA", evilED, hdr("EdDSA", "ed-1").String(), claims().String()), nil, jwtverify.ErrSignature},
		{"crit exp", es(ok.with("crit", q([]string{"exp"})).with("exp", "1"), claims()), nil, jwtverify.ErrMalformed},
		{"crit b64", es(ok.with("crit", q([]string{"b64"})).with("b64", "false"), claims()), nil, jwtverify.ErrMalformed},
		{"crit not an array", es(ok.with("crit", q("exp")), claims()), nil, jwtverify.ErrMalformed},
		// Types.
		{"typ JWT", es(ok.with("typ", q("JWT")), claims()), nil, jwtverify.ErrType},
		{"typ id_token+jwt", es(ok.with("typ", q("id_token+jwt")), claims()), nil, jwtverify.ErrType},
		{"typ absent", es(ok.with("typ", ""), claims()), nil, jwtverify.ErrType},
		{"typ at+jwt with spaces", es(ok.with("typ", q(" at+jwt")), claims()), nil, jwtverify.ErrType},
		{"typ application/jwt", es(ok.with("typ", q("application/jwt")), claims()), nil, jwtverify.ErrType},
		{"untyped policy: typ id_token+jwt", es(ok.with("typ", q("id_token+jwt")), claims()),
			func(p *jwtverify.Policy) { p.AllowUntyped = true }, jwtverify.ErrType},
		{"typ not a string", es(ok.with("typ", "true"), claims()), nil, jwtverify.ErrMalformed},
		// Time.
		{"expired beyond leeway", es(ok, claims().with("exp", unix(now.Add(-31*time.Second)))), nil, jwtverify.ErrExpired},
		{"expired exactly at leeway", es(ok, claims().with("exp", unix(now.Add(-30*time.Second)))), nil, jwtverify.ErrExpired},
		{"expired, no leeway", es(ok, claims().with("exp", unix(now.Add(-time.Second)))),
			func(p *jwtverify.Policy) { p.Leeway = 0 }, jwtverify.ErrExpired},
		{"nbf beyond leeway", es(ok, claims().with("nbf", unix(now.Add(31*time.Second)))), nil, jwtverify.ErrNotYetValid},
		{"iat beyond leeway", es(ok, claims().with("iat", unix(now.Add(31*time.Second)))), nil, jwtverify.ErrNotYetValid},
		{"exp missing", es(ok, claims().with("exp", "")), nil, jwtverify.ErrMalformed},
		{"exp null", es(ok, claims().with("exp", "null")), nil, jwtverify.ErrMalformed},
		{"exp a string", es(ok, claims().with("exp", q(unix(now.Add(time.Hour))))), nil, jwtverify.ErrMalformed},
		{"exp 1e300", es(ok, claims().with("exp", "1e300")), nil, jwtverify.ErrMalformed},
		{"exp 1e400 (overflows float64)", es(ok, claims().with("exp", "1e400")), nil, jwtverify.ErrMalformed},
		{"exp just over the bound", es(ok, claims().with("exp", "100000000001")), nil, jwtverify.ErrMalformed},
		{"exp negative", es(ok, claims().with("exp", "-1")), nil, jwtverify.ErrMalformed},
		{"exp -0 is 1970", es(ok, claims().with("exp", "-0")), nil, jwtverify.ErrExpired},
		{"exp NaN", es(ok, claims().with("exp", "NaN")), nil, jwtverify.ErrMalformed},
		{"exp Infinity", es(ok, claims().with("exp", "Infinity")), nil, jwtverify.ErrMalformed},
		{"exp \"NaN\"", es(ok, claims().with("exp", q("NaN"))), nil, jwtverify.ErrMalformed},
		{"exp true", es(ok, claims().with("exp", "true")), nil, jwtverify.ErrMalformed},
		{"nbf negative", es(ok, claims().with("nbf", "-5")), nil, jwtverify.ErrMalformed},
		{"iat 1e300", es(ok, claims().with("iat", "1e300")), nil, jwtverify.ErrMalformed},
		// Issuer and audience.
		{"wrong issuer", es(ok, claims().with("iss", q("https://evil.test"))), nil, jwtverify.ErrIssuer},
		{"issuer with a trailing slash", es(ok, claims().with("iss", q(issuer+"/"))), nil, jwtverify.ErrIssuer},
		{"issuer in upper case", es(ok, claims().with("iss", q(strings.ToUpper(issuer)))), nil, jwtverify.ErrIssuer},
		{"issuer missing", es(ok, claims().with("iss", "")), nil, jwtverify.ErrIssuer},
		{"issuer an array", es(ok, claims().with("iss", q([]string{issuer}))), nil, jwtverify.ErrMalformed},
		{"wrong audience", es(ok, claims().with("aud", q("https://other.test"))), nil, jwtverify.ErrAudience},
		{"audience with a trailing slash", es(ok, claims().with("aud", q(audience+"/"))), nil, jwtverify.ErrAudience},
		{"aud array without the audience", es(ok, claims().with("aud", q([]string{"https://a.test", "https://b.test"}))), nil, jwtverify.ErrAudience},
		{"aud empty array", es(ok, claims().with("aud", "[]")), nil, jwtverify.ErrAudience},
		{"aud missing", es(ok, claims().with("aud", "")), nil, jwtverify.ErrAudience},
		{"aud a number", es(ok, claims().with("aud", "1")), nil, jwtverify.ErrMalformed},
		{"aud array of numbers", es(ok, claims().with("aud", "[1]")), nil, jwtverify.ErrMalformed},
		{"scope a number", es(ok, claims().with("scope", "7")), nil, jwtverify.ErrMalformed},
		// RFC 9068 §2.2.
		{"sub missing", es(ok, claims().with("sub", "")), nil, jwtverify.ErrMalformed},
		{"client_id missing", es(ok, claims().with("client_id", "")), nil, jwtverify.ErrMalformed},
		{"sub empty", es(ok, claims().with("sub", q(""))), nil, jwtverify.ErrMalformed},
		{"sub a number", es(ok, claims().with("sub", "42")), nil, jwtverify.ErrMalformed},
		// Shape.
		{"empty", "", nil, jwtverify.ErrMalformed},
		{"one segment", parts[0], nil, jwtverify.ErrMalformed},
		{"two segments", parts[0] + "." + parts[1], nil, jwtverify.ErrMalformed},
		{"four segments", good() + "." + parts[2], nil, jwtverify.ErrMalformed},
		{"five segments (JWE shape)", parts[0] + ".." + parts[1] + "." + parts[2] + "." + parts[2], nil, jwtverify.ErrMalformed},
		{"dots only", "..", nil, jwtverify.ErrMalformed},
		{"empty header", "." + parts[1] + "." + parts[2], nil, jwtverify.ErrMalformed},
		{"empty signature", parts[0] + "." + parts[1] + ".", nil, jwtverify.ErrMalformed},
		{"empty payload, signed", jws("ES256", esKey, ok.String(), ""), nil, jwtverify.ErrMalformed},
		{"header cut by 1", parts[0][:len(parts[0])-1] + "." + parts[1] + "." + parts[2], nil, jwtverify.ErrMalformed},
		{"header cut by 4", parts[0][:len(parts[0])-4] + "." + parts[1] + "." + parts[2], nil, jwtverify.ErrMalformed},
		{"payload cut by 4", parts[0] + "." + parts[1][:len(parts[1])-4] + "." + parts[2], nil, jwtverify.ErrSignature},
		{"payload cut in half", parts[0] + "." + parts[1][:len(parts[1])/2&^3] + "." + parts[2], nil, jwtverify.ErrSignature},
		{"signature cut to 84 chars", parts[0] + "." + parts[1] + "." + parts[2][:84], nil, jwtverify.ErrSignature},
		{"signature cut by 1 (invalid length)", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1], nil, jwtverify.ErrMalformed},
		{"RS256 signature cut to 340 chars", rsParts[0] + "." + rsParts[1] + "." + rsParts[2][:340], nil, jwtverify.ErrSignature},
		{"signature of a JWS with another header", parts[0] + "." + rsParts[1] + "." + rsParts[2], nil, jwtverify.ErrSignature},
		{"100 KB", good() + strings.Repeat("A", 100<<10), nil, jwtverify.ErrMalformed},
		{"one byte over MaxBytes", good(), func(p *jwtverify.Policy) { p.MaxBytes = len(good()) - 1 }, jwtverify.ErrMalformed},
		// Encoding: one token, one spelling.
		{"padding in the header", b64(ok.String()) + "==." + parts[1] + "." + parts[2], nil, jwtverify.ErrMalformed},
		{"padding in the payload, unsigned", parts[0] + "." + parts[1] + "=." + parts[2], nil, jwtverify.ErrSignature},
		{"padding in the payload, signed over that spelling", resign(parts[0] + "." + parts[1] + "="), nil, jwtverify.ErrMalformed},
		{"padding after the signature", good() + "==", nil, jwtverify.ErrMalformed},
		{"standard base64 in the header", stdBase64Header() + "." + parts[1] + "." + parts[2], nil, jwtverify.ErrMalformed},
		{"non-base64 character in the header", "e!" + parts[0][2:] + "." + parts[1] + "." + parts[2], nil, jwtverify.ErrMalformed},
		{"non-base64 character in the payload", resign(parts[0] + "." + "*" + parts[1][1:]), nil, jwtverify.ErrMalformed},
		{"standard base64 in the payload", resign(parts[0] + "." + stdBase64Payload()), nil, jwtverify.ErrMalformed},
		{"non-base64 character in the signature", parts[0] + "." + parts[1] + "." + "$" + parts[2][1:], nil, jwtverify.ErrMalformed},
		{"whitespace inside", resign(parts[0] + ". " + parts[1]), nil, jwtverify.ErrMalformed},
		{"header with non-zero trailing bits", headerTrailingBits(t), nil, jwtverify.ErrMalformed},
		{"payload with non-zero trailing bits, signed over that spelling", payloadTrailingBits(t), nil, jwtverify.ErrMalformed},
		{"signature with non-zero trailing bits", parts[0] + "." + parts[1] + "." + flipLastBits(parts[2]), nil, jwtverify.ErrMalformed},
		// JSON.
		{"header not JSON", b64("not json") + "." + parts[1] + "." + parts[2], nil, jwtverify.ErrMalformed},
		{"header a JSON array", b64(`["ES256"]`) + "." + parts[1] + "." + parts[2], nil, jwtverify.ErrMalformed},
		{"header JSON null", b64("null") + "." + parts[1] + "." + parts[2], nil, jwtverify.ErrMalformed}, // not an object
		{"header with trailing data", b64(ok.String()+"{}") + "." + parts[1] + "." + parts[2], nil, jwtverify.ErrMalformed},
		{"header with two alg", es(ok.plus("alg", q("none")), claims()), nil, jwtverify.ErrMalformed},
		{"header with two alg, same value", es(ok.plus("alg", q("ES256")), claims()), nil, jwtverify.ErrMalformed},
		{"header with two kid", es(ok.plus("kid", q("rs-1")), claims()), nil, jwtverify.ErrMalformed},
		{"header with two typ", es(ok.plus("typ", q("JWT")), claims()), nil, jwtverify.ErrMalformed},
		{"header with invalid UTF-8", es(ok.with("x", "\"\xff\""), claims()), nil, jwtverify.ErrMalformed},
		{"payload not JSON", jws("ES256", esKey, ok.String(), "not json"), nil, jwtverify.ErrMalformed},
		{"payload a JSON array", jws("ES256", esKey, ok.String(), "["+claims().String()+"]"), nil, jwtverify.ErrMalformed},
		{"payload a JSON string", jws("ES256", esKey, ok.String(), `"x"`), nil, jwtverify.ErrMalformed},
		{"payload with trailing data", jws("ES256", esKey, ok.String(), claims().String()+"[]"), nil, jwtverify.ErrMalformed},
		{"payload truncated JSON, signed", jws("ES256", esKey, ok.String(), claims().String()[:40]), nil, jwtverify.ErrMalformed},
		{"payload with two sub", es(ok, claims().plus("sub", q("admin"))), nil, jwtverify.ErrMalformed},
		{"payload with two aud", es(ok, claims().plus("aud", q("https://other.test"))), nil, jwtverify.ErrMalformed},
		{"payload with two exp", es(ok, claims().plus("exp", unix(now.Add(100*time.Hour)))), nil, jwtverify.ErrMalformed},
		{"payload with two iss", es(ok, claims().plus("iss", q(issuer))), nil, jwtverify.ErrMalformed},
		{"payload with two scope", es(ok, claims().plus("scope", q("admin"))), nil, jwtverify.ErrMalformed},
		{"payload with two custom claims", es(ok, claims().with("role", q("user")).plus("role", q("admin"))), nil, jwtverify.ErrMalformed},
		{"payload with escaped duplicate sub", es(ok, claims().plus(`s\u0075b`, q("admin"))), nil, jwtverify.ErrMalformed},
		{"grant_id a number", es(ok, claims().with("grant_id", "42")), nil, jwtverify.ErrMalformed},
		{"payload with two grant_id", es(ok, claims().with("grant_id", q("a")).plus("grant_id", q("b"))), nil, jwtverify.ErrMalformed},
		{"invalid UTF-8 in sub", es(ok, claims().with("sub", "\"user-\xff\"")), nil, jwtverify.ErrMalformed},
		{"invalid UTF-8 in a custom claim", es(ok, claims().with("name", "\"\xc3\x28\"")), nil, jwtverify.ErrMalformed},
		{"lone surrogate escape in sub", es(ok, claims().with("sub", `"\ud800"`)), nil, jwtverify.ErrMalformed},
		{"claim name in other case does not count", es(ok, claims().with("exp", "").with("EXP", unix(now.Add(time.Hour)))), nil, jwtverify.ErrMalformed},
		// Headers naming keys elsewhere: never used.
		{"jwk header with the attacker key, known kid", jws("ES256", evilES, ok.with("jwk", evilJWK(t, "es-1")).String(), claims().String()), nil, jwtverify.ErrSignature},
		{"jwk header with the attacker key, its kid", jws("ES256", evilES, hdr("ES256", "evil").with("jwk", evilJWK(t, "evil")).String(), claims().String()), nil, jwtverify.ErrUnknownKey},
		{"jku header to the attacker's set", jws("ES256", evilES, ok.with("jku", q("https://evil.test/jwks.json")).String(), claims().String()), nil, jwtverify.ErrSignature},
		{"x5u header to the attacker's cert", jws("ES256", evilES, ok.with("x5u", q("https://evil.test/cert.pem")).String(), claims().String()), nil, jwtverify.ErrSignature},
		{"x5c header with the attacker's cert", jws("ES256", evilES, ok.with("x5c", q([]string{selfSigned(t)})).String(), claims().String()), nil, jwtverify.ErrSignature},
	}
	// HS256 with the public key as the secret (RFC 8725 §2.1), in every
	// form an attacker would try, against the RSA key and the EC key.
	for form, secret := range publicForms(t) {
		tests = append(tests,
			tcase{"HS256 with the RSA public key as " + form, jws("HS256", secret, hdr("HS256", "rs-1").String(), claims().String()), nil, jwtverify.ErrAlgorithm},
			tcase{"HS256 with the RSA public key as " + form + ", no kid", jws("HS256", secret, hdr("HS256", "").with("kid", "").String(), claims().String()), nil, jwtverify.ErrAlgorithm})
	}
	ecDER, _ := x509.MarshalPKIXPublicKey(esKey.Public())
	tests = append(tests, tcase{"HS256 with the EC public key as DER", jws("HS256", ecDER, hdr("HS256", "es-1").String(), claims().String()), nil, jwtverify.ErrAlgorithm})

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := policy()
			if tc.policy != nil {
				tc.policy(p)
			}
			kf, _ := counting(trusted())
			c, err := jwtverify.Verify(context.Background(), tc.token, kf, p, now)
			if c != nil {
				t.Errorf("Verify returned claims %+v with error %v", c, err)
			}
			checkErr(t, err, tc.want)
			if strings.Contains(jwtverify.Reason(err), "es-1") || (len(tc.token) > 20 && strings.Contains(err.Error(), tc.token)) {
				t.Errorf("error echoes the token or kid: %v", err)
			}
		})
	}
}

// resign signs a signing input (header "." payload, any bytes) with the
// trusted ES256 key.
func resign(input string) string {
	return input + "." + base64.RawURLEncoding.EncodeToString(rawSign("ES256", esKey, []byte(input)))
}

// stdBase64Payload is the claims segment in standard base64.
func stdBase64Payload() string {
	for pad := ""; ; pad += "?" {
		seg := b64(claims().with("x", q(pad)).String())
		if strings.ContainsAny(seg, "-_") {
			return strings.NewReplacer("-", "+", "_", "/").Replace(seg)
		}
	}
}

// stdBase64Header is a header segment in standard base64 ("+" and "/"
// where base64url has "-" and "_").
func stdBase64Header() string {
	for pad := ""; ; pad += "?" {
		seg := b64(hdr("ES256", "es-1").with("x", q(pad)).String())
		if strings.ContainsAny(seg, "-_") {
			return strings.NewReplacer("-", "+", "_", "/").Replace(seg)
		}
	}
}

// headerTrailingBits is a good token whose header segment's last
// character carries non-zero unused bits.
func headerTrailingBits(t *testing.T) string {
	t.Helper()
	h := hdr("ES256", "es-1")
	for pad := ""; ; pad += " " { // a header whose segment has unused bits
		seg := b64(h.with("x", q(pad)).String())
		if len(seg)%4 != 0 {
			payload := b64(claims().String())
			input := flipLastBits(seg) + "." + payload
			return input + "." + base64.RawURLEncoding.EncodeToString(rawSign("ES256", esKey, []byte(input)))
		}
	}
}

// payloadTrailingBits is a token whose payload segment is spelled with
// non-zero unused bits and signed by the trusted key over that spelling.
func payloadTrailingBits(t *testing.T) string {
	t.Helper()
	c := claims()
	for pad := ""; ; pad += " " {
		seg := b64(c.with("x", q(pad)).String())
		if len(seg)%4 != 0 {
			input := b64(hdr("ES256", "es-1").String()) + "." + flipLastBits(seg)
			return input + "." + base64.RawURLEncoding.EncodeToString(rawSign("ES256", esKey, []byte(input)))
		}
	}
}

// TestVerifyChecksHeaderBeforeKeys: the key function (which may fetch a
// remote set) is reached only by a token that is small, well-formed and
// asks for an allowed algorithm and type.
func TestVerifyChecksHeaderBeforeKeys(t *testing.T) {
	t.Parallel()
	parts := strings.Split(good(), ".")
	for name, token := range map[string]string{
		"100 KB":      jws("ES256", esKey, hdr("ES256", "unknown").String(), claims().with("pad", q(strings.Repeat("x", 100<<10))).String()),
		"two parts":   parts[0] + "." + parts[1],
		"bad base64":  "!" + good(),
		"not JSON":    b64("{") + "." + parts[1] + "." + parts[2],
		"alg none":    jws("none", nil, hdr("none", "unknown").String(), claims().String()) + "c2ln",
		"alg HS256":   jws("HS256", []byte("k"), hdr("HS256", "unknown").String(), claims().String()),
		"typ JWT":     jws("ES256", esKey, hdr("ES256", "unknown").with("typ", q("JWT")).String(), claims().String()),
		"crit":        jws("ES256", esKey, hdr("ES256", "unknown").with("crit", q([]string{"x"})).String(), claims().String()),
		"duplicate":   jws("ES256", esKey, hdr("ES256", "unknown").plus("kid", q("x")).String(), claims().String()),
		"padded head": b64(hdr("ES256", "unknown").String()) + "=." + parts[1] + "." + parts[2],
	} {
		kf, calls := counting(trusted())
		if _, err := jwtverify.Verify(context.Background(), token, kf, policy(), now); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if *calls != 0 {
			t.Errorf("%s: key function called %d times, want 0", name, *calls)
		}
	}
	kf, calls := counting(trusted())
	if _, err := jwtverify.Verify(context.Background(), good(), kf, policy(), now); err != nil {
		t.Fatal(err)
	}
	if *calls != 1 {
		t.Errorf("good token: key function called %d times, want 1", *calls)
	}
}

// TestVerifyOtherAlgorithms: the SHA-384/512 variants verify when a
// policy allows them and the key is bound to them.
func TestVerifyOtherAlgorithms(t *testing.T) {
	t.Parallel()
	keys := map[string]jwtverify.Key{
		"es384": {Public: es3Key.Public(), Alg: "ES384"},
		"rs512": {Public: rsaKey().Public(), Alg: "RS512"},
	}
	p := policy()
	p.Algorithms = []string{"ES384", "RS512"}
	for _, tok := range []string{
		jws("ES384", es3Key, hdr("ES384", "es384").String(), claims().String()),
		jws("RS512", rsaKey(), hdr("RS512", "rs512").String(), claims().String()),
	} {
		kf, _ := counting(keys)
		if _, err := jwtverify.Verify(context.Background(), tok, kf, p, now); err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
}

// TestVerifyMisconfiguredKeys: a key whose Alg does not fit its public
// key, or a policy and key naming HMAC, never lets a token through.
func TestVerifyMisconfiguredKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		alg   string
		key   jwtverify.Key
		token string
	}{
		{"RS256 bound to an EC key", "RS256", jwtverify.Key{Public: esKey.Public(), Alg: "RS256"},
			jws("RS256", rsaKey(), hdr("RS256", "k").String(), claims().String())},
		{"ES256 bound to an RSA key", "ES256", jwtverify.Key{Public: rsaKey().Public(), Alg: "ES256"},
			jws("ES256", esKey, hdr("ES256", "k").String(), claims().String())},
		{"ES256 bound to a P-384 key", "ES256", jwtverify.Key{Public: es3Key.Public(), Alg: "ES256"},
			jws("ES256", esKey, hdr("ES256", "k").String(), claims().String())},
		{"EdDSA bound to an EC key", "EdDSA", jwtverify.Key{Public: esKey.Public(), Alg: "EdDSA"},
			jws("EdDSA", edKey, hdr("EdDSA", "k").String(), claims().String())},
		{"HS256 allowed by policy, key an HMAC secret", "HS256", jwtverify.Key{Public: []byte("secret"), Alg: "HS256"},
			jws("HS256", []byte("secret"), hdr("HS256", "k").String(), claims().String())},
		{"HS256 allowed by policy, key the EC public key", "HS256", jwtverify.Key{Public: esKey.Public(), Alg: "HS256"},
			jws("HS256", []byte("secret"), hdr("HS256", "k").String(), claims().String())},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := policy()
			p.Algorithms = []string{tc.alg}
			kf, _ := counting(map[string]jwtverify.Key{"k": tc.key})
			_, err := jwtverify.Verify(context.Background(), tc.token, kf, p, now)
			checkErr(t, err, jwtverify.ErrSignature)
		})
	}
}

func TestVerifyKeyFuncErrors(t *testing.T) {
	t.Parallel()
	var gotKid string
	unavailable := func(_ context.Context, kid string) (jwtverify.Key, error) {
		gotKid = kid
		return jwtverify.Key{}, fmt.Errorf("fetching: %w", jwtverify.ErrKeysUnavailable)
	}
	_, err := jwtverify.Verify(context.Background(), good(), unavailable, policy(), now)
	checkErr(t, err, jwtverify.ErrKeysUnavailable)
	if gotKid != "es-1" {
		t.Errorf("key function got kid %q, want es-1", gotKid)
	}

	type ctxKey struct{}
	ctx := context.WithValue(context.Background(), ctxKey{}, "v")
	var sawCtx bool
	kf := func(ctx context.Context, kid string) (jwtverify.Key, error) {
		sawCtx = ctx.Value(ctxKey{}) == "v"
		return trusted()[kid], nil
	}
	if _, err := jwtverify.Verify(ctx, good(), kf, policy(), now); err != nil {
		t.Fatal(err)
	}
	if !sawCtx {
		t.Error("key function did not get the caller's context")
	}
}

func TestReason(t *testing.T) {
	t.Parallel()
	for _, s := range sentinels {
		wrapped := fmt.Errorf("outer: %w", fmt.Errorf("inner detail with kid %q: %w", "../../x", s))
		if got := jwtverify.Reason(wrapped); got != s.Error() {
			t.Errorf("Reason(%v) = %q, want %q", wrapped, got, s.Error())
		}
		if got := jwtverify.Reason(s); got != s.Error() {
			t.Errorf("Reason(%v) = %q", s, got)
		}
	}
	if got := jwtverify.Reason(errors.New("something else")); got != "the token is invalid" {
		t.Errorf("Reason(other) = %q", got)
	}
	if got := jwtverify.Reason(nil); got != "the token is invalid" {
		t.Errorf("Reason(nil) = %q", got)
	}
	seen := map[string]bool{}
	for _, s := range sentinels {
		if seen[s.Error()] {
			t.Errorf("two sentinels say %q", s)
		}
		seen[s.Error()] = true
	}
}

func TestClaimsAllAndDecode(t *testing.T) {
	t.Parallel()
	token := jws("ES256", esKey, hdr("ES256", "es-1").String(),
		claims().with("tenant", q("acme")).with("roles", q([]string{"admin", "ops"})).with("limits", q(map[string]int{"rps": 5})).String())
	kf, _ := counting(trusted())
	c, err := jwtverify.Verify(context.Background(), token, kf, policy(), now)
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.All()
	if err != nil {
		t.Fatal(err)
	}
	if all["tenant"] != "acme" || all["sub"] != "user-1" || all["exp"] != float64(now.Add(time.Hour).Unix()) {
		t.Errorf("All() = %v", all)
	}
	if roles, _ := all["roles"].([]any); len(roles) != 2 || roles[0] != "admin" || roles[1] != "ops" {
		t.Errorf("roles = %#v", all["roles"])
	}
	if lim, _ := all["limits"].(map[string]any); lim["rps"] != float64(5) {
		t.Errorf("limits = %#v", all["limits"])
	}
	again, _ := c.All()
	if fmt.Sprintf("%p", again) != fmt.Sprintf("%p", all) {
		t.Error("All decoded twice")
	}
	var custom struct {
		Tenant string         `json:"tenant"`
		Roles  []string       `json:"roles"`
		Limits map[string]int `json:"limits"`
		Exp    int64          `json:"exp"`
	}
	if err := c.Decode(&custom); err != nil {
		t.Fatal(err)
	}
	if custom.Tenant != "acme" || strings.Join(custom.Roles, ",") != "admin,ops" || custom.Limits["rps"] != 5 || custom.Exp != now.Add(time.Hour).Unix() {
		t.Errorf("Decode = %+v", custom)
	}
	var wrong struct {
		Tenant int `json:"tenant"`
	}
	if err := c.Decode(&wrong); err == nil {
		t.Error("Decode of a string claim into an int succeeded")
	}
}

func TestVerifyConcurrentAll(t *testing.T) {
	t.Parallel()
	kf, _ := counting(trusted())
	c, err := jwtverify.Verify(context.Background(), good(), kf, policy(), now)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if m, err := c.All(); err != nil || m["jti"] != "jti-1" {
				t.Errorf("All() = %v, %v", m, err)
			}
		})
	}
	wg.Wait()
}
