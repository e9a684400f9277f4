package handler

import (
	"slices"

	"github.com/tollgate-oauth/tollgate/internal/provider"
	"github.com/tollgate-oauth/tollgate/storage"
)

// mayIntrospect is who may learn about an active token (issue 9 §5): its
// own client, a client whose id is one of its audiences (the resource
// server it was issued for), or a client marked
// [storage.Client.Introspector]. Any other caller is answered as if the
// token did not exist, so that knowing a token (one a resource server of
// another audience was handed, say) gives no way to read its claims or to
// check whether it is still valid. The rule is applied here, after the
// provider answered, so it holds for every kind of token the provider
// knows.
func mayIntrospect(caller *storage.Client, in *provider.Introspection) bool {
	switch {
	case !in.Active, caller.Introspector, in.ClientID == caller.ID:
		return true
	}
	switch aud := in.Aud.(type) {
	case string:
		return aud == caller.ID
	case []string:
		return slices.Contains(aud, caller.ID)
	}
	return false
}
