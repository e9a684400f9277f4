package middleware_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/middleware/authtest"
)

// TestRevokedRefusedAfterNextPoll: a token revoked by jti, or by its
// grant_id, passes until the next poll and is refused from then on, also
// when it was verified and cached before. Tokens of other grants, and
// client_credentials tokens (no grant_id), pass.
func TestRevokedRefusedAfterNextPoll(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		revoke func(s *rvSetup, token string)
		// token is the revoked one; sibling shares its grant, other does not.
		token, sibling, other []authtest.Option
		siblingRevoked        bool
	}{
		{name: "by jti",
			revoke: func(s *rvSetup, tok string) { s.feed.revokeJTI(rvJTI(t, tok), testNow.Add(time.Hour)) },
			token:  []authtest.Option{authtest.GrantID("fam-1")}, sibling: []authtest.Option{authtest.GrantID("fam-1")},
			other: []authtest.Option{}},
		{name: "by grant_id",
			revoke: func(s *rvSetup, _ string) { s.feed.revokeGrant("fam-1", testNow.Add(time.Hour)) },
			token:  []authtest.Option{authtest.GrantID("fam-1")}, sibling: []authtest.Option{authtest.GrantID("fam-1"), authtest.Scopes("x")},
			other: []authtest.Option{authtest.GrantID("fam-2")}, siblingRevoked: true},
		{name: "client_credentials token by jti",
			revoke: func(s *rvSetup, tok string) { s.feed.revokeJTI(rvJTI(t, tok), testNow.Add(time.Hour)) },
			token:  []authtest.Option{}, sibling: []authtest.Option{}, other: []authtest.Option{authtest.GrantID("fam-1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := rvStart(t, nil)
			tok, sibling, other := s.iss.Token(tc.token...), s.iss.Token(tc.sibling...), s.iss.Token(tc.other...)
			wantOK(t, "before the revocation", get(t, s.api.URL, tok))
			wantOK(t, "before the revocation, again (cached)", get(t, s.api.URL, tok))

			tc.revoke(s, tok)
			wantOK(t, "revoked, before the next poll", get(t, s.api.URL, tok))
			s.poll(t)
			wantInvalidToken(t, get(t, s.api.URL, tok), reasonRevoked)
			wantInvalidToken(t, get(t, s.api.URL, tok), reasonRevoked)
			if tc.siblingRevoked {
				wantInvalidToken(t, get(t, s.api.URL, sibling), reasonRevoked)
			} else {
				wantOK(t, "another token of the grant", get(t, s.api.URL, sibling))
			}
			wantOK(t, "a token of another grant", get(t, s.api.URL, other))

			// Still refused later in the token's life, after more polls.
			s.clock.Advance(30 * time.Minute)
			s.poll(t)
			wantInvalidToken(t, get(t, s.api.URL, tok), reasonRevoked)
		})
	}
}

// TestRevokedCachedTokenEveryInstance: one set serves several Middlewares;
// each refuses the revoked token, though each cached it.
func TestRevokedCachedTokenEveryInstance(t *testing.T) {
	t.Parallel()
	s := rvStart(t, nil)
	second := serve(t, newMiddleware(t, s.iss, func(c *middleware.Config) {
		c.Revocations, c.Now = s.rv, s.clock.Now
	}).RequireScopes("orders:read")(reached))
	tok := s.iss.Token(authtest.Scopes("orders:read"), authtest.GrantID("g"))
	wantOK(t, "first API", get(t, s.api.URL, tok))
	wantOK(t, "second API", get(t, second.URL, tok))
	s.feed.revokeGrant("g", testNow.Add(time.Hour))
	s.poll(t)
	wantInvalidToken(t, get(t, s.api.URL, tok), reasonRevoked)
	wantInvalidToken(t, get(t, second.URL, tok), reasonRevoked)
}

