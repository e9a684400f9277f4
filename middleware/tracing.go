package middleware

import (
	"context"
	"net/http"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation names this package's tracer.
const instrumentation = "github.com/tollgate-oauth/tollgate/middleware"

// Spans and their attributes. No attribute holds a token or a part of
// one, a jti, a subject, or anything a token could make up: kid, alg and
// client_id are recorded only once a key of the set verified the token,
// and a refusal records its reason alone (never the verification error,
// which may quote a kid or an issuer the token claims).
const (
	spanAuthenticate = "tollgate.middleware.authenticate"
	spanJWKSFetch    = "tollgate.middleware.jwks_fetch"
	spanFeedPoll     = "tollgate.middleware.revocation_poll"

	attrOutcome  = "tollgate.outcome" // "accepted" or a refusal reason (see [Metrics])
	attrCached   = "tollgate.token.cached"
	attrKID      = "tollgate.token.kid"
	attrAlg      = "tollgate.token.alg"
	attrClientID = "tollgate.client_id"
	attrTrigger  = "tollgate.jwks.trigger"
	attrKeys     = "tollgate.jwks.keys"
	attrEntries  = "tollgate.revocation.entries"
	attrBehind   = "tollgate.revocation.behind"
	attrURL      = "url.full"
)

// tracerOf returns the package's tracer from tp, or nil (tracing off).
func tracerOf(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(instrumentation)
}

// authenticateTraced is authenticate inside a span, which is the parent of
// any JWKS fetch the verification waits for.
func (m *Middleware) authenticateTraced(r *http.Request) (*Claims, *Error) {
	ctx, span := m.tracer.Start(r.Context(), spanAuthenticate, trace.WithSpanKind(trace.SpanKindInternal))
	defer span.End()
	claims, cached, e := m.authenticate(ctx, r)
	if e != nil {
		span.SetAttributes(attribute.String(attrOutcome, e.reason.String()))
		if e.Status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, e.Description) // ours to fix; a 4xx is the client's
		}
		return nil, e
	}
	attrs := []attribute.KeyValue{
		attribute.String(attrOutcome, reasonNone.String()), attribute.Bool(attrCached, cached),
		attribute.String(attrKID, claims.KeyID), attribute.String(attrClientID, claims.ClientID),
	}
	if set := m.cfg.Keys.current.Load(); set != nil {
		if k, ok := set.byKID[claims.KeyID]; ok {
			attrs = append(attrs, attribute.String(attrAlg, k.Alg))
		}
	}
	span.SetAttributes(attrs...)
	return claims, nil
}

// startSpan starts a span named name under ctx when t is not nil; the
// returned span is nil otherwise, for endSpan.
func startSpan(ctx context.Context, t trace.Tracer, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if t == nil {
		return ctx, nil
	}
	return t.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// endSpan records attrs and err, and ends span; nil is a no-op. err is a
// fetch or feed error: the message the logs get, naming the URL and what
// went wrong, never a token.
func endSpan(span trace.Span, err error, attrs ...attribute.KeyValue) {
	if span == nil {
		return
	}
	span.SetAttributes(attrs...)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// spanURL is u as a span attribute: without userinfo, query or fragment,
// any of which may carry a credential.
func spanURL(u *url.URL) attribute.KeyValue {
	safe := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return attribute.String(attrURL, safe.String())
}
