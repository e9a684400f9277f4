package middleware_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tollgate-oauth/tollgate/middleware"
)

// mtSpans records the spans of a TracerProvider.
func mtSpans(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, sr
}

func mtAttrs(s sdktrace.ReadOnlySpan) map[string]string {
	out := map[string]string{}
	for _, kv := range s.Attributes() {
		out[string(kv.Key)] = kv.Value.Emit()
	}
	return out
}

// TestTracing: one span per verification with its outcome, and the kid,
// alg and client_id of an accepted token; a JWKS fetch for an unknown kid
// is a child of the verification waiting for it; polls of the revocation
// feed have spans too. No span holds a token, any segment of one, a jti or
// a subject, nor the userinfo or query of a URL.
func TestTracing(t *testing.T) {
	t.Parallel()
	tp, sr := mtSpans(t)
	k1, k2 := rmNewKey(t, "ES256", "k1"), rmNewKey(t, "ES256", "k2")
	js := rmNewJWKSServer(t, rmJWKS(t, k1.jwk()))
	jwksURL := strings.Replace(js.URL, "http://", "http://user:pw-secret@", 1) + "/jwks?key=q-secret"
	clock := newClock(rmNow)
	ks := rmRemote(t, jwksURL, middleware.RemoteOptions{Now: clock.Now, TracerProvider: tp})
	feed := rvNewFeed(t)
	feed.revokeJTI("jti-revoked", rmNow.Add(time.Hour))
	rv, err := middleware.RevocationFeed(context.Background(), feed.feedURL(), middleware.RevocationOptions{
		MaxDelay: time.Hour, Now: clock.Now, Logger: rmDiscard, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rv.Close)
	api := rmAPI(t, rmMiddleware(t, ks, clock.Now, func(c *middleware.Config) {
		c.TracerProvider = tp
		c.Revocations = rv
	}))

	good := k1.token(t, rmNow)
	revokedClaims := rmClaims(rmNow, "client-r")
	revokedClaims["jti"] = "jti-revoked"
	revoked := rmSign(t, k1.priv, "ES256", "k1", revokedClaims)
	expired := rmSign(t, k1.priv, "ES256", "k1", map[string]any{"iss": rmIssuer, "aud": rmAudience, "sub": "u-secret",
		"client_id": "c", "exp": rmNow.Add(-time.Hour).Unix(), "jti": "jti-expired"})
	forged := rmSign(t, k2.priv, "ES256", "k1", rmClaims(rmNow, "client-a"))
	newKey := k2.token(t, rmNow)
	requests := []struct {
		token, outcome string
		cached         bool
	}{
		{good, "accepted", false},
		{good, "accepted", true},
		{expired, "expired", false},
		{forged, "bad_signature", false},
		{revoked, "revoked", false},
		{"not.a.jwt", "malformed_token", false},
		{"", "missing_token", false},
		{newKey, "accepted", false}, // not in the set: fetched, in a child span
	}
	js.set(rmJWKS(t, k1.jwk(), k2.jwk()))
	for _, r := range requests {
		res := rmGet(t, api.URL, r.token)
		if (res.Status == http.StatusOK) != (r.outcome == "accepted") {
			t.Fatalf("%s: status %d", r.outcome, res.Status)
		}
	}

	var verifications []sdktrace.ReadOnlySpan
	fetches := map[string]sdktrace.ReadOnlySpan{} // by trigger
	var polls []sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		switch s.Name() {
		case "tollgate.middleware.authenticate":
			verifications = append(verifications, s)
		case "tollgate.middleware.jwks_fetch":
			fetches[mtAttrs(s)["tollgate.jwks.trigger"]] = s
		case "tollgate.middleware.revocation_poll":
			polls = append(polls, s)
		default:
			t.Errorf("unexpected span %q", s.Name())
		}
	}
	if len(verifications) != len(requests) {
		t.Fatalf("%d verification spans for %d requests", len(verifications), len(requests))
	}
	for i, r := range requests {
		s := verifications[i]
		a := mtAttrs(s)
		if a["tollgate.outcome"] != r.outcome {
			t.Errorf("request %d: outcome %q, want %q", i, a["tollgate.outcome"], r.outcome)
		}
		if s.Status().Code != codes.Unset {
			t.Errorf("request %d (%s): status %v; a refusal the client caused is no error of ours", i, r.outcome, s.Status())
		}
		if r.outcome != "accepted" {
			if len(a) != 1 {
				t.Errorf("request %d (%s): attributes %v, want the outcome alone", i, r.outcome, a)
			}
			continue
		}
		want := map[string]string{"tollgate.outcome": "accepted", "tollgate.token.cached": map[bool]string{true: "true", false: "false"}[r.cached],
			"tollgate.token.kid": "k1", "tollgate.token.alg": "ES256", "tollgate.client_id": "client-a"}
		if r.token == newKey {
			want["tollgate.token.kid"] = "k2"
		}
		for k, v := range want {
			if a[k] != v {
				t.Errorf("request %d: %s = %q, want %q (all: %v)", i, k, a[k], v, a)
			}
		}
	}

	start, miss := fetches["start"], fetches["unknown_kid"]
	if start == nil || miss == nil || len(fetches) != 2 {
		t.Fatalf("fetch spans by trigger: %v", fetches)
	}
	if start.Parent().IsValid() {
		t.Errorf("the start's fetch has a parent")
	}
	if last := verifications[len(verifications)-1]; miss.Parent().SpanID() != last.SpanContext().SpanID() {
		t.Errorf("the unknown kid's fetch is not a child of the verification that waited for it")
	}
	wantURL := js.URL + "/jwks"
	if a := mtAttrs(miss); a["url.full"] != wantURL || a["tollgate.jwks.keys"] != "2" {
		t.Errorf("fetch attributes %v, want url.full %s and 2 keys", a, wantURL)
	}
	if len(polls) != 1 {
		t.Fatalf("%d poll spans, want the start's", len(polls))
	}
	if a := mtAttrs(polls[0]); a["url.full"] != feed.feedURL() || a["tollgate.revocation.entries"] != "1" || a["tollgate.revocation.behind"] != "false" {
		t.Errorf("poll attributes %v", a)
	}

	secrets := []string{"pw-secret", "q-secret", "u-secret", "jti-revoked", "jti-expired", rvJTI(t, good), rvJTI(t, newKey)}
	for _, tok := range []string{good, revoked, expired, forged, newKey} {
		secrets = append(secrets, tok)
		secrets = append(secrets, strings.Split(tok, ".")...) // header, payload, signature
	}
	for _, s := range sr.Ended() {
		texts := []string{s.Name(), s.Status().Description}
		for _, kv := range s.Attributes() {
			texts = append(texts, kv.Value.Emit())
		}
		for _, e := range s.Events() {
			texts = append(texts, e.Name)
			for _, kv := range e.Attributes {
				texts = append(texts, kv.Value.Emit())
			}
		}
		for _, text := range texts {
			for _, secret := range secrets {
				if strings.Contains(text, secret) {
					t.Errorf("span %s holds %q: %q", s.Name(), secret, text)
				}
			}
		}
	}
}