// TestRevocationsFeedDown: an unreachable feed keeps the last set. Fail
// open (default): requests pass on the last set, revoked tokens stay
// refused. Fail closed: once the set is older than MaxDelay, requests get
// 503 with Retry-After.
func TestRevocationsFeedDown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		failClosed bool
		maxDelay   time.Duration // 0: the default
		down       func(f *rvFeed)
		retryAfter string
	}{
		{name: "500, fail open", maxDelay: time.Hour, down: func(f *rvFeed) { f.setStatus(http.StatusInternalServerError) }},
		{name: "closed, fail open", maxDelay: time.Minute, down: func(f *rvFeed) { f.Close() }},
		{name: "garbage, fail open", maxDelay: time.Hour, down: func(f *rvFeed) { f.setRaw([]byte("<html>maintenance</html>")) }},
		{name: "redirect, fail open", maxDelay: time.Hour, down: func(f *rvFeed) { f.setStatus(http.StatusFound) }},
		{name: "500, fail closed, default bound", failClosed: true,
			down: func(f *rvFeed) { f.setStatus(http.StatusBadGateway) }, retryAfter: "5"},
		{name: "closed, fail closed, 1 minute bound", failClosed: true, maxDelay: time.Minute,
			down: func(f *rvFeed) { f.Close() }, retryAfter: "30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := rvStart(t, func(o *middleware.RevocationOptions) { o.FailClosed, o.MaxDelay = tc.failClosed, tc.maxDelay })
			bound := tc.maxDelay
			if bound == 0 {
				bound = middleware.DefaultRevocationMaxDelay
			}
			revoked, good := s.iss.Token(), s.iss.Token()
			s.feed.revokeJTI(rvJTI(t, revoked), testNow.Add(2*time.Hour))
			s.poll(t)
			wantInvalidToken(t, get(t, s.api.URL, revoked), reasonRevoked)

			tc.down(s.feed)
			for range 3 { // polls fail within the bound: nothing changes
				s.clock.Advance(bound / 4)
				if err := middleware.PollRevocations(context.Background(), s.rv); err == nil {
					t.Fatal("poll of a feed that is down succeeded")
				}
				wantOK(t, "good token within the bound", get(t, s.api.URL, good))
				wantInvalidToken(t, get(t, s.api.URL, revoked), reasonRevoked)
			}
			s.clock.Advance(bound/4 + time.Second) // past the bound
			if err := middleware.PollRevocations(context.Background(), s.rv); err == nil {
				t.Fatal("poll of a feed that is down succeeded")
			}
			if tc.failClosed {
				wantStale(t, "good token past the bound", get(t, s.api.URL, good), tc.retryAfter)
				wantStale(t, "revoked token past the bound", get(t, s.api.URL, revoked), tc.retryAfter)
				return
			}
			wantOK(t, "good token past the bound", get(t, s.api.URL, good))
			wantInvalidToken(t, get(t, s.api.URL, revoked), reasonRevoked)
		})
	}
}

// TestRevocationsFailureLogs: a failing feed is logged at its first
// failure, then at most once a minute, then when it recovers.
func TestRevocationsFailureLogs(t *testing.T) {
	t.Parallel()
	s := rvStart(t, nil)
	const failed, back = "revocation feed unavailable; keeping the last set", "revocation feed reachable again"
	s.feed.setStatus(http.StatusServiceUnavailable)
	for range 6 {
		s.clock.Advance(9 * time.Second)
		_ = middleware.PollRevocations(context.Background(), s.rv)
	}
	if n := rvCount(s.logs, failed); n != 1 {
		t.Fatalf("%d failure lines for 6 failed polls within a minute, want 1:\n%s", n, s.logs)
	}
	s.clock.Advance(15 * time.Second) // a minute after the first line
	_ = middleware.PollRevocations(context.Background(), s.rv)
	_ = middleware.PollRevocations(context.Background(), s.rv)
	if n := rvCount(s.logs, failed); n != 2 {
		t.Fatalf("%d failure lines after a minute, want 2:\n%s", n, s.logs)
	}
	if !strings.Contains(s.logs.String(), "failed_polls=7") || !strings.Contains(s.logs.String(), "503") {
		t.Errorf("the failure lines do not count the polls or name the answer:\n%s", s.logs)
	}
	s.feed.setStatus(http.StatusOK)
	s.poll(t)
	s.poll(t)
	if n := rvCount(s.logs, back); n != 1 || !strings.Contains(s.logs.String(), "failed_polls=8") {
		t.Errorf("%d recovery lines, want 1 counting 8 failed polls:\n%s", n, s.logs)
	}
}

// TestRevocationsTiming: the feed is polled every MaxDelay/2 and each fetch
// ends within MaxDelay/2 (at most 10 s), so a revocation reaches requests
// within MaxDelay.
func TestRevocationsTiming(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		maxDelay, interval, fetch time.Duration
	}{
		{0, 5 * time.Second, 5 * time.Second},
		{time.Second, 500 * time.Millisecond, 500 * time.Millisecond},
		{time.Minute, 30 * time.Second, 10 * time.Second},
	} {
		s := rvStart(t, func(o *middleware.RevocationOptions) { o.MaxDelay = tc.maxDelay })
		if i, f := middleware.RevocationsTiming(s.rv); i != tc.interval || f != tc.fetch {
			t.Errorf("MaxDelay %v: interval %v, fetch deadline %v; want %v, %v", tc.maxDelay, i, f, tc.interval, tc.fetch)
		}
	}
}

