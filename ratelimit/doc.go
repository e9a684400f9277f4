// Package ratelimit holds what tollgate's rate limits run on, for a host
// that shares them between instances or limits its own pages the same way:
//
//   - counter stores for [github.com/ulule/limiter/v3]: [MemoryStore], the
//     in-process default of handler.Config.RateLimits.Store and
//     middleware.RateLimit.Store, and [RedisStore], one count shared by
//     every instance;
//   - [ParseRate], the rate format every tollgate limit takes ("100-S",
//     "10-M", or "off");
//   - [Limiter], the counting over a shared store that tollgate's limits
//     do, for a host's own (the demo server counts failed sign-ins with it);
//   - [ClientIP], the client address behind trusted proxies, by the rule
//     the token endpoint applies with handler.Config.TrustedProxies.
package ratelimit
