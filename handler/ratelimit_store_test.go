package handler_test

import (
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/ratelimit"
)

// TestRateLimitStoreDown: with the counter store unreachable (a Redis
// store pointed at a closed port), the token endpoint fails open by
// default, logging a warning, and answers 503 with FailClosed.
func TestRateLimitStoreDown(t *testing.T) {
	t.Parallel()
	for _, failClosed := range []bool{false, true} {
		store, err := ratelimit.NewRedisStore("redis://127.0.0.1:1/0", "down")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		var logs logBuffer
		ts, _ := newServer(t, func(c *handler.Config) {
			c.RateLimits = handler.RateLimits{Store: store, FailClosed: failClosed}
			c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		})
		res := postForm(t, ts, url.Values{"grant_type": {"client_credentials"}}, integrationID+":"+integrationSecret)
		switch {
		case !failClosed && res.status != 200:
			t.Errorf("fail open: status %d %s, want 200", res.status, res.raw)
		case failClosed && (res.status != 503 || res.body.Error != "temporarily_unavailable"):
			t.Errorf("fail closed: status %d %s, want 503 temporarily_unavailable", res.status, res.raw)
		}
		if !strings.Contains(logs.String(), "rate limit store failed") {
			t.Errorf("failClosed=%v: the store failure was not logged", failClosed)
		}
	}
}
