package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tollgate-oauth/tollgate/middleware"
)

// newMetrics makes the registry /metrics serves: the Go runtime's and the
// process's collectors, and the middleware's. It is the API's own registry,
// not the global one, so nothing else in the process adds to it unasked.
func newMetrics() (*prometheus.Registry, *middleware.Metrics, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, nil, err
	}
	metrics, err := middleware.NewMetrics(reg)
	if err != nil {
		return nil, nil, err
	}
	return reg, metrics, nil
}

// newOpsHandler serves the operations endpoints, on an address apart from
// the API's (-ops-listen) so that they are not exposed where the API is:
//
//	/healthz  200 "ok" while the process serves
//	/readyz   200 "ready" once the middleware has a usable key set, else 503
//	          and why (a load balancer sends no traffic until then)
//	/metrics  Prometheus text exposition of reg
func newOpsHandler(mw *middleware.Middleware, reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := mw.Ready(); err != nil {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
		writeText(w, http.StatusOK, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}
