package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The demo's cookies carry no server-side state: one HMAC key, drawn at
// start, signs both the session (who, until when) and the login form's CSRF
// token, each under its own label so one can never pass for the other.
// Restarting the server signs everybody out, which a demo can afford.
const (
	sessionCookie = "tollgate_session"
	csrfCookie    = "tollgate_csrf"
	sessionTTL    = 8 * time.Hour
	// csrfTTL bounds how long a login form can sit open before submission.
	csrfTTL = time.Hour
)

// b64 is strict: a value has one encoding, so a cookie cannot be varied
// in its unused bits and still verify.
var b64 = base64.RawURLEncoding.Strict()

type signer struct {
	key    [32]byte
	secure bool // the issuer is https: cookies travel over TLS only
	now    func() time.Time
}

func newSigner(secure bool, now func() time.Time) (*signer, error) {
	s := &signer{secure: secure, now: now}
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
// withheld from cross-site POSTs.
func (s *signer) cookie(name, value, path string, ttl time.Duration) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: int(ttl / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	}
}

// startSession signs user in for sessionTTL. The value is
// base64url(user).expiry.base64url(mac): the expiry is checked by the
// server, not left to the browser's Max-Age.
func (s *signer) startSession(w http.ResponseWriter, user string) {
	exp := strconv.FormatInt(s.now().Add(sessionTTL).Unix(), 10)
	value := b64.EncodeToString([]byte(user)) + "." + exp + "." + b64.EncodeToString(s.mac("session", user, exp))
	http.SetCookie(w, s.cookie(sessionCookie, value, "/", sessionTTL))
}

// session returns the signed-in user. A missing, malformed, tampered or
// expired cookie all mean the same: nobody is signed in.
func (s *signer) session(r *http.Request) (string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return "", false
	}
	user, err1 := b64.DecodeString(parts[0])
	exp, err2 := strconv.ParseInt(parts[1], 10, 64)
	sig, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil ||
		!hmac.Equal(sig, s.mac("session", string(user), parts[1])) || !s.now().Before(time.Unix(exp, 0)) {
		return "", false
	}
	return string(user), true
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
	http.SetCookie(w, s.cookie(csrfCookie, nonce, loginPath, csrfTTL))
	return nonce, nil
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