// TestRevocationsFeedBack: after an outage, a fail-closed set serves again
// from the first successful poll, which also brings what was revoked
// meanwhile; the recovery is logged.
func TestRevocationsFeedBack(t *testing.T) {
	t.Parallel()
	s := rvStart(t, func(o *middleware.RevocationOptions) { o.FailClosed = true; o.MaxDelay = 10 * time.Second })
	tok := s.iss.Token()
	s.feed.setStatus(http.StatusServiceUnavailable)
	s.clock.Advance(11 * time.Second)
	_ = middleware.PollRevocations(context.Background(), s.rv)
	wantStale(t, "during the outage", get(t, s.api.URL, tok), "5")
	s.feed.revokeJTI(rvJTI(t, tok), testNow.Add(time.Hour))
	other := s.iss.Token()
	s.feed.setStatus(http.StatusOK)
	s.poll(t)
	wantInvalidToken(t, get(t, s.api.URL, tok), reasonRevoked)
	wantOK(t, "another token after the outage", get(t, s.api.URL, other))
	if rvCount(s.logs, "revocation feed reachable again") != 1 {
		t.Errorf("the recovery was not logged once:\n%s", s.logs)
	}
}

// TestRevocationsReset: a feed whose store was replaced answers with
// everything and reset; the set is replaced, so entries the new store does
// not hold are dropped.
func TestRevocationsReset(t *testing.T) {
	t.Parallel()
	s := rvStart(t, nil)
	a, b, c := s.iss.Token(), s.iss.Token(), s.iss.Token()
	s.feed.revokeJTI(rvJTI(t, a), testNow.Add(time.Hour))
	s.feed.revokeJTI(rvJTI(t, b), testNow.Add(time.Hour))
	s.poll(t)
	wantInvalidToken(t, get(t, s.api.URL, a), reasonRevoked)
	wantInvalidToken(t, get(t, s.api.URL, b), reasonRevoked)

	s.feed.replaceStore("e2", rvEntry{jti: rvJTI(t, b), exp: testNow.Add(time.Hour).Unix()},
		rvEntry{jti: rvJTI(t, c), exp: testNow.Add(time.Hour).Unix()})
	s.poll(t)
	wantOK(t, "entry only the old store held", get(t, s.api.URL, a))
	wantInvalidToken(t, get(t, s.api.URL, b), reasonRevoked)
	wantInvalidToken(t, get(t, s.api.URL, c), reasonRevoked)
	if n := middleware.RevocationsLen(s.rv); n != 2 {
		t.Errorf("%d entries after the reset, want 2", n)
	}
	got := s.feed.cursors()
	if len(got) < 3 || got[0] != "" || !strings.HasPrefix(got[1], "e1.") || !strings.HasPrefix(got[2], "e1.") {
		t.Errorf("cursors sent %q: want none first, then the old store's", got)
	}
}

// TestRevocationsResetAcrossPolls: a reset list longer than one poll reads
// (here 20 pages of 1, MaxEntries 1000: 11 pages a poll) keeps the old
// entries beside the new ones until the list is read to its end.
func TestRevocationsResetAcrossPolls(t *testing.T) {
	t.Parallel()
	s := rvStart(t, func(o *middleware.RevocationOptions) { o.MaxEntries = 1000 })
	old := s.iss.Token()
	s.feed.revokeJTI(rvJTI(t, old), testNow.Add(time.Hour))
	s.poll(t)
	var fresh []string
	var list []rvEntry
	for range 20 {
		tok := s.iss.Token()
		fresh = append(fresh, tok)
		list = append(list, rvEntry{jti: rvJTI(t, tok), exp: testNow.Add(time.Hour).Unix()})
	}
	s.feed.replaceStore("e2", list...)
	s.feed.setPageSize(1)
	hits := s.feed.hits.Load()
	s.poll(t)
	if n := s.feed.hits.Load() - hits; n != 11 {
		t.Errorf("one poll read %d pages, want 11", n)
	}
	wantInvalidToken(t, get(t, s.api.URL, old), reasonRevoked) // not dropped halfway
	wantInvalidToken(t, get(t, s.api.URL, fresh[10]), reasonRevoked)
	wantOK(t, "an entry not read yet", get(t, s.api.URL, fresh[11]))
	s.poll(t)
	wantOK(t, "entry of the old store, reset read to its end", get(t, s.api.URL, old))
	for i, tok := range fresh {
		if res := get(t, s.api.URL, tok); res.Status != http.StatusUnauthorized {
			t.Fatalf("entry %d of the new store: status %d", i, res.Status)
		}
	}
}

