package handler

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-oauth/tollgate/internal/clientip"
	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/tracing"
)

// The one place where the Server tells what happens: each method below is
// an instrumentation point, and feeds the metrics (Config.Metrics), the
// spans (Config.TracerProvider) and the audit events (Config.AuditLogger,
// Config.OnAudit) that concern it, so no point is written twice. With all
// of them off, each costs a nil check: no clock read, no allocation.

// observer is a Server's view of its metrics, tracer and audit sinks. A
// Server always has one; its parts are nil (or zero) when off.
type observer struct {
	metrics *Metrics
	tracer  tracing.Tracer
	audit   *slog.Logger
	onAudit func(context.Context, AuditEvent)
	now     func() time.Time
	ips     clientip.Resolver

	// grant_type label values: "none", "other", then the served grants,
	// whose slots grantSlots holds.
	grantNames []string
	grantSlots map[string]int
	// The request counters and histograms, bound to their label values on
	// first use (binding all up front would publish hundreds of zero
	// series), indexed by endpoint, grant slot and outcome.
	requests  []atomic.Pointer[boundCounter]
	durations []atomic.Pointer[boundObserver]
}

type boundCounter struct{ prometheus.Counter }
type boundObserver struct{ prometheus.Observer }

const (
	grantNone  = 0 // no grant type: another endpoint, or not read yet
	grantOther = 1 // a grant type this Server does not serve
)

func newObserver(cfg Config) *observer {
	return &observer{
		metrics: cfg.Metrics, tracer: tracing.New(cfg.TracerProvider), audit: cfg.AuditLogger, onAudit: cfg.OnAudit,
		now: cfg.Now, ips: clientip.Resolver{Trusted: cfg.TrustedProxies},
	}
}

// setGrants names the grant types the Server serves, once the provider
// knows them, before the first request.
func (o *observer) setGrants(grants []string) {
	o.grantNames = append([]string{"none", "other"}, grants...)
	o.grantSlots = make(map[string]int, len(grants))
	for i, g := range grants {
		o.grantSlots[g] = i + 2
	}
	if o.metrics != nil {
		n := int(numEndpoints) * len(o.grantNames)
		o.requests = make([]atomic.Pointer[boundCounter], n*int(numOutcomes))
		o.durations = make([]atomic.Pointer[boundObserver], n)
	}
}

// watching reports whether requests are measured or traced; without, the
// endpoints run bare (see Server.endpoint).
func (o *observer) watching() bool { return o.metrics != nil || o.tracer.On() }

// auditing reports whether audit events go anywhere.
func (o *observer) auditing() bool { return o.audit != nil || o.onAudit != nil }

// emit stamps ev and hands it to the hook and the audit log.
func (o *observer) emit(ctx context.Context, ev AuditEvent) {
	ev.Time = o.now()
	if o.onAudit != nil {
		o.onAudit(ctx, ev)
	}
	if o.audit != nil {
		ev.record(ctx, o.audit)
	}
}

// answer is what an endpoint tells about a request it served, beside the
// error it returns: the grant type as sent (token endpoint, once read),
// the authenticated client (for the span), and how it answered when it
// wrote the answer itself (zero: ok).
type answer struct {
	grant   string
	client  string
	outcome outcome
}

// endpointFunc serves one endpoint: it writes a successful answer itself
// and returns the error to answer otherwise (Server.fail writes it).
type endpointFunc func(w http.ResponseWriter, r *http.Request) (answer, error)

// endpoint makes serve an http.HandlerFunc: bare when nothing watches, so
// that instrumentation left off costs nothing; else measured and traced,
// serve running under the endpoint's span.
func (s *Server) endpoint(ep endpoint, serve endpointFunc) http.HandlerFunc {
	o := s.obs
	if !o.watching() {
		return func(w http.ResponseWriter, r *http.Request) {
			if _, err := serve(w, r); err != nil {
				s.fail(w, r, err)
			}
		}
	}
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, span := o.tracer.Start(r.Context(), endpointSpans[ep])
		if span.On() {
			r = r.WithContext(ctx)
		}
		a, err := serve(w, r)
		if err != nil {
			e := s.fail(w, r, err)
			a.outcome = classify(e.Status, e.Code)
		}
		o.served(span, ep, a, start)
	}
}

// served counts and times a request and ends its span.
func (o *observer) served(span tracing.Span, ep endpoint, a answer, start time.Time) {
	g := grantNone
	if ep == epToken && a.grant != "" {
		if g = o.grantSlots[a.grant]; g == 0 {
			g = grantOther
		}
	}
	if o.metrics != nil {
		o.requestCounter(ep, g, a.outcome).Inc()
		o.durationObserver(ep, g).Observe(time.Since(start).Seconds())
	}
	if !span.On() {
		return
	}
	span.String("tollgate.outcome", outcomeNames[a.outcome])
	if ep == epToken {
		span.String("oauth.grant_type", o.grantNames[g])
	}
	if a.client != "" {
		span.String("oauth.client_id", a.client)
	}
	if a.outcome >= outUnavailable && a.outcome <= outServerError {
		span.Fail(outcomeNames[a.outcome])
	}
	span.End()
}

func (o *observer) requestCounter(ep endpoint, g int, out outcome) prometheus.Counter {
	i := (int(ep)*len(o.grantNames)+g)*int(numOutcomes) + int(out)
	if b := o.requests[i].Load(); b != nil {
		return b.Counter
	}
	// Two requests binding at once get the same child of the vector.
	b := &boundCounter{o.metrics.requests.WithLabelValues(endpointNames[ep], o.grantNames[g], outcomeNames[out])}
	o.requests[i].Store(b)
	return b.Counter
}

func (o *observer) durationObserver(ep endpoint, g int) prometheus.Observer {
	i := int(ep)*len(o.grantNames) + g
	if b := o.durations[i].Load(); b != nil {
		return b.Observer
	}
	b := &boundObserver{o.metrics.duration.WithLabelValues(endpointNames[ep], o.grantNames[g])}
	o.durations[i].Store(b)
	return b.Observer
}

// step starts the span of one step of a request.
func (o *observer) step(ctx context.Context, name string) (context.Context, tracing.Span) {
	return o.tracer.Start(ctx, name)
}

// endSpan ends the span of background or host-called work, marked
// failed if *err is set (never with its text, which may name anything).
func endSpan(span tracing.Span, err *error) {
	if *err != nil {
		span.Fail("error")
	}
	span.End()
}

// stepDone ends a step's span, marked with e's outcome if it refused.
func stepDone(span tracing.Span, e *oautherr.Error) {
	if e != nil {
		span.Fail(outcomeNames[classify(e.Status, e.Code)])
	}
	span.End()
}
