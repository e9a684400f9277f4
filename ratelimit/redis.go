package ratelimit

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	redisstore "github.com/ulule/limiter/v3/drivers/store/redis"
)

// RedisStore is a [limiter.Store] on Redis: ulule/limiter's own Redis
// driver over go-redis, so every instance that names the same URL and
// prefix shares one count. It adds what limiter's driver lacks for a
// server that must start, and answer, while Redis is away:
//
//   - Redis being down at start is not an error. limiter's driver loads its
//     Lua scripts when it is made, so it cannot be made without Redis;
//     RedisStore makes it on first use, and again after each failure.
//     Until then its calls fail, and the limits fail open or closed as
//     configured (handler.RateLimits.FailClosed,
//     middleware.RateLimit.FailClosed). No lock is held while connecting:
//     with Redis hanging, each request waits for its own attempt, not for
//     everyone else's.
//   - Timeouts are short (500 ms, one retry), so that decision comes
//     quickly instead of after go-redis's defaults.
type RedisStore struct {
	client *redis.Client
	prefix string
	store  atomic.Pointer[limiter.Store]
}

// NewRedisStore returns a store on the Redis at url (redis:// or
// rediss://, as go-redis's ParseURL reads it). prefix keeps these counters
// apart from other data in the same database. It does not connect: only a
// malformed url is an error. Close it to release its connections.
func NewRedisStore(url, prefix string) (*RedisStore, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: redis URL: %w", err)
	}
	opts.MaxRetries = 1
	opts.MinRetryBackoff, opts.MaxRetryBackoff = 10*time.Millisecond, 50*time.Millisecond
	opts.DialerRetries, opts.DialerRetryTimeout = 1, 10*time.Millisecond
	opts.DialTimeout = 500 * time.Millisecond
	opts.ReadTimeout = 500 * time.Millisecond
	opts.WriteTimeout = 500 * time.Millisecond
	return &RedisStore{client: redis.NewClient(opts), prefix: prefix}, nil
}

// Close releases the store's connections; calls after it fail.
func (s *RedisStore) Close() error { return s.client.Close() }

func (s *RedisStore) get() (limiter.Store, error) {
	if st := s.store.Load(); st != nil {
		return *st, nil
	}
	st, err := redisstore.NewStoreWithOptions(s.client, limiter.StoreOptions{Prefix: s.prefix})
	if err != nil {
		return nil, fmt.Errorf("ratelimit: redis: %w", err)
	}
	s.store.CompareAndSwap(nil, &st)
	return *s.store.Load(), nil
}

// Get counts one request for key.
func (s *RedisStore) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	st, err := s.get()
	if err != nil {
		return limiter.Context{}, err
	}
	return st.Get(ctx, key, rate)
}

// Peek reports key's state without counting.
func (s *RedisStore) Peek(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	st, err := s.get()
	if err != nil {
		return limiter.Context{}, err
	}
	return st.Peek(ctx, key, rate)
}

// Reset forgets key's count.
func (s *RedisStore) Reset(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	st, err := s.get()
	if err != nil {
		return limiter.Context{}, err
	}
	return st.Reset(ctx, key, rate)
}

// Increment adds count (negative to give requests back) for key.
func (s *RedisStore) Increment(ctx context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	st, err := s.get()
	if err != nil {
		return limiter.Context{}, err
	}
	return st.Increment(ctx, key, count, rate)
}

// Ping reports whether Redis answers now, within ctx: for a readiness
// probe. The limits themselves do not need it.
func (s *RedisStore) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ratelimit: redis: %w", err)
	}
	return nil
}
