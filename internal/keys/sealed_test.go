package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

func TestSealRoundTrip(t *testing.T) {
	t.Parallel()
	kek := make([]byte, 32)
	rand.Read(kek)
	pem := []byte("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n")
	sealed, err := Seal(pem, kek, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("PRIVATE KEY")) {
		t.Fatal("sealed key still holds the PEM")
	}
	got, err := Unseal(sealed, kek, "k1")
	if err != nil || !bytes.Equal(got, pem) {
		t.Fatalf("Unseal = %q, %v", got, err)
	}
	other := make([]byte, 32)
	rand.Read(other)
	for name, fn := range map[string]func() ([]byte, error){
		"wrong kek":  func() ([]byte, error) { return Unseal(sealed, other, "k1") },
		"wrong kid":  func() ([]byte, error) { return Unseal(sealed, kek, "k2") },
		"no kek":     func() ([]byte, error) { return Unseal(sealed, nil, "k1") },
		"plain+kek":  func() ([]byte, error) { return Unseal(pem, kek, "k1") },
		"truncated":  func() ([]byte, error) { return Unseal(sealed[:len(sealedPrefix)+4], kek, "k1") },
		"bad base64": func() ([]byte, error) { return Unseal(append(bytes.Clone(sealedPrefix), '!'), kek, "k1") },
	} {
		if _, err := fn(); err == nil {
			t.Errorf("%s: Unseal succeeded", name)
		}
	}
	if got, err := Unseal(pem, nil, "k1"); err != nil || !bytes.Equal(got, pem) {
		t.Errorf("plain PEM without kek = %q, %v", got, err)
	}
	if got, _ := Seal(pem, nil, "k1"); !bytes.Equal(got, pem) {
		t.Error("Seal without kek changed the PEM")
	}
	if !IsSealed(sealed) || IsSealed(pem) || IsSealed(nil) {
		t.Errorf("IsSealed: sealed %v, plain %v, empty %v; want true, false, false", IsSealed(sealed), IsSealed(pem), IsSealed(nil))
	}
}

func TestParseSealingKey(t *testing.T) {
	t.Parallel()
	k := make([]byte, 32)
	rand.Read(k)
	for _, s := range []string{base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k)} {
		if got, err := ParseSealingKey(s); err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseSealingKey(%q) = %v", s, err)
		}
	}
	for _, bad := range []string{"", "short", base64.StdEncoding.EncodeToString(k[:16]), strings.Repeat("!", 44)} {
		if _, err := ParseSealingKey(bad); err == nil {
			t.Errorf("ParseSealingKey(%q) accepted", bad)
		}
	}
}
