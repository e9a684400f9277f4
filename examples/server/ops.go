package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/ulule/limiter/v3"

	"github.com/tollgate-oauth/tollgate/handler"
)

// readyTimeout bounds each dependency's answer to a readiness probe: a
// database that has gone away answers nothing, and the probe must say so
// well within a load balancer's own timeout.
const readyTimeout = time.Second

// ops is what the operations address serves: the handler's metrics with
// the Go runtime's and the process's, on a registry of the demo's own, and
// readiness. nil when ops_listen is not set: no metrics are collected.
type ops struct {
	reg     *prometheus.Registry
	metrics *handler.Metrics
	limits  limiter.Store // the rate-limit counters; pinged when they are Redis
}

func newOps(cfg *fileConfig) (*ops, error) {
	if cfg.OpsListen == "" {
		return nil, nil
	}
	reg := prometheus.NewRegistry()
	if err := errors.Join(
		reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
	); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	m, err := handler.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &ops{reg: reg, metrics: m}, nil
}

// handlerMetrics is the handler's Config.Metrics: nil turns them off.
func (o *ops) handlerMetrics() *handler.Metrics {
	if o == nil {
		return nil
	}
	return o.metrics
}

// serve listens on addr and serves /healthz, /readyz and /metrics until
// stop is called.
func (o *ops) serve(addr string, srv *handler.Server, logger *slog.Logger, stdout io.Writer) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ops_listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeOpsText(w, http.StatusOK, "ok") // the process is up and serving
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := o.ready(r.Context(), srv); err != nil {
			writeOpsText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
		writeOpsText(w, http.StatusOK, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.reg, promhttp.HandlerOpts{}))
	hs := newHTTPServer(mux, logger)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("operations address stopped", "error", err)
		}
	}()
	fmt.Fprintf(stdout, "operations (/healthz, /readyz, /metrics) on http://%s\n", ln.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
	}, nil
}

// ready asks the stores (handler.Server.Ready) and, when the rate limits
// are counted in Redis, Redis, each within readyTimeout. Keys need no
// check: the server does not start without them.
func (o *ops) ready(ctx context.Context, srv *handler.Server) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	errs := []error{srv.Ready(ctx)}
	if p, ok := o.limits.(interface{ Ping(context.Context) error }); ok {
		if err := p.Ping(ctx); err != nil {
			errs = append(errs, fmt.Errorf("rate_limits.store: %w", err))
		}
	}
	return errors.Join(errs...)
}

func writeOpsText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}
