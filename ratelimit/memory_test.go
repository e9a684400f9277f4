package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"
)

// fakeClock is a settable clock.
type fakeClock struct{ t atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.t.Store(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.t.Add(int64(d)) }

// TestMemoryStoreWindows: the store answers as limiter's own memory store
// does, step by step, over a window, a refund, a peek and a reset.
func TestMemoryStoreWindows(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newMemoryStoreAt(clock.now)
	ctx := context.Background()
	rate := limiter.Rate{Limit: 3, Period: time.Minute}
	start := clock.now()
	reset := start.Add(time.Minute).Unix()

	type want struct {
		remaining int64
		reached   bool
		reset     int64
	}
	steps := []struct {
		name string
		do   func() (limiter.Context, error)
		want want
	}{
		{"first", func() (limiter.Context, error) { return s.Get(ctx, "k", rate) }, want{2, false, reset}},
		{"peek counts nothing", func() (limiter.Context, error) { return s.Peek(ctx, "k", rate) }, want{2, false, reset}},
		{"second", func() (limiter.Context, error) { return s.Get(ctx, "k", rate) }, want{1, false, reset}},
		{"third", func() (limiter.Context, error) { return s.Get(ctx, "k", rate) }, want{0, false, reset}},
		{"fourth is over", func() (limiter.Context, error) { return s.Get(ctx, "k", rate) }, want{0, true, reset}},
		{"refund two", func() (limiter.Context, error) { return s.Increment(ctx, "k", -2, rate) }, want{1, false, reset}},
		{"other key apart", func() (limiter.Context, error) { return s.Get(ctx, "other", rate) }, want{2, false, reset}},
		{"after the window", func() (limiter.Context, error) {
			clock.advance(time.Minute + time.Nanosecond)
			return s.Get(ctx, "k", rate)
		}, want{2, false, start.Add(2*time.Minute + time.Nanosecond).Unix()}},
		{"refund in a passed window gives nothing", func() (limiter.Context, error) {
			clock.advance(2 * time.Minute)
			return s.Increment(ctx, "k", -1, rate)
		}, want{3, false, start.Add(4*time.Minute + time.Nanosecond).Unix()}},
		{"and opens no window below zero", func() (limiter.Context, error) { return s.Get(ctx, "k", rate) },
			want{2, false, start.Add(4*time.Minute + time.Nanosecond).Unix()}},
		{"reset", func() (limiter.Context, error) { return s.Reset(ctx, "k", rate) }, want{3, false, start.Add(4*time.Minute + time.Nanosecond).Unix()}},
		{"after reset", func() (limiter.Context, error) { return s.Get(ctx, "k", rate) }, want{2, false, start.Add(4*time.Minute + time.Nanosecond).Unix()}},
	}
	for _, st := range steps {
		got, err := st.do()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got.Limit != rate.Limit || got.Remaining != st.want.remaining || got.Reached != st.want.reached || got.Reset != st.want.reset {
			t.Fatalf("%s: got %+v, want limit %d %+v", st.name, got, rate.Limit, st.want)
		}
	}
}

// TestMemoryStoreMatchesLimiter runs the same calls against limiter's own
// memory store within one window (its clock is the wall clock) and
// expects the same answers.
func TestMemoryStoreMatchesLimiter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rate := limiter.Rate{Limit: 5, Period: time.Hour}
	ours, theirs := NewMemoryStore(), memory.NewStore()
	for i := range 12 {
		key := fmt.Sprint("k", i%2)
		a, _ := ours.Get(ctx, key, rate)
		b, _ := theirs.Get(ctx, key, rate)
		if a.Remaining != b.Remaining || a.Reached != b.Reached || a.Limit != b.Limit {
			t.Fatalf("request %d: ours %+v, limiter's %+v", i, a, b)
		}
	}
}

// TestMemoryStoreConcurrent: no count is lost under contention, sweeps
// included (run with -race).
func TestMemoryStoreConcurrent(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newMemoryStoreAt(clock.now)
	rate := limiter.Rate{Limit: 1 << 40, Period: time.Hour}
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := s.Get(context.Background(), "hot", rate); err != nil {
					t.Error(err)
				}
			}
		})
	}
	// Sweeps run meanwhile; they must leave a live window alone.
	for range 50 {
		s.sweep(clock.now().UnixNano())
	}
	wg.Wait()
	got, _ := s.Peek(context.Background(), "hot", rate)
	if used := rate.Limit - got.Remaining; used != workers*each {
		t.Fatalf("counted %d, want %d", used, workers*each)
	}
}

// TestMemoryStoreSweeps: keys whose window has passed are removed once a
// sweep is due, so a spray of distinct keys does not stay in memory.
func TestMemoryStoreSweeps(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newMemoryStoreAt(clock.now)
	rate := limiter.Rate{Limit: 10, Period: time.Second}
	for i := range 1000 {
		s.Get(context.Background(), fmt.Sprint("spray-", i), rate)
	}
	if n := s.Len(); n != 1000 {
		t.Fatalf("%d keys, want 1000", n)
	}
	clock.advance(sweepEvery + time.Second)
	s.Get(context.Background(), "live", rate) // finds the sweep due
	deadline := time.Now().Add(5 * time.Second)
	for s.Len() > 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d keys left after the sweep, want 1 (live)", s.Len())
		}
		time.Sleep(time.Millisecond) // the sweep runs in the background
	}
	if got, _ := s.Peek(context.Background(), "live", rate); got.Remaining != 9 {
		t.Fatalf("the live key after the sweep: %+v", got)
	}
}

// BenchmarkMemoryStore compares the two stores on one hot key from every
// core, the resource API's case of one busy client.
func BenchmarkMemoryStore(b *testing.B) {
	for _, c := range []struct {
		name  string
		store limiter.Store
	}{{"tollgate", NewMemoryStore()}, {"limiter", memory.NewStore()}} {
		b.Run(c.name, func(b *testing.B) {
			lim := limiter.New(c.store, limiter.Rate{Limit: 1e12, Period: time.Hour})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := lim.Get(context.Background(), "tollgate:api:default:client:hot"); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
