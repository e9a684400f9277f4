package handler

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/go-jose/go-jose/v4"

	"github.com/tollgate-oauth/tollgate/internal/clientcache"
	"github.com/tollgate-oauth/tollgate/internal/clientip"
	"github.com/tollgate-oauth/tollgate/internal/keys"
	"github.com/tollgate-oauth/tollgate/internal/provider"
	"github.com/tollgate-oauth/tollgate/internal/ratelimit"
	"github.com/tollgate-oauth/tollgate/internal/secret"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// Paths of the endpoints, relative to where the Server is mounted.
const (
	TokenPath      = "/oauth/token"
	AuthorizePath  = "/oauth/authorize"
	RevokePath     = "/oauth/revoke"
	IntrospectPath = "/oauth/introspect"
	JWKSPath       = "/.well-known/jwks.json"
	MetadataPath   = "/.well-known/oauth-authorization-server"
	// RevocationsPath is the revocation feed (revocations.go): what was
	// revoked, for resource servers to poll.
	RevocationsPath = "/oauth/revocations"
)

// Server is the authorization server. It is safe for concurrent use.
type Server struct {
	cfg      Config
	clients  storage.ClientGetter // Config.Clients, or a cache in front of it
	tokens   storage.TokenStore
	consents storage.ConsentStore
	keys     *keys.Ring // the signing keys; replaced whole when they rotate
	keyStore storage.KeyStore
	rot      *rotation // nil unless Config.KeyRotation is on
	provider *provider.Provider
	verifier *secret.Verifier
	ips      clientip.Resolver
	log      *slog.Logger
	obs      *observer // metrics, spans, audit events; each part nil when off
	mux      *http.ServeMux
	metadata []byte

	limitClient *ratelimit.Limiter // token requests per client
	limitIP     *ratelimit.Limiter // token requests per IP
	limitFailed *ratelimit.Limiter // failed authentications per client and per IP

	purge purger // deletes expired codes, families, revocations
}

