package storage

import (
	"context"
	"fmt"
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
	// tokens.
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
	if len(c.GrantTypes) == 0 {
		return invalid("grant_types", "at least one grant type is required")
	}
	for i, gt := range c.GrantTypes {
		if gt == "" || printable.Problem(gt) != "" || printable.HasSpace(gt) {
			return invalid(fmt.Sprintf("grant_types[%d]", i), "%q is not a grant type name", gt)
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
	return nil
}

// ClientGetter is what the token endpoint reads on every request.
type ClientGetter interface {
	// GetClient returns the client with the given id, or an error wrapping
	// ErrNotFound. The caller must not modify the returned value.
	GetClient(ctx context.Context, id string) (*Client, error)
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
