package jwtverify

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Claims are the verified claims of an access token. A Claims value may be
// shared by every request that presents the same token: never modify it.
type Claims struct {
	Issuer    string
	Subject   string
	ClientID  string
	Audience  []string
	Scopes    []string
	Expiry    time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	ID        string // jti
	KeyID     string // kid of the key that verified the token

	payload []byte
	once    sync.Once
	all     map[string]any
	allErr  error
}

// wireClaims is the payload as sent. aud and scope have two shapes each:
// aud a string or an array (RFC 7519), scope a space separated string (RFC
// 9068) or, from some legacy issuers, an array.
type wireClaims struct {
	Iss      string         `json:"iss"`
	Sub      string         `json:"sub"`
	ClientID string         `json:"client_id"`
	Aud      jsontext.Value `json:"aud"`
	Scope    jsontext.Value `json:"scope"`
	Exp      *float64       `json:"exp"`
	Iat      *float64       `json:"iat"`
	Nbf      *float64       `json:"nbf"`
	Jti      string         `json:"jti"`
}

func decodeClaims(payload []byte) (*Claims, error) {
	var w wireClaims
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	c := &Claims{Issuer: w.Iss, Subject: w.Sub, ClientID: w.ClientID, ID: w.Jti, payload: payload}
	var err error
	if c.Audience, err = stringOrList(w.Aud, false); err != nil {
		return nil, fmt.Errorf("%w: aud: %v", ErrMalformed, err)
	}
	if c.Scopes, err = stringOrList(w.Scope, true); err != nil {
		return nil, fmt.Errorf("%w: scope: %v", ErrMalformed, err)
	}
	for _, d := range []struct {
		name string
		in   *float64
		out  *time.Time
	}{{"exp", w.Exp, &c.Expiry}, {"iat", w.Iat, &c.IssuedAt}, {"nbf", w.Nbf, &c.NotBefore}} {
		if d.in == nil {
			continue
		}
		// NumericDate (RFC 7519 §2): seconds, possibly fractional. Bound it
		// so a hostile value cannot overflow time arithmetic.
		if math.IsNaN(*d.in) || *d.in < 0 || *d.in > 1e11 {
			return nil, fmt.Errorf("%w: %s is not a date", ErrMalformed, d.name)
		}
		sec, frac := math.Modf(*d.in)
		*d.out = time.Unix(int64(sec), int64(frac*1e9))
	}
	return c, nil
}

// stringOrList reads a JSON string or array of strings. split splits a
// string on spaces (scope); otherwise a string is one item (aud).
func stringOrList(v jsontext.Value, split bool) ([]string, error) {
	if len(v) == 0 || v.Kind() == 'n' {
		return nil, nil
	}
	switch v.Kind() {
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, err
		}
		if s == "" {
			return nil, nil
		}
		if split {
			return strings.Fields(s), nil
		}
		return []string{s}, nil
	case '[':
		var list []string
		if err := json.Unmarshal(v, &list); err != nil {
			return nil, err
		}
		return list, nil
	}
	return nil, errors.New("want a string or an array of strings")
}

// All returns every claim of the token, decoded on first use.
func (c *Claims) All() (map[string]any, error) {
	c.once.Do(func() { c.allErr = json.Unmarshal(c.payload, &c.all) })
	return c.all, c.allErr
}

// Decode unmarshals the token's claims into v (a pointer to a struct with
// json tags, say), for custom claims.
func (c *Claims) Decode(v any) error { return json.Unmarshal(c.payload, v) }
