package storagetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// Records are compared whole, by reflection, so that a field added to a
// storage type next month is compared without anyone remembering to, and
// a store that drops it fails. What a store may change without changing
// the record, and nothing else, is forgiven:
//
//   - a time's location and anything below the microsecond (the package
//     documentation says why): times are equal when their instants,
//     truncated to the microsecond, are;
//   - nil against empty, for slices and maps.

// diff returns one line per difference between got and want, each naming
// the field path ("Grant.Form[\"nonce\"]"), or nil if they are the same
// record.
func diff(got, want any) []string {
	var out []string
	diffValue(&out, "", reflect.ValueOf(got), reflect.ValueOf(want))
	return out
}

var timeType = reflect.TypeFor[time.Time]()

func diffValue(out *[]string, path string, got, want reflect.Value) {
	if !got.IsValid() || !want.IsValid() {
		if got.IsValid() != want.IsValid() {
			*out = append(*out, fmt.Sprintf("%s: got %s, want %s", orRecord(path), show(got), show(want)))
		}
		return
	}
	if got.Type() != want.Type() {
		*out = append(*out, fmt.Sprintf("%s: got a %s, want a %s", orRecord(path), got.Type(), want.Type()))
		return
	}
	if got.Type() == timeType {
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !normTime(g).Equal(normTime(w)) {
			*out = append(*out, fmt.Sprintf("%s: got %s, want %s", orRecord(path), g.Format(time.RFC3339Nano), w.Format(time.RFC3339Nano)))
		}
		return
	}
	switch got.Kind() {
	case reflect.Pointer, reflect.Interface:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				*out = append(*out, fmt.Sprintf("%s: got %s, want %s", orRecord(path), show(got), show(want)))
			}
			return
		}
		diffValue(out, path, got.Elem(), want.Elem())
	case reflect.Struct:
		for i := range got.NumField() {
			name := got.Type().Field(i).Name
			diffValue(out, join(path, name), got.Field(i), want.Field(i))
		}
	case reflect.Slice, reflect.Array:
		if got.Len() != want.Len() {
			*out = append(*out, fmt.Sprintf("%s: got %s, want %s", orRecord(path), show(got), show(want)))
			return
		}
		for i := range got.Len() {
			diffValue(out, fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i))
		}
	case reflect.Map:
		keys := map[any]reflect.Value{}
		for _, k := range append(got.MapKeys(), want.MapKeys()...) {
			keys[k.Interface()] = k
		}
		for _, k := range sortedKeys(keys) {
			g, w := got.MapIndex(k), want.MapIndex(k)
			p := fmt.Sprintf("%s[%#v]", path, k.Interface())
			if !g.IsValid() || !w.IsValid() {
				if g.IsValid() {
					*out = append(*out, fmt.Sprintf("%s: got %s, want no such key", p, show(g)))
				} else {
					*out = append(*out, fmt.Sprintf("%s: missing, want %s", p, show(w)))
				}
				continue
			}
			diffValue(out, p, g, w)
		}
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		if !got.Equal(want) {
			*out = append(*out, fmt.Sprintf("%s: got %s, want %s", orRecord(path), show(got), show(want)))
		}
	default:
		// A func or channel in a record: the suite cannot say what equal
		// means for it, so it says so rather than pass.
		*out = append(*out, fmt.Sprintf("%s: a %s cannot be compared", orRecord(path), got.Type()))
	}
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func orRecord(path string) string {
	if path == "" {
		return "record"
	}
	return path
}

// sortedKeys orders map keys by their printed form, so diffs read the
// same on every run.
func sortedKeys(keys map[any]reflect.Value) []reflect.Value {
	names := make([]string, 0, len(keys))
	byName := map[string]reflect.Value{}
	for k, v := range keys {
		n := fmt.Sprintf("%#v", k)
		names = append(names, n)
		byName[n] = v
	}
	slices.Sort(names)
	out := make([]reflect.Value, len(names))
	for i, n := range names {
		out[i] = byName[n]
	}
	return out
}

// show prints a value for a diff line: strings quoted, byte slices as Go
// literals (they are often not UTF-8), nil as nil.
func show(v reflect.Value) string {
	if !v.IsValid() {
		return "nil"
	}
	if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface || v.Kind() == reflect.Slice || v.Kind() == reflect.Map) && v.IsNil() {
		return "nil"
	}
	if !v.CanInterface() {
		return v.String()
	}
	if v.Type() == timeType {
		return v.Interface().(time.Time).Format(time.RFC3339Nano)
	}
	s := fmt.Sprintf("%#v", v.Interface())
	return strings.TrimPrefix(s, "storage.")
}

// assertRecord fails t with every difference between got and want,
// whole records (see diff).
func assertRecord(t testing.TB, what string, got, want any) {
	t.Helper()
	if d := diff(got, want); len(d) > 0 {
		t.Errorf("%s: the record differs from what was stored:\n\t%s", what, strings.Join(d, "\n\t"))
	}
}
