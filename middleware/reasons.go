package middleware

import (
	"errors"

	"github.com/tollgate-oauth/tollgate/internal/jwtverify"
)

// reason says why a request was refused. It is the reason label of
// tollgate_middleware_refused_total and the outcome of a verification
// span: a fixed set, so nothing a request sends can add a label value.
type reason uint8

const (
	reasonNone               reason = iota // not refused
	reasonMissingToken                     // 401, no token (or another scheme)
	reasonInvalidRequest                   // 400 invalid_request: the header or query is malformed
	reasonMalformedToken                   // 401 invalid_token: not a well-formed access token
	reasonAlgorithm                        // 401: an algorithm not allowed, or not the key's
	reasonType                             // 401: typ is not at+jwt
	reasonUnknownKey                       // 401: kid not in the key set
	reasonSignature                        // 401: the signature does not verify
	reasonIssuer                           // 401: iss is another issuer
	reasonAudience                         // 401: aud lacks this API
	reasonExpired                          // 401: past exp plus the leeway
	reasonNotYetValid                      // 401: before nbf or iat
	reasonInvalidToken                     // 401: a verification failure of no kind above
	reasonRevoked                          // 401: listed by the revocation feed
	reasonKeysUnavailable                  // 503: no key set fetched yet
	reasonRevocationsStale                 // 503: FailClosed and the revocation set is out of date
	reasonInsufficientScope                // 403
	reasonRateLimited                      // 429
	reasonLimiterUnavailable               // 503: RateLimit.FailClosed and the store failed
	numReasons
)

// reasonLabels are the label values, by reason.
var reasonLabels = [numReasons]string{
	reasonNone:               "accepted",
	reasonMissingToken:       "missing_token",
	reasonInvalidRequest:     "invalid_request",
	reasonMalformedToken:     "malformed_token",
	reasonAlgorithm:          "algorithm_not_allowed",
	reasonType:               "wrong_type",
	reasonUnknownKey:         "unknown_kid",
	reasonSignature:          "bad_signature",
	reasonIssuer:             "wrong_issuer",
	reasonAudience:           "wrong_audience",
	reasonExpired:            "expired",
	reasonNotYetValid:        "not_yet_valid",
	reasonInvalidToken:       "invalid_token",
	reasonRevoked:            "revoked",
	reasonKeysUnavailable:    "keys_unavailable",
	reasonRevocationsStale:   "revocations_stale",
	reasonInsufficientScope:  "insufficient_scope",
	reasonRateLimited:        "rate_limited",
	reasonLimiterUnavailable: "limiter_unavailable",
}

func (r reason) String() string { return reasonLabels[r] }

// verifyReasons map each verification failure to its reason, in the order
// Reason tests them.
var verifyReasons = []struct {
	err    error
	reason reason
}{
	{jwtverify.ErrMalformed, reasonMalformedToken},
	{jwtverify.ErrAlgorithm, reasonAlgorithm},
	{jwtverify.ErrType, reasonType},
	{jwtverify.ErrUnknownKey, reasonUnknownKey},
	{jwtverify.ErrSignature, reasonSignature},
	{jwtverify.ErrIssuer, reasonIssuer},
	{jwtverify.ErrAudience, reasonAudience},
	{jwtverify.ErrExpired, reasonExpired},
	{jwtverify.ErrNotYetValid, reasonNotYetValid},
	{jwtverify.ErrKeysUnavailable, reasonKeysUnavailable},
}

// verifyReason is the reason of a verification error.
func verifyReason(err error) reason {
	for _, v := range verifyReasons {
		if errors.Is(err, v.err) {
			return v.reason
		}
	}
	return reasonInvalidToken
}
