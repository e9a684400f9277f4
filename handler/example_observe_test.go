package handler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// The token server's metrics on the host's own registry, served where
// Prometheus scrapes (an operations address, say), and its audit events
// in a log of their own.
func ExampleNewMetrics() {
	reg := prometheus.NewRegistry()
	metrics, err := handler.NewMetrics(reg)
	if err != nil {
		panic(err)
	}
	secret, hash, _ := handler.GenerateClientSecret()
	clients := memory.New()
	_ = clients.CreateClient(context.Background(), &storage.Client{
		ID: "integration", SecretHash: hash, GrantTypes: []string{storage.GrantClientCredentials},
		Scopes: []string{"orders:read"}, DefaultScopes: []string{"orders:read"}, Audiences: []string{"https://api.example.com"},
	})
	srv, err := handler.New(handler.Config{
		Issuer: "https://auth.example.com", Clients: clients, Keys: []handler.SigningKey{{Algorithm: "ES256"}},
		Logger:  slog.New(slog.DiscardHandler),
		Metrics: metrics,
		// Audit records to stdout, without the time, for the example's output.
		AuditLogger: slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey || a.Key == "jti" {
					return slog.Attr{}
				}
				return a
			}})),
		Now: func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	for _, s := range []string{secret, "wrong"} {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+handler.TokenPath, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("integration", s)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		res.Body.Close()
	}

	ops := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer ops.Close()
	res, err := http.Get(ops.URL)
	if err != nil {
		panic(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "tollgate_handler_requests_total{") || strings.HasPrefix(line, "tollgate_handler_client_auth_failures_total{") {
			fmt.Println(line)
		}
	}
	// Output:
	// level=INFO msg=audit event=token.issued client_id=integration grant_type=client_credentials subject=integration scope=orders:read ip=127.0.0.1
	// level=WARN msg=audit event=client.auth_failed client_id=integration endpoint=token reason=bad_credentials ip=127.0.0.1
	// tollgate_handler_client_auth_failures_total{reason="bad_credentials"} 1
	// tollgate_handler_client_auth_failures_total{reason="unknown_client"} 0
	// tollgate_handler_requests_total{endpoint="token",grant_type="client_credentials",outcome="invalid_client"} 1
	// tollgate_handler_requests_total{endpoint="token",grant_type="client_credentials",outcome="issued"} 1
}
