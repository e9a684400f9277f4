package scope

import (
	"slices"
	"testing"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, scope string
		want           bool
	}{
		{"market:all", "market:all", true},
		{"market:id:*", "market:id:xYZkjABcde", true},
		{"market:id:*", "market:id", false},
		{"market:id:*", "market:id:", false},
		{"market:id:*", "market:id:a:b", false},
		{"market:id:*", "market:all", false},
		{"market:*:read", "market:eu:read", true},
		{"market:*:read", "market:eu:write", false},
		{"*", "read", true},
		{"*", "read:all", false},
		{"*", "", false},
		{"orders.*", "orders.create", false}, // "." is not a separator
		{"market:all", "market:all:x", false},
		{"a:b", "a:bc", false},
		{"a::b", "a::b", true}, // equal strings match even with empty segments
		{"a:*:b", "a::b", false},
		{"read", "*", false},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.scope); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.scope, got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"read", []string{"read"}, false},
		{"read write", []string{"read", "write"}, false},
		{"read read write", []string{"read", "write"}, false},
		{"market:id:xYZkjABcde", []string{"market:id:xYZkjABcde"}, false},
		{"read  write", nil, true},
		{" read", nil, true},
		{"read ", nil, true},
		{"read\twrite", nil, true},
		{"read\nwrite", nil, true},
		{`a"b`, nil, true},
		{`a\b`, nil, true},
		{"caf\u00e9", nil, true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("Parse(%q) = %q, %v; want %q, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestValidPattern(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"market:id:*": true, "*": true, "market:all": true,
		"market:id*": false, "market::x": false, ":x": false, "x:": false, "": false, "a b": false,
	} {
		if got := ValidPattern(s); got != want {
			t.Errorf("ValidPattern(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzParse checks that Parse only returns valid, distinct tokens that join
// back to a string Parse accepts, and that Match never panics on them.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "read write", "market:id:*", "a  b", " x", "é", "a:b:c d:*"} {
		f.Add(s, "market:id:*")
	}
	f.Fuzz(func(t *testing.T, s, pattern string) {
		toks, err := Parse(s)
		if err != nil {
			return
		}
		for _, tok := range toks {
			if !ValidToken(tok) {
				t.Fatalf("Parse(%q) returned invalid token %q", s, tok)
			}
			_ = Match(pattern, tok)
			if !Match(tok, tok) {
				t.Fatalf("Match(%q, itself) = false", tok)
			}
		}
		again, err := Parse(Join(toks))
		if err != nil || !slices.Equal(again, toks) {
			t.Fatalf("Parse(Join(%q)) = %q, %v", toks, again, err)
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	for b.Loop() {
		Match("market:id:*", "market:id:xYZkjABcde")
	}
}
