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
// 9068) or, from some legacy issuers, an array. Both, and the dates, decode
// straight from the token stream: no second parse, no allocation per date.
type wireClaims struct {
	Iss      string      `json:"iss"`
	Sub      string      `json:"sub"`
	ClientID string      `json:"client_id"`
	Aud      stringList  `json:"aud"`
	Scope    scopeList   `json:"scope"`
	Exp      numericDate `json:"exp"`
	Iat      numericDate `json:"iat"`
	Nbf      numericDate `json:"nbf"`
	Jti      string      `json:"jti"`
}

func decodeClaims(payload []byte) (*Claims, error) {
	var w wireClaims
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	return &Claims{
		Issuer: w.Iss, Subject: w.Sub, ClientID: w.ClientID, ID: w.Jti, payload: payload,
		Audience: w.Aud, Scopes: w.Scope,
		Expiry: w.Exp.t, IssuedAt: w.Iat.t, NotBefore: w.Nbf.t,
	}, nil
}

// stringList reads a string (one item) or an array of strings.
type stringList []string

func (l *stringList) UnmarshalJSONFrom(d *jsontext.Decoder) error {
	return readList(d, (*[]string)(l), false)
}

// scopeList reads a space separated string or an array of strings.
type scopeList []string

func (l *scopeList) UnmarshalJSONFrom(d *jsontext.Decoder) error {
	return readList(d, (*[]string)(l), true)
}

func readList(d *jsontext.Decoder, out *[]string, split bool) error {
	tok, err := d.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case 'n':
		*out = nil
	case '"':
		s := tok.String()
		switch {
		case s == "":
			*out = nil
		case split:
			*out = strings.Fields(s)
		default:
			*out = []string{s}
		}
	case '[':
		list := []string{}
		for d.PeekKind() != ']' {
			tok, err := d.ReadToken()
			if err != nil {
				return err
			}
			if tok.Kind() != '"' {
				return errors.New("want an array of strings")
			}
			list = append(list, tok.String())
		}
		if _, err := d.ReadToken(); err != nil {
			return err
		}
		*out = list
	default:
		return errors.New("want a string or an array of strings")
	}
	return nil
}

// numericDate is an RFC 7519 NumericDate: seconds, possibly fractional.
type numericDate struct{ t time.Time }

func (n *numericDate) UnmarshalJSONFrom(d *jsontext.Decoder) error {
	tok, err := d.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() == 'n' {
		return nil
	}
	if tok.Kind() != '0' {
		return errors.New("a date must be a number")
	}
	f, err := tok.Float()
	// Bounded so a hostile value cannot overflow time arithmetic.
	if err != nil || math.IsNaN(f) || f < 0 || f > 1e11 {
		return errors.New("a date must be a number of seconds after 1970")
	}
	sec, frac := math.Modf(f)
	n.t = time.Unix(int64(sec), int64(frac*1e9))
	return nil
}

// All returns every claim of the token, decoded on first use.
func (c *Claims) All() (map[string]any, error) {
	c.once.Do(func() { c.allErr = json.Unmarshal(c.payload, &c.all) })
	return c.all, c.allErr
}

// Decode unmarshals the token's claims into v (a pointer to a struct with
// json tags, say), for custom claims.
func (c *Claims) Decode(v any) error { return json.Unmarshal(c.payload, v) }
