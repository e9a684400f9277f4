package ratelimit

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/tollgate-oauth/tollgate/internal/testservices"
)

// TestRedisSharedLimit: two limiters on two stores with the same URL and
// prefix (two instances) share one count, even under concurrency.
func TestRedisSharedLimit(t *testing.T) {
	t.Parallel()
	url := testservices.RedisURL(t)
	prefix := "tollgate-test-" + rand.Text()
	a, err := NewRedisStore(url, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, _ := NewRedisStore(url, prefix)
	t.Cleanup(func() { b.Close() })
	rate := limiter.Rate{Limit: 10, Period: time.Minute}
	la, lb := limiter.New(a, rate), limiter.New(b, rate)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := range 30 {
		wg.Go(func() {
			l := la
			if i%2 == 1 {
				l = lb
			}
			c, err := l.Get(context.Background(), "client-1")
			if err != nil {
				t.Error(err)
				return
			}
			if !c.Reached {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != 10 {
		t.Errorf("30 requests over two instances allowed %d, want exactly 10", allowed)
	}
	// A refund (the demo gives a sign-in back once it succeeds) is seen by
	// the other instance.
	ctx := context.Background()
	for range 3 {
		if _, err := la.Get(ctx, "client-2"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := la.Increment(ctx, "client-2", -1); err != nil {
		t.Fatal(err)
	}
	if c, err := lb.Peek(ctx, "client-2"); err != nil || c.Remaining != 8 {
		t.Errorf("3 counted and 1 refunded: the other instance peeks %+v, %v; want 8 remaining", c, err)
	}
}

// TestRedisDown: an unreachable Redis is not an error at construction and
// makes every call fail (quickly), so the caller's fail-open/closed rule
// decides. A closed store fails too.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	s, err := NewRedisStore("redis://127.0.0.1:1/0", "x")
	if err != nil {
		t.Fatalf("NewRedisStore with Redis down: %v", err)
	}
	rate := limiter.Rate{Limit: 10, Period: time.Minute}
	if _, err := s.Get(context.Background(), "k", rate); err == nil {
		t.Fatal("Get against a down Redis succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Peek(context.Background(), "k", rate); err == nil {
		t.Fatal("Peek on a closed store succeeded")
	}
	if _, err := NewRedisStore("not-a-url", "x"); err == nil {
		t.Fatal("a bad URL was accepted")
	}
}
