package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// The demo's sign-ins are kept server side: the session cookie holds a
// random id, and the server the user and expiry it stands for, so signing
// out (or a cap on a user's sessions) ends a session for good: a copy of
// the cookie is worth nothing afterwards. The login form's CSRF token is
// an HMAC under a key drawn at start. Restarting the server signs
// everybody out, which a demo can afford; so does reaching another
// instance (README: several instances).
const (
	sessionCookie = "tollgate_session"
	csrfCookie    = "tollgate_csrf"
	sessionTTL    = 8 * time.Hour
	// csrfTTL bounds how long a form can sit open before submission.
	csrfTTL = time.Hour
	// maxSessionsPerUser bounds the table: each sign-in adds a session,
	// and signing in again with a known password is cheap, so without a
	// cap one user could fill the memory. Past it the oldest ends.
	maxSessionsPerUser = 32
)

// b64 is strict: a value has one encoding, so a cookie cannot be varied
// in its unused bits and still match.
var b64 = base64.RawURLEncoding.Strict()

type signer struct {
	key    [32]byte // signs CSRF tokens
	secure bool     // the issuer is https: cookies travel over TLS only
	now    func() time.Time

	mu sync.Mutex
	// sessions are keyed by the SHA-256 of the cookie's id, so the table
	// is never searched by the secret itself.
	sessions map[[32]byte]session
}

type session struct {
	user         string
	created, exp time.Time
}

func newSigner(secure bool, now func() time.Time) (*signer, error) {
	s := &signer{secure: secure, now: now, sessions: map[[32]byte]session{}}
	if _, err := rand.Read(s.key[:]); err != nil {
		return nil, err
	}
	return s, nil
}

// mac signs parts under label. Parts hold no NUL (usernames are checked
// for control characters), so the NUL separators keep them apart.
func (s *signer) mac(label string, parts ...string) []byte {
	m := hmac.New(sha256.New, s.key[:])
	m.Write([]byte(label))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// cookie is HttpOnly (no script reads it) and SameSite=Lax: sent when a
// client application navigates the browser to the authorization endpoint,
// withheld from cross-site POSTs. Path is / for both cookies: the session
// is read at the authorization endpoint, and the CSRF token guards every
// form (sign in, sign out, and whatever page comes next).
func (s *signer) cookie(name, value string, ttl time.Duration) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: int(ttl / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	}
}

// sessionKey is the table key for a cookie value; ok is false for a value
// that is not one the server could have made.
func sessionKey(value string) (key [32]byte, ok bool) {
	id, err := b64.DecodeString(value)
	if err != nil || len(id) != 32 {
		return key, false
	}
	return sha256.Sum256(id), true
}

// startSession signs user in for sessionTTL with a new random id, ending
// the session r's browser had, if any. Expired sessions are dropped here,
// and the user's oldest one past maxSessionsPerUser.
func (s *signer) startSession(w http.ResponseWriter, r *http.Request, user string) error {
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, err := r.Cookie(sessionCookie); err == nil {
		if k, ok := sessionKey(c.Value); ok {
			delete(s.sessions, k)
		}
	}
	var oldest [32]byte
	count := 0
	for k, v := range s.sessions {
		switch {
		case !now.Before(v.exp):
			delete(s.sessions, k)
		case v.user == user:
			if count == 0 || v.created.Before(s.sessions[oldest].created) {
				oldest = k
			}
			count++
		}
	}
	if count >= maxSessionsPerUser {
		delete(s.sessions, oldest)
	}
	s.sessions[sha256.Sum256(id)] = session{user: user, created: now, exp: now.Add(sessionTTL)}
	http.SetCookie(w, s.cookie(sessionCookie, b64.EncodeToString(id), sessionTTL))
	return nil
}

// session returns the signed-in user. A missing, malformed, unknown,
// ended or expired session all mean the same: nobody is signed in. The
// expiry is the server's, not left to the browser's Max-Age.
func (s *signer) session(r *http.Request) (string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", false
	}
	k, ok := sessionKey(c.Value)
	if !ok {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.sessions[k]
	if !ok || !s.now().Before(v.exp) {
		return "", false
	}
	return v.user, true
}

// endSession signs r's browser out: the session is forgotten by the
// server, so the cookie no longer works even if a copy of it is replayed,
// and the browser is told to drop it.
func (s *signer) endSession(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if k, ok := sessionKey(c.Value); ok {
			s.mu.Lock()
			delete(s.sessions, k)
			s.mu.Unlock()
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// csrfNonce returns the browser's CSRF nonce, setting a new cookie when it
// has none yet. An existing one is kept, so two open login tabs both work.
func (s *signer) csrfNonce(w http.ResponseWriter, r *http.Request) (string, error) {
	if c, err := r.Cookie(csrfCookie); err == nil {
		if b, err := b64.DecodeString(c.Value); err == nil && len(b) == 32 {
			return c.Value, nil
		}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	nonce := b64.EncodeToString(b)
	http.SetCookie(w, s.cookie(csrfCookie, nonce, csrfTTL))
	return nonce, nil
}

// csrfFor is csrfNonce for a handler about to render a form: on failure
// it logs (as where) and answers 500 itself.
func (s *signer) csrfFor(w http.ResponseWriter, r *http.Request, log *slog.Logger, where string) (nonce string, ok bool) {
	nonce, err := s.csrfNonce(w, r)
	if err != nil {
		log.Error(where+": drawing a CSRF nonce", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return "", false
	}
	return nonce, true
}

// csrfToken is the form field that goes with the cookie's nonce: a signed
// double-submit token. A page on another site can neither read the cookie
// nor compute the token for it, so it cannot post the form.
func (s *signer) csrfToken(nonce string) string { return b64.EncodeToString(s.mac("csrf", nonce)) }

// checkCSRF reports whether the posted token matches the CSRF cookie, and
// returns the cookie's nonce to render the form again with.
func (s *signer) checkCSRF(r *http.Request) (nonce string, ok bool) {
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	want := s.csrfToken(c.Value)
	got := r.PostForm.Get(csrfField)
	return c.Value, subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
