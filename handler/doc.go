// Package handler is tollgate's OAuth 2.0 authorization server as one
// mountable http.Handler.
//
//	srv, err := handler.New(handler.Config{
//		Issuer:  "https://auth.example.com",
//		Clients: store, // a storage.ClientGetter, e.g. memory.New()
//	})
//	http.Handle("/", srv)
//
// Mounted under a prefix, strip it and put it in [Config.Issuer], so that
// the metadata names the URLs clients call:
//
//	router.PathPrefix("/auth/").Handler(http.StripPrefix("/auth", srv)) // Issuer: "https://app.example.com/auth"
//
// # Endpoints
//
// Every route the server serves, relative to the mount point; each path is
// also a constant ([TokenPath], [AuthorizePath], [RevokePath],
// [IntrospectPath], [RevocationsPath], [JWKSPath], [MetadataPath]). Any
// other path is 404, and a method not listed is 405 with an Allow header.
//
//	POST      /oauth/token          token endpoint (RFC 6749 §3.2): client_credentials always;
//	                                authorization_code with Config.Login; refresh_token; Config.Grants
//	GET, POST /oauth/authorize      authorization endpoint (RFC 6749 §3.1), only when Config.Login
//	                                is set (otherwise 404, and not in the metadata)
//	POST      /oauth/revoke         revocation (RFC 7009), by the client the token was issued to
//	POST      /oauth/introspect     introspection (RFC 7662), confidential clients only; all
//	                                tokens for a storage.Client.Introspector, else their own
//	GET, HEAD /oauth/revocations    revocation feed: revoked jtis and grants, for resource
//	                                servers to poll (middleware.IssuerRevocationFeed); public
//	GET, HEAD /.well-known/jwks.json                   public signing keys (RFC 7517); public
//	GET, HEAD /.well-known/oauth-authorization-server  metadata (RFC 8414); public
//
// Only the authorization endpoint depends on the configuration: it is on
// when [Config.Login] is set. The others are always served. The metadata
// names each endpoint under [Config.Issuer] and lists every grant type the
// token endpoint accepts, [Config.Grants] included. A resource server in
// the same process can skip the JWKS fetch with [Server.JWKS].
//
// A token request takes one straight path, one step per file: limit by IP
// (ratelimit.go) → parse and normalise (internal/tokenrequest) →
// authenticate the client (authenticate.go) → limit by client → grant
// policy and fosite (internal/provider) → sign (internal/accesstoken) →
// respond (respond.go).
//
// # Operating it
//
// Three sinks, each off unless set, each at the cost of a nil check when
// off: [Config.Metrics] (Prometheus collectors made by [NewMetrics] on
// the host's registry; the list is on [Metrics]), [Config.TracerProvider]
// (OpenTelemetry spans per request, per token-request step and per store
// call), and [Config.AuditLogger] or [Config.OnAudit] (one event per
// security-relevant action; the schema is on [AuditEvent]). None of them
// ever receives a secret or a token.
//
// Clients of a store that tells about changes (storage.ClientChanges:
// storage/memory and storage/sqlstore) are kept in memory once read, so
// authenticating a known client reads no storage; a change made elsewhere
// reaches this Server within [Config.ClientStaleness], one made through
// Config.Clients itself at once.
package handler
