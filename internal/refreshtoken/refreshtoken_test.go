package refreshtoken_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/internal/refreshtoken"
)

var (
	key      = bytes.Repeat([]byte{7}, refreshtoken.KeySize)
	otherKey = bytes.Repeat([]byte{8}, refreshtoken.KeySize)
)

const family = "3f0c8a52-9b1e-4c6d-8f7a-2e5b1d9c4a60"

func mustFormat(t testing.TB, k []byte, fam string, gen uint64) string {
	t.Helper()
	tok, err := refreshtoken.Format(k, fam, gen)
	if err != nil {
		t.Fatalf("Format(%q, %d): %v", fam, gen, err)
	}
	return tok
}

func TestRoundTrip(t *testing.T) {
	for _, gen := range []uint64{1, 2, 9, 10, 3000, 1<<63 + 5, ^uint64(0)} {
		tok := mustFormat(t, key, family, gen)
		got, err := refreshtoken.Parse(key, tok)
		if err != nil || got != (refreshtoken.Token{Family: family, Generation: gen}) {
			t.Errorf("Parse(Format(%d)) = %+v, %v", gen, got, err)
		}
		if refreshtoken.IsLegacy(tok) {
			t.Errorf("IsLegacy(%q) = true", tok)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	good := mustFormat(t, key, family, 12)
	mac := good[strings.LastIndexByte(good, '.')+1:]
	tests := []struct {
		name, token string
		want        error
	}{
		{"empty", "", refreshtoken.ErrMalformed},
		{"no prefix", strings.TrimPrefix(good, "tgr_"), refreshtoken.ErrMalformed},
		{"other key", mustFormat(t, otherKey, family, 12), refreshtoken.ErrForged},
		{"generation changed", "tgr_" + family + ".13." + mac, refreshtoken.ErrForged},
		{"family changed", "tgr_" + family[:35] + "1.12." + mac, refreshtoken.ErrForged},
		{"leading zero", "tgr_" + family + ".012." + mac, refreshtoken.ErrMalformed},
		{"generation 0", "tgr_" + family + ".0." + mac, refreshtoken.ErrMalformed},
		{"generation overflow", "tgr_" + family + ".18446744073709551616." + mac, refreshtoken.ErrMalformed},
		{"signed generation", "tgr_" + family + ".+12." + mac, refreshtoken.ErrMalformed},
		{"mac padded", good + "=", refreshtoken.ErrMalformed},
		{"mac short", good[:len(good)-1], refreshtoken.ErrMalformed},
		{"mac std alphabet", strings.ReplaceAll(strings.ReplaceAll(good, "-", "+"), "_", "/"), refreshtoken.ErrMalformed},
		{"extra part", "tgr_" + family + ".1.12." + mac, refreshtoken.ErrMalformed},
		{"empty family", "tgr_.12." + mac, refreshtoken.ErrMalformed},
		{"family too long", "tgr_" + strings.Repeat("a", 129) + ".12." + mac, refreshtoken.ErrMalformed},
		{"family with space", "tgr_a b.12." + mac, refreshtoken.ErrMalformed},
		{"legacy", "tgr_" + strings.Repeat("A", 43), refreshtoken.ErrMalformed},
		{"an access token", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", refreshtoken.ErrMalformed},
	}
	for _, tt := range tests {
		if got, err := refreshtoken.Parse(key, tt.token); !errors.Is(err, tt.want) {
			t.Errorf("%s: Parse(%q) = %+v, %v; want %v", tt.name, tt.token, got, err, tt.want)
		}
	}
	if _, err := refreshtoken.Parse(key[:31], good); !errors.Is(err, refreshtoken.ErrForged) {
		t.Errorf("Parse with a short key: %v, want ErrForged", err)
	}
}

func TestFormatRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		key  []byte
		fam  string
		gen  uint64
	}{
		{"short key", key[:16], family, 1},
		{"generation 0", key, family, 0},
		{"dot in family", key, "a.b", 1},
		{"empty family", key, "", 1},
	} {
		if tok, err := refreshtoken.Format(tt.key, tt.fam, tt.gen); err == nil {
			t.Errorf("%s: Format = %q, want an error", tt.name, tok)
		}
	}
}

func TestIsLegacy(t *testing.T) {
	for tok, want := range map[string]bool{
		"tgr_" + strings.Repeat("A", 43):       true,
		"tgr_" + strings.Repeat("-", 43):       true,
		"tgr_" + strings.Repeat("A", 42):       false,
		"tgr_" + strings.Repeat("A", 44):       false,
		"tgr_" + strings.Repeat("A", 42) + "=": false,
		"tgc_" + strings.Repeat("A", 43):       false,
	} {
		if got := refreshtoken.IsLegacy(tok); got != want {
			t.Errorf("IsLegacy(%q) = %v, want %v", tok, got, want)
		}
	}
}

// FuzzParse: Parse never panics, and what it accepts is exactly what
// Format makes: one token per family and generation.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		mustFormat(f, key, family, 1), mustFormat(f, key, "a", ^uint64(0)), mustFormat(f, otherKey, family, 7),
		"", "tgr_", "tgr_..", "tgr_a.1.", "tgr_" + strings.Repeat("A", 43), "tgr_a.01." + strings.Repeat("A", 43),
		"tgr_ü.1." + strings.Repeat("A", 43), "tgr_a.1." + strings.Repeat("A", 43) + "\x00",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		tok, err := refreshtoken.Parse(key, token)
		if err != nil {
			if !errors.Is(err, refreshtoken.ErrMalformed) && !errors.Is(err, refreshtoken.ErrForged) {
				t.Fatalf("Parse(%q): unexpected error %v", token, err)
			}
			return
		}
		if again := mustFormat(t, key, tok.Family, tok.Generation); again != token {
			t.Fatalf("Parse(%q) accepted a token Format writes as %q", token, again)
		}
	})
}
