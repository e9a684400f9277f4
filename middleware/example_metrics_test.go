package middleware_test

import (
	"bufio"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/middleware/authtest"
)

// The host makes its own registry, registers the middleware's metrics on
// it, and serves it (on an operations address of its own, say). Here:
// two requests pass, one lacks the scope (after its token verified), one
// sends garbage.
func ExampleNewMetrics() {
	reg := prometheus.NewRegistry()
	metrics, err := middleware.NewMetrics(reg)
	if err != nil {
		panic(err)
	}
	iss := authtest.NewIssuer()
	cfg := iss.Config()
	cfg.Metrics = metrics
	cfg.Logger = slog.New(slog.DiscardHandler)
	mw, err := middleware.New(cfg)
	if err != nil {
		panic(err)
	}
	api := mw.RequireScopes("orders:read")(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	reader := iss.Token(authtest.Scopes("orders:read"))
	for _, token := range []string{reader, reader, iss.Token(), "garbage"} {
		req := httptest.NewRequest(http.MethodGet, "/orders", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		api.ServeHTTP(httptest.NewRecorder(), req)
	}

	ops := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer ops.Close()
	resp, err := http.Get(ops.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	for lines := bufio.NewScanner(resp.Body); lines.Scan(); {
		if line := lines.Text(); strings.HasPrefix(line, "tollgate_") && !strings.HasSuffix(line, " 0") {
			fmt.Println(line)
		}
	}
	// Output:
	// tollgate_middleware_accepted_total 3
	// tollgate_middleware_refused_total{reason="insufficient_scope"} 1
	// tollgate_middleware_refused_total{reason="malformed_token"} 1
	// tollgate_middleware_token_cache_hits_total 1
	// tollgate_middleware_token_cache_misses_total 3
}
