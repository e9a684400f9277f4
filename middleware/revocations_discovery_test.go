package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/middleware"
)

// TestIssuerRevocationFeed: the feed is found through the issuer's
// metadata (revocation_feed_endpoint) and polled like a configured one.
func TestIssuerRevocationFeed(t *testing.T) {
	t.Parallel()
	feed := rvNewFeed(t)
	md, hits := rmMetadataServer(t, map[string]any{"issuer": rmIssuer, "jwks_uri": "https://x/jwks",
		"revocation_feed_endpoint": feed.feedURL()})
	clk := newClock(testNow)
	rv, err := middleware.IssuerRevocationFeed(context.Background(), md.URL+handler.MetadataPath, rmIssuer,
		middleware.RevocationOptions{MaxDelay: time.Hour, Now: clk.Now, Logger: rmDiscard})
	if err != nil {
		t.Fatalf("IssuerRevocationFeed: %v", err)
	}
	t.Cleanup(rv.Close)
	iss := newIssuer()
	api := serve(t, newMiddleware(t, iss, func(c *middleware.Config) { c.Revocations = rv }).Authenticate(reached))
	tok := iss.Token()
	wantOK(t, "before", get(t, api.URL, tok))
	feed.revokeJTI(rvJTI(t, tok), testNow.Add(time.Hour))
	if err := middleware.PollRevocations(context.Background(), rv); err != nil {
		t.Fatal(err)
	}
	wantInvalidToken(t, get(t, api.URL, tok), reasonRevoked)
	if hits.Load() != 1 || feed.hits.Load() != 2 {
		t.Errorf("metadata fetched %d times, feed %d; want 1 and 2", hits.Load(), feed.hits.Load())
	}
}

func TestIssuerRevocationFeedErrors(t *testing.T) {
	t.Parallel()
	feed := rvNewFeed(t)
	redirect := serve(t, http.RedirectHandler(feed.feedURL(), http.StatusFound))
	for _, tc := range []struct {
		name   string
		md     map[string]any
		url    string // instead of the metadata server's
		noFeed bool   // the error wraps ErrNoRevocationFeed
		want   string
	}{
		{name: "no revocation_feed_endpoint", md: map[string]any{"issuer": rmIssuer}, noFeed: true, want: "revocation_feed_endpoint"},
		{name: "empty revocation_feed_endpoint", md: map[string]any{"issuer": rmIssuer, "revocation_feed_endpoint": ""}, noFeed: true},
		{name: "another issuer", md: map[string]any{"issuer": "https://evil.test", "revocation_feed_endpoint": feed.feedURL()}, want: "evil.test"},
		{name: "endpoint http on a public name", md: map[string]any{"issuer": rmIssuer,
			"revocation_feed_endpoint": "http://issuer.example.test/oauth/revocations"}, want: "must use https"},
		{name: "endpoint relative", md: map[string]any{"issuer": rmIssuer, "revocation_feed_endpoint": "/oauth/revocations"}, want: "absolute http(s) URL"},
		{name: "endpoint not a string", md: map[string]any{"issuer": rmIssuer, "revocation_feed_endpoint": 7}, want: "not JSON"},
		{name: "endpoint redirects", md: map[string]any{"issuer": rmIssuer, "revocation_feed_endpoint": redirect.URL}, want: "redirects are not followed"},
		{name: "metadata redirects", url: redirect.URL, want: "redirects are not followed"},
		{name: "metadata http on a public name", url: "http://issuer.example.test" + handler.MetadataPath, want: "must use https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := tc.url
			if u == "" {
				md, _ := rmMetadataServer(t, tc.md)
				u = md.URL + handler.MetadataPath
			}
			// RetryStartup does not hide an issuer that answered wrong.
			for _, retry := range []bool{false, true} {
				if retry && strings.Contains(tc.name, "redirects") {
					continue // a redirect is an answer too, but one that could be transient
				}
				rv, err := middleware.IssuerRevocationFeed(context.Background(), u, rmIssuer,
					middleware.RevocationOptions{RetryStartup: retry, Logger: rmDiscard})
				if err == nil {
					rv.Close()
					t.Fatalf("RetryStartup %v: IssuerRevocationFeed succeeded", retry)
				}
				if errors.Is(err, middleware.ErrNoRevocationFeed) != tc.noFeed || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("RetryStartup %v: error %q (ErrNoRevocationFeed %v), want %q", retry, err,
						errors.Is(err, middleware.ErrNoRevocationFeed), tc.want)
				}
			}
		})
	}
}

// TestIssuerRevocationFeedRetryStartup: with RetryStartup, metadata that
// cannot be fetched yet is fetched by a later poll, which then reads the
// feed; until then the set fails open, or closed as configured.
func TestIssuerRevocationFeedRetryStartup(t *testing.T) {
	t.Parallel()
	for _, failClosed := range []bool{false, true} {
		feed := rvNewFeed(t)
		var up atomic.Bool
		md := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if !up.Load() {
				http.Error(w, "starting", http.StatusServiceUnavailable)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": rmIssuer, "revocation_feed_endpoint": feed.feedURL()})
		}))
		clk, logs := newClock(testNow), &rmLog{}
		opts := middleware.RevocationOptions{MaxDelay: time.Hour, FailClosed: failClosed, Now: clk.Now, Logger: logs.logger()}
		if rv, err := middleware.IssuerRevocationFeed(context.Background(), md.URL, rmIssuer, opts); err == nil {
			rv.Close()
			t.Fatal("metadata unreachable, no RetryStartup: IssuerRevocationFeed succeeded")
		} else if !strings.Contains(err.Error(), "503") {
			t.Errorf("error %q does not say what the metadata answered", err)
		}
		opts.RetryStartup = true
		rv, err := middleware.IssuerRevocationFeed(context.Background(), md.URL, rmIssuer, opts)
		if err != nil {
			t.Fatalf("RetryStartup: %v", err)
		}
		t.Cleanup(rv.Close)
		if !strings.Contains(logs.String(), "revocation feed not reachable at start") {
			t.Errorf("the failed start was not logged:\n%s", logs)
		}
		iss := newIssuer()
		api := serve(t, newMiddleware(t, iss, func(c *middleware.Config) { c.Revocations, c.Now = rv, clk.Now }).Authenticate(reached))
		tok := iss.Token()
		feed.revokeJTI(rvJTI(t, tok), testNow.Add(time.Hour))
		if failClosed {
			wantStale(t, "feed not found yet, fail closed", get(t, api.URL, tok), "1800")
		} else {
			wantOK(t, "feed not found yet, fail open", get(t, api.URL, tok))
		}
		if err := middleware.PollRevocations(context.Background(), rv); err == nil {
			t.Fatal("poll succeeded while the metadata is down")
		}
		up.Store(true)
		if err := middleware.PollRevocations(context.Background(), rv); err != nil {
			t.Fatalf("poll once the metadata is up: %v", err)
		}
		wantInvalidToken(t, get(t, api.URL, tok), reasonRevoked)
		wantOK(t, "another token", get(t, api.URL, iss.Token()))
	}
}
