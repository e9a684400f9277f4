// Package jwtverify verifies JWT access tokens per RFC 8725 and RFC 9068:
// an explicit allow-list of asymmetric algorithms, the key chosen by kid
// from a trusted set and bound to one algorithm, typ "at+jwt", exact iss,
// aud containing this resource, exp/nbf/iat with a bounded leeway, and a
// bounded size. Header and claims are decoded strictly: a duplicated member
// name, invalid UTF-8 or a non-canonical base64url segment is refused, so
// two parsers can never read one token two ways.
//
// Signatures are checked with the standard library's primitives
// (signature.go); JSON is read with github.com/go-json-experiment/json's
// token decoder (the encoding/json/v2 prototype), which refuses duplicate
// names and invalid UTF-8.
package jwtverify

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/tollgate-oauth/tollgate/internal/issuer"
)

// Asymmetric lists the algorithms a policy may allow. HMAC and "none" are
// absent on purpose: an access token verified with a public key must never
// be accepted under a symmetric algorithm (RFC 8725 §2.1).
var Asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// DefaultAlgorithms are the ones tollgate's server signs with.
var DefaultAlgorithms = []string{"RS256", "ES256", "EdDSA"}

// Key is a trusted public key bound to one algorithm.
type Key struct {
	Public crypto.PublicKey
	Alg    string
}

// KeyFunc returns the key for a kid, or an error wrapping ErrUnknownKey.
type KeyFunc func(ctx context.Context, kid string) (Key, error)

// Policy says what a valid token is.
type Policy struct {
	Issuer     string        // exact match with iss (RFC 9068 §4)
	Audience   string        // must be in aud; "" skips the check (introspection only)
	Algorithms []string      // allowed, subset of Asymmetric
	Leeway     time.Duration // for exp, nbf and iat
	// AllowUntyped accepts legacy tokens: typ absent or "JWT" instead of
	// "at+jwt", and no sub or client_id.
	AllowUntyped bool
	MaxBytes     int // the whole compact token
}

// header is the protected JOSE header.
type header struct {
	Alg, Kid, Typ string
	Crit          []string
}

// Verify checks token against p with keys at time now and returns its
// claims. Every failure wraps one of the Err values below.
func Verify(ctx context.Context, token string, keys KeyFunc, p *Policy, now time.Time) (*Claims, error) {
	if p.MaxBytes > 0 && len(token) > p.MaxBytes {
		return nil, fmt.Errorf("%w: token is longer than %d bytes", ErrMalformed, p.MaxBytes)
	}
	first := strings.IndexByte(token, '.')
	last := strings.LastIndexByte(token, '.')
	if first <= 0 || last == first || last == len(token)-1 || strings.IndexByte(token[first+1:last], '.') >= 0 {
		return nil, fmt.Errorf("%w: not a compact JWS of three segments", ErrMalformed)
	}
	h, err := decodeHeader(token[:first])
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if err := p.checkHeader(h); err != nil {
		return nil, err
	}
	key, err := keys(ctx, h.Kid)
	if err != nil {
		return nil, err
	}
	if key.Alg != h.Alg {
		return nil, fmt.Errorf("%w: key %q is for %s, token says %s", ErrAlgorithm, h.Kid, key.Alg, h.Alg)
	}
	sig, err := decodeBase64(token[last+1:])
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	if err := verifySignature(h.Alg, key.Public, []byte(token[:last]), sig); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	payload, err := decodeBase64(token[first+1 : last])
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	c, err := decodeClaims(payload)
	if err != nil {
		return nil, err
	}
	if err := p.checkClaims(c, now); err != nil {
		return nil, err
	}
	c.KeyID = h.Kid
	return c, nil
}

