package handler

import (
	"context"
	"sync/atomic"
	"time"
)

// purger deletes expired entries from the token store now and then: after
// a request, at most once per interval, in the background. It deletes in
// small batches (storage.TokenStore.DeleteExpired with a limit: one short
// statement per table), resting after each at least as long as it took:
// SQLite has one writer, and a request that needs to write must not wait
// behind a purge of 100 000 rows. The batch size adapts so that a batch
// takes about purgeBatchTime, within [purgeMinBatch, purgeMaxBatch]. No
// goroutine outlives the work, so a Server needs no Close.
type purger struct {
	last    atomic.Int64 // unix nanoseconds of the last start
	running atomic.Bool
}

const (
	purgeTimeout    = 5 * time.Minute       // a whole run; the next run goes on
	purgeBatchTime  = 10 * time.Millisecond // what a batch should take
	purgePause      = 20 * time.Millisecond // at least, between batches: writers go first
	purgeFirstBatch = 512
	purgeMinBatch   = 256
	purgeMaxBatch   = 4096
)

// maybePurge starts a purge if the interval has passed since the last one
// and none is running.
func (s *Server) maybePurge() {
	if s.cfg.PurgeInterval < 0 {
		return
	}
	now := s.cfg.Now()
	last := s.purge.last.Load()
	if now.UnixNano()-last < int64(s.cfg.PurgeInterval) || !s.purge.running.CompareAndSwap(false, true) {
		return
	}
	s.purge.last.Store(now.UnixNano())
	go func() {
		defer s.purge.running.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), purgeTimeout)
		defer cancel()
		// Everything is kept revocationGrace past its expiry: feed entries
		// must outlive a verifier's leeway (see serveRevocations); codes and
		// families are checked against their expiry on use, so keeping them
		// a little longer changes nothing.
		ctx, span := s.obs.tracer.Start(ctx, "tollgate.purge")
		n, err := s.purgeExpired(ctx, now.Add(-revocationGrace))
		span.Int("tollgate.purged", n)
		endSpan(span, &err)
		if err != nil {
			s.log.Warn("purging expired tokens failed", "error", err, "purged", n)
			return
		}
		if n > 0 {
			s.log.Debug("purged expired tokens", "count", n)
		}
	}()
}

// purgeExpired deletes what expired before now, batch after batch, until a
// batch comes back short. It returns how many records it deleted.
func (s *Server) purgeExpired(ctx context.Context, now time.Time) (int, error) {
	batch, total := purgeFirstBatch, 0
	for {
		start := time.Now()
		n, err := s.tokens.DeleteExpired(ctx, now, batch)
		took := time.Since(start)
		total += n
		if err != nil || n < batch {
			return total, err
		}
		switch {
		case took > 2*purgeBatchTime && batch > purgeMinBatch:
			batch /= 2
		case took < purgeBatchTime/2 && batch < purgeMaxBatch:
			batch *= 2
		}
		// Rest at least as long as the batch took: the purge never has more
		// than half of the store's time, however slow the store is now.
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(max(purgePause, took)):
		}
	}
}
