package handler

import (
	"context"
	"sync/atomic"
	"time"
)

// purger deletes expired entries from the token store now and then: after
// a request, at most once per interval, in the background, bounded in
// time. No goroutine outlives the work, so a Server needs no Close.
type purger struct {
	last    atomic.Int64 // unix nanoseconds of the last start
	running atomic.Bool
}

const purgeTimeout = 30 * time.Second

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
		n, err := s.tokens.DeleteExpired(ctx, now)
		if err != nil {
			s.log.Warn("purging expired tokens failed", "error", err)
			return
		}
		if n > 0 {
			s.log.Debug("purged expired tokens", "count", n)
		}
	}()
}
