package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ulule/limiter/v3"
)

// MemoryStore is an in-process [limiter.Store] that counts without a lock:
// a key's current window is one atomic pointer, and a request is one
// atomic add to its count. limiter's own memory store takes a mutex per
// key, which every request of one busy client contends on, and builds a
// new key string per call; on a resource API that sits in front of every
// request, both showed.
//
// Windows are fixed, as in limiter's stores: the count starts at the first
// request of a window and resets when the window has passed. Expired keys
// are swept, at most once a minute, by the request that finds the sweep
// due, so the store needs no goroutine and no Close.
type MemoryStore struct {
	counters  sync.Map // string → *counter
	now       func() time.Time
	nextSweep atomic.Int64 // unix nanoseconds
	sweeping  atomic.Bool
}

// sweepEvery bounds how often expired keys are looked for; between sweeps
// the store holds at most the keys seen in that time.
const sweepEvery = time.Minute

type counter struct{ w atomic.Pointer[window] }

type window struct {
	exp int64 // unix nanoseconds; the window ends after it
	n   atomic.Int64
}

// dead marks a counter removed by a sweep: whoever loaded it before the
// removal looks the key up again, so no count is lost to a detached
// counter.
var dead = &window{}

// NewMemoryStore returns an empty store on the wall clock, as limiter's
// stores count (the Reset of each answer is Unix seconds).
func NewMemoryStore() *MemoryStore { return newMemoryStoreAt(time.Now) }

// newMemoryStoreAt returns an empty store on the clock now, for tests.
func newMemoryStoreAt(now func() time.Time) *MemoryStore {
	s := &MemoryStore{now: now}
	s.nextSweep.Store(now().Add(sweepEvery).UnixNano())
	return s
}

// Get counts one request for key.
func (s *MemoryStore) Get(_ context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	return s.add(key, 1, rate), nil
}

// Increment adds count (negative to give requests back) for key.
func (s *MemoryStore) Increment(_ context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	return s.add(key, count, rate), nil
}

// Peek reports key's state without counting.
func (s *MemoryStore) Peek(_ context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	now := s.now().UnixNano()
	if v, ok := s.counters.Load(key); ok {
		if w := v.(*counter).w.Load(); w != dead && now <= w.exp {
			return state(rate, w.n.Load(), w.exp), nil
		}
	}
	return state(rate, 0, now+int64(rate.Period)), nil
}

// Reset forgets key's count.
func (s *MemoryStore) Reset(_ context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	s.counters.Delete(key)
	return state(rate, 0, s.now().Add(rate.Period).UnixNano()), nil
}

func (s *MemoryStore) add(key string, delta int64, rate limiter.Rate) limiter.Context {
	now := s.now().UnixNano()
	s.maybeSweep(now)
	for {
		c := s.counter(key)
		for {
			w := c.w.Load()
			if w == dead {
				break // swept under us: look the key up again
			}
			if w != nil && now <= w.exp {
				return state(rate, w.n.Add(delta), w.exp)
			}
			if delta < 0 {
				// A refund for a window that has passed gives back
				// nothing: it must not open the next one below zero.
				return state(rate, 0, now+int64(rate.Period))
			}
			next := &window{exp: now + int64(rate.Period)}
			next.n.Store(delta)
			if c.w.CompareAndSwap(w, next) {
				return state(rate, delta, next.exp)
			}
		}
	}
}

func (s *MemoryStore) counter(key string) *counter {
	if v, ok := s.counters.Load(key); ok {
		return v.(*counter)
	}
	v, _ := s.counters.LoadOrStore(key, &counter{})
	return v.(*counter)
}

// maybeSweep removes expired keys when a sweep is due, in the background
// of the request that found it due.
func (s *MemoryStore) maybeSweep(now int64) {
	if now < s.nextSweep.Load() || !s.sweeping.CompareAndSwap(false, true) {
		return
	}
	s.nextSweep.Store(now + int64(sweepEvery))
	go func() {
		defer s.sweeping.Store(false)
		s.sweep(now)
	}()
}

// sweep removes the keys whose window ended before now. A counter is
// marked dead first, and only if its window is still the expired one, so
// a request that just opened a new window keeps it.
func (s *MemoryStore) sweep(now int64) {
	s.counters.Range(func(k, v any) bool {
		c := v.(*counter)
		if w := c.w.Load(); w != dead && (w == nil || now > w.exp) && c.w.CompareAndSwap(w, dead) {
			s.counters.CompareAndDelete(k, c)
		}
		return true
	})
}

// Len reports how many keys the store holds, expired ones not yet swept
// included: a gauge of the memory the store takes.
func (s *MemoryStore) Len() int {
	n := 0
	s.counters.Range(func(_, _ any) bool { n++; return true })
	return n
}

// state is limiter's Context for a count in a window ending at exp, as
// limiter's own stores compute it.
func state(rate limiter.Rate, count, exp int64) limiter.Context {
	c := limiter.Context{Limit: rate.Limit, Reset: time.Unix(0, exp).Unix()}
	if count <= rate.Limit {
		c.Remaining = rate.Limit - count
	} else {
		c.Reached = true
	}
	return c
}