// TestRevocationsPaging: "more" pages are read at once, each after the
// previous page's cursor; later polls start from the last cursor.
func TestRevocationsPaging(t *testing.T) {
	t.Parallel()
	s := rvStart(t, nil)
	s.feed.setPageSize(2)
	var toks []string
	for range 5 {
		tok := s.iss.Token()
		toks = append(toks, tok)
		s.feed.revokeJTI(rvJTI(t, tok), testNow.Add(time.Hour))
	}
	s.poll(t)
	for i, tok := range toks {
		if res := get(t, s.api.URL, tok); res.Status != http.StatusUnauthorized {
			t.Fatalf("token %d: status %d, want 401", i, res.Status)
		}
	}
	late := s.iss.Token()
	s.feed.revokeJTI(rvJTI(t, late), testNow.Add(time.Hour))
	s.poll(t)
	wantInvalidToken(t, get(t, s.api.URL, late), reasonRevoked)
	// Start (empty feed, reset), then 3 pages of 2, 2, 1, then one
	// incremental.
	want := []string{"", "e1.0", "e1.2", "e1.4", "e1.5"}
	if got := s.feed.cursors(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("cursors sent %q, want %q", got, want)
	}
}

// TestRevocationsExpiry: entries last until their exp plus the longest
// leeway, so a revoked token within its leeway stays refused; then they
// are dropped. Entries that arrive expired are not kept.
func TestRevocationsExpiry(t *testing.T) {
	t.Parallel()
	s := rvStart(t, nil)
	exp := testNow.Add(10 * time.Minute)
	tok := s.iss.Token(authtest.ExpiresIn(10 * time.Minute))
	s.feed.revokeJTI(rvJTI(t, tok), exp)
	s.feed.revokeJTI("long-gone", testNow.Add(-time.Hour))
	s.poll(t)
	if n := middleware.RevocationsLen(s.rv); n != 1 {
		t.Errorf("%d entries, want 1: an expired entry was kept", n)
	}
	s.clock.Set(exp.Add(20 * time.Second)) // past exp, within the 30 s leeway
	s.poll(t)
	wantInvalidToken(t, get(t, s.api.URL, tok), reasonRevoked)
	s.clock.Set(exp.Add(5*time.Minute + 2*time.Second))
	s.poll(t)
	if n := middleware.RevocationsLen(s.rv); n != 0 {
		t.Errorf("%d entries past exp and the grace, want 0", n)
	}
	wantInvalidToken(t, get(t, s.api.URL, tok), reasonExpired)
}

// TestRevocationsMemoryBound: MaxEntries bounds the set; the entries that
// expire first go, with an error logged. Fail closed, the set cannot vouch
// for the bound until every dropped entry has expired.
func TestRevocationsMemoryBound(t *testing.T) {
	t.Parallel()
	for _, failClosed := range []bool{false, true} {
		s := rvStart(t, func(o *middleware.RevocationOptions) { o.MaxEntries = 5; o.FailClosed = failClosed })
		var toks []string
		for i := range 8 {
			ttl := time.Duration(i+1) * time.Minute
			tok := s.iss.Token(authtest.ExpiresIn(ttl))
			toks = append(toks, tok)
			s.feed.revokeJTI(rvJTI(t, tok), testNow.Add(ttl))
		}
		s.poll(t)
		if n := middleware.RevocationsLen(s.rv); n != 5 {
			t.Fatalf("%d entries, want MaxEntries 5", n)
		}
		if rvCount(s.logs, "revocation set is full; dropped the entries that expire first") != 1 {
			t.Errorf("the dropped entries were not logged:\n%s", s.logs)
		}
		if failClosed {
			wantStale(t, "while a dropped entry may be live", get(t, s.api.URL, s.iss.Token()), "1800")
			// The latest dropped entry expires at +3 min; then 5 min of grace.
			s.clock.Set(testNow.Add(8*time.Minute + time.Second))
			s.poll(t)
			wantOK(t, "once every dropped entry has expired", get(t, s.api.URL, s.iss.Token()))
		}
		wantInvalidToken(t, get(t, s.api.URL, toks[7]), reasonRevoked) // kept: expires last
		if !failClosed {
			wantOK(t, "entry dropped first", get(t, s.api.URL, toks[0]))
		}
	}
}

