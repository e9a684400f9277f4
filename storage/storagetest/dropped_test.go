package storagetest

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// TestSuiteCatchesDroppedFields runs the round-trip cases against a store
// that loses one field of one record type, every field of every type in
// turn, and checks that the suite fails it. A store that drops
// RedirectURIs, RefreshTokenTTL, or a field added next month, cannot pass.
func TestSuiteCatchesDroppedFields(t *testing.T) {
	t.Parallel()
	// Which cases must notice a field of each type missing.
	catchers := map[reflect.Type][]string{
		reflect.TypeFor[storage.Client]():            {"ClientRoundTrip"},
		reflect.TypeFor[storage.Grant]():             {"CodeRoundTrip", "FamilyRoundTrip"},
		reflect.TypeFor[storage.AuthorizationCode](): {"CodeRoundTrip"},
		reflect.TypeFor[storage.Family]():            {"FamilyRoundTrip"},
		reflect.TypeFor[storage.Consent]():           {"ConsentRoundTrip"},
		reflect.TypeFor[storage.SigningKey]():        {"KeysRoundTrip"},
		reflect.TypeFor[storage.Revocation]():        {"FeedOrder"},
		reflect.TypeFor[storage.RevocationPage]():    {"FeedOrder"},
	}
	for typ, cases := range catchers {
		for i := range typ.NumField() {
			field := typ.Field(i).Name
			for _, name := range cases {
				t.Run(typ.Name()+"."+field+"/"+name, func(t *testing.T) {
					t.Parallel()
					s := &dropping{Store: memory.New(), typ: typ, field: i}
					if msgs := runCase(t, name, s); len(msgs) == 0 {
						t.Errorf("%s passed a store that drops %s.%s", name, typ.Name(), field)
					}
				})
			}
		}
	}
	// The same cases pass the store that drops nothing, so the failures
	// above are the dropped fields' doing.
	for _, name := range []string{"ClientRoundTrip", "CodeRoundTrip", "FamilyRoundTrip", "ConsentRoundTrip", "KeysRoundTrip", "FeedOrder"} {
		if msgs := runCase(t, name, &dropping{Store: memory.New()}); len(msgs) > 0 {
			t.Errorf("%s failed the memory store:\n%s", name, strings.Join(msgs, "\n"))
		}
	}
}

// runCase runs the named case against s with a recorder in place of t and
// returns what it reported.
func runCase(t *testing.T, name string, s *dropping) []string {
	t.Helper()
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil { // a case may index what the store lost
				rec.Errorf("panic: %v", p)
			}
		}()
		for _, c := range getterCases {
			if c.name == name {
				c.fn(rec, func(clients ...*storage.Client) storage.ClientGetter {
					for _, cl := range clients {
						mustCreate(rec, s, cl)
					}
					return s
				})
				return
			}
		}
		for _, c := range tokenCases {
			if c.name == name {
				c.fn(rec, s)
				return
			}
		}
		for _, c := range keyCases {
			if c.name == name {
				c.fn(rec, s)
				return
			}
		}
		for _, c := range consentCases {
			if c.name == name {
				c.fn(rec, s)
				return
			}
		}
		rec.Fatalf("no case %s", name)
	}()
	<-done
	return rec.messages()
}

// recorder is a testing.TB that records failures instead of failing the
// test, so a case can be run against a store that must fail it.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.Error(args...)
	runtime.Goexit()
}

func (r *recorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msgs
}

// dropping is a memory store that zeroes one field of every record of
// type typ it hands out, wherever the record sits (a Grant inside a code
// or a family): a store that lost the field.
type dropping struct {
	*memory.Store
	typ   reflect.Type // nil: drop nothing
	field int
}

func (d *dropping) drop(v any) {
	if d.typ != nil {
		zeroField(reflect.ValueOf(v), d.typ, d.field)
	}
}

func zeroField(v reflect.Value, typ reflect.Type, field int) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			zeroField(v.Elem(), typ, field)
		}
	case reflect.Slice:
		for i := range v.Len() {
			zeroField(v.Index(i), typ, field)
		}
	case reflect.Struct:
		if v.Type().PkgPath() != typ.PkgPath() {
			return // a time.Time: its location may be shared
		}
		if v.Type() == typ {
			v.Field(field).SetZero()
		}
		for i := range v.NumField() {
			zeroField(v.Field(i), typ, field)
		}
	}
}

func (d *dropping) GetClient(ctx context.Context, id string) (*storage.Client, error) {
	c, err := d.Store.GetClient(ctx, id)
	d.drop(c)
	return c, err
}

func (d *dropping) GetCode(ctx context.Context, sig string) (*storage.AuthorizationCode, error) {
	c, err := d.Store.GetCode(ctx, sig)
	d.drop(c)
	return c, err
}

func (d *dropping) GetFamily(ctx context.Context, id string) (*storage.Family, error) {
	f, err := d.Store.GetFamily(ctx, id)
	d.drop(f)
	return f, err
}

func (d *dropping) GetConsent(ctx context.Context, subject, clientID string) (*storage.Consent, error) {
	c, err := d.Store.GetConsent(ctx, subject, clientID)
	d.drop(c)
	return c, err
}

func (d *dropping) SigningKeys(ctx context.Context) ([]*storage.SigningKey, error) {
	ks, err := d.Store.SigningKeys(ctx)
	d.drop(ks)
	return ks, err
}

func (d *dropping) Revocations(ctx context.Context, after uint64, now time.Time, limit int) (*storage.RevocationPage, error) {
	p, err := d.Store.Revocations(ctx, after, now, limit)
	d.drop(p)
	return p, err
}
