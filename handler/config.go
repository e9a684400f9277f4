package handler

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"time"

	"github.com/ulule/limiter/v3"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate-oauth/tollgate/internal/issuer"
	"github.com/tollgate-oauth/tollgate/internal/keys"
	"github.com/tollgate-oauth/tollgate/internal/printable"
	"github.com/tollgate-oauth/tollgate/internal/ratelimit"
	"github.com/tollgate-oauth/tollgate/internal/scope"
	"github.com/tollgate-oauth/tollgate/internal/secret"
	"github.com/tollgate-oauth/tollgate/storage"
)

// Defaults for zero Config fields.
const (
	DefaultAccessTokenTTL = time.Hour
	DefaultMaxBodyBytes   = 64 << 10
	DefaultTokenRate      = "100-S"  // token requests per client
	DefaultTokenPerIPRate = "6000-M" // token requests per client IP
	DefaultFailedAuthRate = "10-M"   // failed client authentications per client and per IP

	DefaultAuthorizationCodeTTL = 10 * time.Minute
	DefaultRefreshTokenTTL      = 30 * 24 * time.Hour
	// DefaultPurgeInterval is how often expired codes, refresh-token
	// families and revocation entries are deleted from Config.Tokens.
	DefaultPurgeInterval = time.Minute
	// DefaultClientStaleness bounds how long a client change made
	// elsewhere may go unseen by a Server that caches clients (see
	// [Config.ClientStaleness]).
	DefaultClientStaleness = time.Second
)

