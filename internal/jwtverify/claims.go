package jwtverify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
	GrantID   string // grant_id: the grant family of a tollgate token; "" for client_credentials
	// SubjectType is sub_type: "client" when sub is a client id (a
	// client_credentials token), "" when sub is a user.
	SubjectType string
	KeyID       string // kid of the key that verified the token

	payload []byte
	once    sync.Once
	all     map[string]any
	allErr  error
}

// decodeClaims reads the payload in one pass over its tokens, without
// reflection: this runs for every first-seen token. aud and scope have two
// shapes each (aud a string or an array, RFC 7519; scope a space separated
// string, RFC 9068, or from some legacy issuers an array). The decoder
// refuses duplicate member names and invalid UTF-8; unknown members are
// skipped (and kept in payload for All and Decode).
func decodeClaims(payload []byte) (*Claims, error) {
	c := &Claims{payload: payload}
	if err := walkObject(payload, func(d *jsontext.Decoder, name string) error {
		switch name {
		case "iss":
			return readString(d, &c.Issuer)
		case "sub":
			return readString(d, &c.Subject)
		case "client_id":
			return readString(d, &c.ClientID)
		case "jti":
			return readString(d, &c.ID)
		case "grant_id":
			return readString(d, &c.GrantID)
		case "sub_type":
			return readString(d, &c.SubjectType)
		case "aud":
			return readList(d, &c.Audience, false)
		case "scope":
			return readList(d, &c.Scopes, true)
		case "exp":
			return readDate(d, &c.Expiry)
		case "iat":
			return readDate(d, &c.IssuedAt)
		case "nbf":
			return readDate(d, &c.NotBefore)
		}
		return d.SkipValue()
	}); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	return c, nil
}

var decoders = sync.Pool{New: func() any { return new(jsontext.Decoder) }}

// walkObject calls member for each member of the JSON object in data, with
// the decoder positioned at the member's value, which member must consume.
func walkObject(data []byte, member func(d *jsontext.Decoder, name string) error) error {
	d := decoders.Get().(*jsontext.Decoder)
	defer decoders.Put(d)
	d.Reset(bytes.NewReader(data))
	tok, err := d.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != '{' {
		return errors.New("not a JSON object")
	}
	for d.PeekKind() != '}' {
		tok, err := d.ReadToken()
		if err != nil {
			return err
		}
		if err := member(d, tok.String()); err != nil {
			return err
		}
	}
	if _, err := d.ReadToken(); err != nil { // '}'
		return err
	}
	if _, err := d.ReadToken(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON object")
	}
	return nil
}

func readString(d *jsontext.Decoder, out *string) error {
	tok, err := d.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case '"':
		*out = tok.String()
	case 'n':
	default:
		return errors.New("want a string")
	}
	return nil
}

// readDate reads an RFC 7519 NumericDate: seconds, possibly fractional.
func readDate(d *jsontext.Decoder, out *time.Time) error {
	tok, err := d.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case 'n':
		return nil
	case '0':
	default:
		return errors.New("a date must be a number")
	}
	f, err := tok.Float()
	// Bounded so a hostile value cannot overflow time arithmetic.
	if err != nil || math.IsNaN(f) || f < 0 || f > 1e11 {
		return errors.New("a date must be a number of seconds after 1970")
	}
	sec, frac := math.Modf(f)
	*out = time.Unix(int64(sec), int64(frac*1e9))
	return nil
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

// All returns every claim of the token, decoded on first use.
func (c *Claims) All() (map[string]any, error) {
	c.once.Do(func() { c.allErr = json.Unmarshal(c.payload, &c.all) })
	return c.all, c.allErr
}

// Decode unmarshals the token's claims into v (a pointer to a struct with
// json tags, say), for custom claims.
func (c *Claims) Decode(v any) error { return json.Unmarshal(c.payload, v) }
