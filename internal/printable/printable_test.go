package printable

import "testing"

func TestProblem(t *testing.T) {
	t.Parallel()
	for s, bad := range map[string]bool{
		"": false, "abc": false, "a b": false, "market:id:x": false, "café": false,
		" a": true, "a ": true, "a\n": true, "\ta": true, "a\tb": true, "a\x00b": true, "a\x7f": true,
		"a\u0085": true, "\u00a0a": true, "a\u2003": true, "\xff": true,
	} {
		if got := Problem(s) != ""; got != bad {
			t.Errorf("Problem(%q) = %q, want bad=%v", s, Problem(s), bad)
		}
	}
}
