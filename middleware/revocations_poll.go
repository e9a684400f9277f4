package middleware

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/go-json-experiment/json"
	"go.opentelemetry.io/otel/attribute"
)

// logEvery spaces the log lines of a failure that lasts.
const logEvery = time.Minute

// loop polls until Close: every interval while polls succeed, after 1 s
// (doubling up to the interval) while they fail, after 1 s while a long
// feed is still being read.
func (rv *Revocations) loop() {
	defer close(rv.done)
	backoff := time.Second
	wait := rv.interval
	for {
		timer := time.NewTimer(wait)
		select {
		case <-rv.stop:
			timer.Stop()
			return
		case <-timer.C:
		}
		behind, err := rv.pollRecorded(context.Background())
		switch {
		case err != nil:
			wait, backoff = min(backoff, rv.interval), min(backoff*2, rv.interval)
		case behind:
			wait, backoff = min(time.Second, rv.interval), time.Second
		default:
			wait, backoff = rv.interval, time.Second
		}
	}
}

// pollRecorded polls and logs the outcome: the first failure, then at most
// one line per logEvery while failures last, and the recovery.
func (rv *Revocations) pollRecorded(ctx context.Context) (behind bool, err error) {
	behind, err = rv.pollBehind(ctx)
	rv.mu.Lock()
	defer rv.mu.Unlock()
	now := rv.opts.Now()
	if err == nil {
		if rv.failures > 0 {
			rv.opts.Logger.Info("revocation feed reachable again", "failed_polls", rv.failures)
		}
		rv.failures = 0
		return behind, nil
	}
	rv.failures++
	if rv.failures == 1 || now.Sub(rv.lastLog) >= logEvery {
		rv.lastLog = now
		age := "never caught up"
		if s := rv.current.Load(); !s.asOf.IsZero() {
			age = now.Sub(s.asOf).Round(time.Second).String()
		}
		rv.opts.Logger.Warn("revocation feed unavailable; keeping the last set",
			"error", err, "failed_polls", rv.failures, "set_age", age, "fail_closed", rv.opts.FailClosed)
	}
	return false, err
}

// poll brings the set up to date with the feed.
func (rv *Revocations) poll(ctx context.Context) error {
	_, err := rv.pollBehind(ctx)
	return err
}

// pollBehind brings the set up to date, discovering the feed first if
// needed; behind reports a feed longer than one poll reads. Each call is
// one poll for the metrics and one span.
func (rv *Revocations) pollBehind(ctx context.Context) (behind bool, err error) {
	ctx, span := startSpan(ctx, rv.tracer, spanFeedPoll)
	behind, feed, err := rv.pollFeed(ctx)
	rv.opts.Metrics.polled(err)
	if span != nil {
		attrs := []attribute.KeyValue{attribute.Int(attrEntries, rv.current.Load().len()), attribute.Bool(attrBehind, behind)}
		if feed != nil {
			attrs = append(attrs, spanURL(feed))
		}
		endSpan(span, err, attrs...)
	}
	return behind, err
}

// pollFeed is pollBehind's work; feed is the feed's URL, nil while
// unknown.
func (rv *Revocations) pollFeed(ctx context.Context) (behind bool, feed *url.URL, err error) {
	ctx, cancel := context.WithTimeout(ctx, rv.interval)
	defer cancel()
	rv.mu.Lock()
	known := rv.feedURL != nil
	rv.mu.Unlock()
	if !known {
		if _, err := rv.discover(ctx); err != nil {
			return false, nil, err
		}
	}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	behind, err = rv.pull(ctx)
	return behind, rv.feedURL, err
}

// discover reads the feed's URL from the issuer's metadata. reachable
// reports whether the metadata was fetched, so that a wrong answer can be
// told from an absent one.
func (rv *Revocations) discover(ctx context.Context) (reachable bool, err error) {
	body, err := rv.fetch.get(ctx, rv.metadataURL)
	if err != nil {
		return false, fmt.Errorf("middleware: issuer metadata: %w", err)
	}
	md, err := parseMetadata(body, rv.metadataURL, rv.issuer)
	if err != nil {
		return true, err
	}
	if md.RevocationFeedEndpoint == "" {
		return true, fmt.Errorf("%w (metadata at %s)", ErrNoRevocationFeed, rv.metadataURL)
	}
	u, err := rv.feedTarget(md.RevocationFeedEndpoint)
	if err != nil {
		return true, err
	}
	rv.mu.Lock()
	rv.feedURL = u
	rv.mu.Unlock()
	return true, nil
}

