package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate-oauth/tollgate/internal/issuer"
	"github.com/tollgate-oauth/tollgate/internal/jwtverify"
)

// Defaults for zero Config fields.
const (
	DefaultLeeway        = 30 * time.Second
	DefaultMaxTokenBytes = 8 << 10
	DefaultCacheSize     = 10_000
	DefaultRealm         = "api"
)

// Config configures a Middleware. Zero values of optional fields are safe
// defaults.
type Config struct {
	// Issuer is the token server's issuer identifier, an absolute http(s)
	// URL, which a token's iss must equal exactly (RFC 9068 §4). A tollgate
	// server writes its issuer without a trailing slash. On a mismatch the
	// debug log and [Error.Cause] give both values. Required.
	Issuer string
	// Audience is this API's identifier; the token's aud must contain it.
	// Required.
	Audience string
	// Keys verify signatures: LocalKeys, RemoteJWKS or IssuerMetadata.
	// Required.
	Keys *KeySet

	// Revocations, if set, refuses revoked tokens: those whose jti or
	// grant_id the issuer's revocation feed lists (see [RevocationFeed],
	// [IssuerRevocationFeed]). Default nil: a revoked token is accepted
	// until it expires.
	Revocations *Revocations

	// Algorithms allowed in tokens. Default RS256, ES256, EdDSA. Only
	// asymmetric algorithms are accepted; "none" and HMAC never are.
	Algorithms []string
	// Leeway for exp, nbf and iat. Default 30 s; negative is an error.
	Leeway time.Duration
	// AllowUntypedTokens accepts tokens from legacy issuers: typ absent or
	// "JWT" instead of "at+jwt", and no sub or client_id. Default false.
	AllowUntypedTokens bool
	// AllowQueryToken also reads the token from an access_token query
	// parameter when there is no Authorization header. Default false: RFC
	// 6750 §2.3 says not to, since URLs end up in logs.
	AllowQueryToken bool
	// MaxTokenBytes bounds a token. Default 8 KiB.
	MaxTokenBytes int
	// CacheSize bounds the cache of verified tokens (by SHA-256 of the
	// token, never past its exp). Default 10000; negative disables it.
	CacheSize int
	// Realm is the realm of the WWW-Authenticate challenge. Default "api".
	Realm string
	// ErrorWriter, if set, writes every failure instead of the default
	// RFC 6750 answer.
	ErrorWriter ErrorWriter
	// Logger receives verification failures at debug level. Default
	// slog.Default(). Tokens are never logged.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time

	// Metrics, if set, counts accepted and refused requests (by reason)
	// and the verified-token cache's hits and misses; see [NewMetrics].
	// Default nil: no metrics, at no cost.
	Metrics *Metrics
	// TracerProvider, if set, traces each verification in a span named
	// tollgate.middleware.authenticate: its outcome (accepted or the
	// refusal reason), whether the cache served it, and for an accepted
	// token the kid, alg and client_id. Never the token, its jti or
	// subject. Default nil: no spans.
	TracerProvider trace.TracerProvider
}

func (cfg Config) withDefaults() (Config, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("middleware: "+format, args...)) }
	if err := issuer.Check(cfg.Issuer); err != nil {
		bad("Config.Issuer %v", err)
	}
	if cfg.Audience == "" {
		bad("Config.Audience is required")
	}
	if cfg.Keys == nil {
		bad("Config.Keys is required (LocalKeys, RemoteJWKS or IssuerMetadata)")
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = jwtverify.DefaultAlgorithms
	}
	cfg.Algorithms = slices.Clone(cfg.Algorithms)
	for _, a := range cfg.Algorithms {
		if !slices.Contains(jwtverify.Asymmetric, a) {
			bad("Config.Algorithms: %q is not an asymmetric JWS algorithm", a)
		}
	}
	switch {
	case cfg.Leeway < 0:
		bad("Config.Leeway must not be negative")
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway > 5*time.Minute:
		bad("Config.Leeway %v is more than 5 minutes", cfg.Leeway)
	}
	if cfg.MaxTokenBytes < 0 {
		bad("Config.MaxTokenBytes must not be negative")
	} else if cfg.MaxTokenBytes == 0 {
		cfg.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultRealm
	} else if !quotable(cfg.Realm) {
		bad("Config.Realm %q must be printable ASCII without quotes or backslashes", cfg.Realm)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	return cfg, errors.Join(errs...)
}

// quotable reports whether s can sit inside a quoted-string of a
// WWW-Authenticate header without escaping.
func quotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
