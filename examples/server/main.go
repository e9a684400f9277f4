// Command server is tollgate's demo authorization server: one binary, a
// token endpoint, JWKS and metadata.
//
//	go run ./examples/server                  # zero config: prints a demo client and a curl line
//	go run ./examples/server -config FILE     # from YAML (see the README)
//	go run ./examples/server -listen :9090    # overrides the config's listen address
//	go run ./examples/server hash-secret      # reads a secret on stdin, prints its secret_hash
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

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

const (
	defaultListen   = "127.0.0.1:8080"
	demoClientID    = "demo"
	demoStorefront  = "demo-storefront"
	demoAudience    = "https://api.example.com"
	demoQAAudience  = "https://qa-api.example.com"
	shutdownTimeout = 10 * time.Second
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
		return hashSecret(stdin, stdout)
	}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config `file` (default: built-in demo config)")
	listen := fs.String("listen", "", "`host:port` to listen on, overriding the config (default "+defaultListen+")")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	cfg, demoSecret, err := loadOrDefault(*configPath)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
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
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := buildServer(cfg, logger)
	if err != nil {
		return err
	}

	addr := ln.Addr().String()
	fmt.Fprintf(stdout, "tollgate demo server on http://%s (issuer %s)\n", addr, cfg.Issuer)
	if demoSecret != "" {
		printDemo(stdout, cfg.Issuer, demoSecret)
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
// a freshly generated secret (returned so it can be printed once).
func loadOrDefault(path string) (cfg *fileConfig, demoSecret string, err error) {
	if path == "" {
		return demoConfig()
	}
	cfg, err = loadConfig(path)
	return cfg, "", err
}

func demoConfig() (*fileConfig, string, error) {
	plain, hash, err := handler.GenerateClientSecret()
	if err != nil {
		return nil, "", err
	}
	return &fileConfig{
		Keys: []keyConfig{{KID: "k1", Alg: "RS256"}},
		Clients: []clientConfig{
			{
				ID: demoClientID, SecretHash: hash, GrantTypes: []string{"client_credentials"},
				Scopes:        []string{"market:all", "market:id:*", "orders:read", "orders:write"},
				DefaultScopes: []string{"market:all"},
				Audiences:     []string{demoAudience, demoQAAudience}, AccessTokenTTL: duration(2 * time.Hour),
			},
			{
				ID: demoStorefront, Public: true, GrantTypes: []string{"client_credentials"},
				Scopes: []string{"market:id:*"}, RequireScope: true,
				Audiences: []string{demoAudience}, AccessTokenTTL: duration(4 * time.Hour),
			},
		},
	}, plain, nil
}

// buildServer turns the file config into a handler.Server over an
// in-memory client store.
func buildServer(cfg *fileConfig, logger *slog.Logger) (*handler.Server, error) {
	signing, err := cfg.signingKeys()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	store := memory.New()
	ctx := context.Background()
	for i, c := range cfg.Clients {
		hash := ""
		if c.Secret != "" {
			if hash, err = handler.HashClientSecret(c.Secret); err != nil {
				return nil, fmt.Errorf("config: clients[%d].secret: %w", i, err)
			}
		}
		if err := store.CreateClient(ctx, c.record(hash)); err != nil {
			return nil, fmt.Errorf("config: clients[%d].%w", i, err)
		}
	}
	var proxies []netip.Prefix
	for _, p := range cfg.TrustedProxies {
		pfx, _ := parsePrefix(p) // checked by loadConfig
		proxies = append(proxies, pfx)
	}
	return handler.New(handler.Config{
		Issuer:  cfg.Issuer,
		Clients: store,
		Keys:    signing,
		RateLimits: handler.RateLimits{
			Token: cfg.RateLimits.Token, TokenPerIP: cfg.RateLimits.TokenPerIP, FailedAuth: cfg.RateLimits.FailedAuth,
		},
		TrustedProxies:  proxies,
		ScopesSupported: scopesSupported(cfg.Clients),
		Logger:          logger,
	})
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

func printDemo(w io.Writer, issuer, secret string) {
	fmt.Fprintf(w, `
demo confidential client
  client_id:     %[2]s
  client_secret: %[3]s   (printed once; generated at start)
demo public client (no secret, must name a market scope)
  client_id:     %[4]s

get a token:
  curl -s -u %[2]s:%[3]s -d grant_type=client_credentials %[1]s/oauth/token
  curl -s -H 'Content-Type: application/json' -d '{"grant_type":"client_credentials","client_id":"%[4]s","scope":"market:id:xYZkjABcde"}' %[1]s/oauth/token

`, issuer, demoClientID, secret, demoStorefront)
}

// hashSecret prints the secret_hash for a secret read from stdin (one
// line), so config files need not hold plain secrets.
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
