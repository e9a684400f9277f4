package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Signing is done with the standard library rather than go-jose's signer:
// the protected header is the same for every token a key signs, so it is
// encoded once, in New, and a signature is one hash and one primitive. The
// go-jose signer re-marshals the header through reflection and copies the
// payload twice per token, which cost as much as a third of an ES256
// signature. go-jose still verifies what this writes, in the tests.

// es256Size is the length of r and of s in a JWS ES256 signature (RFC 7518
// §3.4): fixed width, big-endian, not ASN.1.
const es256Size = 32

// protectedHeader renders the JWS header of every token signed by a key,
// base64url-encoded and followed by the ".", ready to prefix a payload.
func protectedHeader(id, alg string) (string, error) {
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, id, AccessTokenType})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(h) + ".", nil
}

var b64 = base64.RawURLEncoding

// Sign returns the compact JWS of payload, with header alg, kid and typ
// "at+jwt".
func (k *Key) Sign(payload []byte) (string, error) {
	sigLen := k.sigLen()
	buf := make([]byte, 0, len(k.header)+b64.EncodedLen(len(payload))+1+b64.EncodedLen(sigLen))
	buf = append(buf, k.header...)
	buf = b64.AppendEncode(buf, payload)
	sig, err := k.signInput(buf)
	if err != nil {
		return "", fmt.Errorf("keys: signing with %q: %w", k.ID, err)
	}
	buf = append(buf, '.')
	return string(b64.AppendEncode(buf, sig)), nil
}

func (k *Key) sigLen() int {
	switch p := k.private.(type) {
	case *rsa.PrivateKey:
		return p.Size()
	case ed25519.PrivateKey:
		return ed25519.SignatureSize
	}
	return 2 * es256Size
}

// signInput signs the JWS signing input (header.payload) with the key's
// one algorithm; New made sure the key type matches it.
func (k *Key) signInput(input []byte) ([]byte, error) {
	switch p := k.private.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(p, input), nil
	case *rsa.PrivateKey:
		digest := sha256.Sum256(input)
		return rsa.SignPKCS1v15(nil, p, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256(input)
		der, err := ecdsa.SignASN1(rand.Reader, p, digest[:])
		if err != nil {
			return nil, err
		}
		return es256FromASN1(der)
	}
	return nil, fmt.Errorf("unsupported key type %T", k.private)
}

// es256FromASN1 turns the standard library's ASN.1 ECDSA signature into
// JWS's fixed-width r || s.
func es256FromASN1(der []byte) ([]byte, error) {
	var (
		seq, r, s cryptobyte.String
	)
	in := cryptobyte.String(der)
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1(&r, asn1.INTEGER) || !seq.ReadASN1(&s, asn1.INTEGER) || !seq.Empty() {
		return nil, errors.New("malformed ECDSA signature")
	}
	out := make([]byte, 2*es256Size)
	if !putFixed(out[:es256Size], r) || !putFixed(out[es256Size:], s) {
		return nil, errors.New("ECDSA signature value out of range")
	}
	return out, nil
}

// putFixed writes the non-negative DER INTEGER v right-aligned into dst,
// dropping its sign-padding zero byte.
func putFixed(dst []byte, v cryptobyte.String) bool {
	for len(v) > 0 && v[0] == 0 {
		v = v[1:]
	}
	if len(v) > len(dst) {
		return false
	}
	copy(dst[len(dst)-len(v):], v)
	return true
}
