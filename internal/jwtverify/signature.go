package jwtverify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"math/big"
)

// verifySignature checks a JWS signature (RFC 7518 §3) over the signing
// input with the standard library's primitives. It is the whole of JWS
// verification once the header has been read and the key chosen; doing it
// here rather than through a JOSE library saves a second parse of the
// header on every first-seen token (the middleware's budget is 1.2× the
// bare signature check).
func verifySignature(alg string, pub crypto.PublicKey, input, sig []byte) error {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an RSA key, have %T", alg, pub)
		}
		h := shaFor(alg[2:])
		sum := digest(h, input)
		if alg[0] == 'P' {
			// RFC 7518 §3.5: the salt is as long as the hash.
			return rsa.VerifyPSS(k, h, sum, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
		}
		return rsa.VerifyPKCS1v15(k, h, sum, sig)
	case "ES256", "ES384", "ES512":
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an ECDSA key, have %T", alg, pub)
		}
		curve, size := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg],
			map[string]int{"ES256": 32, "ES384": 48, "ES512": 66}[alg]
		if k.Curve != curve {
			return fmt.Errorf("%s needs a %s key", alg, curve.Params().Name)
		}
		// RFC 7518 §3.4: R and S as fixed-length big-endian octets,
		// concatenated; not ASN.1.
		if len(sig) != 2*size {
			return errors.New("ECDSA signature has the wrong length")
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, digest(shaFor(alg[2:]), input), r, s) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case "EdDSA":
		k, ok := pub.(ed25519.PublicKey)
		if !ok {
			return fmt.Errorf("EdDSA needs an Ed25519 key, have %T", pub)
		}
		if !ed25519.Verify(k, input, sig) {
			return errors.New("Ed25519 signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("algorithm %q is not supported", alg)
}

func shaFor(bits string) crypto.Hash {
	switch bits {
	case "384":
		return crypto.SHA384
	case "512":
		return crypto.SHA512
	}
	return crypto.SHA256
}

// digest hashes without a heap-allocated hash.Hash: this runs for every
// first-seen token.
func digest(h crypto.Hash, input []byte) []byte {
	switch h {
	case crypto.SHA384:
		sum := sha512.Sum384(input)
		return sum[:]
	case crypto.SHA512:
		sum := sha512.Sum512(input)
		return sum[:]
	}
	sum := sha256.Sum256(input)
	return sum[:]
}
