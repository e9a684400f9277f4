// Command server is tollgate's demo authorization server: one binary, the
// token, authorization, revocation and introspection endpoints, JWKS and
// metadata, and demo-only sign-in and sign-out pages (/login, /logout) for
// the users in its config.
//
//	go run ./examples/server                  # zero config: prints demo clients, a user and curl lines
//	go run ./examples/server -config FILE     # from YAML (see the README)
//	go run ./examples/server -listen :9090    # overrides the config's listen address
//	go run ./examples/server -issuer https://auth.example.com   # overrides the config's issuer
//	go run ./examples/server -storage postgres://… -allow-unsealed-keys   # keys unencrypted: no TOLLGATE_KEY_ENCRYPTION_KEY
//	go run ./examples/server hash-secret      # reads a secret or password on stdin, prints its hash
//	go run ./examples/server clients list     # client management: list, add, rotate-secret, delete
//	go run ./examples/server keys list        # signing keys: list, rotate, retire KID
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/ratelimit"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

const (
	defaultListen    = "127.0.0.1:8080"
	defaultLoginRate = "10-M" // failed sign-ins per IP, and per username
	shutdownTimeout  = 10 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// run is main without the process: tests call it with their own context,
// streams and a ready callback that receives the bound address.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, ready func(addr string)) error {
	if len(args) > 0 && args[0] == "hash-secret" {
		if len(args) > 1 && isHelp(args[1]) {
			fmt.Fprintln(stdout, hashSecretUsage)
			return nil
		}
		return hashSecret(stdin, stdout)
	}
	if len(args) > 0 && args[0] == "clients" {
		return runClients(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "keys" {
		return runKeys(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config `file` (default: built-in demo config)")
	storageFlag := fs.String("storage", "", "memory, sqlite:PATH or postgres://…, overriding the config (default "+defaultStorage+")")
	listen := fs.String("listen", "", "`host:port` to listen on, overriding the config (default "+defaultListen+")")
	issuerFlag := fs.String("issuer", "", "the issuer `URL` tokens name and clients reach the server at, overriding the config (default http:// and the listen address)")
	opsListen := fs.String("ops-listen", "", "`host:port` serving /healthz, /readyz and /metrics for operators, overriding the config (default: none)")
	allowUnsealed := fs.Bool(allowUnsealedFlag, false, "store generated signing keys unencrypted when "+kekEnv+" is not set (PostgreSQL), or keep using keys stored so")
	fs.Usage = func() { printUsage(fs.Output(), fs) }
	if len(args) > 0 && isHelp(args[0]) { // asked for: to stdout, exit 0
		printUsage(stdout, fs)
		return nil
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	cfg, d, err := loadOrDefault(*configPath)
	if err != nil {
		return err
	}
	// Checked, like the file, before anything is opened or bound.
	if err := cfg.overrideFlags(*listen, *storageFlag, *issuerFlag, *opsListen); err != nil {
		return err
	}
	if cfg.Storage == "" {
		cfg.Storage = defaultStorage
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	store, closeStore, err := openStorage(ctx, cfg.Storage)
	if err != nil {
		return cfg.setting("storage", err)
	}
	defer closeStore()
	warnMemory(logger, cfg.Storage)
	warnSharedDatabase(logger, cfg.Storage)
	seal, err := resolveSealing(ctx, cfg.Storage, store, *allowUnsealed, logger)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if cfg.Listen == "" {
		cfg.Listen = defaultListen
	}
	// Listen before building the server: with port 0 the issuer (and so
	// the printed curl line) can only name the port once it is bound.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close() // after Shutdown this is a no-op; on an early return it frees the port
	if cfg.Issuer == "" {
		cfg.Issuer = "http://" + issuerHost(cfg.Listen, ln.Addr())
	}
	// The handler writes its issuer without a trailing slash; print and
	// use it as written, so the startup line shows what resource APIs must
	// be configured with.
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	if d != nil {
		d.addUserFlow(cfg) // its redirect URI is on the issuer
		d.storage = cfg.Storage
	}
	ops, err := newOps(cfg)
	if err != nil {
		return err
	}
	srv, tg, err := buildServer(ctx, cfg, logger, d, store, seal, ops)
	if err != nil {
		return err
	}
	defer tg.Close() // stops the signing keys' re-reading
	if cfg.OpsListen != "" {
		stopOps, err := ops.serve(cfg.OpsListen, tg, logger, stdout)
		if err != nil {
			return err
		}
		defer stopOps()
	}

	addr := ln.Addr().String()
	keysNote := ""
	if seal.note != "" {
		keysNote = ", " + seal.note
	}
	fmt.Fprintf(stdout, "tollgate demo server on http://%s (issuer %s, storage %s%s)\n", addr, cfg.Issuer, redactStorage(cfg.Storage), keysNote)
	if d != nil {
		printDemo(stdout, d)
	}
	httpSrv := newHTTPServer(srv, logger)
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	if ready != nil {
		ready(addr)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHTTPServer bounds what a slow or hostile client can hold: headers
// must arrive within seconds and stay small (the token handler bounds
// bodies itself).
func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// issuerHost is the host:port clients reach the server at: the configured
// host (an unspecified one such as ":8080" or "0.0.0.0" is reachable as
// localhost) with the port actually bound, which differs when it was 0.
func issuerHost(listen string, bound net.Addr) string {
	host, _, _ := net.SplitHostPort(listen)
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	_, port, _ := net.SplitHostPort(bound.String())
	return net.JoinHostPort(host, port)
}

// loadOrDefault reads the config file, or builds the zero-config demo with
// freshly generated secrets (returned so they can be printed once).
func loadOrDefault(path string) (*fileConfig, *demo, error) {
	if path == "" {
		return demoConfig()
	}
	cfg, err := loadConfig(path)
	return cfg, nil, err
}

// buildServer turns the file config into the demo's routes: the sign-in
// and callback pages, and the tollgate handler (over an in-memory store)
// for everything else. d is the zero-config demo, or nil.
func buildServer(ctx context.Context, cfg *fileConfig, logger *slog.Logger, d *demo, store storage.Store, seal keySealing, ops *ops) (http.Handler, *handler.Server, error) {
	signing, err := cfg.signingKeys()
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	createOnly := map[string]bool{}
	if d != nil {
		createOnly[demoClientID] = true
	}
	created, err := syncClients(ctx, store, cfg, createOnly)
	if err != nil {
		return nil, nil, err
	}
	if d != nil && !created[demoClientID] {
		d.secret = "" // set when the database was made; not known any more
	}
	if err := checkStoredSubjects(ctx, store, cfg.Users); err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	limitStore, err := rateLimitStore(cfg.RateLimits)
	if err != nil {
		return nil, nil, err
	}
	if ops != nil {
		ops.limits = limitStore
	}
	var proxies []netip.Prefix
	for _, p := range cfg.TrustedProxies {
		pfx, _ := parsePrefix(p) // checked by loadConfig
		proxies = append(proxies, pfx)
	}
	hcfg := handler.Config{
		Issuer:  cfg.Issuer,
		Clients: store,
		Tokens:  store,
		// The handler keeps the keys it generates in the store: the
		// configured keys without a file (by kid) and the refresh-token MAC
		// key, sealed with the key-encryption key, so restarts and several
		// instances share them.
		KeyStore:         store,
		KeyEncryptionKey: seal.kek,
		Keys:             signing,
		KeyRotation:      handler.KeyRotation{Every: time.Duration(cfg.KeyRotation), PublishAhead: time.Duration(cfg.KeyPublishAhead)},
		RateLimits: handler.RateLimits{
			Token: cfg.RateLimits.Token, TokenPerIP: cfg.RateLimits.TokenPerIP, FailedAuth: cfg.RateLimits.FailedAuth,
			Store: limitStore, FailClosed: cfg.RateLimits.OnStoreError == "closed",
		},
		TrustedProxies:  proxies,
		ScopesSupported: scopesSupported(cfg.Clients),
		Logger:          logger,
		Metrics:         ops.handlerMetrics(),
	}
	if cfg.Audit {
		hcfg.AuditLogger = logger
	}
	mux := http.NewServeMux()
	var consent *consentPage
	// Users enable the authorization endpoint: without them nobody could
	// sign in (check refuses authorization_code clients then).
	if len(cfg.Users) > 0 {
		login, err := newLoginPage(cfg, proxies, limitStore, logger)
		if err != nil {
			return nil, nil, err
		}
		hcfg.Login = login.hook
		hcfg.Claims = login.users.claims
		login.routes(mux)
		consent = newConsentPage(login.signer, cfg.Clients, logger)
		hcfg.Consent = consent.hook
		consent.routes(mux)
	}
	mux.Handle("GET "+callbackPath, callbackPage{demo: d, log: logger})
	srv, err := handler.New(hcfg)
	if errors.Is(err, handler.ErrKeyEncryptionKey) {
		return nil, nil, fmt.Errorf("signing keys: %w (the key-encryption key is read from %s)", err, seal.source)
	}
	if err != nil {
		return nil, nil, cfg.settingError(err) // names the YAML key or flag, not the Go field
	}
	if consent != nil {
		consent.srv = srv
	}
	mux.Handle("/", srv)
	return mux, srv, nil
}

// newLoginPage builds the sign-in pages. Failed sign-ins are counted in
// store, the token endpoint's (Redis, shared by every instance) when the
// config names one, else in process.
func newLoginPage(cfg *fileConfig, proxies []netip.Prefix, store limiter.Store, logger *slog.Logger) (*loginPage, error) {
	u, err := newUsers(cfg.Users)
	if err != nil {
		return nil, err
	}
	rate := cfg.RateLimits.Login
	if rate == "" {
		rate = defaultLoginRate
	}
	if store == nil {
		store = ratelimit.NewMemoryStore()
	}
	failedIP, err := ratelimit.New(store, rate, "login:failed:")
	if err != nil {
		return nil, fmt.Errorf("config: rate_limits.login: %w", err)
	}
	failedUser, err := ratelimit.New(store, rate, "login:user:")
	if err != nil {
		return nil, fmt.Errorf("config: rate_limits.login: %w", err)
	}
	s, err := newSigner(strings.HasPrefix(cfg.Issuer, "https:"), time.Now)
	if err != nil {
		return nil, err
	}
	return &loginPage{users: u, signer: s, failedIP: failedIP, failedUser: failedUser,
		failClosed: cfg.RateLimits.OnStoreError == "closed",
		ips:        ratelimit.ClientIP{TrustedProxies: proxies}, log: logger}, nil
}

// scopesSupported publishes the concrete scopes the clients can get;
// wildcard patterns are not scopes a client can ask for by name.
func scopesSupported(clients []clientConfig) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range clients {
		for _, s := range c.Scopes {
			if !strings.Contains(s, "*") && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// hashSecret prints the secret_hash (or a user's password_hash) for a
// secret read from stdin (one line), so config files need not hold plain
// secrets.
func hashSecret(stdin io.Reader, stdout io.Writer) error {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return errors.New("hash-secret: no secret on stdin")
	}
	hash, err := handler.HashClientSecret(line)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, hash)
	return nil
}

// rateLimitStore is the counter store the config names: nil (the
// handler's in-process default) or Redis, shared by every instance.
func rateLimitStore(rc rateConfig) (limiter.Store, error) {
	if rc.Store == "" || rc.Store == "memory" {
		return nil, nil
	}
	s, err := ratelimit.NewRedisStore(rc.Store, "demo")
	if err != nil {
		return nil, fmt.Errorf("config: rate_limits.store: %w", err)
	}
	return s, nil
}

// redactStorage hides every password in a storage spec for the startup
// line: sqlstore's redaction, the one its own errors use.
func redactStorage(spec string) string { return sqlstore.RedactDSN(spec) }
