package storage

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-oauth/tollgate/internal/printable"
	"github.com/tollgate-oauth/tollgate/internal/scope"
	"github.com/tollgate-oauth/tollgate/internal/secret"
)

// Grant type names tollgate knows. A client may also list extension grant
// types registered with the handler.
const (
	GrantClientCredentials = "client_credentials"
)

// Client is an OAuth 2.0 client registration.
type Client struct {
	// ID is the client_id. It is also the `sub` of its client_credentials
	// tokens, which carry "sub_type": "client" so that a resource server
	// can tell them from a user's tokens with the same `sub`.
	ID string
	// SecretHash is the stored hash of the client secret (never the secret
	// itself), as produced by handler.HashClientSecret or
	// handler.GenerateClientSecret. Empty for public clients.
	SecretHash string
	// Public clients have no secret and authenticate with
	// token_endpoint_auth_method "none".
	Public bool
	// GrantTypes the client may use, e.g. "client_credentials".
	GrantTypes []string
	// Scopes the client may be granted. A ":"-separated segment may be "*":
	// "market:id:*" allows "market:id:xYZkjABcde".
	Scopes []string
	// DefaultScopes are granted when a request names no scope. Each must be
	// concrete (no "*") and allowed by Scopes.
	DefaultScopes []string
	// RequireScope makes a request that names no scope fail with
	// invalid_scope, as sales-channel clients must name their market.
	RequireScope bool
	// Audiences the client may request tokens for. The first is the default
	// when a request names none. At least one is required: every access
	// token names its audience (RFC 9068 §3).
	Audiences []string
	// AccessTokenTTL is the lifetime of this client's access tokens; zero
	// means the server default.
	AccessTokenTTL time.Duration
	// RedirectURIs are the exact redirect URIs the authorization endpoint
	// accepts for this client (authorization_code only).
	RedirectURIs []string
	// RefreshTokenTTL is the lifetime of this client's refresh tokens; zero
	// means the server default.
	RefreshTokenTTL time.Duration
	// Introspector lets the client introspect any token of this server
	// (RFC 7662), as a resource server that accepts tokens for several
	// audiences must. Without it a client may introspect only tokens issued
	// to it or naming its client id as an audience; for any other token it
	// gets {"active":false}. Confidential clients only.
	Introspector bool
}

// Clone returns a deep copy, so stores never share slices with callers.
func (c *Client) Clone() *Client {
	if c == nil {
		return nil
	}
	out := *c
	out.GrantTypes = slices.Clone(c.GrantTypes)
	out.Scopes = slices.Clone(c.Scopes)
	out.DefaultScopes = slices.Clone(c.DefaultScopes)
	out.Audiences = slices.Clone(c.Audiences)
	out.RedirectURIs = slices.Clone(c.RedirectURIs)
	return &out
}

// HasGrantType reports whether the client may use grant type gt.
func (c *Client) HasGrantType(gt string) bool { return slices.Contains(c.GrantTypes, gt) }

