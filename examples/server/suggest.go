package main

import (
	"reflect"
	"regexp"
	"strings"
	"unicode"
)

// Suggestions for a misspelt YAML key: "did you mean redirect_uris?".

// knownKeys are the keys the YAML schema allows in the mapping at path
// ("" for the top level, "clients[1]", "rate_limits"), read from the
// yaml tags of the type found there; nil when path is not a mapping of
// the schema (a user's claims take any key).
func knownKeys(path string) []string {
	t := reflect.TypeFor[fileConfig]()
	for _, seg := range splitPath(path) {
		for t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := fieldByKey(t, seg)
		if !ok {
			return nil
		}
		t = f.Type
	}
	for t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := range t.NumField() {
		if k := yamlKey(t.Field(i)); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// index matches the list indexes of a path, "[1]".
var index = regexp.MustCompile(`\[\d+\]`)

// splitPath turns "clients[1].redirect_uris" into its keys; list indexes
// do not change the type but to the element's.
func splitPath(path string) []string {
	path = index.ReplaceAllString(path, "")
	if path == "" {
		return nil
	}
	return strings.Split(path, ".")
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); yamlKey(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func yamlKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// suggestKey returns the known key the operator most likely meant by
// got, or "". It forgives what people type for these keys: another case,
// camelCase, "-" or " " for "_", a missing or extra plural "s", a prefix
// naming the section ("client_id" in clients[] is id), a shortened or
// longer form (alg, algorithm), and up to two typing slips in a long key
// (one in a short one).
func suggestKey(got string, known []string) string {
	norm := normalizeKey(got)
	forms := []string{norm}
	for _, prefix := range []string{"client_", "user_", "key_"} {
		if rest, ok := strings.CutPrefix(norm, prefix); ok && rest != "" {
			forms = append(forms, rest)
		}
	}
	best, bestDist := "", 1<<30
	for _, k := range known {
		for _, f := range forms {
			d := keyDistance(f, k)
			if d < bestDist {
				best, bestDist = k, d
			}
		}
	}
	if best == "" || best == got {
		return ""
	}
	return best
}

// keyDistance is how far apart a normalised key and a known one are: 0
// for the same key in other clothes, else the edit distance, or a large
// number when they are too far apart to be a slip.
func keyDistance(f, k string) int {
	switch {
	case f == k, f+"s" == k, f == k+"s":
		return 0
	case len(f) >= 3 && (strings.HasPrefix(k, f) || strings.HasPrefix(f, k) && len(k) >= 3):
		return 2 // after a one-letter slip: tokens_per_ip is token_per_ip, not token
	}
	d := editDistance(f, k)
	limit := 1
	if len(k) >= 6 {
		limit = 2
	}
	if len(k) >= 12 {
		limit = 3
	}
	if d > limit {
		return 1 << 30
	}
	return d
}

// normalizeKey writes a key the way the schema does: lower case, words
// joined by "_" (camelCase, "-" and " " become "_": redirectURIs is
// redirect_uris).
func normalizeKey(s string) string {
	var b strings.Builder
	var prev rune
	for _, r := range s {
		switch {
		case r == '-' || r == ' ' || r == '.':
			b.WriteByte('_')
		case unicode.IsUpper(r):
			if unicode.IsLower(prev) || unicode.IsDigit(prev) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
		prev = r
	}
	return strings.Trim(strings.ReplaceAll(b.String(), "__", "_"), "_")
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of two neighbours cost one each.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
