package storagetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// normTime is a time as the suite compares it: the instant, at
// microsecond precision.
func normTime(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

func assertCode(t testing.TB, what string, got, want *storage.AuthorizationCode) {
	t.Helper()
	assertRecord(t, what, got, want)
}

func assertFamily(t testing.TB, what string, got, want *storage.Family) {
	t.Helper()
	assertRecord(t, what, got, want)
}

// mutateGrant changes every field of g in place, reaching into its
// slices, map and session bytes, as a careless caller would.
func mutateGrant(g *storage.Grant) {
	g.ID += "-mutated"
	g.Subject = "mallory"
	g.RequestedAt = g.RequestedAt.Add(time.Hour)
	g.RequestedScopes[0] = "admin"
	g.GrantedScopes[0] = "admin"
	g.RequestedAudience[0] = "https://evil.example"
	g.GrantedAudience[0] = "https://evil.example"
	g.Form["redirect_uri"] = "https://evil.example/cb"
	g.Form["injected"] = "yes"
	g.Session[0] = 'X'
}

// race calls fn from n goroutines released together and returns what each
// call returned.
func race(n int, fn func() error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn()
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// assertOneWinner checks that exactly one call succeeded and every other
// lost with ErrAlreadyUsed.
func assertOneWinner(t testing.TB, what string, errs []error) {
	t.Helper()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, storage.ErrAlreadyUsed):
			t.Errorf("%s: call %d: error = %v, want nil or ErrAlreadyUsed", what, i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%s: %d of %d concurrent calls succeeded, want exactly 1", what, wins, len(errs))
	}
}

// concurrency is how many goroutines the single-use races start.
const concurrency = 32