// Config configures a Server. The zero value of every optional field is a
// safe default.
type Config struct {
	// Issuer is the absolute https (or http) URL of the server, with the
	// mount path if any; it is the `iss` of every token and the base of the
	// URLs in the metadata. Required.
	Issuer string
	// Clients looks clients up. Required.
	Clients storage.ClientGetter
	// ClientStaleness bounds how long a change to a client made outside
	// this Server's Clients value (another instance, the demo's admin
	// CLI, SQL typed by hand) may go unseen here: a deleted client or a
	// rotated secret stops working within it. It applies when Clients is
	// a storage.ClientChanges (storage/memory and storage/sqlstore are):
	// the Server then keeps the clients it has read in memory, reads the
	// store's change counter every ClientStaleness/4 while requests come,
	// and serves a client from memory only while its last successful
	// read of the counter began less than ClientStaleness ago, so a
	// database outage cannot stretch the bound. A change made through
	// Clients itself is seen at once. Unknown client ids are not cached.
	// Default 1 s (DefaultClientStaleness); negative turns the cache off,
	// as does a Clients without storage.ClientChanges: every request then
	// reads Clients.
	ClientStaleness time.Duration

	// Tokens keeps authorization codes, refresh-token families and the
	// revocation feed. Default: in-process memory (per instance, lost at
	// exit). A storage/memory.Store serves as both Clients and Tokens.
	Tokens storage.TokenStore
	// KeyStore keeps the keys the server generates: the refresh tokens'
	// MAC key (the record storage.RefreshMACKeyID, algorithm HS256) and
	// every signing key of Keys that has an ID but no Key, so that a
	// restart, and every instance sharing the store, signs with the same
	// keys and verifies the refresh tokens the others issued. The first
	// instance to start generates a key; one starting at the same time
	// reads the winner's. Default: Tokens, if it is a storage.KeyStore
	// (memory and sqlstore are). Without either, random keys per process:
	// its tokens die with it.
	KeyStore storage.KeyStore
	// KeyEncryptionKey, 32 bytes, seals the keys in KeyStore with
	// AES-256-GCM, each bound to its ID, so that a copy of the database
	// does not let anyone mint tokens (ParseKeyEncryptionKey reads one kept
	// as text). Nil: the keys are stored as they are (and a warning logged
	// for the MAC key, unless KeyStore is in memory). Once a sealed key is
	// stored, New refuses to start without the same KeyEncryptionKey, and a
	// key stored unsealed is refused once one is set: New's error is then
	// ErrKeyEncryptionKey.
	KeyEncryptionKey []byte
	// Login, when set, enables the authorization endpoint and the
	// authorization_code grant: it tells the endpoint who the user is (see
	// LoginFunc). tollgate has no login page of its own.
	Login LoginFunc
	// Consent, when set, asks the user to approve each authorization
	// request after Login named them (see ConsentFunc): the scopes to
	// grant (perhaps fewer than requested), or a denial. Nil approves
	// every request of a signed-in user silently: only for a server whose
	// every authorization_code client is the host's own (first-party),
	// since any program can start the flow with a public client's id and a
	// loopback redirect URI (RFC 8252 §8.6).
	Consent ConsentFunc
	// Consents remembers consents (ConsentDecision.Remember) per user and
	// client. Default: Tokens, if it is a storage.ConsentStore (memory and
	// sqlstore are); else in-process memory.
	Consents storage.ConsentStore
	// Grants are extension grant types (RFC 6749 §4.5), usable by clients
	// that list them in GrantTypes.
	Grants []Grant

	// Keys sign access tokens: the first signs, all are published in the
	// JWKS. Empty: one RS256 key generated at start (lost at exit).
	Keys []SigningKey
	// KeyRotation, when its Every is set, rotates the signing keys over
	// KeyStore on a schedule (see KeyRotation). Off by default.
	KeyRotation KeyRotation
	// AccessTokenTTL is the lifetime of access tokens of clients that set
	// none. Default 1h.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is the lifetime of refresh tokens of clients that set
	// none; each rotation starts it again. Default 30 days.
	RefreshTokenTTL time.Duration
	// AuthorizationCodeTTL is how long a code can be redeemed. Default 10
	// minutes (RFC 6749 §4.1.2's maximum).
	AuthorizationCodeTTL time.Duration
	// PKCE relaxes the default: S256 required of every client.
	PKCE PKCEOptions
	// PurgeInterval is how often expired entries are deleted from Tokens
	// (in the background, after a request, in small batches so that no
	// request waits on it). Default 1 minute; negative disables it (the
	// store cleans up itself).
	PurgeInterval time.Duration
	// RateLimits at the token endpoint.
	RateLimits RateLimits
	// TrustedProxies are the networks whose X-Forwarded-For entries are
	// believed when finding a client's IP. Empty: the header is ignored.
	TrustedProxies []netip.Prefix
	// MaxBodyBytes bounds a token request body. Default 64 KiB.
	MaxBodyBytes int64
	// MaxSlowHashes bounds the client-secret checks that run a slow hash
	// (argon2id, bcrypt) at once: failures, and human-chosen secrets not
	// yet verified by this Server. Each argon2id run holds 19 MiB, so the
	// bound is one on memory too. A request that would go past it is
	// answered 503 temporarily_unavailable with Retry-After: 1, its
	// secret unchecked. Default 2 × runtime.NumCPU(); negative is an
	// error.
	MaxSlowHashes int
	// Claims, if set, adds claims to each access token (it may not replace
	// iss, sub, aud, exp, iat, nbf, jti, client_id, scope, grant_id or
	// sub_type, the "client" mark of client_credentials tokens).
	Claims ClaimsFunc
	// ScopesSupported is published as scopes_supported in the metadata.
	ScopesSupported []string
	// Logger receives structured logs; never a secret or a token.
	// Default slog.Default().
	Logger *slog.Logger
	// Metrics, when set, counts and times requests, failed client
	// authentications, lockouts, replays, revocations, storage errors and
	// the client cache's hits (see Metrics; NewMetrics makes one on the
	// host's registry). Nil: no metrics, at no cost to a request.
	Metrics *Metrics
	// TracerProvider, when set, traces the Server: a span per request
	// (tollgate.token, tollgate.authorize, …) under the one in the
	// request's context, a span per step of a token request
	// (tollgate.token.limit_ip, .parse, .authenticate, .limit_client,
	// .issue with .policy, .mint and .sign inside, .respond), one per
	// store call (tollgate.store.get_client, …), and one per background
	// purge and key re-read. Spans carry fixed values only (outcome,
	// registered grant type, an authenticated client's id, store result):
	// never a secret, a token or a text the client sent. fosite's own
	// spans are kept out. Nil: no spans, at the cost of a nil check.
	TracerProvider trace.TracerProvider
	// AuditLogger, when set, records each security-relevant action (the
	// events of AuditEvent) at INFO or WARN, with stable keys. It is not
	// Logger: audit records usually go to a sink of their own, kept
	// longer, and at one per token issued they would flood an operational
	// log (Logger notes issued tokens at DEBUG only). Nil: no audit log.
	AuditLogger *slog.Logger
	// OnAudit, when set, is called with each audit event, before
	// AuditLogger records it, on the goroutine of the request (or of the
	// key rotation): it must return quickly, and must not keep ctx.
	OnAudit func(ctx context.Context, ev AuditEvent)
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Rand is the entropy for token ids and generated keys. Default
	// crypto/rand.
	Rand io.Reader
}

