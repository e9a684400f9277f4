package jwtverify_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tollgate-oauth/tollgate/internal/jwtverify"
)

// fuzzKeys are fixed (see edKey), so a saved crasher reproduces.
var fuzzKeys = map[string]jwtverify.Key{
	"ed-1": {Public: edKey.Public(), Alg: "EdDSA"},
	"es-1": {Public: esKey.Public(), Alg: "ES256"},
}

func fuzzPolicy() *jwtverify.Policy {
	return &jwtverify.Policy{
		Issuer: issuer, Audience: audience, Leeway: 30 * time.Second, MaxBytes: 8 << 10,
		Algorithms: []string{"ES256", "EdDSA"},
	}
}

// seedTokens are the fuzz seeds: good tokens and the hostile ones of
// TestVerifyRefuses.
func seedTokens() []string {
	ok := hdr("ES256", "es-1")
	good := jws("ES256", esKey, ok.String(), claims().String())
	parts := strings.Split(good, ".")
	pub := []byte(edKey.Public().(ed25519.PublicKey))
	es := func(h, c obj) string { return jws("ES256", esKey, h.String(), c.String()) }
	return []string{
		good,
		jws("EdDSA", edKey, hdr("EdDSA", "ed-1").String(), claims().with("aud", q([]string{"x", audience})).String()),
		jws("none", nil, ok.with("alg", q("none")).String(), claims().String()),
		b64(ok.with("alg", q("none")).String()) + "." + parts[1] + "." + parts[2],
		jws("HS256", pub, hdr("HS256", "ed-1").String(), claims().String()),
		jws("EdDSA", edKey, hdr("RS256", "ed-1").String(), claims().String()),
		es(ok.with("kid", q("../../etc/passwd")), claims()),
		es(ok.with("kid", q("https://evil.test/k")), claims()),
		es(ok.with("kid", q("")), claims()),
		jws("ES256", evilES, ok.with("jwk", `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`).String(), claims().String()),
		es(ok.with("crit", q([]string{"exp"})), claims()),
		es(ok.with("typ", q("JWT")), claims()),
		es(ok.with("typ", q("AT+JWT")), claims()),
		es(ok, claims().with("exp", unix(now.Add(-time.Minute)))),
		es(ok, claims().with("nbf", unix(now.Add(time.Minute)))),
		es(ok, claims().with("iss", q(issuer+"/"))),
		es(ok, claims().with("aud", q("https://other.test"))),
		es(ok, claims().with("exp", "")),
		es(ok, claims().with("exp", q("1"))),
		es(ok, claims().with("exp", "1e300")),
		es(ok.plus("alg", q("none")), claims()),
		es(ok, claims().plus("sub", q("admin"))),
		es(ok, claims().with("sub", "\"\xff\"")),
		jws("ES256", esKey, ok.String(), "[1]"),
		b64("nope") + "." + parts[1] + "." + parts[2],
		parts[0] + "." + parts[1],
		good + "." + parts[2],
		good + "==",
		parts[0] + "." + parts[1] + "." + flipLastBits(parts[2]),
		"..",
	}
}

// FuzzVerify feeds arbitrary tokens to Verify. It must never panic, every
// error must wrap exactly the sentinels Reason reports, and a token is
// accepted only if an independent reading of it passes the policy.
func FuzzVerify(f *testing.F) {
	for _, tok := range seedTokens() {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, token string) {
		checkVerify(t, token)
	})
}

// FuzzVerifySigned fuzzes the header and claims JSON under a valid
// signature of a trusted key, which random token bytes never reach.
func FuzzVerifySigned(f *testing.F) {
	f.Add(hdr("EdDSA", "ed-1").String(), claims().String())
	f.Add(hdr("EdDSA", "ed-1").plus("alg", q("none")).String(), claims().String())
	f.Add(hdr("EdDSA", "ed-1").with("typ", q("Application/AT+JWT")).String(), claims().with("aud", q([]string{audience})).String())
	f.Add(hdr("EdDSA", "ed-1").String(), claims().plus("exp", "1").String())
	f.Add(hdr("EdDSA", "ed-1").String(), claims().plus("grant_id", q("fam-1")).String())
	f.Add(hdr("EdDSA", "ed-1").String(), claims().plus("grant_id", "42").String())
	f.Add(hdr("EdDSA", "ed-1").String(), claims().with("exp", "1e11").with("scope", q([]string{"a"})).String())
	f.Add(hdr("EdDSA", "ed-1").String(), claims().with("exp", unix(now.Add(-29*time.Second))+".999").String())
	f.Add(hdr("EdDSA", "ed-1").String(), claims().with("iat", "null").with("sub", `"\u00e9\ud83d\ude00"`).String())
	f.Add(hdr("EdDSA", "ed-1").with("crit", "[]").String(), claims().String())
	f.Add(`{"alg":"EdDSA","kid":"ed-1","typ":"at+jwt","jwk":{"kty":"OKP"}}`, claims().String())
	f.Fuzz(func(t *testing.T, header, payload string) {
		input := b64(header) + "." + b64(payload)
		checkVerify(t, input+"."+base64.RawURLEncoding.EncodeToString(ed25519.Sign(edKey, []byte(input))))
	})
}