// Validate reports the first problem with the registration as a
// *ValidationError naming the field.
func (c *Client) Validate() error {
	if c == nil {
		return invalid("client", "is nil")
	}
	if c.ID == "" {
		return invalid("id", "is required")
	}
	if p := printable.Problem(c.ID); p != "" {
		return invalid("id", "%s", p)
	}
	switch {
	case c.Public && c.SecretHash != "":
		return invalid("secret_hash", "a public client must not have a secret")
	case !c.Public && c.SecretHash == "":
		return invalid("secret_hash", "is required for a confidential client (or mark the client public)")
	case c.SecretHash != "":
		if err := secret.CheckFormat(c.SecretHash); err != nil {
			return invalid("secret_hash", "%v", err)
		}
	}
	if c.Public && c.Introspector {
		// The introspection endpoint serves confidential clients only.
		return invalid("introspector", "a public client cannot introspect tokens")
	}
	if len(c.GrantTypes) == 0 {
		return invalid("grant_types", "at least one grant type is required")
	}
	for i, gt := range c.GrantTypes {
		if gt == "" || printable.Problem(gt) != "" || printable.HasSpace(gt) {
			return invalid(fmt.Sprintf("grant_types[%d]", i), "%q is not a grant type name", gt)
		}
		if err := checkGrantTypeName(gt); err != nil {
			return invalid(fmt.Sprintf("grant_types[%d]", i), "%v", err)
		}
	}
	for i, s := range c.Scopes {
		if !scope.ValidPattern(s) {
			return invalid(fmt.Sprintf("scopes[%d]", i), "%q is not a scope token (\"*\" only as a whole \":\" segment)", s)
		}
	}
	for i, s := range c.DefaultScopes {
		field := fmt.Sprintf("default_scopes[%d]", i)
		switch {
		case !scope.ValidToken(s) || scope.IsPattern(s):
			return invalid(field, "%q is not a concrete scope token", s)
		case !scope.Allowed(c.Scopes, s):
			return invalid(field, "%q is not allowed by scopes", s)
		}
	}
	if len(c.Audiences) == 0 {
		return invalid("audiences", "at least one audience is required")
	}
	for i, a := range c.Audiences {
		if a == "" || printable.Problem(a) != "" || printable.HasSpace(a) {
			return invalid(fmt.Sprintf("audiences[%d]", i), "%q is not an audience (no spaces or control characters)", a)
		}
		if strings.Contains(a, "#") {
			return invalid(fmt.Sprintf("audiences[%d]", i), "%q must not have a fragment", a)
		}
	}
	if c.AccessTokenTTL < 0 {
		return invalid("access_token_ttl", "must not be negative")
	}
	if c.RefreshTokenTTL < 0 {
		return invalid("refresh_token_ttl", "must not be negative")
	}
	for i, u := range c.RedirectURIs {
		if err := checkRedirectURI(u); err != "" {
			return invalid(fmt.Sprintf("redirect_uris[%d]", i), "%q %s", u, err)
		}
	}
	if c.HasGrantType(GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		return invalid("redirect_uris", "a client with grant type authorization_code needs at least one")
	}
	if c.HasGrantType(GrantRefreshToken) && !c.HasGrantType(GrantAuthorizationCode) && len(c.GrantTypes) == 1 {
		return invalid("grant_types", "refresh_token alone grants nothing: add the grant that issues the first token")
	}
	return nil
}

// ClientGetter is what the token endpoint reads on every request.
type ClientGetter interface {
	// GetClient returns the client with the given id, or an error wrapping
	// ErrNotFound. The caller must not modify the returned value.
	GetClient(ctx context.Context, id string) (*Client, error)
}

// ClientChanges is implemented by a ClientGetter that can tell when its
// clients change. The handler then keeps the clients it has read in memory
// and serves later requests from there, asking ClientsVersion a few times a
// second whether anything changed (handler.Config.ClientStaleness). A
// store without it is read on every request.
//
// storage/memory and storage/sqlstore implement it.
type ClientChanges interface {
	// ClientsVersion returns a number that grows whenever a client is
	// created, updated or deleted and the change is committed, whoever
	// made it: this value, another handle on the same database, another
	// process, or a statement typed into the database by hand. A change
	// committed before the call began must show in its result. It is
	// called a few times a second per server: one cheap read.
	ClientsVersion(ctx context.Context) (uint64, error)
	// ClientsWritten counts the client writes made through this value,
	// failed ones included (a write that timed out may have committed).
	// It grows before the write method returns, and does no I/O: the
	// handler reads it on every request, so that a change this process
	// makes is seen at once rather than at the next ClientsVersion.
	ClientsWritten() uint64
}

// ClientStore manages client registrations.
type ClientStore interface {
	ClientGetter
	// CreateClient validates and stores c; ErrAlreadyExists if the id is
	// taken, ErrInvalid if c does not validate.
	CreateClient(ctx context.Context, c *Client) error
	// UpdateClient replaces the client with c.ID; ErrNotFound if absent.
	UpdateClient(ctx context.Context, c *Client) error
	// DeleteClient removes the client; ErrNotFound if absent.
	DeleteClient(ctx context.Context, id string) error
	// ListClients returns every client ordered by id.
	ListClients(ctx context.Context) ([]*Client, error)
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// checkRedirectURI applies RFC 6749 §3.1.2: absolute, no fragment. Plain
// http is allowed for loopback hosts only (RFC 8252 §7.3).
func checkRedirectURI(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" && u.Scheme != "" && (u.Scheme == "http" || u.Scheme == "https"):
		return "is not an absolute URI"
	case strings.Contains(raw, "#"):
		return "must not have a fragment"
	case printable.Problem(raw) != "" || printable.HasSpace(raw):
		return "holds whitespace or control characters"
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return "must use https (plain http only for localhost, 127.0.0.1 or [::1])"
	}
	return ""
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