// feedTarget checks a feed URL against the fetch rules.
func (rv *Revocations) feedTarget(raw string) (*url.URL, error) {
	if err := rv.fetch.checkURL("revocation feed", raw); err != nil {
		return nil, err
	}
	return url.Parse(raw)
}

// parseMetadata reads RFC 8414 metadata and checks that it names issuer
// (§3.3).
func parseMetadata(body []byte, metadataURL, issuer string) (*metadata, error) {
	var md metadata
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, fmt.Errorf("middleware: issuer metadata at %s is not JSON: %w", metadataURL, err)
	}
	if md.Issuer != issuer {
		return nil, fmt.Errorf("middleware: metadata at %s names issuer %q, want %q (RFC 8414 §3.3)", metadataURL, md.Issuer, issuer)
	}
	return &md, nil
}

// pull reads pages from the cursor on, up to maxPages, and publishes what
// it read, also when a page fails: what was read is good. A reset starts a
// new list, which replaces the set once read to its end; until then the
// set keeps its old entries beside the new ones, so no revocation lapses
// while a long list is read. Called with rv.mu held.
func (rv *Revocations) pull(ctx context.Context) (behind bool, err error) {
	start := rv.opts.Now()
	now := start.Unix()
	cur := rv.current.Load()
	next := &revokedSet{entries: cur.entries, asOf: cur.asOf, gapUntil: cur.gapUntil}
	changed := false // next.entries is a private copy
	caughtUp, rebuilt := false, false
	maxPages := rv.opts.MaxEntries/1000 + 10
	for range maxPages {
		var page *feedPage
		if page, err = rv.fetchPage(ctx); err != nil {
			break
		}
		if page.More && page.Cursor == rv.cursor {
			err = fmt.Errorf("middleware: revocation feed %s: the cursor does not move", rv.feedURL.Redacted())
			break
		}
		if page.Reset {
			e := newEntries()
			rv.rebuild, rv.rebuildGap = &e, 0
		}
		if rv.rebuild != nil {
			rv.rebuild.add(page.Revoked, now)
			rv.rebuildGap = max(rv.rebuildGap, rv.rebuild.trim(rv.opts.MaxEntries))
		}
		if len(page.Revoked) > 0 {
			if !changed {
				next.entries, changed = next.entries.clone(), true
			}
			next.add(page.Revoked, now)
			next.gapUntil = max(next.gapUntil, next.trim(rv.opts.MaxEntries))
		}
		rv.cursor = page.Cursor
		if !page.More {
			caughtUp = true
			break
		}
	}
	if caughtUp {
		next.asOf = start
		if rv.rebuild != nil {
			next.entries, next.gapUntil, changed, rebuilt = *rv.rebuild, rv.rebuildGap, true, true
			rv.rebuild = nil
		}
	}
	if !changed && rv.nextPurge != 0 && now > rv.nextPurge {
		next.entries, changed = next.entries.clone(), true
	}
	if changed {
		next.purge(now)
		rv.nextPurge = 0
		if least := next.minExp(); least != 0 {
			rv.nextPurge = least + int64(revocationGrace/time.Second)
		}
	}
	if next.gapUntil != 0 && now > next.gapUntil+int64(revocationGrace/time.Second) {
		next.gapUntil = 0 // every dropped entry has expired: nothing is missing any more
	}
	rv.current.Store(next)
	if next.gapUntil != 0 && (changed || rebuilt) && (rv.lastFullLog.IsZero() || start.Sub(rv.lastFullLog) >= logEvery) {
		rv.lastFullLog = start
		rv.opts.Logger.Error("revocation set is full; dropped the entries that expire first",
			"max_entries", rv.opts.MaxEntries, "missing_until", time.Unix(next.gapUntil, 0).UTC())
	}
	return !caughtUp && err == nil, err
}

// fetchPage gets the page after the cursor.
func (rv *Revocations) fetchPage(ctx context.Context) (*feedPage, error) {
	u := *rv.feedURL
	if rv.cursor != "" {
		q := u.Query()
		q.Set("after", rv.cursor)
		u.RawQuery = q.Encode()
	}
	body, err := rv.fetch.get(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("middleware: revocation feed: %w", err)
	}
	page, err := parseFeedPage(body)
	if err != nil {
		return nil, fmt.Errorf("middleware: revocation feed %s: %w", u.Redacted(), err)
	}
	return page, nil
}
