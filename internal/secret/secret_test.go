package secret

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestGenerateAndVerify(t *testing.T) {
	t.Parallel()
	plain, hash, err := Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !IsGenerated(plain) || !strings.HasPrefix(hash, fastPrefix) {
		t.Fatalf("Generate() = %q, %q", plain, hash)
	}
	if err := CheckFormat(hash); err != nil {
		t.Fatal(err)
	}
	if h2, _ := Hash(plain, nil); h2 != hash {
		t.Errorf("Hash(generated) = %q, want the fast hash %q", h2, hash)
	}
	v := newTestVerifier(t)
	if !v.Verify("c", hash, plain) {
		t.Error("generated secret does not verify")
	}
	if v.Verify("c", hash, plain+"x") || v.Verify("c", hash, "") {
		t.Error("wrong secret verifies")
	}
}

func TestHumanSecretUsesArgon2id(t *testing.T) {
	t.Parallel()
	hash, err := Hash("a-long-secret-value", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("Hash(human) = %q", hash)
	}
	if err := CheckFormat(hash); err != nil {
		t.Fatal(err)
	}
	// Something shaped like a generated secret but not decodable is human.
	if IsGenerated(GeneratedPrefix + strings.Repeat("!", 43)) {
		t.Error("IsGenerated accepted non-base64 body")
	}
}

func TestVerifierCache(t *testing.T) {
	t.Parallel()
	v := newTestVerifier(t)
	hash, _ := Hash("correct horse battery staple", nil)
	if !v.Verify("c", hash, "correct horse battery staple") {
		t.Fatal("argon2id secret does not verify")
	}
	if _, ok := v.cache["c"]; !ok {
		t.Fatal("successful slow verification was not cached")
	}
	if v.Verify("c", hash, "correct horse battery stapl") {
		t.Fatal("wrong secret verified against a cached client")
	}
	// A rotated hash must not be satisfied by the cached MAC of the old secret.
	rotated, _ := Hash("new secret", nil)
	if v.Verify("c", rotated, "correct horse battery staple") {
		t.Fatal("old secret verified against a rotated hash")
	}
	if !v.Verify("c", rotated, "new secret") {
		t.Fatal("new secret does not verify")
	}
	if !v.Quick("c", rotated, "new secret") {
		t.Fatal("a verified secret is not answered from the cache")
	}
	if v.Quick("c", rotated, "wrong") {
		t.Fatal("Quick accepted a wrong secret")
	}
}

func TestVerifierCacheBounded(t *testing.T) {
	t.Parallel()
	v, err := NewVerifier(2, nil)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	for _, id := range []string{"a", "b", "c", "d"} {
		if !v.Verify(id, string(hash), "pw") {
			t.Fatalf("bcrypt secret does not verify for %s", id)
		}
	}
	if n := len(v.cache); n > 2 {
		t.Errorf("cache holds %d entries, max 2", n)
	}
}

func TestBcryptVerifyOnly(t *testing.T) {
	t.Parallel()
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err := CheckFormat(string(hash)); err != nil {
		t.Fatal(err)
	}
	v := newTestVerifier(t)
	if !v.Verify("x", string(hash), "s3cret") || v.Verify("y", string(hash), "s3creT") {
		t.Error("bcrypt verification wrong")
	}
	// bcrypt only reads 72 bytes; longer secrets must fail, not truncate.
	long := strings.Repeat("a", 72)
	h72, _ := bcrypt.GenerateFromPassword([]byte(long), bcrypt.MinCost)
	if v.Verify("z", string(h72), long+"xyz") {
		t.Error("bcrypt accepted a secret longer than 72 bytes")
	}
}

func TestCheckFormat(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		"", "plain", "$sha256$", "$sha256$!!!", "$sha256$" + strings.Repeat("A", 10),
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$",
		"$argon2id$v=18$m=19456,t=2,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=19456,t=0,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
		"$2a$99$xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	} {
		if err := CheckFormat(bad); err == nil {
			t.Errorf("CheckFormat(%q) = nil", bad)
		}
	}
}

func newTestVerifier(t *testing.T) *Verifier {
	t.Helper()
	v, err := NewVerifier(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func BenchmarkVerifyGenerated(b *testing.B) {
	plain, hash, _ := Generate(nil)
	v, _ := NewVerifier(0, nil)
	for b.Loop() {
		v.Verify("c", hash, plain)
	}
}

func BenchmarkVerifyArgon2idCached(b *testing.B) {
	hash, _ := Hash("a-long-secret-value", nil)
	v, _ := NewVerifier(0, nil)
	v.Verify("c", hash, "a-long-secret-value")
	for b.Loop() {
		v.Verify("c", hash, "a-long-secret-value")
	}
}

func BenchmarkVerifyArgon2idUncached(b *testing.B) {
	hash, _ := Hash("a-long-secret-value", nil)
	for b.Loop() {
		compare(hash, "a-long-secret-value")
	}
}

func TestHashRefusesUnpresentableSecrets(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"secret ", " secret", "sec\tret", "secret\n"} {
		if _, err := Hash(s, nil); err == nil {
			t.Errorf("Hash(%q) accepted a secret the token endpoint would refuse", s)
		}
	}
}

func TestBcryptLongSecretCostsABcryptRun(t *testing.T) {
	t.Parallel()
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), 8)
	one := time.Hour
	for range 3 { // the fastest of three real runs: load only slows a run down
		start := time.Now()
		compare(string(hash), "pw")
		one = min(one, time.Since(start))
	}
	start := time.Now()
	if compare(string(hash), strings.Repeat("x", 100)) {
		t.Fatal("100-byte secret verified")
	}
	// This is a lower bound, not a speed target: a refusal without a bcrypt
	// run takes microseconds, one run at cost 8 takes milliseconds.
	if d := time.Since(start); d < one/20 {
		t.Errorf("long secret refused in %v, a bcrypt run takes %v: the refusal is a timing oracle", d, one)
	}
}
