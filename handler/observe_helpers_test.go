package handler_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
)

// Fixtures of the tests of metrics, spans and audit events (issue 11).
// Everything here is prefixed ob.

// obSinks receive what one server tells: its metrics registry, its spans,
// its audit events through the hook, and its audit log as JSON.
type obSinks struct {
	reg      *prometheus.Registry
	spans    *tracetest.SpanRecorder
	auditLog *logBuffer

	mu     sync.Mutex
	events []handler.AuditEvent
}

func newObSinks(t testing.TB) *obSinks {
	t.Helper()
	return &obSinks{reg: prometheus.NewRegistry(), spans: tracetest.NewSpanRecorder(), auditLog: &logBuffer{}}
}

// apply turns every sink on in cfg.
func (o *obSinks) apply(t testing.TB, cfg *handler.Config) {
	t.Helper()
	m, err := handler.NewMetrics(o.reg)
	if err != nil {
		t.Fatalf("NewMetrics: %v", err)
	}
	cfg.Metrics = m
	cfg.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(o.spans))
	cfg.AuditLogger = slog.New(slog.NewJSONHandler(o.auditLog, nil))
	cfg.OnAudit = func(_ context.Context, ev handler.AuditEvent) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.events = append(o.events, ev)
	}
}

func (o *obSinks) auditEvents() []handler.AuditEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]handler.AuditEvent(nil), o.events...)
}

// scrape reads the registry the way Prometheus does, over HTTP, and
// returns every series by name{labels} (labels sorted): a counter's
// value, a histogram's _count.
func (o *obSinks) scrape(t testing.TB) (series map[string]float64, text string) {
	t.Helper()
	ts := httptest.NewServer(promhttp.HandlerFor(o.reg, promhttp.HandlerOpts{}))
	defer ts.Close()
	req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
	req.Header.Set("Accept", "text/plain") // the text format, which the check below reads
	res := do(t, req)
	if res.status != http.StatusOK {
		t.Fatalf("scrape: %d %s", res.status, res.raw)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(res.raw))
	if err != nil {
		t.Fatalf("parsing the scrape: %v\n%s", err, res.raw)
	}
	series = map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			key := name + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.GetCounter() != nil:
				series[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				series[strings.Replace(key, "{", "_count{", 1)] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return series, res.raw
}

// obWantSeries checks the non-zero series whose name starts with prefix
// are exactly want.
func obWantSeries(t testing.TB, what string, got map[string]float64, prefix string, want map[string]float64) {
	t.Helper()
	have := map[string]float64{}
	for k, v := range got {
		if strings.HasPrefix(k, prefix) && v != 0 {
			have[k] = v
		}
	}
	for k, v := range want {
		if have[k] != v {
			t.Errorf("%s: %s = %v, want %v", what, k, have[k], v)
		}
	}
	for k, v := range have {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %s = %v", what, k, v)
		}
	}
}

// obReq names a series of tollgate_handler_requests_total.
func obReq(endpoint, grant, outcome string) string {
	return "tollgate_handler_requests_total{endpoint=" + endpoint + ",grant_type=" + grant + ",outcome=" + outcome + "}"
}

// obCounter names a series of a counter with one label.
func obCounter(name, label, value string) string {
	return "tollgate_handler_" + name + "{" + label + "=" + value + "}"
}

// obAF is an af server with every sink on; mutate runs after.
func obAF(t *testing.T, mutate func(*afEnv, *handler.Config)) (*afEnv, *obSinks) {
	t.Helper()
	sinks := newObSinks(t)
	env := afServer(t, func(e *afEnv, cfg *handler.Config) {
		sinks.apply(t, cfg)
		if mutate != nil {
			mutate(e, cfg)
		}
	})
	return env, sinks
}

// obObserved is a config change that turns every sink on. When the test
// ends (and has not failed already) it checks the server was observed:
// requests traced, store calls traced (wantSpans among them), and, for
// clients that tell of their changes, client lookups counted by the cache,
// which the server only builds when the observed Clients still is a
// storage.ClientChanges.
func obObserved(t testing.TB, wantSpans ...string) func(*handler.Config) {
	t.Helper()
	sinks := newObSinks(t)
	return func(cfg *handler.Config) {
		sinks.apply(t, cfg)
		_, cached := cfg.Clients.(storage.ClientChanges)
		cached = cached && cfg.ClientStaleness >= 0
		t.Cleanup(func() {
			if t.Failed() {
				return
			}
			seen := map[string]bool{}
			for _, s := range sinks.spans.Ended() {
				seen[s.Name()] = true
			}
			for _, n := range append([]string{"tollgate.token", "tollgate.store.get_client"}, wantSpans...) {
				if !seen[n] {
					t.Errorf("observed server: no %s span", n)
				}
			}
			got, _ := sinks.scrape(t)
			lookups := got[obCounter("client_cache_lookups_total", "result", "hit")] + got[obCounter("client_cache_lookups_total", "result", "miss")]
			if cached && lookups == 0 {
				t.Error("observed server: no client cache lookup counted: the cache was not built over the observed store")
			}
		})
	}
}
