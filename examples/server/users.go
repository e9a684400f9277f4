package main

import (
	"context"
	"fmt"
	"maps"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
)

// users are the demo's accounts, from the config's users list. A real
// application has its own; tollgate only ever sees the subject.
type users struct {
	byName map[string]user
	// verify runs argon2id once per user and password, then compares an
	// HMAC; every failure, unknown user included, costs one argon2id run,
	// so the answer's timing does not tell which usernames exist.
	verify *handler.SecretVerifier
}

type user struct {
	hash   string
	claims map[string]any
}

// newUsers hashes plain passwords at start: only hashes are kept in memory.
func newUsers(list []userConfig) (*users, error) {
	v, err := handler.NewSecretVerifier()
	if err != nil {
		return nil, err
	}
	u := &users{byName: make(map[string]user, len(list)), verify: v}
	for i, c := range list {
		hash := c.PasswordHash
		if c.Password != "" {
			// argon2id: HashClientSecret's scheme for anything it did not
			// generate, which is what a password is.
			if hash, err = handler.HashClientSecret(c.Password); err != nil {
				return nil, fmt.Errorf("config: users[%d].password: %w", i, err)
			}
		}
		u.byName[c.Username] = user{hash: hash, claims: c.Claims}
	}
	return u, nil
}

func (u *users) exists(name string) bool {
	_, ok := u.byName[name]
	return ok
}

// authenticate checks a username and password in constant time: an
// unknown name has no hash, which the verifier answers with the work of a
// wrong password.
func (u *users) authenticate(name, password string) bool {
	return u.verify.Verify(name, u.byName[name].hash, password)
}

// claims is the handler's Claims hook: a user's configured claims go into
// the tokens issued for them. Only the user grants are looked at: a
// client_credentials token's subject is a client id, which may happen to
// equal a username.
func (u *users) claims(_ context.Context, req handler.ClaimsRequest) (map[string]any, error) {
	if req.GrantType != storage.GrantAuthorizationCode && req.GrantType != storage.GrantRefreshToken {
		return nil, nil
	}
	// A copy: the handler may merge into what it gets back.
	return maps.Clone(u.byName[req.Subject].claims), nil
}
