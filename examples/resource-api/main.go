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
//
// With -ops-listen HOST:PORT, a second address serves /healthz, /readyz
// (200 once the issuer's keys are fetched, 503 and why before) and
// /metrics (Prometheus); they are never served on the API's address.
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
	"github.com/prometheus/client_golang/prometheus"

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

// run is main without the process, for tests. ready, if set, gets the
// addresses served once they listen: the API's, and the operations
// endpoints' ("" without -ops-listen).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(api, ops string)) error {
	fs := flag.NewFlagSet("resource-api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	issuer := fs.String("issuer", "http://127.0.0.1:8080", "token issuer (exact iss)")
	jwks := fs.String("jwks", "", "JWKS URL (default <issuer>/.well-known/jwks.json)")
	audience := fs.String("audience", "https://api.example.com", "this API's identifier (must be in aud)")
	listen := fs.String("listen", "127.0.0.1:8082", "host:port to listen on")
	rate := fs.String("rate", "60-M", "requests per client (ulule/limiter format)")
	rateStore := fs.String("rate-store", "", "redis:// URL to share the rate-limit counters between instances (default: in process)")
	failClosed := fs.Bool("rate-fail-closed", false, "answer 503 when the rate-limit store fails (default: let requests through)")
	opsListen := fs.String("ops-listen", "", "host:port serving /healthz, /readyz and /metrics (default: none)")
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
	var (
		reg     *prometheus.Registry
		metrics *middleware.Metrics // nil: no metrics
		err     error
	)
	if *opsListen != "" {
		if reg, metrics, err = newMetrics(); err != nil {
			return err
		}
	}

	// RetryStartup: the API may start before the token server; requests
	// get 503, and /readyz too, until the keys arrive.
	keys, err := middleware.RemoteJWKS(ctx, *jwks, middleware.RemoteOptions{RetryStartup: true, Logger: logger, Metrics: metrics})
	if err != nil {
		return err
	}
	defer keys.Close()
	revoked, err := revocations(ctx, *issuer, logger, metrics)
	if err != nil {
		return err
	}
	if revoked != nil {
		defer revoked.Close()
	}
	mw, err := middleware.New(middleware.Config{Issuer: *issuer, Audience: *audience, Keys: keys,
		Revocations: revoked, Logger: logger, Metrics: metrics})
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

	var servers []*served
	defer func() {
		for _, s := range servers {
			s.ln.Close() // those never served; Shutdown closed the others
		}
	}()
	api, err := openServer(*listen, router)
	if err != nil {
		return err
	}
	servers = append(servers, api)
	fmt.Fprintf(stdout, "resource API on http://%s (issuer %s, audience %s)\n", api.ln.Addr(), *issuer, *audience)
	opsAddr := ""
	if *opsListen != "" {
		ops, err := openServer(*opsListen, newOpsHandler(mw, reg))
		if err != nil {
			return err
		}
		servers = append(servers, ops)
		opsAddr = ops.ln.Addr().String()
		fmt.Fprintf(stdout, "operations (/healthz, /readyz, /metrics) on http://%s\n", opsAddr)
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.srv.Serve(s.ln) }()
	}
	if ready != nil {
		ready(api.ln.Addr().String(), opsAddr)
	}
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.srv.Shutdown(sctx); err != nil && serveErr == nil {
			serveErr = err
		}
	}
	return serveErr
}

// served is a server and the listener it serves on.
type served struct {
	srv *http.Server
	ln  net.Listener
}

// openServer listens on addr for h, with the API's timeouts.
func openServer(addr string, h http.Handler) (*served, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &served{ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 15 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10}}, nil
}

// revocations follows the revocation feed the issuer's metadata names,
// refusing revoked tokens within middleware.DefaultRevocationMaxDelay (10
// s). RetryStartup, as for the keys: the token server may start later. It
// returns nil when the issuer advertises no feed.
func revocations(ctx context.Context, issuer string, logger *slog.Logger, metrics *middleware.Metrics) (*middleware.Revocations, error) {
	rv, err := middleware.IssuerRevocationFeed(ctx, issuer+"/.well-known/oauth-authorization-server", issuer,
		middleware.RevocationOptions{RetryStartup: true, Logger: logger, Metrics: metrics})
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
