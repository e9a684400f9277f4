package middleware

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate-oauth/tollgate/internal/jwtverify"
)

// Middleware validates bearer tokens. Build one with New and use its
// methods as middleware; it is safe for concurrent use.
type Middleware struct {
	cfg     Config
	policy  jwtverify.Policy
	cache   *tokenCache
	write   ErrorWriter
	metrics *Metrics     // nil: off
	tracer  trace.Tracer // nil: off
}

// New checks cfg and returns a Middleware. Every problem is reported.
func New(cfg Config) (*Middleware, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Middleware{
		cfg: cfg,
		policy: jwtverify.Policy{
			Issuer: cfg.Issuer, Audience: cfg.Audience, Algorithms: cfg.Algorithms, Leeway: cfg.Leeway,
			AllowUntyped: cfg.AllowUntypedTokens, MaxBytes: cfg.MaxTokenBytes,
		},
		cache:   newTokenCache(cfg.CacheSize),
		write:   cfg.ErrorWriter,
		metrics: cfg.Metrics,
		tracer:  tracerOf(cfg.TracerProvider),
	}
	if m.write == nil {
		m.write = WriteError
	}
	return m, nil
}

// Authenticate lets through requests with a valid access token, with its
// claims in the context ([ClaimsFrom]), and answers the others per RFC
// 6750.
//
// A request this instance already verified, further up the chain, is not
// verified again. Claims verified by another instance do not count: nested
// instances (API B's inside API A's) each verify the token against their
// own Config, and each one's scope checks and rate limits read its own
// claims. Claims put in by [WithClaims] count for every instance.
func (m *Middleware) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := m.claimsFor(r.Context()); ok {
			next.ServeHTTP(w, r) // already authenticated further up the chain
			return
		}
		var claims *Claims
		var e *Error
		if m.tracer != nil {
			claims, e = m.authenticateTraced(r)
		} else {
			claims, _, e = m.authenticate(r.Context(), r)
		}
		if e != nil {
			m.refuse(w, r, e)
			return
		}
		if m.metrics != nil {
			m.metrics.accepted.Inc()
		}
		next.ServeHTTP(w, r.WithContext(m.withClaims(r.Context(), claims)))
	})
}

// refuse counts e and writes it.
func (m *Middleware) refuse(w http.ResponseWriter, r *http.Request, e *Error) {
	m.metrics.refusedFor(e.reason)
	m.write(w, r, e, m.cfg.Realm)
}

// authenticate finds and verifies the request's token, and checks it is
// not revoked; cached reports that the verified-token cache served it. ctx
// is r's context, or a span's under it.
func (m *Middleware) authenticate(ctx context.Context, r *http.Request) (claims *Claims, cached bool, e *Error) {
	token, e := m.bearerToken(r)
	if e != nil {
		return nil, false, e
	}
	now := m.cfg.Now()
	claims, cached, err := m.verify(ctx, token, now)
	if errors.Is(err, errSyntax) {
		return nil, false, malformedHeader()
	}
	if err != nil {
		if errors.Is(err, jwtverify.ErrKeysUnavailable) {
			h := http.Header{"Retry-After": {"5"}}
			return nil, false, &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
				Description: "the issuer's keys are not available yet", Header: h, reason: reasonKeysUnavailable}
		}
		m.cfg.Logger.DebugContext(ctx, "access token refused", "error", err)
		return nil, false, &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: jwtverify.Reason(err),
			Cause: err, reason: verifyReason(err)}
	}
	// Checked on every request, cached tokens included: a revocation
	// must reach tokens verified before it.
	if rv := m.cfg.Revocations; rv != nil {
		if e := rv.check(claims, now); e != nil {
			m.cfg.Logger.DebugContext(ctx, "access token refused", "error", e.Description)
			return nil, false, e
		}
	}
	return claims, cached, nil
}

// verify returns the claims of a token valid at now, from the cache
// (cached) when this token was verified before under the current key set.
func (m *Middleware) verify(ctx context.Context, token string, now time.Time) (c *Claims, cached bool, err error) {
	version := m.cfg.Keys.version()
	var key [sha256.Size]byte
	if m.cache != nil {
		key = tokenHash(token)
		if c := m.cache.get(key, now, version); c != nil {
			if m.metrics != nil {
				m.metrics.cacheHits.Inc()
			}
			return c, true, nil // the same bytes passed every check below before
		}
		if m.metrics != nil {
			m.metrics.cacheMisses.Inc()
		}
	}
	if !validToken68(token) {
		return nil, false, errSyntax
	}
	v, err := jwtverify.Verify(ctx, token, m.cfg.Keys.key, &m.policy, now)
	if err != nil {
		return nil, false, err
	}
	c = newClaims(v)
	// A refetch during Verify may have moved the set on: cache under the
	// generation the key came from, or not at all.
	if m.cache != nil && m.cfg.Keys.version() == version {
		m.cache.put(key, c, version)
	}
	return c, false, nil
}

// bearerToken extracts the token (RFC 6750 §2.1): "Bearer" in any case,
// one space, a b64token. Other schemes count as no token.
func (m *Middleware) bearerToken(r *http.Request) (string, *Error) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) > 1:
		return "", &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: "the Authorization header is repeated", reason: reasonInvalidRequest}
	case len(values) == 0:
		if m.cfg.AllowQueryToken {
			if q := r.URL.Query()["access_token"]; len(q) == 1 && q[0] != "" && validToken68(q[0]) {
				if len(q[0]) > m.cfg.MaxTokenBytes { // the header's bound, here too
					return "", &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: jwtverify.ErrMalformed.Error(),
						reason: reasonMalformedToken}
				}
				return q[0], nil
			} else if len(q) > 0 {
				return "", &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: "the access_token parameter is malformed", reason: reasonInvalidRequest}
			}
		} else if r.URL.Query().Has("access_token") {
			return "", &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest,
				Description: "access tokens are accepted in the Authorization header only", reason: reasonInvalidRequest}
		}
		return "", &Error{Status: http.StatusUnauthorized, Description: "an access token is required", reason: reasonMissingToken}
	}
	if r.URL.RawQuery != "" && r.URL.Query().Has("access_token") {
		return "", &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest,
			Description: "the access token was sent more than one way (RFC 6750 section 3.1)", reason: reasonInvalidRequest}
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	if !asciiEqualFold(scheme, "bearer") {
		if s, _, _ := strings.Cut(scheme, "\t"); asciiEqualFold(s, "bearer") {
			return "", malformedHeader()
		}
		return "", &Error{Status: http.StatusUnauthorized, Description: "an access token is required (Bearer scheme)", reason: reasonMissingToken}
	}
	if len(token) > m.cfg.MaxTokenBytes {
		return "", &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: jwtverify.ErrMalformed.Error(),
			reason: reasonMalformedToken}
	}
	if token == "" {
		return "", malformedHeader()
	}
	return token, nil // its syntax is checked in verify, after the cache
}

// errSyntax: the credentials are not an RFC 6750 b64token.
var errSyntax = errors.New("middleware: not a b64token")

// tokenHash is the cache key of a token: SHA-256 of its bytes, read in
// place (the token is not copied: this runs on every request).
func tokenHash(token string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

func malformedHeader() *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: "the Authorization header is not a Bearer token",
		reason: reasonInvalidRequest}
}

// validToken68 reports whether s is an RFC 6750 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func validToken68(s string) bool {
	i := 0
	for i < len(s) && token68Char[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// token68Char is the b64token alphabet without "=", as a table: the check
// runs over every byte of every first-seen token.
var token68Char = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
