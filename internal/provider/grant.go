package provider

import (
	"errors"

	"github.com/ory/fosite"

	"github.com/tollgate-oauth/tollgate/internal/policy"
	"github.com/tollgate-oauth/tollgate/storage"
)

// grantByPolicy decides the scopes and audiences of a new grant from what
// was asked for, under the client's policy (the same for every grant
// type), grants them on the request, and returns the request's session.
func grantByPolicy(r fosite.Requester, c *storage.Client, scopes, audiences []string) (*Session, error) {
	granted, e := policy.Scopes(c, scopes)
	if e != nil {
		return nil, e
	}
	auds, e := policy.Audiences(c, audiences)
	if e != nil {
		return nil, e
	}
	for _, s := range granted {
		r.GrantScope(s)
	}
	for _, a := range auds {
		r.GrantAudience(a)
	}
	sess, ok := r.GetSession().(*Session)
	if !ok {
		return nil, &Internal{Err: errors.New("provider: the session is not a *provider.Session")}
	}
	return sess, nil
}