func (p *Policy) checkHeader(h *header) error {
	if !contains(p.Algorithms, h.Alg) {
		return fmt.Errorf("%w: algorithm %q is not allowed", ErrAlgorithm, h.Alg)
	}
	if len(h.Crit) > 0 {
		return fmt.Errorf("%w: critical header parameters %q are not understood", ErrMalformed, h.Crit)
	}
	// RFC 9068 §4: "at+jwt" or its full media type, compared
	// case-insensitively.
	typ := strings.ToLower(h.Typ)
	if typ == "at+jwt" || typ == "application/at+jwt" {
		return nil
	}
	if p.AllowUntyped && (typ == "" || typ == "jwt") {
		return nil
	}
	return fmt.Errorf("%w: typ %q is not at+jwt", ErrType, h.Typ)
}

func (p *Policy) checkClaims(c *Claims, now time.Time) error {
	switch {
	case c.Issuer != p.Issuer:
		// Both values, for the host (the client sees Reason only).
		return fmt.Errorf("%w: %s", ErrIssuer, issuer.Mismatch(c.Issuer, p.Issuer))
	case p.Audience != "" && !contains(c.Audience, p.Audience):
		return fmt.Errorf("%w: aud does not contain %q", ErrAudience, p.Audience)
	case c.Expiry.IsZero():
		return fmt.Errorf("%w: exp is missing", ErrMalformed)
	case !now.Before(c.Expiry.Add(p.Leeway)):
		return fmt.Errorf("%w: expired at %s", ErrExpired, c.Expiry.UTC().Format(time.RFC3339))
	case !c.NotBefore.IsZero() && now.Add(p.Leeway).Before(c.NotBefore):
		return fmt.Errorf("%w: not valid before %s", ErrNotYetValid, c.NotBefore.UTC().Format(time.RFC3339))
	case !c.IssuedAt.IsZero() && now.Add(p.Leeway).Before(c.IssuedAt):
		return fmt.Errorf("%w: issued in the future", ErrNotYetValid)
	case !p.AllowUntyped && (c.Subject == "" || c.ClientID == ""):
		return fmt.Errorf("%w: sub and client_id are required", ErrMalformed)
	}
	return nil
}

// decodeHeader reads the protected header, like decodeClaims.
func decodeHeader(seg string) (*header, error) {
	raw, err := decodeBase64(seg)
	if err != nil {
		return nil, err
	}
	h := &header{}
	err = walkObject(raw, func(d *jsontext.Decoder, name string) error {
		switch name {
		case "alg":
			return readString(d, &h.Alg)
		case "kid":
			return readString(d, &h.Kid)
		case "typ":
			return readString(d, &h.Typ)
		case "crit":
			return readList(d, &h.Crit, false)
		}
		return d.SkipValue()
	})
	return h, err
}

var strictBase64 = base64.RawURLEncoding.Strict()

func decodeBase64(seg string) ([]byte, error) {
	raw, err := strictBase64.DecodeString(seg)
	if err != nil {
		return nil, errors.New("not canonical base64url")
	}
	return raw, nil
}

// Reason returns a short, client-safe description of a Verify error.
func Reason(err error) string {
	for _, e := range []error{ErrMalformed, ErrAlgorithm, ErrType, ErrUnknownKey, ErrSignature, ErrIssuer,
		ErrAudience, ErrExpired, ErrNotYetValid, ErrKeysUnavailable} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "the token is invalid"
}

// Failures. Each is safe to show a client; the wrapped detail is for logs.
var (
	ErrMalformed       = errors.New("the token is malformed")
	ErrAlgorithm       = errors.New("the token's algorithm is not accepted")
	ErrType            = errors.New("the token is not an access token (typ)")
	ErrUnknownKey      = errors.New("the token is signed by an unknown key")
	ErrSignature       = errors.New("the token's signature is invalid")
	ErrIssuer          = errors.New("the token is from another issuer")
	ErrAudience        = errors.New("the token is for another audience")
	ErrExpired         = errors.New("the token has expired")
	ErrNotYetValid     = errors.New("the token is not valid yet")
	ErrKeysUnavailable = errors.New("the issuer's keys are not available")
)

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
