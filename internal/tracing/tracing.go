// Package tracing is the token server's thin layer over OpenTelemetry: a
// Tracer whose zero value is off and costs one nil check per span (no
// context, no allocation), and spans whose only texts are the fixed names
// and values tollgate chooses. Nothing a client sent reaches a span
// through here but an authenticated client's id and a registered grant
// type: error texts, descriptions and parameters never do, since any of
// them may quote a secret pasted into the wrong field.
package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Name is the instrumentation scope of tollgate's spans.
const Name = "github.com/tollgate-oauth/tollgate/handler"

// Tracer starts spans; the zero Tracer starts none.
type Tracer struct{ t trace.Tracer }

// New returns a Tracer of tp; nil tp gives the zero Tracer (off).
func New(tp trace.TracerProvider) Tracer {
	if tp == nil {
		return Tracer{}
	}
	return Tracer{t: tp.Tracer(Name)}
}

// On reports whether spans are recorded at all.
func (t Tracer) On() bool { return t.t != nil }

// Start starts a span named name, a child of ctx's span if any.
func (t Tracer) Start(ctx context.Context, name string) (context.Context, Span) {
	if t.t == nil {
		return ctx, Span{}
	}
	ctx, s := t.t.Start(ctx, name)
	return ctx, Span{s: s}
}

// Child starts a span only under one already in ctx: work done in the
// background (the client cache's version reads, a store call of a purge
// that has its own span or not) then adds no root spans of its own.
func (t Tracer) Child(ctx context.Context, name string) (context.Context, Span) {
	if t.t == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, Span{}
	}
	return t.Start(ctx, name)
}

// Span is a started span, or nothing (the zero Span) when tracing is off.
type Span struct{ s trace.Span }

// On reports whether the span records.
func (s Span) On() bool { return s.s != nil }

// String sets an attribute. value must be one of tollgate's fixed values
// or a registered client's id: never request text.
func (s Span) String(key, value string) {
	if s.s != nil {
		s.s.SetAttributes(attribute.String(key, value))
	}
}

// Int sets an integer attribute.
func (s Span) Int(key string, value int) {
	if s.s != nil {
		s.s.SetAttributes(attribute.Int(key, value))
	}
}

// Fail marks the span failed; reason is a fixed word (an OAuth error code,
// "unavailable"), never an error's text.
func (s Span) Fail(reason string) {
	if s.s != nil {
		s.s.SetStatus(codes.Error, reason)
	}
}

// End ends the span.
func (s Span) End() {
	if s.s != nil {
		s.s.End()
	}
}

// Hide returns ctx with its span made invisible to libraries that trace
// under whatever span they find (fosite starts its own, with the provider
// of the span in ctx, and puts error texts in them): they see a
// non-recording span and so a no-op provider, while tollgate's own spans
// started under the result still become children of the hidden one. ctx
// is returned as it is when it carries no span, at no cost.
func Hide(ctx context.Context) context.Context {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ctx
	}
	return trace.ContextWithSpanContext(ctx, sc)
}