// TestRevocationsStartup: without RetryStartup an unreachable feed is the
// constructor's error; with it, the set is returned and requests pass
// (fail open) or get 503 (fail closed) until the first poll succeeds.
func TestRevocationsStartup(t *testing.T) {
	t.Parallel()
	feed := rvNewFeed(t)
	feed.setStatus(http.StatusInternalServerError)
	if rv, err := middleware.RevocationFeed(context.Background(), feed.feedURL(), middleware.RevocationOptions{Logger: rmDiscard}); err == nil {
		rv.Close()
		t.Fatal("RevocationFeed succeeded against a failing feed")
	} else if !strings.Contains(err.Error(), "500") {
		t.Errorf("error %q does not say what the feed answered", err)
	}
	for _, failClosed := range []bool{false, true} {
		logs := &rmLog{}
		clk := newClock(testNow)
		rv, err := middleware.RevocationFeed(context.Background(), feed.feedURL(), middleware.RevocationOptions{
			RetryStartup: true, FailClosed: failClosed, MaxDelay: time.Hour, Now: clk.Now, Logger: logs.logger()})
		if err != nil {
			t.Fatalf("RetryStartup: %v", err)
		}
		t.Cleanup(rv.Close)
		if !strings.Contains(logs.String(), "revocation feed not reachable at start") {
			t.Errorf("the failed start was not logged:\n%s", logs)
		}
		iss := newIssuer()
		api := serve(t, newMiddleware(t, iss, func(c *middleware.Config) { c.Revocations, c.Now = rv, clk.Now }).Authenticate(reached))
		tok := iss.Token()
		if failClosed {
			wantStale(t, "never polled, fail closed", get(t, api.URL, tok), "1800")
		} else {
			wantOK(t, "never polled, fail open", get(t, api.URL, tok))
		}
		feed.setStatus(http.StatusOK)
		if err := middleware.PollRevocations(context.Background(), rv); err != nil {
			t.Fatal(err)
		}
		wantOK(t, "after the first poll", get(t, api.URL, tok))
		feed.setStatus(http.StatusInternalServerError)
	}
}

func TestRevocationOptionsErrors(t *testing.T) {
	t.Parallel()
	feed := rvNewFeed(t)
	for _, tc := range []struct {
		name string
		opts middleware.RevocationOptions
		url  string
		want string
	}{
		{"MaxDelay under 1 s", middleware.RevocationOptions{MaxDelay: 500 * time.Millisecond}, "", "MaxDelay"},
		{"MaxDelay negative", middleware.RevocationOptions{MaxDelay: -time.Second}, "", "MaxDelay"},
		{"MaxEntries negative", middleware.RevocationOptions{MaxEntries: -1}, "", "MaxEntries"},
		{"MaxBytes negative", middleware.RevocationOptions{MaxBytes: -1}, "", "MaxBytes"},
		{"FetchTimeout negative", middleware.RevocationOptions{FetchTimeout: -1}, "", "FetchTimeout"},
		{"not a URL", middleware.RevocationOptions{}, "feed", "absolute http(s) URL"},
		{"http on a public name", middleware.RevocationOptions{}, "http://issuer.example.test/oauth/revocations", "must use https"},
		{"http on a public name, RetryStartup", middleware.RevocationOptions{RetryStartup: true}, "http://issuer.example.test/oauth/revocations", "must use https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := tc.url
			if u == "" {
				u = feed.feedURL()
			}
			tc.opts.Logger = rmDiscard
			rv, err := middleware.RevocationFeed(context.Background(), u, tc.opts)
			if err == nil {
				rv.Close()
				t.Fatal("RevocationFeed succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestRevocationsBackgroundLoop: with the real loop (MaxDelay 1 s: a poll
// every 500 ms), a revocation is refused within the bound without any
// explicit poll. The loop runs on real timers, so the test waits for it.
func TestRevocationsBackgroundLoop(t *testing.T) {
	t.Parallel()
	s := rvStart(t, func(o *middleware.RevocationOptions) { o.MaxDelay = time.Second; o.Now = nil })
	tok := s.iss.Token()
	wantOK(t, "before", get(t, s.api.URL, tok))
	s.feed.revokeJTI(rvJTI(t, tok), time.Now().Add(time.Hour))
	rmEventually(t, 10*time.Second, "the loop brought the revocation", func() bool {
		return get(t, s.api.URL, tok).Status == http.StatusUnauthorized
	})
	s.rv.Close()
	s.rv.Close() // idempotent
}
