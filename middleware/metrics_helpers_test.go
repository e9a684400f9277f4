package middleware_test

// Helpers of the metrics and tracing tests. Every name starts with mt.

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tollgate-oauth/tollgate/middleware"
)

// mtRefusalReasons are the reason label's values: a dashboard depends on
// them, so they are spelled out here rather than read from the package.
var mtRefusalReasons = []string{
	"missing_token", "invalid_request", "malformed_token", "algorithm_not_allowed", "wrong_type", "unknown_kid",
	"bad_signature", "wrong_issuer", "wrong_audience", "expired", "not_yet_valid", "invalid_token", "revoked",
	"keys_unavailable", "revocations_stale", "insufficient_scope", "rate_limited", "limiter_unavailable",
}

// mtSetup is a Metrics on a registry of its own, served over real HTTP at
// url as a host would serve it.
type mtSetup struct {
	metrics *middleware.Metrics
	url     string
}

func mtNew(t testing.TB) *mtSetup {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := middleware.NewMetrics(reg)
	if err != nil {
		t.Fatalf("NewMetrics: %v", err)
	}
	ts := serve(t, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return &mtSetup{metrics: m, url: ts.URL}
}

// scrape fetches the text exposition and returns each series (the name
// with its labels, as exposed) and its value.
func (s *mtSetup) scrape(t testing.TB) map[string]float64 {
	t.Helper()
	resp, err := http.Get(s.url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	series := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("scrape: unreadable line %q", line)
		}
		series[line[:i]] = v
	}
	return series
}

// want checks the series of s's scrape named in want, and that no other
// series of the same metrics exists.
func (s *mtSetup) want(t testing.TB, want map[string]float64) {
	t.Helper()
	got := s.has(t, want)
	names := map[string]bool{}
	for k := range want {
		names[mtName(k)] = true
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && names[mtName(k)] {
			t.Errorf("unexpected series %s = %v", k, v)
		}
	}
}

// has checks the series of s's scrape named in want, and returns the
// scrape.
func (s *mtSetup) has(t testing.TB, want map[string]float64) map[string]float64 {
	t.Helper()
	got := s.scrape(t)
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	return got
}

// mtName is the metric name of a series.
func mtName(series string) string {
	name, _, _ := strings.Cut(series, "{")
	return name
}

// mtRefused returns the refused_total series for counts by reason, every
// other reason at zero.
func mtRefused(counts map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, r := range mtRefusalReasons {
		out[`tollgate_middleware_refused_total{reason="`+r+`"}`] = counts[r]
	}
	return out
}