// SigningKey is one access-token signing key.
type SigningKey struct {
	// ID is the kid. Default: the key's RFC 7638 thumbprint.
	ID string
	// Algorithm is RS256 (default), ES256 or EdDSA.
	Algorithm string
	// Key is an *rsa.PrivateKey (2048 bits or more), a P-256
	// *ecdsa.PrivateKey or an ed25519.PrivateKey. Nil: with an ID and a
	// Config.KeyStore, the key stored there under ID, generated and stored
	// by the first start (sealed with Config.KeyEncryptionKey, if set);
	// otherwise generated at start, for this process only.
	Key crypto.Signer
}

// KeyRotation rotates the signing keys on a schedule, over
// Config.KeyStore, so that every instance sharing the store agrees on the
// keys and on when each signs (rotation.go). Each key is published in the
// JWKS PublishAhead before it signs, signs for Every, and stays published
// until every token it signed has expired (RetireAfter), then is retired.
// Config.Keys then holds at most the first key, with an ID and no Key
// (default: "k1"): later keys are made by the rotation, or by
// Server.RotateKeys.
type KeyRotation struct {
	// Every is how long each key signs before the next takes over. Zero:
	// no rotation.
	Every time.Duration
	// PublishAhead is how long a new key is published before it signs:
	// longer than the resource servers take to re-read the JWKS (its
	// Cache-Control allows 5 minutes). Default 1 hour; Every must be
	// longer.
	PublishAhead time.Duration
	// Algorithm of the keys the rotation makes: RS256, ES256 or EdDSA.
	// Default: Config.Keys[0]'s, else RS256.
	Algorithm string
	// RetireAfter is how long a key stays published after its successor
	// starts signing. Default: the longest access-token lifetime
	// (Config.AccessTokenTTL, or a client's longer one when Config.Clients
	// can list its clients, as storage.ClientStore can) plus 5 minutes, the
	// most leeway the middleware allows.
	RetireAfter time.Duration
}

// DefaultPublishAhead is KeyRotation.PublishAhead's default.
const DefaultPublishAhead = time.Hour

// RateLimits are in github.com/ulule/limiter's format ("<n>-<S|M|H|D>") or
// "off"; empty means the default.
type RateLimits struct {
	// Token limits token requests per authenticated client. Default 100-S.
	Token string
	// TokenPerIP limits token requests per client IP (IPv6 per /64), before
	// anything else is read. Default 6000-M.
	TokenPerIP string
	// FailedAuth limits failed client authentications, per IP and per
	// client id. Past an IP's limit every request from it is refused
	// before any secret is checked. Past a client id's limit only attempts
	// that need a slow hash are refused: credentials that verify cheaply
	// (no secret for a public client, a generated secret, a secret
	// verified before) never are, so knowing a client id is not enough to
	// shut its owner out. Default 10-M.
	FailedAuth string
	// Store holds the counters. Default: in-process memory. Pass a shared
	// store (e.g. limiter's Redis store) when several instances serve.
	Store limiter.Store
	// FailClosed answers 503 when Store errors. Default false: the request
	// goes through and a warning is logged (fail open).
	FailClosed bool
}

// PKCEOptions relax PKCE (RFC 7636). The zero value requires S256 of
// every client, as RFC 9700 §2.1.1 recommends.
type PKCEOptions struct {
	// AllowPlain accepts code_challenge_method=plain.
	AllowPlain bool
	// OptionalForConfidential lets confidential clients skip PKCE. Public
	// clients always need it.
	OptionalForConfidential bool
}

