package middleware

import (
	"context"
	"time"
)

// PollRevocations polls rv's feed now, as its background loop does, so
// tests drive polls on their own schedule instead of the loop's timer.
func PollRevocations(ctx context.Context, rv *Revocations) error {
	_, err := rv.pollRecorded(ctx)
	return err
}

// RevocationsLen is the number of entries of rv's current set.
func RevocationsLen(rv *Revocations) int { return rv.current.Load().len() }

// RevocationsTiming returns rv's poll interval and fetch deadline.
func RevocationsTiming(rv *Revocations) (interval, fetchTimeout time.Duration) {
	return rv.interval, rv.fetch.timeout
}

// RefusedFeedPages returns the feed page bodies the parser's table says
// are refused, by name.
func RefusedFeedPages() map[string]string {
	out := map[string]string{}
	for _, s := range feedSamples {
		if !s.ok {
			out[s.name] = s.body
		}
	}
	return out
}
