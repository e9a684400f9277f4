package storagetest

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// baseTime is the suite's "now": microsecond precision, as SQL stores keep
// (see the package documentation).
func baseTime() time.Time { return time.Now().Truncate(time.Microsecond) }

// fullGrant has every field set, with values a careless store would mangle:
// a time in a non-UTC zone, ordered slices, a URL with a query and
// non-ASCII text in the form, session bytes that are not valid UTF-8.
func fullGrant(id string, at time.Time) *storage.Grant {
	return &storage.Grant{
		ID:                id,
		ClientID:          "third-party-app",
		Subject:           "user-42",
		RequestedAt:       at.In(time.FixedZone("UTC+05:30", 5*3600+30*60)),
		RequestedScopes:   []string{"openid", "orders:write", "orders:read"},
		GrantedScopes:     []string{"orders:read", "openid"},
		RequestedAudience: []string{"https://qa-api.example.com", "https://api.example.com"},
		GrantedAudience:   []string{"https://api.example.com"},
		Form: map[string]string{
			"redirect_uri":          "https://app.example.com/cb?x=1&y=%20",
			"code_challenge":        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
			"code_challenge_method": "S256",
			"nonce":                 "ünïcødé ✓",
		},
		Session: []byte{0x00, 0xff, 0xfe, '{', '"', '\n', 0x80, 0x00, 'x'},
	}
}

// minimalGrant leaves every optional field empty: the store must accept it
// and give back empty values (nil or empty, either will do).
func minimalGrant(id string, at time.Time) *storage.Grant {
	return &storage.Grant{ID: id, ClientID: "third-party-app", RequestedAt: at}
}

func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

// assertGrant reports every field of got that differs from want.
func assertGrant(t *testing.T, what string, got, want *storage.Grant) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: Grant is nil, want %+v", what, want)
		return
	}
	diff := func(field string, g, w any) { t.Errorf("%s: Grant.%s = %#v, want %#v", what, field, g, w) }
	if got.ID != want.ID {
		diff("ID", got.ID, want.ID)
	}
	if got.ClientID != want.ClientID {
		diff("ClientID", got.ClientID, want.ClientID)
	}
	if got.Subject != want.Subject {
		diff("Subject", got.Subject, want.Subject)
	}
	if !sameTime(got.RequestedAt, want.RequestedAt) {
		diff("RequestedAt", got.RequestedAt.String(), want.RequestedAt.String())
	}
	for _, f := range []struct {
		name      string
		got, want []string
	}{
		{"RequestedScopes", got.RequestedScopes, want.RequestedScopes},
		{"GrantedScopes", got.GrantedScopes, want.GrantedScopes},
		{"RequestedAudience", got.RequestedAudience, want.RequestedAudience},
		{"GrantedAudience", got.GrantedAudience, want.GrantedAudience},
	} {
		if !slices.Equal(f.got, f.want) {
			diff(f.name, f.got, f.want)
		}
	}
	if !maps.Equal(got.Form, want.Form) {
		diff("Form", got.Form, want.Form)
	}
	if !bytes.Equal(got.Session, want.Session) {
		diff("Session", got.Session, want.Session)
	}
}

func assertCode(t *testing.T, what string, got, want *storage.AuthorizationCode) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: code is nil", what)
		return
	}
	if got.Signature != want.Signature {
		t.Errorf("%s: Signature = %q, want %q", what, got.Signature, want.Signature)
	}
	if !sameTime(got.ExpiresAt, want.ExpiresAt) {
		t.Errorf("%s: ExpiresAt = %v, want %v", what, got.ExpiresAt, want.ExpiresAt)
	}
	if got.Used != want.Used {
		t.Errorf("%s: Used = %v, want %v", what, got.Used, want.Used)
	}
	assertGrant(t, what, got.Grant, want.Grant)
}

func assertRefresh(t *testing.T, what string, got, want *storage.RefreshToken) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: refresh token is nil", what)
		return
	}
	if got.Signature != want.Signature {
		t.Errorf("%s: Signature = %q, want %q", what, got.Signature, want.Signature)
	}
	if got.AccessTokenID != want.AccessTokenID {
		t.Errorf("%s: AccessTokenID = %q, want %q", what, got.AccessTokenID, want.AccessTokenID)
	}
	if !sameTime(got.ExpiresAt, want.ExpiresAt) {
		t.Errorf("%s: ExpiresAt = %v, want %v", what, got.ExpiresAt, want.ExpiresAt)
	}
	if got.Active != want.Active {
		t.Errorf("%s: Active = %v, want %v", what, got.Active, want.Active)
	}
	assertGrant(t, what, got.Grant, want.Grant)
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
func assertOneWinner(t *testing.T, what string, errs []error) {
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