// LoginFunc tells the authorization endpoint who the user is. It sees the
// authorization request; if a user is signed in (a session cookie, say),
// it returns their subject and true. Otherwise it answers the request
// itself, typically with a redirect to the host's login page that comes
// back to r.RequestURI (the full original URL, prefix included, even when
// the server is mounted with http.StripPrefix), and returns false. A POSTed
// authorization request carries its parameters in the body: come back to
// the equivalent GET (r.URL.Path plus r.PostForm encoded as the query).
type LoginFunc func(w http.ResponseWriter, r *http.Request) (subject string, ok bool)

// ClaimsRequest describes the token a ClaimsFunc adds claims to.
type ClaimsRequest struct {
	ClientID  string
	Subject   string
	GrantType string
	Scopes    []string
	Audience  []string
}

// ClaimsFunc returns claims to add to an access token. An error fails the
// request with server_error (and is logged).
type ClaimsFunc func(ctx context.Context, req ClaimsRequest) (map[string]any, error)

// withDefaults returns cfg with its zero fields filled and every problem
// found, joined.
func (cfg Config) withDefaults() (Config, error) {
	// The caller keeps its slices: defaults are filled in copies.
	cfg.Keys = slices.Clone(cfg.Keys)
	cfg.ScopesSupported = slices.Clone(cfg.ScopesSupported)
	cfg.TrustedProxies = slices.Clone(cfg.TrustedProxies)
	var errs []error
	// Each problem is a ConfigError naming its field, which a host maps to
	// its own names (the demo server to its YAML keys).
	bad := func(field, format string, args ...any) { errs = append(errs, configError(field, format, args...)) }

	// The rule of internal/issuer, which the middleware applies too; the
	// issuer is written without a trailing slash (Server.Issuer says how).
	if err := CheckIssuer(cfg.Issuer); err != nil {
		errs = append(errs, err)
	}
	cfg.Issuer = issuer.Canonical(cfg.Issuer)
	if cfg.Clients == nil {
		bad("Clients", "is required")
	}
	if cfg.Consent != nil && cfg.Login == nil {
		bad("Consent", "needs Config.Login: without it there is no authorization endpoint to ask for consent at")
	}
	if cfg.AccessTokenTTL < 0 {
		bad("AccessTokenTTL", "must not be negative")
	} else if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = DefaultAccessTokenTTL
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"RefreshTokenTTL", &cfg.RefreshTokenTTL, DefaultRefreshTokenTTL},
		{"AuthorizationCodeTTL", &cfg.AuthorizationCodeTTL, DefaultAuthorizationCodeTTL},
	} {
		if *d.v < 0 {
			bad(d.name, "must not be negative")
		} else if *d.v == 0 {
			*d.v = d.def
		}
	}
	if n := len(cfg.KeyEncryptionKey); n != 0 && n != 32 {
		bad("KeyEncryptionKey", "is %d bytes; want 32 (AES-256)", n)
	}
	if cfg.PurgeInterval == 0 {
		cfg.PurgeInterval = DefaultPurgeInterval
	}
	if cfg.ClientStaleness == 0 {
		cfg.ClientStaleness = DefaultClientStaleness
	}
	seen := map[string]bool{}
	for i, g := range cfg.Grants {
		switch {
		case g.Type == "" || printable.HasSpace(g.Type) || printable.Problem(g.Type) != "":
			bad(fmt.Sprintf("Grants[%d].Type", i), "%q is not a grant type name", g.Type)
		case builtinGrant(g.Type) || seen[g.Type]:
			bad(fmt.Sprintf("Grants[%d].Type", i), "%q is registered twice", g.Type)
		case g.Exchange == nil:
			bad(fmt.Sprintf("Grants[%d].Exchange", i), "is required")
		}
		seen[g.Type] = true
	}
	if cfg.MaxSlowHashes < 0 {
		bad("MaxSlowHashes", "must not be negative")
	} else if cfg.MaxSlowHashes == 0 {
		cfg.MaxSlowHashes = 2 * runtime.NumCPU()
	}
	if cfg.MaxBodyBytes < 0 {
		bad("MaxBodyBytes", "must not be negative")
	} else if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	rl := &cfg.RateLimits
	for _, r := range []struct {
		name string
		rate *string
		def  string
	}{{"Token", &rl.Token, DefaultTokenRate}, {"TokenPerIP", &rl.TokenPerIP, DefaultTokenPerIPRate}, {"FailedAuth", &rl.FailedAuth, DefaultFailedAuthRate}} {
		if *r.rate == "" {
			*r.rate = r.def
		}
		if _, _, err := ratelimit.ParseRate(*r.rate); err != nil {
			bad("RateLimits."+r.name, "%v", err)
		}
	}
	for i, s := range cfg.ScopesSupported {
		if !scope.ValidToken(s) {
			bad(fmt.Sprintf("ScopesSupported[%d]", i), "%q is not a scope token", s)
		}
	}
	for i, k := range cfg.Keys {
		if k.ID == storage.RefreshMACKeyID {
			bad(fmt.Sprintf("Keys[%d].ID", i), "%q is the refresh-token MAC key's, not a signing key's", k.ID)
		}
		if k.Algorithm == "" {
			cfg.Keys[i].Algorithm = keys.RS256
		} else if !validAlg(k.Algorithm) {
			bad(fmt.Sprintf("Keys[%d].Algorithm", i), "%q: want RS256, ES256 or EdDSA", k.Algorithm)
		}
	}
	cfg.rotationDefaults(bad)
	if len(cfg.Keys) == 0 {
		cfg.Keys = []SigningKey{{Algorithm: keys.RS256}}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, errors.Join(errs...)
}

