// Command resource-api is a small protected API in front of which tollgate's
// middleware checks access tokens. Its defaults work against
// examples/server out of the box:
//
//	go run ./examples/server        # terminal 1: the token server on :8080
//	go run ./examples/resource-api  # terminal 2: this API on :8082
//
// Routes: GET /public (no token), GET /orders (scope orders:read), POST
// /orders (scope orders:write), all rate-limited per client.
//
// Revoked tokens are refused within 10 s: the API finds the issuer's
// revocation feed in its metadata (<issuer>/.well-known/
// oauth-authorization-server) and polls it. An issuer that advertises no
// feed is logged, and its revoked tokens pass until they expire.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/ratelimit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "resource-api:", err)
		os.Exit(1)
	}
}

// run is main without the process, for tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("resource-api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	issuer := fs.String("issuer", "http://127.0.0.1:8080", "token issuer (exact iss)")
	jwks := fs.String("jwks", "", "JWKS URL (default <issuer>/.well-known/jwks.json)")
	audience := fs.String("audience", "https://api.example.com", "this API's identifier (must be in aud)")
	listen := fs.String("listen", "127.0.0.1:8082", "host:port to listen on")
	rate := fs.String("rate", "60-M", "requests per client (ulule/limiter format)")
	rateStore := fs.String("rate-store", "", "redis:// URL to share the rate-limit counters between instances (default: in process)")
	failClosed := fs.Bool("rate-fail-closed", false, "answer 503 when the rate-limit store fails (default: let requests through)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *jwks == "" {
		*jwks = *issuer + "/.well-known/jwks.json"
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	// RetryStartup: the API may start before the token server; requests
	// get 503 until the keys arrive.
	keys, err := middleware.RemoteJWKS(ctx, *jwks, middleware.RemoteOptions{RetryStartup: true, Logger: logger})
	if err != nil {
		return err
	}
	defer keys.Close()
	revoked, err := revocations(ctx, *issuer, logger)
	if err != nil {
		return err
	}
	if revoked != nil {
		defer revoked.Close()
	}
	mw, err := middleware.New(middleware.Config{Issuer: *issuer, Audience: *audience, Keys: keys,
		Revocations: revoked, Logger: logger})
	if err != nil {
		return err
	}
	limits := middleware.RateLimit{Rate: *rate, FailClosed: *failClosed}
	if *rateStore != "" {
		if limits.Store, err = ratelimit.NewRedisStore(*rateStore, "tollgate-api"); err != nil {
			return err
		}
	}
	router, err := newRouter(mw, limits)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "resource API on http://%s (issuer %s, audience %s)\n", ln.Addr(), *issuer, *audience)
	srv := &http.Server{Handler: router, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 15 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// revocations follows the revocation feed the issuer's metadata names,
// refusing revoked tokens within middleware.DefaultRevocationMaxDelay (10
// s). RetryStartup, as for the keys: the token server may start later. It
// returns nil when the issuer advertises no feed.
func revocations(ctx context.Context, issuer string, logger *slog.Logger) (*middleware.Revocations, error) {
	rv, err := middleware.IssuerRevocationFeed(ctx, issuer+"/.well-known/oauth-authorization-server", issuer,
		middleware.RevocationOptions{RetryStartup: true, Logger: logger})
	if errors.Is(err, middleware.ErrNoRevocationFeed) {
		logger.Warn("the issuer advertises no revocation feed: revoked tokens pass until they expire", "issuer", issuer)
		return nil, nil
	}
	return rv, err
}

// newRouter wires the routes: /public is open; /orders is rate-limited per
// client, and each method asks for its own scope.
func newRouter(mw *middleware.Middleware, limits middleware.RateLimit) (*mux.Router, error) {
	limit, err := mw.RateLimit(limits)
	if err != nil {
		return nil, err
	}
	o := &orders{}
	r := mux.NewRouter()
	r.HandleFunc("/public", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"message": "no token needed here"})
	}).Methods(http.MethodGet)

	api := r.PathPrefix("/orders").Subrouter()
	api.Use(mw.Authenticate, limit)
	api.Handle("", mw.RequireScopes("orders:read")(http.HandlerFunc(o.list))).Methods(http.MethodGet)
	api.Handle("", mw.RequireScopes("orders:write")(http.HandlerFunc(o.create))).Methods(http.MethodPost)
	return r, nil
}

type order struct {
	ID       int    `json:"id"`
	Item     string `json:"item"`
	ClientID string `json:"client_id"`
}

// orders is an in-memory order book.
type orders struct {
	mu   sync.Mutex
	book []order
}

func (o *orders) list(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"orders": append([]order{}, o.book...)})
}

func (o *orders) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Item string `json:"item"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil || in.Item == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `send {"item": "..."}`})
		return
	}
	c, _ := middleware.ClaimsFrom(r.Context())
	o.mu.Lock()
	ord := order{ID: len(o.book) + 1, Item: in.Item, ClientID: c.ClientID}
	o.book = append(o.book, ord)
	o.mu.Unlock()
	writeJSON(w, http.StatusCreated, ord)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
