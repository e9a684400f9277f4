// Package accesstoken builds and signs JWT access tokens per RFC 9068:
// header typ "at+jwt", alg and kid; claims iss, sub, aud, exp, iat, nbf,
// jti, client_id and scope (a space separated string), sub_type on
// machine tokens, grant_id for a token of a grant family (revoking the
// family revokes it), plus the host's own claims, which may not shadow
// those.
package accesstoken

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/tollgate-oauth/tollgate/internal/jsonappend"
	"github.com/tollgate-oauth/tollgate/internal/keys"
	"github.com/tollgate-oauth/tollgate/internal/scope"
)

// Reserved are the claims tollgate sets; custom claims may not use them.
var Reserved = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "iat": true, "nbf": true,
	"jti": true, "client_id": true, "scope": true, "grant_id": true,
	"sub_type": true,
}

// SubjectClient is the sub_type of a token whose sub is a client id: no
// user is involved (client_credentials). RFC 9068 §2.2 makes such a sub
// the client's identifier, which may equal some user's subject; the claim
// tells them apart, and a host can never set it (it is Reserved). Tokens
// for users carry no sub_type.
const SubjectClient = "client"

// Claims of one access token.
type Claims struct {
	Issuer  string
	Subject string
	// SubjectType is SubjectClient on machine tokens, "" (omitted) on
	// users' tokens.
	SubjectType string
	Audience    []string
	ClientID    string
	Scopes      []string
	IssuedAt    time.Time
	Expiry      time.Time
	ID          string         // jti
	GrantID     string         // the grant family; "" for client_credentials tokens
	Extra       map[string]any // host claims; names must not be Reserved
}

// MarshalJSON renders the registered claims first, then Extra.
func (c *Claims) MarshalJSON() ([]byte, error) {
	out := c.appendRegistered(make([]byte, 0, 384))
	if len(c.Extra) == 0 {
		return out, nil
	}
	for name := range c.Extra {
		if Reserved[name] {
			return nil, fmt.Errorf("accesstoken: custom claim %q would replace a claim tollgate sets", name)
		}
	}
	extra, err := json.Marshal(c.Extra)
	if err != nil {
		return nil, fmt.Errorf("accesstoken: custom claims: %w", err)
	}
	if len(extra) <= 2 { // "{}"
		return out, nil
	}
	out = append(out[:len(out)-1], ',')
	return append(out, extra[1:]...), nil
}

// appendRegistered appends the registered claims as the JSON object
// json.Marshal writes for the struct the tests keep as its reference,
// field for field and byte for byte (FuzzAppendRegistered holds it to that), without
// reflection: every token request writes one.
func (c *Claims) appendRegistered(b []byte) []byte {
	b = append(b, `{"iss":`...)
	b = jsonappend.String(b, c.Issuer)
	b = append(b, `,"sub":`...)
	b = jsonappend.String(b, c.Subject)
	if c.SubjectType != "" {
		b = append(b, `,"sub_type":`...)
		b = jsonappend.String(b, c.SubjectType)
	}
	b = append(b, `,"aud":`...)
	if len(c.Audience) == 1 {
		b = jsonappend.String(b, c.Audience[0])
	} else {
		b = jsonappend.Strings(b, c.Audience)
	}
	b = append(b, `,"exp":`...)
	b = jsonappend.Int(b, c.Expiry.Unix())
	b = append(b, `,"iat":`...)
	b = jsonappend.Int(b, c.IssuedAt.Unix())
	b = append(b, `,"nbf":`...)
	b = jsonappend.Int(b, c.IssuedAt.Unix())
	b = append(b, `,"jti":`...)
	b = jsonappend.String(b, c.ID)
	b = append(b, `,"client_id":`...)
	b = jsonappend.String(b, c.ClientID)
	b = append(b, `,"scope":`...)
	b = jsonappend.String(b, scope.Join(c.Scopes))
	if c.GrantID != "" {
		b = append(b, `,"grant_id":`...)
		b = jsonappend.String(b, c.GrantID)
	}
	return append(b, '}')
}

// Mint signs the claims with key.
func Mint(key *keys.Key, c *Claims) (string, error) {
	payload, err := c.MarshalJSON()
	if err != nil {
		return "", err
	}
	return key.Sign(payload)
}

// NewID returns a random jti: 128 bits, base64url. r defaults to
// crypto/rand.
func NewID(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("accesstoken: reading entropy: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
