package storagetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// readFeed reads the feed after position after, checking what every read
// must hold: an epoch, and entries numbered above after, up to Last, in
// increasing order, at most limit.
func readFeed(t testing.TB, s storage.TokenStore, after uint64, now time.Time, limit int) *storage.RevocationPage {
	t.Helper()
	p, err := s.Revocations(t.Context(), after, now, limit)
	if err != nil {
		t.Fatalf("Revocations(after %d): %v", after, err)
	}
	if p.Epoch == "" {
		t.Errorf("Revocations(after %d): empty Epoch", after)
	}
	if len(p.Entries) > limit {
		t.Errorf("Revocations(after %d, limit %d): %d entries", after, limit, len(p.Entries))
	}
	prev := after
	for _, e := range p.Entries {
		if e.Seq <= prev || e.Seq > p.Last {
			t.Errorf("Revocations(after %d): entry Seq %d after %d, Last %d: want increasing, above after, at most Last", after, e.Seq, prev, p.Last)
		}
		if (e.JTI == "") == (e.GrantID == "") {
			t.Errorf("Revocations: entry %+v: want exactly one of JTI and GrantID", e)
		}
		prev = e.Seq
	}
	return p
}

// assertFeed compares the whole feed after position after (read in one
// page) with want, sequence numbers aside.
func assertFeed(t testing.TB, s storage.TokenStore, after uint64, now time.Time, want []storage.Revocation) {
	t.Helper()
	p := readFeed(t, s, after, now, 1000)
	got := slices.Clone(p.Entries)
	for i := range got {
		got[i].Seq = 0 // the store's to choose; readFeed checked the order
	}
	assertRecord(t, fmt.Sprintf("Revocations(after %d)", after), got, want)
}

func testFeedEmpty(t testing.TB, s storage.TokenStore) {
	p := readFeed(t, s, 0, baseTime(), 10)
	if p.Last != 0 || len(p.Entries) != 0 {
		t.Errorf("Revocations of an empty store = Last %d, %d entries; want 0, none", p.Last, len(p.Entries))
	}
	again := readFeed(t, s, 0, baseTime(), 10)
	if again.Epoch != p.Epoch {
		t.Errorf("the epoch changed between two reads: %q, %q", p.Epoch, again.Epoch)
	}
}

// testFeedOrder: entries come in the order of revocation; Last is the
// newest; reading after an entry gives what followed it.
func testFeedOrder(t testing.TB, s storage.TokenStore) {
	ctx := t.Context()
	now := baseTime()
	exp := now.Add(time.Hour)
	mustCreateFamily(t, s, &storage.Family{Grant: minimalGrant("g", now), AccessExpiresAt: exp.Add(time.Hour)})
	for _, step := range []error{
		s.RevokeAccessToken(ctx, "a", exp),
		s.RevokeFamily(ctx, "g", exp),
		s.RevokeAccessToken(ctx, "b", exp),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	want := feedFixtures(exp)
	assertFeed(t, s, 0, now, want)
	p := readFeed(t, s, 0, now, 10)
	if len(p.Entries) != 3 || p.Last != p.Entries[2].Seq {
		t.Fatalf("Revocations = %+v, want 3 entries, Last the third's Seq", p)
	}
	assertFeed(t, s, p.Entries[0].Seq, now, want[1:])
	assertFeed(t, s, p.Last, now, nil)
	if again := readFeed(t, s, 0, now, 10); again.Epoch != p.Epoch {
		t.Errorf("the epoch changed: %q, %q", p.Epoch, again.Epoch)
	}
}

// testFeedPaging: a poller that follows the rule (a full page: ask after
// its last entry; else ask after Last) sees every entry exactly once.
func testFeedPaging(t testing.TB, s storage.TokenStore) {
	now := baseTime()
	const n, limit = 25, 10
	var want []string
	for i := range n {
		jti := fmt.Sprintf("jti-%02d", i)
		want = append(want, jti)
		if err := s.RevokeAccessToken(t.Context(), jti, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	var sizes []int
	after := uint64(0)
	for range n {
		p := readFeed(t, s, after, now, limit)
		sizes = append(sizes, len(p.Entries))
		for _, e := range p.Entries {
			got = append(got, e.JTI)
		}
		if len(p.Entries) < limit {
			after = p.Last
			break
		}
		after = p.Entries[len(p.Entries)-1].Seq
	}
	if !slices.Equal(got, want) || !slices.Equal(sizes, []int{10, 10, 5}) {
		t.Errorf("paging by %d: pages of %v, entries %q; want pages of [10 10 5] and every entry once, in order", limit, sizes, got)
	}
	if p := readFeed(t, s, after, now, limit); len(p.Entries) != 0 {
		t.Errorf("after the last page: %d entries, want none", len(p.Entries))
	}
}

// testFeedExpired: an entry is served until its expiry (at now included),
// not after, even before a purge.
func testFeedExpired(t testing.TB, s storage.TokenStore) {
	now := baseTime()
	for jti, exp := range map[string]time.Time{"gone": now.Add(-time.Microsecond), "at-now": now, "live": now.Add(time.Minute)} {
		if err := s.RevokeAccessToken(t.Context(), jti, exp); err != nil {
			t.Fatal(err)
		}
	}
	p := readFeed(t, s, 0, now, 10)
	var got []string
	for _, e := range p.Entries {
		got = append(got, e.JTI)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"at-now", "live"}) {
		t.Errorf("Revocations at now = %q, want [at-now live]", got)
	}
	if p := readFeed(t, s, 0, now.Add(time.Minute+time.Microsecond), 10); len(p.Entries) != 0 {
		t.Errorf("Revocations after every expiry = %+v, want none", p.Entries)
	}
}

// testFeedConcurrent: a poller reading while many revocations commit
// concurrently misses none of them. A store that numbered entries in one
// order and made them visible in another would let the poller step over
// one still to commit.
func testFeedConcurrent(t testing.TB, s storage.TokenStore) {
	ctx := t.Context()
	now := baseTime()
	const writers, each = 8, 25
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := s.RevokeAccessToken(ctx, fmt.Sprintf("w%d-%d", w, i), now.Add(time.Hour)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	seen := map[string]bool{}
	after := uint64(0)
	poll := func() {
		for {
			p := readFeed(t, s, after, now, 7)
			for _, e := range p.Entries {
				seen[e.JTI] = true
			}
			if len(p.Entries) < 7 {
				after = p.Last
				return
			}
			after = p.Entries[len(p.Entries)-1].Seq
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(time.Millisecond): // pacing, as a real poller: not for correctness
		}
		poll()
	}
	poll()
	if len(seen) != writers*each {
		var missing []string
		for w := range writers {
			for i := range each {
				if id := fmt.Sprintf("w%d-%d", w, i); !seen[id] {
					missing = append(missing, id)
				}
			}
		}
		t.Errorf("the poller saw %d of %d revocations; missing %q", len(seen), writers*each, missing)
	}
}