func checkVerify(t *testing.T, token string) {
	t.Helper()
	kf, _ := counting(fuzzKeys)
	c, err := jwtverify.Verify(context.Background(), token, kf, fuzzPolicy(), now)
	if err != nil {
		if c != nil {
			t.Fatalf("claims and error %v together", err)
		}
		n := 0
		for _, s := range sentinels {
			if errors.Is(err, s) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("error %q wraps %d sentinels, want 1", err, n)
		}
		reason := jwtverify.Reason(err)
		if !errors.Is(err, errorWithMessage(reason)) {
			t.Fatalf("Reason %q is not the message of a sentinel the error wraps (%v)", reason, err)
		}
		return
	}
	if reason := acceptable(token); reason != "" {
		t.Fatalf("accepted a token that %s: %q", reason, token)
	}
	checkAgainstPayload(t, token, c)
}

// errorWithMessage returns the sentinel with message msg, or a fresh error
// that nothing wraps.
func errorWithMessage(msg string) error {
	for _, s := range sentinels {
		if s.Error() == msg {
			return s
		}
	}
	return errors.New(msg)
}

// acceptable reads token independently (encoding/json, strict base64) and
// returns why it must be refused, or "".
func acceptable(token string) string {
	if len(token) > fuzzPolicy().MaxBytes {
		return "is too long"
	}
	segs := strings.Split(token, ".")
	if len(segs) != 3 {
		return "has not three segments"
	}
	var raw [3][]byte
	for i, s := range segs {
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil {
			return "has a non-canonical base64url segment"
		}
		raw[i] = b
	}
	if !utf8.Valid(raw[0]) || !utf8.Valid(raw[1]) {
		return "holds invalid UTF-8"
	}
	var h map[string]any
	if err := json.Unmarshal(raw[0], &h); err != nil {
		return "has a header that is not a JSON object"
	}
	alg, _ := h["alg"].(string)
	kid, _ := h["kid"].(string)
	typ, _ := h["typ"].(string)
	key, known := fuzzKeys[kid]
	switch {
	case !known:
		return "names an unknown kid"
	case alg != key.Alg:
		return "has an algorithm other than its key's"
	case !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt"):
		return "is not typed at+jwt"
	}
	if crit, present := h["crit"]; present && crit != nil {
		if list, ok := crit.([]any); !ok || len(list) > 0 {
			return "has crit"
		}
	}
	d := json.NewDecoder(bytes.NewReader(raw[1]))
	var p map[string]any
	if err := d.Decode(&p); err != nil {
		return "has claims that are not a JSON object"
	}
	if iss, _ := p["iss"].(string); iss != issuer {
		return "has another issuer"
	}
	switch aud := p["aud"].(type) {
	case string:
		if aud != audience {
			return "has another audience"
		}
	case []any:
		found := false
		for _, a := range aud {
			found = found || a == audience
		}
		if !found {
			return "has another audience"
		}
	default:
		return "has no audience"
	}
	exp, ok := p["exp"].(float64)
	if !ok {
		return "has no numeric exp"
	}
	leeway := fuzzPolicy().Leeway.Seconds()
	t := float64(now.Unix())
	if t >= exp+leeway {
		return "is expired"
	}
	for _, name := range []string{"nbf", "iat"} {
		if v, present := p[name]; present && v != nil {
			f, ok := v.(float64)
			if !ok || f < 0 || math.IsInf(f, 0) {
				return "has a bad " + name
			}
			if t+leeway < f {
				return "is not valid yet (" + name + ")"
			}
		}
	}
	if sub, _ := p["sub"].(string); sub == "" {
		return "has no sub"
	}
	if cid, _ := p["client_id"].(string); cid == "" {
		return "has no client_id"
	}
	return ""
}

// checkAgainstPayload compares the verified claims with the payload as
// encoding/json reads it.
func checkAgainstPayload(t *testing.T, token string, c *jwtverify.Claims) {
	t.Helper()
	segs := strings.Split(token, ".")
	rawHeader, _ := base64.RawURLEncoding.DecodeString(segs[0])
	raw, _ := base64.RawURLEncoding.DecodeString(segs[1])
	var h, p map[string]any
	_ = json.Unmarshal(rawHeader, &h)
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("accepted claims encoding/json cannot read: %v", err)
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	if c.Issuer != str(p, "iss") || c.Subject != str(p, "sub") || c.ClientID != str(p, "client_id") ||
		c.ID != str(p, "jti") || c.GrantID != str(p, "grant_id") || c.KeyID != str(h, "kid") {
		t.Fatalf("claims %+v differ from the payload %v (header %v)", c, p, h)
	}
	exp, _ := p["exp"].(float64)
	if got := float64(c.Expiry.Unix()) + float64(c.Expiry.Nanosecond())/1e9; math.Abs(got-exp) > 1e-3 {
		t.Fatalf("Expiry %v differs from exp %v", c.Expiry, exp)
	}
	all, err := c.All()
	if err != nil {
		t.Fatalf("All() on accepted claims: %v", err)
	}
	if all["iss"] != str(p, "iss") {
		t.Fatalf("All()[iss] = %v", all["iss"])
	}
}

// TestFuzzSeedsAreMeaningful: the seeds cover both outcomes, so the fuzz
// oracle is exercised on acceptance too.
func TestFuzzSeedsAreMeaningful(t *testing.T) {
	t.Parallel()
	accepted := 0
	for _, tok := range seedTokens() {
		kf, _ := counting(fuzzKeys)
		if _, err := jwtverify.Verify(context.Background(), tok, kf, fuzzPolicy(), now); err == nil {
			accepted++
			if r := acceptable(tok); r != "" {
				t.Errorf("oracle refuses a seed Verify accepts (%s)", r)
			}
		}
	}
	if accepted != 3 { // good ES256, EdDSA with aud array, typ AT+JWT
		t.Errorf("%d seeds accepted, want 3", accepted)
	}
}
