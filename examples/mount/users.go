package main

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// users is the app's own user table, by username. A real app has it in its
// database; tollgate never sees it, only the subject the login hook names.
type users map[string]user

type user struct {
	Name       string // display name, added to the user's tokens
	salt, hash []byte // argon2id of the password
}

// userRow is a user to add: the password is hashed at once and dropped.
type userRow struct{ Name, Password string }

func newUsers(rows map[string]userRow) (users, error) {
	us := make(users, len(rows))
	for username, row := range rows {
		if username == "" || row.Password == "" {
			return nil, errors.New("users: empty username or password")
		}
		salt := make([]byte, 16)
		_, _ = rand.Read(salt) // never fails (crypto/rand)
		us[username] = user{Name: row.Name, salt: salt, hash: passwordHash(row.Password, salt)}
	}
	return us, nil
}

// passwordHash is argon2id at OWASP's minimum (19 MiB, 2 passes): a stolen
// table must cost a guesser dearly per guess.
func passwordHash(password string, salt []byte) []byte {
	return argon2.IDKey([]byte(password), salt, 2, 19*1024, 1, 32)
}

// decoy is hashed against when the username is unknown, so the answer
// takes as long as for a known user and does not tell which names exist.
var decoy = user{salt: make([]byte, 16), hash: make([]byte, 32)}

// check returns the username's user if password is theirs.
func (us users) check(username, password string) (user, bool) {
	u, known := us[username]
	if !known {
		u = decoy
	}
	match := subtle.ConstantTimeCompare(passwordHash(password, u.salt), u.hash) == 1
	return u, known && match
}

// sessions are the app's sign-ins: a random id in a cookie, the username
// in memory (per process, lost at exit; a real app uses its database).
type sessions struct {
	secure bool // Secure cookies: the app is served over https
	mu     sync.Mutex
	byID   map[string]session
}

type session struct {
	username string
	expires  time.Time
}

const (
	sessionCookie = "app_session"
	sessionTTL    = 12 * time.Hour
)

// start signs username in: a new session id (never the one the browser had,
// against session fixation) in a new cookie.
func (s *sessions) start(w http.ResponseWriter, r *http.Request, username string) {
	now := time.Now()
	id := rand.Text() // 128 bits
	s.mu.Lock()
	if c, err := r.Cookie(sessionCookie); err == nil {
		delete(s.byID, c.Value)
	}
	for k, v := range s.byID { // expired sessions go here, not on a timer
		if now.After(v.expires) {
			delete(s.byID, k)
		}
	}
	s.byID[id] = session{username: username, expires: now.Add(sessionTTL)}
	s.mu.Unlock()
	http.SetCookie(w, s.cookie(id, int(sessionTTL/time.Second)))
}

// user returns the signed-in username of r, if any.
func (s *sessions) user(r *http.Request) (string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.byID[c.Value]
	if !ok || time.Now().After(v.expires) {
		return "", false
	}
	return v.username, true
}

// end signs r's user out and clears the cookie.
func (s *sessions) end(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.mu.Lock()
		delete(s.byID, c.Value)
		s.mu.Unlock()
	}
	http.SetCookie(w, s.cookie("", -1))
}

// cookie is the session cookie. SameSite=Lax, not Strict: the authorization
// request arrives as a navigation from the client's site, and a Strict
// cookie would not come with it, so a signed-in user would be asked to sign
// in again every time.
func (s *sessions) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	}
}
