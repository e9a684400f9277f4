package storagetest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// storeAssigned are the fields of a record the store fills in, not the
// caller: no fixture sets them, and the suite checks them otherwise
// (readFeed: increasing, above the asked position, at most Last).
var storeAssigned = map[string]bool{"Revocation.Seq": true}

// storageAnswers are exported storage types that are not records a caller
// stores: each field is produced by the store and checked by the case
// that reads it (TestSuiteCatchesDroppedFields drops each in turn).
var storageAnswers = map[string]bool{"RevocationPage": true}

// notRecords are exported storage struct types that hold no data a store
// keeps.
var notRecords = map[string]bool{"ValidationError": true}

// allFixtures is every record the round-trip cases store and compare.
func allFixtures() []any {
	now := baseTime()
	var out []any
	for _, c := range clientFixtures() {
		out = append(out, c)
	}
	for _, c := range codeFixtures(now) {
		out = append(out, c)
	}
	for _, f := range familyFixtures(now) {
		out = append(out, f)
	}
	for _, k := range keyFixtures(now) {
		out = append(out, k)
	}
	for _, r := range feedFixtures(now) {
		out = append(out, r)
	}
	return append(out, fullConsent("user-42", "third-party-app", now))
}

// TestFixturesSetEveryField fails when a field of a storage record is zero
// in every fixture that round-trips it: a store that dropped the field
// would then pass. Add the field to a fixture in fixtures.go.
func TestFixturesSetEveryField(t *testing.T) {
	set := map[reflect.Type]map[string]bool{} // record type → fields non-zero somewhere
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			if v.Type() == timeType {
				return
			}
			if set[v.Type()] == nil {
				set[v.Type()] = map[string]bool{}
			}
			for i := range v.NumField() {
				if !v.Field(i).IsZero() {
					set[v.Type()][v.Type().Field(i).Name] = true
				}
				walk(v.Field(i))
			}
		}
	}
	for _, f := range allFixtures() {
		walk(reflect.ValueOf(f))
	}
	for _, typ := range []reflect.Type{
		reflect.TypeFor[storage.Client](), reflect.TypeFor[storage.Grant](), reflect.TypeFor[storage.AuthorizationCode](),
		reflect.TypeFor[storage.Family](), reflect.TypeFor[storage.Consent](), reflect.TypeFor[storage.SigningKey](),
		reflect.TypeFor[storage.Revocation](),
	} {
		if set[typ] == nil {
			t.Errorf("no fixture is a %s", typ)
			continue
		}
		for i := range typ.NumField() {
			name := typ.Field(i).Name
			if !set[typ][name] && !storeAssigned[typ.Name()+"."+name] {
				t.Errorf("%s.%s is zero in every fixture: set it in one (fixtures.go), or a store that drops it passes", typ, name)
			}
		}
	}
}

// TestEveryStorageTypeIsCovered reads package storage's source for its
// exported struct types: each must be a record the fixtures cover (and
// TestFixturesSetEveryField checks), a store's answer whose fields the
// cases check, or declared no record at all. A new record type fails here
// until the suite knows it.
func TestEveryStorageTypeIsCovered(t *testing.T) {
	covered := map[string]bool{}
	for _, f := range allFixtures() {
		typ := reflect.TypeOf(f)
		if typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		covered[typ.Name()] = true
	}
	covered["Grant"] = true // inside codes and families
	files, err := filepath.Glob(filepath.Join("..", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("package storage's source: %v, %d files", err, len(files))
	}
	var found []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.TYPE {
				continue
			}
			for _, spec := range gen.Specs {
				ts := spec.(*ast.TypeSpec)
				if _, isStruct := ts.Type.(*ast.StructType); isStruct && ts.Name.IsExported() {
					found = append(found, ts.Name.Name)
				}
			}
		}
	}
	if !slices.Contains(found, "Client") {
		t.Fatalf("found no storage.Client in %v: the source scan is broken", files)
	}
	for _, name := range found {
		if !covered[name] && !storageAnswers[name] && !notRecords[name] {
			t.Errorf("storage.%s is a struct the suite does not know: add fixtures that set every field, and compare it whole in a round-trip case", name)
		}
	}
}

// TestDiff: the comparison names the field that differs, at any depth,
// and forgives only what the package documentation allows.
func TestDiff(t *testing.T) {
	now := baseTime()
	same := []struct {
		name      string
		got, want any
	}{
		{"time zone", &storage.Consent{GrantedAt: now.UTC()}, &storage.Consent{GrantedAt: now.In(time.FixedZone("x", 3600))}},
		{"below a microsecond", &storage.Consent{GrantedAt: now.Add(999)}, &storage.Consent{GrantedAt: now}},
		{"nil and empty slice", &storage.Client{Scopes: []string{}}, &storage.Client{}},
		{"nil and empty map", &storage.Grant{Form: map[string]string{}}, &storage.Grant{}},
		{"whole fixtures", fullFamily("f", now), fullFamily("f", now)},
	}
	for _, tc := range same {
		if d := diff(tc.got, tc.want); d != nil {
			t.Errorf("%s: diff = %q, want none", tc.name, d)
		}
	}
	changed := func(mutate func(*storage.Family)) *storage.Family {
		f := fullFamily("f", now)
		mutate(f)
		return f
	}
	differ := []struct {
		got, want any
		path      string
	}{
		{changed(func(f *storage.Family) { f.Grant.Form["nonce"] = "other" }), fullFamily("f", now), `Grant.Form["nonce"]`},
		{changed(func(f *storage.Family) { delete(f.Grant.Form, "nonce") }), fullFamily("f", now), `Grant.Form["nonce"]`},
		{changed(func(f *storage.Family) { f.Grant.Session[1] = 0 }), fullFamily("f", now), "Grant.Session[1]"},
		{changed(func(f *storage.Family) { f.Grant.GrantedScopes = f.Grant.GrantedScopes[:1] }), fullFamily("f", now), "Grant.GrantedScopes"},
		{changed(func(f *storage.Family) { f.AccessExpiresAt = f.AccessExpiresAt.Add(time.Microsecond) }), fullFamily("f", now), "AccessExpiresAt"},
		{changed(func(f *storage.Family) { f.Grant = nil }), fullFamily("f", now), "Grant"},
		{&storage.Client{RedirectURIs: []string{"a", "c"}}, &storage.Client{RedirectURIs: []string{"a", "b"}}, "RedirectURIs[1]"},
		{&storage.Client{}, &storage.Client{RefreshTokenTTL: time.Hour}, "RefreshTokenTTL"},
		{[]*storage.SigningKey{{ID: "a"}}, []*storage.SigningKey{{ID: "a"}, {ID: "b"}}, "record"},
	}
	for _, tc := range differ {
		d := diff(tc.got, tc.want)
		if len(d) != 1 || !strings.HasPrefix(d[0], tc.path+": ") {
			t.Errorf("diff = %q, want one line about %s", d, tc.path)
		}
	}
}
