package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// An answer the README shows is compared with the server's as far as it
// is fixed:
//
//   - an object has exactly the keys shown, no more, no fewer;
//   - a bare … stands for any value;
//   - a string with … in it stands for any string that starts with what
//     comes before the … and ends with what comes after ("eyJ…", "tgr_…");
//   - a number under a time key (created_at, exp, iat, nbf) stands for
//     any number: the README shows a realistic one;
//   - everything else is compared exactly, arrays element by element.

// timeKeys hold unix times, different on every run.
var timeKeys = []string{"created_at", "exp", "iat", "nbf"}

// parseShown parses an answer as the README shows it: JSON in which a
// bare … is any value.
func parseShown(text string) (any, error) {
	var b strings.Builder
	inString, escaped := false, false
	for _, r := range text {
		switch {
		case inString && escaped:
			escaped = false
		case inString && r == '\\':
			escaped = true
		case r == '"':
			inString = !inString
		case !inString && r == '…':
			b.WriteString(`"` + anyValue + `"`)
			continue
		}
		b.WriteRune(r)
	}
	var v any
	if err := json.Unmarshal([]byte(b.String()), &v); err != nil {
		return nil, fmt.Errorf("the README's answer is not JSON (with … for any value): %w", err)
	}
	return v, nil
}

// anyValue stands for a bare … once parsed: no server answer holds it.
const anyValue = "…README: any value…"

// compareShown returns one line per way got differs from what the README
// shows.
func compareShown(path string, shown, got any) []string {
	if shown == anyValue {
		return nil
	}
	where := path // jq's notation: .scope, .aud[0]
	if where == "" {
		where = "."
	}
	switch s := shown.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, the README shows an object", where, brief(got))}
		}
		var out []string
		for _, k := range sortedKeys(s, g) {
			sv, inShown := s[k]
			gv, inGot := g[k]
			switch {
			case !inGot:
				out = append(out, fmt.Sprintf("%s.%s: missing from the answer, the README shows it", path, k))
			case !inShown:
				out = append(out, fmt.Sprintf("%s.%s: in the answer (%s), not in the README", path, k, brief(gv)))
			case slices.Contains(timeKeys, k) && isNumber(sv) && isNumber(gv):
			default:
				out = append(out, compareShown(path+"."+k, sv, gv)...)
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(s) {
			return []string{fmt.Sprintf("%s: got %s, the README shows %d elements", where, brief(got), len(s))}
		}
		var out []string
		for i := range s {
			out = append(out, compareShown(fmt.Sprintf("%s[%d]", path, i), s[i], g[i])...)
		}
		return out
	case string:
		if before, after, ok := strings.Cut(s, "…"); ok {
			if g, isString := got.(string); isString && len(g) >= len(before)+len(after) && strings.HasPrefix(g, before) && strings.HasSuffix(g, after) {
				return nil
			}
			return []string{fmt.Sprintf("%s: got %s, the README shows %q (… for any text)", where, brief(got), s)}
		}
	}
	if fmt.Sprint(shown) != fmt.Sprint(got) || isNumber(shown) != isNumber(got) {
		return []string{fmt.Sprintf("%s: got %s, the README shows %s", where, brief(got), brief(shown))}
	}
	return nil
}

func sortedKeys(a, b map[string]any) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func isNumber(v any) bool { _, ok := v.(float64); return ok }

// brief prints a value of an answer, cut short.
func brief(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "…"
	}
	return string(b)
}

func TestCompareShown(t *testing.T) {
	t.Parallel()
	const got = `{"access_token":"eyJhbGc.x.y","token_type":"Bearer","expires_in":7200,"scope":"a b","created_at":1796475983,` +
		`"aud":["x","y"],"nested":{"k":true}}`
	for _, tc := range []struct {
		shown string
		diffs []string // each a prefix of a line compareShown gives
	}{
		{`{"access_token":"eyJ…","token_type":"Bearer","expires_in":7200,"scope":"a b","created_at":1795435200,"aud":["x","y"],"nested":{"k":true}}`, nil},
		{`{"access_token":…,"token_type":…,"expires_in":…,"scope":…,"created_at":…,"aud":…,"nested":…}`, nil},
		{`{"access_token":"tgr_…","token_type":"bearer","expires_in":"7200","scope":"a b","created_at":1,"aud":["y","x"],"nested":{"k":false}}`,
			[]string{".access_token:", ".aud[0]:", ".aud[1]:", ".expires_in:", ".nested.k:", ".token_type:"}},
		{`{"token_type":"Bearer","refresh_token":"tgr_…"}`,
			[]string{".access_token: in the answer", ".aud: in the answer", ".created_at: in the answer", ".expires_in: in the answer",
				".nested: in the answer", ".refresh_token: missing", ".scope: in the answer"}},
		{`["eyJ…"]`, []string{".: got"}},
	} {
		shown, err := parseShown(tc.shown)
		if err != nil {
			t.Fatalf("%s: %v", tc.shown, err)
		}
		var g any
		if err := json.Unmarshal([]byte(got), &g); err != nil {
			t.Fatal(err)
		}
		diffs := compareShown("", shown, g)
		if len(diffs) != len(tc.diffs) {
			t.Errorf("%s: diffs %q, want %d", tc.shown, diffs, len(tc.diffs))
			continue
		}
		for i, d := range diffs {
			if !strings.HasPrefix(d, tc.diffs[i]) {
				t.Errorf("%s: diff %q, want it to start %q", tc.shown, d, tc.diffs[i])
			}
		}
	}
	if _, err := parseShown(`{"a":1,}`); err == nil {
		t.Error("parseShown accepted a trailing comma")
	}
	if v, err := parseShown(`{"s":"a \"…\" b","t":…}`); err != nil || v.(map[string]any)["t"] != anyValue || v.(map[string]any)["s"] != `a "…" b` {
		t.Errorf("parseShown with … in and out of strings = %#v, %v", v, err)
	}
}
