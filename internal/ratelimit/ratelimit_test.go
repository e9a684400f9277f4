package ratelimit

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
)

func TestNew(t *testing.T) {
	t.Parallel()
	store := memory.NewStore()
	l, err := New(store, "off", "p:")
	if err != nil || l != nil {
		t.Fatalf("New(off) = %v, %v; want nil, nil", l, err)
	}
	if _, err := New(store, "bad", "p:"); err == nil {
		t.Fatal("New(bad) succeeded")
	}
	l, err = New(store, "5-M", "p:")
	if err != nil || l == nil {
		t.Fatalf("New(5-M) = %v, %v", l, err)
	}
}

func TestNilLimiterAllowsEverything(t *testing.T) {
	t.Parallel()
	var l *Limiter
	ctx := context.Background()
	for range 1000 {
		c, err := l.Take(ctx, "k")
		if err != nil || c.Reached || Exceeded(c) {
			t.Fatalf("nil limiter Take = %+v, %v", c, err)
		}
	}
	c, err := l.Peek(ctx, "k")
	if err != nil || c.Reached || Exceeded(c) {
		t.Fatalf("nil limiter Peek = %+v, %v", c, err)
	}
	h := http.Header{}
	SetHeaders(h, c)
	if len(h) != 0 {
		t.Errorf("headers for an unlimited result: %v", h)
	}
}

func TestTakeAndPeek(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memory.NewStore()
	a, _ := New(store, "2-M", "a:")
	b, _ := New(store, "2-M", "b:")

	for i, want := range []int64{1, 0} {
		c, err := a.Take(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if c.Reached || c.Remaining != want || c.Limit != 2 {
			t.Fatalf("take %d: %+v, want remaining %d", i+1, c, want)
		}
	}
	// Two takes used the quota: the next would be refused, and Peek says so
	// without counting.
	for range 3 {
		c, err := a.Peek(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if !Exceeded(c) {
			t.Fatalf("Peek after the quota is used: %+v, not Exceeded", c)
		}
	}
	c, _ := a.Take(ctx, "k")
	if !c.Reached {
		t.Fatalf("third take not Reached: %+v", c)
	}
	// Another key, and the same key under another prefix, are untouched.
	if c, _ := a.Peek(ctx, "other"); Exceeded(c) || c.Remaining != 2 {
		t.Errorf("other key: %+v", c)
	}
	if c, _ := b.Peek(ctx, "k"); Exceeded(c) || c.Remaining != 2 {
		t.Errorf("same key, other prefix: %+v", c)
	}
}

func TestExceeded(t *testing.T) {
	t.Parallel()
	reset := time.Now().Add(time.Minute).Unix()
	tests := []struct {
		name string
		c    limiter.Context
		want bool
	}{
		{"unlimited", limiter.Context{}, false},
		{"fresh", limiter.Context{Limit: 3, Remaining: 3, Reset: reset}, false},
		{"one left", limiter.Context{Limit: 3, Remaining: 1, Reset: reset}, false},
		{"used up", limiter.Context{Limit: 3, Remaining: 0, Reset: reset}, true},
		{"past the limit", limiter.Context{Limit: 3, Remaining: 0, Reset: reset, Reached: true}, true},
		{"no reset", limiter.Context{Limit: 3, Remaining: 0}, false},
	}
	for _, tt := range tests {
		if got := Exceeded(tt.c); got != tt.want {
			t.Errorf("%s: Exceeded(%+v) = %v, want %v", tt.name, tt.c, got, tt.want)
		}
	}
}

func TestSetHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	SetHeaders(h, limiter.Context{Limit: 10, Remaining: 7, Reset: 1234567890})
	for k, want := range map[string]string{"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "7", "X-RateLimit-Reset": "1234567890"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestTooMany(t *testing.T) {
	t.Parallel()
	now := time.Now().Unix()
	tests := []struct {
		name      string
		reset     int64
		remaining int64
		minWait   int64
		maxWait   int64
	}{
		{"reset ahead", now + 30, 0, 28, 30},
		// The store said Reached with a remainder (a racing counter): the
		// answer still says none is left.
		{"remaining forced to zero", now + 30, 2, 28, 30},
		// A reset already past never gives Retry-After 0 or less.
		{"reset passed", now - 5, 0, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := TooMany(limiter.Context{Limit: 5, Remaining: tt.remaining, Reset: tt.reset, Reached: true}, "widgets")
			if e.Status != http.StatusTooManyRequests {
				t.Errorf("status %d", e.Status)
			}
			if e.Code != oautherr.CodeTemporarilyUnavailable {
				t.Errorf("code %q", e.Code)
			}
			if !strings.Contains(e.Description, "widgets") {
				t.Errorf("description %q does not say what was limited", e.Description)
			}
			wait, err := strconv.ParseInt(e.Header.Get("Retry-After"), 10, 64)
			if err != nil || wait < tt.minWait || wait > tt.maxWait {
				t.Errorf("Retry-After %q, want %d..%d", e.Header.Get("Retry-After"), tt.minWait, tt.maxWait)
			}
			for k, want := range map[string]string{
				"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": strconv.FormatInt(tt.reset, 10),
			} {
				if got := e.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}

			// Written out, it is an OAuth-style JSON error with the headers.
			rec := httptest.NewRecorder()
			oautherr.Write(rec, e)
			if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
				t.Fatalf("written: %d %v", rec.Code, rec.Header())
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if body["error"] != oautherr.CodeTemporarilyUnavailable || body["error_description"] == "" {
				t.Errorf("body %v", body)
			}
		})
	}
}

// TestHeaderNamesCanonical: SetHeaders writes its keys directly, so they
// must be what Header.Get looks up.
func TestHeaderNamesCanonical(t *testing.T) {
	for _, k := range []string{headerLimit, headerRemaining, headerReset} {
		if http.CanonicalHeaderKey(k) != k {
			t.Errorf("%q is not canonical (%q)", k, http.CanonicalHeaderKey(k))
		}
	}
	h := http.Header{}
	SetHeaders(h, limiter.Context{Limit: 10, Remaining: 7, Reset: 1795435200})
	if h.Get("X-RateLimit-Limit") != "10" || h.Get("X-RateLimit-Remaining") != "7" || h.Get("X-RateLimit-Reset") != "1795435200" {
		t.Fatalf("headers %v", h)
	}
	h.Add("X-RateLimit-Limit", "x") // appending to one value must not touch the next
	if h.Get("X-RateLimit-Remaining") != "7" {
		t.Fatalf("an Add to one header changed another: %v", h)
	}
}
