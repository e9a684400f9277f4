// Package handler is tollgate's OAuth 2.0 authorization server as one
// mountable http.Handler.
//
//	srv, err := handler.New(handler.Config{
//		Issuer:  "https://auth.example.com",
//		Clients: store, // a storage.ClientGetter, e.g. memory.New()
//	})
//	http.Handle("/", srv)
//
// Mounted under a prefix, strip it and put it in the issuer:
//
//	router.PathPrefix("/auth").Handler(http.StripPrefix("/auth", srv)) // Issuer: "https://app.example.com/auth"
//
// Endpoints, relative to the mount point:
//
//	POST /oauth/token                        token endpoint (RFC 6749 §3.2)
//	GET  /oauth/authorize                    authorization endpoint, with Config.Login (RFC 6749 §3.1)
//	POST /oauth/revoke                       revocation (RFC 7009)
//	POST /oauth/introspect                   introspection (RFC 7662)
//	GET  /oauth/revocations                  revocation feed, for resource servers to poll
//	GET  /.well-known/jwks.json              public signing keys (RFC 7517)
//	GET  /.well-known/oauth-authorization-server  metadata (RFC 8414)
//
// A token request takes one straight path, one step per file: limit by IP
// (ratelimit.go) → parse and normalise (internal/tokenrequest) →
// authenticate the client (authenticate.go) → limit by client → grant
// policy and fosite (internal/provider) → sign (internal/accesstoken) →
// respond (respond.go).
//
// Clients of a store that tells about changes (storage.ClientChanges:
// storage/memory and storage/sqlstore) are kept in memory once read, so
// authenticating a known client reads no storage; a change made elsewhere
// reaches this Server within [Config.ClientStaleness], one made through
// Config.Clients itself at once.
package handler
