// Package accesstoken builds and signs JWT access tokens per RFC 9068:
// header typ "at+jwt", alg and kid; claims iss, sub, aud, exp, iat, nbf,
// jti, client_id and scope (a space separated string), sub_type on
// machine tokens, grant_id for a token of a grant family (revoking the
// family revokes it), plus the host's own claims, which may not shadow
// those.
package accesstoken

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"time"

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

// registered is the wire form of the claims tollgate owns. aud is a string
// for one audience (the common case, as RFC 9068's examples have it) and an
// array for several.
type registered struct {
	Issuer      string `json:"iss"`
	Subject     string `json:"sub"`
	SubjectType string `json:"sub_type,omitempty"`
	Audience    any    `json:"aud"`
	Expiry      int64  `json:"exp"`
	IssuedAt    int64  `json:"iat"`
	NotBefore   int64  `json:"nbf"`
	ID          string `json:"jti"`
	ClientID    string `json:"client_id"`
	Scope       string `json:"scope"`
	GrantID     string `json:"grant_id,omitempty"`
}

// MarshalJSON renders the registered claims first, then Extra.
func (c *Claims) MarshalJSON() ([]byte, error) {
	var aud any = c.Audience
	if len(c.Audience) == 1 {
		aud = c.Audience[0]
	}
	out, err := json.Marshal(registered{
		Issuer: c.Issuer, Subject: c.Subject, SubjectType: c.SubjectType, Audience: aud,
		Expiry: c.Expiry.Unix(), IssuedAt: c.IssuedAt.Unix(), NotBefore: c.IssuedAt.Unix(),
		ID: c.ID, ClientID: c.ClientID, Scope: scope.Join(c.Scopes), GrantID: c.GrantID,
	})
	if err != nil || len(c.Extra) == 0 {
		return out, err
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
	var b bytes.Buffer
	b.Grow(len(out) + len(extra))
	b.Write(out[:len(out)-1])
	b.WriteByte(',')
	b.Write(extra[1:])
	return b.Bytes(), nil
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
