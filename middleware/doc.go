// Package middleware guards a resource API with access tokens from a
// tollgate server, or any RFC 9068 issuer. Everything it returns is a plain
// func(http.Handler) http.Handler, so it composes with net/http, gorilla/mux
// (router.Use, per route, per subrouter), chi, anything.
//
//	keys, err := middleware.RemoteJWKS(ctx, "https://auth.example.com/.well-known/jwks.json", middleware.RemoteOptions{})
//	mw, err := middleware.New(middleware.Config{
//		Issuer:   "https://auth.example.com",
//		Audience: "https://api.example.com",
//		Keys:     keys,
//	})
//	router.Use(mw.Authenticate)
//	router.Handle("/orders", mw.RequireScopes("orders:read")(listOrders)).Methods("GET")
//
// Handlers read the verified claims with ClaimsFrom(r.Context()).
//
// Failures answer per RFC 6750: no token → 401 with a bare Bearer
// challenge; a bad, expired or foreign token → 401 invalid_token; a
// missing scope → 403 insufficient_scope naming the scopes; a malformed
// Authorization header → 400 invalid_request.
//
// # Revoked tokens
//
// A JWT stays valid until it expires. With [Config.Revocations], built by
// [IssuerRevocationFeed] (or [RevocationFeed]), the middleware polls the
// issuer's revocation feed and refuses a revoked token, by its jti or its
// grant_id, within [RevocationOptions.MaxDelay] (10 s by default) of its
// revocation, cached tokens included.
//
// # Operating it
//
// [NewMetrics] registers Prometheus collectors on the host's registry;
// give them to [Config.Metrics], [RemoteOptions.Metrics] and
// [RevocationOptions.Metrics] for request outcomes by reason, cache hits,
// JWKS fetches and age, and the revocation feed's polls and lag.
// [Config.TracerProvider] (and the options' own) add OpenTelemetry spans
// around verification, JWKS fetches and feed polls; no span holds a token.
// [Middleware.Ready] answers a readiness probe: a usable key set, and a
// fresh revocation set when it fails closed. All are off, at no cost, when
// unset.
//
// # Nested instances
//
// Verified claims are tied to the [Middleware] that verified them. When API
// B's instance sits inside API A's, B verifies the token again against its
// own Config (A's audience is not B's), and B's RequireScopes,
// RequireAnyScope and RateLimit read B's claims. An instance never verifies
// a request twice. [ClaimsFrom] returns the innermost instance's claims.
// Claims put in by [WithClaims], for tests, are trusted by every instance.
package middleware