// New validates cfg and builds a Server. Every problem in cfg is reported,
// one per line; a problem of a field is a [*ConfigError] naming it.
func New(cfg Config) (*Server, error) {
	cfg, cfgErr := cfg.withDefaults()
	if cfg.Tokens == nil {
		cfg.Tokens = memory.New()
	}
	ks := cfg.KeyStore
	if ks == nil {
		ks, _ = cfg.Tokens.(storage.KeyStore)
	}
	var keyErr error
	if cfgErr == nil && ks == nil && cfg.KeyRotation.Every > 0 {
		keyErr = configError("KeyRotation", "needs a Config.KeyStore (or Tokens that is one) to keep the keys in")
	}
	if cfgErr == nil && keyErr == nil {
		// Only a valid config reaches the store: New must not write a key
		// for a config it is about to refuse.
		cfg.Keys, keyErr = persistKeys(cfg, ks)
	}
	set, setErr := buildKeys(cfg)
	if err := errors.Join(cfgErr, keyErr, setErr); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, clients: cfg.Clients, tokens: cfg.Tokens, keys: keys.NewRing(set), keyStore: ks, log: cfg.Logger,
		ips: clientip.Resolver{Trusted: cfg.TrustedProxies}, obs: newObserver(cfg)}
	if s.consents = cfg.Consents; s.consents == nil {
		if s.consents, _ = cfg.Tokens.(storage.ConsentStore); s.consents == nil {
			s.consents = memory.New()
		}
	}
	if s.obs.watching() {
		// The optional interfaces were found above, on the stores as
		// given (and persistKeys and refreshKey read them so); the
		// wrappers keep those the cache and the provider look for.
		s.clients, s.tokens = observeClients(cfg.Clients, s.obs), observeTokens(cfg.Tokens, s.obs)
		s.consents = observedConsents{next: s.consents, o: s.obs}
		if ks != nil {
			s.keyStore = observedKeys{next: ks, o: s.obs}
		}
	}
	if changes, ok := s.clients.(storage.ClientChanges); ok && cfg.ClientStaleness > 0 {
		// The real clock, not cfg.Now: the bound is how long a change
		// takes to travel, and a test clock standing still must not keep
		// a deleted client alive.
		s.clients = clientcache.New(s.clients, changes, clientcache.Options{Staleness: cfg.ClientStaleness, Logger: cfg.Logger,
			OnLookup: s.obs.cacheLookup()})
	}
	if cfg.KeyRotation.Every > 0 {
		// The first read decides the keys before the first request: a key
		// that cannot be opened stops New here, not a request later.
		s.rot = newRotation(cfg, s.keyStore)
		ctx, cancel := context.WithTimeout(context.Background(), keyRefreshTimeout)
		err := s.refreshKeys(ctx)
		cancel()
		if err != nil {
			if errors.Is(err, ErrKeyEncryptionKey) {
				return nil, fmt.Errorf("handler: Config.KeyStore: %w", err)
			}
			return nil, fmt.Errorf("handler: Config.KeyRotation: %w", err)
		}
	}
	var err error
	if s.verifier, err = secret.New(secret.Options{MaxSlow: cfg.MaxSlowHashes, Rand: cfg.Rand}); err != nil {
		return nil, fmt.Errorf("handler: %w", err)
	}
	store := cfg.RateLimits.Store
	if store == nil {
		store = ratelimit.NewMemoryStore()
	}
	rl := cfg.RateLimits
	// Rates were checked in withDefaults; New only fails on a bad rate.
	s.limitClient, _ = ratelimit.New(store, rl.Token, "tollgate:token:client:")
	s.limitIP, _ = ratelimit.New(store, rl.TokenPerIP, "tollgate:token:ip:")
	s.limitFailed, _ = ratelimit.New(store, rl.FailedAuth, "tollgate:failed-auth:")

	var claims provider.ClaimsFunc
	if cfg.Claims != nil {
		claims = func(ctx context.Context, in provider.ClaimsInput) (map[string]any, error) {
			return cfg.Claims(ctx, ClaimsRequest(in))
		}
	}
	macKey, err := refreshKey(cfg, ks, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("handler: Config.KeyStore: %w", err)
	}
	s.provider, err = provider.New(provider.Options{
		Issuer: cfg.Issuer, TokenURL: cfg.Issuer + TokenPath, Keys: s.keys, Clients: s.clients,
		AccessTokenTTL: cfg.AccessTokenTTL, Now: cfg.Now, Rand: cfg.Rand, Claims: claims,
		Tokens: s.tokens, RefreshKey: macKey, RefreshTokenTTL: cfg.RefreshTokenTTL, CodeTTL: cfg.AuthorizationCodeTTL,
		AuthorizationCode: cfg.Login != nil, PKCEPlain: cfg.PKCE.AllowPlain, PKCEOptional: cfg.PKCE.OptionalForConfidential,
		Grants: extensionGrants(cfg.Grants), Tracer: s.obs.tracer, OnReplay: s.obs.replayed,
	})
	if err != nil {
		return nil, fmt.Errorf("handler: %w", err)
	}
	s.obs.setGrants(s.provider.GrantTypes())
	// The metadata needs the provider's grant types.
	if s.metadata, err = s.buildMetadata(); err != nil {
		return nil, err
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc(TokenPath, s.endpoint(epToken, s.serveToken))
	s.mux.HandleFunc(RevokePath, s.endpoint(epRevoke, s.serveRevoke))
	s.mux.HandleFunc(IntrospectPath, s.endpoint(epIntrospect, s.serveIntrospect))
	if cfg.Login != nil {
		s.mux.HandleFunc(AuthorizePath, s.endpoint(epAuthorize, s.serveAuthorize))
	}
	s.mux.HandleFunc(JWKSPath, s.endpoint(epJWKS, s.serveJWKS))
	s.mux.HandleFunc(MetadataPath, s.endpoint(epMetadata, s.serveMetadata))
	s.mux.HandleFunc(RevocationsPath, s.endpoint(epRevocations, s.serveRevocations))
	if s.rot != nil {
		go s.rotationLoop()
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Issuer returns the issuer identifier, as in tokens.
func (s *Server) Issuer() string { return s.cfg.Issuer }

// CheckClient is what a host runs on a client registration before it
// stores it: [storage.Client.Validate], and every grant type supported by
// this server. An extension grant must be in [Config.Grants], and
// authorization_code needs [Config.Login]; a name close to a supported
// one is answered with a suggestion.
func (s *Server) CheckClient(c *storage.Client) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return c.CheckGrantTypes(s.provider.GrantTypes())
}

// JWKS returns the public key set (RFC 7517 JSON) that verifies this
// server's tokens, for resource servers in the same process.
func (s *Server) JWKS() []byte { return append([]byte(nil), s.keys.Load().JWKS()...) }

// persistKeys returns cfg.Keys with every key that has an ID but no Key
// read from ks, or generated and stored there (keystore.go), so that
// restarts and every instance sharing ks sign with the same key. Without
// ks such keys are left to buildKeys to generate, for this process only.
func persistKeys(cfg Config, ks storage.KeyStore) ([]SigningKey, error) {
	out := slices.Clone(cfg.Keys)
	if ks == nil {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), refreshKeyTimeout)
	defer cancel()
	var errs []error
	for i, sk := range out {
		if sk.Key != nil || sk.ID == "" {
			continue
		}
		priv, _, err := storedSigningKey(ctx, ks, cfg.KeyEncryptionKey,
			storage.SigningKey{ID: sk.ID, Algorithm: sk.Algorithm, CreatedAt: cfg.Now()}, cfg.Rand)
		if err != nil {
			errs = append(errs, &ConfigError{Field: fmt.Sprintf("Keys[%d]", i), Err: err})
			continue
		}
		out[i].Key = priv
	}
	return out, errors.Join(errs...)
}

// buildKeys generates or binds every configured key. Keys whose algorithm
// withDefaults already refused are skipped, so each problem is told once.
func buildKeys(cfg Config) (*keys.Set, error) {
	var list []*keys.Key
	var errs []error
	for i, sk := range cfg.Keys {
		if !validAlg(sk.Algorithm) {
			continue
		}
		priv := sk.Key
		if priv == nil {
			var err error
			if priv, err = keys.Generate(sk.Algorithm, cfg.Rand); err != nil {
				errs = append(errs, &ConfigError{Field: fmt.Sprintf("Keys[%d]", i), Err: err})
				continue
			}
		}
		id := sk.ID
		if id == "" {
			tp, err := (&jose.JSONWebKey{Key: priv.Public()}).Thumbprint(crypto.SHA256)
			if err != nil {
				errs = append(errs, &ConfigError{Field: fmt.Sprintf("Keys[%d]", i), Err: err})
				continue
			}
			id = base64.RawURLEncoding.EncodeToString(tp)
		}
		k, err := keys.New(id, sk.Algorithm, priv)
		if err != nil {
			errs = append(errs, &ConfigError{Field: fmt.Sprintf("Keys[%d]", i), Err: err})
			continue
		}
		list = append(list, k)
	}
	if len(errs) > 0 || len(list) < len(cfg.Keys) {
		return nil, errors.Join(errs...)
	}
	set, err := keys.NewSet(list...)
	if err != nil {
		return nil, &ConfigError{Field: "Keys", Err: err}
	}
	return set, nil
}
