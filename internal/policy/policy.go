// Package policy decides what a client is granted from what it asked for:
// scopes against its allowed patterns and defaults, audiences against its
// allowed list. Every grant type goes through the same rules.
package policy

import (
	"slices"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/scope"
	"github.com/tollgate-oauth/tollgate/storage"
)

// Scopes returns the scopes to grant for a request that asked for
// requested: each must be concrete and covered by one of the client's
// allowed patterns; none at all means the client's defaults, unless the
// client must name a scope.
func Scopes(c *storage.Client, requested []string) ([]string, *oautherr.Error) {
	if len(requested) == 0 {
		if c.RequireScope {
			return nil, oautherr.InvalidScope("this client must request a scope")
		}
		return slices.Clone(c.DefaultScopes), nil
	}
	for _, s := range requested {
		if scope.IsPattern(s) {
			return nil, oautherr.InvalidScope("scope %s holds a wildcard; request a concrete scope", oautherr.Quote(s))
		}
		if !scope.Allowed(c.Scopes, s) {
			return nil, oautherr.InvalidScope("scope %s is not allowed for this client", oautherr.Quote(s))
		}
	}
	return requested, nil
}

// Audiences returns the audiences to grant: each requested one must be one
// of the client's, exactly; none at all means the client's first.
func Audiences(c *storage.Client, requested []string) ([]string, *oautherr.Error) {
	if len(requested) == 0 {
		if len(c.Audiences) == 0 {
			return nil, oautherr.InvalidTarget("this client has no audience")
		}
		return []string{c.Audiences[0]}, nil
	}
	for _, a := range requested {
		if !slices.Contains(c.Audiences, a) {
			return nil, oautherr.InvalidTarget("audience %s is not allowed for this client", oautherr.Quote(a))
		}
	}
	return requested, nil
}
