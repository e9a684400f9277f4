package middleware_test

import (
	"crypto/rand"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/middleware/authtest"
)

// TestNewMetricsRegistration: the collectors go on the registry given,
// never the global one; a refused registration leaves nothing behind.
func TestNewMetricsRegistration(t *testing.T) {
	t.Parallel()
	if _, err := middleware.NewMetrics(nil); err == nil {
		t.Error("NewMetrics(nil) succeeded")
	}

	reg := prometheus.NewRegistry()
	if _, err := middleware.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	first := mtFamilies(t, reg)
	if _, err := middleware.NewMetrics(reg); err == nil || !strings.Contains(err.Error(), "registering metrics") {
		t.Errorf("NewMetrics twice on one registry: %v, want an error", err)
	}
	if after := mtFamilies(t, reg); !slices.Equal(first, after) {
		t.Errorf("a refused NewMetrics changed the registry: %v, then %v", first, after)
	}
	if len(first) != 7 { // the gauges appear only once a set uses them
		t.Errorf("families %v, want the 7 counters", first)
	}

	// One name taken: nothing of NewMetrics stays registered.
	taken := prometheus.NewRegistry()
	taken.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "tollgate_middleware_ratelimit_store_errors_total", Help: "theirs"}))
	if _, err := middleware.NewMetrics(taken); err == nil {
		t.Fatal("NewMetrics over a taken name succeeded")
	}
	if got := mtFamilies(t, taken); !slices.Equal(got, []string{"tollgate_middleware_ratelimit_store_errors_total"}) {
		t.Errorf("after a failed NewMetrics the registry holds %v, want only the host's own counter", got)
	}

	for _, name := range mtFamilies(t, prometheus.DefaultGatherer) {
		if strings.HasPrefix(name, "tollgate_") {
			t.Errorf("%s is on the global default registry", name)
		}
	}
}

func mtFamilies(t *testing.T, g prometheus.Gatherer) []string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	return names
}

// TestMetricsCardinality: tokens with made-up kids, issuers, audiences,
// algorithms and client ids, and garbage, add no series: every label
// value comes from a fixed set.
func TestMetricsCardinality(t *testing.T) {
	t.Parallel()
	ms := mtNew(t)
	mw := newMiddleware(t, newIssuer(), func(c *middleware.Config) {
		c.Keys = must(middleware.LocalKeys(forgeJWKS()))
		c.Metrics = ms.metrics
	})
	api := serve(t, mw.RequireScopes("orders:read")(reached))
	before := slices.Sorted(maps.Keys(ms.scrape(t)))

	ok := forgedHeader("ES256", "es-1")
	c := forgedClaims()
	made := []func(r string) string{
		func(r string) string { return "Bearer " + forgedES(ok.with("kid", js(r)), c) },
		func(r string) string { return "Bearer " + forgedES(ok, c.with("iss", js("https://"+r+".test"))) },
		func(r string) string { return "Bearer " + forgedES(ok, c.with("aud", js(r))) },
		func(r string) string { return "Bearer " + forgedES(ok.with("alg", js(r)), c) },
		func(r string) string {
			return "Bearer " + forgedES(ok, c.with("client_id", js(r)).with("scope", js(r)))
		},
		func(r string) string { return "Bearer " + forgedES(ok, c.with("client_id", js(r))) }, // accepted
		func(r string) string { return "Bearer " + r + "." + r + "." + r },
		func(r string) string { return r + " " + r },
		func(r string) string { return "Bearer " + mtPrintable(r) },
	}
	const rounds = 20
	for range rounds {
		for _, mk := range made {
			req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
			req.Header.Set("Authorization", mk(rand.Text()))
			if res := do(t, req); res.Status == http.StatusInternalServerError {
				t.Fatalf("500: %s", res.Raw)
			}
		}
	}
	got := ms.scrape(t)
	if after := slices.Sorted(maps.Keys(got)); !slices.Equal(before, after) {
		t.Errorf("series changed:\nbefore %v\nafter  %v", before, after)
	}
	var total float64
	for k, v := range got {
		if strings.HasPrefix(k, "tollgate_middleware_refused_total") || k == "tollgate_middleware_accepted_total" {
			total += v
		}
	}
	// One per request, and one more for each token accepted and then
	// refused for its scope.
	if want := float64(rounds * (len(made) + 1)); total != want {
		t.Errorf("accepted plus refused = %v, want %v", total, want)
	}
}

// mtPrintable turns r into printable ASCII of every kind, quotes and
// braces included, as a hostile Authorization value.
func mtPrintable(r string) string {
	var b strings.Builder
	for range len(r) {
		n, _ := rand.Int(rand.Reader, big.NewInt(0x7f-0x21))
		b.WriteByte(byte(0x21 + n.Int64()))
	}
	return b.String()
}

// TestMetricsFastPathAllocs: counting adds no allocation to a request
// served from the verified-token cache.
func TestMetricsFastPathAllocs(t *testing.T) {
	iss := newIssuer()
	tok := iss.Token(authtest.Scopes("orders:read"))
	allocs := func(metrics *middleware.Metrics) float64 {
		h := newMiddleware(t, iss, func(c *middleware.Config) { c.Metrics = metrics }).RequireScopes("orders:read")(reached)
		req := httptest.NewRequest(http.MethodGet, "/orders", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(httptest.NewRecorder(), req) // fills the cache
		return testing.AllocsPerRun(200, func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
		})
	}
	off, on := allocs(nil), allocs(mtNew(t).metrics)
	if on != off {
		t.Errorf("a cached request allocates %v times with metrics, %v without", on, off)
	}
}
