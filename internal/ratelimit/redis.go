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

// RedisStore returns a limiter store on Redis (ulule/limiter's Redis driver
// over go-redis), shared by every instance that names the same URL and
// prefix. Redis being down at start is not an error: the store connects on
// first use and again after each failure, and until then its calls fail
// (the limits then fail open or closed, as configured). Timeouts are
// short so that decision comes quickly.
func RedisStore(url, prefix string) (limiter.Store, error) {
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
	return &lazyRedis{client: redis.NewClient(opts), prefix: prefix}, nil
}

// lazyRedis builds ulule's store (which loads its Lua scripts, so needs
// Redis) on first successful use. No lock is held while connecting: with
// Redis hanging, each request waits for its own attempt (bounded by the
// timeouts), not for everyone else's.
type lazyRedis struct {
	client *redis.Client
	prefix string
	store  atomic.Pointer[limiter.Store]
}

func (l *lazyRedis) get(ctx context.Context) (limiter.Store, error) {
	if s := l.store.Load(); s != nil {
		return *s, nil
	}
	s, err := redisstore.NewStoreWithOptions(l.client, limiter.StoreOptions{Prefix: l.prefix})
	if err != nil {
		return nil, fmt.Errorf("ratelimit: redis: %w", err)
	}
	l.store.CompareAndSwap(nil, &s)
	return *l.store.Load(), nil
}

func (l *lazyRedis) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	s, err := l.get(ctx)
	if err != nil {
		return limiter.Context{}, err
	}
	return s.Get(ctx, key, rate)
}

func (l *lazyRedis) Peek(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	s, err := l.get(ctx)
	if err != nil {
		return limiter.Context{}, err
	}
	return s.Peek(ctx, key, rate)
}

func (l *lazyRedis) Reset(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	s, err := l.get(ctx)
	if err != nil {
		return limiter.Context{}, err
	}
	return s.Reset(ctx, key, rate)
}

func (l *lazyRedis) Increment(ctx context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	s, err := l.get(ctx)
	if err != nil {
		return limiter.Context{}, err
	}
	return s.Increment(ctx, key, count, rate)
}
