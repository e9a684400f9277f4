package feedcursor_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/internal/feedcursor"
)

func TestParse(t *testing.T) {
	epoch := "9f86d081884c7d659a2feaa0c55ad015"
	tests := []struct {
		in   string
		want feedcursor.Cursor
		ok   bool
	}{
		{epoch + ".0", feedcursor.Cursor{Epoch: epoch, Seq: 0}, true},
		{epoch + ".42", feedcursor.Cursor{Epoch: epoch, Seq: 42}, true},
		{"a_-Z.18446744073709551615", feedcursor.Cursor{Epoch: "a_-Z", Seq: 1<<64 - 1}, true},
		{"", feedcursor.Cursor{}, false},
		{epoch, feedcursor.Cursor{}, false},
		{epoch + ".", feedcursor.Cursor{}, false},
		{"." + "42", feedcursor.Cursor{}, false},
		{epoch + ".042", feedcursor.Cursor{}, false},
		{epoch + ".00", feedcursor.Cursor{}, false},
		{epoch + ".-1", feedcursor.Cursor{}, false},
		{epoch + ".+1", feedcursor.Cursor{}, false},
		{epoch + ".1.2", feedcursor.Cursor{}, false},
		{epoch + ".18446744073709551616", feedcursor.Cursor{}, false},
		{epoch + ". 1", feedcursor.Cursor{}, false},
		{epoch + ".1 ", feedcursor.Cursor{}, false},
		{"ep och.1", feedcursor.Cursor{}, false},
		{"ép.1", feedcursor.Cursor{}, false},
		{strings.Repeat("e", 65) + ".1", feedcursor.Cursor{}, false},
		{epoch + ".１", feedcursor.Cursor{}, false}, // a full-width digit
	}
	for _, tt := range tests {
		got, err := feedcursor.Parse(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, feedcursor.ErrMalformed) {
			t.Errorf("Parse(%q): error %v is not ErrMalformed", tt.in, err)
		}
	}
}

// FuzzParse: never panics, and accepts only what String writes.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{"abc.0", "abc.1", "abc.18446744073709551615", "abc.18446744073709551616", "", ".", "a..1",
		"abc.01", "abc.-0", "a\x00.1", "\xff.1", strings.Repeat("x", 64) + ".9"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := feedcursor.Parse(s)
		if err != nil {
			return
		}
		if c.String() != s {
			t.Fatalf("Parse(%q) = %+v, which writes as %q", s, c, c.String())
		}
	})
}
