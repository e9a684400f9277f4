package ratelimit

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"

	"github.com/tollgate-oauth/tollgate/internal/testservices"
)

// TestRedisSharedLimit: two limiters on two stores with the same URL and
// prefix (two instances) share one count, even under concurrency.
func TestRedisSharedLimit(t *testing.T) {
	t.Parallel()
	url := testservices.RedisURL(t)
	prefix := "tollgate-test-" + rand.Text()
	a, err := RedisStore(url, prefix)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := RedisStore(url, prefix)
	la, _ := New(a, "10-M", "shared:")
	lb, _ := New(b, "10-M", "shared:")
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := range 30 {
		wg.Go(func() {
			l := la
			if i%2 == 1 {
				l = lb
			}
			c, err := l.Take(context.Background(), "client-1")
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
}

// TestRedisDown: an unreachable Redis is not an error at construction and
// makes every call fail (quickly), so the caller's fail-open/closed rule
// decides.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	s, err := RedisStore("redis://127.0.0.1:1/0", "x")
	if err != nil {
		t.Fatalf("RedisStore with Redis down: %v", err)
	}
	l, _ := New(s, "10-M", "p:")
	if _, err := l.Take(context.Background(), "k"); err == nil {
		t.Fatal("Take against a down Redis succeeded")
	}
	if _, err := RedisStore("not-a-url", "x"); err == nil {
		t.Fatal("a bad URL was accepted")
	}
}