// TestTracingServerErrors: a 503 the middleware answers is an error of
// its span, and a failed fetch is an error of its own.
func TestTracingServerErrors(t *testing.T) {
	t.Parallel()
	tp, sr := mtSpans(t)
	js := rmNewJWKSServer(t, nil)
	js.setStatus(http.StatusServiceUnavailable)
	ks := rmRemote(t, js.URL, middleware.RemoteOptions{RetryStartup: true, MissRefetchInterval: time.Hour, TracerProvider: tp})
	api := rmAPI(t, rmMiddleware(t, ks, func() time.Time { return rmNow }, func(c *middleware.Config) { c.TracerProvider = tp }))
	rmWant(t, "keys never fetched", rmGet(t, api.URL, rmNewKey(t, "ES256", "k1").token(t, rmNow)), http.StatusServiceUnavailable, "temporarily_unavailable")
	found := map[string]bool{}
	for _, s := range sr.Ended() {
		a := mtAttrs(s)
		key := s.Name() + " " + a["tollgate.outcome"] + a["tollgate.jwks.trigger"]
		if s.Status().Code != codes.Error {
			continue
		}
		found[key] = true
	}
	for _, want := range []string{
		"tollgate.middleware.authenticate keys_unavailable",
		"tollgate.middleware.jwks_fetch start",
		"tollgate.middleware.jwks_fetch unknown_kid",
	} {
		if !found[want] {
			t.Errorf("no span %q with status Error; errors: %v", want, found)
		}
	}
}
