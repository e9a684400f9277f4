package handler

import "github.com/tollgate-oauth/tollgate/internal/accesstoken"

// ReservedClaim reports whether name is a claim tollgate sets itself (iss,
// sub, aud, exp, iat, nbf, jti, client_id, scope, grant_id, sub_type),
// which a [ClaimsFunc] may not return: a token request whose ClaimsFunc
// returns one fails with server_error. A host that reads its claims from a
// config can refuse such a name at start instead.
func ReservedClaim(name string) bool { return accesstoken.Reserved[name] }
