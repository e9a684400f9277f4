package main

import (
	"fmt"
	"slices"
	"time"
)

// sample is one interval: what the load saw, and the server's resources
// at its end.
type sample struct {
	at, length                                  time.Duration
	requests, status5xx, connErrors, unexpected int
	good                                        []time.Duration
	rss                                         int64
	fds                                         int
	db                                          int64
}

// The demo has no debug endpoint, so goroutines are not sampled.
func printHeader() {
	fmt.Printf("%6s %9s %7s %5s %9s %10s %8s %8s %8s %5s %8s\n",
		"time", "requests", "rps", "5xx", "conn err", "unexpected", "p50 ms", "p99 ms", "RSS MiB", "fds", "db MiB")
}

func (s sample) print() {
	secs := max(s.at.Seconds()-s.prevAt().Seconds(), 1e-9)
	fmt.Printf("%6s %9d %7.0f %5d %9d %10d %8s %8s %8.1f %5d %8.2f\n",
		s.at.Round(time.Second), s.requests, float64(s.requests)/secs, s.status5xx, s.connErrors, s.unexpected,
		ms(percentile(s.good, 50)), ms(percentile(s.good, 99)), mib(s.rss), s.fds, mib(s.db))
}

// prevAt is the start of the interval; the interval length is the
// sampler's, except for the last, partial one.
func (s sample) prevAt() time.Duration { return s.at - s.length }

func ms(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// percentile of ds (nearest rank), or -1 when there is none.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return -1
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)*p+99)/100-1)]
}

// verdict prints PASS or FAIL per target of the soak and reports whether
// all passed:
//   - no 5xx over the run;
//   - RSS and fds flat: the last minute's mean within 20 % of the second
//     minute's (in a run under two minutes: the last sample against the
//     second);
//   - the database bounded: the last sample at most 20 % plus 4 MiB over
//     the second (SQLite's WAL swings by up to ~4 MiB between
//     checkpoints);
//   - p99 of good requests under 50 ms over the run.
func verdict(rows []sample) bool {
	var all []time.Duration
	total5xx, unexpected, requests := 0, 0, 0
	for _, r := range rows {
		all = append(all, r.good...)
		total5xx += r.status5xx
		unexpected += r.unexpected
		requests += r.requests
	}
	early, late := windows(rows)
	mean := func(rs []sample, f func(sample) float64) float64 {
		sum := 0.0
		for _, r := range rs {
			sum += f(r)
		}
		return sum / float64(len(rs))
	}
	rss := func(s sample) float64 { return float64(s.rss) }
	fds := func(s sample) float64 { return float64(s.fds) }
	db := func(s sample) float64 { return float64(s.db) }
	within := func(early, late float64) bool { return late <= early*1.2 && late >= early*0.8 }
	p99 := percentile(all, 99)
	checks := []struct {
		name   string
		ok     bool
		detail string
	}{
		{"0 5xx", total5xx == 0, fmt.Sprintf("%d of %d requests", total5xx, requests)},
		// A good request refused, or a bad one accepted: the load itself is
		// broken (a sign-in that no longer works, say), and every other
		// figure measures the wrong thing.
		{"0 unexpected", unexpected == 0, fmt.Sprintf("%d of %d requests", unexpected, requests)},
		{"RSS flat", within(mean(early, rss), mean(late, rss)), fmt.Sprintf("%.1f → %.1f MiB", mib(int64(mean(early, rss))), mib(int64(mean(late, rss))))},
		{"fds flat", within(mean(early, fds), mean(late, fds)), fmt.Sprintf("%.0f → %.0f", mean(early, fds), mean(late, fds))},
		{"db bounded", mean(late, db) <= mean(early, db)*1.2+4<<20, fmt.Sprintf("%.2f → %.2f MiB", mib(int64(mean(early, db))), mib(int64(mean(late, db))))},
		{"p99 good < 50 ms", p99 >= 0 && p99 < 50*time.Millisecond, fmt.Sprintf("%s ms over %d good requests", ms(p99), len(all))},
	}
	ok := true
	fmt.Println()
	for _, c := range checks {
		result := "PASS"
		if !c.ok {
			result, ok = "FAIL", false
		}
		fmt.Printf("%-18s %s  (%s)\n", c.name, result, c.detail)
	}
	return ok
}

// windows returns the samples of the second minute and of the last
// minute; in a run under two minutes, the second sample and the last.
func windows(rows []sample) (early, late []sample) {
	end := rows[len(rows)-1].at
	if end < 2*time.Minute || len(rows) < 2 {
		return rows[min(1, len(rows)-1):min(2, len(rows))], rows[len(rows)-1:]
	}
	for _, r := range rows {
		if r.at > time.Minute && r.at <= 2*time.Minute {
			early = append(early, r)
		}
		if r.at > end-time.Minute {
			late = append(late, r)
		}
	}
	return early, late
}
