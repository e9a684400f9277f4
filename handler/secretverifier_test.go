package handler_test

import (
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/tollgate-oauth/tollgate/handler"
)

// TestSecretVerifier: the right secret verifies and a wrong one does not,
// for each hash format; every failure costs exactly one slow hash, an
// unknown id's included; a slow secret that verified once verifies again
// with none. The slow hashes are counted through the test hook, not timed.
func TestSecretVerifier(t *testing.T) {
	t.Parallel()
	slowHash, err := handler.HashClientSecret("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	genPlain, genHash, err := handler.GenerateClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte("from-another-system"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := handler.NewSecretVerifier()
	if err != nil {
		t.Fatal(err)
	}
	var slow atomic.Int64
	handler.SetVerifierHook(sv, func(handler.SlowHash) { slow.Add(1) })

	for _, st := range []struct {
		name           string
		id, hash, pass string
		want           bool
		wantSlow       int64
	}{
		{"argon2id, right", "alice", slowHash, "correct horse battery staple", true, 1},
		{"argon2id, right again: no slow hash", "alice", slowHash, "correct horse battery staple", true, 0},
		{"argon2id, wrong", "alice", slowHash, "correct horse battery stable", false, 1},
		{"argon2id, empty", "alice", slowHash, "", false, 1},
		{"argon2id, another id's hash", "mallory", slowHash, "wrong", false, 1},
		{"unknown id", "nobody", "", "anything", false, 1},
		{"unknown id, empty secret", "nobody", "", "", false, 1},
		{"generated, right: no slow hash", "svc", genHash, genPlain, true, 0},
		{"generated, wrong: a slow hash all the same", "svc", genHash, genPlain + "x", false, 1},
		{"bcrypt, right", "legacy", string(bcryptHash), "from-another-system", true, 1},
		{"bcrypt, wrong", "legacy", string(bcryptHash), "from-another-systen", false, 1},
	} {
		slow.Store(0)
		if got := sv.Verify(st.id, st.hash, st.pass); got != st.want {
			t.Errorf("%s: Verify = %v, want %v", st.name, got, st.want)
		}
		if n := slow.Load(); n != st.wantSlow {
			t.Errorf("%s: %d slow hashes, want %d", st.name, n, st.wantSlow)
		}
	}
}

// TestCheckSecretHash takes every format the verifier can check and
// refuses what it cannot, as a config loader would meet them.
func TestCheckSecretHash(t *testing.T) {
	t.Parallel()
	slow, _ := handler.HashClientSecret("a-long-secret-value")
	_, fast, _ := handler.GenerateClientSecret()
	bc, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	for _, tt := range []struct {
		name, hash string
		ok         bool
	}{
		{"argon2id", slow, true},
		{"sha256 of a generated secret", fast, true},
		{"bcrypt", string(bc), true},
		{"plain text", "a-long-secret-value", false},
		{"empty", "", false},
		{"truncated argon2id", slow[:len(slow)-10], false},
		{"sha256 of the wrong length", fast[:len(fast)-4], false},
		{"argon2i, not argon2id", strings.Replace(slow, "$argon2id$", "$argon2i$", 1), false},
		{"bcrypt prefix only", "$2b$", false},
	} {
		err := handler.CheckSecretHash(tt.hash)
		if (err == nil) != tt.ok {
			t.Errorf("%s: CheckSecretHash = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), "a-long-secret-value") {
			t.Errorf("%s: the error shows the value: %v", tt.name, err)
		}
	}
}
