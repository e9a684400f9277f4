package middleware

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// setGauges reports, at scrape time, how old the key sets and revocation
// sets that use a Metrics are. Sets join when built and leave at Close, so
// a closed set neither holds the gauge up nor stays in memory.
type setGauges struct {
	jwksAge, feedLag, feedEntries *prometheus.Desc

	mu      sync.Mutex
	remotes map[*remote]struct{}
	feeds   map[*Revocations]struct{}
}

func newSetGauges() *setGauges {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("tollgate", "middleware", name), help, nil, nil)
	}
	return &setGauges{
		jwksAge:     desc("jwks_age_seconds", "Seconds since the last good JWKS fetch (since the key set was made, before one); the oldest set."),
		feedLag:     desc("revocation_lag_seconds", "Seconds since the revocation set last caught up with its feed (since it was made, before it did); the most behind."),
		feedEntries: desc("revocation_entries", "Revoked jti and grant_id entries held."),
		remotes:     map[*remote]struct{}{},
		feeds:       map[*Revocations]struct{}{},
	}
}

func (g *setGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.jwksAge
	ch <- g.feedLag
	ch <- g.feedEntries
}

func (g *setGauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.remotes) > 0 {
		var oldest time.Duration
		for r := range g.remotes {
			oldest = max(oldest, r.age())
		}
		ch <- prometheus.MustNewConstMetric(g.jwksAge, prometheus.GaugeValue, oldest.Seconds())
	}
	if len(g.feeds) > 0 {
		var lag time.Duration
		entries := 0
		for rv := range g.feeds {
			lag = max(lag, rv.lag())
			entries += rv.current.Load().len()
		}
		ch <- prometheus.MustNewConstMetric(g.feedLag, prometheus.GaugeValue, lag.Seconds())
		ch <- prometheus.MustNewConstMetric(g.feedEntries, prometheus.GaugeValue, float64(entries))
	}
}

// trackRemote and trackFeed add a set to the gauges (on) or remove it.
// They are no-ops on a nil *Metrics.

func (m *Metrics) trackRemote(r *remote, on bool) {
	if m != nil {
		track(&m.gauges.mu, m.gauges.remotes, r, on)
	}
}

func (m *Metrics) trackFeed(rv *Revocations, on bool) {
	if m != nil {
		track(&m.gauges.mu, m.gauges.feeds, rv, on)
	}
}

func track[K comparable](mu *sync.Mutex, set map[K]struct{}, k K, on bool) {
	mu.Lock()
	defer mu.Unlock()
	if on {
		set[k] = struct{}{}
	} else {
		delete(set, k)
	}
}
