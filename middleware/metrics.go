package middleware

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the middleware's Prometheus collectors, registered on the
// host's own registry by [NewMetrics]. Give them to [Config.Metrics] for
// request counts, to [RemoteOptions.Metrics] for the key set's fetches and
// age, and to [RevocationOptions.Metrics] for the revocation feed's polls
// and lag. One Metrics may serve several Middlewares, key sets and feeds:
// the counters add up, the gauges report the oldest. For separate series
// per issuer, give each its own Metrics on
// prometheus.WrapRegistererWith(prometheus.Labels{"issuer": name}, reg).
//
// Every label takes its values from a fixed set, created at zero when the
// Metrics is made: nothing a request sends (a kid, an issuer, a client id,
// garbage) adds a series.
//
//	tollgate_middleware_accepted_total                       counter  requests whose token verified and is not revoked
//	tollgate_middleware_refused_total{reason}                counter  requests refused, by reason (see below)
//	tollgate_middleware_token_cache_hits_total               counter  tokens served from the verified-token cache
//	tollgate_middleware_token_cache_misses_total             counter  tokens looked up and not found (verified in full)
//	tollgate_middleware_jwks_fetches_total{trigger,result}   counter  JWKS fetches: trigger start|refresh|unknown_kid, result ok|error
//	tollgate_middleware_jwks_age_seconds                     gauge    seconds since the last good JWKS fetch
//	tollgate_middleware_ratelimit_store_errors_total         counter  rate-limit store failures (the request passed, or got 503 with FailClosed)
//	tollgate_middleware_revocation_polls_total{result}       counter  revocation feed polls: ok|error
//	tollgate_middleware_revocation_lag_seconds               gauge    seconds since the revocation set last caught up with the feed
//	tollgate_middleware_revocation_entries                   gauge    revoked jti and grant_id entries held
//
// The reasons: missing_token, invalid_request (a malformed Authorization
// header or access_token parameter), malformed_token,
// algorithm_not_allowed, wrong_type, unknown_kid, bad_signature,
// wrong_issuer, wrong_audience, expired, not_yet_valid, invalid_token
// (none of those), revoked, keys_unavailable, revocations_stale,
// insufficient_scope, rate_limited, limiter_unavailable. A request is
// counted accepted once per Middleware, by whichever of Authenticate,
// RequireScopes or RateLimit verifies it first; a later refusal by a scope
// check or a limit counts as well, so accepted plus the refusals is not the
// number of requests.
//
// Before any good fetch, jwks_age_seconds counts from when the key set was
// made; revocation_lag_seconds likewise. Both are absent until a key set
// (or a feed) uses this Metrics, and forget one after its Close.
type Metrics struct {
	accepted      prometheus.Counter
	refused       [numReasons]prometheus.Counter // by reason; reasonNone unused
	cacheHits     prometheus.Counter
	cacheMisses   prometheus.Counter
	jwksFetches   [numTriggers][2]prometheus.Counter // by trigger, then ok (0) or error (1)
	limiterErrors prometheus.Counter
	feedPolls     [2]prometheus.Counter // ok (0) or error (1)
	gauges        *setGauges
}

// fetchTrigger says why a JWKS fetch ran.
type fetchTrigger uint8

const (
	triggerStart      fetchTrigger = iota // the constructor's first fetch
	triggerRefresh                        // the background refresh (or its retry)
	triggerUnknownKID                     // a token named a kid the set lacks
	numTriggers
)

var triggerLabels = [numTriggers]string{"start", "refresh", "unknown_kid"}

var resultLabels = [2]string{"ok", "error"}

// NewMetrics creates the middleware's collectors and registers them on
// reg: the host's registry (prometheus.NewRegistry), or
// prometheus.DefaultRegisterer only if the host wants the global one. It
// fails if reg is nil or refuses a collector (say, NewMetrics was called
// twice on one registry); then nothing stays registered.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("middleware: NewMetrics needs a prometheus.Registerer")
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "tollgate", Subsystem: "middleware", Name: name, Help: help})
	}
	vec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tollgate", Subsystem: "middleware", Name: name, Help: help}, labels)
	}
	m := &Metrics{
		accepted:      counter("accepted_total", "Requests whose access token verified and is not revoked, once per Middleware."),
		cacheHits:     counter("token_cache_hits_total", "Access tokens served from the verified-token cache."),
		cacheMisses:   counter("token_cache_misses_total", "Access tokens not in the verified-token cache, verified in full."),
		limiterErrors: counter("ratelimit_store_errors_total", "Rate-limit store failures (fail open: the request passed; FailClosed: 503)."),
		gauges:        newSetGauges(),
	}
	refused := vec("refused_total", "Requests refused, by reason.", "reason")
	fetches := vec("jwks_fetches_total", "JWKS fetches, by trigger (start, refresh, unknown_kid) and result.", "trigger", "result")
	polls := vec("revocation_polls_total", "Revocation feed polls, by result.", "result")
	collectors := []prometheus.Collector{m.accepted, refused, m.cacheHits, m.cacheMisses, fetches, m.limiterErrors, polls, m.gauges}
	for i, c := range collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range collectors[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("middleware: registering metrics: %w", err)
		}
	}
	// Bound now, so the hot path does no label lookup, and every series
	// exists at zero from the start.
	for r := reasonNone + 1; r < numReasons; r++ {
		m.refused[r] = refused.WithLabelValues(r.String())
	}
	for t := range numTriggers {
		for res := range resultLabels {
			m.jwksFetches[t][res] = fetches.WithLabelValues(triggerLabels[t], resultLabels[res])
		}
	}
	for res := range resultLabels {
		m.feedPolls[res] = polls.WithLabelValues(resultLabels[res])
	}
	return m, nil
}

// result is the index of an outcome in resultLabels.
func result(err error) int {
	if err != nil {
		return 1
	}
	return 0
}

// The methods below are no-ops on a nil *Metrics: metrics are off.

func (m *Metrics) refusedFor(r reason) {
	if m != nil && r != reasonNone {
		m.refused[r].Inc()
	}
}

func (m *Metrics) fetched(t fetchTrigger, err error) {
	if m != nil {
		m.jwksFetches[t][result(err)].Inc()
	}
}

func (m *Metrics) polled(err error) {
	if m != nil {
		m.feedPolls[result(err)].Inc()
	}
}

func (m *Metrics) limiterFailed() {
	if m != nil {
		m.limiterErrors.Inc()
	}
}