// rotationDefaults checks and fills KeyRotation, and the first key it
// starts from.
func (cfg *Config) rotationDefaults(bad func(field, format string, args ...any)) {
	kr := &cfg.KeyRotation
	if kr.Every < 0 || kr.PublishAhead < 0 || kr.RetireAfter < 0 {
		bad("KeyRotation", "durations must not be negative")
		return
	}
	if kr.Every == 0 {
		return
	}
	if kr.PublishAhead == 0 {
		kr.PublishAhead = DefaultPublishAhead
	}
	if kr.Every <= kr.PublishAhead {
		bad("KeyRotation.Every", "%v must be longer than KeyRotation.PublishAhead (%v): a key must sign for a while before the next is published", kr.Every, kr.PublishAhead)
	}
	if kr.Algorithm == "" {
		kr.Algorithm = keys.RS256
		if len(cfg.Keys) > 0 {
			kr.Algorithm = cfg.Keys[0].Algorithm
		}
	} else if !validAlg(kr.Algorithm) {
		bad("KeyRotation.Algorithm", "%q: want RS256, ES256 or EdDSA", kr.Algorithm)
	}
	switch {
	case len(cfg.Keys) == 0:
		cfg.Keys = []SigningKey{{ID: "k1", Algorithm: kr.Algorithm}}
	case len(cfg.Keys) > 1:
		bad("Keys", "with Config.KeyRotation, holds only the first key (the rotation makes the others, and keeps every key in the KeyStore published until it retires)")
	case cfg.Keys[0].Key != nil || cfg.Keys[0].ID == "":
		bad("Keys[0]", "with Config.KeyRotation, needs an ID and no Key: the rotation keeps its keys in the KeyStore, by ID")
	}
}

func validAlg(alg string) bool { return slices.Contains(keys.Algorithms, alg) }

// GenerateClientSecret returns a new random client secret (256 bits,
// "tgs_" prefixed) and the hash to store in storage.Client.SecretHash.
// Generated secrets verify with one SHA-256: fast enough for every request.
func GenerateClientSecret() (plain, hash string, err error) { return secret.Generate(nil) }

// HashClientSecret returns the hash to store for a secret. A secret from
// GenerateClientSecret gets the fast scheme; any other (perhaps
// human-chosen) secret gets argon2id.
func HashClientSecret(plain string) (string, error) { return secret.Hash(plain, nil) }
