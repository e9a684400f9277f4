package provider

import (
	"maps"
	"time"

	"github.com/ory/fosite"
)

// Session is the fosite.Session of a tollgate grant: who it is for, when
// its parts expire and claims a grant added. It is plain data: stores keep
// it as JSON.
type Session struct {
	Subject string `json:"sub"`
	// IssuedAt is when the current access token was issued.
	IssuedAt  time.Time                      `json:"iat"`
	ExpiresAt map[fosite.TokenType]time.Time `json:"exp,omitempty"`
	// Claims are added to every access token of the grant (from an
	// extension grant).
	Claims map[string]any `json:"claims,omitempty"`
	// issueRefresh asks an extension grant's response for a refresh token.
	issueRefresh bool
	// refreshIssued: the code grant's response includes a refresh token
	// (its family starts at generation 1).
	refreshIssued bool
	// refresh is the family a refresh request continues, read once.
	refresh *presented
	// jti and grantID are the last access token's, for the audit record.
	jti, grantID string
}

var _ fosite.Session = (*Session)(nil)

func (s *Session) SetExpiresAt(key fosite.TokenType, exp time.Time) {
	if s.ExpiresAt == nil {
		s.ExpiresAt = make(map[fosite.TokenType]time.Time)
	}
	s.ExpiresAt[key] = exp
}

func (s *Session) GetExpiresAt(key fosite.TokenType) time.Time { return s.ExpiresAt[key] }
func (s *Session) GetUsername() string                         { return "" }
func (s *Session) GetSubject() string                          { return s.Subject }

func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	out := *s
	out.ExpiresAt = maps.Clone(s.ExpiresAt)
	out.Claims = maps.Clone(s.Claims)
	return &out
}
