package handler

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-oauth/tollgate/internal/tracing"
)

// BenchmarkMetricsPerRequest is all Config.Metrics adds to a
// client_credentials request, alone: the two clock reads, the client
// cache's counter, the request counter and the latency histogram. Beside
// BenchmarkTokenEndpoint it is the added share, measured where the noise
// of a busy machine cannot hide it; it must not allocate.
func BenchmarkMetricsPerRequest(b *testing.B) {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	o := newObserver(Config{Metrics: m, Now: time.Now})
	o.setGrants([]string{"authorization_code", "client_credentials", "refresh_token"})
	lookup := o.cacheLookup()
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		lookup(true)
		o.served(tracing.Span{}, epToken, answer{grant: "client_credentials", client: "integration", outcome: outIssued}, start)
	}
}
