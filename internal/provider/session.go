package provider

import (
	"maps"
	"time"

	"github.com/ory/fosite"
)

// Session is the fosite.Session of a tollgate token: who it is for and when
// its parts expire. It is plain data so stores can serialise it.
type Session struct {
	Subject   string                         `json:"sub"`
	IssuedAt  time.Time                      `json:"iat"`
	ExpiresAt map[fosite.TokenType]time.Time `json:"exp,omitempty"`
	Extra     map[string]any                 `json:"extra,omitempty"`
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
	out.Extra = maps.Clone(s.Extra)
	return &out
}
