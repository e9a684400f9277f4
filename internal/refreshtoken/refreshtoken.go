// Package refreshtoken makes and reads tollgate's refresh tokens:
//
//	tgr_<family>.<generation>.<mac>
//
// family is the grant id, generation counts rotations from 1, and mac is
// base64url(HMAC-SHA256(key, family "." generation)) under a 32-byte
// server key. The MAC is what makes a token unguessable, so the store
// needs no row per token: one row per family, holding the live generation,
// tells the live token from every earlier one (storage.Family).
//
// Tokens from before families ("tgr_" and 43 base64url characters, the
// random token whose SHA-256 the store kept) are recognised by IsLegacy.
package refreshtoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Prefix starts every refresh token tollgate issues.
const Prefix = "tgr_"

// KeySize is the size of a MAC key.
const KeySize = 32

const (
	maxFamily = 128 // grant ids are UUIDs (36); room for a store's own
	macLen    = 43  // base64url of 32 bytes, unpadded
)

// Errors of Parse. Neither says which part was wrong: the client can do
// nothing about it, an attacker should learn nothing.
var (
	ErrMalformed = errors.New("refreshtoken: malformed token")
	ErrForged    = errors.New("refreshtoken: the token's MAC does not verify")
)

// Token is what a refresh token names.
type Token struct {
	Family     string
	Generation uint64
}

// Format makes the token of generation gen of family under key.
func Format(key []byte, family string, gen uint64) (string, error) {
	if len(key) != KeySize {
		return "", fmt.Errorf("refreshtoken: the key must be %d bytes", KeySize)
	}
	if !validFamily(family) || gen == 0 {
		return "", fmt.Errorf("refreshtoken: cannot name family %q generation %d", family, gen)
	}
	body := family + "." + strconv.FormatUint(gen, 10)
	return Prefix + body + "." + mac(key, body), nil
}

// Parse reads a token and verifies its MAC under key. Only the form Format
// makes is accepted (no leading zeros, no padding), so one family and
// generation have exactly one token.
func Parse(key []byte, token string) (Token, error) {
	rest, ok := strings.CutPrefix(token, Prefix)
	if !ok || len(rest) > maxFamily+1+20+1+macLen {
		return Token{}, ErrMalformed
	}
	family, rest, ok1 := strings.Cut(rest, ".")
	genText, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || !validFamily(family) || len(sig) != macLen || !validBase64URL(sig) {
		return Token{}, ErrMalformed
	}
	gen, ok := parseGeneration(genText)
	if !ok {
		return Token{}, ErrMalformed
	}
	if len(key) != KeySize || !hmac.Equal([]byte(sig), []byte(mac(key, family+"."+genText))) {
		return Token{}, ErrForged
	}
	return Token{Family: family, Generation: gen}, nil
}

// IsLegacy reports whether token has the form of a refresh token issued
// before families: the prefix and 43 base64url characters.
func IsLegacy(token string) bool {
	rest, ok := strings.CutPrefix(token, Prefix)
	return ok && len(rest) == macLen && validBase64URL(rest)
}

func mac(key []byte, body string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// parseGeneration accepts 1 to 2^64-1 in canonical decimal.
func parseGeneration(s string) (uint64, bool) {
	if s == "" || s[0] == '0' || len(s) > 20 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// validFamily: 1 to 128 characters of the base64url alphabet (UUIDs
// included): nothing that needs escaping, no dot.
func validFamily(s string) bool {
	return len(s) > 0 && len(s) <= maxFamily && validBase64URL(s)
}

func validBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
