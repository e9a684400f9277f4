package storagetest

import (
	"encoding/json"
	"errors"
	"reflect"
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

// Records are compared whole: each is normalised (times to the instant at
// microsecond precision, in UTC; empty slices, maps and bytes to nil) and
// then compared with reflect.DeepEqual, so a field added to a record is
// compared without anyone remembering to. Fixtures set every field.

func normTime(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// normFields normalises every field of the struct *p in place: times,
// and empty slices and maps to nil. It reaches fields added later, so a
// record compared after it is compared whole.
func normFields(p any) {
	v := reflect.ValueOf(p).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch {
		case !f.CanSet():
		case f.Type() == reflect.TypeFor[time.Time]():
			f.Set(reflect.ValueOf(normTime(f.Interface().(time.Time))))
		case (f.Kind() == reflect.Slice || f.Kind() == reflect.Map) && f.Len() == 0:
			f.SetZero()
		}
	}
}

func normClient(c *storage.Client) *storage.Client {
	if c == nil {
		return nil
	}
	out := c.Clone()
	normFields(out)
	return out
}

func normKey(k *storage.SigningKey) *storage.SigningKey {
	if k == nil {
		return nil
	}
	out := k.Clone()
	normFields(out)
	return out
}

func normGrant(g *storage.Grant) *storage.Grant {
	if g == nil {
		return nil
	}
	out := g.Clone()
	out.RequestedAt = normTime(out.RequestedAt)
	for _, s := range []*[]string{&out.RequestedScopes, &out.GrantedScopes, &out.RequestedAudience, &out.GrantedAudience} {
		if len(*s) == 0 {
			*s = nil
		}
	}
	if len(out.Form) == 0 {
		out.Form = nil
	}
	if len(out.Session) == 0 {
		out.Session = nil
	}
	return out
}

func normCode(c *storage.AuthorizationCode) *storage.AuthorizationCode {
	if c == nil {
		return nil
	}
	out := *c
	out.Grant = normGrant(c.Grant)
	out.ExpiresAt = normTime(c.ExpiresAt)
	return &out
}

func normFamily(f *storage.Family) *storage.Family {
	if f == nil {
		return nil
	}
	out := *f
	out.Grant = normGrant(f.Grant)
	out.ExpiresAt = normTime(f.ExpiresAt)
	out.AccessExpiresAt = normTime(f.AccessExpiresAt)
	return &out
}

func normRevocations(rs []storage.Revocation) []storage.Revocation {
	out := make([]storage.Revocation, 0, len(rs))
	for _, r := range rs {
		r.ExpiresAt = normTime(r.ExpiresAt)
		out = append(out, r)
	}
	return out
}

// assertRecord reports got != want after norm, showing both whole.
func assertRecord[T any](t *testing.T, what string, got, want T, norm func(T) T) {
	t.Helper()
	g, w := norm(got), norm(want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, show(g), show(w))
	}
}

func assertCode(t *testing.T, what string, got, want *storage.AuthorizationCode) {
	t.Helper()
	assertRecord(t, what, got, want, normCode)
}

func assertFamily(t *testing.T, what string, got, want *storage.Family) {
	t.Helper()
	assertRecord(t, what, got, want, normFamily)
}

// show renders a record for a failure message: JSON shows every field,
// through pointers.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
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
