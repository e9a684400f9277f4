package handler_test

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
)

// TestFeedConcurrentRevocations: on each SQL backend, access tokens are
// revoked through /oauth/revoke by many concurrent requests while a
// poller follows the feed's cursors. The poller must end up with every
// one: on PostgreSQL, sequence numbers handed out in one order and
// committed in another would let it step over an entry still to commit.
func TestFeedConcurrentRevocations(t *testing.T) {
	const writers, each = 6, 15
	for _, b := range sqBackends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			e, _ := sqServerOn(t, b)
			tokens := make([][]string, writers)
			want := map[string]bool{}
			for w := range writers {
				for range each {
					access, _ := sqWantTokens(t, "client_credentials", e.clientCredentials(t), false)
					tokens[w] = append(tokens[w], access)
					want[fdClaim(t, access, "jti")] = true
				}
			}
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for _, tok := range tokens[w] {
						r, err := sqSend(e.sqRequest(handler.RevokePath, sqCCID, url.Values{"token": {tok}}))
						if err != nil || r.status != http.StatusOK {
							t.Errorf("revoke: %v %v", r, err)
							return
						}
					}
				})
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()

			seen := map[string]bool{}
			cursor, polls := "", 0
			poll := func() {
				for {
					p := fdGet(t, e.ts.URL, cursor)
					polls++
					if p.Reset && cursor != "" {
						t.Errorf("poll %d: reset with cursor %q", polls, cursor)
					}
					for _, en := range p.Revoked {
						seen[en.JTI] = true
					}
					cursor = p.Cursor
					if !p.More {
						return
					}
				}
			}
			for running := true; running; {
				select {
				case <-done:
					running = false
				default:
				}
				poll()
			}
			poll() // everything committed by now
			var missing []string
			for jti := range want {
				if !seen[jti] {
					missing = append(missing, jti)
				}
			}
			if len(missing) > 0 || len(seen) != len(want) {
				t.Errorf("after %d polls the poller has %d of %d revocations; missing %q", polls, len(seen), len(want), missing)
			}
			t.Logf("%d revocations by %d concurrent writers, %d polls", len(want), writers, polls)
		})
	}
}
